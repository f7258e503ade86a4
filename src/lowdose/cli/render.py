"""Human output with Rich: tables, notes, the sources behind them, and the reminder that
lowdose supports decisions and does not make them.

Renderers take the contract dicts (`to_dict()`), the same data `--json` prints, so what a
person reads and what a program reads cannot drift apart. Imported only by commands that
print for people, because Rich takes a noticeable part of a start-up.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

REMINDER = ("lowdose supports decisions; it does not make them. "
            "Ask your clinician before changing anything.")

# Most severe first (design §3.2), with the colour a reader sees it in.
LEVEL_STYLES = {
    "contraindicated": "bold white on red",
    "defer": "bold black on dark_orange",
    "specialist": "bold black on yellow",
    "caution": "bold yellow",
    "ok": "bold green",
    "info": "cyan",
}

# Markup off: clinical text may hold square brackets, which Rich would read as style tags.
console = Console(highlight=False, markup=False)


def heading(text: str) -> None:
    console.print(Text(text, style="bold underline"))


def level(name: str) -> Text:
    return Text(f" {name.upper()} ", style=LEVEL_STYLES.get(name, "bold"))


def facts(rows: Iterable[tuple[str, Any]], title: str | None = None) -> None:
    """A two-column table of named values; None shows as a dash."""
    table = Table(title=title, show_header=False, box=None, pad_edge=False)
    table.add_column(style="bold")
    table.add_column(overflow="fold")
    for name, value in rows:
        table.add_row(name, "—" if value is None else _text(value))
    console.print(table)


def table(columns: Sequence[str], rows: Iterable[Sequence[Any]], title: str | None = None) -> None:
    grid = Table(*columns, title=title, show_lines=False)
    for row in rows:
        grid.add_row(*("—" if cell is None else cell if isinstance(cell, Text) else _text(cell)
                       for cell in row))
    console.print(grid)


def notes(texts: Iterable[str], title: str = "Notes") -> None:
    items = [t for t in texts if t]
    if items:
        heading(title)
        for text in items:
            console.print(f"• {text}")


def paragraph(title: str, text: str) -> None:
    heading(title)
    console.print(text)


def sources(ids: Iterable[str]) -> None:
    """The full citation of each source id, in order of first mention."""
    from lowdose.knowledge.sources import load_sources

    known = load_sources()
    unique = list(dict.fromkeys(ids))
    if not unique:
        return
    heading("Sources")
    for source_id in unique:
        source = known.get(source_id)
        if source is None:
            console.print(f"[{source_id}]")
        else:
            console.print(f"[{source_id}] {source.citation} {source.link}")


def reminder() -> None:
    console.print()
    console.print(Text(REMINDER, style="italic"))


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, list | tuple):
        return ", ".join(_text(v) for v in value)
    return str(value)

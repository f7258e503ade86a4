"""Typed loader for the Learn guide's own texts (`knowledge/data/guide.toml`).

The guide's pages draw most facts from the other data files; this file holds the sentences no
other file has (LDN against standard-dose naltrexone, safety and access in plain words) and
when each data file was last reviewed. Every statement cites sources, or says in so many words
that none was found (`unsourced = "not-found"`); no other statement passes the loader.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import date
from functools import cache
from typing import Any

from lowdose.errors import InputError
from lowdose.knowledge.evidence import untraceable_percentages
from lowdose.knowledge.sources import Sources, load_sources, read_toml

NOT_FOUND = "not-found"
OPIOID_ANSWERS = ("yes", "no", "blocker")
# Tables of guide.toml that hold statements (a list of them, or one), by section.
SECTIONS = ("about", "taking", "side_effects", "safety", "access")


@dataclass(frozen=True)
class Statement:
    """One sentence (or a few) of guide text and the sources behind it.

    `unsourced` is `not-found` for a statement that lowdose's sources say nothing on the
    question; such a statement has no sources, every other one has at least one.
    """

    text: str
    sources: tuple[str, ...]
    unsourced: str | None = None

    def filled(self, extra_sources: tuple[str, ...] = (), **values: Any) -> Statement:
        """The statement with its `{names}` filled in, citing also `extra_sources`."""
        ids = tuple(dict.fromkeys((*self.sources, *extra_sources)))
        return replace(self, text=self.text.format(**values), sources=ids)


@dataclass(frozen=True)
class ComparisonRow:
    """One row of the LDN against standard-dose naltrexone table."""

    aspect: str
    standard: tuple[Statement, ...]
    ldn: tuple[Statement, ...]


@dataclass(frozen=True)
class MedicineClass:
    opioid: str  # yes, no or blocker
    text: str


@dataclass(frozen=True)
class Guide:
    reviewed: Mapping[str, date]
    statements: Mapping[str, tuple[Statement, ...]]  # "about.intro" → its statements
    comparison: tuple[ComparisonRow, ...]
    frequency: Mapping[str, Statement]  # side-effect id → how often, where a source counts it
    medicine_classes: Mapping[str, MedicineClass]
    nothing_raised: str  # search: the screen says nothing about a medicine ({name})

    def many(self, key: str) -> tuple[Statement, ...]:
        found = self.statements.get(key)
        if found is None:
            raise KeyError(f"guide.toml has no statements at {key!r}")
        return found

    def one(self, key: str) -> Statement:
        return self.many(key)[0]

    def last_reviewed(self, files: tuple[str, ...]) -> date:
        """The latest review date of the data files a page draws from."""
        return max(self.reviewed[f] for f in files)


def _statement(data: Any, field: str, sources: Sources) -> Statement:
    if not isinstance(data, dict):
        raise InputError(field, "must be a table with text and sources")
    text = data.get("text")
    if not isinstance(text, str) or not text.strip():
        raise InputError(f"{field}.text", "must be a non-empty string")
    ids = data.get("sources", [])
    if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
        raise InputError(f"{field}.sources", "must be a list of source ids")
    unknown = [i for i in ids if i not in sources]
    if unknown:
        raise InputError(f"{field}.sources", f"unknown source id {unknown[0]!r}")
    unsourced = data.get("unsourced")
    if unsourced is not None and (unsourced != NOT_FOUND or ids):
        raise InputError(f"{field}.unsourced", f"must be {NOT_FOUND!r}, and only without sources")
    if unsourced is None and not ids:
        raise InputError(f"{field}.sources", "must cite at least one source")
    cited = [s for s in (sources.get(i) for i in ids) if s is not None]
    bad = untraceable_percentages([text], cited)
    if bad:
        raise InputError(field, f"percentage {bad[0]!r} is not in any cited source")
    return Statement(text, tuple(ids), unsourced)


def _statements(data: Any, field: str, sources: Sources) -> tuple[Statement, ...]:
    if isinstance(data, list):
        return tuple(_statement(d, f"{field}.{i}", sources) for i, d in enumerate(data))
    return (_statement(data, field, sources),)


def _is_statement(value: Any) -> bool:
    return (isinstance(value, dict) and "text" in value) or (
        isinstance(value, list) and bool(value) and all(_is_statement(v) for v in value))


def _reviewed(data: Any) -> dict[str, date]:
    if not isinstance(data, dict) or not data:
        raise InputError("reviewed", "must map each data file to the date it was reviewed")
    for name, day in data.items():
        if not isinstance(day, date):
            raise InputError(f"reviewed.{name}", "must be a date (YYYY-MM-DD)")
    return dict(data)


def _comparison(rows: Any, sources: Sources) -> tuple[ComparisonRow, ...]:
    if not isinstance(rows, list) or not rows:
        raise InputError("about.comparison", "must list the rows of the table")
    out = []
    for i, row in enumerate(rows):
        field = f"about.comparison.{i}"
        aspect = row.get("aspect")
        if not isinstance(aspect, str) or not aspect:
            raise InputError(f"{field}.aspect", "must be a non-empty string")
        out.append(ComparisonRow(aspect, _statements(row.get("standard"), f"{field}.standard",
                                                     sources),
                                 _statements(row.get("ldn"), f"{field}.ldn", sources)))
    return tuple(out)


def _frequency(rows: Any, sources: Sources) -> dict[str, Statement]:
    out: dict[str, Statement] = {}
    for i, row in enumerate(rows or []):
        field = f"side_effects.frequency.{i}"
        effect = row.get("effect")
        if not isinstance(effect, str) or effect in out:
            raise InputError(f"{field}.effect", "must name one side effect, once")
        out[effect] = _statement(row, field, sources)
    return out


def _medicine_classes(data: Any) -> dict[str, MedicineClass]:
    out = {}
    for cls, row in (data or {}).items():
        if row.get("opioid") not in OPIOID_ANSWERS or not row.get("text"):
            raise InputError(f"medicine_classes.{cls}",
                             f"needs opioid ({', '.join(OPIOID_ANSWERS)}) and text")
        out[cls] = MedicineClass(str(row["opioid"]), str(row["text"]))
    return out


def parse_guide(data: Mapping[str, Any], sources: Sources) -> Guide:
    statements: dict[str, tuple[Statement, ...]] = {}
    for section in SECTIONS:
        for key, value in dict(data.get(section, {})).items():
            if key in ("comparison", "frequency") or not _is_statement(value):
                continue
            statements[f"{section}.{key}"] = _statements(value, f"{section}.{key}", sources)
    about = dict(data.get("about", {}))
    side_effects = dict(data.get("side_effects", {}))
    return Guide(
        reviewed=_reviewed(data.get("reviewed")),
        statements=statements,
        comparison=_comparison(about.get("comparison"), sources),
        frequency=_frequency(side_effects.get("frequency"), sources),
        medicine_classes=_medicine_classes(data.get("medicine_classes")),
        nothing_raised=_text(data.get("search"), "nothing_raised"),
    )


def _text(table: Any, key: str) -> str:
    value = table.get(key) if isinstance(table, dict) else None
    if not isinstance(value, str) or not value.strip():
        raise InputError(f"search.{key}", "must be a non-empty string")
    return value


@cache
def load_guide() -> Guide:
    return parse_guide(read_toml("guide.toml"), load_sources())

"""`lowdose analyze DIARY.csv --start 2025-01-15`: is it working? (design §3.3)

Reads a diary CSV (`date,measure,value`, one row per measure per day), checks every line, and
prints per measure the baseline and treatment means, the effect with its interval, the chance
of an improvement of at least the measure's minimal important difference and the days used,
or `insufficient-data` with the reason. numpy and the analysis load only when the command runs.
"""

from __future__ import annotations

import csv
import io
import math
import sys
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from lowdose.errors import InputError

if TYPE_CHECKING:
    from lowdose.core.diary import Observation
    from lowdose.knowledge.instruments import Instrument

COLUMNS = ("date", "measure", "value")
MAX_ONSET_DAYS = 365  # as GET /api/v1/patients/{id}/outcomes allows


def register(app: typer.Typer) -> None:
    """Add `analyze` to the `lowdose` app."""
    app.command("analyze")(analyze)


def analyze(
    diary: Annotated[Path, typer.Argument(help="Diary CSV with columns date,measure,value.")],
    start: Annotated[str, typer.Option(help="The day LDN started, YYYY-MM-DD.")],
    onset_days: Annotated[int | None, typer.Option(
        help="Days after the start left out while LDN takes effect [default: from the "
             "cited sources].")] = None,
    instruments: Annotated[list[Path] | None, typer.Option(
        "--instruments", help="A folder of extra instrument files (a clinic's own); "
                              "repeatable.")] = None,
    json_: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
) -> None:
    """Before LDN vs after it, per measure, with an honest interval."""
    try:
        data = _run(diary, start, onset_days, instruments or [])
    except InputError as exc:
        sys.stderr.write(f"error: {exc.field}: {exc.message}\n")
        raise typer.Exit(1) from None
    if json_:
        from lowdose.cli.inputs import emit_json

        emit_json(data)
    else:
        _show(data)


def _run(diary: Path, start_text: str, onset_days: int | None,
         extra_dirs: list[Path]) -> dict[str, Any]:
    from lowdose.cli.inputs import parse_date
    from lowdose.core.outcomes import START_TOO_LATE, analyze_outcomes
    from lowdose.knowledge.instruments import load_instruments
    from lowdose.knowledge.monitoring import load_monitoring_rules

    start = parse_date("--start", start_text)
    if onset_days is not None and not 0 <= onset_days <= MAX_ONSET_DAYS:
        raise InputError("--onset-days", f"must be from 0 to {MAX_ONSET_DAYS} days")
    known = load_instruments(extra_dirs)
    rows = read_diary(diary, known)
    try:
        report = analyze_outcomes(rows, start=start, instruments=known,
                                  rules=load_monitoring_rules(), onset_days=onset_days)
    except OverflowError:
        raise InputError("--start", f"{start.isoformat()} {START_TOO_LATE}") from None
    return report.to_dict()


def read_diary(path: Path, instruments: dict[str, Instrument]) -> list[Observation]:
    """Every row of the CSV as an observation; the first bad line stops it, named by number."""
    from lowdose.core.diary import Observation

    text = _read(path)
    reader = csv.reader(io.StringIO(text))
    header = next(_lines(reader), None)
    if header is None or [h.strip().casefold() for h in header] != list(COLUMNS):
        raise InputError("line 1", "the header must be exactly: " + ",".join(COLUMNS))
    rows: list[Observation] = []
    first_line: dict[tuple[str, date], int] = {}
    for fields in _lines(reader):
        line = reader.line_num
        if not any(f.strip() for f in fields):
            continue  # blank lines are harmless
        if len(fields) != len(COLUMNS):
            raise InputError(f"line {line}", f"expected {len(COLUMNS)} fields "
                                             f"({','.join(COLUMNS)}), found {len(fields)}")
        day = _day(fields[0].strip(), line)
        measure = fields[1].strip().casefold()
        if not measure:
            raise InputError(f"line {line}: measure", "is empty")
        value = _value(fields[2].strip(), line, instruments.get(measure))
        if (measure, day) in first_line:
            raise InputError(f"line {line}", f"a second {measure} value for {day.isoformat()} "
                                             f"(the first is on line {first_line[measure, day]})")
        first_line[measure, day] = line
        rows.append(Observation(day, measure, value))
    if not rows:
        raise InputError(str(path), "has no diary rows after the header")
    return rows


def _lines(reader: Any) -> Iterator[list[str]]:
    """The reader's rows; a line it cannot read (a field over its size limit) is bad input."""
    while True:
        try:
            fields = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            raise InputError(f"line {reader.line_num}", f"cannot be read as CSV: {exc}"
                             ) from None
        yield fields


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8-sig")  # -sig: spreadsheets add a BOM
    except FileNotFoundError:
        raise InputError("DIARY", f"no such file: {path}") from None
    except IsADirectoryError:
        raise InputError("DIARY", f"{path} is a folder, not a file") from None
    except UnicodeDecodeError:
        raise InputError("DIARY", f"{path} is not UTF-8 text") from None


def _day(text: str, line: int) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise InputError(f"line {line}: date",
                         f"{text!r} is not a date; use YYYY-MM-DD") from None


def _value(text: str, line: int, instrument: Instrument | None) -> float:
    try:
        value = float(text)
    except ValueError:
        raise InputError(f"line {line}: value", f"{text!r} is not a number") from None
    if not math.isfinite(value):
        raise InputError(f"line {line}: value", f"{text!r} is not a finite number")
    problem = None if instrument is None else instrument.total_problem(value)
    if problem:
        raise InputError(f"line {line}: value", problem)
    return value


def _show(data: dict[str, Any]) -> None:
    from lowdose.cli import render
    from lowdose.core.outcomes import chance_percent

    render.heading(f"Is it working? Before vs after LDN started on {data['start']} "
                   f"(the first {data['onset_days']} days after the start are left out)")
    rows = []
    for m in data["measures"]:
        effect = m["effect"]
        if effect is None:
            rows.append([m["measure"], None, None, "insufficient data", None, None])
            continue
        interval = effect["interval"]
        p_mid = effect["p_mid_improvement"]
        rows.append([
            m["measure"], f"{m['baseline_mean']:.1f}", f"{m['treatment_mean']:.1f}",
            f"{effect['estimate']:+.1f} ({interval['low']:+.1f} to {interval['high']:+.1f})",
            None if p_mid is None else chance_percent(p_mid), m["n_days"],
        ])
    coverage = next((m["effect"]["interval"]["coverage"] for m in data["measures"]
                     if m["effect"]), 0.9)
    render.table(["measure", "baseline", "treatment", f"change ({coverage:.0%} interval)",
                  "P(≥ MID)", "days used"], rows)
    render.notes([*(m["summary"] for m in data["measures"]), data["caveat"]],
                 title="What it means")
    render.sources(s for m in data["measures"] for s in m["sources"])
    render.reminder()

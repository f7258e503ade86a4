"""`lowdose report PATIENT --out visit.pdf` and `lowdose diary export|import PATIENT`.

These read and write patient data, which the operator (whoever holds the server's shell) may
not: the policy gives the operator no relation to any patient. So the commands act as a named
user (`--as USERNAME`; see cli/signin.py).
"""

from __future__ import annotations

import atexit
import gc
import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Annotated

import typer

from lowdose.cli.ops import DatabaseUrl
from lowdose.cli.signin import AsUser, Code, PasswordStdin, signed_in
from lowdose.errors import InputError

diary_app = typer.Typer(help="The diary as CSV: export it, or import check-ins from a CSV.",
                        no_args_is_help=True)

Patient = Annotated[int, typer.Argument(help="Patient id.", show_default=False)]
JsonOut = Annotated[bool, typer.Option("--json", help="Print JSON.")]


# ------------------------------------------------------------------------------ report


def report(
    patient: Patient,
    as_user: AsUser = None,
    out: Annotated[Path | None, typer.Option(
        "--out", help="Where to write the PDF ('-' for stdout) [default: "
                      "lowdose-visit-report-patient-N-DATE.pdf here].")] = None,
    password_stdin: PasswordStdin = False,
    totp_code: Code = None,
    json_out: JsonOut = False,
    database: DatabaseUrl = None,
) -> None:
    """Write the visit report PDF of a patient: dose steps, measures against baseline, side
    effects, adherence, flags, the safety screen. Supports decisions; does not make them."""
    with _run_once():
        from lowdose.cli.settings import load_settings
        from lowdose.reports.pdf import filename
        from lowdose.services import reports

        with signed_in(database, as_user, password_stdin, totp_code) as (db, ctx):
            pdf = reports.visit_report(db, ctx, patient, hold_hours=load_settings().hold_hours)
    target = out or Path(filename(patient, ctx.now.date()))
    written = _write(target, pdf)
    if json_out:
        typer.echo(json.dumps({"patient_id": patient, "out": written, "bytes": len(pdf)}))
    elif written != "-":
        typer.echo(f"wrote the visit report of patient {patient} to {written} "
                   f"({len(pdf) // 1024} KB)", err=target == Path("-"))


@contextmanager
def _run_once() -> Iterator[None]:
    """No cycle collection while the report is made, nor at exit. Its imports (SQLAlchemy,
    numpy, matplotlib, reportlab) create nearly 200,000 objects that the collector would walk
    hundreds of times, and once more at exit: about 0.6 s of CPU, a third of the command's.
    The few cycles one report leaves behind end with the process."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
        atexit.unregister(gc.freeze)  # once, however often the report runs in this process
        atexit.register(gc.freeze)


def _write(target: Path, data: bytes) -> str:
    if str(target) == "-":
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
        return "-"
    try:
        partial = target.with_name(target.name + ".partial")
        partial.write_bytes(data)
        partial.replace(target)  # never a half-written file under the real name
    except OSError as exc:
        raise InputError("--out", f"cannot write {target}: {exc.strerror}") from None
    return str(target)


# ------------------------------------------------------------------------------- diary


@diary_app.command("export")
def diary_export(
    patient: Patient,
    as_user: AsUser = None,
    out: Annotated[Path, typer.Option("--out", help="CSV file to write ('-': stdout).")]
    = Path("-"),
    date_from: Annotated[str | None, typer.Option("--from", help="First day, YYYY-MM-DD.")]
    = None,
    date_to: Annotated[str | None, typer.Option("--to", help="Last day, YYYY-MM-DD.")] = None,
    password_stdin: PasswordStdin = False,
    totp_code: Code = None,
    json_out: Annotated[bool, typer.Option(
        "--json", help="Write the check-ins as JSON, as the API gives them, instead of CSV.")]
    = False,
    database: DatabaseUrl = None,
) -> None:
    """Write the diary as CSV: one row per check-in, ratings as ratings.<measure> columns
    (with --json: the check-ins as JSON)."""
    from lowdose.services import checkins, diary_csv

    first, last = _day("--from", date_from), _day("--to", date_to)
    with signed_in(database, as_user, password_stdin, totp_code) as (db, ctx):
        if json_out:
            text = json.dumps([c.to_dict() for c in checkins.list_checkins(
                db, ctx, patient, date_from=first, date_to=last)]) + "\n"
        else:
            text = diary_csv.export_diary(db, ctx, patient, date_from=first, date_to=last)
    _write(out, text.encode("utf-8"))


@diary_app.command("import")
def diary_import(
    patient: Patient,
    file: Annotated[Path, typer.Argument(help="The CSV file (UTF-8).", show_default=False)],
    as_user: AsUser = None,
    mapping: Annotated[Path | None, typer.Option(
        "--mapping", help='JSON file: {"columns": {"CSV column": "date" | "dose_taken" | '
                          '"dose_mg" | "dose_time" | "side_effects" | "note" | '
                          '"ratings.<measure>" | null}, "date_format": "%d/%m/%Y"}. Without '
                          "it the export's columns are expected.")] = None,
    password_stdin: PasswordStdin = False,
    totp_code: Code = None,
    json_out: JsonOut = False,
    database: DatabaseUrl = None,
) -> None:
    """Import check-ins from a CSV: every line is checked first; if any fails, each is
    reported with its line number and nothing is stored."""
    from lowdose.cli.inputs import InputProblems, read_json
    from lowdose.services import diary_csv

    columns = diary_csv.ColumnMapping.from_dict(read_json(str(mapping), "--mapping")) \
        if mapping else None
    data = _read_bytes(file)
    try:
        with signed_in(database, as_user, password_stdin, totp_code) as (db, ctx):
            result = diary_csv.import_diary(db, ctx, patient, data, columns)
    except diary_csv.CsvRejected as exc:
        problems = [(f"line {r.line}: {r.field}", r.message) for r in exc.rejected]
        problems.append(("FILE", "nothing was imported"))
        raise InputProblems(problems) from None
    if json_out:
        typer.echo(json.dumps(result.to_dict()))
        return
    typer.echo(f"imported {result.rows} rows: {result.created} new, {result.updated} "
               f"updated, {result.unchanged} unchanged")


def _read_bytes(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise InputError("FILE", f"no such file: {path}") from None
    except IsADirectoryError:
        raise InputError("FILE", f"{path} is a folder, not a file") from None
    except PermissionError:
        raise InputError("FILE", f"cannot read {path}: permission denied") from None


def _day(option: str, value: str | None) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise InputError(option, f"{value!r} is not a date YYYY-MM-DD") from None

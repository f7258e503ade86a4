"""`lowdose report PATIENT --out visit.pdf` and `lowdose diary export|import PATIENT`.

These read and write patient data, which the operator (whoever holds the server's shell) may
not: the policy gives the operator no relation to any patient. So the commands act as a named
user: `--as USERNAME`, with the password from LOWDOSE_PASSWORD, `--password-stdin` or a hidden
prompt, and `--totp-code` when the account has a second factor. The sign-in goes through the
ordinary login (rate limit, lockout, audit), the work through the same services as the API
(policy check, audit event with source "cli"), and the short-lived token is revoked at the end.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from lowdose.cli.ops import DatabaseUrl
from lowdose.errors import InputError

if TYPE_CHECKING:
    from lowdose.services.context import Context
    from lowdose.store.db import Database

PASSWORD_VARIABLE = "LOWDOSE_PASSWORD"  # noqa: S105  (the name of a variable, not a secret)

diary_app = typer.Typer(help="The diary as CSV: export it, or import check-ins from a CSV.",
                        no_args_is_help=True)

Patient = Annotated[int, typer.Argument(help="Patient id.", show_default=False)]
As = Annotated[str, typer.Option(
    "--as", help=f"Act as this user (password from {PASSWORD_VARIABLE}, --password-stdin or "
                 "a prompt). The operator may not read patient data.", show_default=False)]
PasswordStdin = Annotated[bool, typer.Option(
    "--password-stdin", help="Read the password from the first line of stdin.")]
TotpCode = Annotated[str | None, typer.Option(
    "--totp-code", help="The one-time code, for accounts with a second factor.")]
JsonOut = Annotated[bool, typer.Option("--json", help="Print JSON.")]


@contextmanager
def signed_in(database: str | None, username: str, password_stdin: bool,
              totp_code: str | None) -> Iterator[tuple[Database, Context]]:
    """The database and the context of `username`, signed in for this command only."""
    from lowdose.cli.ops import database_url
    from lowdose.services import accounts
    from lowdose.services.context import Context
    from lowdose.services.errors import NotFound, ServiceError, Unauthenticated
    from lowdose.store.db import Database
    from lowdose.store.migrate import migrate

    password = _password(password_stdin)
    url = database_url(database)
    migrate(url)
    db = Database(url)
    now = datetime.now(UTC)
    try:
        issued = accounts.login(db, username=username, password=password, now=now,
                                source="cli", totp_code=totp_code, kind="api",
                                label="lowdose command line")
        try:
            actor = accounts.authenticate_token(db, issued.token, now=now, kind="api")
            yield db, Context(actor=actor, now=now, source="cli")
        finally:
            accounts.logout(db, issued.token, now=now, source="cli")
    except Unauthenticated as exc:
        field = "--totp-code" if exc.needs_totp else "--as"
        raise InputError(field, str(exc)) from None
    except NotFound as exc:
        raise InputError("PATIENT", str(exc)) from None
    except ServiceError as exc:
        raise InputError("PATIENT", str(exc)) from None
    finally:
        db.dispose()


def _password(from_stdin: bool) -> str:
    if from_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
        if not password:
            raise InputError("--password-stdin", "no password on stdin")
        return password
    if os.environ.get(PASSWORD_VARIABLE):
        return os.environ[PASSWORD_VARIABLE]
    if not sys.stdin.isatty():
        raise InputError("--as", f"no password: set {PASSWORD_VARIABLE}, pipe it with "
                                 "--password-stdin, or run in a terminal to be asked")
    import getpass

    return getpass.getpass("password: ")


# ------------------------------------------------------------------------------ report


def report(
    patient: Patient,
    as_user: As,
    out: Annotated[Path | None, typer.Option(
        "--out", help="Where to write the PDF ('-' for stdout) [default: "
                      "lowdose-visit-report-patient-N-DATE.pdf here].")] = None,
    password_stdin: PasswordStdin = False,
    totp_code: TotpCode = None,
    json_out: JsonOut = False,
    database: DatabaseUrl = None,
) -> None:
    """Write the visit report PDF of a patient: dose steps, measures against baseline, side
    effects, adherence, flags, the safety screen. Supports decisions; does not make them."""
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
    as_user: As,
    out: Annotated[Path, typer.Option("--out", help="CSV file to write ('-': stdout).")]
    = Path("-"),
    date_from: Annotated[str | None, typer.Option("--from", help="First day, YYYY-MM-DD.")]
    = None,
    date_to: Annotated[str | None, typer.Option("--to", help="Last day, YYYY-MM-DD.")] = None,
    password_stdin: PasswordStdin = False,
    totp_code: TotpCode = None,
    database: DatabaseUrl = None,
) -> None:
    """Write the diary as CSV: one row per check-in, ratings as ratings.<measure> columns."""
    from lowdose.services import diary_csv

    first, last = _day("--from", date_from), _day("--to", date_to)
    with signed_in(database, as_user, password_stdin, totp_code) as (db, ctx):
        text = diary_csv.export_diary(db, ctx, patient, date_from=first, date_to=last)
    _write(out, text.encode("utf-8"))


@diary_app.command("import")
def diary_import(
    patient: Patient,
    file: Annotated[Path, typer.Argument(help="The CSV file (UTF-8).", show_default=False)],
    as_user: As,
    mapping: Annotated[Path | None, typer.Option(
        "--mapping", help='JSON file: {"columns": {"CSV column": "date" | "dose_taken" | '
                          '"dose_mg" | "dose_time" | "side_effects" | "note" | '
                          '"ratings.<measure>" | null}, "date_format": "%d/%m/%Y"}. Without '
                          "it the export's columns are expected.")] = None,
    password_stdin: PasswordStdin = False,
    totp_code: TotpCode = None,
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

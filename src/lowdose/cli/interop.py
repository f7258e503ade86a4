"""`lowdose export-fhir PATIENT` and `lowdose import-fhir PATIENT BUNDLE.json`: a record as a
FHIR R4 Bundle, and an EHR's medicines and conditions into a record.

Both read or write patient data, which the operator running the shell may not: they act as a
named user (`--as USERNAME`), signed in with that user's password like the web or API would,
so the same policy decides and the audit log names the user. The password comes from
LOWDOSE_PASSWORD, else one line on stdin with `--password-stdin`, else a hidden prompt. A
clinician with a second factor adds `--code`.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, TypeVar

import typer

from lowdose.cli.inputs import emit_json, read_json
from lowdose.cli.ops import DatabaseUrl, database_url, migrated
from lowdose.errors import InputError

if TYPE_CHECKING:
    from lowdose.services.context import Context
    from lowdose.store.db import Database

T = TypeVar("T")
AsUser = Annotated[str, typer.Option(
    "--as", help="Act as this user (their password: LOWDOSE_PASSWORD, --password-stdin, or a "
                 "prompt). The operator itself may not read patient data.")]
PasswordStdin = Annotated[bool, typer.Option(
    "--password-stdin", help="Read the password as one line from stdin.")]
Code = Annotated[str | None, typer.Option("--code", help="One-time code, when the user has "
                                                         "two-factor sign-in.")]


def register(app: typer.Typer) -> None:
    app.command("export-fhir")(export_fhir)
    app.command("import-fhir")(import_fhir)


def export_fhir(
    patient: Annotated[int, typer.Argument(help="Patient id.")],
    as_user: AsUser,
    out: Annotated[Path | None, typer.Option(
        "--out", help="Write the Bundle to this file [default: stdout].")] = None,
    password_stdin: PasswordStdin = False,
    code: Code = None,
    json_out: Annotated[bool, typer.Option(
        "--json", help="With --out: print a JSON summary instead of a sentence.")] = False,
    database: DatabaseUrl = None,
) -> None:
    """Export a patient's record as a FHIR R4 collection Bundle."""
    from lowdose.services import fhir

    password = _password(password_stdin)
    with _signed_in(database, as_user, password, code) as (db, ctx):
        bundle = _as_input(lambda: fhir.export_patient(db, ctx, patient, kind="collection"))
    if out is None:
        emit_json(bundle)
        return
    _write(out, bundle)
    summary = {"file": str(out), "resources": len(bundle["entry"]), "patient_id": patient}
    if json_out:
        emit_json(summary)
    else:
        typer.echo(f"wrote {summary['resources']} FHIR resources of patient {patient} to {out}")


def import_fhir(
    patient: Annotated[int, typer.Argument(help="Patient id to import into.")],
    bundle: Annotated[str, typer.Argument(help="Bundle JSON file, or - for stdin.")],
    as_user: AsUser,
    password_stdin: PasswordStdin = False,
    code: Code = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
    database: DatabaseUrl = None,
) -> None:
    """Add a FHIR Bundle's medicines and conditions to a patient's record (all or nothing)."""
    from lowdose.services import fhir

    if bundle == "-" and password_stdin:
        raise InputError("--password-stdin", "stdin already carries the Bundle; set "
                                              "LOWDOSE_PASSWORD instead")
    password = _password(password_stdin)
    data = read_json(bundle, "BUNDLE")
    with _signed_in(database, as_user, password, code) as (db, ctx):
        report = _as_input(lambda: fhir.import_bundle(db, ctx, data, patient))
    if json_out:
        emit_json(report.to_dict())
        return
    for item in report.items:
        typer.echo(f"entry {item.index} {item.resource_type}: {item.outcome}: {item.message}")
    typer.echo(f"{report.added} added to patient {patient}'s record")


# ------------------------------------------------------------------------------ helpers


def _password(from_stdin: bool) -> str:
    if from_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = os.environ.get("LOWDOSE_PASSWORD") or ""
        if not password and sys.stdin.isatty():
            password = typer.prompt("Password", hide_input=True)
    if not password:
        raise InputError("--as", "no password: set LOWDOSE_PASSWORD or use --password-stdin")
    return password


@contextmanager
def _signed_in(database: str | None, username: str, password: str,
               code: str | None) -> Iterator[tuple[Database, Context]]:
    """The database and a context acting as `username`, signed in for this command only."""
    from lowdose.services import accounts
    from lowdose.services.context import Context
    from lowdose.services.errors import Unauthenticated

    now = datetime.now(UTC)
    with migrated(database_url(database)) as db:
        try:
            issued = accounts.login(db, username=username, password=password, now=now,
                                    source="cli", totp_code=code, label="lowdose cli")
            actor = accounts.authenticate_token(db, issued.token, now=now)
        except Unauthenticated as exc:
            raise InputError("--code" if exc.needs_totp else "--as", str(exc)) from None
        try:
            yield db, Context(actor=actor, now=now, source="cli")
        finally:
            accounts.logout(db, issued.token, now=now, source="cli")


def _as_input(run: Callable[[], T]) -> T:
    """Run a use case; a refusal or a missing patient is bad input naming PATIENT."""
    from lowdose.services.errors import Forbidden, NotFound

    try:
        return run()
    except (NotFound, Forbidden) as exc:
        raise InputError("PATIENT", str(exc)) from None


def _write(out: Path, bundle: object) -> None:
    try:
        out.write_text(json.dumps(bundle, indent=2, ensure_ascii=False) + "\n",
                       encoding="utf-8")
    except OSError as exc:
        raise InputError("--out", f"cannot write {out}: {exc.strerror}") from None

"""`lowdose calendar PATIENT --out plan.ics --as USERNAME`: the patient's calendar as a file.

The operator (whoever runs commands on the server) may never read patient data, so this
command signs in as a user, with the same password and policy as the API: the password comes
from LOWDOSE_PASSWORD or, with `--password-stdin`, from the first line of stdin. The read is
audited as that user, from "cli"; the short-lived token it uses is revoked when it is done.
"""

from __future__ import annotations

import json
import os
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer

from lowdose.cli.ops import DatabaseUrl, database_url
from lowdose.errors import InputError

PASSWORD_ENV = "LOWDOSE_PASSWORD"  # noqa: S105  (the name of the variable, not a password)


def calendar(
    patient: Annotated[int, typer.Argument(help="Patient id (see GET /api/v1/patients).")],
    out: Annotated[Path, typer.Option(help="Where to write the .ics file ('-': stdout).")],
    as_user: Annotated[str | None, typer.Option(
        "--as", help=f"Sign in as this user (password from {PASSWORD_ENV}).")] = None,
    password_stdin: Annotated[bool, typer.Option(
        "--password-stdin", help="Read the password from stdin instead.")] = False,
    code: Annotated[str | None, typer.Option(
        "--code", help="One-time code, when the user has two-factor sign-in.")] = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    database: DatabaseUrl = None,
) -> None:
    """Export a patient's calendar (doses by titration step, surgery hold, refills) as
    iCalendar."""
    from lowdose.services import accounts, calendar
    from lowdose.services.context import Context
    from lowdose.services.errors import NotFound, ServiceError, Unauthenticated
    from lowdose.store.db import Database
    from lowdose.store.migrate import migrate

    if not as_user:
        raise InputError("--as", "the operator may not read patient data: sign in as a user "
                                 f"with --as USERNAME (password from {PASSWORD_ENV} or "
                                 "--password-stdin)")
    if json_out and str(out) == "-":
        raise InputError("--json", "cannot share stdout with --out -; give a file")
    password = _password(password_stdin)
    url = database_url(database)
    migrate(url)
    db = Database(url)
    now = datetime.now(UTC)
    try:
        issued = accounts.login(db, username=as_user, password=password, now=now,
                                source="cli", totp_code=code, label="lowdose calendar")
        try:
            actor = accounts.authenticate_token(db, issued.token, now=now)
            exported = calendar.export_calendar(
                db, Context(actor, now, "cli"), patient, hold_hours=_hold_hours())
        finally:
            accounts.logout(db, issued.token, now=now, source="cli")
    except Unauthenticated as exc:
        raise InputError("--code" if exc.needs_totp else "--as", str(exc)) from None
    except NotFound:
        raise InputError("PATIENT", f"no patient {patient} that {as_user} may see") from None
    except ServiceError as exc:
        raise InputError("PATIENT", str(exc)) from None
    finally:
        db.dispose()
    _write(out, exported.ics)
    if json_out:
        typer.echo(json.dumps({"file": str(out), "bytes": len(exported.ics),
                               "notes": list(exported.notes)}))
    elif str(out) != "-":
        typer.echo(f"calendar written to {out}")
        for note in exported.notes:
            typer.echo(f"note: {note}")


def _password(from_stdin: bool) -> str:
    if from_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
        if not password:
            raise InputError("--password-stdin", "no password on stdin")
        return password
    password = os.environ.get(PASSWORD_ENV, "")
    if not password:
        raise InputError("--as", f"set {PASSWORD_ENV} to the user's password, or pass "
                                 "--password-stdin")
    return password


def _hold_hours() -> float | None:
    from lowdose.cli.settings import load_settings

    return load_settings().hold_hours


def _write(out: Path, ics: bytes) -> None:
    if str(out) == "-":
        sys.stdout.buffer.write(ics)
        sys.stdout.flush()
        return
    try:
        out.write_bytes(ics)
    except OSError as exc:
        raise InputError("--out", f"cannot write {out}: {exc.strerror}") from None

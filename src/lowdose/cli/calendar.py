"""`lowdose calendar PATIENT --out plan.ics --as USERNAME`: the patient's calendar as a file.

The operator (whoever runs commands on the server) may never read patient data, so this
command signs in as a user (`--as USERNAME`; see cli/signin.py) and the read is audited as
that user, from "cli".
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from lowdose.cli.ops import DatabaseUrl
from lowdose.cli.signin import AsUser, Code, PasswordStdin, signed_in
from lowdose.errors import InputError


def calendar(
    patient: Annotated[int, typer.Argument(help="Patient id (see GET /api/v1/patients).")],
    out: Annotated[Path, typer.Option(help="Where to write the .ics file ('-': stdout).")],
    as_user: AsUser = None,
    password_stdin: PasswordStdin = False,
    code: Code = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    database: DatabaseUrl = None,
) -> None:
    """Export a patient's calendar (doses by titration step, surgery hold, refills) as
    iCalendar."""
    from lowdose.services import calendar

    if json_out and str(out) == "-":
        raise InputError("--json", "cannot share stdout with --out -; give a file")
    with signed_in(database, as_user, password_stdin, code) as (db, ctx):
        exported = calendar.export_calendar(db, ctx, patient, hold_hours=_hold_hours())
    _write(out, exported.ics)
    if json_out:
        typer.echo(json.dumps({"file": str(out), "bytes": len(exported.ics),
                               "notes": list(exported.notes)}))
    elif str(out) != "-":
        typer.echo(f"calendar written to {out}")
        for note in exported.notes:
            typer.echo(f"note: {note}")


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

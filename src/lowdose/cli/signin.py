"""Commands that read or write a patient's record act as a named user, never as the operator.

The operator (whoever holds the server's shell) has no relation to any patient in the policy,
so `lowdose report`, `diary`, `export-fhir`, `import-fhir` and `calendar` sign in as
`--as USERNAME` through the ordinary login (rate limit, lockout, audit), act through the same
services as the API with source "cli", and revoke their short-lived token at the end. The
password comes from LOWDOSE_PASSWORD, else one line on stdin with `--password-stdin`, else a
hidden prompt in a terminal; `--code` gives the one-time code of a second factor.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated

import typer

from lowdose.cli.ops import database_url, migrated
from lowdose.errors import InputError

if TYPE_CHECKING:
    from lowdose.services.context import Context
    from lowdose.store.db import Database

PASSWORD_VARIABLE = "LOWDOSE_PASSWORD"  # noqa: S105  (the name of a variable, not a secret)

AsUser = Annotated[str | None, typer.Option(
    "--as", help=f"Act as this user (password from {PASSWORD_VARIABLE}, --password-stdin or "
                 "a prompt). The operator may not read patient data.", show_default=False)]
PasswordStdin = Annotated[bool, typer.Option(
    "--password-stdin", help="Read the password as one line from stdin.")]
Code = Annotated[str | None, typer.Option(
    "--code", "--totp-code", help="The one-time code, for users with two-factor sign-in.")]


def password(from_stdin: bool) -> str:
    """The user's password from stdin, the environment or a prompt; bad input when none."""
    if from_stdin:
        given = sys.stdin.readline().rstrip("\r\n")
        if not given:
            raise InputError("--password-stdin", "no password on stdin")
        return given
    if os.environ.get(PASSWORD_VARIABLE):
        return os.environ[PASSWORD_VARIABLE]
    if not sys.stdin.isatty():
        raise InputError("--as", f"no password: set {PASSWORD_VARIABLE}, pipe it with "
                                 "--password-stdin, or run in a terminal to be asked")
    return str(typer.prompt("Password", hide_input=True))


@contextmanager
def signed_in(database: str | None, username: str | None, password_stdin: bool,
              code: str | None) -> Iterator[tuple[Database, Context]]:
    """The database and the context of `username`, signed in for this command only. A refusal
    or a missing patient inside the block is bad input naming PATIENT."""
    from lowdose.services import accounts
    from lowdose.services.context import Context
    from lowdose.services.errors import ServiceError, Unauthenticated

    if not username:
        raise InputError("--as", "the operator may not read patient data: sign in as a user "
                                 f"with --as USERNAME (password from {PASSWORD_VARIABLE}, "
                                 "--password-stdin or a prompt)")
    secret = password(password_stdin)
    now = datetime.now(UTC)
    with migrated(database_url(database)) as db:
        try:
            issued = accounts.login(db, username=username, password=secret, now=now,
                                    source="cli", totp_code=code, kind="api",
                                    label="lowdose command line")
            actor = accounts.authenticate_token(db, issued.token, now=now, kind="api")
        except Unauthenticated as exc:
            raise InputError("--code" if exc.needs_totp else "--as", str(exc)) from None
        try:
            yield db, Context(actor=actor, now=now, source="cli")
        except ServiceError as exc:  # NotFound and Forbidden included
            raise InputError("PATIENT", str(exc)) from None
        finally:
            accounts.logout(db, issued.token, now=now, source="cli")

"""Operating the stored record from the server's shell: accounts, the audit log, backups, demo.

These commands act as the operator (`services.context.operator_context`): whoever can run them
already holds the database file. Heavy imports (SQLAlchemy, the services, even sqlite3 and
secrets) happen inside each command so `lowdose screen` stays fast.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from lowdose.errors import InputError

if TYPE_CHECKING:
    from lowdose.services.context import Context
    from lowdose.store.db import Database

DatabaseUrl = Annotated[str | None, typer.Option(
    "--database-url",
    help="Database URL [default: LOWDOSE_DATABASE_URL, else SQLite in the data dir].")]

users_app = typer.Typer(help="Manage user accounts.", no_args_is_help=True)
audit_app = typer.Typer(help="Check the audit log.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.add_typer(users_app, name="users")
    app.add_typer(audit_app, name="audit")
    app.command("backup")(backup)
    app.command("restore")(restore)
    app.command("demo")(demo)


def database_url(option: str | None) -> str:
    """`--database-url`, else the settings (LOWDOSE_DATABASE_URL, else the data dir's file)."""
    from lowdose.cli.settings import load_settings

    if option:
        return option
    settings = load_settings()
    if not settings.database_url:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
    return settings.resolved_database_url


@contextmanager
def migrated(url: str) -> Iterator[Database]:
    """The database at `url`, brought up to date first; service errors become bad input."""
    from lowdose.services.errors import ServiceError
    from lowdose.store.db import Database
    from lowdose.store.migrate import migrate

    migrate(url)
    database = Database(url)
    try:
        yield database
    except ServiceError as exc:
        raise InputError("database", str(exc)) from None
    finally:
        database.dispose()


# ----------------------------------------------------------------------------- users


@users_app.command("add")
def users_add(
    username: Annotated[str, typer.Argument(help="Login name (case-insensitive).")],
    role: Annotated[str, typer.Option(help="patient, clinician or admin.")],
    clinic: Annotated[str | None, typer.Option(
        help="Clinic name [default: the only clinic]. The first admin of a new name creates "
             "the clinic.")] = None,
    password_stdin: Annotated[bool, typer.Option(
        "--password-stdin", help="Read the password from stdin (else one is generated and "
                                 "printed once).")] = False,
    display_name: Annotated[str | None, typer.Option(help="Name shown to others.")] = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    database: DatabaseUrl = None,
) -> None:
    """Add a user account; adding the first admin of a new clinic name creates the clinic."""
    from lowdose.services import accounts
    from lowdose.services.context import operator_context

    if role not in accounts.USER_ROLES:
        raise InputError("--role", f"must be one of {', '.join(accounts.USER_ROLES)}")
    password, generated = _password(password_stdin)
    ctx = operator_context(datetime.now(UTC))
    _check_new_user(username, password, display_name)
    with migrated(database_url(database)) as db:
        clinic_id = _clinic_for(db, ctx, clinic, role)
        user = accounts.create_user(db, ctx, clinic_id=clinic_id, username=username,
                                    password=password, role=role, display_name=display_name)
    shown = {**user.to_dict(), "password": password if generated else None}
    if json_out:
        typer.echo(json.dumps(shown))
        return
    typer.echo(f"added {user.role} {user.username} (user {user.id}, clinic {user.clinic_id})")
    if generated:
        typer.echo(f"password (shown once): {password}")


def _check_new_user(username: str, password: str, display_name: str | None) -> None:
    """What `create_user` would refuse, checked before a new clinic is made for the user, so
    a refused first admin leaves no clinic behind."""
    from lowdose.security.passwords import check_password_rules
    from lowdose.services import accounts
    from lowdose.services._checks import text

    accounts._check_username(username)  # private, but the one username rule
    check_password_rules(password)
    if display_name is not None:
        text("display_name", display_name, max_length=200)


def _password(from_stdin: bool) -> tuple[str, bool]:
    import secrets

    if not from_stdin:
        return secrets.token_urlsafe(18), True
    # One line: a trailing newline from `echo` is not part of the password.
    password = sys.stdin.readline().rstrip("\r\n")
    if not password:
        raise InputError("--password-stdin", "no password on stdin")
    return password, False


def _clinic_for(db: Database, ctx: Context, name: str | None, role: str) -> int:
    from lowdose.services import accounts

    clinics = accounts.list_clinics(db, ctx)
    if name is None:
        if len(clinics) == 1:
            return clinics[0].id
        raise InputError("--clinic", "name the clinic" if clinics else
                         "no clinic yet: add its first admin with --clinic NAME --role admin")
    for clinic in clinics:
        if clinic.name == name.strip():
            return clinic.id
    if role != "admin":
        raise InputError("--clinic", f"no clinic named {name!r}; its first user must be an admin")
    return accounts.create_clinic(db, ctx, name).id


# ----------------------------------------------------------------------------- audit


@audit_app.command("verify")
def audit_verify(
    json_out: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    database: DatabaseUrl = None,
) -> None:
    """Check the hash chain of the audit log: exit 0 when intact, 1 at the first bad event."""
    from lowdose.services.auditlog import verify_audit_log
    from lowdose.services.context import operator_context

    with migrated(database_url(database)) as db:
        report = verify_audit_log(db, operator_context(datetime.now(UTC)))
    if json_out:
        typer.echo(json.dumps(report.to_dict()))
    elif report.ok:
        typer.echo(f"audit log intact: {report.events} events; head {report.head_hash}")
        typer.echo("keep the head hash elsewhere: a later log that lacks it was rewritten")
    else:
        sys.stderr.write(f"audit log broken at event {report.first_bad_id}: {report.problem}\n")
    if not report.ok:
        raise typer.Exit(1)


# --------------------------------------------------------------------- backup, restore


def backup(
    out: Annotated[Path | None, typer.Option(
        help="Backup file [default: DATA_DIR/backups/lowdose-<UTC time>.sqlite3|.dump].")
    ] = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    database: DatabaseUrl = None,
) -> None:
    """Copy the database to a file while it may be serving (SQLite online backup, checked;
    PostgreSQL via pg_dump)."""
    from lowdose.store.backup import make_backup

    url = database_url(database)
    result = make_backup(url, out or _default_backup_path(url))
    if json_out:
        typer.echo(json.dumps(result.to_dict()))
    else:
        typer.echo(f"backup written to {result.path} (revision {result.revision})")


def restore(
    file: Annotated[Path, typer.Argument(help="A file made by `lowdose backup`.")],
    json_out: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    database: DatabaseUrl = None,
) -> None:
    """Replace the database with a backup, after checking the backup is whole and of a
    schema this lowdose knows; a bad file changes nothing."""
    from lowdose.store.backup import restore_backup

    result = restore_backup(database_url(database), file)
    if json_out:
        typer.echo(json.dumps(result.to_dict()))
    else:
        typer.echo(f"restored {result.path} (revision {result.revision}); stop and restart "
                   "any running `lowdose serve`")


def _default_backup_path(url: str) -> Path:
    from lowdose.cli.settings import load_settings
    from lowdose.store.db import is_sqlite

    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    suffix = "sqlite3" if is_sqlite(url) else "dump"
    return load_settings().data_dir / "backups" / f"lowdose-{stamp}.{suffix}"


# ------------------------------------------------------------------------------ demo


def demo(
    no_serve: Annotated[bool, typer.Option("--no-serve", help="Create it, do not serve.")
                        ] = False,
    json_out: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    patients: Annotated[int, typer.Option(
        min=1, max=100_000, help="Synthetic patients (beyond 24, written in bulk without "
                                 "logins: a clinic-scale panel).")] = 24,
    days: Annotated[int, typer.Option(min=28, max=3650, help="Days of diary per patient.")
                    ] = 120,
    seed: Annotated[int | None, typer.Option(help="Same seed, same demo [default: random].")
                    ] = None,
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="Port to listen on.")] = 8000,
    database: Annotated[str | None, typer.Option(
        "--database-url", help="Database URL [default: a fresh DATA_DIR/demo.sqlite3].")
    ] = None,
) -> None:
    """Create a demo clinic of synthetic patients with months of diaries, then serve it."""
    import secrets

    from lowdose.services.demo import create_demo_clinic

    url = database or _fresh_demo_database()
    with migrated(url) as db:
        made = create_demo_clinic(db, now=datetime.now(UTC), patients_count=patients, days=days,
                                  seed=secrets.randbits(128) if seed is None else seed)
    shown = made.to_dict(_display_url(url))
    if json_out:
        typer.echo(json.dumps(shown))
    else:
        typer.echo(f"demo clinic in {shown['database']} — every patient is synthetic")
        for account in made.accounts:
            typer.echo(f"  {account.role:<10} {account.username:<20} {account.password}")
    if not no_serve:
        from lowdose.cli.serve import serve

        _enter_demo_mode(shown)
        sys.stdout.flush()  # the accounts must reach a pipe before the server blocks
        serve(host=host, port=port, database_url=url)


def _enter_demo_mode(shown: dict[str, object]) -> None:
    """Serve in demo mode: the sign-in page lists the demo clinic's accounts (all synthetic),
    read from a file only its owner may read in the data dir."""
    import os

    from lowdose.cli.settings import load_settings
    from lowdose.settings import get_settings
    from lowdose.web.auth import DEMO_ACCOUNTS_FILE

    os.environ["LOWDOSE_MODE"] = "demo"  # also seen by worker processes
    get_settings.cache_clear()
    path = load_settings().data_dir / DEMO_ACCOUNTS_FILE
    # With --database-url the data dir may not exist yet.
    path.parent.mkdir(parents=True, exist_ok=True)
    path.unlink(missing_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w") as out:
        json.dump(shown, out)


def _fresh_demo_database() -> str:
    """A new DATA_DIR/demo.sqlite3: synthetic data never mixes with the real record, and each
    run starts from an empty clinic."""
    from lowdose.cli.settings import load_settings

    data_dir = load_settings().data_dir
    data_dir.mkdir(parents=True, exist_ok=True)
    path = data_dir / "demo.sqlite3"
    for leftover in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        leftover.unlink(missing_ok=True)
    return f"sqlite:///{path}"


def _display_url(url: str) -> str:
    """The URL without a password, fit to print."""
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)

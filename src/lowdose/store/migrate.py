"""Schema migrations, run in process: `migrate(url)` on start, `check_drift(url)` in tests.

Revisions live in `store/migrations/versions/`. To add one after changing `models.py`:
`new_revision(url_of_a_migrated_database, "what changed and why")`, then read and edit it.
"""

from __future__ import annotations

import re
from functools import cache
from importlib import resources
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, inspect, text
from sqlalchemy.engine import URL

from lowdose.errors import InputError
from lowdose.store.db import Database

if TYPE_CHECKING:
    from alembic.config import Config

# Alembic (and Mako under it) is imported inside each function: every command that opens the
# database imports this package, and most never migrate (design §4: start-up time).

# Any constant works; it only has to be the same for every lowdose process.
_PG_MIGRATION_LOCK = 0x10D05E

# The lines Alembic's template writes into each revision file (a merge's tuple does not match).
_REVISION_LINE = re.compile(r"""^(revision|down_revision) = ['"]([^'"]+)['"]""", re.MULTILINE)


def _config(connection: Connection | None = None) -> Config:
    from alembic.config import Config

    config = Config()
    location = resources.files("lowdose.store").joinpath("migrations")
    config.set_main_option("script_location", str(location))
    config.attributes["connection"] = connection
    return config


def head_revision() -> str:
    """The newest revision shipped with this version of lowdose."""
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(_config()).get_current_head()
    if head is None:
        raise RuntimeError("no migrations found")
    return head


@cache
def shipped_revisions() -> tuple[frozenset[str], str | None]:
    """(every revision shipped with this version of lowdose, the head or None when it is not
    one line of revisions), read from the revision files' own `revision = ...` lines: loading
    them through Alembic costs a command about 0.2 s of start-up."""
    revisions: set[str] = set()
    followed: set[str] = set()
    folder = resources.files("lowdose.store").joinpath("migrations").joinpath("versions")
    for file in folder.iterdir():
        if file.name.endswith(".py"):
            for name, value in _REVISION_LINE.findall(file.read_text(encoding="utf-8")):
                (revisions if name == "revision" else followed).add(value)
    heads = revisions - followed
    return frozenset(revisions), next(iter(heads)) if len(heads) == 1 else None


def stored_revisions(database: Database) -> list[str]:
    """The revisions the database says it is at: [] when it was never migrated."""
    with database.engine.connect() as connection:
        if not inspect(connection).has_table("alembic_version"):
            return []
        return list(connection.scalars(text("SELECT version_num FROM alembic_version")))


def _check_not_newer(stored: list[str]) -> None:
    known, _ = shipped_revisions()
    unknown = sorted(set(stored) - known)
    if unknown:
        raise InputError("database", f"its schema is at revision {', '.join(unknown)}, which "
                                     "this version of lowdose does not know: a newer lowdose "
                                     "wrote it; upgrade lowdose to use it")


def migrate(url: str | URL, revision: str = "head") -> None:
    """Bring the database at `url` up to `revision`, in one transaction.

    Safe to call from several workers at once: they take turns (SQLite's write lock,
    PostgreSQL's advisory lock) and the later ones find nothing to do. A database already at
    the head costs one query and no Alembic; one a newer lowdose migrated is refused.
    """
    database = Database(url)
    try:
        if revision == "head":
            stored = stored_revisions(database)
            _check_not_newer(stored)
            if stored == [shipped_revisions()[1]]:
                return
        from alembic import command

        with database.transaction() as session:
            connection = session.connection()
            if connection.dialect.name == "postgresql":
                connection.execute(text("SELECT pg_advisory_xact_lock(:key)"),
                                   {"key": _PG_MIGRATION_LOCK})
            command.upgrade(_config(connection), revision)
    finally:
        database.dispose()


def downgrade(url: str | URL, revision: str = "base") -> None:
    """Take the database at `url` back to `revision` ("base": no lowdose tables at all)."""
    from alembic import command

    database = Database(url)
    try:
        with database.transaction() as session:
            command.downgrade(_config(session.connection()), revision)
    finally:
        database.dispose()


def current_revision(url: str | URL) -> str | None:
    """The revision the database is at, None when it was never migrated."""
    from alembic.runtime.migration import MigrationContext

    database = Database(url)
    try:
        with database.engine.connect() as connection:
            return MigrationContext.configure(connection).get_current_revision()
    finally:
        database.dispose()


def check_drift(url: str | URL) -> list[Any]:
    """Differences between the models and the migrated database at `url`; [] when in step."""
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    from lowdose.store.models import Base

    database = Database(url)
    try:
        with database.engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            return list(compare_metadata(context, Base.metadata))
    finally:
        database.dispose()


def new_revision(url: str | URL, message: str) -> None:
    """Write a new revision file from the difference between the models and `url`."""
    from alembic import command

    database = Database(url)
    try:
        with database.transaction() as session:
            command.revision(_config(session.connection()), message=message, autogenerate=True)
    finally:
        database.dispose()

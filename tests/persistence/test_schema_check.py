"""The schema check every command and server start makes: a database at this version's head is
used as it is (one query, no Alembic, no lock), one that is behind is migrated, one a newer
lowdose migrated is refused and left alone. On SQLite and PostgreSQL."""

from __future__ import annotations

import threading
from collections.abc import Callable
from importlib import resources

import pytest
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, text

from lowdose.errors import InputError
from lowdose.store import Database, check_drift, head_revision, migrate
from lowdose.store.migrate import _PG_MIGRATION_LOCK, shipped_revisions, stored_revisions

Fresh = Callable[[str], tuple[str, object]]
LOCK_WAIT_S = 5  # far below SQLite's busy timeout (10 s); PostgreSQL's lock waits forever


def test_the_shipped_revisions_are_the_ones_alembic_reads() -> None:
    config = Config()
    config.set_main_option("script_location",
                           str(resources.files("lowdose.store").joinpath("migrations")))
    alembic = {script.revision for script in ScriptDirectory.from_config(config).walk_revisions()}
    assert shipped_revisions() == (frozenset(alembic), head_revision())


def test_a_database_at_the_head_is_used_while_a_writer_holds_it(fresh_database: Fresh,
                                                                 backend: str) -> None:
    # A report started while the server writes must not queue behind the writer.
    url, _ = fresh_database("empty")
    engine = create_engine(url)
    with engine.connect() as writer:
        if backend == "sqlite":
            writer.exec_driver_sql("BEGIN IMMEDIATE")
        else:
            writer.execute(text("SELECT pg_advisory_lock(:key)"), {"key": _PG_MIGRATION_LOCK})
        errors: list[BaseException] = []
        check = threading.Thread(target=_collect(errors, lambda: migrate(url)), daemon=True)
        check.start()
        check.join(LOCK_WAIT_S)
        done = not check.is_alive()
        writer.rollback()
        if backend == "postgresql":
            writer.execute(text("SELECT pg_advisory_unlock_all()"))
    check.join()
    engine.dispose()
    assert done, "the schema check waited for the writer"
    assert errors == []


def test_a_database_behind_is_brought_to_the_head(fresh_database: Fresh) -> None:
    url, _ = fresh_database("bare")
    migrate(url, "0001")  # as an older lowdose left it
    migrate(url)
    assert _stored(url) == [head_revision()]
    assert check_drift(url) == []


def test_a_database_a_newer_lowdose_migrated_is_refused_and_left_alone(
        fresh_database: Fresh) -> None:
    url, _ = fresh_database("empty")
    engine = create_engine(url)
    with engine.begin() as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = 'from-the-future'"))
    engine.dispose()
    with pytest.raises(InputError) as refused:
        migrate(url)
    assert refused.value.field == "database"
    assert "from-the-future" in refused.value.message
    assert "newer lowdose" in refused.value.message
    assert _stored(url) == ["from-the-future"]


def _stored(url: str) -> list[str]:
    database = Database(url)
    try:
        return stored_revisions(database)
    finally:
        database.dispose()


def _collect(errors: list[BaseException], call: Callable[[], object]) -> Callable[[], None]:
    def run() -> None:
        try:
            call()
        except BaseException as error:  # asserted by the test
            errors.append(error)
    return run


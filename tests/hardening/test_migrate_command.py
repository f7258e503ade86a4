"""`lowdose migrate` upgrades a database as a separate deployment step, on SQLite and
PostgreSQL; an unreachable database is bad input naming the database, not a traceback."""

from __future__ import annotations

from collections.abc import Callable

from lowdose.store.migrate import current_revision, head_revision
from support import Run


def test_migrate_brings_a_new_database_to_head_and_then_has_nothing_to_do(
        fresh_database: Callable[[str], tuple[str, object]],
        lowdose: Callable[..., Run]) -> None:
    url, _ = fresh_database("bare")
    first = lowdose("migrate", "--database-url", url, "--json")
    assert first.code == 0, first.stderr
    assert first.json() == {"database": url.split(":")[0].split("+")[0], "from": None,
                            "to": head_revision()}
    assert current_revision(url) == head_revision()
    again = lowdose("migrate", "--database-url", url)
    assert again.code == 0
    assert f"already at revision {head_revision()}" in again.stdout


def test_migrate_on_an_unreachable_database_exits_1_naming_it(
        lowdose: Callable[..., Run]) -> None:
    done = lowdose("migrate", "--database-url", "postgresql://nobody@127.0.0.1:1/lowdose")
    assert done.code == 1
    assert done.stderr.startswith("error: database: cannot migrate the postgresql database")
    assert "Traceback" not in done.stderr

"""`/api/v1/health` says the process answers; `/api/v1/ready` says it can serve the record:
the database answers and its schema is the one this version needs. On SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import httpx
from sqlalchemy import create_engine, text

from lowdose.api.app import create_app
from lowdose.settings import Settings
from lowdose.store.migrate import head_revision
from persistence.conftest import _pg_execute
from support import serving


def test_ready_follows_the_database_and_its_schema_while_health_stays_up(
        fresh_database: Callable[[str], tuple[str, object]], tmp_path: Path) -> None:
    url, _ = fresh_database("empty")
    settings = Settings(mode="development", data_dir=tmp_path / "data", database_url=url,
                        secret_key="test-secret")
    with serving(create_app(settings)) as base, httpx.Client(base_url=base) as client:
        ready = client.get("/api/v1/ready")
        assert ready.status_code == 200
        assert ready.json()["revision"] == head_revision()
        assert ready.json()["database"] == url.split(":")[0].split("+")[0]

        set_revision(url, "0001")  # as if an older lowdose had last migrated it
        behind = client.get("/api/v1/ready")
        assert behind.status_code == 503
        assert behind.headers["content-type"] == "application/problem+json"
        assert "revision 0001" in behind.json()["detail"]
        assert head_revision() in behind.json()["detail"]
        assert client.get("/api/v1/health").status_code == 200

        set_revision(url, head_revision())
        assert client.get("/api/v1/ready").status_code == 200

        lose_database(url)
        gone = client.get("/api/v1/ready")
        assert gone.status_code == 503
        assert gone.json()["detail"] in ("The postgresql database cannot be reached.",
                                         "The database schema is at revision none; this "
                                         f"version of lowdose needs {head_revision()}: run "
                                         "`lowdose migrate` or restart a worker to migrate.")
        assert client.get("/api/v1/health").status_code == 200


def set_revision(url: str, revision: str) -> None:
    engine = create_engine(url)
    with engine.begin() as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = :r"),
                           {"r": revision})
    engine.dispose()


def lose_database(url: str) -> None:
    if url.startswith("sqlite"):
        # An open SQLite file cannot be taken away from the server's connections; losing the
        # schema's record is the nearest thing: the database no longer says what it holds.
        engine = create_engine(url)
        with engine.begin() as connection:
            connection.execute(text("DROP TABLE alembic_version"))
        engine.dispose()
        return
    _pg_execute(f"DROP DATABASE {url.rsplit('/', 1)[1]} WITH (FORCE)")

"""A full disk under a SQLite server, simulated with SQLite's `max_page_count` (the database
cannot grow past it, and SQLite answers exactly as on a full disk: "database or disk is
full"): the client gets a clear problem (507) and nothing of the request is stored; once there
is room again the same server stores the retry, without a restart."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import event, func, select

from lowdose.api.app import create_app
from lowdose.settings import Settings
from lowdose.store.models import AuditEvent, Checkin, CheckinVersion, IdempotencyKey
from persistence.conftest import (  # noqa: F401  (fixtures used by name)
    PASSWORD,
    CastIds,
    isolated_database,
    templates,
)


@pytest.fixture
def backend() -> str:
    return "sqlite"


class Disk:
    """The room the database has: pages it may add beyond those it has now."""

    def __init__(self) -> None:
        self.spare_pages: int | None = None

    def limit(self, dbapi_connection: Any, *_: Any) -> None:
        # Every connection the app takes from its pool gets the current limit.
        cursor = dbapi_connection.cursor()
        pages = cursor.execute("PRAGMA page_count").fetchone()[0]
        limit = 2_147_483_646 if self.spare_pages is None else pages + self.spare_pages
        cursor.execute(f"PRAGMA max_page_count = {limit}")
        cursor.close()


def counts(session: Any) -> tuple[int, ...]:
    return tuple(session.scalar(select(func.count()).select_from(table))
                 for table in (Checkin, CheckinVersion, IdempotencyKey, AuditEvent))


def test_a_full_disk_is_a_clear_507_nothing_half_written_and_recovers_without_restart(
        isolated_database: Callable[[str], tuple[str, object]],  # noqa: F811
        serve_app: Callable[[Any], Any], tmp_path: Path) -> None:
    url, ids = isolated_database("cast")
    assert isinstance(ids, CastIds)
    app = create_app(Settings(mode="development", data_dir=tmp_path / "data",
                              database_url=url, secret_key="test-secret", hold_hours=None))
    disk = Disk()
    with serve_app(app) as base, httpx.Client(base_url=base, timeout=30) as client:
        db = app.state.db
        event.listen(db.engine, "checkout", disk.limit)
        token = client.post("/api/v1/auth/token", data={
            "username": ids.users["patient"].username, "password": PASSWORD}).json()
        headers = {"Authorization": f"Bearer {token['access_token']}"}
        # Notes big enough that a few check-ins need new pages.
        note = "x" * 3900

        def send(n: int) -> httpx.Response:
            body = {"date": (date(2001, 1, 1) + timedelta(days=n)).isoformat(),
                    "dose_taken": True, "note": note}
            return client.post(f"/api/v1/patients/{ids.alice}/checkins", json=body,
                               headers={**headers, "Idempotency-Key": f"full-{n}"})

        assert send(0).status_code == 201
        disk.spare_pages = 0
        with db.transaction(write=False) as session:
            before = counts(session)
        full = [send(n) for n in range(1, 6)]
        refused = [answer for answer in full if answer.status_code != 201]
        assert refused, "a database that cannot grow must refuse some writes"
        for answer in refused:
            assert answer.status_code == 507
            assert answer.headers["content-type"] == "application/problem+json"
            assert "nothing of this request was stored" in answer.json()["detail"]
        stored = len(full) - len(refused)  # writes that fitted into free space of old pages
        with db.transaction(write=False) as session:
            after = counts(session)
        # Nothing half-written: each stored write added exactly its rows; the refused none.
        assert after[:3] == tuple(n + stored for n in before[:3])
        assert integrity(url) == "ok"

        disk.spare_pages = None  # room again: the same server, no restart
        retry = send(len(full))
        assert retry.status_code == 201, retry.text
        first_refused = 1 + full.index(refused[0])
        assert send(first_refused).status_code == 201
        listed = client.get(f"/api/v1/patients/{ids.alice}/checkins",
                            params={"from": "2001-01-01", "to": "2001-12-31"}, headers=headers)
        assert len(listed.json()) == 1 + stored + 2


def integrity(url: str) -> str:
    with sqlite3.connect(url.removeprefix("sqlite:///")) as connection:
        return str(connection.execute("PRAGMA integrity_check").fetchone()[0])

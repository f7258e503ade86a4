"""PostgreSQL connections cut under load (`pg_terminate_backend` from a second connection, as
a database restart or failover does to every open connection): the server recovers without a
restart, a request caught in the cut gets a retryable 503 rather than a 500, and every
check-in it acknowledged is stored. (The shared PostgreSQL server itself is never stopped.)"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from sqlalchemy import select

from faults.harness import LONG
from lowdose.api.app import create_app
from lowdose.settings import Settings
from lowdose.store import Database
from lowdose.store.models import Checkin
from persistence.conftest import (  # noqa: F401  (fixtures used by name)
    PASSWORD,
    CastIds,
    _require_postgres,
    isolated_database,
    templates,
)

WRITERS = 6
WRITES = 400 if LONG else 60
CUTS = 20 if LONG else 4


@pytest.fixture
def backend() -> str:
    _require_postgres()
    return "postgresql"


def cut_connections(database: str) -> int:
    """Terminate every connection to `database` but this one; how many were cut."""
    with psycopg.connect(_require_postgres(), autocommit=True) as connection:
        rows = connection.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = %s AND pid <> pg_backend_pid()", (database,)).fetchall()
    return len(rows)


def test_cut_connections_recover_without_restart_and_lose_no_acknowledged_write(
        isolated_database: Callable[[str], tuple[str, object]],  # noqa: F811
        serve_app: Callable[[Any], Any], tmp_path: Path) -> None:
    url, ids = isolated_database("cast")
    assert isinstance(ids, CastIds)
    app = create_app(Settings(mode="development", data_dir=tmp_path / "data",
                              database_url=url, secret_key="test-secret", hold_hours=None))
    acknowledged: set[tuple[int, str]] = set()
    answers: dict[int, int] = {}
    failures: list[str] = []
    progress = threading.Semaphore(0)

    def writer(base: str, persona: str, patient_id: int, offset: int) -> None:
        with httpx.Client(base_url=base, timeout=30) as client:
            token = client.post("/api/v1/auth/token", data={
                "username": ids.users[persona].username, "password": PASSWORD})
            headers = {"Authorization": f"Bearer {token.json()['access_token']}"}
            for n in range(WRITES):
                day = (date(2002, 1, 1) + timedelta(days=offset + n * WRITERS)).isoformat()
                body = {"date": day, "dose_taken": True, "ratings": {"pain": n % 11}}
                for _attempt in range(200):
                    answer = client.post(f"/api/v1/patients/{patient_id}/checkins", json=body,
                                         headers={**headers, "Idempotency-Key": f"{day}"})
                    answers[answer.status_code] = answers.get(answer.status_code, 0) + 1
                    if answer.status_code in (200, 201):
                        acknowledged.add((patient_id, day))
                        progress.release()
                        break
                    if answer.status_code != 503:
                        failures.append(f"{answer.status_code} {answer.text[:200]}")
                        return
                    assert answer.headers["retry-after"] == "1"
                    time.sleep(0.05)
                else:
                    failures.append(f"{day}: never acknowledged")
                    return

    with serve_app(app) as base:
        threads = [threading.Thread(target=writer, args=(
            base, "patient" if w % 2 == 0 else "second_patient",
            ids.alice if w % 2 == 0 else ids.bob, w)) for w in range(WRITERS)]
        for thread in threads:
            thread.start()
        database = url.rsplit("/", 1)[1]
        cut = 0
        for _ in range(CUTS):
            for _ in range(WRITERS * WRITES // (CUTS + 1)):
                progress.acquire(timeout=60)
            cut += cut_connections(database)
        for thread in threads:
            thread.join(timeout=900)
        # And the server still answers after the last cut, without a restart.
        after = httpx.get(f"{base}/api/v1/patients", headers={"Authorization": "Bearer x"})
        assert after.status_code == 401

    assert not failures, failures[:3]
    assert cut >= CUTS, "each cut must have ended at least one connection"
    assert not [status for status in answers if status >= 500 and status != 503], answers
    assert len(acknowledged) == WRITERS * WRITES
    assert acknowledged <= stored_days(url)
    print(f"\n{cut} connections cut over {CUTS} cuts; answers {answers}")


def stored_days(url: str) -> set[tuple[int, str]]:
    """The stored (patient, date) pairs of the test's days."""
    database = Database(url)
    try:
        with database.transaction(write=False) as session:
            rows = session.execute(select(Checkin.patient_id, Checkin.date)
                                   .where(Checkin.date >= date(2002, 1, 1))).all()
    finally:
        database.dispose()
    return {(patient_id, day.isoformat()) for patient_id, day in rows}

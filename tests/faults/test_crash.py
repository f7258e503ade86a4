"""A `lowdose serve` process SIGKILLed at random moments while patients write check-ins from
several threads: every check-in the server acknowledged (2xx) is stored exactly once, with the
values sent, and the SQLite file passes `PRAGMA integrity_check`.

Short run in the suite: 5 kills over ~500 writes. `make faults` (LOWDOSE_LONG_TESTS=1):
50 kills across 10,000 writes.
"""

from __future__ import annotations

import json
import os
import random
import sqlite3
import subprocess
import threading
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from faults.harness import (
    FIRST_DAY,
    LONG,
    LOWDOSE,
    Progress,
    Server,
    Writer,
    demo_clinic,
    lowdose_env,
)
from lowdose.store.db import normalise_url
from persistence.conftest import _pg_execute, _pg_url

WRITERS = 8
KILLS, WRITES = (50, 10_000) if LONG else (5, 500)
# The test's check-ins are the ones before this day (the demo's diaries are recent).
LAST_DAY = FIRST_DAY + timedelta(days=WRITES // WRITERS)


def kill_at_random_moments(server: Server, progress: Progress, kills: int, total: int,
                           done: threading.Event, seed: int) -> None:
    """SIGKILL the server `kills` times, each at a random point of the writing (a random
    count of acknowledged writes, then a random few milliseconds into the next ones), and
    start it again on the same database."""
    rng = random.Random(seed)
    moments = sorted(rng.sample(range(total // 20, total - total // 20), kills))
    for moment in moments:
        if not progress.wait_for(moment, until=done.is_set):
            return
        threading.Event().wait(rng.uniform(0, 0.03))
        server.kill()
        server.start()


def stored_checkins(url: str) -> dict[tuple[int, str], list[tuple[int, object, str]]]:
    """(patient, date) → [(checkin version, version rows, note)] of every stored check-in."""
    engine = create_engine(normalise_url(url))
    try:
        with engine.connect() as connection:
            rows = connection.execute(text(
                "SELECT c.patient_id, c.date, c.version, c.note, "
                "       (SELECT COUNT(*) FROM checkin_versions v WHERE v.checkin_id = c.id) "
                "FROM checkins c WHERE c.date < :last"), {"last": LAST_DAY}).all()
    finally:
        engine.dispose()
    found: dict[tuple[int, str], list[tuple[int, object, str]]] = {}
    for patient_id, day, version, note, versions in rows:
        found.setdefault((patient_id, str(day)), []).append((version, versions, note))
    return found


def integrity(database: Path) -> str:
    with sqlite3.connect(database) as connection:
        return str(connection.execute("PRAGMA integrity_check").fetchone()[0])


@pytest.mark.slow
def test_a_killed_server_loses_no_acknowledged_checkin_and_leaves_sqlite_intact(
        tmp_path: Path) -> None:
    database = tmp_path / "data" / "lowdose.sqlite3"
    kill_while_writing(f"sqlite:///{database}", tmp_path, KILLS, WRITES)
    assert integrity(database) == "ok"


@pytest.mark.slow
def test_a_killed_server_loses_no_acknowledged_checkin_on_postgresql(tmp_path: Path) -> None:
    name = f"lowdose_crash_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    _pg_execute(f"CREATE DATABASE {name}")
    try:
        # A shorter run: the SQLite run above is the long one.
        kill_while_writing(_pg_url(name), tmp_path, max(2, KILLS // 2), WRITES // 2)
    finally:
        _pg_execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def kill_while_writing(url: str, tmp_path: Path, kills: int, writes: int) -> None:
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    accounts = demo_clinic(url, data_dir, patients=WRITERS)[:WRITERS]
    server = Server(url, data_dir, tmp_path / "serve.log")
    server.start()
    progress, done = Progress(), threading.Event()
    writers = [Writer(server, account, writes // WRITERS, on_ack=progress.tick)
               for account in accounts]
    threads = [threading.Thread(target=w.run, daemon=True) for w in writers]
    killer_errors: list[BaseException] = []

    def killer_run() -> None:
        try:
            kill_at_random_moments(server, progress, kills, writes, done,
                                   random.randrange(2**32))
        except BaseException as error:  # reported below, not lost in the thread
            killer_errors.append(error)
            done.set()

    killer = threading.Thread(target=killer_run, daemon=True)
    try:
        for thread in [*threads, killer]:
            thread.start()
        for thread in threads:
            thread.join(timeout=1800)
        done.set()
        killer.join(timeout=120)
    finally:
        done.set()
        server.stop()

    assert not killer_errors, killer_errors
    failures = [f for w in writers for f in w.failures]
    assert not failures, failures[:5]
    assert server.kills == kills
    statuses: dict[int, int] = {}
    for writer in writers:
        for status, count in writer.statuses.items():
            statuses[status] = statuses.get(status, 0) + count
    assert not [s for s in statuses if s >= 500], statuses

    acknowledged = {(w.account.patient_id, body["date"]): body["note"]
                    for w in writers for body in w.acknowledged.values()}
    assert len(acknowledged) == WRITERS * (writes // WRITERS)
    stored = stored_checkins(url)
    # Exactly once: one check-in per acknowledged date, in its first and only version (a
    # duplicated write would be a second version), holding what was sent; nothing else.
    assert set(stored) == set(acknowledged)
    wrong = {at: rows for at, rows in stored.items() if rows != [(1, 1, acknowledged[at])]}
    assert not wrong, list(wrong.items())[:5]
    # The audit chain survived the kills too.
    verify = subprocess.run([str(LOWDOSE), "audit", "verify", "--json", "--database-url", url],
                            capture_output=True, text=True, env=lowdose_env(data_dir),
                            timeout=600)
    assert verify.returncode == 0, verify.stdout + verify.stderr
    print(f"\n{server.kills} kills, {len(acknowledged)} acknowledged writes, answers {statuses}, "
          f"verify: {json.loads(verify.stdout)}")

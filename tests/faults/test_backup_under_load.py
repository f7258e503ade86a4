"""`lowdose backup` taken while `lowdose serve` is storing check-ins from several clients, then
`lowdose restore` into a new database: the restored copy is consistent (integrity check, an
intact audit chain, every check-in with its version and idempotency key, none torn) and holds a
point in time between the first and the last write."""

from __future__ import annotations

import sqlite3
import subprocess
import threading
from pathlib import Path

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

WRITERS = 6
WRITES = 1200 if LONG else 240


def lowdose_ok(data_dir: Path, *args: str) -> str:
    done = subprocess.run([str(LOWDOSE), *args], capture_output=True, text=True,
                          env=lowdose_env(data_dir), timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def test_a_backup_taken_under_load_restores_to_a_consistent_moment(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    url = f"sqlite:///{data_dir / 'lowdose.sqlite3'}"
    accounts = demo_clinic(url, data_dir, patients=WRITERS)[:WRITERS]
    server = Server(url, data_dir, tmp_path / "serve.log")
    server.start()
    progress = Progress()
    writers = [Writer(server, account, WRITES // WRITERS, on_ack=progress.tick)
               for account in accounts]
    threads = [threading.Thread(target=w.run, daemon=True) for w in writers]
    backup = tmp_path / "backups" / "during-load.sqlite3"
    try:
        for thread in threads:
            thread.start()
        assert progress.wait_for(WRITES // 3, until=lambda: False)
        lowdose_ok(data_dir, "backup", "--out", str(backup), "--database-url", url)
        at_backup_end = progress.count
        for thread in threads:
            thread.join(timeout=1800)
    finally:
        server.stop()
    assert not [f for w in writers for f in w.failures]

    restored = tmp_path / "restored" / "lowdose.sqlite3"
    restored.parent.mkdir()
    restored_url = f"sqlite:///{restored}"
    lowdose_ok(data_dir, "restore", str(backup), "--database-url", restored_url)
    lowdose_ok(data_dir, "audit", "verify", "--database-url", restored_url)
    with sqlite3.connect(restored) as connection:
        assert connection.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        day = FIRST_DAY.isoformat()
        checkins, versions, keys = (connection.execute(sql, (day,)).fetchone()[0] for sql in (
            "SELECT COUNT(*) FROM checkins WHERE date >= ? AND date < '2010-01-01'",
            "SELECT COUNT(*) FROM checkin_versions v JOIN checkins c ON c.id = v.checkin_id "
            "WHERE c.date >= ? AND c.date < '2010-01-01'",
            "SELECT COUNT(*) FROM idempotency_keys k JOIN checkins c ON c.id = k.resource_id "
            "WHERE k.resource = 'checkin' AND c.date >= ? AND c.date < '2010-01-01'"))
    # One transaction writes all three rows: a torn copy would hold some without the others.
    assert checkins == versions == keys
    # A moment during the load: after the writes acknowledged before the backup began, and
    # no later than what was acknowledged once it had finished (plus those in flight).
    assert WRITES // 3 <= checkins <= at_backup_end + WRITERS
    assert checkins < WRITES

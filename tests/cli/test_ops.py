"""The operator's commands, run as the real console script against real SQLite files:
`users add`, `demo`, `audit verify`, `backup`, `restore`, and `serve` migrating on start."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import closing
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from statistics import mean
from typing import Any

import httpx
import pytest

from lowdose.security.policy import Actor, Role
from lowdose.services import accounts, checkins, patients
from lowdose.services.context import Context
from lowdose.services.demo import BASELINE_DAYS, CLINICIANS, DIARY_DAYS
from lowdose.store.db import Database
from lowdose.store.migrate import current_revision, head_revision

Lowdose = Callable[..., Any]
PASSWORD = "correct horse battery staple"


@pytest.fixture
def database(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'record.sqlite3'}"


@pytest.fixture
def db(database: str) -> Iterator[Database]:
    opened = Database(database)
    yield opened
    opened.dispose()


def login(db: Database, username: str, password: str) -> accounts.IssuedToken:
    return accounts.login(db, username=username, password=password, now=datetime.now(UTC),
                          source="test")


def rows(database: str, query: str) -> list[tuple[Any, ...]]:
    with closing(sqlite3.connect(database.removeprefix("sqlite:///"))) as connection:
        return connection.execute(query).fetchall()


def count(database: str, table: str) -> int:
    """Rows in `table`; 0 when the database or the table was never created."""
    if not Path(database.removeprefix("sqlite:///")).exists():
        return 0
    try:
        return int(rows(database, f"SELECT count(*) FROM {table}")[0][0])
    except sqlite3.OperationalError:
        return 0


def execute(database: str, statement: str) -> None:
    with closing(sqlite3.connect(database.removeprefix("sqlite:///"))) as connection:
        connection.execute(statement)
        connection.commit()


def make_demo(lowdose: Lowdose, database: str, *extra: str) -> dict[str, Any]:
    run = lowdose("demo", "--no-serve", "--json", "--database-url", database, *extra)
    assert run.code == 0, run.stderr
    made: dict[str, Any] = run.json()
    return made


def as_actor(user: accounts.UserView) -> Actor:
    return Actor(user.id, Role(user.role), user.clinic_id)


# ----------------------------------------------------------------------------- users add


def test_first_admin_creates_the_clinic_and_can_log_in_with_the_printed_password(
        lowdose: Lowdose, database: str, db: Database) -> None:
    run = lowdose("users", "add", "Boss", "--role", "admin", "--clinic", "North Clinic",
                  "--json", "--database-url", database)
    assert run.code == 0, run.stderr
    added = run.json()
    token = login(db, "boss", added["password"])
    assert token.user.role == "admin"
    assert rows(database, "SELECT name FROM clinics") == [("North Clinic",)]


def test_later_users_join_the_only_clinic_with_a_password_from_stdin(
        lowdose: Lowdose, database: str, db: Database) -> None:
    assert lowdose("users", "add", "boss", "--role", "admin", "--clinic", "North",
                   "--database-url", database).code == 0
    run = lowdose("users", "add", "dr.who", "--role", "clinician", "--password-stdin",
                  "--json", "--database-url", database, stdin=PASSWORD + "\n")
    assert run.code == 0, run.stderr
    assert run.json()["password"] is None  # the operator chose it: not echoed back
    token = login(db, "dr.who", PASSWORD)
    assert (token.user.role, token.user.clinic_id) == ("clinician", run.json()["clinic_id"])


@pytest.mark.parametrize(("args", "stdin", "field"), [
    (["nurse", "--role", "clinician", "--clinic", "Nowhere"], "", "--clinic"),
    (["nurse", "--role", "clinician"], "", "--clinic"),
    (["nurse", "--role", "superuser", "--clinic", "North"], "", "--role"),
    (["nurse", "--role", "admin", "--clinic", "North", "--password-stdin"], "short\n",
     "password"),
    (["nurse", "--role", "admin", "--clinic", "North", "--password-stdin"], "",
     "--password-stdin"),
    (["x", "--role", "admin", "--clinic", "North"], "", "username"),
])
def test_a_bad_user_is_refused_naming_the_field_and_nothing_is_created(
        lowdose: Lowdose, database: str, args: list[str], stdin: str, field: str) -> None:
    run = lowdose("users", "add", *args, "--database-url", database, stdin=stdin)
    assert run.code == 1
    assert run.stderr.startswith(f"error: {field}: ")
    assert count(database, "users") == 0
    assert count(database, "clinics") == 0


def test_a_taken_username_is_refused(lowdose: Lowdose, database: str) -> None:
    for _ in range(2):
        run = lowdose("users", "add", "boss", "--role", "admin", "--clinic", "North",
                      "--database-url", database)
    assert run.code == 1
    assert "taken" in run.stderr
    assert rows(database, "SELECT count(*) FROM users") == [(1,)]


# ---------------------------------------------------------------------------------- demo


def test_demo_prints_accounts_that_log_in_with_their_roles(
        lowdose: Lowdose, database: str, db: Database) -> None:
    made = make_demo(lowdose, database, "--patients", "4", "--seed", "7")
    assert made["database"] == database
    roles = [a["role"] for a in made["accounts"]]
    assert roles.count("admin") == 1
    assert roles.count("clinician") == CLINICIANS
    assert roles.count("patient") == 4
    for account in made["accounts"]:
        token = login(db, account["username"], account["password"])
        assert token.user.role == account["role"]
        assert token.user.patient_id == account["patient_id"]


def test_demo_patients_are_labelled_synthetic_and_see_their_own_diary(
        lowdose: Lowdose, database: str, db: Database) -> None:
    made = make_demo(lowdose, database, "--patients", "3", "--seed", "11")
    for account in (a for a in made["accounts"] if a["role"] == "patient"):
        token = login(db, account["username"], account["password"])
        ctx = Context(as_actor(token.user), datetime.now(UTC), "test")
        record = patients.get_patient(db, ctx, account["patient_id"])
        assert record.synthetic
        assert record.display_name.startswith("Synthetic Patient ")
        diary = checkins.list_checkins(db, ctx, account["patient_id"])
        # Months of diary, a few missed days allowed.
        assert len(diary) > DIARY_DAYS * 0.75
        assert diary[-1].date < datetime.now(UTC).date() + timedelta(days=1)


def test_demo_diaries_improve_modestly_after_ldn_starts_with_side_effects_early(
        lowdose: Lowdose, database: str) -> None:
    make_demo(lowdose, database, "--patients", "12", "--seed", "3")
    started = datetime.now(UTC).date() - timedelta(days=DIARY_DAYS - BASELINE_DAYS)
    diary = rows(database, "SELECT date, json_extract(ratings, '$.pain'), "
                           "json_array_length(side_effects), dose_mg FROM checkins")
    before = [pain for day, pain, _, _ in diary if date.fromisoformat(day) < started]
    settled = [pain for day, pain, _, _ in diary
               if date.fromisoformat(day) >= started + timedelta(weeks=6)]
    improvement = mean(before) - mean(settled)
    assert 0.3 < improvement < 3  # better, not miraculous
    early = [n for day, _, n, _ in diary
             if started <= date.fromisoformat(day) < started + timedelta(weeks=3)]
    late = [n for day, _, n, _ in diary
            if date.fromisoformat(day) >= started + timedelta(weeks=6)]
    assert sum(early) > 0
    assert sum(late) == 0
    # No dose before the course starts; doses within the LDN range after.
    assert all(dose is None for day, _, _, dose in diary if date.fromisoformat(day) < started)
    doses = [dose for _, _, _, dose in diary if dose is not None]
    assert doses and all(0.5 <= dose <= 4.5 for dose in doses)


def test_demo_has_titration_plans_and_a_planned_procedure(
        lowdose: Lowdose, database: str) -> None:
    make_demo(lowdose, database, "--patients", "2", "--seed", "5")
    assert rows(database, "SELECT count(DISTINCT course_id) FROM plan_versions") == [(2,)]
    assert rows(database, "SELECT count(*) FROM procedures") == [(1,)]


def test_the_same_seed_gives_the_same_demo(lowdose: Lowdose, tmp_path: Path) -> None:
    first, second = (f"sqlite:///{tmp_path / name}" for name in ("a.sqlite3", "b.sqlite3"))
    query = "SELECT patient_id, date, ratings, side_effects, dose_mg FROM checkins ORDER BY id"
    made = [make_demo(lowdose, url, "--patients", "2", "--seed", "42") for url in
            (first, second)]
    assert made[0]["accounts"] == made[1]["accounts"]
    assert rows(first, query) == rows(second, query)


def test_demo_refuses_a_patient_count_out_of_range(lowdose: Lowdose, database: str) -> None:
    run = lowdose("demo", "--no-serve", "--patients", "0", "--database-url", database)
    assert run.code == 2
    assert "--patients" in run.stderr


# --------------------------------------------------------------------------- audit verify


def test_audit_verify_passes_an_untouched_log(lowdose: Lowdose, database: str) -> None:
    make_demo(lowdose, database, "--patients", "2", "--seed", "1")
    run = lowdose("audit", "verify", "--json", "--database-url", database)
    assert run.code == 0, run.stderr
    report = run.json()
    assert report["ok"]
    assert report["events"] == rows(database, "SELECT count(*) FROM audit_events")[0][0] - 1


@pytest.mark.parametrize(("tamper", "first_bad"), [
    ("UPDATE audit_events SET action = 'patient.view' WHERE id = 7", 7),
    ("UPDATE audit_events SET patient_id = 99 WHERE id = 12", 12),
    ("UPDATE audit_events SET at = '2020-01-01 00:00:00.000000' WHERE id = 3", 3),
    ("DELETE FROM audit_events WHERE id = 9", 9),
])
def test_audit_verify_fails_at_the_first_edited_event(
        lowdose: Lowdose, database: str, tamper: str, first_bad: int) -> None:
    make_demo(lowdose, database, "--patients", "2", "--seed", "1")
    execute(database, tamper)
    run = lowdose("audit", "verify", "--database-url", database)
    assert run.code == 1
    assert f"event {first_bad}" in run.stderr


def test_audit_verify_notices_a_cut_off_tail(lowdose: Lowdose, database: str) -> None:
    make_demo(lowdose, database, "--patients", "2", "--seed", "1")
    execute(database, "DELETE FROM audit_events WHERE id = (SELECT max(id) FROM audit_events)")
    assert lowdose("audit", "verify", "--database-url", database).code == 1


# ------------------------------------------------------------------------ backup, restore


def snapshot(database: str) -> list[list[tuple[Any, ...]]]:
    return [rows(database, f"SELECT * FROM {table} ORDER BY 1")
            for table in ("users", "patients", "checkins", "checkin_versions", "plan_versions",
                          "audit_events", "audit_head", "alembic_version")]


def test_backup_then_restore_brings_back_the_record_as_it_was(
        lowdose: Lowdose, database: str, tmp_path: Path) -> None:
    made = make_demo(lowdose, database, "--patients", "3", "--seed", "9")
    before = snapshot(database)
    backup = tmp_path / "saved" / "backup.sqlite3"
    run = lowdose("backup", "--out", str(backup), "--json", "--database-url", database)
    assert run.code == 0, run.stderr
    assert run.json()["revision"] == head_revision()
    # Life goes on after the backup: a new user, a changed diary.
    assert lowdose("users", "add", "late.comer", "--role", "clinician", "--clinic",
                   "Synthetic Demo Clinic", "--database-url", database).code == 0
    execute(database, "DELETE FROM checkin_versions")
    execute(database, "DELETE FROM checkins")
    run = lowdose("restore", str(backup), "--database-url", database)
    assert run.code == 0, run.stderr
    assert snapshot(database) == before
    restored = Database(database)
    try:
        patient = next(a for a in made["accounts"] if a["role"] == "patient")
        assert login(restored, patient["username"], patient["password"]).user.patient_id
    finally:
        restored.dispose()
    assert lowdose("audit", "verify", "--database-url", database).code == 0


def test_a_backup_is_one_self_contained_checked_file(
        lowdose: Lowdose, database: str, tmp_path: Path) -> None:
    make_demo(lowdose, database, "--patients", "2", "--seed", "2")
    backup = tmp_path / "b.sqlite3"
    assert lowdose("backup", "--out", str(backup), "--database-url", database).code == 0
    assert not backup.with_name("b.sqlite3-wal").exists()
    with closing(sqlite3.connect(backup)) as copy:
        assert copy.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        assert copy.execute("PRAGMA journal_mode").fetchone() == ("delete",)


def test_backup_does_not_overwrite_an_existing_file(
        lowdose: Lowdose, database: str, tmp_path: Path) -> None:
    make_demo(lowdose, database, "--patients", "1", "--seed", "2")
    existing = tmp_path / "keep.sqlite3"
    existing.write_text("precious")
    run = lowdose("backup", "--out", str(existing), "--database-url", database)
    assert run.code == 1
    assert run.stderr.startswith("error: --out: ")
    assert existing.read_text() == "precious"


def test_backup_is_consistent_while_the_record_is_being_written(
        lowdose: Lowdose, database: str, tmp_path: Path, lowdose_argv: list[str],
        lowdose_env: dict[str, str]) -> None:
    make_demo(lowdose, database, "--patients", "1", "--seed", "4")
    # Another process keeps writing users (each one a transaction) during the backup.
    writer = subprocess.Popen(
        ["sh", "-c", " ".join(
            f"echo '{PASSWORD}' | {' '.join(lowdose_argv)} users add busy{n} --role clinician "
            f"--password-stdin --database-url {database};" for n in range(6))],
        env=lowdose_env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        backups = [tmp_path / f"b{n}.sqlite3" for n in range(3)]
        for backup in backups:
            assert lowdose("backup", "--out", str(backup), "--database-url", database).code == 0
    finally:
        writer.wait(timeout=60)
    for backup in backups:
        copy = f"sqlite:///{backup}"
        assert rows(copy, "PRAGMA integrity_check") == [("ok",)]
        # Every user in a copy came with its audit event: no half-written transaction.
        users = rows(copy, "SELECT count(*) FROM users")[0][0]
        created = rows(copy, "SELECT count(*) FROM audit_events WHERE action = 'user.create'")
        assert created == [(users,)]


def file_state(database: str) -> dict[str, str]:
    path = Path(database.removeprefix("sqlite:///"))
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(path.parent.glob(path.name + "*"))}


def _corrupt(good: Path, bad: Path) -> None:
    data = bytearray(good.read_bytes())
    # Overwrite pages after the header: the file still opens, its b-trees do not check out.
    for offset in range(4096, len(data), 4096 * 3):
        data[offset:offset + 64] = b"\xff" * 64
    bad.write_bytes(bytes(data))


def _not_sqlite(_good: Path, bad: Path) -> None:
    bad.write_text("this is not a database\n" * 100)


def _not_lowdose(_good: Path, bad: Path) -> None:
    with closing(sqlite3.connect(bad)) as other:
        other.execute("CREATE TABLE notes (text TEXT)")
        other.commit()


def _future_schema(good: Path, bad: Path) -> None:
    bad.write_bytes(good.read_bytes())
    with closing(sqlite3.connect(bad)) as newer:
        newer.execute("UPDATE alembic_version SET version_num = 'from-a-newer-lowdose'")
        newer.commit()


def _truncated(good: Path, bad: Path) -> None:
    data = good.read_bytes()
    bad.write_bytes(data[:len(data) // 2])


@pytest.mark.parametrize("spoil", [_corrupt, _not_sqlite, _not_lowdose, _future_schema,
                                   _truncated])
def test_restore_refuses_a_bad_file_and_changes_nothing(
        lowdose: Lowdose, database: str, tmp_path: Path,
        spoil: Callable[[Path, Path], None]) -> None:
    make_demo(lowdose, database, "--patients", "2", "--seed", "6")
    good = tmp_path / "good.sqlite3"
    assert lowdose("backup", "--out", str(good), "--database-url", database).code == 0
    bad = tmp_path / "bad.sqlite3"
    spoil(good, bad)
    before, files = snapshot(database), file_state(database)
    run = lowdose("restore", str(bad), "--database-url", database)
    assert run.code == 1
    assert run.stderr.startswith("error: FILE: ")
    assert file_state(database) == files
    assert snapshot(database) == before


def test_restore_of_a_missing_file_names_it(lowdose: Lowdose, database: str,
                                             tmp_path: Path) -> None:
    run = lowdose("restore", str(tmp_path / "nope.sqlite3"), "--database-url", database)
    assert run.code == 1
    assert run.stderr.startswith("error: FILE: no such file")


# ---------------------------------------------------------------------------------- serve


@pytest.mark.parametrize("via", ["option", "environment"])
def test_serve_migrates_the_database_before_answering(
        lowdose_argv: list[str], lowdose_env: dict[str, str], free_port: int, tmp_path: Path,
        via: str) -> None:
    database = f"sqlite:///{tmp_path / 'fresh.sqlite3'}"
    args, env = ["--database-url", database], dict(lowdose_env)
    if via == "environment":
        args, env = [], {**env, "LOWDOSE_DATABASE_URL": database}
    server = subprocess.Popen([*lowdose_argv, "serve", "--port", str(free_port), *args],
                              env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                response = httpx.get(f"http://127.0.0.1:{free_port}/api/v1/health", timeout=2)
                break
            except httpx.TransportError:
                assert server.poll() is None, "server exited"
                assert time.monotonic() < deadline, "server did not start"
                time.sleep(0.1)
        assert response.status_code == 200
        assert current_revision(database) == head_revision()
    finally:
        server.terminate()
        server.wait(timeout=20)


def test_demo_serves_its_clinic_and_a_printed_account_signs_in_over_http(
        lowdose_argv: list[str], lowdose_env: dict[str, str], free_port: int,
        database: str) -> None:
    server = subprocess.Popen(
        [*lowdose_argv, "demo", "--json", "--patients", "1", "--port", str(free_port),
         "--database-url", database],
        env=lowdose_env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        assert server.stdout is not None
        made = json.loads(server.stdout.readline())
        patient = next(a for a in made["accounts"] if a["role"] == "patient")
        base = f"http://127.0.0.1:{free_port}/api/v1"
        wait_for(f"{base}/health", server)
        token = httpx.post(f"{base}/auth/token", data={
            "username": patient["username"], "password": patient["password"]}, timeout=10)
        assert token.status_code == 200, token.text
        me = httpx.get(f"{base}/me", timeout=10, headers={
            "Authorization": f"Bearer {token.json()['access_token']}"})
        assert me.json()["patient_id"] == patient["patient_id"]
    finally:
        server.terminate()
        server.wait(timeout=20)


def wait_for(url: str, server: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 30
    while True:
        try:
            httpx.get(url, timeout=2)
            return
        except httpx.TransportError:
            assert server.poll() is None, "server exited"
            assert time.monotonic() < deadline, "server did not start"
            time.sleep(0.1)


# ----------------------------------------------------------------------------- PostgreSQL


@pytest.fixture
def pg_database() -> Iterator[str]:
    """A new, empty PostgreSQL database at 127.0.0.1:5432, dropped afterwards."""
    import psycopg

    name = f"lowdose_ops_{uuid.uuid4().hex[:12]}"
    maintenance = "postgresql://postgres@127.0.0.1:5432/postgres"
    try:
        admin = psycopg.connect(maintenance, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as exc:
        message = f"PostgreSQL at 127.0.0.1:5432 is unreachable ({exc})"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"{message}; under CI the PostgreSQL half must run", pytrace=False)
        pytest.skip(f"{message}: PostgreSQL backup tests skipped")
    if shutil.which("pg_dump") is None or shutil.which("pg_restore") is None:
        admin.close()
        pytest.skip("pg_dump/pg_restore are not installed: PostgreSQL backup tests skipped")
    with admin:
        admin.execute(f'CREATE DATABASE "{name}"')
        try:
            yield f"postgresql://postgres@127.0.0.1:5432/{name}"
        finally:
            admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')


def pg_rows(url: str, query: str) -> list[tuple[Any, ...]]:
    import psycopg

    with psycopg.connect(url) as connection:
        return connection.execute(query).fetchall()  # type: ignore[arg-type]


def test_postgresql_backup_then_restore_brings_back_the_record(
        lowdose: Lowdose, pg_database: str, tmp_path: Path) -> None:
    make_demo(lowdose, pg_database, "--patients", "2", "--seed", "8")
    query = "SELECT id, patient_id, date, ratings::text FROM checkins ORDER BY id"
    before = pg_rows(pg_database, query)
    dump = tmp_path / "record.dump"
    run = lowdose("backup", "--out", str(dump), "--json", "--database-url", pg_database)
    assert run.code == 0, run.stderr
    assert run.json()["revision"] == head_revision()
    pg_rows(pg_database, "DELETE FROM checkin_versions RETURNING id")
    pg_rows(pg_database, "DELETE FROM checkins RETURNING id")
    run = lowdose("restore", str(dump), "--database-url", pg_database)
    assert run.code == 0, run.stderr
    assert pg_rows(pg_database, query) == before
    assert lowdose("audit", "verify", "--database-url", pg_database).code == 0


@pytest.mark.parametrize("spoil", [_not_sqlite, _truncated])
def test_postgresql_restore_refuses_a_bad_file_and_changes_nothing(
        lowdose: Lowdose, pg_database: str, tmp_path: Path,
        spoil: Callable[[Path, Path], None]) -> None:
    make_demo(lowdose, pg_database, "--patients", "1", "--seed", "8")
    good, bad = tmp_path / "good.dump", tmp_path / "bad.dump"
    assert lowdose("backup", "--out", str(good), "--database-url", pg_database).code == 0
    spoil(good, bad)
    query = "SELECT count(*), max(hash) FROM audit_events"
    before = pg_rows(pg_database, query)
    run = lowdose("restore", str(bad), "--database-url", pg_database)
    assert run.code == 1
    assert run.stderr.startswith("error: FILE: ")
    assert pg_rows(pg_database, query) == before

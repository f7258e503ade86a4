"""The schema: migrations build exactly the models, drift is caught, values survive the trip,
and the SQLite durability settings are in effect."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import date, datetime, time
from pathlib import Path

import pytest
from sqlalchemy import inspect, select, text
from sqlalchemy.exc import IntegrityError, OperationalError

from lowdose.store import (
    Database,
    check_drift,
    current_revision,
    downgrade,
    head_revision,
    migrate,
)
from lowdose.store.models import Base, Checkin, Clinic, Medicine, Patient

Fresh = Callable[[str], tuple[str, object]]


def test_migrations_build_the_schema_the_models_describe(fresh_database: Fresh) -> None:
    url, _ = fresh_database("bare")
    assert current_revision(url) is None
    migrate(url)
    assert current_revision(url) == head_revision()
    assert check_drift(url) == []


def test_drift_check_catches_a_column_the_migrations_do_not_know(fresh_database: Fresh) -> None:
    url, _ = fresh_database("empty")
    database = Database(url)
    with database.transaction() as session:
        session.execute(text("ALTER TABLE procedures ADD COLUMN stray INTEGER"))
    database.dispose()
    drift = check_drift(url)
    assert [(d[0], d[2], d[3].name) for d in drift] == [("remove_column", "procedures", "stray")]


def test_downgrade_removes_every_table_and_upgrade_restores_them(fresh_database: Fresh) -> None:
    url, _ = fresh_database("empty")
    downgrade(url)
    database = Database(url)
    with database.engine.connect() as connection:
        left = set(inspect(connection).get_table_names()) - {"alembic_version"}
    database.dispose()
    assert left == set()
    migrate(url)
    assert check_drift(url) == []


def test_workers_migrating_at_the_same_time_both_succeed(fresh_database: Fresh) -> None:
    url, _ = fresh_database("bare")
    errors: list[BaseException] = []

    def run() -> None:
        try:
            migrate(url)
        except BaseException as error:  # collected and asserted below
            errors.append(error)

    workers = [threading.Thread(target=run) for _ in range(3)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert errors == []
    assert current_revision(url) == head_revision()


def test_every_model_table_exists_after_migration(db: Database) -> None:
    with db.engine.connect() as connection:
        tables = set(inspect(connection).get_table_names())
    assert set(Base.metadata.tables) <= tables


def test_values_come_back_exactly_as_stored(db: Database) -> None:
    stamp = datetime(2025, 6, 2, 21, 59, 58, 123456)
    with db.transaction() as session:
        clinic = Clinic(name="Round trip", created_at=stamp)
        session.add(clinic)
        session.flush()
        patient = Patient(clinic_id=clinic.id, display_name="R", synthetic=True,
                          weight_kg=70.25, pregnant=False, created_at=stamp, updated_at=stamp)
        session.add(patient)
        session.flush()
        session.add(Checkin(patient_id=patient.id, date=date(2025, 6, 2), version=1,
                            dose_taken=True, dose_mg=1.5, dose_time=time(22, 5),
                            ratings={"pain": 6, "sleep": 7},
                            side_effects=[{"name": "vivid dreams", "severity": 1}],
                            note="naïve ☺ text", created_at=stamp, updated_at=stamp))
    with db.transaction(write=False) as session:
        stored = session.scalars(select(Checkin)).one()
        stored_patient = session.get(Patient, stored.patient_id)
        assert stored_patient is not None
        assert (stored_patient.weight_kg, stored_patient.pregnant) == (70.25, False)
        assert stored.created_at == stamp
        assert (stored.date, stored.dose_time, stored.dose_mg) == (date(2025, 6, 2),
                                                                  time(22, 5), 1.5)
        assert stored.ratings == {"pain": 6, "sleep": 7}
        assert stored.side_effects == [{"name": "vivid dreams", "severity": 1}]
        assert stored.note == "naïve ☺ text"


def test_foreign_keys_are_enforced(db: Database) -> None:
    stamp = datetime(2025, 6, 2)
    with pytest.raises(IntegrityError), db.transaction() as session:
        session.add(Medicine(patient_id=999, version=1, text="x", removed=False,
                             updated_at=stamp))
        session.flush()


def test_a_failed_transaction_leaves_nothing_behind(db: Database) -> None:
    with pytest.raises(RuntimeError), db.transaction() as session:
        session.add(Clinic(name="Half done", created_at=datetime(2025, 6, 2)))
        session.flush()
        raise RuntimeError("crash before commit")
    with db.transaction(write=False) as session:
        assert session.scalars(select(Clinic)).all() == []


# --------------------------------------------------------------------------- SQLite only


@pytest.fixture
def sqlite_db(tmp_path: Path) -> Database:
    url = f"sqlite:///{tmp_path / 'pragmas.sqlite3'}"
    migrate(url)
    return Database(url, busy_timeout_ms=150)


def _pragma(db: Database, name: str) -> object:
    with db.engine.connect() as connection:
        return connection.exec_driver_sql(f"PRAGMA {name}").scalar()


@pytest.mark.parametrize(("pragma", "expected"), [
    ("journal_mode", "wal"),  # readers never block the writer
    ("synchronous", 2),  # FULL: a commit is on disk before it is acknowledged
    ("foreign_keys", 1),
    ("busy_timeout", 150),
])
def test_sqlite_connections_use_the_durable_settings(sqlite_db: Database, pragma: str,
                                                     expected: object) -> None:
    assert _pragma(sqlite_db, pragma) == expected
    sqlite_db.dispose()


def test_sqlite_write_transactions_take_the_write_lock_when_they_begin(
        sqlite_db: Database) -> None:
    other = Database(sqlite_db.url, busy_timeout_ms=50)
    try:
        with sqlite_db.transaction() as session:
            session.connection()  # BEGIN IMMEDIATE, before any statement
            with pytest.raises(OperationalError, match="locked"), other.transaction() as s2:
                s2.connection()
            # A read transaction is not held up by the writer (WAL).
            with other.transaction(write=False) as reader:
                assert reader.scalars(select(Clinic)).all() == []
    finally:
        other.dispose()
        sqlite_db.dispose()


def test_sqlite_planner_statistics_are_refreshed_for_every_table(sqlite_db: Database) -> None:
    with sqlite_db.transaction() as session:
        session.add(Clinic(name="Stats", created_at=datetime(2025, 6, 2)))
    sqlite_db.refresh_statistics()
    with sqlite_db.engine.connect() as connection:
        analysed = set(connection.exec_driver_sql("SELECT tbl FROM sqlite_stat1").scalars())
    assert "clinics" in analysed
    sqlite_db.dispose()


@pytest.mark.parametrize("round_", [1, 2])
def test_each_test_starts_from_the_same_rows(db: Database, round_: int) -> None:
    # Whichever round runs second would see the first one's clinic if isolation failed.
    with db.transaction() as session:
        session.add(Clinic(name="Isolation", created_at=datetime(2025, 6, 2)))
    with db.transaction(write=False) as session:
        assert [c.name for c in session.scalars(select(Clinic))] == ["Isolation"]

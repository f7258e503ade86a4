"""16 concurrent writers on one SQLite file through the services: every transaction succeeds
("database is locked" never reaches a user), nothing is lost, the audit chain stays whole.

Each writer has a `Database` of its own, as separate worker processes would, so the writers
meet SQLite's own locking (BEGIN IMMEDIATE and the busy timeout), not only the in-process
queue. Short run: 16 × 60 transactions; `make faults`: 16 × 500.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import func, select

from faults.harness import LONG
from lowdose.security.audit import verify_chain
from lowdose.services import checkins
from lowdose.services.checkins import CheckinInput
from lowdose.store import Database
from lowdose.store.models import AuditEvent, Checkin, CheckinVersion
from persistence.conftest import (  # noqa: F401  (fixtures used by name)
    Cast,
    CastIds,
    cast,
    isolated_database,
    templates,
)

WRITERS = 16
TRANSACTIONS = 500 if LONG else 60
FIRST_DAY = date(2000, 1, 1)
# Past every day the writers use (the cast's own check-ins, if any, are recent).
LAST_DAY = FIRST_DAY + timedelta(days=WRITERS * TRANSACTIONS)


@pytest.fixture
def backend() -> str:
    return "sqlite"


def write(url: str, cast: Cast, writer: int, errors: list[BaseException]) -> None:  # noqa: F811
    persona = "patient" if writer % 2 == 0 else "second_patient"
    patient_id = cast.ids.alice if writer % 2 == 0 else cast.ids.bob
    database = Database(url)
    try:
        for n in range(TRANSACTIONS):
            # Writers of one patient take turns over the days, so every write is a new date.
            day = FIRST_DAY + timedelta(days=(writer // 2) + n * (WRITERS // 2))
            ctx = cast.ctx(persona, now=datetime.now(UTC))
            checkins.record_checkin(database, ctx, patient_id, CheckinInput(
                date=day, dose_taken=True, dose_mg=1.5, ratings={"pain": n % 11}),
                idempotency_key=f"w{writer}-{n}")
    except BaseException as error:  # every failure is the test's finding
        errors.append(error)
    finally:
        database.dispose()


@pytest.mark.slow
def test_sixteen_writers_never_see_database_is_locked_and_lose_nothing(
        cast: Cast, isolated_database: Callable[[str], tuple[str, object]],  # noqa: F811
) -> None:
    url = str(cast.db.url.render_as_string(hide_password=False))
    errors: list[BaseException] = []
    threads = [threading.Thread(target=write, args=(url, cast, w, errors))
               for w in range(WRITERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=1800)
    assert not errors, [repr(e) for e in errors[:3]]
    with cast.db.transaction(write=False) as session:
        since = session.scalar(select(func.count()).select_from(Checkin)
                               .where(Checkin.date < LAST_DAY))
        versions = session.scalar(select(func.count()).select_from(CheckinVersion)
                                  .join(Checkin).where(Checkin.date < LAST_DAY))
        recorded = session.scalar(select(func.count()).select_from(AuditEvent)
                                  .where(AuditEvent.action == "checkin.record"))
        chain = verify_chain(session)
    assert since == versions == WRITERS * TRANSACTIONS
    assert recorded is not None and recorded >= WRITERS * TRANSACTIONS
    assert chain.ok, chain

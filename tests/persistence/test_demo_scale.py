"""The clinic-scale generator (`lowdose demo --patients N --days D`), SQLite and PostgreSQL:
bulk-written patients read back through the ordinary use cases exactly like the rest, the panel
has a line for each and finds the situations the generator planted, and the database carries on
normally afterwards (ids, audit chain)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, time

from sqlalchemy import func, select

from lowdose.security import audit
from lowdose.security.policy import Actor, Role
from lowdose.services import checkins, outcomes, panel
from lowdose.services.checkins import CheckinInput
from lowdose.services.context import Context
from lowdose.services.demo import LOGIN_PATIENTS, create_demo_clinic
from lowdose.store import Database
from lowdose.store.models import Checkin, CheckinVersion, PanelStatus, Patient, User

NOW = datetime(2025, 6, 2, 9, 0, tzinfo=UTC)
PATIENTS, DAYS = LOGIN_PATIENTS + 176, 60


def _clinician(db: Database) -> Context:
    with db.transaction() as session:
        user = session.scalars(select(User).where(User.username == "demo-clinician-01")).one()
        return Context(Actor(user.id, Role.CLINICIAN, user.clinic_id), NOW, "test")


def test_a_bulk_clinic_reads_back_like_any_other(db: Database) -> None:
    made = create_demo_clinic(db, now=NOW, seed=9, patients_count=PATIENTS, days=DAYS)
    assert sum(a.role == "patient" for a in made.accounts) == LOGIN_PATIENTS
    with db.transaction() as session:
        assert session.scalar(select(func.count()).select_from(Patient)) == PATIENTS
        assert session.scalar(select(func.count()).select_from(PanelStatus)) == PATIENTS
        assert (session.scalar(select(func.count()).select_from(Checkin))
                == session.scalar(select(func.count()).select_from(CheckinVersion)))
        bulk_id = session.scalar(select(func.max(Patient.id)))
        assert bulk_id is not None
        synthetic = session.scalars(select(Patient.synthetic)).all()
    assert all(synthetic)
    clinician = _clinician(db)
    diary = checkins.list_checkins(db, clinician, bulk_id)
    assert 0.75 * DAYS < len(diary) <= DAYS and diary[-1].date <= NOW.date()
    taken = [c for c in diary if c.dose_taken]
    assert taken and all(c.dose_time == time(22, 0) and 0.5 <= (c.dose_mg or 0) <= 4.5
                         for c in taken)
    assert set(diary[0].ratings) == {"pain", "fatigue", "sleep"}
    assert isinstance(diary[0].date, date)
    outcomes.patient_flags(db, clinician, bulk_id)  # the core reads the rows without error

    page = panel.clinic_panel(db, clinician, limit=50)
    assert page.total == PATIENTS
    groups = [r.group for r in page.rows]
    assert groups == sorted(groups, key=panel.GROUPS.index)
    assert groups[0] in ("red-flag", "side-effects")

    # Afterwards the database carries on: new ids, a sound audit chain.
    with db.transaction() as session:
        highest = session.scalar(select(func.max(Checkin.id)))
    first_patient = next(a.patient_id for a in made.accounts if a.patient_id is not None)
    written = checkins.record_checkin(db, clinician, first_patient, CheckinInput(
        date=NOW.date(), dose_taken=True, dose_mg=4.5, dose_time=time(21, 0)))
    assert written.created and highest is not None and written.checkin.id > highest
    with db.transaction() as session:
        assert audit.verify_chain(session).ok


def test_the_same_seed_draws_the_same_bulk_diaries(
        fresh_database: Callable[[str], tuple[str, object]]) -> None:
    drawn = []
    for _ in range(2):
        database = Database(fresh_database("empty")[0])
        try:
            create_demo_clinic(database, now=NOW, seed=4, patients_count=LOGIN_PATIENTS + 3,
                               days=30)
            with database.transaction() as session:
                drawn.append(session.execute(
                    select(Patient.display_name, Checkin.date, Checkin.ratings,
                           Checkin.side_effects, Checkin.dose_mg)
                    .join(Checkin, Checkin.patient_id == Patient.id)
                    .where(Patient.user_id.is_(None)).order_by(Patient.id, Checkin.date)
                ).all())
        finally:
            database.dispose()
    assert drawn[0] and drawn[0] == drawn[1]

"""A synthetic demo clinic (`lowdose demo`, design §3.3): accounts, patients, plans, diaries.

Everything here is invented and labelled so: patients are `synthetic=True` and named
"Synthetic Patient NN". The clinic is built through the ordinary use cases (so the policy and
the audit log see it like any other), except the diaries, which are written in one bulk insert
per patient: thousands of one-row transactions would make the demo slow to start.

Deterministic given `seed`: the same seed gives the same people, passwords and diaries.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any, cast

from sqlalchemy import Table, insert

from lowdose.errors import InputError
from lowdose.security.policy import Actor, PatientAction, Role
from lowdose.services import accounts, careteams, courses, patients, procedures
from lowdose.services._access import patient_access
from lowdose.services.context import Context, operator_context
from lowdose.store.db import Database
from lowdose.store.models import Checkin, CheckinVersion

MAX_PATIENTS = 200
DEFAULT_PATIENTS = 24
CLINICIANS = 3
DIARY_DAYS = 120  # about four months of check-ins per patient
BASELINE_DAYS = 21  # diary kept before LDN starts, so there is something to compare with
# Titration protocols from the knowledge base (knowledge/data), by name.
PROTOCOLS = ("ldnrt-autoimmune", "dartmouth-weekly")
# Illustrative diary content, not clinical facts: the §3.4 example measures and side effects
# people commonly mention when starting LDN.
EARLY_SIDE_EFFECTS = ("vivid dreams", "trouble sleeping", "headache", "nausea")
SIDE_EFFECT_WEEKS = 3


@dataclass(frozen=True)
class DemoAccount:
    username: str
    password: str
    role: str
    patient_id: int | None

    def to_dict(self) -> dict[str, object]:
        return {"username": self.username, "password": self.password, "role": self.role,
                "patient_id": self.patient_id}


@dataclass(frozen=True)
class DemoClinic:
    clinic_id: int
    accounts: tuple[DemoAccount, ...]

    def to_dict(self, database: str) -> dict[str, object]:
        return {"database": database, "accounts": [a.to_dict() for a in self.accounts]}


def create_demo_clinic(db: Database, *, now: datetime, seed: int, patients_count: int =
                       DEFAULT_PATIENTS, clinic_name: str = "Synthetic Demo Clinic",
                       source: str = "cli") -> DemoClinic:
    """Build the demo clinic in `db` (migrated, without a clinic of that name)."""
    if not 1 <= patients_count <= MAX_PATIENTS:
        raise InputError("patients", f"must be between 1 and {MAX_PATIENTS}")
    # Reproducible by design; unguessable passwords come from an unguessable seed (the CLI
    # draws 128 bits from `secrets` unless told a seed).
    rng = random.Random(seed)  # noqa: S311
    operator = operator_context(now, source)
    clinic = accounts.create_clinic(db, operator, clinic_name)
    admin_account, admin = _user(db, operator, rng, clinic.id, "demo-admin", Role.ADMIN)
    admin_ctx = _as(admin, now, source)
    team = careteams.create_care_team(db, admin_ctx, clinic.id, "Synthetic care team")
    made = [admin_account]
    clinicians = []
    for number in range(1, CLINICIANS + 1):
        account, user = _user(db, operator, rng, clinic.id, f"demo-clinician-{number:02d}",
                              Role.CLINICIAN)
        careteams.add_member(db, admin_ctx, team.id, user.id)
        made.append(account)
        clinicians.append(_as(user, now, source))
    for number in range(1, patients_count + 1):
        prescriber = clinicians[(number - 1) % CLINICIANS]
        made.append(_patient(db, admin_ctx, prescriber, rng, clinic.id, team.id, number))
    return DemoClinic(clinic.id, tuple(made))


def _user(db: Database, ctx: Context, rng: random.Random, clinic_id: int, username: str,
          role: str) -> tuple[DemoAccount, accounts.UserView]:
    password = "demo-" + "".join(rng.choices("abcdefghjkmnpqrstuvwxyz23456789", k=16))
    user = accounts.create_user(db, ctx, clinic_id=clinic_id, username=username,
                                password=password, role=role,
                                display_name=username.replace("-", " ").title())
    return DemoAccount(user.username, password, str(role), None), user


def _as(user: accounts.UserView, now: datetime, source: str) -> Context:
    return Context(Actor(user.id, Role(user.role), user.clinic_id), now, source)


def _patient(db: Database, admin: Context, prescriber: Context, rng: random.Random,
             clinic_id: int, team_id: int, number: int) -> DemoAccount:
    today = admin.now.date()
    operator = operator_context(admin.now, admin.source or "cli")
    account, user = _user(db, operator, rng, clinic_id, f"demo-patient-{number:02d}",
                          Role.PATIENT)
    age_days = rng.randint(25, 75) * 365 + rng.randint(0, 364)
    record = patients.create_patient(
        db, admin, clinic_id=clinic_id, display_name=f"Synthetic Patient {number:02d}",
        user_id=user.id, birth_date=today - timedelta(days=age_days),
        sex=rng.choice(("female", "female", "male")), weight_kg=float(rng.randint(50, 110)),
        synthetic=True)
    careteams.assign_patient(db, admin, team_id, record.id)
    started = today - timedelta(days=DIARY_DAYS - BASELINE_DAYS)
    request = courses.PlanRequest(from_date=started, protocol=PROTOCOLS[number % len(PROTOCOLS)])
    course = courses.start_course(db, prescriber, record.id, started_on=started,
                                  indication="synthetic demo course", first_plan=request)
    plan = courses.plan_versions(db, prescriber, record.id, course.id)[-1]
    if number == 1:
        # One planned operation, so the demo shows the perioperative guidance.
        surgery = datetime.combine(today + timedelta(days=10), time(8, 0))
        procedures.add_procedure(db, prescriber, record.id, name="Knee arthroscopy (synthetic)",
                                 at=surgery, opioids_expected=True)
    patient_ctx = _as(user, admin.now, admin.source or "cli")
    _write_diary(db, patient_ctx, record.id, plan, started, rng)
    return DemoAccount(account.username, account.password, str(Role.PATIENT), record.id)


def _write_diary(db: Database, ctx: Context, patient_id: int,
                 plan: courses.PlanVersionView, started: date, rng: random.Random) -> None:
    today = ctx.now.date()
    days = [today - timedelta(days=n) for n in range(DIARY_DAYS, 0, -1)]
    # A modest improvement after the start, different for each patient, with daily noise.
    gain = rng.uniform(0.5, 2.5)
    base = {"pain": rng.randint(5, 8), "fatigue": rng.randint(5, 8), "sleep": rng.randint(3, 6)}
    rows = [_day(day, started, plan, base, gain, rng) for day in days
            if rng.random() < 0.9]  # people miss a day now and then
    with patient_access(db, ctx, patient_id, PatientAction.RECORD_CHECKIN, "checkin.record",
                        write=True) as access:
        stamp = {"created_at": ctx.at, "updated_at": ctx.at, "version": 1,
                 "patient_id": patient_id}
        ids = access.session.execute(
            insert(cast(Table, Checkin.__table__)).returning(
                Checkin.__table__.c.id, sort_by_parameter_order=True),
            [{**row, **stamp} for row in rows]).scalars().all()
        versions = [{**_without_date(row), "checkin_id": checkin_id, "version": 1,
                     "recorded_at": ctx.at, "recorded_by": ctx.actor.user_id}
                    for row, checkin_id in zip(rows, ids, strict=True)]
        access.session.execute(insert(cast(Table, CheckinVersion.__table__)), versions)
        access.point_at("demo-diary", len(rows))


def _without_date(row: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in row.items() if key != "date"}


def _day(day: date, started: date, plan: courses.PlanVersionView, base: dict[str, int],
         gain: float, rng: random.Random) -> dict[str, Any]:
    weeks_on = max(0.0, (day - started).days / 7)
    # The effect builds up over about six weeks, then holds.
    effect = gain * min(1.0, weeks_on / 6)
    ratings = {
        "pain": _rating(base["pain"] - effect, rng),
        "fatigue": _rating(base["fatigue"] - effect, rng),
        "sleep": _rating(base["sleep"] + effect / 2, rng),
    }
    step = plan.step_on(day)
    effects = []
    if step is not None and weeks_on < SIDE_EFFECT_WEEKS and rng.random() < 0.4:
        effects.append({"name": rng.choice(EARLY_SIDE_EFFECTS), "severity": rng.randint(1, 2)})
    taken = step is not None and rng.random() < 0.95
    return {"date": day, "dose_taken": taken if step is not None else None,
            "dose_mg": float(step["dose_mg"]) if taken and step is not None else None,
            "dose_time": time(22, 0) if taken else None, "ratings": ratings,
            "side_effects": effects, "note": None}


def _rating(value: float, rng: random.Random) -> int:
    return max(0, min(10, round(value + rng.gauss(0, 0.8))))

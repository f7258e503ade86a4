"""A synthetic demo clinic (`lowdose demo`, design §3.3): accounts, patients, plans, diaries.

Everything here is invented and labelled so: patients are `synthetic=True` and named
"Synthetic Patient NN". The clinic is built through the ordinary use cases (so the policy and
the audit log see it like any other), except the diaries, which are written in one bulk insert
per patient: thousands of one-row transactions would make the demo slow to start.

Deterministic given `seed`: the same seed gives the same people, passwords and diaries.

At clinic scale (`lowdose demo --patients 10000 --days 365`) only the first patients get
logins (a password hash costs tens of milliseconds); the rest are written in bulk, a few
hundred patients per transaction, with courses, plans, diaries, the clinician panel's status
lines and one audit event each. Some bulk patients are given the situations a panel must
surface: a red flag, a side effect that persists after a step up, missed doses, a step not
taken, check-ins that stopped, an operation coming up.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any, cast

import numpy as np
import numpy.typing as npt
from sqlalchemy import Table, func, insert, select

from lowdose.core.titration import plan as titration_plan
from lowdose.errors import InputError
from lowdose.knowledge.regimens import load_titration_facts
from lowdose.security import audit
from lowdose.security.policy import Actor, PatientAction, Role
from lowdose.services import accounts, careteams, courses, patients, procedures
from lowdose.services._access import patient_access
from lowdose.services._panel_status import refresh_status, status_values
from lowdose.services.context import Context, operator_context
from lowdose.store.db import Database
from lowdose.store.models import (
    CareTeamPatient,
    Checkin,
    CheckinVersion,
    LdnCourse,
    PanelStatus,
    Patient,
    PlanVersion,
    Procedure,
)

MAX_PATIENTS = 100_000
DEFAULT_PATIENTS = 24
LOGIN_PATIENTS = 24  # patients beyond these are written in bulk, without a login
CLINICIANS = 3
DIARY_DAYS = 120  # about four months of check-ins per patient
MIN_DAYS, MAX_DAYS = 28, 3650
BULK_CHUNK = 250  # patients per transaction when writing in bulk
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
                       source: str = "cli", days: int = DIARY_DAYS) -> DemoClinic:
    """Build the demo clinic in `db` (migrated, without a clinic of that name): accounts,
    patients and `days` days of diary each (the last `days` − 21 on LDN)."""
    if not 1 <= patients_count <= MAX_PATIENTS:
        raise InputError("patients", f"must be between 1 and {MAX_PATIENTS}")
    if not MIN_DAYS <= days <= MAX_DAYS:
        raise InputError("days", f"must be between {MIN_DAYS} and {MAX_DAYS}")
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
    for number in range(1, min(patients_count, LOGIN_PATIENTS) + 1):
        prescriber = clinicians[(number - 1) % CLINICIANS]
        made.append(_patient(db, admin_ctx, prescriber, rng, clinic.id, team.id, number,
                             days))
    if patients_count > LOGIN_PATIENTS:
        bulk = _Bulk(db, operator, rng, clinic.id, team.id,
                     [c.actor.user_id for c in clinicians], days)
        for first in range(LOGIN_PATIENTS + 1, patients_count + 1, BULK_CHUNK):
            bulk.write(range(first, min(first + BULK_CHUNK, patients_count + 1)))
        if db.engine.dialect.name == "postgresql":
            # Fresh planner statistics after millions of rows, so the panel's plan is sane.
            with db.engine.connect() as connection:
                connection.exec_driver_sql("ANALYZE")
                connection.commit()
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
             clinic_id: int, team_id: int, number: int, days: int) -> DemoAccount:
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
    started = today - timedelta(days=days - BASELINE_DAYS)
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
    _write_diary(db, patient_ctx, record.id, plan, started, rng, days)
    return DemoAccount(account.username, account.password, str(Role.PATIENT), record.id)


def _write_diary(db: Database, ctx: Context, patient_id: int,
                 plan: courses.PlanVersionView, started: date, rng: random.Random,
                 length: int) -> None:
    today = ctx.now.date()
    days = [today - timedelta(days=n) for n in range(length, 0, -1)]
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
        refresh_status(access.session, patient_id=patient_id,
                       clinic_id=access.patient.clinic_id, today=today, at=ctx.at)


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


# ------------------------------------------------------------------------ clinic scale

# Share of bulk patients in each situation the panel must surface (illustrative, not
# epidemiology): enough of each to fill several panel pages at 10,000 patients.
SITUATIONS = (("red-flag", 0.01), ("persisting", 0.04), ("missed", 0.03), ("below-step", 0.03),
              ("silent", 0.08), ("surgery", 0.01))
RED_FLAG_EFFECTS = ("jaundice", "hives", "yellow eyes")
_CHECKIN_COLUMNS = ("id", "patient_id", "date", "version", "dose_taken", "dose_mg", "dose_time",
                    "ratings", "side_effects", "note", "created_at", "updated_at")
_VERSION_COLUMNS = ("checkin_id", "version", "dose_taken", "dose_mg", "dose_time", "ratings",
                    "side_effects", "note", "recorded_at", "recorded_by")


class _Bulk:
    """Writes patients in chunks: one transaction per chunk. Diaries, the bulk of the rows,
    are drawn with numpy and written through the driver (executemany on SQLite, COPY on
    PostgreSQL) in the stored formats SQLAlchemy reads back."""

    def __init__(self, db: Database, ctx: Context, rng: random.Random, clinic_id: int,
                 team_id: int, clinicians: list[int | None], days: int) -> None:
        self.db, self.ctx, self.rng = db, ctx, rng
        self.clinic_id, self.team_id, self.clinicians, self.days = (clinic_id, team_id,
                                                                    clinicians, days)
        self.today = ctx.now.date()
        self.started = self.today - timedelta(days=days - BASELINE_DAYS)
        facts = load_titration_facts()
        self.dates = [self.today - timedelta(days=n) for n in range(days - 1, -1, -1)]
        offsets = np.array([(d - self.started).days for d in self.dates], dtype=float)
        # The effect builds up over about six weeks, then holds (as in `_day`).
        self.build_up = np.clip(offsets / 7 / 6, 0.0, 1.0)
        self.early = (offsets >= 0) & (offsets < 7 * SIDE_EFFECT_WEEKS)
        self.plans = []
        for protocol in PROTOCOLS:
            request = courses.PlanRequest(from_date=self.started, protocol=protocol)
            computed = titration_plan(from_date=self.started, facts=facts, protocol=protocol)
            view = courses.PlanVersionView(0, 1, request, computed.to_dict(), None, ctx.at, None)
            doses = np.array([float(step["dose_mg"]) if (step := view.step_on(d)) else np.nan
                              for d in self.dates])
            self.plans.append((request.to_dict(), computed.to_dict(), doses))

    def write(self, numbers: range) -> None:
        at, today = self.ctx.at, self.today
        draw = np.random.default_rng(self.rng.getrandbits(64))
        with self.db.transaction() as session:
            people = [self._person(n) for n in numbers]
            ids = list(session.execute(insert(_table(Patient)).returning(
                _table(Patient).c.id, sort_by_parameter_order=True), people).scalars())
            session.execute(insert(_table(CareTeamPatient)), [
                {"care_team_id": self.team_id, "patient_id": pid, "added_at": at}
                for pid in ids])
            made = [{"patient_id": pid, "started_on": self.started, "ended_on": None,
                     "indication": "synthetic demo course", "created_at": at,
                     "created_by": self.clinicians[pid % len(self.clinicians)]} for pid in ids]
            course_ids = list(session.execute(insert(_table(LdnCourse)).returning(
                _table(LdnCourse).c.id, sort_by_parameter_order=True), made).scalars())
            which = [n % len(PROTOCOLS) for n in numbers]
            session.execute(insert(_table(PlanVersion)), [
                {"course_id": course_id, "version": 1, "parameters": self.plans[w][0],
                 "plan": self.plans[w][1], "reason": "first plan", "created_at": at,
                 "created_by": course["created_by"]}
                for course_id, w, course in zip(course_ids, which, made, strict=True)])
            situations = {pid: self._situation() for pid in ids}
            diaries = [(pid, self._diary(draw, self.plans[w][2], situations[pid]))
                       for pid, w in zip(ids, which, strict=True)]
            _DriverWriter(session).diaries(diaries, at)
            surgeries = [pid for pid in ids if situations[pid] == "surgery"]
            if surgeries:
                session.execute(insert(_table(Procedure)), [
                    {"patient_id": pid, "name": "Synthetic operation",
                     "at": datetime.combine(today + timedelta(days=self.rng.randint(3, 12)),
                                            time(8, 0)),
                     "opioids_expected": True, "cancelled_at": None, "created_at": at,
                     "created_by": self.clinicians[0]} for pid in surgeries])
            session.execute(insert(_table(PanelStatus)), [
                status_values(session, patient_id=pid, clinic_id=self.clinic_id,
                              today=today, at=at) for pid in ids])
            audit.append_each(session, at=at, actor_user_id=None, action="demo.generate",
                              patient_ids=ids, source=self.ctx.source)

    def _person(self, number: int) -> dict[str, Any]:
        rng = self.rng
        age_days = rng.randint(25, 75) * 365 + rng.randint(0, 364)
        return {"clinic_id": self.clinic_id, "user_id": None,
                "display_name": f"Synthetic Patient {number:05d}",
                "birth_date": self.today - timedelta(days=age_days),
                "sex": rng.choice(("female", "female", "male")),
                "weight_kg": float(rng.randint(50, 110)), "pregnant": None,
                "breastfeeding": None, "synthetic": True, "created_at": self.ctx.at,
                "updated_at": self.ctx.at}

    def _situation(self) -> str:
        chance, total = self.rng.random(), 0.0
        for name, share in SITUATIONS:
            total += share
            if chance < total:
                return name
        return "ordinary"

    def _diary(self, draw: np.random.Generator, planned: npt.NDArray[np.float64],
               situation: str) -> list[tuple[Any, ...]]:
        """(day, taken, dose, time, ratings JSON, side effects JSON) for each recorded day."""
        n = len(self.dates)
        back = np.arange(n - 1, -1, -1)  # days before today
        effect = draw.uniform(0.5, 2.5) * self.build_up
        noise = draw.normal(0.0, 0.8, size=(3, n))
        pain = np.clip(np.rint(draw.integers(5, 9) - effect + noise[0]), 0, 10).astype(int)
        fatigue = np.clip(np.rint(draw.integers(5, 9) - effect + noise[1]), 0, 10).astype(int)
        sleep = np.clip(np.rint(draw.integers(3, 7) + effect / 2 + noise[2]), 0, 10).astype(int)
        recorded = draw.random(n) < 0.9  # people miss a day now and then
        if situation == "silent":
            recorded &= back >= draw.integers(4, 31)
        on_plan = ~np.isnan(planned)
        taken = on_plan & (draw.random(n) < 0.95)
        dose = planned.copy()
        target = float(np.nanmax(planned))
        lower = float(max((d for d in set(planned[on_plan].tolist()) if d < target),
                          default=target))
        if situation == "below-step":
            dose = np.minimum(dose, lower)  # never took the last step
        elif situation == "persisting":
            # Stepped up to the target 25 days ago; a headache since, and not settling.
            dose = np.where(back < 25, target, np.where(back < 60, lower, dose))
        elif situation == "missed":
            taken &= back >= 5
        effects = np.full(n, "[]", dtype=object)
        early = self.early & (draw.random(n) < 0.4)
        names = draw.integers(0, len(EARLY_SIDE_EFFECTS), size=n)
        severities = draw.integers(1, 3, size=n)
        for i in np.flatnonzero(early):
            effects[i] = _effects(EARLY_SIDE_EFFECTS[names[i]], int(severities[i]))
        if situation == "persisting":
            effects[back < 22] = _effects("headache", 2)
        elif situation == "red-flag":
            effects[back < 3] = _effects(RED_FLAG_EFFECTS[int(draw.integers(0, 3))], 2)
        rows = []
        for i in np.flatnonzero(recorded):
            took = bool(taken[i])
            rows.append((self.dates[i], took if on_plan[i] else None,
                         float(dose[i]) if took else None, _BEDTIME if took else None,
                         f'{{"pain": {pain[i]}, "fatigue": {fatigue[i]}, "sleep": {sleep[i]}}}',
                         effects[i]))
        return rows


_BEDTIME = time(22, 0)


def _effects(name: str, severity: int) -> str:
    return json.dumps([{"name": name, "severity": severity}])


class _DriverWriter:
    """Diary rows straight through the database driver, inside the session's transaction."""

    def __init__(self, session: Any) -> None:
        connection = session.connection()
        self.dialect = connection.dialect.name
        self.connection = connection
        self.raw = connection.connection.driver_connection

    def diaries(self, diaries: list[tuple[int, list[tuple[Any, ...]]]], at: datetime) -> None:
        first = (self.connection.execute(select(func.max(_table(Checkin).c.id))).scalar()
                 or 0) + 1
        checkins, versions = [], []
        next_id = first
        for patient_id, rows in diaries:
            for day, taken, dose, moment, ratings, effects in rows:
                checkins.append((next_id, patient_id, day, 1, taken, dose, moment, ratings,
                                 effects, None, at, at))
                versions.append((next_id, 1, taken, dose, moment, ratings, effects, None, at,
                                 None))
                next_id += 1
        if self.dialect == "postgresql":
            self._copy("checkins", _CHECKIN_COLUMNS, checkins)
            self._copy("checkin_versions", _VERSION_COLUMNS, versions)
            self.connection.exec_driver_sql(
                "SELECT setval(pg_get_serial_sequence('checkins', 'id'), "
                "(SELECT max(id) FROM checkins))")
        else:
            self._many("checkins", _CHECKIN_COLUMNS, [_sqlite(r) for r in checkins])
            self._many("checkin_versions", _VERSION_COLUMNS, [_sqlite(r) for r in versions])

    def _copy(self, table: str, columns: tuple[str, ...], rows: list[tuple[Any, ...]]) -> None:
        with self.raw.cursor() as cursor, cursor.copy(
                f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)

    def _many(self, table: str, columns: tuple[str, ...], rows: list[tuple[Any, ...]]) -> None:
        marks = ", ".join("?" for _ in columns)
        # Table and column names are this module's constants, never input.
        statement = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})"  # noqa: S608
        self.raw.executemany(statement, rows)


def _sqlite(row: tuple[Any, ...]) -> tuple[Any, ...]:
    """Values as SQLAlchemy stores them in SQLite: ISO text, microseconds always shown."""
    return tuple(_sqlite_value(v) for v in row)


def _sqlite_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S.%f")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, time):
        return value.strftime("%H:%M:%S.%f")
    if isinstance(value, bool):
        return int(value)
    return value


def _table(model: type[Any]) -> Table:
    return cast(Table, model.__table__)

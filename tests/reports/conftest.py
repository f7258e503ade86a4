"""A patient with a history worth reporting: a baseline, an LDN course stepped up weekly, a
diary with ratings, side effects, missed doses and notes, a recent opioid and a planned
operation. Built through the ordinary use cases on the persistence tests' cast (SQLite and
PostgreSQL)."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from api.test_records import server  # noqa: F401  (the HTTP server fixture, used by name)
from lowdose.core.diary import SideEffect
from lowdose.services import checkins, courses, medicines, procedures
from lowdose.services.checkins import CheckinInput
from lowdose.services.courses import PlanRequest
from persistence.conftest import (  # noqa: F401  (fixtures used by name)
    NOW,
    PASSWORD,
    Cast,
    backend,
    cast,
    isolated_database,
    templates,
)

LDN_START = date(2025, 2, 1)
FIRST_DAY = date(2025, 1, 1)
LAST_DAY = date(2025, 6, 1)
# Patient text that reportlab would read as markup if it were not escaped.
MARKUP_NOTE = '<font size="40">BIG</font> <a href="https://evil.example">click</a> & <b>x</b>'


@dataclass(frozen=True)
class History:
    patient_id: int
    days: int


def diary_day(day: date, rng: random.Random) -> CheckinInput:
    """One synthetic day: improvement after the onset period, early side effects, a missed
    dose now and then."""
    on_ldn = day >= LDN_START
    weeks = max(0.0, (day - LDN_START).days / 7)
    gain = 2.5 * min(1.0, weeks / 6) if on_ldn else 0.0
    dose = min(4.5, 1.5 * (1 + (day - LDN_START).days // 7)) if on_ldn else None
    taken = on_ldn and rng.random() > 0.1
    effects = ()
    if on_ldn and weeks < 3 and rng.random() < 0.5:
        effects = (SideEffect(rng.choice(("vivid dreams", "headache")), rng.randint(1, 2)),)
    return CheckinInput(
        date=day, dose_taken=taken if on_ldn else None, dose_mg=dose if taken else None,
        dose_time=time(22, 0) if taken else None,
        ratings={"pain": _clamp(7 - gain + rng.gauss(0, 0.8)),
                 "fatigue": _clamp(6 - gain + rng.gauss(0, 0.8)),
                 "sleep": _clamp(4 + gain / 2 + rng.gauss(0, 0.8))},
        side_effects=effects)


def _clamp(value: float) -> int:
    return max(0, min(10, round(value)))


def build_history(people: Cast, patient_id: int | None = None, *, seed: int = 7) -> History:
    patient = people.ids.alice if patient_id is None else patient_id
    clinician, rng = people.ctx("clinician"), random.Random(seed)
    courses.start_course(people.db, clinician, patient, started_on=LDN_START,
                         indication="fibromyalgia",
                         first_plan=PlanRequest(from_date=LDN_START, start_mg=1.5, step_mg=1.5,
                                                every_days=7, target_mg=4.5))
    medicines.add_medicine(people.db, clinician, patient, text="Norco 5/325 mg as needed",
                           stopped_on=date(2025, 5, 28), last_taken=date(2025, 5, 28))
    procedures.add_procedure(people.db, clinician, patient, name="Knee arthroscopy",
                             at=datetime(2025, 6, 12, 8, 0), opioids_expected=True)
    days = (LAST_DAY - FIRST_DAY).days + 1
    for n in range(days):
        entry = diary_day(FIRST_DAY + timedelta(days=n), rng)
        if n == days - 3:
            entry = CheckinInput(**{**entry.__dict__, "note": MARKUP_NOTE})
        checkins.record_checkin(people.db, people.ctx("patient"), patient, entry)
    return History(patient, days)


__all__ = ["NOW", "PASSWORD", "History", "build_history"]

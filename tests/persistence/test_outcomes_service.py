"""The stored diary answers "is it working?" with the same numbers as `lowdose analyze` on the
same data, and raises the monitoring flags a clinician must see."""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest

from lowdose.core.diary import SideEffect
from lowdose.errors import InputError
from lowdose.services import checkins, courses, outcomes
from lowdose.services.checkins import CheckinInput
from lowdose.services.errors import Forbidden, NotFound

from .conftest import Cast

START = date(2025, 3, 1)


def _diary(seed: int = 7) -> list[CheckinInput]:
    """30 days before LDN and 60 on it; pain falls by about two points after the start."""
    rng = random.Random(seed)
    entries = []
    for offset in range(-30, 60):
        day = START + timedelta(days=offset)
        pain = 7 if offset < 0 else 5
        entries.append(CheckinInput(
            date=day, dose_taken=offset >= 0 or None,
            dose_mg=1.5 if offset >= 0 else None,
            ratings={"pain": min(10, max(0, pain + rng.choice((-1, 0, 0, 1)))),
                     "sleep": 6 + rng.choice((-1, 0, 1))}))
    return entries


def _store(cast: Cast, entries: list[CheckinInput]) -> None:
    for entry in entries:
        checkins.record_checkin(cast.db, cast.ctx("patient"), cast.ids.alice, entry)


def test_stored_diary_gives_the_same_numbers_as_lowdose_analyze(
        cast: Cast, lowdose: Callable[..., Any], tmp_path: Path) -> None:
    entries = _diary()
    _store(cast, entries)
    courses.start_course(cast.db, cast.ctx("clinician"), cast.ids.alice, started_on=START)

    stored = outcomes.analyze_patient(cast.db, cast.ctx("clinician"), cast.ids.alice).to_dict()

    csv = tmp_path / "diary.csv"
    csv.write_text("date,measure,value\n" + "".join(
        f"{e.date.isoformat()},{measure},{value}\n"
        for e in entries for measure, value in sorted(e.ratings.items())))
    run = lowdose("analyze", str(csv), "--start", START.isoformat(), "--json")
    assert run.code == 0, run.stderr
    assert json.loads(run.stdout) == json.loads(json.dumps(stored))
    pain = next(m for m in stored["measures"] if m["measure"] == "pain")
    assert pain["effect"]["estimate"] < 0  # pain went down


def test_start_defaults_to_the_course_and_is_required_without_one(cast: Cast) -> None:
    _store(cast, _diary()[:5])
    with pytest.raises(InputError) as refused:
        outcomes.analyze_patient(cast.db, cast.ctx("clinician"), cast.ids.alice)
    assert refused.value.field == "start"


def test_a_red_flag_in_the_diary_is_an_urgent_flag(cast: Cast) -> None:
    today = cast.ctx("clinician").now.date()
    _store(cast, [CheckinInput(date=today - timedelta(days=1), dose_taken=True, dose_mg=1.5,
                               side_effects=(SideEffect("dark urine", 2),))])
    flags = outcomes.patient_flags(cast.db, cast.ctx("clinician"), cast.ids.alice)
    assert flags and flags[0].level == "urgent"
    assert flags[0].code == "red-flag-hepatitis"


@pytest.mark.parametrize("persona", ["second_patient", "other_clinician", "outsider"])
def test_others_cannot_read_a_patients_outcomes_or_flags(cast: Cast, persona: str) -> None:
    _store(cast, _diary()[:3])
    for call in (lambda: outcomes.analyze_patient(cast.db, cast.ctx(persona), cast.ids.alice,
                                                  start=START),
                 lambda: outcomes.patient_flags(cast.db, cast.ctx(persona), cast.ids.alice)):
        with pytest.raises((Forbidden, NotFound)):
            call()

"""Adaptive titration on the stored course: the diary proposes, a clinician approves."""

from __future__ import annotations

from datetime import time, timedelta

import pytest

from lowdose.core.diary import SideEffect
from lowdose.services import checkins, courses
from lowdose.services.checkins import CheckinInput
from lowdose.services.courses import PlanRequest
from lowdose.services.errors import Forbidden, NotFound

from .conftest import Cast


def _course_with_plan(cast: Cast) -> int:
    today = cast.ctx("clinician").now.date()
    start = today - timedelta(days=20)
    return courses.start_course(
        cast.db, cast.ctx("clinician"), cast.ids.alice, started_on=start,
        first_plan=PlanRequest(from_date=start, start_mg=1.5, step_mg=1.5, every_days=14,
                               target_mg=4.5)).id


def _nights(cast: Cast, count: int, effects: tuple[SideEffect, ...] = ()) -> None:
    today = cast.ctx("clinician").now.date()
    for back in range(count, 0, -1):
        checkins.record_checkin(cast.db, cast.ctx("patient"), cast.ids.alice, CheckinInput(
            date=today - timedelta(days=back), dose_taken=True, dose_mg=3.0,
            dose_time=time(22, 0), side_effects=effects))


def test_no_plan_means_no_proposal(cast: Cast) -> None:
    assert courses.propose_next_step(cast.db, cast.ctx("clinician"), cast.ids.alice) is None


def test_sleep_disturbed_for_more_than_a_week_proposes_the_morning(cast: Cast) -> None:
    _course_with_plan(cast)
    _nights(cast, 10, (SideEffect("vivid dreams", 1),))
    decision = courses.propose_next_step(cast.db, cast.ctx("clinician"), cast.ids.alice)
    assert decision is not None and decision.action == "move_to_morning"
    assert "ldnrt-morning-dosing" in decision.sources


def test_a_red_flag_proposes_stopping_and_calling(cast: Cast) -> None:
    _course_with_plan(cast)
    _nights(cast, 3, (SideEffect("jaundice", 2),))
    decision = courses.propose_next_step(cast.db, cast.ctx("patient"), cast.ids.alice)
    assert decision is not None and decision.action == "stop_and_call"


@pytest.mark.parametrize("persona", ["second_patient", "other_clinician", "outsider"])
def test_others_get_no_proposal(cast: Cast, persona: str) -> None:
    _course_with_plan(cast)
    with pytest.raises((Forbidden, NotFound)):
        courses.propose_next_step(cast.db, cast.ctx(persona), cast.ids.alice)

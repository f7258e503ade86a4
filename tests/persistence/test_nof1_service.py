"""Planned n-of-1 comparisons on the record, SQLite and PostgreSQL: a schedule the calendar
can follow day by day, rebuilt exactly from its seed, analysed with run-in days left out."""

from __future__ import annotations

import random
from datetime import time, timedelta

import pytest

from lowdose.core.nof1 import Arm
from lowdose.errors import InputError
from lowdose.services import checkins, courses, nof1
from lowdose.services.checkins import CheckinInput
from lowdose.services.errors import Conflict, Forbidden, NotFound
from lowdose.services.nof1 import ComparisonRequest

from .conftest import NOW, Cast

START = NOW.date() + timedelta(days=1)
BEDTIME, MORNING = time(22, 0), time(8, 0)
DOSES = ComparisonRequest(a=Arm(3.0, BEDTIME), b=Arm(4.5, BEDTIME), starts_on=START)


def _create(cast: Cast, request: ComparisonRequest = DOSES, seed: int = 11,
            persona: str = "clinician") -> nof1.ComparisonView:
    return nof1.create_comparison(cast.db, cast.ctx(persona), cast.ids.alice, request,
                                  seed=seed)


def test_the_schedule_gives_every_day_its_arm_dose_and_time(cast: Cast) -> None:
    made = _create(cast)
    plan = made.schedule
    assert plan.kind == "dose" and len(plan.periods) == 6  # 3 blocks of two 14-day periods
    assert sorted(p.arm for p in plan.periods[:2]) == ["A", "B"]  # each block has both arms
    days = nof1.schedule(cast.db, cast.ctx("patient"), cast.ids.alice)
    assert len(days) == 84 and days[0].date == START and days[-1].date == plan.last
    assert [d.date for d in days] == [START + timedelta(days=n) for n in range(84)]
    for day in days:
        arm = plan.arm_on(day.date)
        assert arm is not None and (day.dose_mg, day.dose_time) == (arm.dose_mg, arm.dose_time)
        assert day.dose_mg == (3.0 if day.arm == "A" else 4.5)


def test_a_stored_comparison_is_rebuilt_exactly_from_its_seed(cast: Cast) -> None:
    made = _create(cast, seed=2024)
    again = nof1.get_comparison(cast.db, cast.ctx("patient"), cast.ids.alice, made.id)
    assert again.schedule == made.schedule
    assert again.to_dict()["periods"] == made.to_dict()["periods"]
    [listed] = nof1.list_comparisons(cast.db, cast.ctx("team_admin"), cast.ids.alice)
    assert listed.id == made.id


def test_a_timing_comparison_moves_only_the_time(cast: Cast) -> None:
    made = _create(cast, ComparisonRequest(a=Arm(4.5, BEDTIME), b=Arm(4.5, MORNING),
                                           starts_on=START, blocks=2, period_days=10,
                                           run_in_days=2))
    assert made.schedule.kind == "timing"
    days = nof1.schedule(cast.db, cast.ctx("clinician"), cast.ids.alice)
    assert {d.dose_mg for d in days} == {4.5} and {d.dose_time for d in days} == {BEDTIME,
                                                                                    MORNING}
    assert len(days) == 40


@pytest.mark.parametrize(("request_", "field"), [
    (ComparisonRequest(a=Arm(3.0, BEDTIME), b=Arm(3.0, BEDTIME), starts_on=START), "b"),
    (ComparisonRequest(a=Arm(3.0, BEDTIME), b=Arm(4.5, MORNING), starts_on=START), "b"),
    (ComparisonRequest(a=Arm(3.0, BEDTIME), b=Arm(4.5, BEDTIME), starts_on=START,
                       period_days=3, run_in_days=3), "period_days"),
    (ComparisonRequest(a=Arm(3.0, BEDTIME), b=Arm(4.5, BEDTIME), starts_on=START,
                       blocks=1), "blocks"),
    # Above the highest dose any plan accepts (12 mg, with a clinician's override).
    (ComparisonRequest(a=Arm(4.5, BEDTIME), b=Arm(50.0, BEDTIME), starts_on=START), "b.dose_mg"),
    # 2 blocks of 4-day periods, 3 of them run-in: as few as 2 analysed days an arm (7 needed).
    (ComparisonRequest(a=Arm(3.0, BEDTIME), b=Arm(4.5, BEDTIME), starts_on=START,
                       blocks=2, period_days=4, run_in_days=3), "period_days"),
    (ComparisonRequest(a=Arm(3.0, BEDTIME), b=Arm(4.5, BEDTIME),
                       starts_on=NOW.date() - timedelta(days=1)), "starts_on"),
])
def test_a_comparison_that_cannot_answer_its_question_is_refused(
        cast: Cast, request_: ComparisonRequest, field: str) -> None:
    with pytest.raises(InputError) as refused:
        _create(cast, request_)
    assert refused.value.field == field
    assert nof1.list_comparisons(cast.db, cast.ctx("clinician"), cast.ids.alice) == []


def test_comparisons_do_not_overlap_until_one_is_cancelled(cast: Cast) -> None:
    first = _create(cast)
    with pytest.raises(Conflict):
        _create(cast, ComparisonRequest(a=Arm(1.5, BEDTIME), b=Arm(3.0, BEDTIME),
                                        starts_on=START + timedelta(days=30)))
    nof1.cancel_comparison(cast.db, cast.ctx("clinician"), cast.ids.alice, first.id)
    assert nof1.schedule(cast.db, cast.ctx("patient"), cast.ids.alice) == []
    second = _create(cast, ComparisonRequest(a=Arm(1.5, BEDTIME), b=Arm(3.0, BEDTIME),
                                             starts_on=START + timedelta(days=30)))
    every = nof1.list_comparisons(cast.db, cast.ctx("patient"), cast.ids.alice)
    assert [(c.id, c.cancelled_at is not None) for c in every] == [(first.id, True),
                                                                   (second.id, False)]


@pytest.mark.parametrize(("persona", "error"), [
    ("patient", Forbidden), ("team_admin", Forbidden), ("admin", Forbidden),
    ("outsider", NotFound), ("other_clinician", NotFound),
])
def test_only_a_care_team_clinician_plans_one(cast: Cast, persona: str,
                                              error: type[Exception]) -> None:
    with pytest.raises(error):
        _create(cast, persona=persona)
    made = _create(cast)
    with pytest.raises(error):
        nof1.cancel_comparison(cast.db, cast.ctx(persona), cast.ids.alice, made.id)


def test_another_patients_comparison_is_not_found_through_this_one(cast: Cast) -> None:
    made = _create(cast)
    with pytest.raises(NotFound):
        nof1.get_comparison(cast.db, cast.ctx("second_patient"), cast.ids.bob, made.id)


def test_the_analysis_finds_the_effect_and_leaves_the_run_in_out(cast: Cast) -> None:
    made = _create(cast)
    plan = made.schedule
    rng = random.Random(5)
    later = cast.ctx("patient", now=NOW + timedelta(days=90))
    for n in range(84):
        day = START + timedelta(days=n)
        period = plan.period_on(day)
        assert period is not None
        if day < period.analysed_from:
            pain = 10  # run-in days: the previous arm washing out, never analysed
        else:
            pain = round((4 if period.arm == "B" else 6) + rng.gauss(0, 0.7))
        arm = plan.arm_on(day)
        assert arm is not None
        checkins.record_checkin(cast.db, later, cast.ids.alice, CheckinInput(
            date=day, dose_taken=True, dose_mg=arm.dose_mg, dose_time=arm.dose_time,
            ratings={"pain": max(0, min(10, pain))}))
    found = nof1.analyze(cast.db, cast.ctx("clinician", now=later.now), cast.ids.alice,
                         made.id)
    [pain] = found.outcomes
    analysed = {arm: sum((p.last - p.analysed_from).days + 1 for p in plan.periods
                         if p.arm == arm) for arm in ("A", "B")}
    assert (pain.n_a, pain.n_b) == (analysed["A"], analysed["B"]) and pain.n_a < 42
    assert pain.effect is not None
    assert pain.effect.low <= -2.0 <= pain.effect.high
    assert abs(pain.effect.estimate + 2.0) < 0.5
    assert found.to_dict()["measures"][0]["status"] == "ok"


def test_too_few_days_is_said_plainly(cast: Cast) -> None:
    made = _create(cast)
    found = nof1.analyze(cast.db, cast.ctx("patient"), cast.ids.alice, made.id)
    assert found.outcomes == ()
    checkins.record_checkin(cast.db, cast.ctx("patient", now=NOW + timedelta(days=3)),
                            cast.ids.alice, CheckinInput(date=START, ratings={"pain": 5}))
    [pain] = nof1.analyze(cast.db, cast.ctx("patient"), cast.ids.alice, made.id).outcomes
    assert pain.status == "insufficient-data" and "needs at least" in pain.reason


def test_schedule_is_empty_without_comparisons(cast: Cast) -> None:
    assert nof1.schedule(cast.db, cast.ctx("patient"), cast.ids.alice) == []


@pytest.mark.parametrize(("days_on_ldn", "refused"), [(10, True), (27, True), (28, False)])
def test_a_comparison_waits_for_the_onset_of_the_running_course(
        cast: Cast, days_on_ldn: int, refused: bool) -> None:
    started = START - timedelta(days=days_on_ldn)
    courses.start_course(cast.db, cast.ctx("clinician"), cast.ids.alice, started_on=started,
                         first_plan=courses.PlanRequest(from_date=started, start_mg=3.0,
                                                        target_mg=3.0))
    if refused:
        with pytest.raises(InputError) as caught:
            _create(cast)
        assert caught.value.field == "starts_on"
        assert (started + timedelta(days=28)).isoformat() in str(caught.value)
    else:
        assert _create(cast).schedule.first == START

"""The pre-operative hold: last dose, can the hold be met, notes, calendar, bad input."""

from __future__ import annotations

import math
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from lowdose.core.perioperative import HoldPlan, plan_hold
from lowdose.errors import InputError
from lowdose.knowledge.regimens import PerioperativeFacts, load_perioperative_facts
from lowdose.schemas.regimens import HoldPlanResponse, PeriopRequest

FACTS = load_perioperative_facts()
SURGERY = datetime(2025, 6, 12, 8, 0)
EARLY = datetime(2025, 6, 2, 9, 0)
BEDTIME = time(22, 0)
MORNING = time(8, 0)


def hold(
    *,
    surgery_at: datetime = SURGERY,
    dose_time: time = BEDTIME,
    hold_hours: float = 72,
    as_of: datetime = EARLY,
    last_taken: datetime | None = None,
    dose_mg: float | None = None,
    facts: PerioperativeFacts = FACTS,
    zone: ZoneInfo | None = None,
) -> HoldPlan:
    return plan_hold(surgery_at=surgery_at, dose_time=dose_time, hold_hours=hold_hours,
                     as_of=as_of, last_taken=last_taken, facts=facts, dose_mg=dose_mg,
                     zone=zone)


NEW_YORK = ZoneInfo("America/New_York")


def test_a_spring_forward_night_inside_the_hold_does_not_shorten_it() -> None:
    # Clocks in New York went forward on 2025-03-09: 07:30 on Friday to 08:00 on Monday is
    # 72.5 hours on the clock face but only 71.5 real hours, less than the 72-hour hold.
    monday = datetime(2025, 3, 10, 8, 0)
    plan = hold(surgery_at=monday, dose_time=time(7, 30), as_of=datetime(2025, 3, 1, 9, 0),
                zone=NEW_YORK)
    assert plan.last_dose_by == datetime(2025, 3, 6, 7, 30)
    took_friday = hold(surgery_at=monday, dose_time=time(7, 30), zone=NEW_YORK,
                       as_of=datetime(2025, 3, 9, 9, 0), last_taken=datetime(2025, 3, 7, 7, 30))
    assert not took_friday.can_meet_hold
    assert "71.5 hours before surgery" in took_friday.surgical_team_note


def test_a_fall_back_night_inside_the_hold_allows_the_dose_that_leaves_72_real_hours() -> None:
    # Clocks went back on 2025-11-02: 08:30 on Saturday to 08:00 on Tuesday is 72.5 real hours.
    plan = hold(surgery_at=datetime(2025, 11, 4, 8, 0), dose_time=time(8, 30),
                as_of=datetime(2025, 10, 20, 9, 0), zone=NEW_YORK)
    assert plan.last_dose_by == datetime(2025, 11, 1, 8, 30)


def test_without_a_zone_the_hold_counts_clock_hours() -> None:
    plan = hold(surgery_at=datetime(2025, 3, 10, 8, 0), dose_time=time(7, 30))
    assert plan.last_dose_by == datetime(2025, 3, 7, 7, 30)


def test_default_hold_is_the_oral_naltrexone_three_days_at_bedtime() -> None:
    # whately-stead-2023: stop oral naltrexone 3 days before surgery; bedtime is the usual dose.
    assert FACTS.default_hold_hours == 72
    assert FACTS.default_dose_time == time(22, 0)
    assert {"whately-stead-2023", "orourke-2021"} <= set(FACTS.hold_sources)


@pytest.mark.parametrize(
    ("dose_time", "hold_hours", "last_dose_by"),
    [
        (BEDTIME, 72, datetime(2025, 6, 8, 22, 0)),  # the contract's example (design §3.2)
        (BEDTIME, 48, datetime(2025, 6, 9, 22, 0)),  # the LDN prescriber's 48 h
        (MORNING, 72, datetime(2025, 6, 9, 8, 0)),  # exactly 72 h before: still allowed
        (MORNING, 48, datetime(2025, 6, 10, 8, 0)),
        (time(7, 30), 72, datetime(2025, 6, 9, 7, 30)),
        (time(8, 30), 72, datetime(2025, 6, 8, 8, 30)),  # 08:30 on the 9th is 30 min short
        (BEDTIME, 96, datetime(2025, 6, 7, 22, 0)),
    ],
)
def test_last_dose_is_the_latest_daily_dose_leaving_the_whole_hold(
    dose_time: time, hold_hours: float, last_dose_by: datetime
) -> None:
    plan = hold(dose_time=dose_time, hold_hours=hold_hours)
    assert plan.last_dose_by == last_dose_by
    assert plan.can_meet_hold


def test_hold_plan_json_matches_the_screening_contract() -> None:
    data = hold(dose_mg=4.5).to_dict()
    assert {k: data[k] for k in ("last_dose_by", "hold_hours", "can_meet_hold")} == {
        "last_dose_by": "2025-06-08T22:00", "hold_hours": 72, "can_meet_hold": True}
    assert data["surgery_at"] == "2025-06-12T08:00"
    assert data["last_taken"] is None
    assert "naltrexone-label" in data["sources"]
    assert str(data["surgical_team_note"]).startswith(
        "The patient takes low-dose naltrexone (LDN, 4.5 mg) once a day at 22:00.")


def test_fractional_hold_hours_stay_fractional_in_json() -> None:
    assert hold(hold_hours=36.5).to_dict()["hold_hours"] == 36.5


@pytest.mark.parametrize(
    ("as_of", "last_taken", "can_meet"),
    [
        (EARLY, None, True),  # days ahead: plenty of time
        (datetime(2025, 6, 8, 22, 0), None, True),  # now is the last allowed dose
        (datetime(2025, 6, 8, 22, 1), None, False),  # a minute too late, last dose unknown
        (datetime(2025, 6, 11, 9, 0), datetime(2025, 6, 10, 22, 0), False),  # took it 34 h before
        (datetime(2025, 6, 11, 9, 0), datetime(2025, 6, 8, 22, 0), True),  # already stopped
        (datetime(2025, 6, 12, 8, 0), datetime(2025, 6, 9, 8, 0), True),  # exactly 72 h, day of
        (datetime(2025, 6, 12, 8, 0), datetime(2025, 6, 9, 8, 1), False),  # 1 min short
    ],
)
def test_hold_can_be_met_by_stopping_in_time_or_having_stopped_already(
    as_of: datetime, last_taken: datetime | None, can_meet: bool
) -> None:
    assert hold(as_of=as_of, last_taken=last_taken).can_meet_hold is can_meet


def test_late_plan_warns_the_team_that_blockade_may_remain() -> None:
    note = hold(as_of=datetime(2025, 6, 11, 9, 0),
                last_taken=datetime(2025, 6, 10, 22, 0)).surgical_team_note
    assert "Last dose taken: 2025-06-10 22:00, 34 hours before surgery" in note
    assert "72-hour hold cannot be met" in note
    for expected in ("blockade", "larger doses", "rapid-acting", "respiratory depression",
                     "regional and non-opioid analgesia"):
        assert expected in note


def test_late_plan_without_a_known_last_dose_says_so() -> None:
    # The patient may have kept the hold: it cannot be confirmed, not "cannot be met", and
    # the team gets the same precautions (whately-stead-2023).
    plan = hold(as_of=datetime(2025, 6, 11, 9, 0))
    note = plan.surgical_team_note
    assert "time of the last dose was not given" in note
    assert "72-hour hold was kept for surgery at 2025-06-12 08:00 cannot be confirmed" in note
    assert "If LDN was taken after 2025-06-08 22:00" in note
    assert "cannot be met" not in note
    for expected in ("blockade", "larger doses", "respiratory depression"):
        assert expected in note
    assert {"naltrexone-label", "whately-stead-2023"} <= set(plan.sources)


def test_plan_on_time_gives_the_team_the_planned_last_dose_and_no_blockade_warning() -> None:
    note = hold(hold_hours=48).surgical_team_note
    assert "Planned last dose before surgery: 2025-06-09 22:00" in note
    assert "at least 48 hours" in note
    assert "blockade" not in note


def test_already_stopped_patient_gets_a_note_with_the_actual_last_dose() -> None:
    plan = hold(as_of=datetime(2025, 6, 11, 9, 0), last_taken=datetime(2025, 6, 7, 22, 0))
    assert "Last dose taken: 2025-06-07 22:00, 106 hours before surgery" in plan.surgical_team_note
    assert "meets the planned 72-hour hold" in plan.surgical_team_note
    assert "blockade" not in plan.surgical_team_note
    assert plan.to_dict()["last_taken"] == "2025-06-07T22:00"


def test_last_nights_dose_days_ahead_is_not_taken_as_having_stopped() -> None:
    # Design §3.1's profile: now 06-02 09:00, last dose 06-01 22:00, i.e. still on daily LDN.
    # The last dose before surgery is still to come (06-08 22:00 for 72 h, clinical-facts
    # §3e): the team and the calendar get that date, not "hold met" on last night's dose.
    plan = hold(as_of=EARLY, last_taken=datetime(2025, 6, 1, 22, 0))
    assert plan.can_meet_hold
    assert "Planned last dose before surgery: 2025-06-08 22:00" in plan.surgical_team_note
    assert "meets the planned" not in plan.surgical_team_note
    assert plan.events()[0].start == datetime(2025, 6, 8, 22, 0)


def test_note_says_when_the_dose_is_unknown() -> None:
    assert "(LDN, dose not given)" in hold().surgical_team_note


@pytest.mark.parametrize(
    "expected",
    ["ask your clinician", "7–10 days", "48 hours", "72 hours", "opioid withdrawal"],
)
def test_restart_guidance_leaves_the_decision_to_the_clinician(expected: str) -> None:
    plan = hold()
    assert expected in plan.restart_guidance
    assert {"goel-2024", "naltrexone-label", "ldndirect-surgery"} <= set(plan.sources)


def test_team_note_gives_the_conservative_restart_rule() -> None:
    note = hold().surgical_team_note
    assert "prescriber's decision" in note
    assert "7–10 opioid-free days" in note


def test_calendar_has_last_dose_surgery_and_restart_reminder() -> None:
    plan = hold(dose_time=BEDTIME)
    starts = [event.start for event in plan.events()]
    # The restart reminder falls at the first usual dose time after surgery: the evening after.
    assert starts == [datetime(2025, 6, 8, 22, 0), SURGERY, datetime(2025, 6, 12, 22, 0)]
    last_dose, surgery, restart = plan.events()
    assert surgery.description == plan.surgical_team_note
    assert restart.description == plan.restart_guidance
    assert "ask your clinician" in restart.title.lower()
    assert last_dose.title == FACTS.calendar.last_dose_title


def test_restart_reminder_never_falls_at_the_moment_of_surgery() -> None:
    plan = hold(dose_time=MORNING)  # dose time equals surgery time
    assert plan.events()[2].start == datetime(2025, 6, 13, 8, 0)


def test_calendar_last_dose_is_the_one_taken_when_already_stopped() -> None:
    taken = datetime(2025, 6, 6, 22, 0)
    plan = hold(as_of=datetime(2025, 6, 10, 9, 0), last_taken=taken)
    assert plan.events()[0].start == taken


@pytest.mark.parametrize(
    ("field", "changes"),
    [
        ("hold_hours", {"hold_hours": 0}),
        ("hold_hours", {"hold_hours": -24}),
        ("hold_hours", {"hold_hours": math.nan}),
        ("hold_hours", {"hold_hours": math.inf}),
        ("hold_hours", {"hold_hours": FACTS.max_hold_hours + 1}),
        ("last_taken", {"last_taken": datetime(2025, 6, 2, 9, 1)}),
        ("surgery_at", {"surgery_at": datetime(2025, 6, 12, 8, 0, tzinfo=UTC)}),
        ("as_of", {"as_of": datetime(2025, 6, 2, 9, 0, tzinfo=UTC)}),
        ("dose_time", {"dose_time": time(22, 0, tzinfo=UTC)}),
        ("dose_mg", {"dose_mg": 0}),
        ("dose_mg", {"dose_mg": -1.5}),
    ],
)
def test_bad_input_names_the_field(field: str, changes: dict[str, object]) -> None:
    with pytest.raises(InputError) as caught:
        hold(**changes)  # type: ignore[arg-type]
    assert caught.value.field == field


def test_a_surgery_already_past_is_still_planned_but_cannot_meet_the_hold() -> None:
    # The design's example dates lie in the past for a user running it today: the
    # arithmetic must still answer, and say the hold can no longer be met.
    plan = hold(as_of=datetime(2025, 6, 13, 9, 0))
    assert plan.last_dose_by == datetime(2025, 6, 8, 22, 0)
    assert plan.can_meet_hold is False


def test_longest_allowed_hold_is_accepted() -> None:
    assert hold(hold_hours=FACTS.max_hold_hours).last_dose_by < SURGERY


def test_surgery_right_now_is_planned_not_refused() -> None:
    plan = hold(as_of=SURGERY)
    assert not plan.can_meet_hold


moments = st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2099, 1, 1))
dose_times = st.times().map(lambda t: t.replace(second=0, microsecond=0))
hold_hours = st.floats(min_value=0.25, max_value=FACTS.max_hold_hours)


@given(surgery=moments, dose_time=dose_times, hours=hold_hours)
def test_last_dose_leaves_the_hold_and_is_the_latest_that_does(
    surgery: datetime, dose_time: time, hours: float
) -> None:
    plan = hold(surgery_at=surgery, dose_time=dose_time, hold_hours=hours,
                as_of=surgery - timedelta(days=30))
    deadline = surgery - timedelta(hours=hours)
    assert plan.last_dose_by.time() == dose_time
    assert plan.last_dose_by <= deadline < plan.last_dose_by + timedelta(days=1)


@given(surgery=moments, dose_time=dose_times, hours=hold_hours,
       before=st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=20)))
def test_without_a_known_last_dose_the_hold_is_met_only_if_now_is_not_past_the_last_dose(
    surgery: datetime, dose_time: time, hours: float, before: timedelta
) -> None:
    plan = hold(surgery_at=surgery, dose_time=dose_time, hold_hours=hours,
                as_of=surgery - before)
    assert plan.can_meet_hold is (surgery - before <= plan.last_dose_by)
    assert ("blockade" in plan.surgical_team_note) is not plan.can_meet_hold


@given(surgery=moments, dose_time=dose_times, shorter=hold_hours, longer=hold_hours)
def test_a_longer_hold_never_allows_a_later_last_dose(
    surgery: datetime, dose_time: time, shorter: float, longer: float
) -> None:
    shorter, longer = sorted((shorter, longer))
    early = surgery - timedelta(days=30)
    a = hold(surgery_at=surgery, dose_time=dose_time, hold_hours=shorter, as_of=early)
    b = hold(surgery_at=surgery, dose_time=dose_time, hold_hours=longer, as_of=early)
    assert b.last_dose_by <= a.last_dose_by


def test_periop_request_json_fills_defaults_and_the_response_model_accepts_the_result() -> None:
    request = PeriopRequest.model_validate(
        {"surgery_at": "2025-06-12T08:00", "as_of": "2025-06-02T09:00", "dose_mg": 4.5})
    plan = plan_hold(**request.to_core(FACTS), facts=FACTS)
    assert plan == hold(dose_mg=4.5)  # defaults: 72 h, 22:00
    assert HoldPlanResponse.model_validate(plan.to_dict()).can_meet_hold
    configured = plan_hold(**request.to_core(FACTS, default_hold_hours=48), facts=FACTS)
    assert configured.last_dose_by == datetime(2025, 6, 9, 22, 0)


def test_periop_request_with_an_unknown_field_is_refused() -> None:
    with pytest.raises(ValidationError, match="hold_days"):
        PeriopRequest.model_validate(
            {"surgery_at": "2025-06-12T08:00", "as_of": "2025-06-02T09:00", "hold_days": 3})


def test_team_note_says_ldn_is_off_label_below_the_licensed_50_mg() -> None:
    # clinical-facts: no regulator has approved naltrexone below 50 mg for these uses, so
    # the note must not suggest that only doses below 5 mg are off-label.
    note = hold().surgical_team_note
    assert "below its licensed 50 mg a day it is used off-label" in note
    assert "below 5 mg" not in note

"""The calendar's surgery hold counts real hours in the patient's time zone."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

from lowdose.core.titration import plan
from lowdose.interop.calendar import CoursePlans, PlanVersionSteps, Surgery, schedule
from lowdose.knowledge.regimens import load_perioperative_facts, load_titration_facts


def test_a_spring_forward_night_inside_the_hold_moves_the_last_dose_a_day_earlier() -> None:
    # New York clocks went forward on 2025-03-09: Friday 08:00 to Monday 08:00 is 71 real
    # hours, short of the 72-hour hold, so the last morning dose is Thursday's.
    morning = plan(from_date=date(2025, 3, 1), facts=load_titration_facts(), start_mg=4.5,
                   target_mg=4.5, timing="morning")
    course = CoursePlans(1, date(2025, 3, 1), None, (PlanVersionSteps(1, morning.steps),))
    surgery = Surgery(1, "hip replacement", datetime(2025, 3, 10, 8, 0))
    made = schedule([course], [surgery], [], hold_hours=72, as_of=datetime(2025, 3, 1, 7, 0),
                    facts=load_perioperative_facts(), zone=ZoneInfo("America/New_York"))
    assert morning.steps[0].time.strftime("%H:%M") == "08:00"
    (hold,) = made.holds
    assert hold.plan.last_dose_by == datetime(2025, 3, 6, 8, 0)
    (run,) = made.runs
    assert run.last == date(2025, 3, 6)

"""No titration step is announced while a red flag stands (clinical-facts §4: red flags mean
stop LDN and contact a clinician; naltrexone-label): "the plan moves to 3 mg" next to "stop
LDN" would tell the patient two opposite things."""

from __future__ import annotations

from datetime import date, time, timedelta

import pytest

from lowdose.core.diary import CheckIn, PlannedDose, SideEffect
from lowdose.core.monitoring import monitor
from lowdose.knowledge.evidence import load_side_effects
from lowdose.knowledge.monitoring import load_monitoring_rules

RULES = load_monitoring_rules()
COURSE = load_side_effects()
TODAY = date(2025, 6, 30)
PLAN = [PlannedDose(TODAY - timedelta(days=14), 1.5), PlannedDose(TODAY - timedelta(days=2), 3.0)]


def codes(last: CheckIn) -> set[str]:
    earlier = [CheckIn(TODAY - timedelta(days=i), True, 1.5, time(22, 0)) for i in range(6, 0, -1)]
    return {f.code for f in monitor([*earlier, last], today=TODAY, rules=RULES, course=COURSE,
                                    plan=PLAN)}


def test_a_step_is_due_when_nothing_stands_in_the_way():
    assert "titration-step-due" in codes(CheckIn(TODAY, True, 1.5, time(22, 0)))


@pytest.mark.parametrize("last", [
    CheckIn(TODAY, True, 1.5, time(22, 0), side_effects=(SideEffect("dark urine", 1),)),
    CheckIn(TODAY, True, 1.5, time(22, 0), note="Came out in hives after the dose"),
])
def test_no_step_is_announced_while_a_red_flag_stands(last):
    found = codes(last)
    assert any(c.startswith("red-flag-") for c in found)
    assert "titration-step-due" not in found

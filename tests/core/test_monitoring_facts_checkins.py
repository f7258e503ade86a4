"""Overdue check-ins at the start of a plan (design §3.4 check-ins; monitoring.toml [checkins]):
a patient whose titration plan starts today has not missed any check-in, and one who has not
checked in since the plan started is told how many days it has really been, not the 42-day
look-back."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from lowdose.core.diary import CheckIn, PlannedDose
from lowdose.core.monitoring import monitor
from lowdose.knowledge.evidence import load_side_effects
from lowdose.knowledge.monitoring import load_monitoring_rules

RULES = load_monitoring_rules()
COURSE = load_side_effects()
TODAY = date(2025, 6, 30)
INFO, ATTENTION = RULES.checkins.info_after_days, RULES.checkins.attention_after_days


def overdue(checkins: list[CheckIn], started_days_ago: int):
    plan = [PlannedDose(TODAY - timedelta(days=started_days_ago), 1.5)]
    return [f for f in monitor(checkins, today=TODAY, rules=RULES, course=COURSE, plan=plan)
            if f.code == "checkin-overdue"]


@pytest.mark.parametrize(("started_days_ago", "level"), [
    (0, None),                      # the plan starts today: nothing is missing yet
    (INFO - 2, None),
    (INFO - 1, "info"),             # no check-in on INFO days, counting the first
    (ATTENTION - 2, "info"),
    (ATTENTION - 1, "attention"),
])
def test_no_check_in_since_the_plan_started_counts_from_its_first_day(started_days_ago, level):
    flags = overdue([], started_days_ago)
    assert [f.level for f in flags] == ([level] if level else [])
    if level:
        assert f"{started_days_ago + 1} days" in flags[0].reason


def test_a_check_in_on_the_first_day_is_counted_as_before():
    first = TODAY - timedelta(days=ATTENTION)
    flags = overdue([CheckIn(first, True, 1.5)], ATTENTION)
    assert [f.level for f in flags] == ["attention"]
    assert f"{ATTENTION} days" in flags[0].reason

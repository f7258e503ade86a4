"""An n-of-1 comparison (design §3.3: the same analysis as `lowdose analyze`; §6 bad input
gets a specific error) refuses a value that is not a number, naming the observation, as the
before/after analysis does, instead of failing inside the fit."""

from __future__ import annotations

from datetime import date, time, timedelta

import pytest

from lowdose.core.diary import Observation
from lowdose.core.nof1 import Arm, analyze_comparison, plan_comparison
from lowdose.errors import InputError
from lowdose.knowledge.instruments import load_instruments
from lowdose.knowledge.monitoring import load_monitoring_rules

RULES = load_monitoring_rules()
INSTRUMENTS = load_instruments()
START = date(2025, 1, 1)


@pytest.mark.parametrize(("measure", "bad"), [
    ("pain", float("nan")), ("pain", float("inf")), ("sleep", float("-inf")),
])
def test_a_value_that_is_not_a_number_is_refused_by_name(measure, bad):
    schedule = plan_comparison(Arm(1.5, time(22)), Arm(1.5, time(8)), start=START, blocks=2,
                               period_days=14, run_in_days=3, seed=1)
    rows = [Observation(START + timedelta(days=i), measure, 5.0) for i in range(56)]
    rows[20] = Observation(rows[20].day, measure, bad)
    with pytest.raises(InputError) as error:
        analyze_comparison(schedule, rows, instruments=INSTRUMENTS, rules=RULES)
    assert error.value.field == "observations.20.value"

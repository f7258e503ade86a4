"""Planned n-of-1 comparisons: randomised blocks, run-in after each switch, and the outcome
analysis applied to arm B against arm A."""

from __future__ import annotations

import math
from datetime import date, time, timedelta

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from lowdose.core.diary import Observation
from lowdose.core.nof1 import Arm, analyze_comparison, plan_comparison
from lowdose.core.outcomes import estimate_effect
from lowdose.errors import InputError
from lowdose.knowledge.instruments import load_instruments
from lowdose.knowledge.monitoring import load_monitoring_rules

RULES = load_monitoring_rules()
INSTRUMENTS = load_instruments()
START = date(2025, 9, 1)
LOW, HIGH = Arm(1.5, time(22)), Arm(4.5, time(22))
BEDTIME, MORNING = Arm(3.0, time(22)), Arm(3.0, time(8))
DEFAULTS = RULES.nof1


def plan(a=LOW, b=HIGH, seed=1, **kwargs):
    options = {"blocks": DEFAULTS.blocks, "period_days": DEFAULTS.period_days,
               "run_in_days": DEFAULTS.run_in_days} | kwargs
    return plan_comparison(a, b, start=START, seed=seed, sources=DEFAULTS.sources, **options)


@given(seed=st.integers(0, 10**9), blocks=st.integers(2, 6), period=st.integers(4, 21),
       run_in=st.integers(0, 3))
def test_each_block_holds_both_arms_in_back_to_back_periods(seed, blocks, period, run_in):
    schedule = plan(seed=seed, blocks=blocks, period_days=period, run_in_days=run_in)
    assert len(schedule.periods) == 2 * blocks
    assert schedule.first == START
    assert schedule.last == START + timedelta(days=2 * blocks * period - 1)
    for block in range(1, blocks + 1):
        arms = sorted(p.arm for p in schedule.periods if p.block == block)
        assert arms == ["A", "B"]
    for before, after in zip(schedule.periods, schedule.periods[1:], strict=False):
        assert after.first == before.last + timedelta(days=1)
        # a run-in only after a switch of arm (and at the very start)
        assert after.run_in_days == (run_in if after.arm != before.arm else 0)
    assert schedule.periods[0].run_in_days == run_in


def test_the_same_seed_gives_the_same_schedule_and_seeds_differ():
    assert plan(seed=42) == plan(seed=42)
    orders = {tuple(p.arm for p in plan(seed=s).periods) for s in range(20)}
    assert len(orders) > 1, "the order is randomised by the seed"


def test_the_calendar_can_ask_what_to_take_on_any_day():
    schedule = plan(seed=3)
    for period in schedule.periods:
        arm = LOW if period.arm == "A" else HIGH
        assert schedule.arm_on(period.first) == arm == schedule.arm_on(period.last)
    assert schedule.arm_on(START - timedelta(days=1)) is None
    assert schedule.arm_on(schedule.last + timedelta(days=1)) is None


@pytest.mark.parametrize(("a", "b", "kind"), [(LOW, HIGH, "dose"), (BEDTIME, MORNING, "timing")])
def test_a_comparison_changes_one_thing(a, b, kind):
    assert plan(a, b).kind == kind


@pytest.mark.parametrize(("kwargs", "field"), [
    ({"a": LOW, "b": LOW}, "b"),  # nothing differs
    ({"a": LOW, "b": Arm(4.5, time(8))}, "b"),  # two things differ at once
    ({"a": Arm(0, time(22))}, "a.dose_mg"),
    ({"blocks": 1}, "blocks"),
    ({"period_days": 3, "run_in_days": 3}, "period_days"),
    ({"run_in_days": -1}, "run_in_days"),
])
def test_a_comparison_that_cannot_be_analysed_is_refused(kwargs, field):
    with pytest.raises(InputError) as error:
        plan(**kwargs)
    assert error.value.field == field


def test_an_arm_above_the_highest_dose_a_plan_accepts_is_refused():
    with pytest.raises(InputError) as error:
        plan(b=Arm(50, time(22)), max_dose_mg=12.0)
    assert error.value.field == "b.dose_mg" and "12 mg" in error.value.message
    assert plan(b=Arm(6, time(22)), max_dose_mg=12.0).b.dose_mg == 6


def test_a_schedule_too_short_to_analyse_each_arm_is_refused():
    # 2 blocks of 4-day periods with a 3-day run-in leave 2 analysed days an arm, never 7
    with pytest.raises(InputError) as error:
        plan(blocks=2, period_days=4, run_in_days=3, min_days_per_arm=DEFAULTS.min_days_per_arm)
    assert error.value.field == "period_days"
    assert plan(min_days_per_arm=DEFAULTS.min_days_per_arm).periods


def test_schedule_dict_has_iso_dates_and_analysed_from_after_run_in():
    data = plan(seed=5).to_dict()
    first = data["periods"][0]
    assert first["first"] == "2025-09-01" and first["analysed_from"] == "2025-09-04"
    assert data["kind"] == "dose" and data["a"] == {"dose_mg": 1.5, "dose_time": "22:00"}
    assert "meyer-1984" in data["sources"]


def simulate(schedule, rng, *, effect, rho=0.4, sd=1.0, carry_over=True):
    """Daily pain under the schedule; during run-in days the previous arm still acts."""
    days = (schedule.last - schedule.first).days + 1
    noise = np.empty(days)
    noise[0] = rng.normal() * sd
    for i in range(1, days):
        noise[i] = rho * noise[i - 1] + rng.normal() * sd * math.sqrt(1 - rho * rho)
    rows, previous = [], "A"
    for period in schedule.periods:
        for offset in range((period.last - period.first).days + 1):
            day = period.first + timedelta(days=offset)
            acting = previous if carry_over and offset < period.run_in_days else period.arm
            value = 6.0 + (effect if acting == "B" else 0.0) + noise[(day - START).days]
            rows.append(Observation(day, "pain", value))
        previous = period.arm
    return rows


def test_the_comparison_recovers_a_known_dose_effect_and_skips_run_in_days():
    schedule = plan(seed=11, blocks=4)
    rows = simulate(schedule, np.random.default_rng(0), effect=-2.0)
    result = analyze_comparison(schedule, rows, instruments=INSTRUMENTS, rules=RULES)[0]
    assert result.status == "ok"
    assert result.n_a + result.n_b == sum(
        DEFAULTS.period_days - p.run_in_days for p in schedule.periods)
    assert result.effect.low < -2.0 < result.effect.high
    assert "improved" in result.summary and "on B (4.5 mg at 22:00)" in result.summary


def test_run_in_days_are_left_out_so_carry_over_does_not_bias_the_estimate():
    """With a big carry-over in the run-in, including those days would shrink the effect."""
    schedule = plan(seed=2, blocks=6)
    estimates = [analyze_comparison(schedule,
                                    simulate(schedule, np.random.default_rng(s), effect=-3.0),
                                    instruments=INSTRUMENTS, rules=RULES)[0].effect.estimate
                 for s in range(30)]
    assert np.mean(estimates) == pytest.approx(-3.0, abs=0.15)


def test_the_comparison_is_the_same_analysis_as_before_and_after():
    schedule = plan(seed=8)
    rows = simulate(schedule, np.random.default_rng(4), effect=0.0)
    result = analyze_comparison(schedule, rows, instruments=INSTRUMENTS, rules=RULES)[0]
    arms = {"A": [], "B": []}
    for row in rows:
        period = schedule.period_on(row.day)
        if row.day >= period.analysed_from:
            arms[period.arm].append((row.day, row.value))
    direct = estimate_effect(arms["A"], arms["B"], direction="lower-is-better",
                             mid=INSTRUMENTS["pain"].mid, coverage=RULES.analysis.interval)
    assert result.effect == direct


def test_morning_vs_bedtime_sleep_is_compared_higher_is_better():
    schedule = plan(BEDTIME, MORNING, seed=6, blocks=4)
    rng = np.random.default_rng(1)
    rows = [Observation(r.day, "sleep", r.value) for r in simulate(schedule, rng, effect=+2.5)]
    result = analyze_comparison(schedule, rows, instruments=INSTRUMENTS, rules=RULES)[0]
    assert result.direction == "higher-is-better" and result.effect.p_mid > 0.5
    assert "improved" in result.summary and "B (3 mg at 08:00)" in result.summary


def test_too_few_analysed_days_is_insufficient_data():
    schedule = plan(seed=1)
    second = schedule.periods[1]
    # the diary stops 5 days into the second period: 2 analysed days for its arm
    rows = [r for r in simulate(schedule, np.random.default_rng(0), effect=-1.0)
            if r.day < second.first + timedelta(days=5)]
    result = analyze_comparison(schedule, rows, instruments=INSTRUMENTS, rules=RULES)[0]
    assert result.status == "insufficient-data" and result.effect is None
    assert "each arm needs at least 7" in result.reason
    assert result.to_dict()["effect"] is None


def test_a_second_value_for_one_day_is_refused():
    schedule = plan()
    rows = [Observation(START, "pain", 5), Observation(START, "pain", 6)]
    with pytest.raises(InputError) as error:
        analyze_comparison(schedule, rows, instruments=INSTRUMENTS, rules=RULES)
    assert error.value.field == "observations.1"

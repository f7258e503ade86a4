"""Outcome analytics on simulated diaries with a known effect and AR(1) autocorrelation:
agreement with an independent exact-likelihood fit (statsmodels, test-only), interval coverage,
direction, insufficient data, and summaries that never overstate (clinical-facts §8)."""

from __future__ import annotations

import itertools
import math
import warnings
from datetime import date, timedelta

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats as scipy_stats
from statsmodels.tsa.arima.model import ARIMA

from lowdose.core.diary import Observation
from lowdose.core.outcomes import analyze_outcomes, chance_percent
from lowdose.core.stats import fit_level_shift, t_cdf, t_quantile
from lowdose.errors import InputError
from lowdose.knowledge.instruments import load_instruments
from lowdose.knowledge.monitoring import load_monitoring_rules

RULES = load_monitoring_rules()
INSTRUMENTS = load_instruments()
START = date(2025, 1, 15)
ONSET = RULES.onset.days


def ar1(rng: np.random.Generator, n: int, rho: float, sd: float) -> np.ndarray:
    """A stationary AR(1) series with marginal standard deviation `sd`."""
    noise = rng.normal(size=n) * sd * math.sqrt(1 - rho * rho)
    series = np.empty(n)
    series[0] = rng.normal() * sd
    for i in range(1, n):
        series[i] = rho * series[i - 1] + noise[i]
    return series


def simulate(rng, *, baseline_days=21, after_days=180, rho=0.5, sd=1.5, effect=-1.5,
             level=6.0, missing=0.1):
    """Day offsets from the start, values, and which days were recorded."""
    offsets = np.arange(-baseline_days, after_days)
    values = level + ar1(rng, len(offsets), rho, sd) + effect * (offsets >= ONSET)
    recorded = rng.random(len(offsets)) >= missing
    return offsets, values, recorded


def diary(measure, offsets, values, recorded, clip=True):
    return [Observation(START + timedelta(days=int(o)), measure,
                        float(np.clip(v, 0, 10)) if clip else float(v))
            for o, v, r in zip(offsets, values, recorded, strict=True) if r]


def analyze(observations, **kwargs):
    return analyze_outcomes(observations, start=START, instruments=INSTRUMENTS, rules=RULES,
                            **kwargs)


# ------------------------------------------------------------ agreement with a reference fit


def reference_fit(offsets, values, used, lag):
    """statsmodels' exact Gaussian likelihood for regression with AR(1) errors, with the
    unused days as missing values (Kalman filter), observed-information standard errors."""
    series = np.where(used, values, np.nan)
    exog = (offsets >= lag).astype(float)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = ARIMA(series, exog=exog, order=(1, 0, 0), trend="c").fit(cov_type="oim")
    return fit.params[1], fit.bse[1], fit.params[2]


def reference_cases():
    rng = np.random.default_rng(20250115)
    for rho, _ in itertools.product((0.4, 0.6, 0.85), range(6)):
        offsets, values, recorded = simulate(rng, rho=rho)
        used = recorded & ((offsets < 0) | (offsets >= ONSET))
        yield offsets, values, used


REFERENCE_CASES = list(reference_cases())


@pytest.mark.parametrize("case", range(len(REFERENCE_CASES)))
def test_ml_fit_matches_statsmodels_exact_ar1_likelihood(case):
    """Same model, same criterion: the closed-form profile fit must agree within 1 % of a
    standard error on the effect, 2 % on the standard error and 0.002 on rho."""
    offsets, values, used = REFERENCE_CASES[case]
    ours = fit_level_shift(offsets[used], values[used], offsets[used] >= ONSET, method="ml")
    effect, se, rho = reference_fit(offsets, values, used, ONSET)
    assert abs(ours.shift - effect) <= 0.01 * se
    assert ours.se == pytest.approx(se, rel=0.02)
    assert ours.rho == pytest.approx(rho, abs=0.002)


@pytest.mark.parametrize("case", range(len(REFERENCE_CASES)))
def test_reml_fit_used_by_the_analysis_stays_close_to_the_reference(case):
    """REML (the default) differs from ML only by its small-sample correction: the effect
    within 10 % of a standard error, the standard error no smaller and at most 30 % larger."""
    offsets, values, used = REFERENCE_CASES[case]
    ours = fit_level_shift(offsets[used], values[used], offsets[used] >= ONSET)
    effect, se, _ = reference_fit(offsets, values, used, ONSET)
    assert abs(ours.shift - effect) <= 0.1 * se
    assert 0.98 * se <= ours.se <= 1.3 * se


# ---------------------------------------------------------------------- coverage and nulls


@pytest.mark.parametrize(("rho", "baseline_days"), [(0.0, 14), (0.5, 21), (0.8, 28)])
def test_90_percent_intervals_cover_the_true_effect_85_to_95_percent_of_the_time(
        rho, baseline_days):
    rng = np.random.default_rng(int(rho * 10) + baseline_days)
    covered = 0
    patients = 300
    for _ in range(patients):
        offsets, values, recorded = simulate(rng, rho=rho, baseline_days=baseline_days,
                                             after_days=150)
        used = recorded & ((offsets < 0) | (offsets >= ONSET))
        fit = fit_level_shift(offsets[used], values[used], offsets[used] >= ONSET)
        low, high = fit.interval(0.90)
        covered += low <= -1.5 <= high
    assert 0.85 <= covered / patients <= 0.95


def test_with_no_true_effect_the_chance_of_a_meaningful_improvement_stays_low():
    rng = np.random.default_rng(7)
    chances, improved = [], 0
    for _ in range(200):
        offsets, values, recorded = simulate(rng, rho=0.6, effect=0.0, level=5.0)
        result = analyze(diary("pain", offsets, values, recorded)).measures[0]
        chances.append(result.effect.p_mid)
        improved += result.summary.startswith("Pain improved")
    assert np.median(chances) < 0.01
    assert np.quantile(chances, 0.95) < 0.1
    assert improved / 200 <= 0.1  # a one-sided 5 % error rate, with room for chance


# --------------------------------------------------------------------- the analysis itself


@pytest.mark.parametrize(("measure", "effect", "verdict"), [
    ("pain", -2.5, "improved"),  # lower pain is better
    ("pain", +2.5, "got worse"),
    ("sleep", +2.5, "improved"),  # higher sleep quality is better
    ("sleep", -2.5, "got worse"),
    ("fatigue", 0.0, "no change"),
])
def test_the_verdict_follows_the_measure_direction(measure, effect, verdict):
    rng = np.random.default_rng(3)
    offsets, values, recorded = simulate(rng, effect=effect, level=5.0, sd=1.0, rho=0.3)
    result = analyze(diary(measure, offsets, values, recorded)).measures[0]
    assert result.status == "ok"
    assert verdict in result.summary.lower()
    good = effect * (1 if INSTRUMENTS[measure].direction == "higher-is-better" else -1) > 0
    assert (result.effect.p_mid > 0.5) is good


def test_an_improvement_reports_means_interval_mid_chance_and_days_used():
    rng = np.random.default_rng(5)
    offsets, values, recorded = simulate(rng, effect=-3.0, level=6.5, sd=1.0, missing=0.0)
    report = analyze(diary("pain", offsets, values, recorded, clip=False))
    result = report.measures[0]
    data = report.to_dict()["measures"][0]
    assert data["status"] == "ok" and data["direction"] == "lower-is-better"
    assert data["baseline_mean"] - data["treatment_mean"] == pytest.approx(3.0, abs=0.8)
    interval = data["effect"]["interval"]
    assert interval["coverage"] == 0.9 and interval["low"] < data["effect"]["estimate"] < \
        interval["high"] < 0
    assert data["mid"]["points"] == 2.0 and "farrar-2001" in data["mid"]["sources"]
    assert 0.5 < data["effect"]["p_mid_improvement"] <= 1
    assert data["n_days"] == 21 + 180 - ONSET == result.n_days
    assert [p["name"] for p in data["phases"]] == ["baseline", "titration", "maintenance"]
    assert [p["days"] for p in data["phases"]] == [21, ONSET, 180 - ONSET]
    assert report.to_dict()["effect_from"] == (START + timedelta(ONSET)).isoformat()


@pytest.mark.parametrize(("baseline_days", "status"), [(6, "insufficient-data"), (7, "ok")])
def test_fewer_than_7_baseline_days_is_insufficient_data(baseline_days, status):
    rng = np.random.default_rng(1)
    offsets, values, recorded = simulate(rng, baseline_days=baseline_days, missing=0.0)
    result = analyze(diary("pain", offsets, values, recorded)).measures[0]
    assert result.status == status
    if status != "ok":
        assert "6 days recorded before LDN started on 2025-01-15" in result.reason
        assert result.effect is None and result.to_dict()["effect"] is None


def test_too_few_days_after_the_onset_is_insufficient_data():
    rng = np.random.default_rng(1)
    offsets, values, recorded = simulate(rng, after_days=ONSET + 5, missing=0.0)
    result = analyze(diary("pain", offsets, values, recorded)).measures[0]
    assert result.status == "insufficient-data"
    assert "5 days recorded from" in result.reason and f"{ONSET}-day onset" in result.reason


def test_days_in_the_onset_period_do_not_change_the_estimate():
    rng = np.random.default_rng(9)
    offsets, values, recorded = simulate(rng)
    changed = np.where((offsets >= 0) & (offsets < ONSET), 10.0, values)
    first = analyze(diary("pain", offsets, values, recorded)).measures[0].effect
    second = analyze(diary("pain", offsets, changed, recorded)).measures[0].effect
    assert first == second


def test_a_longer_onset_or_a_later_maintenance_start_moves_the_effect_window():
    rng = np.random.default_rng(2)
    offsets, values, recorded = simulate(rng, missing=0.0)
    rows = diary("pain", offsets, values, recorded)
    assert analyze(rows, onset_days=42).effect_from == START + timedelta(42)
    later = analyze(rows, maintenance_from=START + timedelta(60))
    assert later.effect_from == START + timedelta(60)
    assert later.measures[0].phases[2].days == 180 - 60


def test_a_measure_without_an_instrument_is_analysed_without_a_verdict_or_mid():
    rng = np.random.default_rng(4)
    offsets, values, recorded = simulate(rng, effect=-2.0)
    result = analyze(diary("stiffness", offsets, values, recorded)).measures[0]
    assert result.direction is None and result.effect.p_mid is None
    assert "improved" not in result.summary and "worse" not in result.summary


def test_constant_ratings_give_an_exact_answer_instead_of_failing():
    rows = [Observation(START + timedelta(d), "pain", 6.0 if d < 0 else 3.0)
            for d in range(-10, 60)]
    effect = analyze(rows).measures[0].effect
    assert (effect.estimate, effect.low, effect.high) == pytest.approx((-3.0, -3.0, -3.0))
    assert effect.p_mid == 1.0


@pytest.mark.parametrize(("rows", "field"), [
    ([Observation(START, "pain", 5), Observation(START, "pain", 6)], "observations.1"),
    ([Observation(START, "pain", 11)], "observations.0.value"),
    ([Observation(START, "sleep", -1)], "observations.0.value"),
    ([Observation(START, "pain", math.nan)], "observations.0.value"),
    ([Observation(START, "phq9", 9.5)], "observations.0.value"),  # totals are whole
    ([Observation(START, "gad7", 22)], "observations.0.value"),
])
def test_bad_observations_are_refused_naming_the_row(rows, field):
    with pytest.raises(InputError) as error:
        analyze(rows)
    assert error.value.field == field


def test_a_negative_onset_or_a_maintenance_start_before_ldn_is_refused():
    with pytest.raises(InputError, match="onset_days"):
        analyze([], onset_days=-1)
    with pytest.raises(InputError, match="maintenance_from"):
        analyze([], maintenance_from=START - timedelta(1))


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), effect=st.floats(-3, 3), rho=st.floats(0, 0.9),
       baseline_days=st.integers(7, 40))
def test_the_summary_never_claims_more_than_the_interval(seed, effect, rho, baseline_days):
    rng = np.random.default_rng(seed)
    offsets, values, recorded = simulate(rng, effect=effect, rho=rho,
                                         baseline_days=baseline_days, after_days=90)
    result = analyze(diary("pain", offsets, values, recorded)).measures[0]
    if result.status != "ok":
        return
    low, high = result.effect.low, result.effect.high
    if low <= 0 <= high:
        assert result.summary.startswith("Consistent with no change")
    elif high < 0:
        assert result.summary.startswith("Pain improved")
    else:
        assert result.summary.startswith("Pain got worse")


# -------------------------------------------------------------------- Student's t, from math


@pytest.mark.parametrize(("x", "df"), list(itertools.product(
    [-8, -1.7, -0.2, -1e-6, 0, 0.9, 2.4, 40], [1, 3, 12, 100, 2000])))
def test_t_cdf_matches_scipy(x, df):
    assert t_cdf(x, df) == pytest.approx(scipy_stats.t.cdf(x, df), abs=1e-10)


@pytest.mark.parametrize("x", [-50, -2, -1e-9, 1e-12, 0.3, 7])
def test_t_cdf_matches_the_closed_forms_for_1_and_2_degrees_of_freedom(x):
    assert t_cdf(x, 1) == pytest.approx(0.5 + math.atan(x) / math.pi, abs=1e-14)
    assert t_cdf(x, 2) == pytest.approx(0.5 + x / (2 * math.sqrt(2 + x * x)), abs=1e-14)


@pytest.mark.parametrize(("p", "df"), list(itertools.product(
    [0.01, 0.05, 0.5, 0.95, 0.999], [1, 3, 12, 100, 2000])))
def test_t_quantile_matches_scipy(p, df):
    assert t_quantile(p, df) == pytest.approx(scipy_stats.t.ppf(p, df), rel=1e-7, abs=1e-9)


def test_check_ins_become_one_observation_per_rating_for_the_analysis():
    from lowdose.core.diary import CheckIn, observations

    checkins = [CheckIn(START + timedelta(d), True, ratings={"pain": 6 if d < 0 else 3,
                                                              "sleep": 5})
                for d in range(-10, 40)]
    rows = observations(checkins)
    assert len(rows) == 100 and rows[0] == Observation(START - timedelta(10), "pain", 6.0)
    by_measure = {m.measure: m for m in analyze(rows).measures}
    assert by_measure["pain"].effect.estimate == pytest.approx(-3.0)
    assert by_measure["sleep"].summary.startswith("Consistent with no change")


def test_a_measure_without_a_cited_mid_gets_no_improvement_chance():
    rng = np.random.default_rng(8)
    offsets, values, recorded = simulate(rng, effect=-4.0, level=12.0, sd=1.0)
    totals = np.round(values)  # a PHQ-9 total is whole
    result = analyze(diary("phq9", offsets, totals, recorded, clip=False)).measures[0]
    assert result.effect.p_mid is None and result.mid is None
    assert result.summary.startswith("Phq9 improved") and "Chance" not in result.summary


def test_identical_before_and_after_reads_as_the_same_not_as_minus_zero():
    days = [*range(-10, 0), *range(28, 40)]
    result = analyze([Observation(START + timedelta(days=d), "pain", 5.0) for d in days])
    data = result.measures[0].to_dict()
    interval = data["effect"]["interval"]
    assert [math.copysign(1, v) for v in (interval["low"], interval["high"])] == [1, 1]
    assert "about the same" in data["summary"] and "lower" not in data["summary"]


def test_an_unknown_measure_with_no_change_says_so():
    rng = np.random.default_rng(12)
    offsets, values, recorded = simulate(rng, effect=0.0, rho=0.3)
    result = analyze(diary("stiffness", offsets, values, recorded)).measures[0]
    assert result.effect.low <= 0 <= result.effect.high
    assert result.summary.startswith("Consistent with no change: stiffness")


@pytest.mark.parametrize(("days", "values", "shifted", "message"), [
    ([1, 2, 3], [1.0, 2.0], [False, True, True], "same length"),
    ([1, 1, 2, 3], [1.0, 2.0, 3.0, 4.0], [False, False, True, True], "distinct"),
    ([1, 2, 3, 4], [1.0, 2.0, 3.0, 4.0], [False, True, True, True], "at least 2 days"),
])
def test_the_fit_refuses_what_it_cannot_estimate(days, values, shifted, message):
    with pytest.raises(ValueError, match=message):
        fit_level_shift(days, values, shifted)


def test_an_exact_fit_puts_all_probability_on_one_side_of_a_threshold():
    fit = fit_level_shift([1, 2, 3, 4], [5.0, 5.0, 2.0, 2.0], [False, False, True, True])
    assert (fit.shift, fit.se) == pytest.approx((-3.0, 0.0))
    assert fit.probability_above(-3.5) == 1.0 and fit.probability_above(-2.5) == 0.0


@pytest.mark.parametrize(("call", "message"), [
    (lambda: t_cdf(1.0, 0), "degrees of freedom"),
    (lambda: t_quantile(1.0, 5), "between 0 and 1"),
    (lambda: t_quantile(0.0, 5), "between 0 and 1"),
])
def test_t_functions_refuse_impossible_arguments(call, message):
    with pytest.raises(ValueError, match=message):
        call()


@pytest.mark.parametrize(("p", "shown"), [
    (0.0, "<1 %"), (0.004, "<1 %"), (0.01, "1 %"), (0.564, "56 %"), (0.99, "99 %"),
    (0.996, ">99 %"), (1.0, ">99 %"),
])
def test_a_chance_in_a_table_is_never_shown_as_a_certainty(p: float, shown: str) -> None:
    # The same words as the summary ("less than 1 %", "more than 99 %"): tables in the CLI,
    # the visit report and the web pages all use this.
    assert chance_percent(p) == shown

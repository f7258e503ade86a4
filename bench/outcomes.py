"""Benchmark: one patient-year outcome analysis, six measures (design §4: ≤ 50 ms median).

The reference in the same run is an independent fit of the same model: statsmodels' exact
Gaussian likelihood for regression with AR(1) errors (ARIMA(1,0,0) with the LDN indicator as
exogenous regressor, unused days as missing values). Design §4 names PyMC; statsmodels is the
dev-only reference installed here, and it checks the estimates as well as the time.

Also timed: the monitoring flags of one patient (the panel budget is the services' concern;
this is the pure core's share of it, per patient and extrapolated to 10,000 patients).

Run: `.venv/bin/python bench/outcomes.py [--repeat N] [--json]`.
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import statistics
import time
import warnings
from collections.abc import Callable
from datetime import date, timedelta
from datetime import time as clock
from typing import Any

import numpy as np
from results import write_section

BUDGET_MS = 50.0
START = date(2025, 1, 15)
BASELINE_DAYS = 30
MEASURES = (("pain", 6.5, -1.5), ("fatigue", 6.0, -1.0), ("sleep", 4.5, 1.0),
            ("mood", 5.0, 0.5), ("stiffness", 5.0, -0.5), ("brain-fog", 5.5, 0.0))


def patient_year(seed: int = 1) -> list[Any]:
    """365 days of six daily ratings: 30 before LDN, 335 after, AR(1) noise, 5 % missing."""
    from lowdose.core.diary import Observation

    rng = np.random.default_rng(seed)
    rows = []
    for measure, level, effect in MEASURES:
        noise = 0.0
        for offset in range(-BASELINE_DAYS, 365 - BASELINE_DAYS):
            noise = 0.6 * noise + rng.normal() * 1.2 * math.sqrt(1 - 0.36)
            if rng.random() < 0.05:
                continue
            value = level + noise + (effect if offset >= 28 else 0.0)
            rows.append(Observation(START + timedelta(days=offset), measure,
                                    float(min(max(value, 0.0), 10.0))))
    return rows


def median_ms(call: Callable[[], object], repeat: int, warmup: int = 5) -> float:
    for _ in range(warmup):
        call()
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        call()
        samples.append(time.perf_counter() - started)
    return statistics.median(samples) * 1000


def reference_fits(rows: list[Any], effect_from: date) -> dict[str, tuple[float, float]]:
    """statsmodels' exact-ML estimate and standard error of the effect, per measure."""
    from statsmodels.tsa.arima.model import ARIMA

    first = START - timedelta(days=BASELINE_DAYS)
    fits = {}
    for measure, _, _ in MEASURES:
        series = np.full(365, np.nan)
        for row in rows:
            if row.measure == measure and not START <= row.day < effect_from:
                series[(row.day - first).days] = row.value
        days = np.array([first + timedelta(days=i) for i in range(365)])
        exog = np.array([d >= effect_from for d in days], dtype=float)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fit = ARIMA(series, exog=exog, order=(1, 0, 0), trend="c").fit(cov_type="oim")
        fits[measure] = (float(fit.params[1]), float(fit.bse[1]))
    return fits


def monitoring_case() -> tuple[Callable[[], object], int]:
    """The monitoring call for one patient with a busy 42-day window."""
    from lowdose.core.diary import CheckIn, PlannedDose, SideEffect
    from lowdose.core.monitoring import monitor
    from lowdose.knowledge.evidence import load_side_effects
    from lowdose.knowledge.instruments import load_instruments
    from lowdose.knowledge.monitoring import load_monitoring_rules

    today = date(2025, 6, 30)
    checkins = [CheckIn(today - timedelta(days=i), dose_taken=i % 9 != 0,
                        dose_mg=3.0 if i < 20 else 1.5, dose_time=clock(22),
                        ratings={"pain": 5.0, "sleep": 6.0, "fatigue": 5.0},
                        side_effects=(SideEffect("vivid dreams", 1),) if i < 12 else ())
                for i in range(42)]
    plan = (PlannedDose(today - timedelta(days=60), 1.5), PlannedDose(today - timedelta(20), 3.0),
            PlannedDose(today + timedelta(days=5), 4.5))
    rules, course, instruments = load_monitoring_rules(), load_side_effects(), load_instruments()
    return (lambda: monitor(checkins, today=today, rules=rules, course=course, plan=plan,
                            instruments=instruments)), len(checkins)


def run(repeat: int) -> dict[str, Any]:
    from lowdose.core.outcomes import analyze_outcomes
    from lowdose.knowledge.instruments import load_instruments
    from lowdose.knowledge.monitoring import load_monitoring_rules

    rows = patient_year()
    instruments, rules = load_instruments(), load_monitoring_rules()

    def analysis() -> Any:
        return analyze_outcomes(rows, start=START, instruments=instruments, rules=rules)

    ours_ms = median_ms(analysis, repeat)
    report = analysis()
    started = time.perf_counter()
    reference = reference_fits(rows, report.effect_from)
    reference_ms = (time.perf_counter() - started) * 1000
    gaps = []
    for outcome in report.measures:
        assert outcome.effect is not None
        estimate, se = reference[outcome.measure]
        gaps.append(abs(outcome.effect.estimate - estimate) / se)
    monitor_call, window = monitoring_case()
    monitor_ms = median_ms(monitor_call, repeat * 4)
    return {
        "machine": f"{platform.machine()}, {platform.python_implementation()} "
                   f"{platform.python_version()}",
        "analysis_median_ms": round(ours_ms, 2),
        "budget_ms": BUDGET_MS,
        "within_budget": ours_ms <= BUDGET_MS,
        "reference": "statsmodels ARIMA(1,0,0) exact ML, 6 measures, one run",
        "reference_ms": round(reference_ms, 1),
        "reference_over_ours": round(reference_ms / ours_ms, 1),
        "max_estimate_gap_in_se": round(max(gaps), 3),
        "monitor_one_patient_ms": round(monitor_ms, 3),
        "monitor_window_days": window,
        "monitor_10000_patients_s": round(monitor_ms * 10_000 / 1000, 2),
    }


SECTION = "## Outcome analysis (bench/outcomes.py)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=50)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--write", action="store_true",
                        help="replace this benchmark's section of bench/RESULTS.md")
    args = parser.parse_args()
    result = run(args.repeat)
    if args.json:
        print(json.dumps(result, indent=2))
        return
    text = "\n".join([
        SECTION, "",
        "| what | median | budget / reference |",
        "|---|---|---|",
        f"| outcome analysis, one patient-year, 6 measures | {result['analysis_median_ms']} ms "
        f"| ≤ {BUDGET_MS:g} ms: {'within' if result['within_budget'] else 'OVER'} |",
        f"| reference: {result['reference']} | {result['reference_ms']} ms "
        f"| {result['reference_over_ours']}× ours; estimates within "
        f"{result['max_estimate_gap_in_se']} SE |",
        f"| monitoring flags, one patient, {result['monitor_window_days']}-day window "
        f"| {result['monitor_one_patient_ms']} ms "
        f"| × 10,000 patients ≈ {result['monitor_10000_patients_s']} s |",
        "", f"machine: {result['machine']}", ""])
    if args.write:
        write_section(SECTION, text)
    print(text)


if __name__ == "__main__":
    main()

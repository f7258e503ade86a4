"""Is it working? Per measure: the baseline before LDN, the titration and onset period, and
the maintenance phase after it; the effect (maintenance mean − baseline mean) with an interval
that respects day-to-day autocorrelation (core/stats.py), and the chance that the improvement
reaches the measure's minimal important difference. Summaries never claim more than the
interval supports: "consistent with no change" is an answer.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Literal

from lowdose.core.diary import Observation
from lowdose.core.stats import fit_level_shift
from lowdose.errors import InputError
from lowdose.knowledge.instruments import Direction, Instrument, MinimalImportantDifference
from lowdose.knowledge.monitoring import MonitoringRules

Status = Literal["ok", "insufficient-data"]

CAVEAT = ("A before–after comparison cannot separate LDN from other changes over the same "
          "time (season, other treatments, the natural course), and with several measures "
          "one can look changed by chance; your clinician can help weigh it.")


@dataclass(frozen=True)
class Phase:
    name: Literal["baseline", "titration", "maintenance"]
    days: int
    first: date | None = None
    last: date | None = None
    mean: float | None = None

    def to_dict(self) -> dict[str, object]:
        return {"name": self.name, "days": self.days,
                "first": None if self.first is None else self.first.isoformat(),
                "last": None if self.last is None else self.last.isoformat(),
                "mean": _round(self.mean)}


@dataclass(frozen=True)
class Effect:
    """compared − reference in the measure's units, with its interval and MID probability."""

    reference_mean: float
    compared_mean: float
    estimate: float
    low: float
    high: float
    coverage: float
    rho: float
    n_reference: int
    n_compared: int
    p_mid: float | None = None  # P(improvement ≥ MID); None without a direction or MID

    def to_dict(self) -> dict[str, object]:
        return {
            "estimate": _round(self.estimate),
            "interval": {"coverage": self.coverage, "low": _round(self.low),
                         "high": _round(self.high)},
            "p_mid_improvement": _round(self.p_mid),
            "autocorrelation": _round(self.rho),
        }


def estimate_effect(
    reference: Sequence[tuple[date, float]],
    compared: Sequence[tuple[date, float]],
    *,
    direction: Direction | None,
    mid: MinimalImportantDifference | None,
    coverage: float,
) -> Effect:
    """The AR(1) level-shift fit of compared vs reference days, read as an improvement."""
    days = [d.toordinal() for d, _ in (*reference, *compared)]
    values = [v for _, v in (*reference, *compared)]
    shifted = [False] * len(reference) + [True] * len(compared)
    fit = fit_level_shift(days, values, shifted)
    low, high = fit.interval(coverage)
    p_mid = None
    if direction is not None and mid is not None:
        # Lower is better: an improvement of at least the MID is a shift of −MID or below.
        p_mid = (fit.probability_above(mid.points) if direction == "higher-is-better"
                 else 1.0 - fit.probability_above(-mid.points))
    return Effect(
        reference_mean=fit.level, compared_mean=fit.level + fit.shift, estimate=fit.shift,
        low=low, high=high, coverage=coverage, rho=fit.rho, n_reference=fit.n_reference,
        n_compared=fit.n_shifted, p_mid=p_mid,
    )


@dataclass(frozen=True)
class MeasureOutcome:
    measure: str
    status: Status
    direction: Direction | None
    phases: tuple[Phase, Phase, Phase]
    summary: str
    sources: tuple[str, ...]
    reason: str = ""
    effect: Effect | None = None
    mid: MinimalImportantDifference | None = None

    @property
    def n_days(self) -> int:
        """Days that entered the estimate: baseline plus maintenance."""
        return self.phases[0].days + self.phases[2].days if self.effect else 0

    def to_dict(self) -> dict[str, object]:
        effect = self.effect
        # The fitted means, so treatment − baseline is exactly the effect; `phases` has the
        # plain averages of the recorded days.
        return {
            "measure": self.measure,
            "status": self.status,
            "reason": self.reason or None,
            "direction": self.direction,
            "baseline_mean": _round(effect.reference_mean) if effect else None,
            "treatment_mean": _round(effect.compared_mean) if effect else None,
            "effect": effect.to_dict() if effect else None,
            "mid": None if self.mid is None else {"points": self.mid.points,
                                                  "basis": self.mid.basis,
                                                  "sources": list(self.mid.sources)},
            "n_days": self.n_days,
            "phases": [phase.to_dict() for phase in self.phases],
            "summary": self.summary,
            "sources": list(self.sources),
        }


@dataclass(frozen=True)
class OutcomeReport:
    start: date
    onset_days: int
    effect_from: date
    measures: tuple[MeasureOutcome, ...]
    caveat: str = CAVEAT

    def to_dict(self) -> dict[str, object]:
        return {"start": self.start.isoformat(), "onset_days": self.onset_days,
                "effect_from": self.effect_from.isoformat(),
                "measures": [m.to_dict() for m in self.measures], "caveat": self.caveat}


def analyze_outcomes(
    observations: Iterable[Observation],
    *,
    start: date,
    instruments: Mapping[str, Instrument],
    rules: MonitoringRules,
    onset_days: int | None = None,
    maintenance_from: date | None = None,
) -> OutcomeReport:
    """Every measure in `observations`, analysed around the LDN start date.

    Days from `start` until `start + onset_days` (default: the cited onset lag), or until
    `maintenance_from` (the target dose reached) if later, are the titration phase and left out.
    """
    onset = rules.onset.days if onset_days is None else onset_days
    if onset < 0:
        raise InputError("onset_days", "must be 0 or more")
    if maintenance_from is not None and maintenance_from < start:
        raise InputError("maintenance_from", "is before the LDN start date")
    effect_from = max(start + timedelta(days=onset), maintenance_from or start)
    series = _series(observations, instruments)
    measures = tuple(
        _analyze_measure(name, days, start, effect_from, instruments.get(name), rules, onset)
        for name, days in sorted(series.items())
    )
    return OutcomeReport(start, onset, effect_from, measures)


def _series(observations: Iterable[Observation],
            instruments: Mapping[str, Instrument]) -> dict[str, dict[date, float]]:
    series: dict[str, dict[date, float]] = defaultdict(dict)
    for i, obs in enumerate(observations):
        check_value(i, obs, instruments)
        if obs.day in series[obs.measure]:
            raise InputError(f"observations.{i}",
                             f"a second value for {obs.measure} on {obs.day.isoformat()}")
        series[obs.measure][obs.day] = obs.value
    return series


def check_finite(i: int, obs: Observation) -> None:
    if not math.isfinite(obs.value):
        raise InputError(f"observations.{i}.value", "must be a finite number")


def check_value(i: int, obs: Observation, instruments: Mapping[str, Instrument]) -> None:
    """Refuse a value that is not finite or that the measure's instrument cannot take."""
    check_finite(i, obs)
    instrument = instruments.get(obs.measure)
    problem = None if instrument is None else instrument.total_problem(obs.value)
    if problem:
        raise InputError(f"observations.{i}.value", problem)


def _analyze_measure(name: str, values: dict[date, float], start: date, effect_from: date,
                     instrument: Instrument | None, rules: MonitoringRules,
                     onset: int) -> MeasureOutcome:
    baseline = sorted((d, v) for d, v in values.items() if d < start)
    titration = sorted((d, v) for d, v in values.items() if start <= d < effect_from)
    maintenance = sorted((d, v) for d, v in values.items() if d >= effect_from)
    phases = (_phase("baseline", baseline), _phase("titration", titration),
              _phase("maintenance", maintenance))
    direction = instrument.direction if instrument else None
    mid = instrument.mid if instrument else None
    sources = tuple(dict.fromkeys((*rules.onset.sources, *(mid.sources if mid else ()))))
    limits = rules.analysis
    reason = ""
    if len(baseline) < limits.min_baseline_days:
        reason = (f"{_days(len(baseline))} recorded before LDN started on {start.isoformat()}; "
                  f"a baseline needs at least {_days(limits.min_baseline_days)}.")
    elif len(maintenance) < limits.min_treatment_days:
        reason = (f"{_days(len(maintenance))} recorded from {effect_from.isoformat()}, after "
                  f"the {onset}-day onset period; at least "
                  f"{_days(limits.min_treatment_days)} are needed.")
    if reason:
        return MeasureOutcome(name, "insufficient-data", direction, phases,
                              f"Not enough data for {name} yet: {reason}", sources, reason,
                              mid=mid)
    effect = estimate_effect(baseline, maintenance, direction=direction, mid=mid,
                             coverage=limits.interval)
    summary = describe_effect(name, direction, effect, mid, versus="than before LDN")
    return MeasureOutcome(name, "ok", direction, phases, summary, sources, effect=effect,
                          mid=mid)


def describe_effect(name: str, direction: Direction | None, effect: Effect,
                    mid: MinimalImportantDifference | None, *, versus: str) -> str:
    """Plain words for an effect; what the interval cannot rule out is said, not hidden."""
    level = f"{effect.coverage:.0%}".replace("%", " %")
    if round(effect.estimate, 1) == 0:
        moved = f"about the same on average {versus.replace('than', 'as', 1)}"
    else:
        moved = (f"{abs(effect.estimate):.1f} points {_higher(effect.estimate)} on average "
                 f"{versus}")
    interval = _span(effect.low, effect.high)
    span = f"{level} interval: {interval}"
    no_change = (f"Consistent with no change: {name} was {moved}, but the {level} interval "
                 f"({interval}) includes no change.")
    if direction is None:
        if effect.low <= 0 <= effect.high:
            return no_change
        return f"{name.capitalize()} was {moved} ({span})."
    sign = 1.0 if direction == "higher-is-better" else -1.0
    worst, best = sorted((sign * effect.low, sign * effect.high))
    if worst > 0:
        text = f"{name.capitalize()} improved: {moved} ({span})."
    elif best < 0:
        text = f"{name.capitalize()} got worse: {moved} ({span}). Please tell your clinician."
    else:
        text = no_change
    if mid is not None and effect.p_mid is not None:
        guide = " (borrowed from pain ratings, a rough guide)" if mid.basis == "borrowed" else ""
        text += (f" Chance of an improvement of at least {mid.points:g} points, the smallest "
                 f"change patients usually notice{guide}: {_percent(effect.p_mid)}.")
    return text


def _higher(value: float) -> str:
    return "higher" if value > 0 else "lower"


def _span(low: float, high: float) -> str:
    """An interval in words: "0.9 to 2.5 lower", "1.5 lower to 0.1 higher"."""
    if round(low, 1) == round(high, 1) == 0:
        return "0.0 either way"
    if high <= 0:
        return f"{-high:.1f} to {-low:.1f} lower"
    if low >= 0:
        return f"{low:.1f} to {high:.1f} higher"
    return f"{-low:.1f} lower to {high:.1f} higher"


def _phase(name: Literal["baseline", "titration", "maintenance"],
           rows: Sequence[tuple[date, float]]) -> Phase:
    if not rows:
        return Phase(name, 0)
    return Phase(name, len(rows), rows[0][0], rows[-1][0], sum(v for _, v in rows) / len(rows))


def _days(n: int) -> str:
    return "1 day" if n == 1 else f"{n} days"


# Why a start date near year 9999 is refused (the analysis raises OverflowError there).
START_TOO_LATE = ("is so late that the days after it left out while LDN takes effect run "
                  "past the end of the calendar (year 9999)")


def chance_percent(p: float) -> str:
    """A probability for a table cell: never "0 %" or "100 %", which read as certainty."""
    return _bounded_percent(p, "<1 %", ">99 %", "{} %")


def _percent(p: float) -> str:
    return _bounded_percent(p, "less than 1 %", "more than 99 %", "about {} %")


def _bounded_percent(p: float, below: str, above: str, around: str) -> str:
    if p < 0.01:
        return below
    if p > 0.99:
        return above
    return around.format(round(p * 100))


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 3) + 0.0  # + 0.0: no "-0.0"

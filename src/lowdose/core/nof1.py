"""Planned n-of-1 comparisons: two dose levels, or morning vs bedtime dosing, in randomised
blocks. Each block holds one period of each arm in a random order (seeded, so the plan can be
rebuilt); the first days after every switch are a run-in and left out, so the previous arm has
washed out. The analysis is the one used for before/after LDN (core/outcomes.py), applied to
arm B against arm A.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, time, timedelta
from typing import Literal

from lowdose.core.diary import Observation
from lowdose.core.outcomes import (
    Effect,
    Status,
    check_finite,
    describe_effect,
    estimate_effect,
)
from lowdose.errors import InputError
from lowdose.knowledge.instruments import Direction, Instrument, MinimalImportantDifference
from lowdose.knowledge.monitoring import MonitoringRules

ArmCode = Literal["A", "B"]


@dataclass(frozen=True)
class Arm:
    dose_mg: float
    dose_time: time

    def describe(self) -> str:
        return f"{self.dose_mg:g} mg at {self.dose_time.strftime('%H:%M')}"

    def to_dict(self) -> dict[str, object]:
        return {"dose_mg": self.dose_mg, "dose_time": self.dose_time.strftime("%H:%M")}


@dataclass(frozen=True)
class Period:
    block: int  # 1-based
    arm: ArmCode
    first: date
    last: date
    run_in_days: int  # left out at the start of the period (after a switch)

    @property
    def analysed_from(self) -> date:
        return self.first + timedelta(days=self.run_in_days)

    def to_dict(self) -> dict[str, object]:
        return {"block": self.block, "arm": self.arm, "first": self.first.isoformat(),
                "last": self.last.isoformat(), "analysed_from": self.analysed_from.isoformat()}


@dataclass(frozen=True)
class Schedule:
    kind: Literal["dose", "timing"]
    a: Arm
    b: Arm
    periods: tuple[Period, ...]
    seed: int
    sources: tuple[str, ...]

    @property
    def first(self) -> date:
        return self.periods[0].first

    @property
    def last(self) -> date:
        return self.periods[-1].last

    def period_on(self, day: date) -> Period | None:
        return next((p for p in self.periods if p.first <= day <= p.last), None)

    def arm_on(self, day: date) -> Arm | None:
        """What to take on `day` (for the planner and the calendar); None outside the plan."""
        period = self.period_on(day)
        return None if period is None else (self.a if period.arm == "A" else self.b)

    def to_dict(self) -> dict[str, object]:
        return {"kind": self.kind, "a": self.a.to_dict(), "b": self.b.to_dict(),
                "seed": self.seed, "first": self.first.isoformat(),
                "last": self.last.isoformat(),
                "periods": [p.to_dict() for p in self.periods], "sources": list(self.sources)}


def plan_comparison(a: Arm, b: Arm, *, start: date, blocks: int, period_days: int,
                    run_in_days: int, seed: int, sources: tuple[str, ...] = (),
                    max_dose_mg: float | None = None, min_days_per_arm: int = 0) -> Schedule:
    """A randomised block schedule comparing exactly one thing: the dose or the time of day.

    `max_dose_mg` is the highest dose a plan accepts (the titration ceiling a clinician may
    set); `min_days_per_arm` the analysed days each arm needs (monitoring.toml [nof1]), so a
    schedule that could never be analysed is refused when it is planned, not at the end.
    """
    kind = _kind(a, b)
    for field, dose in (("a", a.dose_mg), ("b", b.dose_mg)):
        if max_dose_mg is not None and dose > max_dose_mg:
            raise InputError(f"{field}.dose_mg", f"{dose:g} mg is above the highest dose a "
                                                 f"plan accepts, {max_dose_mg:g} mg")
    if blocks < 2:
        raise InputError("blocks", "at least 2 blocks are needed to compare the arms")
    if run_in_days < 0:
        raise InputError("run_in_days", "must be 0 or more")
    if period_days <= run_in_days:
        raise InputError("period_days", "must be longer than the run-in")
    # At worst every period follows a switch and loses its run-in.
    if blocks * (period_days - run_in_days) < min_days_per_arm:
        raise InputError("period_days", f"{blocks} blocks of {period_days}-day periods with a "
                                        f"{run_in_days}-day run-in may leave fewer than "
                                        f"{min_days_per_arm} analysed days an arm")
    rng = random.Random(seed)  # noqa: S311 - a reproducible allocation, not a secret
    order: list[ArmCode] = []
    for _ in range(blocks):
        order.extend(("A", "B") if rng.random() < 0.5 else ("B", "A"))
    periods = []
    for i, arm in enumerate(order):
        first = start + timedelta(days=i * period_days)
        switched = i == 0 or order[i - 1] != arm
        periods.append(Period(block=i // 2 + 1, arm=arm, first=first,
                              last=first + timedelta(days=period_days - 1),
                              run_in_days=run_in_days if switched else 0))
    return Schedule(kind, a, b, tuple(periods), seed, sources)


def _kind(a: Arm, b: Arm) -> Literal["dose", "timing"]:
    for field, arm in (("a", a), ("b", b)):
        if arm.dose_mg <= 0:
            raise InputError(f"{field}.dose_mg", "must be above 0")
    same_dose, same_time = a.dose_mg == b.dose_mg, a.dose_time == b.dose_time
    if same_dose == same_time:
        raise InputError("b", "the arms must differ in exactly one thing: the dose or the "
                              "time of day, so a difference can be put down to it")
    return "timing" if same_dose else "dose"


@dataclass(frozen=True)
class ComparisonOutcome:
    measure: str
    status: Status
    direction: Direction | None
    n_a: int
    n_b: int
    summary: str
    reason: str = ""
    effect: Effect | None = None  # B − A
    mid: MinimalImportantDifference | None = None

    def to_dict(self) -> dict[str, object]:
        effect = self.effect
        return {
            "measure": self.measure, "status": self.status, "reason": self.reason or None,
            "direction": self.direction, "n_days": {"A": self.n_a, "B": self.n_b},
            "mean_a": None if effect is None else round(effect.reference_mean, 3),
            "mean_b": None if effect is None else round(effect.compared_mean, 3),
            "effect": None if effect is None else effect.to_dict(),
            "summary": self.summary,
        }


def analyze_comparison(schedule: Schedule, observations: Iterable[Observation], *,
                       instruments: Mapping[str, Instrument],
                       rules: MonitoringRules) -> tuple[ComparisonOutcome, ...]:
    """B against A for every measure, using only analysed days (not run-in, not outside)."""
    arms: dict[str, dict[ArmCode, list[tuple[date, float]]]] = {}
    seen: set[tuple[str, date]] = set()
    for i, obs in enumerate(observations):
        check_finite(i, obs)  # a NaN would otherwise fail deep in the fit
        if (obs.measure, obs.day) in seen:
            raise InputError(f"observations.{i}",
                             f"a second value for {obs.measure} on {obs.day.isoformat()}")
        seen.add((obs.measure, obs.day))
        period = schedule.period_on(obs.day)
        by_arm = arms.setdefault(obs.measure, {"A": [], "B": []})
        if period is not None and obs.day >= period.analysed_from:
            by_arm[period.arm].append((obs.day, obs.value))
    return tuple(_compare(schedule, name, by_arm, instruments.get(name), rules)
                 for name, by_arm in sorted(arms.items()))


def _compare(schedule: Schedule, name: str, by_arm: dict[ArmCode, list[tuple[date, float]]],
             instrument: Instrument | None, rules: MonitoringRules) -> ComparisonOutcome:
    direction = instrument.direction if instrument else None
    mid = instrument.mid if instrument else None
    need = rules.nof1.min_days_per_arm
    n_a, n_b = len(by_arm["A"]), len(by_arm["B"])
    if min(n_a, n_b) < need:
        reason = (f"{n_a} analysed days on A and {n_b} on B; each arm needs at least {need}.")
        return ComparisonOutcome(name, "insufficient-data", direction, n_a, n_b,
                                 f"Not enough data for {name} yet: {reason}", reason, mid=mid)
    effect = estimate_effect(sorted(by_arm["A"]), sorted(by_arm["B"]), direction=direction,
                             mid=mid, coverage=rules.analysis.interval)
    versus = f"on B ({schedule.b.describe()}) than on A ({schedule.a.describe()})"
    summary = describe_effect(name, direction, effect, mid, versus=versus)
    return ComparisonOutcome(name, "ok", direction, n_a, n_b, summary, effect=effect, mid=mid)

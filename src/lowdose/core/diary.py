"""The daily diary as core types: check-ins (design §3.4) and the observations analysed.

Services turn stored check-ins into these; core functions never read the store.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, time


@dataclass(frozen=True)
class SideEffect:
    name: str
    severity: int  # 0 none, 1 mild, 2 moderate, 3 severe

    def to_dict(self) -> dict[str, object]:
        return {"name": self.name, "severity": self.severity}


@dataclass(frozen=True)
class CheckIn:
    day: date
    dose_taken: bool | None = None  # None: not recorded
    dose_mg: float | None = None
    dose_time: time | None = None
    ratings: Mapping[str, float] = field(default_factory=dict)
    side_effects: tuple[SideEffect, ...] = ()
    note: str = ""

    def present_effects(self) -> tuple[SideEffect, ...]:
        """Side effects actually felt that day (severity 0 records an absence)."""
        return tuple(effect for effect in self.side_effects if effect.severity > 0)


@dataclass(frozen=True)
class Observation:
    """One value of one measure on one day: a row of `lowdose analyze`'s CSV."""

    day: date
    measure: str
    value: float


@dataclass(frozen=True)
class PlannedDose:
    """A titration step as the monitoring needs it: from `start`, take `dose_mg` daily."""

    start: date
    dose_mg: float


def observations(checkins: Iterable[CheckIn]) -> list[Observation]:
    """Every rating in the check-ins as an observation (one per measure per day)."""
    return [Observation(c.day, measure, float(value))
            for c in checkins for measure, value in sorted(c.ratings.items())]

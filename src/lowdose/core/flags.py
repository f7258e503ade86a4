"""A monitoring flag: what needs attention, how urgently, why, and on what evidence.

The clinician's panel and the patient's home show the same flags.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

from lowdose.knowledge.monitoring import LEVELS, Level


@dataclass(frozen=True)
class Flag:
    code: str
    level: Level
    reason: str
    sources: tuple[str, ...]
    day: date  # the diary day the flag is about

    def to_dict(self) -> dict[str, object]:
        return {"code": self.code, "level": self.level, "reason": self.reason,
                "sources": list(self.sources), "date": self.day.isoformat()}


def most_severe_first(flags: Iterable[Flag]) -> list[Flag]:
    """Urgent before attention before info; within a level, the newest first."""
    return sorted(flags, key=lambda f: (LEVELS.index(f.level), -f.day.toordinal(), f.code))

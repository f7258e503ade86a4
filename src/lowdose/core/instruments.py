"""Scoring a completed questionnaire: the total, its band, and the flags it raises.

An item alert (PHQ-9 item 9 above 0) raises its flag whatever the total; a band with a level
(e.g. a severe PHQ-9 total) raises one too.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date

from lowdose.core.flags import Flag, most_severe_first
from lowdose.errors import InputError
from lowdose.knowledge.instruments import Instrument


@dataclass(frozen=True)
class Score:
    instrument: str
    day: date
    total: int
    band: str | None
    answers: tuple[tuple[str, int], ...]
    flags: tuple[Flag, ...] = ()

    def to_dict(self) -> dict[str, object]:
        return {
            "instrument": self.instrument,
            "date": self.day.isoformat(),
            "total": self.total,
            "band": self.band,
            "answers": dict(self.answers),
            "flags": [flag.to_dict() for flag in self.flags],
        }


def score(instrument: Instrument, answers: Mapping[str, object], day: date) -> Score:
    """Score one completed questionnaire. Every item needs a valid answer: a partial one is
    refused rather than scored low, because a missing item 9 must not read as "not at all"."""
    checked = _checked_answers(instrument, answers)
    total = sum(checked.values())
    band = instrument.band_for(total)
    flags = [Flag(alert.code, alert.level, alert.reason, alert.sources, day)
             for alert in instrument.alerts if checked[alert.item] > alert.above]
    if band is not None and band.level is not None:
        flags.append(Flag(f"{instrument.id}-{band.label.replace(' ', '-')}", band.level,
                          band.reason.format(score=total), band.sources, day))
    return Score(
        instrument=instrument.id, day=day, total=total,
        band=None if band is None else band.label,
        answers=tuple((item.id, checked[item.id]) for item in instrument.items),
        flags=tuple(most_severe_first(flags)),
    )


def _checked_answers(instrument: Instrument, answers: Mapping[str, object]) -> dict[str, int]:
    items = {item.id: item for item in instrument.items}
    unknown = sorted(set(answers) - set(items))
    if unknown:
        raise InputError(f"answers.{unknown[0]}", f"is not an item of {instrument.id}")
    checked: dict[str, int] = {}
    for item_id, item in items.items():
        if item_id not in answers:
            raise InputError(f"answers.{item_id}", f"is missing: {item.text}")
        value = answers[item_id]
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int) or not item.allows(value):
            raise InputError(f"answers.{item_id}",
                             f"{value!r} is not allowed; expected {item.describe_allowed()}")
        checked[item_id] = value
    return checked

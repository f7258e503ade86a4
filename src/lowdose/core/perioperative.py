"""Holding LDN before surgery: the last dose, whether the hold can still be met, what to tell
the surgical team, when to ask about restarting, and calendar entries for all three.

Times are local wall-clock times without a time zone (as the patient reads them off a clock).
Given the place's `zone`, the hold counts real hours, so a daylight-saving change inside it
cannot shorten it; without one, hours are counted on the clock face.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta, tzinfo
from typing import NamedTuple

from lowdose.errors import InputError
from lowdose.knowledge.regimens import Passage, PerioperativeFacts

_DAY = timedelta(days=1)


class CalendarEvent(NamedTuple):
    start: datetime
    title: str
    description: str


@dataclass(frozen=True)
class HoldPlan:
    surgery_at: datetime
    hold_hours: float
    last_dose_by: datetime
    can_meet_hold: bool
    restart_guidance: str
    surgical_team_note: str
    sources: tuple[str, ...]
    last_taken: datetime | None = None
    calendar: tuple[CalendarEvent, ...] = ()

    def events(self) -> list[CalendarEvent]:
        """Calendar-ready entries: last dose, surgery, restart reminder."""
        return list(self.calendar)

    def to_dict(self) -> dict[str, object]:
        return {
            "surgery_at": _iso(self.surgery_at),
            "hold_hours": _json_number(self.hold_hours),
            "last_dose_by": _iso(self.last_dose_by),
            "can_meet_hold": self.can_meet_hold,
            "last_taken": None if self.last_taken is None else _iso(self.last_taken),
            "restart_guidance": self.restart_guidance,
            "surgical_team_note": self.surgical_team_note,
            "sources": list(self.sources),
        }


def plan_hold(
    *,
    surgery_at: datetime,
    dose_time: time,
    hold_hours: float,
    as_of: datetime,
    last_taken: datetime | None,
    facts: PerioperativeFacts,
    dose_mg: float | None = None,
    zone: tzinfo | None = None,
) -> HoldPlan:
    """Plan the hold of a daily dose taken at `dose_time` before surgery at `surgery_at`.

    `last_taken` is the last dose already taken, if known; `dose_mg` only improves the note;
    `zone` is where the clock times are read (see the module note).
    """
    _check(surgery_at, dose_time, hold_hours, as_of, last_taken, dose_mg, facts)
    hold = timedelta(hours=hold_hours)
    last_dose_by = _last_dose_by(surgery_at, dose_time, hold, zone)
    # Before the planned last dose, the last dose taken is just the latest daily one: the
    # plan still ends at `last_dose_by`. After it, a patient whose last dose was early enough
    # has stopped and meets the hold.
    on_time = elapsed(as_of, last_dose_by, zone) >= timedelta(0)
    stopped = (not on_time and last_taken is not None
               and elapsed(last_taken, surgery_at, zone) >= hold)
    can_meet = stopped or on_time
    values = _note_values(surgery_at, dose_time, hold_hours, last_dose_by, last_taken, dose_mg,
                          dose_unknown=facts.team_note.dose_unknown, zone=zone)
    note = _team_note(facts, values, stopped=stopped, can_meet=can_meet,
                      last_known=last_taken is not None)
    restart = facts.restart
    last_dose = last_taken if stopped and last_taken is not None else last_dose_by
    cal = facts.calendar
    calendar = (
        CalendarEvent(last_dose, cal.last_dose_title, cal.last_dose_text),
        CalendarEvent(surgery_at, cal.surgery_title, note.text),
        CalendarEvent(first_dose_after(surgery_at, dose_time), cal.restart_title, restart.text),
    )
    sources = (*facts.hold_sources, *note.sources, *restart.sources, *cal.sources)
    return HoldPlan(
        surgery_at=surgery_at,
        hold_hours=hold_hours,
        last_dose_by=last_dose_by,
        can_meet_hold=can_meet,
        restart_guidance=restart.text,
        surgical_team_note=note.text,
        sources=tuple(dict.fromkeys(sources)),
        last_taken=last_taken,
        calendar=calendar,
    )


def elapsed(start: datetime, end: datetime, zone: tzinfo | None) -> timedelta:
    """Real time from `start` to `end`, local clock times read in `zone` (clock-face hours
    without one): across a spring-forward night 08:00 to 08:00 is 23 hours."""
    if zone is None:
        return end - start
    return end.replace(tzinfo=zone).astimezone(UTC) - start.replace(tzinfo=zone).astimezone(UTC)


def _last_dose_by(surgery_at: datetime, dose_time: time, hold: timedelta,
                  zone: tzinfo | None) -> datetime:
    """The latest daily dose at least `hold` of real time before surgery."""
    # The clock-face answer is off by at most the daylight-saving shift: try the next day's
    # dose too, then step back until the real interval is long enough.
    dose = latest_dose_at_or_before(surgery_at - hold, dose_time) + _DAY
    while elapsed(dose, surgery_at, zone) < hold:
        dose -= _DAY
    return dose


def latest_dose_at_or_before(moment: datetime, dose_time: time) -> datetime:
    """The last daily dose at `dose_time` that falls at or before `moment`."""
    dose = datetime.combine(moment.date(), dose_time)
    return dose if dose <= moment else dose - _DAY


def first_dose_after(moment: datetime, dose_time: time) -> datetime:
    """The first daily dose at `dose_time` strictly after `moment`."""
    dose = datetime.combine(moment.date(), dose_time)
    return dose if dose > moment else dose + _DAY


def _check(
    surgery_at: datetime,
    dose_time: time,
    hold_hours: float,
    as_of: datetime,
    last_taken: datetime | None,
    dose_mg: float | None,
    facts: PerioperativeFacts,
) -> None:
    for field, moment in (("surgery_at", surgery_at), ("as_of", as_of),
                          ("last_taken", last_taken), ("dose_time", dose_time)):
        # Mixing zoned and local times would silently compare the wrong instants.
        if moment is not None and moment.tzinfo is not None:
            raise InputError(field, "give the local clock time without a time zone")
    limit = facts.max_hold_hours
    if not (math.isfinite(hold_hours) and 0 < hold_hours <= limit):
        raise InputError("hold_hours", f"must be more than 0 and at most {limit:g} hours "
                                       f"({limit / 24:g} days); got {hold_hours:g}")
    if last_taken is not None and last_taken > as_of:
        raise InputError("last_taken", f"{readable(last_taken)} is later than now "
                                       f"({readable(as_of)}); give a dose already taken")
    if dose_mg is not None and not (math.isfinite(dose_mg) and dose_mg > 0):
        raise InputError("dose_mg", f"must be a positive number of mg; got {dose_mg:g}")


def _note_values(
    surgery_at: datetime,
    dose_time: time,
    hold_hours: float,
    last_dose_by: datetime,
    last_taken: datetime | None,
    dose_mg: float | None,
    *,
    dose_unknown: str,
    zone: tzinfo | None,
) -> dict[str, str]:
    """What the note templates may name, as readable text."""
    return {
        "dose": dose_unknown if dose_mg is None else f"{dose_mg:g} mg",
        "dose_time": dose_time.isoformat("minutes"),  # as strftime("%H:%M"): _check saw no zone
        "hold_hours": f"{hold_hours:g}",
        "surgery_at": readable(surgery_at),
        "last_dose_by": readable(last_dose_by),
        "last_taken": "" if last_taken is None else readable(last_taken),
        "gap_hours": "" if last_taken is None else _hours(elapsed(last_taken, surgery_at, zone)),
    }


def _team_note(
    facts: PerioperativeFacts,
    values: dict[str, str],
    *,
    stopped: bool,
    can_meet: bool,
    last_known: bool,
) -> Passage:
    """Intro, then what happened or will happen to the hold, then the restart rule."""
    texts = facts.team_note
    middle: tuple[Passage, ...]
    if stopped:
        middle = (texts.last_taken, texts.hold_met)
    elif can_meet:
        middle = (texts.planned,)
    else:
        middle = (texts.last_taken, texts.blockade) if last_known else (texts.last_unknown,)
    passages = (texts.intro, *middle, texts.restart)
    return Passage(
        text=" ".join(p.text.format_map(values) for p in passages),
        sources=tuple(dict.fromkeys(s for p in passages for s in p.sources)),
    )


def _hours(interval: timedelta) -> str:
    return f"{round(interval / timedelta(hours=1), 1):g}"


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M")


def readable(moment: datetime) -> str:
    """`2025-06-20 10:00`: what `strftime("%Y-%m-%d %H:%M")` writes. A screen with a
    procedure writes five of these, and `isoformat` makes the same text in a third of the
    time; years before 1000 (which platforms' strftime write differently) and zoned times
    (isoformat adds the offset) still go through strftime."""
    if moment.year < 1000 or moment.tzinfo is not None:
        return moment.strftime("%Y-%m-%d %H:%M")
    return moment.isoformat(" ", "minutes")


def _json_number(value: float) -> float | int:
    """72.0 → 72, so the JSON reads like the contract; 36.5 stays as it is."""
    return int(value) if float(value).is_integer() else value

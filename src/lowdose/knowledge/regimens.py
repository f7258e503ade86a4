"""Typed loaders for regimen facts: dose timing, titration protocols, perioperative hold.

The facts live in `knowledge/data/{protocols,perioperative}.toml`; each loader reads its file
once and returns frozen dataclasses that core functions take as arguments.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from datetime import time
from functools import cache
from importlib import resources
from typing import Any


@dataclass(frozen=True)
class Passage:
    """A text (a template when it holds `{names}`) and the source ids behind it."""

    text: str
    sources: tuple[str, ...] = ()


@dataclass(frozen=True)
class DoseTimes:
    """Clock times for a once-daily dose: bedtime is the default, morning the alternative."""

    bedtime: time
    morning: time
    sources: tuple[str, ...]


@dataclass(frozen=True)
class TeamNoteTexts:
    """The sentences a note for the surgical team is built from."""

    intro: Passage
    dose_unknown: str
    planned: Passage
    last_taken: Passage
    last_unknown: Passage
    hold_met: Passage
    blockade: Passage
    restart: Passage


@dataclass(frozen=True)
class CalendarTexts:
    last_dose_title: str
    last_dose_text: str
    surgery_title: str
    restart_title: str
    sources: tuple[str, ...]


@dataclass(frozen=True)
class PerioperativeFacts:
    default_hold_hours: float
    max_hold_hours: float
    hold_sources: tuple[str, ...]
    default_dose_time: time
    team_note: TeamNoteTexts
    restart: Passage
    calendar: CalendarTexts

    @property
    def sources(self) -> tuple[str, ...]:
        """Every source id these facts cite, first mention first."""
        note = self.team_note
        passages = (note.intro, note.planned, note.last_taken, note.last_unknown,
                    note.hold_met, note.blockade, note.restart, self.restart)
        ids = [*self.hold_sources, *(s for p in passages for s in p.sources),
               *self.calendar.sources]
        return tuple(dict.fromkeys(ids))


def _read(name: str) -> dict[str, Any]:
    text = resources.files("lowdose.knowledge").joinpath("data", name).read_text("utf-8")
    return tomllib.loads(text)


def _sources(table: dict[str, Any]) -> tuple[str, ...]:
    return tuple(str(s) for s in table.get("sources", ()))


def _passage(table: dict[str, Any]) -> Passage:
    return Passage(text=str(table["text"]), sources=_sources(table))


@cache
def load_dose_times() -> DoseTimes:
    timing = _read("protocols.toml")["timing"]
    return DoseTimes(
        bedtime=time.fromisoformat(timing["bedtime"]),
        morning=time.fromisoformat(timing["morning"]),
        sources=_sources(timing),
    )


@cache
def load_perioperative_facts() -> PerioperativeFacts:
    data = _read("perioperative.toml")
    hold, note, cal = data["hold"], data["team_note"], data["calendar"]
    return PerioperativeFacts(
        default_hold_hours=float(hold["default_hours"]),
        max_hold_hours=float(hold["max_hours"]),
        hold_sources=_sources(hold),
        # One fact in one place: the hold assumes the usual bedtime dose unless told otherwise.
        default_dose_time=load_dose_times().bedtime,
        team_note=TeamNoteTexts(
            intro=_passage(note["intro"]),
            dose_unknown=str(note["intro"]["dose_unknown"]),
            planned=_passage(note["planned"]),
            last_taken=_passage(note["last_taken"]),
            last_unknown=_passage(note["last_unknown"]),
            hold_met=_passage(note["hold_met"]),
            blockade=_passage(note["blockade"]),
            restart=_passage(note["restart"]),
        ),
        restart=_passage(data["restart"]),
        calendar=CalendarTexts(
            last_dose_title=str(cal["last_dose_title"]),
            last_dose_text=str(cal["last_dose_text"]),
            surgery_title=str(cal["surgery_title"]),
            restart_title=str(cal["restart_title"]),
            sources=_sources(cal),
        ),
    )

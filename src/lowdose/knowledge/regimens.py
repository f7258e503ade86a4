"""Typed loaders for regimen facts: dose timing, titration protocols, perioperative hold.

The facts live in `knowledge/data/{protocols,perioperative}.toml`; each loader reads its file
once and returns frozen dataclasses that core functions take as arguments.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import time
from functools import cache
from typing import Any

from lowdose.knowledge.sources import read_toml


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
class Protocol:
    """A titration preset. `step_mg`/`every_days` are None for a fixed dose; `mg_per_kg`
    makes start and target weight-based (at most `max_mg`)."""

    name: str
    title: str
    start_mg: float | None
    step_mg: float | None
    every_days: int | None
    target_mg: float | None
    mg_per_kg: float | None
    max_mg: float | None
    liquid_mg_per_ml: float | None
    notes: tuple[str, ...]
    sources: tuple[str, ...]


@dataclass(frozen=True)
class Ceiling:
    usual_mg: float
    trial_max_mg: float
    override_max_mg: float
    above_usual: str
    sources: tuple[str, ...]


@dataclass(frozen=True)
class StepNotes:
    first: str
    last_up: str
    last_down: str
    stop: str


@dataclass(frozen=True)
class ToleranceFacts:
    """Parameters and reason templates of the next-step rules."""

    window_days: int
    min_days_recorded: int
    hold_severity: int
    sleep_days: int
    morning_until: time
    sleep_terms: tuple[str, ...]
    red_flags: tuple[str, ...]  # word stems, found anywhere in a side effect's name
    sources: tuple[str, ...]
    reasons: dict[str, Passage]
    # The red-flag phrases patients are shown (side_effects.toml), matched as whole words.
    red_flag_phrases: tuple[str, ...]


@dataclass(frozen=True)
class HomeDilution:
    tablets: int
    volume_ml: float
    warning: Passage


@dataclass(frozen=True)
class FormulationFacts:
    tablet_mg: float
    tablet_sources: tuple[str, ...]
    liquid_room_days: int
    liquid_fridge_days: int
    liquid_storage: Passage
    syringe_resolution_ml: float
    syringe_rounding: Passage
    capsule_resolution_mg: float
    capsule_sources: tuple[str, ...]
    fillers: Passage
    home_dilution: HomeDilution
    refill_lead_days: int
    refill_sources: tuple[str, ...]
    # The highest LDN dose in the sources ([ceiling] of protocols.toml, one fact in one place).
    max_dose_mg: float


@dataclass(frozen=True)
class TitrationFacts:
    protocols: tuple[Protocol, ...]
    ceiling: Ceiling
    general: Passage
    step_notes: StepNotes
    start_rounded: str
    target_rounded: str
    times: DoseTimes
    tolerance: ToleranceFacts
    formulation: FormulationFacts

    def protocol(self, name: str) -> Protocol | None:
        return next((p for p in self.protocols if p.name == name), None)


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


_read = read_toml


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


def _optional_float(table: dict[str, Any], key: str) -> float | None:
    return None if key not in table else float(table[key])


def _protocol(table: dict[str, Any]) -> Protocol:
    every = table.get("every_days")
    return Protocol(
        name=str(table["name"]),
        title=str(table["title"]),
        start_mg=_optional_float(table, "start_mg"),
        step_mg=_optional_float(table, "step_mg"),
        every_days=None if every is None else int(every),
        target_mg=_optional_float(table, "target_mg"),
        mg_per_kg=_optional_float(table, "mg_per_kg"),
        max_mg=_optional_float(table, "max_mg"),
        liquid_mg_per_ml=_optional_float(table, "liquid_mg_per_ml"),
        notes=tuple(str(n) for n in table.get("notes", ())),
        sources=_sources(table),
    )


def _tolerance(table: dict[str, Any]) -> ToleranceFacts:
    from lowdose.knowledge.evidence import load_side_effects  # only plans need the red flags

    return ToleranceFacts(
        window_days=int(table["window_days"]),
        min_days_recorded=int(table["min_days_recorded"]),
        hold_severity=int(table["hold_severity"]),
        sleep_days=int(table["sleep_days"]),
        morning_until=time.fromisoformat(table["morning_until"]),
        sleep_terms=tuple(str(t) for t in table["sleep_terms"]),
        red_flags=tuple(str(t) for t in table["red_flags"]),
        sources=_sources(table),
        # Every sub-table of [tolerance] is the reason text of one rule.
        reasons={k: _passage(v) for k, v in table.items() if isinstance(v, dict)},
        red_flag_phrases=tuple(t for flag in load_side_effects().red_flags
                               for t in flag.triggers),
    )


@cache
def load_formulation_facts() -> FormulationFacts:
    data = _read("formulation.toml")
    liquid, syringe, capsule = data["liquid"], data["syringe"], data["capsule"]
    home = data["home_dilution"]
    return FormulationFacts(
        tablet_mg=float(data["tablet"]["strength_mg"]),
        tablet_sources=_sources(data["tablet"]),
        liquid_room_days=int(liquid["room_days"]),
        liquid_fridge_days=int(liquid["fridge_days"]),
        liquid_storage=Passage(str(liquid["storage"]), _sources(liquid)),
        syringe_resolution_ml=float(syringe["resolution_ml"]),
        syringe_rounding=Passage(str(syringe["rounding"]), _sources(syringe)),
        capsule_resolution_mg=float(capsule["resolution_mg"]),
        capsule_sources=_sources(capsule),
        fillers=Passage(str(capsule["fillers"]), tuple(capsule["filler_sources"])),
        home_dilution=HomeDilution(
            tablets=int(home["tablets"]),
            volume_ml=float(home["volume_ml"]),
            warning=Passage(str(home["warning"]), _sources(home)),
        ),
        refill_lead_days=int(data["refill"]["lead_days"]),
        refill_sources=_sources(data["refill"]),
        max_dose_mg=float(_read("protocols.toml")["ceiling"]["override_max_mg"]),
    )


@cache
def load_titration_facts() -> TitrationFacts:
    data = _read("protocols.toml")
    ceiling, general = data["ceiling"], data["general"]
    return TitrationFacts(
        protocols=tuple(_protocol(p) for p in data["protocol"]),
        ceiling=Ceiling(
            usual_mg=float(ceiling["usual_mg"]),
            trial_max_mg=float(ceiling["trial_max_mg"]),
            override_max_mg=float(ceiling["override_max_mg"]),
            above_usual=str(ceiling["above_usual"]),
            sources=_sources(ceiling),
        ),
        general=_passage(general),
        step_notes=StepNotes(
            first=str(general["first_step"]),
            last_up=str(general["last_step_up"]),
            last_down=str(general["last_step_down"]),
            stop=str(general["stop_step"]),
        ),
        start_rounded=str(general["start_rounded"]),
        target_rounded=str(general["target_rounded"]),
        times=load_dose_times(),
        tolerance=_tolerance(data["tolerance"]),
        formulation=load_formulation_facts(),
    )

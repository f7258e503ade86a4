"""Dated LDN dose plans (from a preset or custom numbers) and the next-step suggestion from
recent diary days. A plan and a suggestion support the clinician's decision; they do not
replace it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, time, timedelta
from fractions import Fraction
from typing import Literal

from lowdose.core.diary import SideEffect
from lowdose.core.formulation import Form, Measure, capsule_measure, exact, liquid_measure, marks
from lowdose.errors import InputError
from lowdose.knowledge.evidence import FreeText, vocabulary
from lowdose.knowledge.regimens import Passage, Protocol, TitrationFacts

Timing = Literal["bedtime", "morning"]
Action = Literal["advance", "hold", "step_back", "move_to_morning", "stop_and_call"]
CUSTOM = "custom"


@dataclass(frozen=True)
class Step:
    number: int
    start: date
    end: date | None  # None: the last step, which lasts until the plan changes
    dose_mg: float
    dose_ml: float | None
    time: time
    note: str | None = None

    def to_dict(self) -> dict[str, object]:
        data: dict[str, object] = {
            "step": self.number,
            "from": self.start.isoformat(),
            "to": None if self.end is None else self.end.isoformat(),
            "dose_mg": self.dose_mg,
        }
        if self.dose_ml is not None:
            data["dose_ml"] = self.dose_ml
        data["time"] = self.time.strftime("%H:%M")
        if self.note:
            data["note"] = self.note
        return data


@dataclass(frozen=True)
class Plan:
    protocol: str
    steps: tuple[Step, ...]
    target_mg: float
    every_days: int | None
    form: Form
    mg_per_ml: float | None
    notes: tuple[str, ...]
    sources: tuple[str, ...]

    @property
    def doses(self) -> tuple[float, ...]:
        return tuple(step.dose_mg for step in self.steps)

    def capsule_strengths(self) -> tuple[float, ...]:
        """The capsule strengths a pharmacy must make for this plan (one capsule a day)."""
        return tuple(sorted({dose for dose in self.doses if dose > 0}))

    def to_dict(self) -> dict[str, object]:
        data: dict[str, object] = {
            "protocol": self.protocol,
            "form": self.form,
            "steps": [step.to_dict() for step in self.steps],
            "target_mg": self.target_mg,
        }
        if self.form == "capsule":
            data["capsule_strengths_mg"] = list(self.capsule_strengths())
        else:
            data["mg_per_ml"] = self.mg_per_ml
        data["sources"] = list(self.sources)
        data["notes"] = list(self.notes)
        return data


@dataclass(frozen=True)
class _Spec:
    """The numbers a plan is built from, exact, after preset and overrides are merged.
    `step` is 0 and `every` None when the plan stays on one dose."""

    start: Fraction
    step: Fraction
    every: int | None
    target: Fraction
    ceiling: Fraction


def plan(
    *,
    from_date: date,
    facts: TitrationFacts,
    protocol: str | None = None,
    start_mg: float | None = None,
    step_mg: float | None = None,
    every_days: int | None = None,
    target_mg: float | None = None,
    weight_kg: float | None = None,
    liquid_mg_per_ml: float | None = None,
    syringe_resolution_ml: float | None = None,
    timing: Timing = "bedtime",
    clinician_override: bool = False,
) -> Plan:
    """A dated plan from `from_date`: a preset (`protocol`), custom numbers, or a preset with
    some numbers changed. Capsules unless a liquid strength is given (or the preset is a
    liquid one); doses are rounded to what the formulation can measure."""
    preset = _preset(facts, protocol)
    measure = _measure(facts, preset, liquid_mg_per_ml, syringe_resolution_ml)
    spec = _spec(preset, facts, start_mg, step_mg, every_days, target_mg, weight_kg,
                 clinician_override)
    doses = _ladder(spec, measure)
    dose_time = _dose_time(facts, timing)
    steps = _dated_steps(doses, spec, measure, from_date, dose_time, facts)
    notes: list[Passage] = [facts.general]
    if preset is not None:
        notes.append(Passage(" ".join(preset.notes), preset.sources))
    if spec.target > spec.ceiling:
        notes.append(Passage(facts.ceiling.above_usual, facts.ceiling.sources))
    if doses[0] != spec.start and spec.start != spec.target:
        notes.append(Passage(facts.start_rounded.format(
            start=f"{float(spec.start):g}", measured=f"{float(doses[0]):g}")))
    if doses[-1] != spec.target:
        notes.append(Passage(facts.target_rounded.format(
            target=f"{float(spec.target):g}", measured=f"{float(doses[-1]):g}")))
    notes.append(_formulation_note(facts, measure))
    sources = (*(s for p in notes for s in p.sources), *facts.times.sources)
    return Plan(
        protocol=CUSTOM if preset is None else preset.name,
        steps=steps,
        target_mg=float(doses[-1]),
        every_days=spec.every,
        form=measure.form,
        mg_per_ml=None if measure.mg_per_ml is None else float(measure.mg_per_ml),
        notes=tuple(p.text for p in notes if p.text),
        sources=tuple(dict.fromkeys(sources)),
    )


def _preset(facts: TitrationFacts, name: str | None) -> Protocol | None:
    if name is None or name == CUSTOM:
        return None
    found = facts.protocol(name)
    if found is None:
        names = ", ".join(p.name for p in facts.protocols)
        raise InputError("protocol", f"unknown protocol {name!r}; choose one of: {names}")
    return found


def _measure(
    facts: TitrationFacts,
    preset: Protocol | None,
    liquid_mg_per_ml: float | None,
    syringe_resolution_ml: float | None,
) -> Measure:
    conc = liquid_mg_per_ml if liquid_mg_per_ml is not None else (
        None if preset is None else preset.liquid_mg_per_ml)
    if conc is None:
        if syringe_resolution_ml is not None:
            raise InputError("syringe_resolution_ml", "applies to a liquid: give "
                                                      "liquid_mg_per_ml too")
        return capsule_measure(facts.formulation)
    res = (facts.formulation.syringe_resolution_ml if syringe_resolution_ml is None
           else syringe_resolution_ml)
    return liquid_measure(conc, res)


def _spec(
    preset: Protocol | None,
    facts: TitrationFacts,
    start_mg: float | None,
    step_mg: float | None,
    every_days: int | None,
    target_mg: float | None,
    weight_kg: float | None,
    clinician_override: bool,
) -> _Spec:
    ceiling = exact(facts.ceiling.usual_mg)
    start = target = step = None
    every = None
    if preset is not None:
        start, target, step = preset.start_mg, preset.target_mg, preset.step_mg
        every = preset.every_days
        if preset.mg_per_kg is not None:
            ceiling = _weight_ceiling(preset, weight_kg, ceiling)
            start = target = float(ceiling)
    start = _given("start_mg", start_mg, start)
    target = _given("target_mg", target_mg, target)
    if not (math.isfinite(start) and start > 0):
        raise InputError("start_mg", f"must be more than 0 mg; got {start:g}")
    if not (math.isfinite(target) and target >= 0):
        raise InputError("target_mg", f"must be 0 mg (stop) or more; got {target:g}")
    _check_ceiling(exact(start), exact(target), ceiling, facts, clinician_override)
    step = step_mg if step_mg is not None else step
    every = every_days if every_days is not None else every
    if start == target:
        return _Spec(exact(start), Fraction(0), None, exact(target), ceiling)
    step, every = _steps_needed(start, target, step, every)
    return _Spec(exact(start), exact(step), every, exact(target), ceiling)


def _given(field: str, value: float | None, default: float | None) -> float:
    if value is not None:
        return value
    if default is None:
        raise InputError(field, "is needed for a custom plan")
    return default


def _steps_needed(
    start: float, target: float, step: float | None, every: int | None
) -> tuple[float, int]:
    if step is None or not (math.isfinite(step) and step > 0):
        raise InputError("step_mg", f"a step of more than 0 mg is needed to go from {start:g} "
                                    f"to {target:g} mg")
    if every is None or every < 1:
        raise InputError("every_days", f"steps of 1 day or more are needed to go from "
                                       f"{start:g} to {target:g} mg")
    return step, every


def _weight_ceiling(preset: Protocol, weight_kg: float | None, usual: Fraction) -> Fraction:
    """mg_per_kg × weight, at most the preset's maximum (else the usual ceiling)."""
    if weight_kg is None or not (math.isfinite(weight_kg) and weight_kg > 0):
        raise InputError("weight_kg", f"the {preset.name} protocol needs the weight in kg")
    most = usual if preset.max_mg is None else exact(preset.max_mg)
    return min(exact(preset.mg_per_kg or 0) * exact(weight_kg), most)


def _check_ceiling(
    start: Fraction, target: Fraction, ceiling: Fraction, facts: TitrationFacts,
    clinician_override: bool,
) -> None:
    most = exact(facts.ceiling.override_max_mg)
    for field, dose in (("start_mg", start), ("target_mg", target)):
        if dose > most:
            raise InputError(field, f"{float(dose):g} mg is above {float(most):g} mg, the "
                                    f"highest LDN dose in the sources")
    # A tapering plan starts at its highest dose, so the start needs the same permission.
    for field, dose in (("target_mg", target), ("start_mg", start)):
        if dose > ceiling and not clinician_override:
            raise InputError(field, f"{float(dose):g} mg is above the usual ceiling of "
                                    f"{float(ceiling):g} mg; only a clinician can set "
                                    f"a higher dose (trials went up to "
                                    f"{facts.ceiling.trial_max_mg:g} mg)")


def _ladder(spec: _Spec, measure: Measure) -> list[Fraction]:
    """The doses in order, each a whole number of the formulation's step, from start towards
    the target, never past the target and never above the highest dose asked for."""
    unit = measure.step_mg
    up = spec.target >= spec.start
    if up:
        # Start low: a start the formulation cannot measure is rounded down, never up.
        target = math.floor(spec.target / unit) * unit
        start = min(math.floor(spec.start / unit) * unit, target)
    else:
        # Tapering: round the start down and the target up, but never above the start.
        start = math.floor(spec.start / unit) * unit
        target = min(math.ceil(spec.target / unit) * unit, start)
    if start == 0:
        raise InputError("target_mg" if up and target == 0 else "start_mg",
                         f"is below the smallest dose this formulation measures "
                         f"({float(unit):g} mg)")
    if start == target:
        return [target]
    if spec.step < unit:
        raise InputError("step_mg", f"{float(spec.step):g} mg is smaller than this formulation "
                                    f"measures ({float(unit):g} mg)")
    direction = 1 if up else -1
    doses = [start]
    while doses[-1] != target:
        # Round each scheduled dose (not the step) so the average pace stays as planned, yet
        # always move by at least one measurable step.
        scheduled = marks(start + direction * len(doses) * spec.step, unit) * unit
        if up:
            doses.append(min(max(scheduled, doses[-1] + unit), target))
        else:
            doses.append(max(min(scheduled, doses[-1] - unit), target))
    return doses


def _dose_time(facts: TitrationFacts, timing: str) -> time:
    if timing == "bedtime":
        return facts.times.bedtime
    if timing == "morning":
        return facts.times.morning
    raise InputError("timing", f"must be 'bedtime' or 'morning'; got {timing!r}")


def _dated_steps(
    doses: list[Fraction],
    spec: _Spec,
    measure: Measure,
    from_date: date,
    dose_time: time,
    facts: TitrationFacts,
) -> tuple[Step, ...]:
    every = timedelta(days=spec.every or 0)
    last = len(doses) - 1
    steps = []
    for i, dose in enumerate(doses):
        begins = from_date + i * every
        ml = measure.ml(dose)
        steps.append(Step(
            number=i + 1,
            start=begins,
            end=None if i == last else begins + every - timedelta(days=1),
            dose_mg=float(dose),
            dose_ml=None if ml is None else float(ml),
            time=dose_time,
            note=_step_note(i, doses, facts),
        ))
    return tuple(steps)


def _step_note(i: int, doses: list[Fraction], facts: TitrationFacts) -> str | None:
    notes = facts.step_notes
    if i == len(doses) - 1:
        if doses[i] == 0:
            return notes.stop
        return notes.last_down if len(doses) > 1 and doses[0] > doses[-1] else notes.last_up
    return notes.first if i == 0 else None


def _formulation_note(facts: TitrationFacts, measure: Measure) -> Passage:
    form = facts.formulation
    if measure.form == "capsule":
        return form.fillers
    return Passage(f"{form.syringe_rounding.text} {form.liquid_storage.text}",
                   (*form.syringe_rounding.sources, *form.liquid_storage.sources))


# ---- next step from the diary ----------------------------------------------------------


@dataclass(frozen=True)
class DayRecord:
    """One diary day. `dose_mg` None (or 0) means no dose was taken."""

    day: date
    dose_mg: float | None
    dose_time: time | None = None
    side_effects: tuple[SideEffect, ...] = ()
    sleep_disturbed: bool = False


@dataclass(frozen=True)
class Decision:
    action: Action
    dose_mg: float
    reason: str
    sources: tuple[str, ...]
    dose_time: time | None = None

    def to_dict(self) -> dict[str, object]:
        return {
            "action": self.action,
            "dose_mg": self.dose_mg,
            "time": None if self.dose_time is None else self.dose_time.strftime("%H:%M"),
            "reason": self.reason,
            "sources": list(self.sources),
        }


def next_step(
    *,
    records: Sequence[DayRecord],
    plan: Plan,
    as_of: date,
    facts: TitrationFacts,
) -> Decision:
    """Suggest what to do with the dose today, from the diary and the plan."""
    days = _checked_records(records, as_of)
    diary = _Diary(days, plan, as_of, facts)
    for rule in (diary.red_flag, diary.too_little_data, diary.sleep, diary.worse_after_step_up,
                 diary.side_effects, diary.at_target):
        decision = rule()
        if decision is not None:
            return decision
    return diary.wait_or_advance()


def _checked_records(records: Sequence[DayRecord], as_of: date) -> list[DayRecord]:
    seen: set[date] = set()
    for i, record in enumerate(records):
        if record.day > as_of:
            raise InputError(f"records.{i}.day", f"{record.day} is after as_of ({as_of})")
        if record.day in seen:
            raise InputError(f"records.{i}.day", f"a second record for {record.day}")
        seen.add(record.day)
        if record.dose_mg is not None and not (math.isfinite(record.dose_mg)
                                               and record.dose_mg >= 0):
            raise InputError(f"records.{i}.dose_mg", f"must be 0 or more; got {record.dose_mg}")
        for j, effect in enumerate(record.side_effects):
            if effect.severity not in (0, 1, 2, 3):
                raise InputError(f"records.{i}.side_effects.{j}.severity",
                                 f"must be 0, 1, 2 or 3; got {effect.severity}")
    return sorted(records, key=lambda r: r.day)


def _taken(record: DayRecord) -> bool:
    return record.dose_mg is not None and record.dose_mg > 0


class _Diary:
    """The diary seen through the plan: one method per rule, in priority order."""

    def __init__(self, days: list[DayRecord], plan: Plan, as_of: date,
                 facts: TitrationFacts) -> None:
        self.tol = facts.tolerance
        self.facts = facts
        self.plan = plan
        self.as_of = as_of
        self.days = days
        self.window_start = as_of - timedelta(days=self.tol.window_days - 1)
        self.recent = [d for d in days if d.day >= self.window_start]
        last = next((d for d in reversed(days) if _taken(d)), None)
        self.dose = exact(last.dose_mg) if last and last.dose_mg else exact(plan.doses[0])
        self.time = (last.dose_time if last and last.dose_time else plan.steps[0].time)
        # Never empty once too_little_data has passed: it holds at least the latest day.
        self.run = self._current_run()

    def _current_run(self) -> list[DayRecord]:
        """The days on the current dose, back to the last change (missed days included)."""
        run: list[DayRecord] = []
        for day in reversed(self.days):
            if _taken(day) and exact(day.dose_mg or 0) != self.dose:
                break
            run.append(day)
        return run[::-1]

    def decide(self, action: Action, key: str, dose: Fraction, dose_time: time | None = None,
               **values: object) -> Decision:
        reason = self.tol.reasons[key]
        text = reason.text.format_map({"dose": f"{float(self.dose):g}", **values})
        return Decision(action, float(dose), text, reason.sources, dose_time or self.time)

    def red_flag(self) -> Decision | None:
        # Read as the diary's monitoring reads them (plurals and typing slips of the trigger
        # words count), so the panel and this suggestion never disagree about a red flag.
        phrases = self.tol.red_flag_phrases
        words = vocabulary(phrases)
        for day in reversed(self.recent):
            for effect in day.side_effects:
                if effect.severity > 0 and (_mentions(effect.name, self.tol.red_flags)
                                            or _any_phrase(FreeText(effect.name, words), phrases)):
                    return self.decide("stop_and_call", "red_flag", Fraction(0),
                                       symptom=effect.name)
        return None

    def too_little_data(self) -> Decision | None:
        count = sum(1 for d in self.recent if _taken(d))
        if count >= self.tol.min_days_recorded:
            return None
        return self.decide("hold", "too_little_data", self.dose, days=count,
                           window=self.tol.window_days, needed=self.tol.min_days_recorded)

    def _disturbed_nights(self) -> int:
        """Evening-dose nights in a row, up to the latest day, with disturbed sleep."""
        nights = 0
        previous: date | None = None
        for day in reversed(self.days):
            contiguous = previous is None or day.day == previous - timedelta(days=1)
            if not (contiguous and self._sleep_disturbed(day) and self._evening(day)):
                break
            nights, previous = nights + 1, day.day
        return nights

    def sleep(self) -> Decision | None:
        nights = self._disturbed_nights()
        if nights <= self.tol.sleep_days:
            return None
        return self.decide("move_to_morning", "move_to_morning", self.dose,
                           self.facts.times.morning, days=nights)

    def _sleep_disturbed(self, day: DayRecord) -> bool:
        return day.sleep_disturbed or any(
            e.severity > 0 and _mentions(e.name, self.tol.sleep_terms) for e in day.side_effects)

    def _evening(self, day: DayRecord) -> bool:
        return _taken(day) and (day.dose_time or self.time) >= self.tol.morning_until

    def worse_after_step_up(self) -> Decision | None:
        """Worse (non-sleep) side effects this week than in the week before the last increase."""
        change = self.run[0].day
        before = [d for d in self.days
                  if change - timedelta(days=self.tol.window_days) <= d.day < change]
        previous = next((d for d in reversed(before) if _taken(d)), None)
        if previous is None or exact(previous.dose_mg or 0) >= self.dose:
            return None
        after = [d for d in self.run if d.day >= self.window_start]
        worst_after = self._worst(after, sleep=False)
        worst_before = self._worst(before, sleep=False)
        if worst_after[0] <= worst_before[0]:
            return None
        return self.decide("step_back", "step_back", exact(previous.dose_mg or 0),
                           previous=f"{previous.dose_mg:g}", symptom=_describe(worst_after))

    def side_effects(self) -> Decision | None:
        worst = self._worst(self.recent, sleep=True)
        if worst[0] < self.tol.hold_severity:
            return None
        return self.decide("hold", "hold_side_effects", self.dose, symptom=_describe(worst),
                           window=self.tol.window_days)

    def _worst(self, days: list[DayRecord], *, sleep: bool) -> tuple[int, str]:
        """The most severe side effect as (severity, name), (0, "") when there is none.

        Sleep effects are left out when `sleep` is False: their remedy is the morning dose."""
        effects = [(e.severity, e.name) for d in days for e in d.side_effects
                   if sleep or not _mentions(e.name, self.tol.sleep_terms)]
        return max(effects, default=(0, ""))

    def at_target(self) -> Decision | None:
        target = exact(self.plan.target_mg)
        up = target >= exact(self.plan.doses[0])
        if (self.dose < target) if up else (self.dose > target):
            return None
        if up and self.dose > target:
            # More than the plan allows (its target is at most the usual ceiling unless a
            # clinician set it): back to the target, and ask.
            return self.decide("step_back", "above_target", target,
                               target=f"{float(target):g}")
        return self.decide("hold", "at_target", self.dose)

    def wait_or_advance(self) -> Decision:
        every = self.plan.every_days or self.tol.window_days
        on_dose = (self.as_of - self.run[0].day).days + 1
        if on_dose < every:
            return self.decide("hold", "wait", self.dose, days=on_dose, every=every,
                               left=every - on_dose)
        nxt = self._next_dose()
        nights = self._disturbed_nights()
        if nights and nxt > self.dose:
            # Not yet long enough for the morning switch, but not a time to go up either.
            return self.decide("hold", "sleep_hold", self.dose, days=nights)
        key = "advance_to_stop" if nxt == 0 else "advance"
        return self.decide("advance", key, nxt, days=on_dose, next=f"{float(nxt):g}")

    def _next_dose(self) -> Fraction:
        ladder = [exact(d) for d in self.plan.doses]
        if ladder[-1] >= ladder[0]:
            return min(d for d in ladder if d > self.dose)
        return max(d for d in ladder if d < self.dose)


def _any_phrase(text: FreeText, phrases: tuple[str, ...]) -> bool:
    return any(text.contains(p) for p in phrases)


def _mentions(name: str, terms: tuple[str, ...]) -> bool:
    lowered = name.lower()
    return any(term in lowered for term in terms)


def _describe(worst: tuple[int, str]) -> str:
    severity, name = worst
    words = {1: "mild", 2: "moderate", 3: "severe"}
    return f"{words.get(severity, 'no')} {name}".strip()

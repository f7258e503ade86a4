"""Page models of the guide: what LDN is, how it is taken, side effects, safety and access.

Each builder takes the knowledge it needs as arguments and returns a frozen page model whose
facts carry their sources; numbers and sentences come from the data files, never from here.
(Evidence by condition and the claims page are in `evidence.py`.)
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from lowdose.knowledge.evidence import NOT_REPORTED, RedFlag, SideEffect, SideEffectCourse
from lowdose.knowledge.guide import Guide
from lowdose.knowledge.regimens import (
    FormulationFacts,
    Passage,
    PerioperativeFacts,
    Protocol,
    TitrationFacts,
)
from lowdose.knowledge.screening import ScreeningRules
from lowdose.learn.facts import Fact


@dataclass(frozen=True)
class Page:
    slug: str  # the path under /learn ("" for the index)
    title: str
    reviewed: date  # when the facts it shows were last checked against their sources


def _facts(guide: Guide, key: str) -> tuple[Fact, ...]:
    return tuple(Fact.of(s) for s in guide.many(key))


def _passage(passage: Passage) -> Fact:
    return Fact(passage.text, passage.sources)


# ---------------------------------------------------------------- what LDN is


@dataclass(frozen=True)
class ComparisonRow:
    aspect: str
    standard: tuple[Fact, ...]
    ldn: tuple[Fact, ...]


@dataclass(frozen=True)
class AboutPage(Page):
    intro: tuple[Fact, ...]
    comparison: tuple[ComparisonRow, ...]


def about_page(guide: Guide) -> AboutPage:
    rows = tuple(ComparisonRow(r.aspect, tuple(Fact.of(s) for s in r.standard),
                               tuple(Fact.of(s) for s in r.ldn)) for r in guide.comparison)
    return AboutPage("what-is-ldn", "What LDN is, and how it differs from standard naltrexone",
                     guide.last_reviewed(("guide.toml", "sources.toml")),
                     _facts(guide, "about.intro"), rows)


# ---------------------------------------------------------------- how LDN is taken


@dataclass(frozen=True)
class Preset:
    name: str  # for `lowdose plan --protocol NAME`
    title: str
    schedule: Fact
    notes: tuple[Fact, ...]


@dataclass(frozen=True)
class TakingPage(Page):
    range: tuple[Fact, ...]
    ceiling: Fact
    titration: Fact
    presets: tuple[Preset, ...]
    timing: tuple[Fact, ...]
    forms: tuple[Fact, ...]
    preparation: tuple[Fact, ...]
    keeping: tuple[Fact, ...]


def _schedule(p: Protocol) -> str:
    if p.mg_per_kg is not None:
        return f"{p.mg_per_kg:g} mg per kg of body weight a day, at most {p.max_mg:g} mg."
    liquid = f", as a {p.liquid_mg_per_ml:g} mg/mL liquid" if p.liquid_mg_per_ml else ""
    if p.step_mg is None or p.every_days is None:
        return f"{p.start_mg:g} mg a day from the first day{liquid}."
    # Described, not ordered: a published schedule is discussed with the prescriber (§1b).
    return (f"Starts at {p.start_mg:g} mg a day and adds {p.step_mg:g} mg every "
            f"{p.every_days} days up to {p.target_mg:g} mg{liquid}.")


def _preset(p: Protocol) -> Preset:
    return Preset(p.name, p.title, Fact(_schedule(p), p.sources),
                  tuple(Fact(n, p.sources) for n in p.notes))


def taking_page(guide: Guide, titration: TitrationFacts) -> TakingPage:
    ceiling, form = titration.ceiling, titration.formulation
    return TakingPage(
        "taking", "How LDN is taken",
        guide.last_reviewed(("guide.toml", "protocols.toml", "formulation.toml")),
        range=_facts(guide, "taking.range"),
        ceiling=Fact.of(guide.one("taking.ceiling").filled(
            ceiling.sources, usual_mg=ceiling.usual_mg, trial_max_mg=ceiling.trial_max_mg,
            override_max_mg=ceiling.override_max_mg)),
        titration=_passage(titration.general),
        presets=tuple(_preset(p) for p in titration.protocols),
        timing=_facts(guide, "taking.timing"),
        forms=_facts(guide, "taking.forms"),
        preparation=(_passage(form.fillers), _passage(form.syringe_rounding),
                     _passage(form.home_dilution.warning)),
        keeping=_keeping(guide, form),
    )


def _keeping(guide: Guide, form: FormulationFacts) -> tuple[Fact, ...]:
    days = {"room_days": form.liquid_room_days, "fridge_days": form.liquid_fridge_days}
    liquid = form.liquid_storage.sources
    return (Fact.of(guide.one("taking.liquid_room").filled(liquid, **days)),
            Fact.of(guide.one("taking.liquid_fridge").filled(liquid, **days)),
            _passage(form.liquid_storage),
            Fact.of(guide.one("taking.capsules_keep")))


# ---------------------------------------------------------------- side effects


@dataclass(frozen=True)
class EffectRow:
    id: str
    name: str
    onset: Fact
    duration: Fact
    reported: Fact
    frequency: Fact
    when_persisting: Fact


@dataclass(frozen=True)
class RedFlagRow:
    id: str
    name: str
    signs: tuple[Fact, ...]
    action: Fact


@dataclass(frozen=True)
class SideEffectsPage(Page):
    intro: tuple[Fact, ...]
    effects: tuple[EffectRow, ...]
    red_flags: tuple[RedFlagRow, ...]


def _reported(text: str, sources: tuple[str, ...]) -> Fact:
    # "not reported" is what the data file says when its sources are silent.
    if text == NOT_REPORTED:
        return Fact.not_found("Not described in any source lowdose found.")
    return Fact(text, sources)


def _effect(e: SideEffect, guide: Guide) -> EffectRow:
    frequency = guide.frequency.get(e.id) or guide.one("side_effects.no_frequency")
    return EffectRow(e.id, e.name, _reported(e.onset, e.sources),
                     _reported(e.duration, e.sources), _reported(e.reported, e.sources),
                     Fact.of(frequency), Fact(e.when_persisting, e.sources))


def red_flag_row(flag: RedFlag) -> RedFlagRow:
    return RedFlagRow(flag.id, flag.name, tuple(Fact(s, flag.sources) for s in flag.signs),
                      Fact(flag.action, flag.sources))


def side_effects_page(guide: Guide, course: SideEffectCourse) -> SideEffectsPage:
    return SideEffectsPage(
        "side-effects", "Side effects and warning signs",
        guide.last_reviewed(("guide.toml", "side_effects.toml")),
        _facts(guide, "side_effects.intro"),
        tuple(_effect(e, guide) for e in course.side_effects),
        tuple(red_flag_row(f) for f in course.red_flags),
    )


# ---------------------------------------------------------------- safety


@dataclass(frozen=True)
class SafetyPage(Page):
    contraindications: tuple[Fact, ...]
    opioid_free: Fact
    withdrawal: tuple[Fact, ...]
    cautions: tuple[Fact, ...]
    not_a_problem: tuple[Fact, ...]
    hold: Fact
    hold_basis: Fact
    restart: Fact
    red_flags: tuple[RedFlagRow, ...]


def safety_page(guide: Guide, rules: ScreeningRules, periop: PerioperativeFacts,
                course: SideEffectCourse) -> SafetyPage:
    longest = max(rules.longer_intervals, key=lambda i: i.days)
    interval = rules.default_interval
    opioid_free = guide.one("safety.opioid_free").filled(
        (*interval.sources, *longest.sources), default_days=interval.days,
        default_basis=interval.basis, longer_days=longest.days, longer_basis=longest.basis)
    hold = guide.one("safety.hold").filled(periop.hold_sources,
                                           hold_hours=periop.default_hold_hours)
    return SafetyPage(
        "safety", "Safety: who should not take LDN, cautions and surgery",
        guide.last_reviewed(("guide.toml", "screening.toml", "perioperative.toml",
                             "side_effects.toml")),
        contraindications=_facts(guide, "safety.contraindications"),
        opioid_free=Fact.of(opioid_free),
        withdrawal=_facts(guide, "safety.withdrawal"),
        cautions=_facts(guide, "safety.cautions"),
        not_a_problem=_facts(guide, "safety.not_a_problem"),
        hold=Fact.of(hold),
        hold_basis=Fact.of(guide.one("safety.hold_basis")),
        restart=_passage(periop.restart),
        red_flags=tuple(red_flag_row(f) for f in course.red_flags),
    )


# ---------------------------------------------------------------- access


@dataclass(frozen=True)
class AccessPage(Page):
    prescription: tuple[Fact, ...]
    compounding: tuple[Fact, ...]
    insurance: tuple[Fact, ...]
    cost: tuple[Fact, ...]


def access_page(guide: Guide, form: FormulationFacts) -> AccessPage:
    refill = guide.one("access.refill").filled(form.refill_sources,
                                               lead_days=form.refill_lead_days)
    supply = guide.one("access.liquid_supply").filled(
        form.liquid_storage.sources, room_days=form.liquid_room_days,
        fridge_days=form.liquid_fridge_days)
    return AccessPage(
        "access", "Getting LDN: prescription, pharmacy and cost",
        guide.last_reviewed(("guide.toml", "formulation.toml")),
        prescription=_facts(guide, "access.prescription"),
        compounding=(*_facts(guide, "access.compounding"),
                     _passage(form.home_dilution.warning)),
        insurance=_facts(guide, "access.insurance"),
        cost=(*_facts(guide, "access.cost"), Fact.of(refill), Fact.of(supply)),
    )

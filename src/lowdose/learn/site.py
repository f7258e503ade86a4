"""The guide as a whole: the knowledge it reads, its pages built once, and their sources.

Interfaces (the web router, the handout) ask here for a page by slug; a page is built on first
use and kept, since the knowledge base does not change while the process runs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from functools import cache

from lowdose.knowledge.evidence import Evidence, SideEffectCourse, load_evidence, load_side_effects
from lowdose.knowledge.guide import Guide, load_guide
from lowdose.knowledge.regimens import (
    PerioperativeFacts,
    TitrationFacts,
    load_perioperative_facts,
    load_titration_facts,
)
from lowdose.knowledge.screening import ScreeningKnowledge, load_screening_knowledge
from lowdose.knowledge.sources import Source, Sources, load_sources
from lowdose.learn import evidence as ev
from lowdose.learn import pages
from lowdose.learn.facts import cited_sources, require_traceable
from lowdose.learn.search import SearchResults, search


@dataclass(frozen=True)
class GuideKnowledge:
    sources: Sources
    guide: Guide
    evidence: Evidence
    course: SideEffectCourse
    titration: TitrationFacts
    perioperative: PerioperativeFacts
    screening: ScreeningKnowledge


@dataclass(frozen=True)
class Section:
    slug: str
    title: str
    blurb: str  # what the reader finds there (navigation text, not a fact)


SECTIONS = (
    Section("what-is-ldn", "What LDN is",
            "How low-dose naltrexone differs from the standard dose."),
    Section("taking", "How it is taken", "Doses, titration schedules, timing and formulations."),
    Section("conditions", "Evidence by condition", "What studies found, graded, with links."),
    Section("side-effects", "Side effects", "What people report, how often where known, and "
            "warning signs."),
    Section("safety", "Safety", "Who should not take it, cautions, and what to do before "
            "surgery."),
    Section("access", "Getting LDN", "Prescription, compounding pharmacies, insurance and cost."),
    Section("claims", "Claims checked", "Common claims about LDN and what the sources say."),
)


@cache
def knowledge() -> GuideKnowledge:
    return GuideKnowledge(load_sources(), load_guide(), load_evidence(), load_side_effects(),
                          load_titration_facts(), load_perioperative_facts(),
                          load_screening_knowledge())


# The page, condition and handout caches hold known ids only: the ids come from URLs anyone
# may type, and an unbounded cache keyed by them would let a stranger grow the server's memory.
def page(slug: str) -> pages.Page | None:
    """The page at /learn/{slug}, or None when there is none."""
    return _page(slug) if any(section.slug == slug for section in SECTIONS) else None


def condition(condition_id: str) -> ev.ConditionPage | None:
    known = knowledge().evidence.condition(condition_id) is not None
    return _condition(condition_id) if known else None


def handout_pdf(condition_id: str) -> bytes | None:
    """The handout PDF for a condition (built once per process), or None if unknown."""
    return _handout_pdf(condition_id) if condition(condition_id) is not None else None


@cache
def _page(slug: str) -> pages.Page | None:
    k = knowledge()
    builders: dict[str, Callable[[], pages.Page]] = {
        "what-is-ldn": lambda: pages.about_page(k.guide),
        "taking": lambda: pages.taking_page(k.guide, k.titration),
        "side-effects": lambda: pages.side_effects_page(k.guide, k.course),
        "safety": lambda: pages.safety_page(k.guide, k.screening.rules, k.perioperative,
                                            k.course),
        "access": lambda: pages.access_page(k.guide, k.titration.formulation),
        "conditions": lambda: ev.conditions_page(k.evidence, k.guide),
        "claims": lambda: ev.claims_page(k.evidence, k.guide),
    }
    build = builders.get(slug)
    return require_traceable(build(), k.sources) if build else None


@cache
def _condition(condition_id: str) -> ev.ConditionPage | None:
    k = knowledge()
    found = k.evidence.condition(condition_id)
    if found is None:
        return None
    return require_traceable(ev.condition_page(found, k.guide, k.sources), k.sources)


def slugs() -> tuple[str, ...]:
    """Every page of the guide: the sections, then one page per condition."""
    k = knowledge()
    return (*(s.slug for s in SECTIONS), *(f"conditions/{c.id}" for c in k.evidence.conditions))


def sources_of(model: object) -> tuple[Source, ...]:
    return cited_sources(model, knowledge().sources)


def find(query: str, as_of: datetime) -> SearchResults:
    # Not `require_traceable`: results quote the reader's own words ("50%" was not
    # recognised), which no source holds. What they show of the data is held to it in tests.
    k = knowledge()
    return search(query, as_of=as_of, evidence=k.evidence, guide=k.guide,
                  screening=k.screening)


@cache
def _handout_pdf(condition_id: str) -> bytes | None:
    from lowdose.learn.handout import handout_for, render_pdf

    found = condition(condition_id)
    about, safety = page("what-is-ldn"), page("safety")
    if found is None or not isinstance(about, pages.AboutPage) \
            or not isinstance(safety, pages.SafetyPage):
        return None
    sources = knowledge().sources
    return render_pdf(require_traceable(handout_for(found, about, safety, sources.by_id),
                                        sources))

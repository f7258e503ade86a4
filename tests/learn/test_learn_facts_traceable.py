"""No percentage reaches a reader that its cited sources do not contain, on any Learn page,
in the handout or in search results, whichever data file the fact came from.

clinical-facts §4: the often-quoted frequencies (insomnia 5–6 %, nausea 8–18 %, none 77 %)
are untraceable, "do not display as facts". The loaders check guide.toml and
side_effects.toml; the pages also show evidence.toml, protocols, formulation and
perioperative texts, so the check belongs to the pages themselves.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

import pytest

from lowdose.knowledge.evidence import ConditionEvidence, Study
from lowdose.learn import evidence as ev
from lowdose.learn import site
from lowdose.learn.facts import Fact, require_traceable, untraceable
from lowdose.learn.handout import handout_for
from lowdose.learn.pages import AboutPage, SafetyPage

K = site.knowledge()
CONDITIONS = [c.id for c in K.evidence.conditions]


def _model(slug: str) -> object:
    if slug.startswith("conditions/"):
        return site.condition(slug.split("/", 1)[1])
    return site.page(slug)


@pytest.mark.parametrize("slug", site.slugs())
def test_no_page_shows_a_percentage_its_sources_do_not_hold(slug: str) -> None:
    assert untraceable(_model(slug), K.sources) == ()


@pytest.mark.parametrize("condition_id", CONDITIONS)
def test_no_handout_prints_a_percentage_its_sources_do_not_hold(condition_id: str) -> None:
    about, safety = site.page("what-is-ldn"), site.page("safety")
    page = site.condition(condition_id)
    assert isinstance(about, AboutPage) and isinstance(safety, SafetyPage) and page
    handout = handout_for(page, about, safety, K.sources.by_id)
    assert untraceable(handout, K.sources) == ()


@pytest.mark.parametrize("query", ["Norco", "Imodium", "fibro", "thyroid", "percentages",
                                   "zzqx", "kratom", "Vivitrol"])
def test_no_search_result_shows_an_untraceable_percentage(query: str) -> None:
    assert untraceable(site.find(query, datetime(2026, 6, 1, 9)), K.sources) == ()


@pytest.mark.parametrize("query", ["50%", "LDN 4.5 mg 30 % better"])
def test_a_search_with_a_percentage_in_it_is_answered(query: str) -> None:
    # The reader's own words are quoted back, not refused as an untraceable fact (a 500).
    results = site.find(query, datetime(2026, 6, 1, 9))
    assert results.query == query


def _fibromyalgia() -> ConditionEvidence:
    found = K.evidence.condition("fibromyalgia")
    assert found is not None
    return found


@pytest.mark.parametrize("edit", [
    # an evidence.toml summary, a study result and a grade note: none is checked at load
    lambda c: replace(c, summary="LDN helps 77 % of people with fibromyalgia."),
    lambda c: replace(c, studies=(replace(c.studies[0], result="Nausea in 8–18 %."),
                                  *c.studies[1:])),
    lambda c: replace(c, grade_note="Works in 60 per cent."),
])
def test_an_untraceable_percentage_from_evidence_is_caught(edit: object) -> None:
    changed = edit(_fibromyalgia())  # type: ignore[operator]
    page = ev.condition_page(changed, K.guide)
    assert untraceable(page, K.sources)
    with pytest.raises(ValueError, match="not in any cited source"):
        require_traceable(page, K.sources)


def test_a_percentage_without_any_source_is_untraceable() -> None:
    assert untraceable((Fact.not_found("Most people (77 %) have no side effects."),),
                       K.sources)


def test_a_traceable_percentage_passes() -> None:
    study: Study = _fibromyalgia().studies[1]  # Younger 2013: 28.8 % vs 18.0 %
    page = ev.condition_page(_fibromyalgia(), K.guide)
    assert "28.8 %" in study.result
    assert require_traceable(page, K.sources) is page


def test_the_handout_says_so_where_no_source_was_found() -> None:
    # clinical-facts §5 Systemic lupus: "no study found" — the paper, like the screen, marks a
    # statement without a source instead of printing it bare.
    from io import BytesIO

    from pypdf import PdfReader

    pdf = site.handout_pdf("systemic-lupus")
    assert pdf is not None
    text = " ".join(p.extract_text() for p in PdfReader(BytesIO(pdf)).pages)
    flat = "".join(text.split())
    assert "(nosourcefound)" in flat

"""The guide's page models: built from the knowledge base only, every fact cited (or saying
no source was found), numbers taken from the data files, review dates from guide.toml."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lowdose.knowledge.evidence import NOT_REPORTED, ConditionEvidence
from lowdose.knowledge.guide import NOT_FOUND
from lowdose.learn import evidence as ev
from lowdose.learn import pages, site
from lowdose.learn.facts import Fact, cited_ids, facts_in

K = site.knowledge()
ALL = [site.page(s) if not s.startswith("conditions/") else site.condition(s.split("/")[1])
       for s in site.slugs()]


@pytest.mark.parametrize("model", ALL, ids=site.slugs())
def test_every_fact_cites_known_sources_or_says_none_was_found(model: object) -> None:
    facts = list(facts_in(model))
    assert facts, "a page without facts"
    for fact in facts:
        if fact.sources:
            assert all(s in K.sources for s in fact.sources), fact
            assert fact.unsourced is None
        else:
            assert fact.unsourced == NOT_FOUND, fact


def test_a_fact_cannot_be_made_without_a_source() -> None:
    with pytest.raises(ValueError, match="needs a source"):
        Fact("LDN cures everything.")
    assert Fact.not_found("No study found.").unsourced == NOT_FOUND


@pytest.mark.parametrize("condition", K.evidence.conditions, ids=lambda c: c.id)
def test_condition_pages_carry_the_knowledge_base_grade_and_studies(
        condition: ConditionEvidence) -> None:
    entry = condition
    page = ev.condition_page(entry, K.guide)
    assert (page.grade.grade, page.grade.text) == (entry.grade.id, entry.grade.label)
    assert page.summary.text == entry.summary
    assert [s.result.text for s in page.studies] == [s.result for s in entry.studies]
    assert [s.result.sources for s in page.studies] == [s.sources for s in entry.studies]
    if entry.grade.id == "none-found":
        assert page.grade.unsourced == NOT_FOUND and not page.grade.sources
    else:
        assert page.grade.sources == entry.sources


def test_studies_link_by_their_own_identifiers() -> None:
    entry = K.evidence.condition("fibromyalgia")
    assert entry is not None
    pilot = ev.condition_page(entry, K.guide).studies[0]
    assert pilot.label == "Younger 2009"
    # The corrected PMID, not the 19411815 that circulates.
    assert ("PMID", "https://pubmed.ncbi.nlm.nih.gov/19453963/") in {
        (i.kind, i.url) for i in pilot.identifiers}


def test_claims_keep_their_verdicts_and_no_data_cites_nothing() -> None:
    page = ev.claims_page(K.evidence, K.guide)
    for row, claim in zip(page.claims, K.evidence.claims, strict=True):
        assert row.verdict.text == ev.VERDICT_LABELS[claim.verdict]
        assert row.finding.sources == claim.sources
        assert (row.finding.unsourced == NOT_FOUND) == (claim.verdict == "no-data")


def test_the_comparison_table_covers_what_the_issue_asks_for() -> None:
    page = pages.about_page(K.guide)
    aspects = {row.aspect for row in page.comparison}
    assert {"Dose", "Opioid receptor blockade", "Used for", "Side effects",
            "Monitoring"} <= aspects
    assert all(row.standard and row.ldn for row in page.comparison)


def test_every_titration_preset_is_on_the_taking_page() -> None:
    page = pages.taking_page(K.guide, K.titration)
    assert [p.name for p in page.presets] == [p.name for p in K.titration.protocols]
    for preset, protocol in zip(page.presets, K.titration.protocols, strict=True):
        assert preset.schedule.sources == protocol.sources
        assert [n.text for n in preset.notes] == list(protocol.notes)


def test_beyond_use_dates_come_from_the_formulation_facts() -> None:
    form = K.titration.formulation
    changed = replace(K.titration, formulation=replace(form, liquid_room_days=21,
                                                       liquid_fridge_days=45))
    keeping = " ".join(f.text for f in pages.taking_page(K.guide, changed).keeping)
    assert "within 21 days" in keeping and "within 45 days" in keeping


@given(st.integers(min_value=24, max_value=336))
def test_the_hold_shown_is_the_perioperative_facts_hold(hours: int) -> None:
    periop = replace(K.perioperative, default_hold_hours=float(hours))
    page = pages.safety_page(K.guide, K.screening.rules, periop, K.course)
    assert f"at least {hours} hours before" in page.hold.text
    assert set(periop.hold_sources) <= set(page.hold.sources)


def test_the_opioid_free_interval_comes_from_the_screening_rules() -> None:
    page = pages.safety_page(K.guide, K.screening.rules, K.perioperative, K.course)
    rules = K.screening.rules
    assert f"{rules.default_interval.days} days" in page.opioid_free.text
    assert f"{max(i.days for i in rules.longer_intervals)} days" in page.opioid_free.text


def test_side_effects_say_not_reported_plainly_and_count_only_where_a_source_does() -> None:
    page = pages.side_effects_page(K.guide, K.course)
    for row, effect in zip(page.effects, K.course.side_effects, strict=True):
        if effect.onset == NOT_REPORTED:
            assert row.onset.unsourced == NOT_FOUND
        if effect.id in K.guide.frequency:
            assert row.frequency.sources == K.guide.frequency[effect.id].sources
        else:
            assert row.frequency.unsourced == NOT_FOUND


def test_each_page_shows_the_latest_review_of_the_files_it_draws_from() -> None:
    reviewed = K.guide.reviewed
    about = pages.about_page(K.guide)
    assert about.reviewed == max(reviewed["guide.toml"], reviewed["sources.toml"])
    page = site.page("claims")
    assert page is not None and page.reviewed == reviewed["evidence.toml"]
    assert all(isinstance(d, date) for d in reviewed.values())


def test_every_guide_statement_appears_on_a_page() -> None:
    shown = {f.text for model in ALL for f in facts_in(model)}
    shown_templates = {s for key, group in K.guide.statements.items() for s in group
                       if "{" in s.text}
    for key, group in K.guide.statements.items():
        for statement in group:
            if statement in shown_templates:
                continue  # filled in with numbers from other files; checked above
            assert statement.text in shown, f"{key}: {statement.text!r} is on no page"


def test_cited_ids_keep_first_mention_order() -> None:
    facts = (Fact("a", ("x", "y")), Fact("b", ("y", "z")))
    assert cited_ids(facts) == ("x", "y", "z")


def test_claims_are_grouped_by_verdict_in_a_fixed_order() -> None:
    page = ev.claims_page(K.evidence, K.guide)
    groups = page.by_verdict()
    labels = [label for label, _ in groups]
    assert labels == [v for v in ev.VERDICT_LABELS.values() if v in labels]
    assert sum(len(rows) for _, rows in groups) == len(K.evidence.claims)
    assert all(row.verdict.text == label for label, rows in groups for row in rows)


def test_unknown_ids_from_urls_are_not_kept_in_memory() -> None:
    # /learn/conditions/<id> takes any id a stranger types: only known pages may be cached.
    known = site.knowledge().evidence.conditions[0].id
    assert site.condition(known) is not None and site.page("safety") is not None
    before = (site._condition.cache_info().currsize, site._page.cache_info().currsize,
              site._handout_pdf.cache_info().currsize)
    for n in range(200):
        assert site.condition(f"made-up-{n}") is None
        assert site.page(f"made-up-{n}") is None
        assert site.handout_pdf(f"made-up-{n}") is None
    assert (site._condition.cache_info().currsize, site._page.cache_info().currsize,
            site._handout_pdf.cache_info().currsize) == before

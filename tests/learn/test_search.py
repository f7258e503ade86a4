"""Search: conditions by name or part of one, medicines as the safety screen reads them
(brands, misspellings; is it an opioid, does it matter for LDN), and claims by their words."""

from __future__ import annotations

from datetime import datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lowdose.errors import InputError
from lowdose.learn import site
from lowdose.learn.facts import facts_in
from lowdose.learn.search import SearchResults

NOW = datetime(2026, 6, 1, 9, 0)


def find(query: str) -> SearchResults:
    return site.find(query, NOW)


@pytest.mark.parametrize(("query", "name", "opioid", "verdict"), [
    ("Norco 5/325", "hydrocodone (Norco)", "yes", "contraindicated"),
    ("percocat", "oxycodone (Percocet)", "yes", "contraindicated"),  # misspelt brand
    ("Ultram", "tramadol (Ultram)", "yes", "contraindicated"),
    ("Suboxone", "buprenorphine (Suboxone)", "yes", "contraindicated"),
    ("kratom", "kratom", "yes", "contraindicated"),
    ("Imodium", "loperamide (Imodium)", "yes", "ok"),  # an opioid that stays in the gut
    ("dextromethorphan", "dextromethorphan", "no", "ok"),  # not an opioid: no false alarm
    ("ibuprofen", "ibuprofen", "no", "ok"),
    ("Vivitrol", "naltrexone (Vivitrol)", "blocker", "contraindicated"),  # duplicate therapy
    ("naloxone", "naloxone", "blocker", "specialist"),
])
def test_a_medicine_is_answered_as_the_screen_reads_it(query: str, name: str, opioid: str,
                                                        verdict: str) -> None:
    answer = find(query).medicines[0]
    assert (answer.name, answer.opioid, answer.verdict) == (name, opioid, verdict)
    assert all(f.sources for f in answer.what)
    assert answer.findings and all(f.message.sources for f in answer.findings)


def test_a_medicine_the_screen_says_nothing_about_is_said_so_with_sources() -> None:
    answer = find("ibuprofen").medicines[0]
    assert [f.level for f in answer.findings] == ["ok"]
    assert "raises nothing about ibuprofen" in answer.findings[0].message.text
    assert answer.what[0].text == "ibuprofen is not an opioid."


def test_conditions_match_by_name_synonym_code_or_the_start_of_a_word() -> None:
    assert [c.id for c in find("fibro").conditions][:1] == ["fibromyalgia"]
    assert [c.id for c in find("Crohn's").conditions][:1] == ["crohns-disease"]
    assert [c.id for c in find("M79.7").conditions] == ["fibromyalgia"]
    assert [c.id for c in find("long covid").conditions][:1] == ["long-covid"]
    lupus = find("lupus").conditions[0]
    assert (lupus.id, lupus.grade.grade) == ("systemic-lupus", "none-found")


def test_claims_are_found_by_their_words() -> None:
    assert "hashimoto-thyroid-dose" in [c.id for c in find("thyroid").claims]
    assert "loperamide-contraindication" in [c.id for c in find("loperamide").claims]
    assert [c.id for c in find("cost").claims] == ["monthly-cost"]


def test_a_misspelling_close_to_two_medicines_asks_instead_of_guessing() -> None:
    results = find("oxymorph")
    assert results.medicines or results.suggestions  # recognised, or offered; never silent


def test_nothing_found_says_an_unknown_medicine_needs_a_prescriber() -> None:
    results = find("zzqx")
    assert results.empty
    assert results.unrecognised is not None
    assert "prescriber must check it" in results.unrecognised.text
    assert results.unrecognised.sources == ("naltrexone-label",)


@settings(max_examples=60, deadline=None)
@given(st.text(max_size=60))
def test_any_text_gives_results_whose_facts_are_all_cited(query: str) -> None:
    results = find(query)
    for fact in facts_in(results):
        assert fact.sources or fact.unsourced == "not-found"
        assert all(s in site.knowledge().sources for s in fact.sources)


def test_an_empty_query_finds_nothing_and_a_long_one_is_refused() -> None:
    assert find("   ").empty
    with pytest.raises(InputError) as caught:
        find("a" * 201)
    assert caught.value.field == "q"

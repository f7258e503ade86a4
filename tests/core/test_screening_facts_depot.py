"""Buprenorphine depot injections (clinical-facts §3a, §3c: methadone and buprenorphine,
Sublocade and Brixadi among them, rule naltrexone out; ~2 weeks opioid-free after them).
A depot is not a dose that is gone in hours: Sublocade is injected monthly and releases
buprenorphine all month (sublocade-label); after Brixadi stops, buprenorphine effects last
about 1 month (weekly) to 4 months (monthly) (brixadi-label). So an injection last week is
current treatment, and no 14-day interval can be counted from the injection day."""

from __future__ import annotations

from datetime import date, datetime

import pytest

from lowdose.core.screening import Medication, Profile, screen
from lowdose.knowledge.screening import load_screening_knowledge

KNOWLEDGE = load_screening_knowledge()
NOW = datetime(2025, 6, 20, 9, 0)


def screened(med: Medication):
    return screen(Profile(as_of=NOW, medications=(med,)), KNOWLEDGE)


@pytest.mark.parametrize("text", ["Sublocade 100 mg monthly", "Brixadi monthly injection"])
@pytest.mark.parametrize("injected", [date(2025, 6, 17), date(2025, 5, 25)])
def test_a_depot_injected_within_the_month_is_current_treatment(text: str,
                                                                injected: date) -> None:
    result = screened(Medication(text=text, last_taken=injected))
    assert result.verdict == "contraindicated"
    assert [f.code for f in result.findings] == ["opioid-dependence-treatment"]
    assert result.earliest_start is None


@pytest.mark.parametrize("med", [
    Medication(text="Sublocade 100 mg monthly", last_taken=date(2025, 5, 1)),
    Medication(text="Brixadi monthly injection", stopped=date(2025, 4, 1)),
])
def test_after_a_depot_no_interval_is_counted_from_the_injection(med: Medication) -> None:
    result = screened(med)
    codes = [f.code for f in result.findings]
    assert result.verdict == "specialist"
    assert "opioid-depot-stopped" in codes
    assert "opioid-interval-met" not in codes and "recent-opioid" not in codes
    (depot,) = [f for f in result.findings if f.code == "opioid-depot-stopped"]
    assert "4 months" in depot.message
    assert {"sublocade-label", "brixadi-label"} & set(depot.sources)


def test_buprenorphine_tablets_keep_the_two_week_interval() -> None:
    result = screened(Medication(text="Suboxone 8 mg", last_taken=date(2025, 6, 10)))
    assert result.verdict == "defer"
    assert result.earliest_start == date(2025, 6, 24)

"""Opioid products sold under UK and Australian names (design §3.1: free text is brand names
and combination products). The label rules naltrexone out with opioid analgesics and
opioid-containing cough, cold and pain products, methadone and buprenorphine included
(clinical-facts §3a, §3c). Read as "unrecognised" they only asked for a check; each is an
opioid product and is named as one."""

from __future__ import annotations

from datetime import datetime

import pytest

from lowdose.core.screening import Medication, Profile, screen
from lowdose.knowledge.screening import load_screening_knowledge

KNOWLEDGE = load_screening_knowledge()
NOW = datetime(2025, 6, 2, 9, 0)


@pytest.mark.parametrize(("text", "opioid", "code"), [
    ("Nurofen Plus", "codeine", "active-opioid"),
    ("co-dydramol 10/500", "dihydrocodeine", "active-opioid"),
    ("Tramacet", "tramadol", "active-opioid"),
    ("Zapain 30/500", "codeine", "active-opioid"),
    ("Solpadeine Max", "codeine", "active-opioid"),
    ("Panadeine Forte", "codeine", "active-opioid"),
    ("Mersyndol", "codeine", "active-opioid"),
    ("Zamadol 50 mg", "tramadol", "active-opioid"),
    ("Longtec 10 mg", "oxycodone", "active-opioid"),
    ("Zomorph 30 mg", "morphine", "active-opioid"),
    ("Sevredol", "morphine", "active-opioid"),
    ("Instanyl nasal spray", "fentanyl", "active-opioid"),
    ("Physeptone 1 mg/ml", "methadone", "opioid-dependence-treatment"),
    ("Espranor 8 mg", "buprenorphine", "opioid-dependence-treatment"),
])
def test_uk_and_australian_opioid_brands_are_read_as_opioids(text: str, opioid: str,
                                                             code: str) -> None:
    result = screen(Profile(as_of=NOW, medications=(Medication(text=text),)), KNOWLEDGE)
    assert result.verdict == "contraindicated"
    (found,) = result.findings
    assert found.code == code
    assert found.matched is not None and found.matched.startswith(opioid)


@pytest.mark.parametrize("text", ["Nurofen", "Solpadeine Headache", "Panadol"])
def test_their_opioid_free_namesakes_are_not_opioids(text: str) -> None:
    result = screen(Profile(as_of=NOW, medications=(Medication(text=text),)), KNOWLEDGE)
    assert result.verdict != "contraindicated"
    assert not [f for f in result.findings if f.code == "active-opioid"]

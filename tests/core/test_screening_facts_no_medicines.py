"""A medicines list that says there are none (design §3.1: free text is normal). "None" names
no medicine, so it is not an unrecognised medicine that "could be an opioid" (§3.2); anything
more than a plain "none" is still read, and still checked when it is not recognised."""

from __future__ import annotations

from datetime import datetime

import pytest

from lowdose.core.screening import Medication, Profile, screen
from lowdose.knowledge.screening import load_screening_knowledge

KNOWLEDGE = load_screening_knowledge()
NOW = datetime(2025, 6, 2, 9, 0)


def screened(*texts: str):
    return screen(Profile(as_of=NOW, medications=tuple(Medication(text=t) for t in texts)),
                  KNOWLEDGE)


@pytest.mark.parametrize("text", ["none", "None.", "nil", "N/A", "no medications",
                                  "no regular medicines", "nothing"])
def test_an_entry_saying_no_medicines_is_not_a_finding(text: str) -> None:
    result = screened(text)
    assert (result.verdict, result.findings) == ("ok", ())


@pytest.mark.parametrize("text", ["none of the usual, just zorbitol", "the blue pill"])
def test_anything_else_unrecognised_still_needs_a_prescriber(text: str) -> None:
    assert screened(text).verdict == "specialist"


def test_none_beside_an_opioid_still_finds_the_opioid() -> None:
    assert screened("none", "tramadol 50 mg").verdict == "contraindicated"

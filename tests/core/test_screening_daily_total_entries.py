"""An entry with a daily total and more than one medicine name ("oxycodone 10 mg/day and
acetaminophen 500 mg") is read, not a crash: the screen answered such entries with an
IndexError (a 500 from the API), so a patient on an opioid got no answer at all."""

from __future__ import annotations

from datetime import datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lowdose.core.medicines import recognize
from lowdose.core.screening import Medication, Profile, screen
from lowdose.knowledge.medicines import load_medicine_vocabulary
from lowdose.knowledge.screening import load_screening_knowledge

KNOWLEDGE = load_screening_knowledge()
VOCABULARY = load_medicine_vocabulary()
NOW = datetime(2025, 6, 2, 9, 0)


@pytest.mark.parametrize("text", [
    "oxycodone 60-100 mg/day and acetaminophen 500 mg",
    "oxycodone 10 mg/day and acetaminophen 500 mg",
    "tramadol 100 mg a day plus paracetamol 500 mg",
])
def test_an_opioid_with_a_daily_total_beside_another_medicine_is_ruled_out(text: str) -> None:
    # Naltrexone label: current opioid use is a contraindication (clinical-facts §3a).
    result = screen(Profile(as_of=NOW, medications=(Medication(text=text),)), KNOWLEDGE)
    assert result.verdict == "contraindicated"


def test_the_strength_is_given_to_the_medicine_written_before_it() -> None:
    read = recognize("oxycodone 10 mg/day and acetaminophen 500 mg", None, VOCABULARY)
    assert [(s.ingredient, s.value) for s in read.strengths] == [("acetaminophen", 500.0)]


WORDS = st.sampled_from(["oxycodone", "acetaminophen", "tramadol", "ibuprofen", "and", "plus",
                         "10", "60-100", "mg/day", "mg", "a", "day", "daily", "500", "x", "2"])


@given(st.lists(WORDS, min_size=1, max_size=10))
def test_any_mix_of_names_numbers_and_schedules_is_read_without_error(words: list[str]) -> None:
    recognize(" ".join(words), None, VOCABULARY)

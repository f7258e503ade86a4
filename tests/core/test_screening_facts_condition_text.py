"""Notes set off by a condition quote the condition as the person wrote it, as the other
condition rules do: a note is read by patients and prescribers (design §3.2 findings carry a
message), and "Hiv: ..." or "Aids: ..." misspells what they wrote. The facts behind each note
are clinical-facts §3d (antiretrovirals, transplant) and §3d/§7 (thyroid)."""

from __future__ import annotations

from datetime import datetime

import pytest

from lowdose.core.screening import Profile, screen
from lowdose.knowledge.screening import load_screening_knowledge

KNOWLEDGE = load_screening_knowledge()
NOW = datetime(2025, 6, 2, 9, 0)


@pytest.mark.parametrize(("text", "code"), [
    ("HIV", "antiretroviral"),
    ("AIDS", "antiretroviral"),
    ("Hashimoto's", "thyroid-monitoring"),
    ("kidney transplant", "transplant-immunosuppression"),
])
def test_a_condition_note_quotes_the_condition_as_written(text: str, code: str) -> None:
    result = screen(Profile(as_of=NOW, conditions=(text,)), KNOWLEDGE)
    (found,) = result.findings
    assert found.code == code
    assert found.message.startswith(f'"{text}"')


def test_a_medicine_note_still_names_the_medicine() -> None:
    result = screen(Profile(as_of=NOW, conditions=("HIV",)), KNOWLEDGE)
    assert "antiretroviral" in result.findings[0].message

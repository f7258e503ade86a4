"""Immunosuppression in the safety screen (clinical-facts §3d): no source documents an
interaction of naltrexone with immunosuppressants; for transplant recipients the concern is
theoretical and routed to a specialist rather than contraindicated. A condition that says
"immunosuppressed" is told, with the transplant case named, not silently passed."""

from __future__ import annotations

from datetime import datetime

import pytest

from lowdose.core.screening import Profile, screen
from lowdose.knowledge.screening import load_screening_knowledge

KNOWLEDGE = load_screening_knowledge()
NOW = datetime(2025, 6, 2, 9, 0)


@pytest.mark.parametrize("text", [
    "immunosuppressed", "immunocompromised", "on immunosuppressants", "immunosuppression",
])
def test_an_immunosuppressed_condition_gives_a_note_naming_the_transplant_case(text: str) -> None:
    result = screen(Profile(as_of=NOW, conditions=(text,)), KNOWLEDGE)
    (found,) = result.findings
    assert (found.code, found.level, result.verdict) == ("immunosuppressant", "info", "ok")
    assert "transplant team" in found.message


def test_an_organ_transplant_still_needs_the_transplant_team() -> None:
    result = screen(Profile(as_of=NOW, conditions=("kidney transplant, immunosuppressed",)),
                    KNOWLEDGE)
    assert result.verdict == "specialist"
    assert "transplant-immunosuppression" in [f.code for f in result.findings]


def test_not_immunosuppressed_is_not_a_finding() -> None:
    result = screen(Profile(as_of=NOW, conditions=("not immunocompromised",)), KNOWLEDGE)
    assert (result.verdict, result.findings) == ("ok", ())

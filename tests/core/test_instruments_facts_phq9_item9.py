"""PHQ-9 item 9 above 0 is the "new suicidal thoughts" red flag of clinical-facts §4 (label;
Kroenke 2001 item wording): like the diary's red flag, it says to contact a clinician now, not
at some point today."""

from __future__ import annotations

from datetime import date

import pytest

from lowdose.core.instruments import score
from lowdose.knowledge.instruments import load_instruments

PHQ9 = load_instruments()["phq9"]


@pytest.mark.parametrize("item9", [1, 2, 3])
def test_thoughts_of_self_harm_say_to_contact_a_clinician_now(item9):
    answers = {str(i): 0 for i in range(1, 10)} | {"9": item9}
    urgent = [f for f in score(PHQ9, answers, date(2025, 6, 2)).flags if f.level == "urgent"]
    assert len(urgent) == 1
    assert "contact your clinician now" in urgent[0].reason.casefold()

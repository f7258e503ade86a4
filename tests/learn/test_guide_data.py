"""guide.toml's loader: a statement without a source, with an unknown one, or with a
percentage its sources do not contain is refused, naming the field."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from lowdose.errors import InputError
from lowdose.knowledge.guide import parse_guide
from lowdose.knowledge.sources import load_sources, read_toml

DATA = read_toml("guide.toml")


def edited(change: Any) -> dict[str, Any]:
    data = copy.deepcopy(DATA)
    change(data)
    return data


def test_the_shipped_guide_loads() -> None:
    guide = parse_guide(DATA, load_sources())
    assert guide.comparison and guide.statements and guide.medicine_classes


@pytest.mark.parametrize(("change", "field", "message"), [
    (lambda d: d["access"]["insurance"][0].update(sources=[]),
     "access.insurance.0.sources", "must cite at least one source"),
    (lambda d: d["access"]["insurance"][0].update(sources=["no-such-source"]),
     "access.insurance.0.sources", "unknown source id"),
    (lambda d: d["access"]["insurance"][0].update(unsourced="maybe"),
     "access.insurance.0.unsourced", "only without sources"),
    (lambda d: d["about"]["intro"][0].update(text="LDN helps 77 % of people."),
     "about.intro.0", "percentage '77 %' is not in any cited source"),
    (lambda d: d["reviewed"].update({"evidence.toml": "last week"}),
     "reviewed.evidence.toml", "must be a date"),
    (lambda d: d["medicine_classes"]["non-opioid"].update(opioid="perhaps"),
     "medicine_classes.non-opioid", "needs opioid"),
])
def test_a_bad_statement_is_refused_by_field(change: Any, field: str, message: str) -> None:
    with pytest.raises(InputError) as caught:
        parse_guide(edited(change), load_sources())
    assert caught.value.field == field
    assert message in caught.value.message


def test_a_not_found_statement_needs_no_source() -> None:
    data = edited(lambda d: d["access"]["insurance"][0].update(
        sources=[], unsourced="not-found"))
    guide = parse_guide(data, load_sources())
    assert guide.one("access.insurance").unsourced == "not-found"


def test_every_data_file_a_page_draws_from_has_a_review_date() -> None:
    reviewed = parse_guide(DATA, load_sources()).reviewed
    assert {"evidence.toml", "side_effects.toml", "protocols.toml", "formulation.toml",
            "perioperative.toml", "screening.toml", "sources.toml", "guide.toml"} <= set(reviewed)


def test_the_guide_says_every_dose_below_the_licensed_50_mg_is_off_label() -> None:
    # clinical-facts (preamble): no regulator has approved naltrexone below 50 mg for LDN's
    # uses; "below 5 mg" alone left 5–49 mg sounding licensed.
    intro = " ".join(item["text"] for item in DATA["about"]["intro"])
    assert "Every lower dose, LDN included, is off-label" in intro
    assert "below 5 mg it is used off-label" not in intro

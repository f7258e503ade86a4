"""The safety page against clinical-facts §3: numbers as the sources give them, and a caution
with no source says so instead of borrowing an unrelated citation."""

from __future__ import annotations

import pytest

from lowdose.learn import pages, site

K = site.knowledge()


def safety() -> pages.SafetyPage:
    page = site.page("safety")
    assert isinstance(page, pages.SafetyPage)
    return page


def caution(word: str) -> str:
    return next(f.text for f in safety().cautions if word in f.text)


def test_the_transplant_caution_says_no_source_was_found() -> None:
    # §3d: immunosuppressed transplant recipients: "no source found ... concern is
    # theoretical" (U) → route to a specialist. A drug-classification index (who-atc) and a
    # general LDN review do not support a statement about this combination.
    fact = next(f for f in safety().cautions if "Transplant" in f.text)
    assert fact.sources == () and fact.unsourced == "not-found"
    assert "theoretical" in fact.text and "transplant team" in fact.text


@pytest.mark.parametrize(("word", "figure"), [
    ("cirrhosis", "5–10 times"),                       # §1d hepatic cirrhosis
    ("Under 18", "0.1 mg per kg a day, at most 4.5 mg"),  # §3a paediatrics
])
def test_caution_numbers_match_the_facts(word: str, figure: str) -> None:
    assert figure in caution(word)


def test_the_hold_and_its_basis_carry_the_facts_numbers() -> None:
    # §3e: 3 days (72 h) for oral naltrexone; one LDN prescriber uses 48 h.
    page = safety()
    assert "72 hours" in page.hold.text
    assert "3 days" in page.hold_basis.text and "48 hours" in page.hold_basis.text


def test_the_labels_other_contraindications_are_listed() -> None:
    # §3a: contraindicated in acute opioid withdrawal, a failed naloxone challenge and a
    # positive urine opioid screen (naltrexone label).
    listed = " ".join(f.text for f in safety().contraindications)
    for phrase in ("opioid withdrawal", "naloxone challenge", "urine"):
        assert phrase in listed, phrase
    withdrawal = next(f for f in safety().contraindications if "naloxone challenge" in f.text)
    assert withdrawal.sources == ("naltrexone-label",)


def test_alcohol_is_addressed_as_the_facts_give_it() -> None:
    # §3d Alcohol: naltrexone is itself an alcohol-use-disorder treatment; no harmful
    # interaction documented; trials excluded alcohol/substance misuse (FINAL).
    fact = next(f for f in safety().cautions if f.text.startswith("Alcohol"))
    assert "no harmful interaction" in fact.text and "prescriber" in fact.text
    assert set(fact.sources) == {"naltrexone-label", "nct04270877"}

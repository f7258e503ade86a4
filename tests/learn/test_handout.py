"""The handout "LDN: what the evidence says": a real PDF, read back with pypdf, that shows a
condition's grade, summary and studies with numbered citations and the sources they point to."""

from __future__ import annotations

import re
from io import BytesIO

import pytest
from pypdf import PdfReader

from lowdose.knowledge.evidence import ConditionEvidence
from lowdose.learn import site
from lowdose.learn.pages import SafetyPage

K = site.knowledge()


def text_of(pdf: bytes) -> str:
    reader = PdfReader(BytesIO(pdf))
    return " ".join(" ".join(page.extract_text() for page in reader.pages).split())


def squeezed(text: str) -> str:
    """Text without any whitespace: PDF line breaks may fall anywhere in a sentence."""
    return re.sub(r"\s+", "", text)


@pytest.mark.parametrize("condition", K.evidence.conditions, ids=lambda c: c.id)
def test_the_handout_shows_the_condition_as_the_knowledge_base_has_it(
        condition: ConditionEvidence) -> None:
    pdf = site.handout_pdf(condition.id)
    assert pdf is not None and pdf.startswith(b"%PDF")
    text = text_of(pdf)
    flat = squeezed(text)
    assert "LDN: what the evidence says" in text
    assert squeezed(condition.name) in flat
    assert squeezed(f"Evidence grade: {condition.grade.label}") in flat
    assert squeezed(condition.summary) in flat
    for study in condition.studies:
        assert squeezed(study.result) in flat
        if study.pmid:
            assert f"PMID{study.pmid}" in flat
    page = site.condition(condition.id)
    assert page is not None
    assert f"reviewed{page.reviewed.isoformat()}" in flat
    assert squeezed("lowdose supports decisions; it does not make them.") in flat


def test_every_citation_mark_points_to_a_listed_source() -> None:
    text = text_of(site.handout_pdf("fibromyalgia") or b"")
    body, _, listed = text.partition(" Sources ")
    marks = {int(m) for m in re.findall(r"\[(\d+)\]", body)}
    entries = {int(m) for m in re.findall(r"\[(\d+)\] [A-Z\[]", listed)}
    assert marks and marks <= entries
    bruun = K.sources.by_id["bruun-2024"]
    assert squeezed(bruun.citation[:60]) in squeezed(listed)


def test_the_handout_includes_safety_in_brief() -> None:
    flat = squeezed(text_of(site.handout_pdf("long-covid") or b""))
    safety = site.page("safety")
    assert isinstance(safety, SafetyPage)
    for fact in (*safety.contraindications, safety.hold):
        assert squeezed(fact.text) in flat
    for flag in K.course.red_flags:
        assert squeezed(flag.name) in flat


def test_an_unknown_condition_has_no_handout() -> None:
    assert site.handout_pdf("no-such-condition") is None

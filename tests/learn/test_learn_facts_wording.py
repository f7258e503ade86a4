"""Text for patients supports a decision and never makes it: no Learn fact tells a reader to
start, stop or change a medicine on their own, and each condition page sends the reader to a
clinician (design §1; the mission: "lowdose supports decisions, it does not make them")."""

from __future__ import annotations

import re

import pytest

from lowdose.knowledge.evidence import ConditionEvidence
from lowdose.learn import pages, site
from lowdose.learn.facts import Fact, facts_in

K = site.knowledge()
# An instruction about a medicine at the start of a sentence or clause ("Stop LDN", ", take
# the last dose"), the way a reader would act on it.
INSTRUCTION = re.compile(r"(?:^|[.;:,]\s+)(stop|take|start|switch|move|change|increase|raise|"
                         r"lower|reduce|go back|stay free|stay on|add|skip)\b", re.I)
ASK = re.compile(r"\b(clinician|prescriber|doctor|surgical team|specialist|neurologist|"
                 r"rheumatologist|gastroenterologist|dermatologist|oncology team|"
                 r"pain specialist|emergency services|urgent care)\b", re.I)


def _preset_notes() -> set[str]:
    # A published protocol's own notes (protocols.toml, quoted as the schedule's source
    # words), reported to the owner of that file rather than rewritten here.
    taking = pages.taking_page(K.guide, K.titration)
    return {n.text for p in taking.presets for n in p.notes}


def _all_facts() -> list[tuple[str, Fact]]:
    out = []
    for slug in site.slugs():
        model = (site.condition(slug.split("/", 1)[1]) if slug.startswith("conditions/")
                 else site.page(slug))
        out += [(slug, f) for f in facts_in(model)]
    return out


def test_no_fact_instructs_a_medicine_change_without_a_clinician() -> None:
    quoted = _preset_notes()
    bad = sorted({f"{slug}: {f.text}" for slug, f in _all_facts()
                  if f.text not in quoted and INSTRUCTION.search(f.text)
                  and not ASK.search(f.text)})
    assert bad == []


def test_the_surgery_hold_is_agreed_with_the_clinicians_not_done_alone() -> None:
    # clinical-facts §3e: 72 h follows oral-naltrexone guidance; no LDN-specific study.
    safety = site.page("safety")
    assert isinstance(safety, pages.SafetyPage)
    text = safety.hold.text
    assert "at least 72 hours before" in text
    assert re.search(r"(agree|ask).*(prescriber|surgical team)", text, re.I), text
    assert not re.search(r"(?:^|,\s+)take the last", text)


def test_the_opioid_free_interval_does_not_tell_anyone_to_stop_an_opioid_alone() -> None:
    # clinical-facts §3a: opioid-free ≥ 7–10 days (short-acting), ~2 weeks after
    # methadone/buprenorphine; stopping an opioid is a plan made with the prescriber.
    safety = site.page("safety")
    assert isinstance(safety, pages.SafetyPage)
    text = safety.opioid_free.text
    assert "10 days" in text and "14 days" in text
    assert "prescriber" in text and not text.startswith("Before starting, stay free")


@pytest.mark.parametrize("key", ["taking.timing"])
def test_timing_changes_are_discussed_with_the_prescriber(key: str) -> None:
    # clinical-facts §1c: LDNRT moves the dose to the morning after 5–7 days of disturbed
    # sleep; stepping back after a poorly tolerated increase (§1b). Both are the prescriber's
    # call with the patient.
    for statement in K.guide.many(key):
        if "morning instead" in statement.text or "go back" in statement.text:
            assert ASK.search(statement.text), statement.text


@pytest.mark.parametrize("condition", K.evidence.conditions, ids=lambda c: c.id)
def test_every_condition_summary_sends_the_reader_to_a_clinician(
        condition: ConditionEvidence) -> None:
    assert ASK.search(condition.summary), condition.summary


def test_published_schedules_are_described_not_ordered() -> None:
    # clinical-facts §1b: titration schemes are expert opinion; no RCT compared them.
    taking = pages.taking_page(K.guide, K.titration)
    for preset in taking.presets:
        assert not preset.schedule.text.startswith("Start at"), preset.schedule.text

"""Red flags as patients write them (clinical-facts §4 "Red flags (stop + contact clinician)":
naltrexone-label, naumann-2023, jarka-2023): every listed symptom, in a check-in's side
effects and in its free-text note, in the words, plurals and misspellings people type, is
urgent, and its text says to contact a clinician now."""

from __future__ import annotations

from datetime import date, time

import pytest

from lowdose.core.diary import CheckIn, SideEffect
from lowdose.core.monitoring import monitor
from lowdose.knowledge.evidence import load_side_effects
from lowdose.knowledge.monitoring import load_monitoring_rules

RULES = load_monitoring_rules()
COURSE = load_side_effects()
TODAY = date(2025, 6, 30)

# (what a patient writes, the red flag it must raise)
WRITTEN = [
    # hepatitis: jaundice, dark urine, right-upper-quadrant pain, severe fatigue (label)
    ("Jaundise", "hepatitis"),
    ("jaundiced skin", "hepatitis"),
    ("yellow eye", "hepatitis"),
    ("my urine is dark", "hepatitis"),
    ("dark wee", "hepatitis"),
    ("pain under my right rib", "hepatitis"),
    ("severe fatigue", "hepatitis"),
    ("Extreme tiredness", "hepatitis"),
    ("hepatitus", "hepatitis"),
    ("right upper abdominal pain", "hepatitis"),
    ("eyes turning yellow", "hepatitis"),
    ("severe exhaustion", "hepatitis"),
    # opioid withdrawal after a dose: piloerection, agitation, sweating, vomiting, diarrhoea
    ("withdrawl symptoms", "opioid-withdrawal"),
    ("Goosebump", "opioid-withdrawal"),
    ("sweats, vomitting and diarrhea", "opioid-withdrawal"),
    ("agitated, sweating, throwing up", "opioid-withdrawal"),
    # allergic reaction
    ("Rashes", "allergic-reaction"),
    ("rashes on my arms", "allergic-reaction"),
    ("alergic reaction", "allergic-reaction"),
    ("my lips are swollen", "allergic-reaction"),
    ("swelling in my throat", "allergic-reaction"),
    ("cant breath", "allergic-reaction"),
    ("breathing difficulties", "allergic-reaction"),
    ("anaphylaxsis", "allergic-reaction"),
    ("swelling of face and lips", "allergic-reaction"),
    ("throat tightness", "allergic-reaction"),
    # new suicidal thoughts
    ("sucidal thoughts", "suicidal-thoughts"),
    ("SUICIDAL", "suicidal-thoughts"),
    ("selfharm", "suicidal-thoughts"),
    ("thinking about ending it all", "suicidal-thoughts"),
    ("thoughts of death", "suicidal-thoughts"),
    # severe uncontrolled pain needing opioids
    ("pain is unbearable", "severe-pain-needing-opioids"),
    ("severe pains", "severe-pain-needing-opioids"),
    ("needed opiods", "severe-pain-needing-opioids"),
    ("emergancy surgery", "severe-pain-needing-opioids"),
    ("broken ankle", "severe-pain-needing-opioids"),
    ("pain not controlled by anything", "severe-pain-needing-opioids"),
]


def urgent(checkin: CheckIn) -> list[str]:
    flags = monitor([checkin], today=TODAY, rules=RULES, course=COURSE)
    return [f.code for f in flags if f.level == "urgent"]


@pytest.mark.parametrize(("written", "red_flag"), WRITTEN)
def test_a_red_flag_entered_as_a_side_effect_is_urgent(written, red_flag):
    checkin = CheckIn(TODAY, True, 1.5, time(22, 0), side_effects=(SideEffect(written, 2),))
    assert f"red-flag-{red_flag}" in urgent(checkin), written


@pytest.mark.parametrize(("written", "red_flag"), WRITTEN)
def test_a_red_flag_written_in_the_note_is_urgent(written, red_flag):
    checkin = CheckIn(TODAY, True, 1.5, time(22, 0), note=f"Today: {written}.")
    assert f"red-flag-{red_flag}" in urgent(checkin), written


@pytest.mark.parametrize("note", [
    "Slept well, no rashes, not suicidal, no dark urine.",
    "Sneezing a lot, hay fever season",
    "Feeling mellow and calm today",
    "Tired after a long walk",
    "mild headache, a bit of diarrhoea",
    # one letter from a trigger word, but real words of their own
    "Thoughts of farming again, since visiting mum's farm",
    "The weather is depressing",
    "My dog needs surgery next week",
])
def test_ordinary_or_denied_entries_stay_calm(note):
    assert urgent(CheckIn(TODAY, True, 1.5, time(22, 0), note=note)) == [], note


@pytest.mark.parametrize("red_flag", [r.id for r in COURSE.red_flags])
def test_every_red_flag_tells_the_patient_to_contact_a_clinician_now(red_flag):
    # clinical-facts §4: red flags mean stop and contact a clinician, not "mention it later".
    trigger = next(r for r in COURSE.red_flags if r.id == red_flag).triggers[0]
    checkin = CheckIn(TODAY, True, 1.5, time(22, 0), side_effects=(SideEffect(trigger, 1),))
    flag = next(f for f in monitor([checkin], today=TODAY, rules=RULES, course=COURSE)
                if f.code == f"red-flag-{red_flag}")
    assert flag.level == "urgent"
    assert "contact a clinician now" in flag.reason.casefold(), flag.reason

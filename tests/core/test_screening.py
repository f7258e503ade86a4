"""The safety screen: verdicts and findings from cited facts, dates and boundaries,
conditions with negation, surgery holds, the profile schema, and properties that must hold
for any profile."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, date, datetime, time
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from lowdose.core.screening import (
    LdnUse,
    Medication,
    Procedure,
    Profile,
    ScreeningResult,
    read_condition,
    screen,
)
from lowdose.errors import InputError
from lowdose.knowledge.screening import load_screening_knowledge
from lowdose.schemas import screening as schema

KNOWLEDGE = load_screening_knowledge()
RULES = KNOWLEDGE.rules
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "profiles"
NOW = datetime(2025, 6, 2, 9, 0)
SEVERITY = ["contraindicated", "defer", "specialist", "caution", "ok"]


def profile(*meds: str | Medication, as_of: datetime = NOW, **fields) -> Profile:
    medications = tuple(m if isinstance(m, Medication) else Medication(text=m) for m in meds)
    return Profile(as_of=as_of, medications=medications, **fields)


def run(p: Profile, **kwargs) -> ScreeningResult:
    return screen(p, KNOWLEDGE, **kwargs)


def codes(result: ScreeningResult) -> list[str]:
    return [f.code for f in result.findings]


def finding(result: ScreeningResult, code: str):
    (found,) = [f for f in result.findings if f.code == code]
    return found


def load_fixture(name: str) -> Profile:
    return schema.profile_from_json(json.loads((FIXTURES / name).read_text("utf-8")))


# ---- the design example -------------------------------------------------------------------


def test_design_example_is_contraindicated_because_of_norco():
    result = run(load_fixture("design-example.json"))
    assert result.verdict == "contraindicated"
    first = result.findings[0]
    assert (first.code, first.level) == ("active-opioid", "contraindicated")
    assert first.trigger == "Norco 5/325 mg every 6 h as needed"
    assert first.matched == "hydrocodone (Norco)"
    assert first.sources == ("naltrexone-label",)
    # The RxNorm entry is the same opioid; the cirrhosis and the surgery add their findings.
    assert codes(result) == ["active-opioid", "active-opioid", "hepatic-impairment",
                             "perioperative-hold-missed"]
    assert result.earliest_start is None


def test_result_matches_the_design_contract_shape():
    data = run(load_fixture("design-example.json")).to_dict()
    assert {"verdict", "findings", "earliest_start", "perioperative"} <= set(data)
    for item in data["findings"]:
        assert set(item) == {"code", "level", "trigger", "matched", "message", "sources"}
    periop = data["perioperative"]
    assert {"last_dose_by", "hold_hours", "can_meet_hold"} <= set(periop)
    assert periop["hold_hours"] == 72 and periop["can_meet_hold"] is False
    schema.ScreeningResult.model_validate(data)  # what OpenAPI documents
    json.dumps(data)


FIXTURE_VERDICTS = {
    "design-example.json": ("contraindicated", "active-opioid"),
    "clean-fibromyalgia.json": ("ok", "thyroid-monitoring"),
    "recent-tramadol.json": ("defer", "recent-opioid"),
    "loperamide-misuse.json": ("contraindicated", "loperamide-misuse"),
    "teen-crohns.json": ("specialist", "paediatric"),
    "surgery-planned.json": ("caution", "perioperative-hold"),
    "unrecognised-medicine.json": ("specialist", "unrecognised-medicine"),
}


def test_every_example_profile_has_an_expected_verdict():
    assert sorted(p.name for p in FIXTURES.glob("*.json")) == sorted(FIXTURE_VERDICTS)


@pytest.mark.parametrize(("name", "expected"), sorted(FIXTURE_VERDICTS.items()))
def test_example_profiles_screen_as_expected(name, expected):
    result = run(load_fixture(name))
    verdict, code = expected
    assert result.verdict == verdict
    assert code in codes(result)
    schema.ScreeningResult.model_validate(result.to_dict())


# ---- medicines ----------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "code", "level", "matched"), [
    ("Norco 5/325", "active-opioid", "contraindicated", "hydrocodone (Norco)"),
    ("Percocet 10/325", "active-opioid", "contraindicated", "oxycodone (Percocet)"),
    ("Tylenol #3", "active-opioid", "contraindicated", "codeine (Tylenol #3)"),
    ("guaifenesin/codeine syrup", "active-opioid", "contraindicated", "codeine"),
    ("Butrans 10 mcg/h patch", "active-opioid", "contraindicated", "buprenorphine (BuTrans)"),
    ("tramadal 50 mg", "active-opioid", "contraindicated", "tramadol"),
    ("Embeda 30 mg", "active-opioid", "contraindicated", "morphine (Embeda)"),
    ("kratom tea most days", "active-opioid", "contraindicated", "kratom"),
    ("Suboxone 8/2 film", "opioid-dependence-treatment", "contraindicated",
     "buprenorphine (Suboxone)"),
    ("methadone 80 mg daily", "opioid-dependence-treatment", "contraindicated", "methadone"),
    ("Lomotil", "opioid-antidiarrheal", "specialist", "diphenoxylate (Lomotil)"),
    ("Narcan nasal spray", "opioid-antagonist", "specialist", "naloxone (Narcan)"),
    ("Movantik 25 mg", "opioid-antagonist", "specialist", "naloxegol (Movantik)"),
    ("naltrexone 50 mg", "duplicate-naltrexone", "contraindicated", "naltrexone"),
    ("Revia", "duplicate-naltrexone", "contraindicated", "naltrexone (Revia)"),
    ("Vivitrol", "duplicate-naltrexone", "contraindicated", "naltrexone (Vivitrol)"),
    ("Contrave 8/90", "duplicate-naltrexone", "contraindicated", "naltrexone (Contrave)"),
    # Contrave by its ingredients: 8 mg of naltrexone a tablet, never LDN.
    ("naltrexone/bupropion", "duplicate-naltrexone", "contraindicated", "naltrexone"),
    ("naltrexone", "naltrexone-dose-unknown", "specialist", "naltrexone"),
    ("Prograf 2 mg bid", "transplant-immunosuppression", "specialist", "tacrolimus (Prograf)"),
    ("Antabuse 250 mg", "disulfiram", "specialist", "disulfiram (Antabuse)"),
    ("thioridazine 25 mg", "thioridazine", "caution", "thioridazine"),
    ("pain pill from the dentist", "unrecognised-medicine", "specialist", None),
    ("tramadone 50 mg", "unrecognised-medicine", "specialist", "tramadol or trazodone"),
])
def test_each_medicine_rule(text, code, level, matched):
    result = run(profile(text))
    found = finding(result, code)
    assert (found.level, found.matched, found.trigger) == (level, matched, text)
    assert result.verdict == level
    assert found.sources


@pytest.mark.parametrize(("text", "code"), [
    ("Imodium 2 mg as needed", "loperamide"),
    ("loperamide 2 mg four times daily", "loperamide"),
    ("LDN 4.5 mg at bedtime", "ldn-listed"),
    ("naltrexone 4.5 mg compounded", "ldn-listed"),
    ("naltrexone 1 mg/mL liquid, 3 mL nightly", "ldn-listed"),
    ("levothyroxine 75 mcg", "thyroid-monitoring"),
    ("Humira pen every 2 weeks", "immunosuppressant"),
    ("tacrolimus ointment", "immunosuppressant"),
    ("Biktarvy", "antiretroviral"),
])
def test_notes_that_leave_the_verdict_ok(text, code):
    result = run(profile(text))
    assert codes(result) == [code]
    assert result.findings[0].level == "info"
    assert result.verdict == "ok"


def test_the_kratom_finding_cites_the_kratom_case_report():
    found = finding(run(profile("kratom capsules")), "active-opioid")
    assert found.sources == ("naltrexone-label", "jarka-2023")
    assert "7-hydroxymitragynine" in found.message


def test_a_constipation_antagonist_says_it_implies_opioid_use():
    found = finding(run(profile("Relistor injection")), "opioid-antagonist")
    assert "opioids are being taken" in found.message


def test_thyroid_note_says_the_lower_dose_claim_is_unsupported():
    found = finding(run(profile("Synthroid 100 mcg")), "thyroid-monitoring")
    assert "not supported" in found.message and "TSH" in found.message
    assert found.sources == ("raknes-2020", "mcdermott-2019")


@pytest.mark.parametrize(("amount", "code"), [
    ("loperamide 16 mg/day", "loperamide"),  # the label's prescription maximum
    ("loperamide 18 mg/day", "loperamide-misuse"),
    ("loperamide 60-100 mg/day", "loperamide-misuse"),
    ("loperamide 2 mg, 30 tablets a day", "loperamide-misuse"),
    ("Imodium 8 mg a day", "loperamide"),
])
def test_loperamide_turns_contraindicated_above_the_label_maximum(amount, code):
    found = finding(run(profile(amount)), code)
    if code == "loperamide-misuse":
        assert found.level == "contraindicated"
        assert "16 mg" in found.message
    else:
        assert found.level == "info"


def test_loperamide_misuse_message_states_the_amount():
    found = finding(run(profile("loperamide 60-100 mg/day")), "loperamide-misuse")
    assert found.message.startswith("Loperamide: 60–100 mg a day")


@pytest.mark.parametrize(("dose", "codes_found"), [
    (4.5, []), (6, ["ldn-dose-above-ceiling"]), (50, ["ldn-dose-above-ceiling"])])
def test_an_ldn_dose_above_the_usual_ceiling_needs_a_prescriber(dose, codes_found):
    # A plan above 4.5 mg needs a clinician's override; a screen must not call it "ok".
    result = run(profile(ldn=LdnUse(dose_mg=dose)))
    assert codes(result) == codes_found
    if codes_found:
        assert result.verdict == "specialist"
        assert f"{dose:g} mg" in result.findings[0].message


def test_plain_naltrexone_is_the_ldn_described_in_the_ldn_block():
    result = run(profile("naltrexone", ldn=LdnUse(dose_mg=4.5)))
    assert codes(result) == ["ldn-listed"]


# False positives are failures.
@pytest.mark.parametrize("text", [
    "dextromethorphan 30 mg", "Delsym", "Robitussin DM", "benzonatate 100 mg tid",
    "lofexidine 0.18 mg", "trazodone 50 mg at bedtime", "hydroxyzine 25 mg", "gabapentin 300 mg",
    "Norvasc 5 mg", "Lamictal 100 mg", "oxybutynin 5 mg", "methylphenidate 10 mg",
    "fenofibrate 145 mg", "hydrochlorothiazide 25 mg", "cyclobenzaprine 10 mg", "Tylenol",
    "sumatriptan 50 mg", "fish oil", "melatonin 3 mg", "vitamin B12",
])
def test_look_alikes_pass_without_any_finding(text):
    result = run(profile(text))
    assert result.findings == ()
    assert result.verdict == "ok"


@pytest.mark.parametrize("text", ["codeine-free cough syrup", "morphine free"])
def test_a_product_free_of_an_opioid_is_not_read_as_that_opioid(text):
    # It is still not recognised as anything else, so a prescriber checks it.
    assert codes(run(profile(text))) == ["unrecognised-medicine"]


@pytest.mark.parametrize("text", ["allergic to codeine", "codeine allergy",
                                  "Tylenol #3 allergy", "oxycodone intolerance"])
def test_an_opioid_allergy_is_not_an_opioid_being_taken(text):
    result = run(profile(text))
    assert codes(result) == ["opioid-allergy"]
    assert result.verdict == "caution"


def test_an_allergy_beside_an_opioid_taken_still_contraindicates():
    result = run(profile("allergic to tramadol, takes oxycodone"))
    assert result.verdict == "contraindicated"


def test_combined_naltrexone_is_a_duplicate_even_next_to_ldn():
    result = run(profile("naltrexone/bupropion", ldn=LdnUse(dose_mg=4.5)))
    assert codes(result) == ["duplicate-naltrexone"]


@pytest.mark.parametrize("text", ["naloxone 4 mg nasal spray", "levothyroxine 50 mcg",
                                  "Lomotil", "Imodium", "Movantik"])
def test_opioid_related_non_agonists_are_never_called_active_opioids(text):
    assert "active-opioid" not in codes(run(profile(text)))


@pytest.mark.parametrize(("text", "unread"), [
    ("amlodipine/benazepril", "benazepril"), ("Tylenol + frobnicol 10 mg", "frobnicol"),
    ("acetaminophen/xyzzyfen 325/5", "xyzzyfen"), ("ibuprofen and zolgensma", "zolgensma")])
def test_a_combination_with_an_unknown_partner_is_not_ok(text, unread):
    # The unknown part could be an opioid: never "ok" because the other part is known.
    result = run(profile(text))
    assert codes(result) == ["unrecognised-medicine"]
    assert f'"{unread}"' in result.findings[0].message


@pytest.mark.parametrize("text", ["losartan/hctz", "Norco 5/325 mg every 6 h as needed",
                                  "sertraline 50 mg daily and as needed", "Tylenol with food"])
def test_known_combinations_and_dosing_words_are_read_in_full(text):
    assert "unrecognised-medicine" not in codes(run(profile(text)))


def test_a_recognised_opioid_next_to_an_unreadable_word_still_counts():
    result = run(profile("Norco and tramadone"))
    assert {"active-opioid", "unrecognised-medicine"} <= set(codes(result))
    assert result.verdict == "contraindicated"


def test_an_unknown_rxnorm_code_alone_is_unrecognised():
    found = finding(run(profile(Medication(rxnorm="99999999"))), "unrecognised-medicine")
    assert found.trigger == "RxNorm 99999999"
    assert "not in the vocabulary" in found.message


def test_a_stopped_non_opioid_needs_no_review():
    assert run(profile(Medication(text="Antabuse", stopped=date(2024, 1, 1)))).findings == ()


# ---- dates: current use, recent use and the opioid-free interval ---------------------------


@pytest.mark.parametrize(("last_taken", "as_of", "code"), [
    # A date alone counts as taken at the end of that day; 48 h (current_use.hours) later the
    # opioid is no longer current.
    (date(2025, 6, 1), datetime(2025, 6, 4, 0, 0), "active-opioid"),
    (date(2025, 6, 1), datetime(2025, 6, 4, 0, 1), "recent-opioid"),
    (datetime(2025, 6, 1, 8, 0), datetime(2025, 6, 3, 8, 0), "active-opioid"),
    (datetime(2025, 6, 1, 8, 0), datetime(2025, 6, 3, 8, 1), "recent-opioid"),
])
def test_an_opioid_is_current_within_48_hours_of_its_last_dose(last_taken, as_of, code):
    med = Medication(text="oxycodone 5 mg", last_taken=last_taken)
    assert codes(run(profile(med, as_of=as_of))) == [code]


@pytest.mark.parametrize(("text", "last", "earliest"), [
    ("tramadol 50 mg", date(2025, 6, 1), date(2025, 6, 11)),  # 10 days (label: 7–10)
    ("oxycodone 5 mg", date(2025, 6, 1), date(2025, 6, 11)),
    # 14 days after buprenorphine. (A patch counts until it comes off, 168 h after it is put
    # on: see test_screening_facts_patch.py.)
    ("Belbuca 150 mcg buccal film", date(2025, 6, 1), date(2025, 6, 15)),
    ("kratom", date(2025, 6, 1), date(2025, 6, 11)),
])
def test_recent_opioid_defers_to_the_end_of_the_opioid_free_interval(text, last, earliest):
    med = Medication(text=text, last_taken=last)
    result = run(profile(med, as_of=datetime(2025, 6, 5, 10, 0)))
    assert result.verdict == "defer"
    found = finding(result, "recent-opioid")
    assert found.level == "defer"
    assert result.earliest_start == earliest
    assert earliest.isoformat() in found.message
    assert result.to_dict()["earliest_start"] == earliest.isoformat()


def test_stopped_methadone_waits_14_days_and_asks_about_dependence():
    med = Medication(text="methadone 60 mg daily", stopped=date(2025, 6, 1))
    result = run(profile(med, as_of=datetime(2025, 6, 5, 10, 0)))
    assert codes(result) == ["recent-opioid", "opioid-dependence-history"]
    assert result.earliest_start == date(2025, 6, 15)
    assert result.verdict == "defer"


@pytest.mark.parametrize(("as_of", "code", "level"), [
    (datetime(2025, 6, 10, 23, 59), "recent-opioid", "defer"),
    (datetime(2025, 6, 11, 0, 0), "opioid-interval-met", "caution"),
    (datetime(2025, 9, 1, 9, 0), "opioid-interval-met", "caution"),
])
def test_once_the_interval_has_passed_the_opioid_is_only_a_caution(as_of, code, level):
    med = Medication(text="tramadol 50 mg", last_taken=date(2025, 6, 1), stopped=date(2025, 6, 1))
    result = run(profile(med, as_of=as_of))
    assert [(f.code, f.level) for f in result.findings] == [(code, level)]
    assert result.earliest_start == (date(2025, 6, 11) if level == "defer" else None)


def test_earliest_start_is_the_latest_over_all_recent_opioids():
    meds = (Medication(text="tramadol", last_taken=date(2025, 6, 1)),
            Medication(text="buprenorphine patch", stopped=date(2025, 5, 30)),
            Medication(text="Percocet", last_taken=date(2025, 6, 2)))
    result = run(profile(*meds, as_of=datetime(2025, 6, 5, 9, 0)))
    assert [f.earliest_start for f in result.findings] == [
        date(2025, 6, 11), date(2025, 6, 13), date(2025, 6, 12)]
    assert result.earliest_start == date(2025, 6, 13)


@pytest.mark.parametrize("med", [
    Medication(text="oxycodone 5 mg, stopped 2025-05-20"),
    Medication(text="oxycodone 5 mg", stopped=date(2025, 5, 20)),
    Medication(text="oxycodone 5 mg, stopped", last_taken=date(2025, 5, 20)),
])
def test_a_stop_date_from_the_text_or_the_field_sets_the_interval(med):
    result = run(profile(med, as_of=datetime(2025, 5, 25, 9, 0)))
    assert codes(result) == ["recent-opioid"]
    assert result.earliest_start == date(2025, 5, 30)
    assert codes(run(profile(med))) == ["opioid-interval-met"]  # by 2 June it has passed


def test_a_stopped_opioid_without_any_date_needs_the_date():
    result = run(profile("tramadol, discontinued"))
    found = finding(result, "opioid-stop-date-unknown")
    assert found.level == "specialist" and "10" in found.message
    assert result.earliest_start is None


def test_a_stop_planned_for_later_leaves_the_opioid_current():
    med = Medication(text="oxycodone 5 mg", stopped=date(2025, 6, 20))
    assert codes(run(profile(med))) == ["active-opioid"]


@pytest.mark.parametrize(("field", "med"), [
    ("medications.0.last_taken", Medication(text="oxycodone", last_taken=date(2025, 6, 3))),
    ("medications.0.last_taken",
     Medication(text="oxycodone", last_taken=datetime(2025, 6, 2, 9, 1))),
])
def test_a_dose_after_as_of_is_refused_naming_the_field(field, med):
    with pytest.raises(InputError) as error:
        run(profile(med))
    assert error.value.field == field


@pytest.mark.parametrize(("p", "field"), [
    (profile(as_of=datetime(2025, 6, 2, 9, 0, tzinfo=UTC)), "as_of"),
    (profile(Medication(text="Norco", last_taken=datetime(2025, 6, 1, 8, 0, tzinfo=UTC))),
     "medications.0.last_taken"),
    (profile(Medication()), "medications.0"),
    (profile(age=200), "age"),
    (profile(weight_kg=-3), "weight_kg"),
    (profile(ldn=LdnUse(last_taken=date(2025, 6, 3))), "ldn.last_taken"),
])
def test_the_core_screen_refuses_bad_profiles_naming_the_field(p, field):
    with pytest.raises(InputError) as error:
        run(p)
    assert error.value.field == field


# ---- conditions -----------------------------------------------------------------------------


@pytest.mark.parametrize(("condition", "code", "level"), [
    ("acute hepatitis", "acute-liver-disease", "contraindicated"),
    ("acute liver failure", "acute-liver-disease", "contraindicated"),
    ("decompensated cirrhosis", "acute-liver-disease", "contraindicated"),
    ("history of acute hepatitis B", "hepatic-impairment", "specialist"),
    ("compensated cirrhosis", "hepatic-impairment", "specialist"),
    ("chronic hepatitis C", "hepatic-impairment", "specialist"),
    ("NASH", "hepatic-impairment", "specialist"),
    ("CKD stage 4", "severe-renal-impairment", "caution"),
    ("on haemodialysis three times a week", "severe-renal-impairment", "caution"),
    ("eGFR 25", "severe-renal-impairment", "caution"),
    ("eGFR < 30", "severe-renal-impairment", "caution"),
    ("kidney transplant 2019", "transplant-immunosuppression", "specialist"),
    ("Hashimoto's thyroiditis", "thyroid-monitoring", "info"),
    ("HIV", "antiretroviral", "info"),
    ("depression", "depression", "caution"),
    ("major depressive disorder, stable", "depression", "caution"),
    ("suicidal ideation last year", "suicidal-ideation", "specialist"),
    ("opioid use disorder", "opioid-dependence-treatment", "contraindicated"),
    ("methadone maintenance", "opioid-dependence-treatment", "contraindicated"),
    ("history of opioid use disorder", "opioid-dependence-history", "specialist"),
    ("OUD in remission", "opioid-dependence-history", "specialist"),
    ("chronic opioid therapy for back pain", "active-opioid", "contraindicated"),
    ("pregnant, 12 weeks", "pregnancy", "specialist"),
    ("breastfeeding", "breastfeeding", "caution"),
    # A trial exclusion (FINAL): a "needs review" flag, clinical-facts §3d.
    ("substance use disorder", "substance-misuse", "specialist"),
])
def test_each_condition_rule(condition, code, level):
    result = run(profile(conditions=(condition,)))
    found = finding(result, code)
    assert (found.level, found.trigger) == (level, condition)
    assert found.sources


@pytest.mark.parametrize("condition", [
    "no liver disease", "denies liver disease", "no history of hepatitis",
    "hepatitis ruled out", "not pregnant", "denies suicidal ideation", "no depression",
    "eGFR 45", "CKD stage 3", "hair transplant", "fibromyalgia", "long COVID",
    "nursing home resident", "alcohol use disorder",
])
def test_negated_or_unrelated_conditions_raise_nothing(condition):
    assert run(profile(conditions=(condition,))).findings == ()


def test_negation_stops_at_the_end_of_its_clause():
    assert read_condition("no cirrhosis, depression", RULES.conditions) == [
        ("depression", "depression")]
    assert read_condition("no cirrhosis but depression", RULES.conditions) == [
        ("depression", "depression")]


def test_the_longest_condition_term_wins():
    assert read_condition("decompensated cirrhosis", RULES.conditions) == [
        ("acute-liver", "decompensated cirrhosis")]


# ---- profile flags --------------------------------------------------------------------------


def test_pregnancy_and_breastfeeding_flags():
    result = run(profile(pregnant=True, breastfeeding=True))
    assert [(f.code, f.level) for f in result.findings] == [
        ("pregnancy", "specialist"), ("breastfeeding", "caution")]
    assert finding(result, "breastfeeding").sources == (
        "lactmed-naltrexone", "chan-2004", "e-lactancia-naltrexone")


def test_a_condition_does_not_repeat_what_a_medicine_already_said():
    result = run(profile("levothyroxine 75 mcg", conditions=("Hashimoto's thyroiditis",)))
    assert [(f.code, f.trigger) for f in result.findings] == [
        ("thyroid-monitoring", "levothyroxine 75 mcg")]


def test_a_pregnancy_named_twice_is_one_finding():
    result = run(profile(pregnant=True, conditions=("pregnant",)))
    assert codes(result) == ["pregnancy"]


@pytest.mark.parametrize(("weight", "ceiling"), [(30, "3 mg"), (38, "3.8 mg"), (60, "4.5 mg")])
def test_under_18_states_the_weight_based_ceiling(weight, ceiling):
    # parker-2018-cochrane: 0.1 mg/kg a day, at most 4.5 mg.
    found = finding(run(profile(age=15, weight_kg=weight)), "paediatric")
    assert found.level == "specialist"
    assert found.matched == f"{ceiling} a day"
    assert f"at most {ceiling} a day" in found.message


def test_under_18_without_a_weight_asks_for_it():
    found = finding(run(profile(age=12)), "paediatric")
    assert "give the weight" in found.message
    assert found.matched is None


def test_adults_get_no_paediatric_finding():
    assert run(profile(age=18, weight_kg=50)).findings == ()


# ---- perioperative --------------------------------------------------------------------------

KNEE = Procedure(name="knee replacement", at=datetime(2025, 6, 12, 8, 0), opioids_expected=True)


def test_a_planned_surgery_gives_the_last_dose_time():
    result = run(profile("LDN 4.5 mg", ldn=LdnUse(dose_mg=4.5, time=time(22, 0)),
                         procedures=(KNEE,)))
    assert result.verdict == "caution"
    found = finding(result, "perioperative-hold")
    assert "2025-06-08 22:00" in found.message
    block = result.to_dict()["perioperative"]
    assert (block["last_dose_by"], block["hold_hours"], block["can_meet_hold"]) == (
        "2025-06-08T22:00", 72, True)
    assert block["procedure"] == "knee replacement"


def test_the_hold_hours_argument_overrides_the_default():
    result = run(profile(procedures=(KNEE,)), hold_hours=48)
    block = result.to_dict()["perioperative"]
    assert (block["last_dose_by"], block["hold_hours"]) == ("2025-06-09T22:00", 48)


def test_a_morning_dose_moves_the_last_dose():
    result = run(profile(ldn=LdnUse(time=time(8, 0)), procedures=(KNEE,)))
    assert result.to_dict()["perioperative"]["last_dose_by"] == "2025-06-09T08:00"


def test_a_hold_that_can_no_longer_be_met_tells_what_to_tell_the_team():
    soon = replace(KNEE, at=datetime(2025, 6, 3, 8, 0))
    result = run(profile(ldn=LdnUse(last_taken=datetime(2025, 6, 1, 22, 0)),
                         procedures=(soon,)))
    found = finding(result, "perioperative-hold-missed")
    assert found.level == "specialist"
    assert "Tell the surgical team" in found.message
    assert result.perioperative is not None and not result.perioperative.can_meet_hold


def test_someone_not_yet_on_ldn_is_told_not_to_start_before_a_close_operation():
    # The hold (whately-stead-2023) is about a dose still blocking opioids at the operation;
    # a profile without `ldn` may be a person about to start, who holds nothing yet.
    soon = replace(KNEE, at=datetime(2025, 6, 3, 8, 0))
    found = finding(run(profile(procedures=(soon,))), "perioperative-hold-missed")
    assert found.level == "specialist"
    assert "do not start LDN before it" in found.message
    assert "hold before surgery can no longer be met" not in found.message
    later = finding(run(profile(procedures=(KNEE,))), "perioperative-hold")
    assert "if you take LDN before then, the last dose must be by 2025-06-08 22:00" in (
        later.message)
    assert "whately-stead-2023" in later.sources


def test_the_block_describes_the_earliest_upcoming_procedure_with_opioids():
    past = replace(KNEE, name="old surgery", at=datetime(2025, 5, 1, 8, 0))
    no_opioids = replace(KNEE, name="dental cleaning", at=datetime(2025, 6, 5, 8, 0),
                         opioids_expected=False)
    later = replace(KNEE, name="hip replacement", at=datetime(2025, 7, 1, 8, 0))
    result = run(profile(procedures=(later, past, no_opioids, KNEE)))
    assert result.to_dict()["perioperative"]["procedure"] == "knee replacement"
    assert codes(result) == ["perioperative-hold", "perioperative-hold"]


def test_an_ldn_dose_known_by_date_counts_as_taken_at_the_usual_time():
    soon = replace(KNEE, at=datetime(2025, 6, 4, 8, 0))
    taken_yesterday = run(profile(ldn=LdnUse(last_taken=date(2025, 6, 1)),
                                  procedures=(soon,)))
    assert taken_yesterday.to_dict()["perioperative"]["last_taken"] == "2025-06-01T22:00"
    taken_today = run(profile(ldn=LdnUse(last_taken=date(2025, 6, 2)), procedures=(soon,)))
    # Not later than now: at 09:00 today's bedtime dose has not been taken yet.
    assert taken_today.to_dict()["perioperative"]["last_taken"] == "2025-06-02T09:00"


def test_no_upcoming_procedure_means_no_perioperative_block():
    past = replace(KNEE, at=datetime(2025, 5, 1, 8, 0))
    assert run(profile(procedures=(past,))).to_dict()["perioperative"] is None


@pytest.mark.parametrize("hours", [0, -5, 10_000, float("nan")])
def test_an_impossible_hold_is_refused(hours):
    with pytest.raises(InputError) as error:
        run(profile(procedures=(KNEE,)), hold_hours=hours)
    assert error.value.field == "hold_hours"


# ---- the profile schema ---------------------------------------------------------------------


def test_unknown_fields_are_an_error_not_dropped():
    with pytest.raises(ValidationError) as error:
        schema.Profile.model_validate({"as_of": "2025-06-02T09:00", "alergies": ["x"]})
    assert error.value.errors()[0]["loc"] == ("alergies",)
    with pytest.raises(InputError) as problem:
        schema.profile_from_json({"as_of": "2025-06-02", "medications": [{"txt": "Norco"}]})
    assert problem.value.field.startswith("medications.0")


@pytest.mark.parametrize(("data", "field"), [
    ({}, "as_of"),
    ({"as_of": "June 2"}, "as_of"),
    ({"as_of": "2025-06-02", "age": -1}, "age"),
    ({"as_of": "2025-06-02", "weight_kg": 0}, "weight_kg"),
    ({"as_of": "2025-06-02", "medications": [{}]}, "medications.0"),
    ({"as_of": "2025-06-02", "medications": [{"rxnorm": "abc"}]}, "medications.0.rxnorm"),
    ({"as_of": "2025-06-02", "procedures": [{"name": "x"}]}, "procedures.0.at"),
    ({"as_of": "2025-06-02", "ldn": {"time": "25:00"}}, "ldn.time"),
])
def test_bad_profiles_name_the_field(data, field):
    with pytest.raises(InputError) as error:
        schema.profile_from_json(data)
    assert error.value.field == field


def test_mixing_times_with_and_without_offsets_is_refused():
    data = {"as_of": "2025-06-02T09:00",
            "medications": [{"text": "oxycodone", "last_taken": "2025-06-01T20:00+02:00"}]}
    with pytest.raises(InputError) as error:
        schema.profile_from_json(data)
    assert error.value.field == "medications.0.last_taken"


def test_times_with_offsets_are_read_in_the_offset_of_as_of():
    data = {"as_of": "2025-06-02T09:00+02:00",
            "medications": [{"text": "oxycodone", "last_taken": "2025-06-01T06:00Z"}],
            "procedures": [{"at": "2025-06-12T06:00Z", "opioids_expected": True}]}
    core = schema.profile_from_json(data)
    assert core.as_of == datetime(2025, 6, 2, 9, 0)
    assert core.medications[0].last_taken == datetime(2025, 6, 1, 8, 0)
    assert core.procedures[0].at == datetime(2025, 6, 12, 8, 0)


def test_a_day_alone_for_now_or_a_surgery_means_its_first_minute():
    core = schema.profile_from_json({"as_of": "2025-06-02", "procedures": [
        {"at": "2025-06-12", "opioids_expected": True}]})
    assert core.as_of == datetime(2025, 6, 2, 0, 0)
    assert core.procedures[0].at == datetime(2025, 6, 12, 0, 0)


def test_python_dates_are_taken_as_they_are():
    model = schema.Profile.model_validate({"as_of": datetime(2025, 6, 2, 9, 0), "medications": [
        {"text": "oxycodone", "last_taken": date(2025, 6, 1)}]})
    assert model.to_core().medications[0].last_taken == date(2025, 6, 1)


def test_a_date_alone_stays_a_date_and_the_design_example_parses():
    core = load_fixture("design-example.json")
    assert core.medications[0].last_taken == date(2025, 6, 1)
    assert core.ldn == LdnUse(dose_mg=4.5, time=time(22, 0),
                              last_taken=datetime(2025, 6, 1, 22, 0))
    assert core.medications[1].rxnorm == "857002"


def test_the_result_schema_is_published_for_openapi():
    properties = schema.ScreeningResult.model_json_schema()["properties"]
    assert {"verdict", "findings", "earliest_start", "perioperative"} <= set(properties)


# ---- properties -----------------------------------------------------------------------------

TEXTS = st.sampled_from([
    "Norco 5/325", "tramadol 50 mg", "levothyroxine 75 mcg", "gabapentin 300 mg", "Lomotil",
    "Imodium 2 mg", "loperamide 60-100 mg/day", "Narcan", "Suboxone", "vitamin D3",
    "trazodone 50 mg", "LDN 4.5 mg", "Contrave", "Prograf 1 mg", "Biktarvy", "kratom",
    "tramadone", "Antabuse", "dextromethorphan", "fish oil",
])
MEDICATIONS = st.builds(
    Medication, text=TEXTS,
    last_taken=st.one_of(st.none(), st.dates(date(2025, 4, 1), date(2025, 6, 2))),
    stopped=st.one_of(st.none(), st.dates(date(2025, 4, 1), date(2025, 7, 1))))
CONDITIONS = st.lists(st.sampled_from([
    "fibromyalgia", "compensated cirrhosis", "no liver disease", "depression", "pregnant",
    "acute hepatitis", "CKD stage 4", "HIV", "kidney transplant", "Hashimoto's",
]), max_size=3)
PROFILES = st.builds(
    Profile, as_of=st.just(NOW), age=st.one_of(st.none(), st.integers(5, 90)),
    weight_kg=st.one_of(st.none(), st.floats(20, 150)), pregnant=st.booleans(),
    conditions=CONDITIONS.map(tuple), medications=st.lists(MEDICATIONS, max_size=6).map(tuple))
UNRECOGNISABLE = st.sampled_from(["the blue pill", "zorbitol 20 mg", "tramadone", "xyz"])


@settings(max_examples=150, deadline=None)
@given(PROFILES)
def test_the_verdict_is_always_the_most_severe_finding(p):
    result = run(p)
    levels = [f.level for f in result.findings if f.level != "info"]
    assert result.verdict == (min(levels, key=SEVERITY.index) if levels else "ok")
    assert [f.level for f in result.findings] == sorted(
        (f.level for f in result.findings), key=RULES.rank)
    # Design §3.2: `defer` gives `earliest_start`; a more severe verdict has no start date.
    assert (result.earliest_start is not None) == (result.verdict == "defer")


@settings(max_examples=150, deadline=None)
@given(PROFILES, UNRECOGNISABLE)
def test_adding_an_unrecognised_medicine_never_leaves_the_verdict_below_specialist(p, text):
    before = run(p).verdict
    after = run(replace(p, medications=(*p.medications, Medication(text=text)))).verdict
    assert SEVERITY.index(after) <= SEVERITY.index("specialist")
    assert SEVERITY.index(after) <= SEVERITY.index(before)


@settings(max_examples=100, deadline=None)
@given(PROFILES, st.randoms())
def test_the_order_of_the_medication_list_does_not_change_the_verdict(p, rng):
    shuffled = list(p.medications)
    rng.shuffle(shuffled)
    assert run(replace(p, medications=tuple(shuffled))).verdict == run(p).verdict

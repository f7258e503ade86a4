"""Recognising medicines as people write them: brands, combinations, strengths, routes,
misspellings, RxNorm codes, and the look-alikes that must never be read as opioids."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lowdose.core.medicines import AMBIGUOUS, MATCHED, UNKNOWN, recognize
from lowdose.errors import InputError
from lowdose.knowledge.medicines import load_medicine_vocabulary

VOCABULARY = load_medicine_vocabulary()
OPIOIDS = {"opioid-agonist", "opioid-partial-agonist", "opioid-dependence-treatment", "kratom"}
VALUESETS = Path(__file__).resolve().parents[3] / "shared" / "data" / "cdc-opioid-valuesets"


def read(text: str | None, rxnorm: str | None = None):
    return recognize(text, rxnorm, VOCABULARY)


# clinical-facts §3c brands and generics → (class, what the screen names).
@pytest.mark.parametrize(("text", "cls", "label"), [
    ("Norco", "opioid-agonist", "hydrocodone (Norco)"),
    ("Vicodin", "opioid-agonist", "hydrocodone (Vicodin)"),
    ("Lortab", "opioid-agonist", "hydrocodone (Lortab)"),
    ("Hysingla ER 30 mg", "opioid-agonist", "hydrocodone (Hysingla)"),
    ("Percocet", "opioid-agonist", "oxycodone (Percocet)"),
    ("OxyContin 20 mg bid", "opioid-agonist", "oxycodone (OxyContin)"),
    ("Roxicodone", "opioid-agonist", "oxycodone (Roxicodone)"),
    ("Xtampza ER", "opioid-agonist", "oxycodone (Xtampza)"),
    ("Ultram 50 mg", "opioid-agonist", "tramadol (Ultram)"),
    ("Ultracet", "opioid-agonist", "tramadol (Ultracet)"),
    ("Tylenol with codeine", "opioid-agonist", "codeine (Tylenol with Codeine)"),
    ("Tylenol #4", "opioid-agonist", "codeine (Tylenol #4)"),
    ("Subutex", "opioid-dependence-treatment", "buprenorphine (Subutex)"),
    ("Zubsolv", "opioid-dependence-treatment", "buprenorphine (Zubsolv)"),
    ("Sublocade monthly injection", "opioid-dependence-treatment", "buprenorphine (Sublocade)"),
    ("Brixadi", "opioid-dependence-treatment", "buprenorphine (Brixadi)"),
    ("Belbuca 150 mcg buccal film", "opioid-partial-agonist", "buprenorphine (Belbuca)"),
    ("Methadose 40 mg", "opioid-dependence-treatment", "methadone (Methadose)"),
    ("Dolophine", "opioid-dependence-treatment", "methadone (Dolophine)"),
    ("Duragesic 25 mcg/hr", "opioid-agonist", "fentanyl (Duragesic)"),
    ("Actiq", "opioid-agonist", "fentanyl (Actiq)"),
    ("Fentora", "opioid-agonist", "fentanyl (Fentora)"),
    ("MS Contin 15 mg", "opioid-agonist", "morphine (MS Contin)"),
    ("Dilaudid 2 mg", "opioid-agonist", "hydromorphone (Dilaudid)"),
    ("Nucynta 50 mg", "opioid-agonist", "tapentadol (Nucynta)"),
    ("Demerol", "opioid-agonist", "meperidine (Demerol)"),
    ("oxymorphone 5 mg", "opioid-agonist", "oxymorphone"),
    ("kratom capsules daily", "kratom", "kratom"),
    ("Mitragyna speciosa powder", "kratom", "kratom"),
    ("Lomotil 2 tabs after each loose stool", "opioid-antidiarrheal", "diphenoxylate (Lomotil)"),
    ("Imodium A-D", "loperamide", "loperamide (Imodium)"),
    ("Contrave", "naltrexone", "naltrexone (Contrave)"),
    ("Vivitrol 380 mg monthly", "naltrexone", "naltrexone (Vivitrol)"),
    ("Revia 50 mg", "naltrexone", "naltrexone (Revia)"),
    ("low dose naltrexone 4.5 mg", "naltrexone", "naltrexone (LDN)"),
    ("Movantik 25 mg", "peripheral-opioid-antagonist", "naloxegol (Movantik)"),
    ("Symproic", "peripheral-opioid-antagonist", "naldemedine (Symproic)"),
    ("Relistor injection", "peripheral-opioid-antagonist", "methylnaltrexone (Relistor)"),
    ("Narcan nasal spray", "opioid-antagonist", "naloxone (Narcan)"),
    ("nalmefene", "opioid-antagonist", "nalmefene"),
    ("Synthroid 100 mcg", "thyroid-hormone", "levothyroxine (Synthroid)"),
    ("Armour Thyroid 60 mg", "thyroid-hormone", "thyroid (Armour Thyroid)"),
    ("Cytomel 5 mcg", "thyroid-hormone", "liothyronine (Cytomel)"),
    ("Prograf 2 mg bid", "transplant-immunosuppressant", "tacrolimus (Prograf)"),
    ("CellCept 500 mg", "transplant-immunosuppressant", "mycophenolate (CellCept)"),
    ("Humira pen", "immunosuppressant", "adalimumab (Humira)"),
    ("Biktarvy", "antiretroviral", "bictegravir / emtricitabine / tenofovir (Biktarvy)"),
    ("Tivicay 50 mg", "antiretroviral", "dolutegravir (Tivicay)"),
    ("Antabuse", "non-opioid", "disulfiram (Antabuse)"),
])
def test_brands_and_substances_are_recognised_with_their_class(text, cls, label):
    result = read(text)
    assert result.status == MATCHED
    assert result.cls == cls
    assert result.label() == label


@pytest.mark.parametrize(("text", "label", "strengths"), [
    ("Norco 5/325", "hydrocodone (Norco)",
     [("hydrocodone", 5, "mg"), ("acetaminophen", 325, "mg")]),
    ("Norco 10/325 mg", "hydrocodone (Norco)",
     [("hydrocodone", 10, "mg"), ("acetaminophen", 325, "mg")]),
    ("Percocet 10/325", "oxycodone (Percocet)",
     [("oxycodone", 10, "mg"), ("acetaminophen", 325, "mg")]),
    ("Ultracet 37.5/325", "tramadol (Ultracet)",
     [("tramadol", 37.5, "mg"), ("acetaminophen", 325, "mg")]),
    # Tylenol #3 is acetaminophen 300 mg / codeine 30 mg (the #3 is the codeine strength).
    ("Tylenol #3", "codeine (Tylenol #3)", [("acetaminophen", 300, "mg"), ("codeine", 30, "mg")]),
    ("guaifenesin/codeine syrup", "codeine", []),
    ("hydrocodone/APAP 7.5/325", "hydrocodone",
     [("hydrocodone", 7.5, "mg"), ("acetaminophen", 325, "mg")]),
    ("Suboxone 8/2 film", "buprenorphine (Suboxone)",
     [("buprenorphine", 8, "mg"), ("naloxone", 2, "mg")]),
    ("Butrans 10 mcg/h patch", "buprenorphine (BuTrans)", [("buprenorphine", 10, "mcg/h")]),
    ("fentanyl 25 mcg/hr patch", "fentanyl", [("fentanyl", 25, "mcg/h")]),
    ("acetaminophen 325 MG / hydrocodone bitartrate 5 MG Oral Tablet", "hydrocodone",
     [("acetaminophen", 325, "mg"), ("hydrocodone", 5, "mg")]),
    ("hydrocodone-acetaminophen 10-325", "hydrocodone",
     [("hydrocodone", 10, "mg"), ("acetaminophen", 325, "mg")]),
    ("Norco 5-325", "hydrocodone (Norco)",
     [("hydrocodone", 5, "mg"), ("acetaminophen", 325, "mg")]),
    # A hyphen between two numbers is a combination only where one fits: these are ranges.
    ("oxycodone 5-10 mg every 4 h", "oxycodone", []),
    ("Percocet 1-2 tabs", "oxycodone (Percocet)", []),
])
def test_combinations_map_strengths_to_their_ingredients(text, label, strengths):
    result = read(text)
    assert result.cls in OPIOIDS
    assert result.label() == label
    assert [(s.ingredient, s.value, s.unit) for s in result.strengths] == strengths


@pytest.mark.parametrize(("text", "route", "form"), [
    ("Butrans 10 mcg/h patch", "transdermal", "patch"),
    ("fentanyl patch", "transdermal", "patch"),
    ("guaifenesin/codeine syrup", "oral", "syrup"),
    ("methadone 10 mg/mL oral solution", "oral", "solution"),
    ("Suboxone 8/2 film", "sublingual", "film"),
    ("Belbuca film", "buccal", "film"),
    ("buprenorphine 8 mg sublingual tablet", "sublingual", "tablet"),
    ("oxycodone 5 mg tablet", "oral", "tablet"),
    ("tramadol 50 mg capsules", "oral", "capsule"),
    ("morphine injection", "injection", "injection"),
    ("Narcan nasal spray", "nasal", "spray"),
    ("Norco", "oral", "tablet"),  # the brand exists as tablets only
])
def test_route_and_form_come_from_the_words_or_the_brand(text, route, form):
    result = read(text)
    assert (result.route, result.form) == (route, form)


@pytest.mark.parametrize(("text", "cls"), [
    ("buprenorphine 8 mg SL", "opioid-dependence-treatment"),
    ("buprenorphine/naloxone 8/2 film", "opioid-dependence-treatment"),
    ("buprenorphine patch 10 mcg/h", "opioid-partial-agonist"),
    ("buprenorphine buccal film", "opioid-partial-agonist"),
    ("methadone 5 mg for pain", "opioid-dependence-treatment"),
    ("tacrolimus ointment", "immunosuppressant"),
    ("tacrolimus 1 mg capsule", "transplant-immunosuppressant"),
    ("Restasis eye drops", "immunosuppressant"),
])
def test_how_a_substance_is_given_can_change_its_class(text, cls):
    assert read(text).cls == cls


# Deliberate misspellings (listed) and slips the matcher corrects.
@pytest.mark.parametrize(("text", "label"), [
    ("oxycodon", "oxycodone"), ("hydrocodne", "hydrocodone"),
    ("percoset", "oxycodone (Percocet)"), ("tramadal", "tramadol"),
    ("suboxen", "buprenorphine (Suboxone)"), ("oxycotin 10 mg", "oxycodone (OxyContin)"),
    ("fentanil patch", "fentanyl"), ("methadon 40 mg", "methadone"),
    # Not listed anywhere: corrected by similarity.
    ("hydrocodon 10 mg", "hydrocodone"), ("traumadol", "tramadol"),
    ("oxycodene 5 mg", "oxycodone"), ("Tylenl #3", "codeine (Tylenol #3)"),
    ("metadon", "methadone"), ("lopermide 2 mg", "loperamide"),
    # Close to methadone and to Methadose: one class either way, so not ambiguous.
    ("methadome 40 mg", "methadone"),
])
def test_misspelt_opioids_are_still_recognised(text, label):
    result = read(text)
    assert result.status == MATCHED
    assert result.cls in OPIOIDS | {"loperamide"}
    assert result.label() == label
    assert result.confidence < 1


def test_a_corrected_spelling_says_so_with_its_confidence():
    result = read("traumadol")
    assert result.method == "fuzzy"
    assert 0.82 <= result.confidence < 1
    assert read("tramadal").method == "exact"  # a listed slip is found as written


# False positives are failures: names and uses that look like opioids but are not.
@pytest.mark.parametrize(("text", "cls"), [
    ("dextromethorphan 30 mg", "non-opioid"), ("Delsym", "non-opioid"),
    ("Robitussin DM", "non-opioid"), ("Mucinex DM", "non-opioid"),
    ("Promethazine DM syrup", "non-opioid"), ("benzonatate 100 mg tid", "non-opioid"),
    ("Tessalon perles", "non-opioid"), ("guaifenesin", "non-opioid"), ("Robitussin", "non-opioid"),
    ("lofexidine", "non-opioid"), ("Lucemyra", "non-opioid"),
    ("trazodone 50 mg at bedtime", "non-opioid"), ("trazadone", "non-opioid"),
    ("hydroxyzine 25 mg", "non-opioid"), ("hydrochlorothiazide 25 mg", "non-opioid"),
    ("HCTZ", "non-opioid"), ("oxybutynin", "non-opioid"), ("oxcarbazepine", "non-opioid"),
    ("methylphenidate", "non-opioid"), ("fenofibrate", "non-opioid"),
    ("Norvasc 5 mg", "non-opioid"), ("Lamictal 100 mg", "non-opioid"),
    ("gabapentin 300 mg tid", "non-opioid"), ("pregabalin", "non-opioid"),
    ("Lyrica", "non-opioid"), ("duloxetine 60 mg", "non-opioid"),
    ("amitriptyline 10 mg", "non-opioid"), ("cyclobenzaprine 10 mg", "non-opioid"),
    ("ibuprofen 400 mg", "non-opioid"), ("naproxen", "non-opioid"), ("Celebrex", "non-opioid"),
    ("Tylenol 500 mg", "non-opioid"), ("acetaminophen", "non-opioid"),
    ("paracetamol", "non-opioid"), ("sumatriptan", "non-opioid"), ("Imitrex", "non-opioid"),
    ("vitamin D3 2000 IU", "non-opioid"), ("magnesium glycinate 400 mg", "non-opioid"),
    ("B12 1000 mcg", "non-opioid"), ("fish oil", "non-opioid"), ("melatonin 3 mg", "non-opioid"),
    ("Zyrtec", "non-opioid"), ("birth control pill", "non-opioid"),
    ("levothyroxine 75 mcg", "thyroid-hormone"), ("naloxone", "opioid-antagonist"),
    ("Narcan", "opioid-antagonist"), ("Movantik", "peripheral-opioid-antagonist"),
])
def test_look_alikes_are_never_read_as_opioids(text, cls):
    result = read(text)
    assert result.status == MATCHED
    assert result.cls == cls
    assert not set(result.classes) & OPIOIDS


def test_an_exact_name_always_wins_over_a_similar_one():
    # trazodone is one edit-pair from "tramadol"-like spellings, but it is a name itself.
    assert read("trazodone").label() == "trazodone"
    assert read("trazodone").method == "exact"
    assert read("Narcan").label() == "naloxone (Narcan)"
    assert read("Lamictal").cls != read("Lomotil").cls


@pytest.mark.parametrize(("text", "candidates"), [
    ("tramadone 50 mg", {"tramadol", "trazodone"}),  # opioid or antidepressant?
    ("trazadol", {"tramadol", "Toradol"}),
])
def test_a_slip_close_to_names_of_different_classes_is_ambiguous(text, candidates):
    result = read(text)
    assert result.status == AMBIGUOUS
    assert {c.name for c in result.candidates} == candidates
    assert result.cls is None
    assert result.confidence == 0


@pytest.mark.parametrize("text", ["xyzzy 10 mg", "pain pill from the dentist", "the blue one",
                                  "Zorbitol 20 mg",
                                  # close to "contin", which is no name without "MS" before it
                                  "continn 30 mg"])
def test_text_that_names_no_known_medicine_is_unknown(text):
    result = read(text)
    assert result.status == UNKNOWN
    assert result.matches == ()
    assert result.label() == "unknown"


# RxNorm codes taken from the CDC value sets.
@pytest.mark.parametrize(("code", "cls", "label"), [
    ("857002", "opioid-agonist", "hydrocodone"),
    ("857004", "opioid-agonist", "hydrocodone (Norco)"),
    ("1049621", "opioid-agonist", "oxycodone"),
    ("1010603", "opioid-dependence-treatment", "buprenorphine (Suboxone)"),
    ("904870", "opioid-partial-agonist", "buprenorphine"),
    ("864706", "opioid-dependence-treatment", "methadone"),
    ("1725064", "opioid-antagonist", "naloxone (Narcan)"),
    ("312289", "opioid-partial-agonist", "pentazocine"),
    ("7243", "naltrexone", "naltrexone"),
])
def test_an_rxnorm_code_alone_is_recognised(code, cls, label):
    result = read(None, code)
    assert result.status == MATCHED
    assert result.method == "rxnorm"
    assert (result.cls, result.label()) == (cls, label)


def test_rxnorm_product_gives_strengths_and_form_and_text_adds_the_schedule():
    result = read("1 tab every 6 hours as needed", "857002")
    assert [(s.ingredient, s.value) for s in result.strengths] == [
        ("acetaminophen", 325), ("hydrocodone", 5)]
    assert (result.route, result.form) == ("oral", "tablet")
    assert result.as_needed
    assert [(d.ingredient, d.high_mg) for d in result.daily] == [
        ("acetaminophen", 1300), ("hydrocodone", 20)]


def test_an_unknown_rxnorm_code_falls_back_on_the_text():
    assert read("trazodone 50 mg", "123").label() == "trazodone"
    assert read(None, "123").status == UNKNOWN


@pytest.mark.skipif(not VALUESETS.is_dir(), reason="CDC value sets not present")
def test_every_opioid_code_of_the_value_sets_reads_as_an_opioid_without_text():
    path = VALUESETS / "opioid-analgesics-with-ambulatory-misuse-potential.json"
    codes = [e["code"] for e in json.loads(path.read_text("utf-8"))["expansion"]["contains"]]
    assert len(codes) == 557
    for code in codes:
        assert read(None, code).cls in OPIOIDS, code


@pytest.mark.parametrize(("text", "low", "high"), [
    ("loperamide 60-100 mg/day", 60, 100),
    ("loperamide 60 to 100 mg per day", 60, 100),
    ("loperamide 2 mg four times daily", 8, 8),
    ("loperamide 2 mg qid", 8, 8),
    ("Imodium 2 mg q6h", 8, 8),
    ("loperamide 2 mg every 6 h", 8, 8),
    ("loperamide 2 mg every 4-6 hours", 8, 12),
    ("loperamide 2 mg bid", 4, 4),
    ("loperamide 2 mg b.i.d.", 4, 4),
    ("loperamide 2 mg 3 times a day", 6, 6),
    ("loperamide 2 mg, 2 tablets twice daily", 8, 8),
    ("loperamide 2 mg, 30 tablets a day", 60, 60),
    ("loperamide 2 mg at bedtime", 2, 2),
    ("loperamide 1 g daily", 1000, 1000),
    ("loperamide 2 mg 1-2 tabs every 4-6 h", 8, 24),
])
def test_daily_amounts_are_read_from_the_schedule(text, low, high):
    (daily,) = read(text).daily
    assert daily.ingredient == "loperamide"
    assert (daily.low_mg, daily.high_mg) == pytest.approx((low, high))


def test_no_daily_amount_is_made_up_without_a_schedule():
    assert read("loperamide 2 mg as needed").daily == ()
    assert read("Imodium").daily == ()


@pytest.mark.parametrize(("text", "as_needed", "stopped"), [
    ("Norco 5/325 every 6 h as needed", True, False),
    ("oxycodone 5 mg prn", True, False),
    ("oxycodone 5 mg p.r.n.", True, False),
    ("tramadol 50 mg, stopped", False, True),
    ("tramadol - discontinued in May", False, True),
    ("no longer taking oxycodone", False, True),
    ("used to take Percocet", False, True),
    ("tramadol 50 mg daily", False, False),
])
def test_as_needed_and_stop_cues_are_noticed(text, as_needed, stopped):
    result = read(text)
    assert (result.as_needed, result.stopped) == (as_needed, stopped)


def test_a_stop_date_is_read_only_in_iso_form():
    assert str(read("oxycodone, stopped 2025-05-20").stopped_on) == "2025-05-20"
    assert read("oxycodone, stopped 5/6").stopped_on is None  # May 6 or June 5?
    assert read("oxycodone, stopped 2025-13-45").stopped_on is None  # no such day


def test_a_medication_must_name_something():
    with pytest.raises(InputError) as error:
        read("  ", None)
    assert error.value.field == "text"


def test_recognition_reports_itself_as_json_ready_data():
    data = read("Norco 5/325 mg every 6 h as needed").to_dict()
    assert data["status"] == "matched" and data["matched"] == "hydrocodone (Norco)"
    assert data["class"] == "opioid-agonist" and data["method"] == "exact"
    assert data["strengths"][0] == {"ingredient": "hydrocodone", "value": 5.0, "unit": "mg"}
    assert data["daily_mg"][0] == {"ingredient": "hydrocodone", "low_mg": 20.0, "high_mg": 20.0}
    json.dumps(data)


# ---- properties -----------------------------------------------------------------------------

NAMES = sorted({" ".join(key) for key, hits in VOCABULARY.names.items()
                if any(not h.misspelling for h in hits)})
FILLER = st.sampled_from(["", "take", "1 tab", "every morning", "for pain", "as needed",
                          "with food", "(generic)", "10 mg"])


@settings(max_examples=300, deadline=None)
@given(name=st.sampled_from(NAMES), before=FILLER, after=FILLER)
def test_any_name_written_in_full_is_found_exactly(name, before, after):
    result = read(f"{before} {name} {after}")
    concepts = {h.concept for h in VOCABULARY.names[tuple(name.split())] if not h.misspelling}
    assert result.status == MATCHED
    assert concepts & {m.concept for m in result.matches}
    assert all(m.method == "exact" for m in result.matches)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=80))
def test_any_text_gets_an_answer_and_never_a_crash(text):
    if not text.strip():
        return
    result = read(text)
    assert result.status in (MATCHED, AMBIGUOUS, UNKNOWN)
    assert 0 <= result.confidence <= 1
    assert (result.status == MATCHED) == bool(result.matches and not result.candidates)

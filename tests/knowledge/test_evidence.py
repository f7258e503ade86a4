"""Evidence by condition, claims checked, and the side-effect course (clinical-facts §4, §5, §7)."""

import copy
import json
import tomllib
from importlib import resources

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lowdose.errors import InputError
from lowdose.knowledge.evidence import (
    DESIGNS,
    GRADES,
    NOT_REPORTED,
    VERDICTS,
    evidence_for,
    load_evidence,
    load_side_effects,
    normalise,
    parse_evidence,
    parse_side_effects,
    red_flags_for,
    side_effect_for,
    untraceable_percentages,
)
from lowdose.knowledge.sources import load_sources

EVIDENCE = load_evidence()
COURSE = load_side_effects()
SOURCES = load_sources()


def raw(name):
    data = resources.files("lowdose.knowledge").joinpath("data", name).read_text("utf-8")
    return tomllib.loads(data)


# ---------------------------------------------------------------- finding a condition

@pytest.mark.parametrize(("text", "condition"), [
    ("fibromyalgia", "fibromyalgia"),
    ("Fibromyalgia syndrome", "fibromyalgia"),
    ("chronic pain from fibromyalgia", "fibromyalgia"),  # specific beats general
    ("Crohn’s disease (ileal)", "crohns-disease"),
    ("crohns", "crohns-disease"),
    ("IBD (Crohn's)", "crohns-disease"),
    ("ulcerative colitis", "ulcerative-colitis"),
    ("IBD", "ulcerative-colitis"),
    ("RRMS", "multiple-sclerosis"),
    ("MS", "multiple-sclerosis"),
    ("seropositive rheumatoid arthritis", "rheumatoid-arthritis"),
    ("Hashimoto's", "hashimotos-thyroiditis"),
    ("hypothyroid", "hashimotos-thyroiditis"),
    ("SLE", "systemic-lupus"),
    ("CRPS type 1", "crps"),
    ("painful diabetic neuropathy", "painful-diabetic-neuropathy"),
    ("major depressive disorder", "depression"),
    ("PTSD", "ptsd"),
    ("ME/CFS", "me-cfs"),
    ("chronic fatigue syndrome", "me-cfs"),
    ("Long COVID", "long-covid"),
    ("post-COVID-19 condition", "long-covid"),
    ("Parkinson's disease", "parkinsons-disease"),
    ("Hailey-Hailey disease", "hailey-hailey-disease"),
    ("plaque psoriasis", "psoriasis"),
    ("breast cancer", "cancer"),
    ("chronic pain", "chronic-pain"),
    ("M79.7", "fibromyalgia"),  # ICD-10-CM
    ("203082005", "fibromyalgia"),  # SNOMED CT
    ("u09.9", "long-covid"),
])
def test_a_condition_is_found_from_its_usual_names_and_codes(text, condition):
    assert evidence_for(text).id == condition


@pytest.mark.parametrize("text", [
    "compensated cirrhosis",
    "asthma",
    "msk pain",  # "ms" only as a whole word
    "lucid dreams",  # not "uc"
    "rash",
])
def test_text_naming_no_known_condition_gives_no_evidence(text):
    assert evidence_for(text) is None


@pytest.mark.parametrize("text", ["", "   "])
def test_a_blank_condition_is_refused_naming_the_field(text):
    with pytest.raises(InputError) as error:
        evidence_for(text)
    assert error.value.field == "condition"


synonyms = [(c.id, s) for c in EVIDENCE.conditions for s in c.synonyms]
words = st.sampled_from(["my", "severe", "with", "since 2019", "and", "(dx)", "-"])


@given(st.sampled_from(synonyms), st.lists(words, max_size=3), st.lists(words, max_size=3),
       st.booleans())
def test_any_synonym_is_found_in_any_case_amid_other_words(pair, before, after, upper):
    _, synonym = pair
    text = " ".join([*before, synonym.upper() if upper else synonym, *after])
    found = evidence_for(text)
    assert found is not None
    assert found.match(text) >= len(normalise(synonym))


def test_no_synonym_belongs_to_two_conditions():
    owners = {}
    for condition in EVIDENCE.conditions:
        for synonym in {normalise(s) for s in (condition.name, *condition.synonyms)}:
            owners.setdefault(synonym, []).append(condition.id)
    assert {s: ids for s, ids in owners.items() if len(ids) > 1} == {}


# ---------------------------------------------------------------- grades and studies (§5)

@pytest.mark.parametrize(("condition", "grade"), [
    ("fibromyalgia", "rct-mixed"),
    ("crohns-disease", "rct-positive"),
    ("ulcerative-colitis", "open-label-only"),
    ("multiple-sclerosis", "rct-mixed"),
    ("rheumatoid-arthritis", "observational-only"),
    # "none supportive (observational null)": not the same as supportive observational data
    ("hashimotos-thyroiditis", "observational-null"),
    ("systemic-lupus", "none-found"),
    ("crps", "case-reports-only"),
    ("painful-diabetic-neuropathy", "rct-active-control"),
    ("chronic-pain", "rct-mixed"),
    ("depression", "rct-mixed"),
    ("ptsd", "none-found"),
    ("me-cfs", "observational-only"),
    ("long-covid", "open-label-only"),
    ("parkinsons-disease", "none-found"),
    ("hailey-hailey-disease", "case-reports-only"),
    ("cancer", "case-reports-only"),
])
def test_each_condition_carries_the_grade_clinical_facts_gives(condition, grade):
    assert EVIDENCE.condition(condition).grade.id == grade


@pytest.mark.parametrize("condition", EVIDENCE.conditions, ids=lambda c: c.id)
def test_grades_and_study_designs_come_from_the_fixed_vocabularies(condition):
    assert condition.grade.id in GRADES
    assert all(s.design in DESIGNS for s in condition.studies)


@pytest.mark.parametrize("condition", EVIDENCE.conditions, ids=lambda c: c.id)
def test_a_graded_condition_cites_sources_and_studies(condition):
    if condition.grade.id == "none-found":
        assert condition.studies == ()
    else:
        assert condition.sources and condition.studies


@pytest.mark.parametrize("condition", EVIDENCE.conditions, ids=lambda c: c.id)
def test_every_study_can_be_looked_up(condition):
    for study in condition.studies:
        assert study.pmid or study.doi or study.nct or study.pmcid or \
            SOURCES.get(study.sources[0]).url


@pytest.mark.parametrize(("condition", "author", "year", "n"), [
    ("fibromyalgia", "Younger", 2009, 10),
    ("fibromyalgia", "Younger", 2013, 31),
    ("fibromyalgia", "Bruun", 2024, 99),
    ("crohns-disease", "Smith", 2007, 17),
    ("crohns-disease", "Smith", 2011, 40),
    ("crohns-disease", "Parker", 2018, 46),
    ("ulcerative-colitis", "Lie", 2018, 47),
    ("multiple-sclerosis", "Cree", 2010, 80),
    ("multiple-sclerosis", "Sharafaddinzadeh", 2010, 96),
    ("rheumatoid-arthritis", "Raknes", 2019, 360),
    ("hashimotos-thyroiditis", "Raknes", 2020, 898),
    ("painful-diabetic-neuropathy", "Srinivasan", 2021, 67),
    ("depression", "Mischoulon", 2017, 12),
    ("me-cfs", "Polo", 2019, 218),
    ("long-covid", "O'Kelly", 2022, 52),
    ("long-covid", "Isman", 2024, 36),
])
def test_study_sizes_match_clinical_facts(condition, author, year, n):
    studies = EVIDENCE.condition(condition).studies
    assert any(s.first_author == author and s.year == year and s.n == n for s in studies)


def test_the_fibromyalgia_pilot_carries_the_corrected_pmid():
    pilot = next(s for s in evidence_for("fibromyalgia").studies if s.year == 2009)
    assert pilot.pmid == "19453963"
    every_pmid = {s.pmid for c in EVIDENCE.conditions for s in c.studies}
    assert "19411815" not in every_pmid


@pytest.mark.parametrize(("condition", "system", "code", "verified"), [
    ("fibromyalgia", "snomed", "203082005", True),
    ("fibromyalgia", "icd10", "M79.7", True),
    ("crohns-disease", "snomed", "34000006", True),
    ("multiple-sclerosis", "snomed", "24700007", True),
    ("me-cfs", "snomed", "52702003", True),
    ("me-cfs", "icd10", "G93.32", False),
    ("ulcerative-colitis", "snomed", "64766004", False),
    ("hashimotos-thyroiditis", "snomed", "21983002", False),
    ("long-covid", "snomed", "1119303003", False),
    ("long-covid", "icd10", "U09.9", True),
])
def test_codes_marked_verify_in_interop_notes_are_flagged_unverified(
        condition, system, code, verified):
    codes = {c.system: c for c in EVIDENCE.condition(condition).codes}
    assert (codes[system].code, codes[system].verified) == (code, verified)


def test_crps_has_no_snomed_code_because_none_was_confirmed():
    assert [c.system for c in EVIDENCE.condition("crps").codes] == ["icd10"]


# ---------------------------------------------------------------- claims (§7)

@pytest.mark.parametrize(("claim", "verdict"), [
    ("dose-range", "supported"),
    ("perioperative-72h-hold", "mixed"),
    ("younger-2009-pmid", "not-supported"),
    ("hashimoto-thyroid-dose", "not-supported"),
    ("avoid-slow-release", "supported"),
    ("loperamide-contraindication", "not-supported"),
    ("dextromethorphan-opioid", "not-supported"),
    ("low-dose-cannot-precipitate-withdrawal", "not-supported"),
    ("liquid-beyond-use", "supported"),
    ("side-effect-percentages", "no-data"),
    ("transplant-immunosuppressant-caution", "no-data"),
    ("antiretroviral-caution", "no-data"),
    ("monthly-cost", "no-data"),
    # hypotheses repeated as facts (clinical-facts §1c, §1d)
    ("bedtime-endorphin-peak", "no-data"),
    ("short-receptor-block", "no-data"),
])
def test_claims_carry_the_verdict_clinical_facts_reached(claim, verdict):
    assert EVIDENCE.claim(claim).verdict == verdict


@pytest.mark.parametrize("claim", EVIDENCE.claims, ids=lambda c: c.id)
def test_a_claim_with_a_verdict_cites_its_sources(claim):
    assert claim.verdict in VERDICTS
    assert bool(claim.sources) == (claim.verdict != "no-data")


def test_the_pmid_claim_names_the_correct_id_and_cites_the_paper():
    claim = EVIDENCE.claim("younger-2009-pmid")
    assert "19453963" in claim.finding and claim.sources == ("younger-2009",)


def test_evidence_json_has_grades_conditions_and_claims():
    shown = json.loads(json.dumps(EVIDENCE.to_dict()))
    assert [g["id"] for g in shown["grades"]] == list(GRADES)
    fibro = next(c for c in shown["conditions"] if c["id"] == "fibromyalgia")
    assert fibro["grade_label"] == "Mixed randomised trials"
    assert fibro["studies"][0]["pmid"] == "19453963"
    assert {"system": "icd10", "code": "M79.7", "verified": True,
            "sources": ["icd-10-cm"]} in fibro["codes"]


# ---------------------------------------------------------------- the loader refuses bad data

def broken(change):
    data = copy.deepcopy(raw("evidence.toml"))
    change(data)
    return data


@pytest.mark.parametrize(("change", "field"), [
    (lambda d: d["conditions"][0].update(grade="promising"), "evidence.conditions.0.grade"),
    (lambda d: d["conditions"][0].update(sources=["made-up-2099"]),
     "evidence.conditions.0.sources"),
    (lambda d: d["conditions"][0].update(sources=[]), "evidence.conditions.0.sources"),
    (lambda d: d["conditions"][0]["studies"][0].update(design="anecdote"),
     "evidence.conditions.0.studies.0.design"),
    (lambda d: d["conditions"][0]["studies"][0].update(n=-1),
     "evidence.conditions.0.studies.0.n"),
    (lambda d: d["conditions"][0]["snomed"].update(verified="yes"),
     "evidence.conditions.0.snomed.verified"),
    (lambda d: d["claims"][0].update(verdict="true"), "evidence.claims.0.verdict"),
    (lambda d: d["claims"].append(dict(d["claims"][0])), "claims"),
    (lambda d: d["grades"].pop("none-found"), "grades"),
])
def test_malformed_evidence_is_refused_naming_the_field(change, field):
    with pytest.raises(InputError) as error:
        parse_evidence(broken(change), SOURCES)
    assert error.value.field == field


# ---------------------------------------------------------------- side-effect course (§4)

@pytest.mark.parametrize(("entry", "effect"), [
    ("vivid dreams", "vivid-dreams"),
    ("Nightmares", "vivid-dreams"),
    ("insomnia", "sleep-disturbance"),
    ("can't sleep", "sleep-disturbance"),
    ("waking up at night", "sleep-disturbance"),
    ("feeling sick", "nausea"),
    ("diarrhea", "diarrhoea"),
    ("loose stools", "diarrhoea"),
    ("headache", "headache"),
    ("dizzy", "dizziness"),
    ("Anxious", "anxiety"),
    ("so tired", "fatigue"),
])
def test_a_diary_entry_finds_its_side_effect(entry, effect):
    assert side_effect_for(entry).id == effect


def test_an_unknown_side_effect_is_not_guessed():
    assert side_effect_for("itchy elbow") is None


@pytest.mark.parametrize("lookup", [side_effect_for, red_flags_for])
def test_a_blank_diary_entry_is_refused_naming_the_field(lookup):
    with pytest.raises(InputError) as error:
        lookup("  ")
    assert error.value.field == "side_effect"


@pytest.mark.parametrize("effect_id", ["sleep-disturbance", "vivid-dreams"])
def test_sleep_effects_lasting_5_to_7_days_point_to_morning_dosing(effect_id):
    effect = next(e for e in COURSE.side_effects if e.id == effect_id)
    assert "5–7 days" in effect.when_persisting and "morning" in effect.when_persisting
    assert "ldnrt-morning-dosing" in effect.sources


@pytest.mark.parametrize("effect", COURSE.side_effects, ids=lambda e: e.id)
def test_every_side_effect_offers_stepping_back_after_a_step_up(effect):
    assert "previous dose" in effect.when_persisting or "last dose" in effect.when_persisting
    assert "ldnrt-pharmacist-titration" in effect.sources


@pytest.mark.parametrize("effect_id", ["headache", "dizziness", "anxiety"])
def test_courses_the_sources_do_not_describe_say_not_reported(effect_id):
    effect = next(e for e in COURSE.side_effects if e.id == effect_id)
    assert effect.onset == effect.duration == NOT_REPORTED


@pytest.mark.parametrize("effect", COURSE.side_effects, ids=lambda e: e.id)
def test_no_side_effect_shows_a_percentage_its_sources_do_not_give(effect):
    cited = [SOURCES.get(i) for i in effect.sources]
    texts = (effect.name, effect.onset, effect.duration, effect.reported, effect.when_persisting)
    assert untraceable_percentages(texts, cited) == ()


@pytest.mark.parametrize("figure", ["5–6 %", "5-6%", "8–18 %", "77 %", "~3 %"])
def test_the_untraceable_quoted_frequencies_appear_nowhere(figure):
    shown = json.dumps(COURSE.to_dict(), ensure_ascii=False).replace(" ", "")
    assert figure.replace(" ", "").lstrip("~") not in shown


def side_effect_data(**changes):
    data = copy.deepcopy(raw("side_effects.toml"))
    data["side_effects"][0].update(changes)
    return data


def test_an_untraceable_percentage_is_refused_at_load():
    data = side_effect_data(reported="Insomnia or vivid dreams in 5–6 % of users.")
    with pytest.raises(InputError) as error:
        parse_side_effects(data, SOURCES)
    assert error.value.field == "side_effects.side_effects.0"
    assert "5–6 %" in error.value.message


def test_a_percentage_found_in_a_cited_source_is_accepted():
    data = side_effect_data(reported="52 % responded in a pilot.",
                            sources=["ldn-nad-2024", "ldnrt-pharmacist-titration"])
    assert parse_side_effects(data, SOURCES).side_effects[0].reported.startswith("52 %")


def test_a_side_effect_citing_an_unknown_source_is_refused():
    with pytest.raises(InputError) as error:
        parse_side_effects(side_effect_data(sources=["ifmsynergy"]), SOURCES)
    assert error.value.field == "side_effects.side_effects.0.sources"


# ---------------------------------------------------------------- red flags

def test_the_five_red_flags_the_label_and_case_reports_require_are_present():
    assert {f.id for f in COURSE.red_flags} == {
        "hepatitis", "opioid-withdrawal", "allergic-reaction", "suicidal-thoughts",
        "severe-pain-needing-opioids"}


@pytest.mark.parametrize(("entry", "flag"), [
    ("dark urine", "hepatitis"),
    ("yellow eyes since Tuesday", "hepatitis"),
    ("goosebumps and sweating an hour after my dose", "opioid-withdrawal"),
    ("felt like withdrawal", "opioid-withdrawal"),
    ("hives all over", "allergic-reaction"),
    ("trouble breathing", "allergic-reaction"),
    ("having suicidal thoughts", "suicidal-thoughts"),
    ("need opioids after a fall", "severe-pain-needing-opioids"),
])
def test_a_diary_entry_with_a_warning_sign_raises_its_red_flag(entry, flag):
    assert flag in [f.id for f in red_flags_for(entry)]


@pytest.mark.parametrize("entry", ["diarrhoea", "tired", "vivid dreams", "mild headache"])
def test_ordinary_side_effects_raise_no_red_flag(entry):
    assert red_flags_for(entry) == ()


@pytest.mark.parametrize(("flag_id", "source"), [
    ("hepatitis", "naltrexone-label"),
    ("opioid-withdrawal", "naumann-2023"),
    ("opioid-withdrawal", "jarka-2023"),
    ("suicidal-thoughts", "naltrexone-label"),
    ("severe-pain-needing-opioids", "whately-stead-2023"),
])
def test_red_flags_cite_the_label_and_case_reports_behind_them(flag_id, source):
    flag = next(f for f in COURSE.red_flags if f.id == flag_id)
    assert source in flag.sources


def test_side_effect_json_lists_courses_and_red_flags():
    shown = json.loads(json.dumps(COURSE.to_dict()))
    assert {e["id"] for e in shown["side_effects"]} >= {"sleep-disturbance", "nausea"}
    assert all(f["action"] and f["sources"] for f in shown["red_flags"])

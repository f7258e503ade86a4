"""The medicine vocabulary and the screening facts as shipped: built from their sources,
classified as the cited facts say, and every citation resolvable."""

from __future__ import annotations

import json
import string
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from lowdose.knowledge.medicines import load_medicine_vocabulary, tokenize
from lowdose.knowledge.screening import load_screening_rules, read_screening_toml
from lowdose.knowledge.sources import check_citations, find_citations, load_sources

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "scripts" / "build_medicines.py"
DATA = REPO / "src" / "lowdose" / "knowledge" / "data"
VALUESETS = REPO.parent / "shared" / "data" / "cdc-opioid-valuesets"
needs_valuesets = pytest.mark.skipif(
    not VALUESETS.is_dir(), reason=f"CDC value sets not present at {VALUESETS}")

VOCABULARY = load_medicine_vocabulary()
RULES = load_screening_rules()
OPIOID_CLASSES = {"opioid-agonist", "opioid-partial-agonist", "opioid-dependence-treatment"}


def build(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True,
                          text=True, timeout=120, check=False)


def concept_named(name: str) -> str:
    hits = VOCABULARY.names[tokenize(name)]
    return next(h.concept for h in hits if not h.misspelling)


@needs_valuesets
def test_shipped_vocabulary_is_exactly_what_the_build_makes_from_its_sources(tmp_path):
    out = tmp_path / "medicines.json"
    done = build(str(VALUESETS), "--output", str(out))
    assert done.returncode == 0, done.stderr
    assert out.read_bytes() == (DATA / "medicines.json").read_bytes(), (
        "medicines.json is stale: run .venv/bin/python scripts/build_medicines.py")


@needs_valuesets
def test_every_value_set_code_is_recognisable_and_classed_by_its_value_set():
    for path in sorted(VALUESETS.glob("*.json")):
        valueset = json.loads(path.read_text("utf-8"))
        for entry in valueset["expansion"]["contains"]:
            product = VOCABULARY.rxnorm[entry["code"]]
            assert product.display == entry["display"]
            if valueset["id"] == "naloxone-medications" and product.ingredients == ("naloxone",):
                assert product.cls == "opioid-antagonist", entry
            else:
                # Opioids combined with naloxone or naltrexone are still opioid products.
                assert product.cls in OPIOID_CLASSES, entry


def write_valueset(folder: Path, display: str) -> None:
    folder.mkdir()
    (folder / "test.json").write_text(json.dumps({
        "resourceType": "ValueSet", "id": "test", "url": "http://example.org/vs", "name": "T",
        "expansion": {"contains": [{"system": "http://www.nlm.nih.gov/research/umls/rxnorm",
                                    "code": "999999", "display": display}]},
    }), "utf-8")


@pytest.mark.parametrize(("display", "complaint"), [
    ("zorbitol 5 MG Oral Tablet", "unclassified ingredient(s) ['zorbitol']"),
    ("oxycodone hydrochloride 5 MG Oral Wafer", "dose form 'Oral Wafer'"),
])
def test_build_refuses_what_the_additions_do_not_explain(tmp_path, display, complaint):
    write_valueset(tmp_path / "vs", display)
    out = tmp_path / "out.json"
    done = build(str(tmp_path / "vs"), "--output", str(out))
    assert done.returncode == 1
    assert complaint in done.stderr
    assert not out.exists()  # nothing half-written


def test_build_names_a_missing_value_set_folder(tmp_path):
    done = build(str(tmp_path / "nowhere"), "--output", str(tmp_path / "out.json"))
    assert done.returncode == 1
    assert "no value sets" in done.stderr


# clinical-facts §3c: every brand named there, with the class the screen relies on.
BRANDS_3C = [
    ("Norco", "opioid-agonist"), ("Vicodin", "opioid-agonist"), ("Lortab", "opioid-agonist"),
    ("Hysingla", "opioid-agonist"), ("Percocet", "opioid-agonist"),
    ("OxyContin", "opioid-agonist"), ("Roxicodone", "opioid-agonist"),
    ("Xtampza", "opioid-agonist"), ("Ultram", "opioid-agonist"), ("Ultracet", "opioid-agonist"),
    ("Tylenol #3", "opioid-agonist"), ("Tylenol #4", "opioid-agonist"),
    ("Suboxone", "opioid-dependence-treatment"), ("Subutex", "opioid-dependence-treatment"),
    ("Zubsolv", "opioid-dependence-treatment"), ("Sublocade", "opioid-dependence-treatment"),
    ("Brixadi", "opioid-dependence-treatment"), ("Butrans", "opioid-partial-agonist"),
    ("Belbuca", "opioid-partial-agonist"), ("Methadose", "opioid-dependence-treatment"),
    ("Dolophine", "opioid-dependence-treatment"), ("Duragesic", "opioid-agonist"),
    ("Actiq", "opioid-agonist"), ("Fentora", "opioid-agonist"), ("MS Contin", "opioid-agonist"),
    ("Dilaudid", "opioid-agonist"), ("Nucynta", "opioid-agonist"), ("Demerol", "opioid-agonist"),
    ("Lomotil", "opioid-antidiarrheal"), ("Imodium", "loperamide"),
    ("Delsym", "non-opioid"), ("Robitussin DM", "non-opioid"), ("Promethazine DM", "non-opioid"),
    ("Contrave", "naltrexone"), ("Vivitrol", "naltrexone"), ("Revia", "naltrexone"),
    ("Movantik", "peripheral-opioid-antagonist"), ("Symproic", "peripheral-opioid-antagonist"),
    ("Relistor", "peripheral-opioid-antagonist"), ("Narcan", "opioid-antagonist"),
]


@pytest.mark.parametrize(("brand", "cls"), BRANDS_3C)
def test_each_brand_in_the_clinical_facts_has_its_class(brand, cls):
    assert VOCABULARY.concepts[concept_named(brand)].cls == cls


@pytest.mark.parametrize(("substance", "cls"), [
    ("hydrocodone", "opioid-agonist"), ("oxycodone", "opioid-agonist"),
    ("tramadol", "opioid-agonist"), ("codeine", "opioid-agonist"),
    ("buprenorphine", "opioid-partial-agonist"), ("methadone", "opioid-agonist"),
    ("fentanyl", "opioid-agonist"), ("morphine", "opioid-agonist"),
    ("hydromorphone", "opioid-agonist"), ("tapentadol", "opioid-agonist"),
    ("meperidine", "opioid-agonist"), ("oxymorphone", "opioid-agonist"), ("kratom", "kratom"),
    ("diphenoxylate", "opioid-antidiarrheal"), ("loperamide", "loperamide"),
    ("naltrexone", "naltrexone"), ("naloxone", "opioid-antagonist"),
    ("nalmefene", "opioid-antagonist"), ("naloxegol", "peripheral-opioid-antagonist"),
    ("naldemedine", "peripheral-opioid-antagonist"),
    ("methylnaltrexone", "peripheral-opioid-antagonist"),
    # interop-notes §1.7: in the ATC cough/opioid-dependence groups but not opioids.
    ("dextromethorphan", "non-opioid"), ("lofexidine", "non-opioid"),
])
def test_each_substance_has_the_class_its_sources_give(substance, cls):
    assert VOCABULARY.ingredients[substance].cls == cls


def test_combinations_with_naloxone_or_naltrexone_take_the_opioid_class():
    # Embeda (morphine/naltrexone), Targiniq (oxycodone/naloxone), pentazocine/naloxone.
    assert VOCABULARY.concepts["embeda"].cls == "opioid-agonist"
    assert VOCABULARY.concepts["targiniq"].cls == "opioid-agonist"
    assert VOCABULARY.rxnorm["312289"].cls == "opioid-partial-agonist"


def test_every_concept_cites_a_source_and_every_cited_id_exists():
    known = load_sources()
    for concept in VOCABULARY.concepts.values():
        assert concept.sources, concept.id
    mine = {"medicines.json", "medicine_additions.toml", "screening.toml"}
    cited = [c for c in find_citations() if c.file in mine]
    assert {c.file for c in cited} == mine
    assert [c for c in check_citations(cited, known)] == []


def test_opioid_class_facts_cite_the_label_or_the_kratom_case():
    for ingredient in VOCABULARY.ingredients.values():
        if ingredient.cls in OPIOID_CLASSES:
            assert "naltrexone-label" in ingredient.sources, ingredient.name
    assert "jarka-2023" in VOCABULARY.ingredients["kratom"].sources


def test_no_name_is_spelled_the_same_as_a_listed_misspelling_of_another_class():
    for hits in VOCABULARY.names.values():
        classes = {VOCABULARY.concepts[h.concept].cls for h in hits}
        correct = [h for h in hits if not h.misspelling]
        if correct:
            assert len({VOCABULARY.concepts[h.concept].cls for h in correct}) == 1, hits
        else:
            assert len(classes) == 1, hits


# ---- screening.toml -----------------------------------------------------------------------

RAW = read_screening_toml()
PLACEHOLDERS = {
    "active-opioid": {"matched", "trigger"},
    "recent-opioid": {"matched", "last_day", "days", "basis", "earliest_start"},
    "opioid-interval-met": {"matched", "last_day", "days"},
    "opioid-stop-date-unknown": {"matched", "days", "basis"},
    "loperamide": {"matched", "max_daily_mg", "otc_max_daily_mg"},
    "loperamide-misuse": {"matched", "daily", "max_daily_mg"},
    "ldn-listed": {"matched", "ldn_max_mg"},
    "paediatric": {"age", "adult_age", "mg_per_kg", "max_mg", "weight_kg", "ceiling_mg"},
    "unrecognised-medicine": {"trigger", "candidates"},
    "perioperative-hold": {"procedure", "surgery_at", "last_dose_by", "hold_hours"},
    "perioperative-hold-missed": {"procedure", "surgery_at", "hold_hours"},
    "after-surgery-opioids": {"procedure", "surgery_at", "days"},
    "ldn-dose-above-ceiling": {"dose", "usual_mg", "trial_max_mg"},
}


def fields_of(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


@pytest.mark.parametrize("code", sorted(RAW["rules"]))
def test_each_rule_has_a_level_a_message_and_sources(code):
    rule = RULES.rules[code]
    assert rule.level in RULES.levels
    assert rule.sources
    allowed = PLACEHOLDERS.get(code, {"matched", "trigger"})
    for text in (rule.message, *(v.message for v in rule.variants),
                 *(rule.extra_messages or {}).values()):
        assert fields_of(text) <= allowed, (code, fields_of(text) - allowed)


def test_levels_run_from_contraindicated_to_info():
    assert RULES.levels == ("contraindicated", "defer", "specialist", "caution", "info")


def test_every_class_and_condition_a_rule_names_exists():
    conditions = set(RAW["conditions"])
    for rule in RULES.rules.values():
        assert rule.classes <= set(VOCABULARY.class_order), rule.code
        assert rule.conditions <= conditions, rule.code
        assert rule.ingredients <= set(VOCABULARY.ingredients), rule.code
    for category, table in RAW["conditions"].items():
        assert table.get("past", category) in conditions


def test_no_condition_term_is_listed_under_two_categories():
    seen: dict[tuple[str, ...], str] = {}
    for category, table in RAW["conditions"].items():
        for term in table["terms"]:
            key = tokenize(term)
            assert seen.setdefault(key, category) == category, (term, seen[key], category)


def test_loperamide_limit_is_the_figure_the_cited_label_states():
    # loperamide-label: 16 mg a day on prescription, 8 mg over the counter.
    note = load_sources().get("loperamide-label")
    assert note is not None
    assert RULES.loperamide_max_daily_mg == 16 and "16 mg" in note.note
    assert RULES.loperamide_otc_max_daily_mg == 8 and "8 mg" in note.note


def test_opioid_free_intervals_take_the_conservative_end_of_the_label():
    # Label: 7–10 days after short-acting opioids (tramadol named); ~2 weeks after
    # methadone or buprenorphine.
    assert RULES.default_interval.days == 10
    assert RULES.interval_for(("methadone",)).days == 14
    assert RULES.interval_for(("buprenorphine", "naloxone")).days == 14
    assert RULES.interval_for(("tramadol",)).days == 10


def test_paediatric_ceiling_is_the_cochrane_trial_dose():
    assert (RULES.paediatric_mg_per_kg, RULES.paediatric_max_mg) == (0.1, 4.5)
    assert "parker-2018-cochrane" in RULES.rules["paediatric"].sources


def test_every_curated_substance_and_product_is_in_the_shipped_vocabulary():
    # Holds without the value sets too (the rebuild test above is skipped then).
    additions = tomllib.loads((DATA / "medicine_additions.toml").read_text("utf-8"))
    assert {row["name"] for row in additions["ingredient"]} == set(VOCABULARY.ingredients)
    names = {c.name for c in VOCABULARY.concepts.values()}
    assert {row["name"] for row in additions["product"]} <= names

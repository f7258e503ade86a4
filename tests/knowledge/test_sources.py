"""The sources file: every id colleagues cite exists, with a citation and a way to find it."""

import json

import pytest

from lowdose.errors import InputError
from lowdose.knowledge.sources import KINDS, STATUSES, Source, load_sources, parse_sources

# The ids the project brief tells every engineer to cite, verbatim.
BRIEF_IDS = [
    "naltrexone-label", "naltrexone-fachinfo-ch", "davis-drug-guide", "loperamide-label",
    "cdc-opioid-valuesets", "rxnorm", "who-atc", "toljan-2018", "ldnrt-prescriber-guide-2021",
    "ldnrt-pharmacist-titration", "ldnrt-long-covid-titration", "ldnrt-morning-dosing",
    "ldnrt-long-covid-onset", "bruun-2024", "bolton-2020", "raknes-2017", "younger-2009",
    "younger-2013", "cree-2010", "smith-2007", "smith-2011", "parker-2018-cochrane", "okelly-2022",
    "nct05430152", "nct04678895", "srinivasan-2021", "mischoulon-2017", "polo-2019", "meyer-1984",
    "fawcett-1997", "ahs-compounding-156", "compounder-fillers", "medisca-home-compounding",
    "home-dilution-lay", "naumann-2023", "jarka-2023", "sadeque-2000", "mcclure-2023",
    "lactmed-naltrexone", "chan-2004", "e-lactancia-naltrexone", "raknes-2020", "mcdermott-2019",
    "nct04270877", "nct04739995", "mnt-naltrexone-interactions", "whately-stead-2023",
    "orourke-2021", "goel-2024", "ldndirect-surgery", "lie-2018", "raknes-2019",
    "sharafaddinzadeh-2010", "chopra-2013", "soin-2021", "ldn-nad-2024", "bond-2025-review",
    "farrar-2001", "dworkin-2008", "kroenke-2001", "spitzer-2006", "harvey-bradshaw-1980",
    "bennett-2009",
]

SOURCES = load_sources()


@pytest.mark.parametrize("source_id", BRIEF_IDS)
def test_every_id_in_the_brief_is_defined(source_id):
    assert source_id in SOURCES


@pytest.mark.parametrize("source", list(SOURCES), ids=lambda s: s.id)
def test_every_source_has_a_citation_a_locator_and_a_note(source):
    assert len(source.citation) > 20
    assert source.note.strip()
    assert source.link.startswith("https://")


@pytest.mark.parametrize("source", list(SOURCES), ids=lambda s: s.id)
def test_kind_and_status_come_from_the_fixed_vocabularies(source):
    assert source.kind in KINDS
    assert source.status in STATUSES


# Identifiers as clinical-facts.md records them (seen in a copy of each source).
@pytest.mark.parametrize(("source_id", "pmid"), [
    ("younger-2009", "19453963"),
    ("cree-2010", "20695007"),
    ("okelly-2022", "35814187"),
    ("mischoulon-2017", "27736689"),
    ("raknes-2019", "30763385"),
    ("raknes-2020", "33004044"),
    ("soin-2021", "34213865"),
    ("lie-2018", "29523156"),
    ("ldn-nad-2024", "38352659"),
    ("jarka-2023", "37448827"),
    ("sadeque-2000", "11014404"),
    ("chan-2004", "15296587"),
    ("farrar-2001", "11690728"),
    ("bennett-2009", "19664287"),
])
def test_pmids_match_the_clinical_facts(source_id, pmid):
    assert SOURCES.get(source_id).pmid == pmid


@pytest.mark.parametrize(("source_id", "doi"), [
    ("bruun-2024", "10.1016/S2665-9913(23)00278-3"),
    ("younger-2013", "10.1002/art.37734"),
    ("toljan-2018", "10.3390/medsci6040082"),
    ("orourke-2021", "10.1016/j.mayocp.2020.06.045"),
    ("goel-2024", "10.1097/ALN.0000000000005040"),
    ("whately-stead-2023", "10.60115/11055/1180"),
    ("mcdermott-2019", "10.1007/978-3-030-22720-3_24"),
    ("dworkin-2008", "10.1016/j.jpain.2007.09.005"),
    ("farrar-2001", "10.1016/S0304-3959(01)00349-9"),
    ("parker-2018-cochrane", "10.1002/14651858.CD010410.pub3"),
    ("chopra-2013", "10.1007/s11481-013-9451-y"),
    ("polo-2019", "10.1080/21641846.2019.1692770"),
])
def test_dois_match_the_clinical_facts(source_id, doi):
    assert SOURCES.get(source_id).doi == doi


@pytest.mark.parametrize(("source_id", "nct"), [
    ("younger-2013", "NCT00568555"),
    ("smith-2011", "NCT00663117"),
    ("bruun-2024", "NCT04270877"),
    ("nct04270877", "NCT04270877"),
    ("nct05430152", "NCT05430152"),
    ("nct04678895", "NCT04678895"),
    ("nct04739995", "NCT04739995"),
])
def test_trial_registrations_carry_their_nct_number(source_id, nct):
    assert SOURCES.get(source_id).nct == nct


def test_younger_mackey_2009_is_pmid_19453963_and_the_wrong_pmid_is_nowhere():
    assert SOURCES.get("younger-2009").pmid == "19453963"
    assert all(s.pmid != "19411815" for s in SOURCES)


@pytest.mark.parametrize(("source_id", "status"), [
    ("naltrexone-label", "V"),
    ("orourke-2021", "S"),  # primary text not read: only secondary summaries
    ("home-dilution-lay", "S"),
    ("mnt-naltrexone-interactions", "S"),
    ("bond-2025-review", "V"),  # abstract read on the Bond University research portal
])
def test_status_follows_how_the_source_was_seen(source_id, status):
    assert SOURCES.get(source_id).status == status


def test_loperamide_label_records_both_maximum_daily_doses():
    note = SOURCES.get("loperamide-label").note
    assert "16 mg" in note and "8 mg" in note


@pytest.mark.parametrize(("fields", "link"), [
    ({"url": "https://example.org/a", "doi": "10.1/x"}, "https://example.org/a"),
    ({"doi": "10.1/x", "pmid": "1"}, "https://doi.org/10.1/x"),
    ({"pmid": "19453963"}, "https://pubmed.ncbi.nlm.nih.gov/19453963/"),
    ({"pmcid": "PMC1"}, "https://www.ncbi.nlm.nih.gov/pmc/articles/PMC1/"),
    ({"nct": "NCT04270877"}, "https://clinicaltrials.gov/study/NCT04270877"),
])
def test_link_prefers_url_then_doi_pmid_pmcid_nct(fields, link):
    source = Source(id="x", citation="c", kind="web", status="V", note="n", **fields)
    assert source.link == link


def test_json_output_lists_every_source_with_its_locators():
    shown = json.loads(json.dumps(SOURCES.to_dict()))["sources"]
    assert [s["id"] for s in shown] == [s.id for s in SOURCES]
    younger = next(s for s in shown if s["id"] == "younger-2009")
    assert younger["pmid"] == "19453963" and younger["status"] == "V"


VALID = {"citation": "Author A. Title. Journal. 2020;1:1.", "kind": "rct", "status": "V",
         "note": "what we use", "pmid": "1"}


@pytest.mark.parametrize(("change", "field"), [
    ({"citation": ""}, "sources.x.citation"),
    ({"note": None}, "sources.x.note"),
    ({"status": "verified"}, "sources.x.status"),
    ({"kind": "blog"}, "sources.x.kind"),
    ({"pmid": None}, "sources.x"),  # no url / doi / pmid / pmcid / nct left
    ({"journal": "extra"}, "sources.x.journal"),
])
def test_a_malformed_source_is_refused_naming_the_field(change, field):
    table = {k: v for k, v in (VALID | change).items() if v is not None}
    with pytest.raises(InputError) as error:
        parse_sources({"sources": {"x": table}})
    assert error.value.field == field


def test_a_file_without_sources_is_refused():
    with pytest.raises(InputError) as error:
        parse_sources({})
    assert error.value.field == "sources"

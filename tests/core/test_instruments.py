"""Questionnaires as data: scoring, bands and flags from the cited rules (clinical-facts §6),
LOINC codes only where confirmed, and a clinic's own instrument added as a file."""

from __future__ import annotations

import tomllib
from datetime import date
from importlib import resources
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lowdose.core.instruments import score
from lowdose.errors import InputError
from lowdose.knowledge.instruments import Instrument, load_instruments

DAY = date(2025, 6, 2)
INSTRUMENTS = load_instruments()
PHQ9, GAD7, HBI, PGIC = (INSTRUMENTS[i] for i in ("phq9", "gad7", "hbi", "pgic"))

# interop-notes §1.3 confirms these LOINC codes; anything else must be a local code.
CONFIRMED_LOINC = {"72514-3", "44261-6", "70274-6",
                   "LA6568-5", "LA6569-3", "LA6570-1", "LA6571-9"}


def sources_toml_ids() -> set[str]:
    text = resources.files("lowdose.knowledge").joinpath("data", "sources.toml")
    return set(tomllib.loads(text.read_text("utf-8"))["sources"])


def answers_summing_to(instrument: Instrument, total: int, *, keep_zero: str = "") -> dict:
    """Answers adding up to `total`, filling items in order (skipping `keep_zero`)."""
    answers = {}
    left = total
    for item in instrument.items:
        top = 0 if item.id == keep_zero else max(o.value for o in item.options)
        answers[item.id] = min(top, left)
        left -= answers[item.id]
    assert left == 0, "total not reachable"
    return answers


def test_the_shipped_instruments_are_the_free_ones_and_not_the_licensed_ones():
    assert set(INSTRUMENTS) == {"pain", "fatigue", "sleep", "mood", "phq9", "gad7", "pgic",
                                "hbi"}
    # FIQR, PROMIS, MSIS-29 and the ISI need a licence (clinical-facts §6): not bundled.
    assert not {"fiqr", "promis", "msis29", "isi"} & set(INSTRUMENTS)


@pytest.mark.parametrize(("total", "band"), [
    (0, "minimal"), (4, "minimal"), (5, "mild"), (9, "mild"), (10, "moderate"),
    (14, "moderate"), (15, "moderately severe"), (19, "moderately severe"), (20, "severe"),
    (24, "severe"),
])
def test_phq9_total_falls_in_kroenke_2001_band(total, band):
    result = score(PHQ9, answers_summing_to(PHQ9, total, keep_zero="9"), DAY)
    assert (result.total, result.band) == (total, band)
    assert not any(f.level == "urgent" for f in result.flags)


@pytest.mark.parametrize(("total", "attention"), [(14, False), (15, True), (20, True)])
def test_a_moderately_severe_or_severe_phq9_asks_for_a_clinician_soon(total, attention):
    result = score(PHQ9, answers_summing_to(PHQ9, total, keep_zero="9"), DAY)
    assert any(f.level == "attention" for f in result.flags) is attention


@pytest.mark.parametrize("item9", [1, 2, 3])
def test_phq9_item9_above_zero_is_urgent_with_crisis_guidance_whatever_the_total(item9):
    answers = {str(i): 0 for i in range(1, 10)} | {"9": item9}
    result = score(PHQ9, answers, DAY)
    assert result.band == "minimal"
    urgent = [f for f in result.flags if f.level == "urgent"]
    assert [f.code for f in urgent] == ["phq9-self-harm-thoughts"]
    assert "emergency" in urgent[0].reason and "crisis line" in urgent[0].reason
    assert "naltrexone-label" in urgent[0].sources and urgent[0].day == DAY
    assert result.flags[0] is urgent[0], "the urgent flag comes first"


def test_phq9_item9_zero_raises_no_urgent_flag():
    result = score(PHQ9, {str(i): 3 for i in range(1, 9)} | {"9": 0}, DAY)
    assert result.total == 24
    assert all(f.level != "urgent" for f in result.flags)


@pytest.mark.parametrize(("total", "band"), [
    (0, "minimal"), (4, "minimal"), (5, "mild"), (9, "mild"), (10, "moderate"),
    (14, "moderate"), (15, "severe"), (21, "severe"),
])
def test_gad7_total_falls_in_spitzer_2006_band(total, band):
    result = score(GAD7, answers_summing_to(GAD7, total), DAY)
    assert (result.total, result.band) == (total, band)
    assert any(f.level == "attention" for f in result.flags) is (band == "severe")


def hbi(well_being=0, abdominal_pain=0, liquid_stools=0, abdominal_mass=0, **complications):
    names = ["arthralgia", "uveitis", "erythema_nodosum", "aphthous_ulcers",
             "pyoderma_gangrenosum", "anal_fissure", "new_fistula", "abscess"]
    return {"well_being": well_being, "abdominal_pain": abdominal_pain,
            "liquid_stools": liquid_stools, "abdominal_mass": abdominal_mass,
            **{n: complications.get(n, 0) for n in names}}


@pytest.mark.parametrize(("answers", "total", "band"), [
    (hbi(), 0, "remission"),
    (hbi(well_being=1, abdominal_pain=1, liquid_stools=2), 4, "remission"),
    (hbi(well_being=1, liquid_stools=4), 5, "mild"),
    (hbi(well_being=2, abdominal_pain=1, liquid_stools=4), 7, "mild"),
    # each complication adds one point (Harvey & Bradshaw 1980)
    (hbi(well_being=2, abdominal_pain=1, liquid_stools=3, uveitis=1, abscess=1), 8, "moderate"),
    (hbi(well_being=4, abdominal_pain=3, liquid_stools=6, abdominal_mass=3), 16, "moderate"),
    (hbi(well_being=4, abdominal_pain=3, liquid_stools=6, abdominal_mass=3, arthralgia=1), 17,
     "severe"),
    (hbi(well_being=3, liquid_stools=25), 28, "severe"),
])
def test_harvey_bradshaw_index_sums_items_into_cited_bands(answers, total, band):
    result = score(HBI, answers, DAY)
    assert (result.total, result.band) == (total, band)


def test_harvey_bradshaw_abdominal_mass_is_a_clinician_item_and_response_is_3_points():
    mass = next(item for item in HBI.items if item.id == "abdominal_mass")
    assert mass.assessed_by == "clinician"
    assert HBI.mid is not None and HBI.mid.points == 3


@pytest.mark.parametrize(("answer", "band", "flagged"), [
    (1, "much or very much improved", False), (2, "much or very much improved", False),
    (3, "minimally improved", False), (4, "no change", False), (5, "worse", True),
    (7, "worse", True),
])
def test_pgic_answer_maps_to_immpact_level(answer, band, flagged):
    result = score(PGIC, {"change": answer}, DAY)
    assert result.band == band
    assert bool(result.flags) is flagged


def test_pgic_file_says_its_licence_is_unverified():
    assert "UNVERIFIED" in PGIC.licence
    assert PGIC.mid is None, "a PGIC answer is itself a change; it has no MID"


@pytest.mark.parametrize(("measure", "direction", "system", "code"), [
    ("pain", "lower-is-better", "loinc", "72514-3"),
    ("fatigue", "lower-is-better", "lowdose", "fatigue-nrs"),
    ("sleep", "higher-is-better", "lowdose", "sleep-quality-nrs"),
    ("mood", "higher-is-better", "lowdose", "mood-nrs"),
    ("phq9", "lower-is-better", "loinc", "44261-6"),
    ("gad7", "lower-is-better", "loinc", "70274-6"),
])
def test_each_measure_has_its_direction_and_code(measure, direction, system, code):
    instrument = INSTRUMENTS[measure]
    assert instrument.direction == direction
    assert (instrument.code.system, instrument.code.code) == (system, code)


def test_pain_mid_is_two_points_from_farrar_2001():
    mid = INSTRUMENTS["pain"].mid
    assert mid is not None
    assert (mid.points, mid.basis) == (2.0, "measured")
    assert "farrar-2001" in mid.sources


@pytest.mark.parametrize("measure", ["fatigue", "sleep", "mood"])
def test_ratings_without_their_own_mid_say_it_is_borrowed(measure):
    mid = INSTRUMENTS[measure].mid
    assert mid is not None and mid.basis == "borrowed"


@pytest.mark.parametrize("value", [0, 6, 10])
def test_a_rating_scores_as_its_value(value):
    assert score(INSTRUMENTS["pain"], {"pain": value}, DAY).total == value


def test_every_loinc_code_is_one_the_interop_notes_confirm():
    for instrument in INSTRUMENTS.values():
        if instrument.code.system == "loinc":
            assert instrument.code.code in CONFIRMED_LOINC, instrument.id
        for item in instrument.items:
            for option in item.options:
                assert option.code is None or option.code in CONFIRMED_LOINC, instrument.id


def test_every_instrument_cites_sources_that_exist():
    known = sources_toml_ids()
    for instrument in INSTRUMENTS.values():
        assert instrument.sources and instrument.licence
        assert set(instrument.cited()) <= known, instrument.id


@pytest.mark.parametrize(("answers", "field"), [
    ({str(i): 0 for i in range(1, 9)}, "answers.9"),  # item 9 left out
    ({str(i): 0 for i in range(1, 10)} | {"10": 1}, "answers.10"),
    ({str(i): 0 for i in range(1, 10)} | {"3": 4}, "answers.3"),
    ({str(i): 0 for i in range(1, 10)} | {"2": -1}, "answers.2"),
    ({str(i): 0 for i in range(1, 10)} | {"4": 1.5}, "answers.4"),
    ({str(i): 0 for i in range(1, 10)} | {"5": True}, "answers.5"),
    ({str(i): 0 for i in range(1, 10)} | {"6": "2"}, "answers.6"),
])
def test_incomplete_or_invalid_answers_are_refused_naming_the_item(answers, field):
    with pytest.raises(InputError) as error:
        score(PHQ9, answers, DAY)
    assert error.value.field == field


def test_a_rating_above_ten_is_refused():
    with pytest.raises(InputError, match="from 0 to 10"):
        score(INSTRUMENTS["pain"], {"pain": 11}, DAY)


@given(st.lists(st.integers(0, 3), min_size=9, max_size=9))
def test_phq9_total_is_the_sum_and_urgent_exactly_when_item9_is_above_zero(values):
    result = score(PHQ9, {str(i + 1): v for i, v in enumerate(values)}, DAY)
    assert result.total == sum(values)
    band = next(b for b in PHQ9.bands if b.label == result.band)
    assert band.contains(result.total)
    assert any(f.level == "urgent" for f in result.flags) is (values[8] > 0)


CLINIC_INSTRUMENT = """
id = "morning-stiffness"
name = "Morning stiffness (clinic questionnaire)"
kind = "questionnaire"
direction = "lower-is-better"
licence = "Licensed to the clinic by its author."
sources = ["bennett-2009"]

[code]
system = "lowdose"
code = "clinic-morning-stiffness"
display = "Morning stiffness score"

[[items]]
id = "minutes"
text = "How long did stiffness last this morning (0 none … 4 over 2 hours)?"
options = [{ value = 0, label = "None" }, { value = 1, label = "< 15 min" },
           { value = 2, label = "15–60 min" }, { value = 3, label = "1–2 h" },
           { value = 4, label = "> 2 h" }]

[[items]]
id = "severity"
text = "How severe was it?"
minimum = 0
maximum = 10

[[bands]]
label = "low"
minimum = 0
maximum = 5

[[bands]]
label = "high"
minimum = 6
level = "attention"
reason = "Stiffness score {score}: tell your clinician."
sources = ["bennett-2009"]
"""


def test_a_clinic_adds_its_own_instrument_as_a_file_without_code_changes(tmp_path: Path):
    (tmp_path / "stiffness.toml").write_text(CLINIC_INSTRUMENT, encoding="utf-8")
    instruments = load_instruments([tmp_path])
    assert set(INSTRUMENTS) < set(instruments)
    stiffness = instruments["morning-stiffness"]
    assert (stiffness.minimum, stiffness.maximum) == (0, 14)
    result = score(stiffness, {"minutes": 3, "severity": 7}, DAY)
    assert (result.total, result.band) == (10, "high")
    assert [f.reason for f in result.flags] == ["Stiffness score 10: tell your clinician."]


def test_a_clinic_file_cannot_silently_replace_a_built_in_instrument(tmp_path: Path):
    text = CLINIC_INSTRUMENT.replace('id = "morning-stiffness"', 'id = "phq9"')
    (tmp_path / "mine.toml").write_text(text, encoding="utf-8")
    with pytest.raises(InputError, match="already defined"):
        load_instruments([tmp_path])


@pytest.mark.parametrize(("change", "key"), [
    (('direction = "lower-is-better"', 'direction = "down"'), "direction"),
    (('sources = ["bennett-2009"]\n', 'sources = []\n'), "sources"),
    (('system = "lowdose"', 'system = "snomed"'), "code.system"),
    (('licence = "Licensed to the clinic by its author."\n', ''), "licence"),
    (('maximum = 10', 'maximum = -1'), "items.1.maximum"),
    (('reason = "Stiffness score {score}: tell your clinician."\n', ''), "bands.1.reason"),
    (('kind = "questionnaire"', 'kind = "questionnaire"\ncolour = "red"'), "colour"),
])
def test_a_broken_clinic_file_is_refused_naming_file_and_key(tmp_path: Path, change, key):
    old, new = change
    assert old in CLINIC_INSTRUMENT
    path = tmp_path / "broken.toml"
    path.write_text(CLINIC_INSTRUMENT.replace(old, new, 1), encoding="utf-8")
    with pytest.raises(InputError) as error:
        load_instruments([tmp_path])
    assert error.value.field == f"{path}: {key}"


def test_a_missing_instrument_folder_is_refused(tmp_path: Path):
    with pytest.raises(InputError, match="not a directory"):
        load_instruments([tmp_path / "nowhere"])


def test_invalid_toml_is_refused_naming_the_file(tmp_path: Path):
    (tmp_path / "bad.toml").write_text("id = \n", encoding="utf-8")
    with pytest.raises(InputError, match="not valid TOML"):
        load_instruments([tmp_path])


@pytest.mark.parametrize(("change", "key"), [
    (('name = "Morning stiffness (clinic questionnaire)"', 'name = 3'), "name"),
    (('kind = "questionnaire"', 'kind = "questionnaire"\nmid = 2'), "mid"),
    (('[[bands]]\nlabel = "low"\nminimum = 0', '[[bands]]\nlabel = "low"\nminimum = "0"'),
     "bands.0.minimum"),
    (('[code]\nsystem', '[coding]\nsystem'), "coding"),
    (('id = "minutes"\n', 'id = "severity"\n'), "items"),
    (('id = "severity"\ntext = "How severe was it?"\nminimum = 0\nmaximum = 10\n',
      'id = "severity"\ntext = "How severe was it?"\n'), "items.1"),
    (('minimum = 0\nmaximum = 10', 'minimum = 0.5\nmaximum = 10'), "items.1.minimum"),
    (('{ value = 0, label = "None" }', '{ value = 0, label = "None", code = 5 }'),
     "items.0.options.0.code"),
    (('[[bands]]\nlabel = "high"\nminimum = 6', '[[bands]]\nlabel = "high"\nminimum = 6\n'
      'maximum = 2'), "bands.1"),
    (('sources = ["bennett-2009"]\n\n[code]', 'sources = "bennett-2009"\n\n[code]'), "sources"),
])
def test_more_broken_clinic_files_are_refused_naming_the_key(tmp_path: Path, change, key):
    old, new = change
    assert old in CLINIC_INSTRUMENT
    path = tmp_path / "broken.toml"
    path.write_text(CLINIC_INSTRUMENT.replace(old, new, 1), encoding="utf-8")
    with pytest.raises(InputError) as error:
        load_instruments([tmp_path])
    assert error.value.field == f"{path}: {key}"


@pytest.mark.parametrize(("extra", "key", "message"), [
    ('\n[[alerts]]\nitem = "nope"\nabove = 0\ncode = "x"\nlevel = "urgent"\nreason = "r"\n'
     'sources = ["bennett-2009"]\n', "alerts.0.item", "is not an item"),
    ('\n[mid]\npoints = 0\nbasis = "measured"\nnote = "n"\nsources = ["bennett-2009"]\n',
     "mid.points", "above 0"),
    ('\n[mid]\npoints = 2\nbasis = "guessed"\nnote = "n"\nsources = ["bennett-2009"]\n',
     "mid.basis", "one of"),
])
def test_broken_alerts_and_mids_are_refused(tmp_path: Path, extra, key, message):
    path = tmp_path / "broken.toml"
    path.write_text(CLINIC_INSTRUMENT + extra, encoding="utf-8")
    with pytest.raises(InputError, match=message) as error:
        load_instruments([tmp_path])
    assert error.value.field == f"{path}: {key}"


def test_a_whole_number_given_as_a_float_is_accepted_and_the_score_has_a_contract_dict():
    result = score(GAD7, {str(i): 1.0 for i in range(1, 8)}, DAY)
    assert result.total == 7
    assert result.to_dict() == {"instrument": "gad7", "date": "2025-06-02", "total": 7,
                                "band": "mild", "answers": {str(i): 1 for i in range(1, 8)},
                                "flags": []}


def test_an_open_ended_count_accepts_any_whole_number_from_its_minimum():
    stools = next(item for item in HBI.items if item.id == "liquid_stools")
    assert stools.allows(40) and not stools.allows(-1)
    assert stools.describe_allowed() == "a whole number ≥ 0"
    assert HBI.maximum is None


MINIMAL = {"id": "x", "name": "X", "kind": "rating", "direction": "lower-is-better",
           "licence": "own", "sources": ["farrar-2001"],
           "code": {"system": "lowdose", "code": "x", "display": "X"},
           "items": [{"id": "x", "text": "X?", "minimum": 0, "maximum": 10}]}


@pytest.mark.parametrize(("change", "key", "message"), [
    ({"items": []}, "items", "at least one entry"),
    ({"items": "x"}, "items", "list of tables"),
    ({"sources": []}, "sources", "at least one source id"),
    ({"bands": [{"label": "b", "minimum": 0, "level": "attention", "reason": "r"}]},
     "bands.0.sources", "at least one source id"),
])
def test_required_lists_must_be_present_and_cited(change, key, message):
    from lowdose.knowledge.instruments import parse_instrument

    assert parse_instrument(MINIMAL, origin="x.toml").maximum == 10
    with pytest.raises(InputError, match=message) as error:
        parse_instrument(MINIMAL | change, origin="x.toml")
    assert error.value.field == f"x.toml: {key}"

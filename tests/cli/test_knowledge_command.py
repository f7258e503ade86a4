"""`lowdose knowledge instruments` and `lowdose knowledge side-effects`: the questionnaires and
the side-effect course that drive check-ins and flags are shown as loaded, with sources
(design §2: "`lowdose knowledge` shows what is loaded")."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from lowdose.knowledge.evidence import load_side_effects
from lowdose.knowledge.instruments import load_instruments

RunLowdose = Callable[..., Any]


def test_instruments_show_items_range_bands_code_and_mid(lowdose: RunLowdose) -> None:
    run = lowdose("knowledge", "instruments", "--json")
    assert run.code == 0, run.stderr
    shown = {i["id"]: i for i in run.json()["instruments"]}
    assert set(shown) == set(load_instruments())
    phq9 = shown["phq9"]
    assert (len(phq9["items"]), phq9["minimum"], phq9["maximum"]) == (9, 0, 27)
    assert phq9["code"]["code"] == "44261-6"
    assert [(b["label"], b["minimum"]) for b in phq9["bands"]] == [
        ("minimal", 0), ("mild", 5), ("moderate", 10), ("moderately severe", 15),
        ("severe", 20)]
    pain_mid = shown["pain"]["mid"]
    assert pain_mid["points"] == 2.0 and "farrar-2001" in pain_mid["sources"]
    human = lowdose("knowledge", "instruments")
    assert "44261-6" in human.stdout and "70274-6" in human.stdout


def test_one_instrument_by_id(lowdose: RunLowdose) -> None:
    run = lowdose("knowledge", "instruments", "gad7", "--json")
    assert run.code == 0, run.stderr
    (gad7,) = run.json()["instruments"]
    assert (len(gad7["items"]), gad7["maximum"], gad7["code"]["code"]) == (7, 21, "70274-6")
    unknown = lowdose("knowledge", "instruments", "isi")
    assert unknown.code == 1 and "isi" in unknown.stderr


def test_side_effects_show_their_course_and_the_red_flags(lowdose: RunLowdose) -> None:
    run = lowdose("knowledge", "side-effects", "--json")
    assert run.code == 0, run.stderr
    assert run.json() == load_side_effects().to_dict()
    human = lowdose("knowledge", "side-effects", env={"COLUMNS": "400"})
    for red in load_side_effects().red_flags:
        assert red.name in human.stdout

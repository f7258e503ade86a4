"""POST /api/v1/screen: the §3.1 profile in, the §3.2 result out, the same as the CLI."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from lowdose.api.app import create_app

RunLowdose = Callable[..., Any]
AS_OF = "2025-06-02T09:00"
# The design §3.1 example profile.
EXAMPLE: dict[str, Any] = {
    "as_of": AS_OF, "age": 52, "weight_kg": 70, "sex": "female",
    "pregnant": False, "breastfeeding": False,
    "conditions": ["fibromyalgia", "compensated cirrhosis"],
    "medications": [
        {"text": "Norco 5/325 mg every 6 h as needed", "last_taken": "2025-06-01"},
        {"rxnorm": "857002",
         "text": "acetaminophen 325 MG / hydrocodone bitartrate 5 MG Oral Tablet"},
    ],
    "ldn": {"dose_mg": 4.5, "time": "22:00", "last_taken": "2025-06-01T22:00"},
    "procedures": [{"name": "knee replacement", "at": "2025-06-04T08:00",
                    "opioids_expected": True}],
}
PROFILES = {
    "design-example": EXAMPLE,
    "dextromethorphan-only": {"as_of": AS_OF, "medications": [{"text": "Delsym 30 mg"}]},
    "surgery-ahead": {"as_of": AS_OF, "ldn": {"dose_mg": 1.5},
                      "procedures": [{"at": "2025-06-12T08:00", "opioids_expected": True}]},
    "nothing": {"as_of": AS_OF},
}


# The shared example profiles (tests/fixtures/profiles), screened through both interfaces.
EXAMPLES = sorted((Path(__file__).parents[1] / "fixtures" / "profiles").glob("*.json"))


@pytest.mark.parametrize("name", PROFILES)
def test_screen_route_answers_what_the_command_prints(
    api: httpx.Client, lowdose: RunLowdose, tmp_path: Path, name: str
) -> None:
    response = api.post("/api/v1/screen", json=PROFILES[name])
    assert response.status_code == 200, response.text
    path = tmp_path / f"{name}.json"
    path.write_text(json.dumps(PROFILES[name]))
    run = lowdose("screen", str(path), "--json")
    assert run.code == 0, run.stderr
    assert response.json() == run.json()


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_every_example_profile_screens_the_same_over_http_and_the_command_line(
    api: httpx.Client, lowdose: RunLowdose, path: Path
) -> None:
    response = api.post("/api/v1/screen", content=path.read_bytes(),
                        headers={"content-type": "application/json"})
    run = lowdose("screen", str(path), "--json")
    assert (response.status_code, run.code) == (200, 0), (response.text, run.stderr)
    assert response.json() == run.json()


def test_design_example_is_contraindicated_by_hydrocodone(api: httpx.Client) -> None:
    result = api.post("/api/v1/screen", json=EXAMPLE).json()
    assert result["verdict"] == "contraindicated"
    first = result["findings"][0]
    assert (first["code"], first["level"]) == ("active-opioid", "contraindicated")
    assert "hydrocodone" in first["matched"].lower()
    assert "naltrexone-label" in first["sources"]


def test_configured_hold_applies_to_the_screen(
    make_settings: Callable[..., Any], serve_app: Callable[[Any], Any]
) -> None:
    app = create_app(make_settings(hold_hours=48))
    with serve_app(app) as url:
        result = httpx.post(f"{url}/api/v1/screen", json=PROFILES["surgery-ahead"]).json()
    assert result["perioperative"]["hold_hours"] == 48
    assert result["perioperative"]["last_dose_by"] == "2025-06-09T22:00"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"medications": []}, "as_of"),
        ({"as_of": AS_OF, "colour": "red"}, "colour"),
        ({"as_of": AS_OF, "medications": [{"text": 42}]}, "medications.0.text"),
        ({"as_of": AS_OF, "medications": [{"text": "Norco", "last_taken": "last week"}]},
         "medications.0.last_taken"),
        ({"as_of": AS_OF, "ldn": {"dose_mg": 0}}, "ldn.dose_mg"),
        # An InputError from the conversion to core: a zoned time beside local ones.
        ({"as_of": AS_OF, "procedures": [{"at": "2025-06-12T08:00+02:00"}]}, "procedures.0.at"),
        # JSON numbers where text or a number of another kind is meant: not read as seconds
        # since 1970, `true` not read as an age of 1, "70" not read as 70 kg.
        ({"as_of": 5}, "as_of"),
        ({"as_of": AS_OF, "ldn": {"last_taken": 1748800000}}, "ldn.last_taken"),
        ({"as_of": AS_OF, "procedures": [{"at": 1749700000}]}, "procedures.0.at"),
        ({"as_of": AS_OF, "medications": [{"text": "Norco", "stopped": 17}]},
         "medications.0.stopped"),
        ({"as_of": AS_OF, "age": True}, "age"),
        ({"as_of": AS_OF, "weight_kg": "70"}, "weight_kg"),
        ({"as_of": AS_OF, "ldn": {"dose_mg": "4.5"}}, "ldn.dose_mg"),
    ],
)
def test_bad_profiles_are_422_problems_naming_the_field(
    api: httpx.Client, body: dict[str, Any], field: str
) -> None:
    response = api.post("/api/v1/screen", json=body)
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert field in [e["field"] for e in response.json()["errors"]]

"""POST /api/v1/screen and /periop: with the patient's `timezone` the 72-hour hold counts real
hours across a daylight-saving change; a procedure without `opioids_expected` gets the hold."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

# New York clocks went forward on 2025-03-09: Friday 07:30 to Monday 08:00 is 72.5 hours on
# the clock face but 71.5 real hours, short of the hold, so Thursday's dose is the last.
SURGERY = "2025-03-10T08:00"
PROFILE: dict[str, Any] = {
    "as_of": "2025-03-01T09:00", "ldn": {"dose_mg": 4.5, "time": "07:30"},
    "procedures": [{"name": "hip replacement", "at": SURGERY, "opioids_expected": True}]}
PERIOP: dict[str, Any] = {"surgery_at": SURGERY, "as_of": "2025-03-01T09:00",
                          "dose_time": "07:30"}


@pytest.mark.parametrize(("zone", "last_dose_by"), [
    ({"timezone": "America/New_York"}, "2025-03-06T07:30"),
    ({}, "2025-03-07T07:30"),  # no zone: clock hours, as before
])
def test_the_screen_counts_real_hours_in_the_profiles_time_zone(
    api: httpx.Client, zone: dict[str, str], last_dose_by: str
) -> None:
    response = api.post("/api/v1/screen", json={**PROFILE, **zone})
    assert response.status_code == 200, response.text
    assert response.json()["perioperative"]["last_dose_by"] == last_dose_by


@pytest.mark.parametrize(("zone", "last_dose_by"), [
    ({"timezone": "America/New_York"}, "2025-03-06T07:30"),
    ({}, "2025-03-07T07:30"),
])
def test_periop_counts_real_hours_in_the_requests_time_zone(
    api: httpx.Client, zone: dict[str, str], last_dose_by: str
) -> None:
    response = api.post("/api/v1/periop", json={**PERIOP, **zone})
    assert response.status_code == 200, response.text
    assert response.json()["last_dose_by"] == last_dose_by


def test_times_with_an_offset_are_read_in_the_profiles_time_zone(api: httpx.Client) -> None:
    # The same moments as PROFILE, written in UTC: read in New York they are the same plan.
    document = {"as_of": "2025-03-01T14:00Z", "timezone": "America/New_York",
                "ldn": {"dose_mg": 4.5, "time": "07:30"},
                "procedures": [{"at": "2025-03-10T12:00Z", "opioids_expected": True}]}
    result = api.post("/api/v1/screen", json=document).json()
    assert result["perioperative"]["surgery_at"] == SURGERY
    assert result["perioperative"]["last_dose_by"] == "2025-03-06T07:30"


@pytest.mark.parametrize("name", ["Mars/Olympus", "America", "zone.tab", "../etc/passwd",
                                  "/etc/localtime", ""])
@pytest.mark.parametrize(("route", "body"), [("/api/v1/screen", PROFILE),
                                             ("/api/v1/periop", PERIOP)])
def test_an_unknown_time_zone_is_a_422_naming_timezone(
    api: httpx.Client, route: str, body: dict[str, Any], name: str
) -> None:
    response = api.post(route, json={**body, "timezone": name})
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert [e["field"] for e in response.json()["errors"]] == ["timezone"]


@pytest.mark.parametrize(("said", "held"), [({}, True), ({"opioids_expected": None}, True),
                                            ({"opioids_expected": True}, True),
                                            ({"opioids_expected": False}, False)])
def test_a_procedure_not_known_to_need_opioids_still_gets_the_hold(
    api: httpx.Client, said: dict[str, Any], held: bool
) -> None:
    # Not knowing errs towards the hold and asking the clinician; only "no" skips it.
    document = {"as_of": "2025-06-02T09:00", "ldn": {"dose_mg": 4.5},
                "procedures": [{"name": "knee replacement", "at": "2025-06-12T08:00", **said}]}
    result = api.post("/api/v1/screen", json=document).json()
    assert (result["perioperative"] is not None) == held
    holds = [f for f in result["findings"] if f["code"] == "perioperative-hold"]
    assert len(holds) == held
    if held:
        assert "may need opioid pain relief" in holds[0]["message"]


def test_the_openapi_document_describes_the_new_fields(api: httpx.Client) -> None:
    schemas = api.get("/api/v1/openapi.json").json()["components"]["schemas"]
    for model in ("Profile", "PeriopRequest"):
        assert "timezone" in schemas[model]["properties"], model
        assert "timezone" not in schemas[model].get("required", []), model
    opioids = schemas["Procedure"]["properties"]["opioids_expected"]
    assert {"type": "null"} in opioids["anyOf"] and "hold applies" in opioids["description"]

"""n-of-1 comparisons over real HTTP, on SQLite and PostgreSQL."""

# ruff: noqa: F811  (pytest fixtures are parameters named like the imported fixture)
from __future__ import annotations

from datetime import UTC, datetime, timedelta

from api.test_records import RecordServer, server  # noqa: F401  (fixture used by name)
from persistence.conftest import backend, isolated_database, templates  # noqa: F401

BODY = {"a": {"dose_mg": 4.5, "time": "22:00"}, "b": {"dose_mg": 4.5, "time": "08:00"},
        "blocks": 2, "period_days": 7, "run_in_days": 2}


def test_plan_read_analyse_and_cancel(server: RecordServer) -> None:
    base = f"/api/v1/patients/{server.cast.ids.alice}/nof1"
    starts = (datetime.now(UTC).date() + timedelta(days=1)).isoformat()
    made = server.client.post(base, headers=server.as_("clinician"),
                              json={**BODY, "starts_on": starts})
    assert made.status_code == 201, made.text
    plan = made.json()
    assert plan["kind"] == "timing" and len(plan["periods"]) == 4 and plan["first"] == starts
    assert all(p["analysed_from"] > p["first"] for p in plan["periods"] if p["block"] == 1)
    one = server.client.get(f"{base}/{plan['id']}", headers=server.as_("patient")).json()
    assert one["periods"] == plan["periods"]
    analysis = server.client.get(f"{base}/{plan['id']}/analysis",
                                 headers=server.as_("patient")).json()
    assert analysis["measures"] == [] and "does not make it" in analysis["note"]
    refused = server.client.post(base, headers=server.as_("patient"),
                                 json={**BODY, "starts_on": starts})
    assert refused.status_code == 403
    overlapping = server.client.post(base, headers=server.as_("clinician"),
                                     json={**BODY, "starts_on": starts})
    assert overlapping.status_code == 409
    cancelled = server.client.post(f"{base}/{plan['id']}/cancel",
                                   headers=server.as_("clinician")).json()
    assert cancelled["cancelled"] is True


def test_bad_comparisons_name_their_field(server: RecordServer) -> None:
    base = f"/api/v1/patients/{server.cast.ids.alice}/nof1"
    starts = (datetime.now(UTC).date() + timedelta(days=1)).isoformat()
    same = server.client.post(base, headers=server.as_("clinician"), json={
        **BODY, "b": BODY["a"], "starts_on": starts})
    assert same.status_code == 422
    assert [e["field"] for e in same.json()["errors"]] == ["b"]
    short = server.client.post(base, headers=server.as_("clinician"), json={
        **BODY, "blocks": 1, "starts_on": starts})
    assert short.status_code == 422 and "blocks" in short.text
    assert server.client.get(base, headers=server.as_("clinician")).json() == []

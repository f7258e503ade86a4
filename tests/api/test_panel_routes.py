"""The clinic panel over real HTTP, on SQLite and PostgreSQL."""

# ruff: noqa: F811  (pytest fixtures are parameters named like the imported fixture)
from __future__ import annotations

from datetime import UTC, datetime, timedelta

from api.test_records import RecordServer, server  # noqa: F401  (fixture used by name)
from persistence.conftest import backend, isolated_database, templates  # noqa: F401


def _checkin(server: RecordServer, persona: str, patient_id: int, back: int,
             effects: list[dict[str, object]]) -> None:
    day = datetime.now(UTC).date() - timedelta(days=back)
    sent = server.client.post(f"/api/v1/patients/{patient_id}/checkins",
                              headers=server.as_(persona),
                              json={"date": day.isoformat(), "side_effects": effects})
    assert sent.status_code == 201, sent.text


def test_a_clinician_sees_the_red_flag_first_and_can_filter(server: RecordServer) -> None:
    ids = server.cast.ids
    _checkin(server, "patient", ids.alice, 1, [])
    _checkin(server, "second_patient", ids.bob, 0, [{"name": "jaundice", "severity": 2}])
    page = server.client.get("/api/v1/panel", headers=server.as_("clinician")).json()
    assert [r["patient_id"] for r in page["rows"]] == [ids.bob, ids.alice]
    assert page["rows"][0]["level"] == "urgent" and page["total"] == 2
    assert page["rows"][0]["flags"][0]["reason"]
    urgent = server.client.get("/api/v1/panel", params={"level": "urgent"},
                               headers=server.as_("clinician")).json()
    assert [r["patient_id"] for r in urgent["rows"]] == [ids.bob]
    named = server.client.get("/api/v1/panel", params={"q": "ali", "limit": 5},
                              headers=server.as_("clinician")).json()
    assert [r["display_name"] for r in named["rows"]] == ["Alice"]


def test_patients_are_refused_and_bad_filters_are_named(server: RecordServer) -> None:
    assert server.client.get("/api/v1/panel", headers=server.as_("patient")).status_code == 403
    assert server.client.get("/api/v1/panel").status_code == 401
    bad = server.client.get("/api/v1/panel", params={"level": "severe"},
                            headers=server.as_("clinician"))
    assert bad.status_code == 422 and "level" in bad.text
    assert server.client.get("/api/v1/panel", params={"limit": 0},
                             headers=server.as_("clinician")).status_code == 422


def test_an_admin_sees_names_without_clinical_detail(server: RecordServer) -> None:
    _checkin(server, "second_patient", server.cast.ids.bob, 0,
             [{"name": "jaundice", "severity": 2}])
    rows = server.client.get("/api/v1/panel", headers=server.as_("admin")).json()["rows"]
    assert {r["display_name"] for r in rows} == {"Alice", "Bob"}
    assert all(r["detail"] is False and r["flags"] == [] for r in rows)

"""Approving the proposed next step over real HTTP, on SQLite and PostgreSQL."""

# ruff: noqa: F811  (pytest fixtures are parameters named like the imported fixture)
from __future__ import annotations

from datetime import UTC, datetime, timedelta

from api.test_records import RecordServer, server  # noqa: F401  (fixture used by name)
from persistence.conftest import backend, isolated_database, templates  # noqa: F401


def _running_plan(server: RecordServer, nights: int) -> str:
    """A plan started 20 days ago and `nights` quiet check-ins on 1.5 mg up to yesterday."""
    today = datetime.now(UTC).date()
    start = today - timedelta(days=20)
    base = f"/api/v1/patients/{server.cast.ids.alice}"
    made = server.client.post(base + "/courses", headers=server.as_("clinician"), json={
        "started_on": start.isoformat(),
        "first_plan": {"from_date": start.isoformat(), "start_mg": 1.5, "step_mg": 1.5,
                       "every_days": 14, "target_mg": 4.5}})
    assert made.status_code == 200, made.text
    for back in range(nights, 0, -1):
        day = today - timedelta(days=back)
        sent = server.client.post(base + "/checkins", headers=server.as_("patient"), json={
            "date": day.isoformat(), "dose_taken": True, "dose_mg": 1.5, "dose_time": "22:00"})
        assert sent.status_code == 201, sent.text
    return base


def test_a_clinician_approves_the_proposal_as_a_new_plan_version(server: RecordServer) -> None:
    base = _running_plan(server, 16)
    proposal = server.client.get(base + "/next-step", headers=server.as_("clinician")).json()
    assert (proposal["action"], proposal["dose_mg"]) == ("advance", 3.0)
    assert proposal["approval"] == "clinician" and proposal["may_approve"] is True

    approved = server.client.post(base + "/next-step/approve", headers=server.as_("clinician"))
    assert approved.status_code == 200, approved.text
    body = approved.json()
    assert body["edited"] is False and body["plan"]["version"] == 2
    assert "diary's proposal" in body["plan"]["reason"]
    course_id = proposal["course_id"]
    versions = server.client.get(f"{base}/courses/{course_id}/plans",
                                 headers=server.as_("patient")).json()
    assert [v["version"] for v in versions] == [1, 2]


def test_edits_are_applied_and_bad_edits_name_their_field(server: RecordServer) -> None:
    base = _running_plan(server, 16)
    bad = server.client.post(base + "/next-step/approve", headers=server.as_("clinician"),
                             json={"dose_mg": -1})
    assert bad.status_code == 422
    assert "dose_mg" in bad.text
    unknown = server.client.post(base + "/next-step/approve", headers=server.as_("clinician"),
                                 json={"dose": 2})
    assert unknown.status_code == 422
    edited = server.client.post(base + "/next-step/approve", headers=server.as_("clinician"),
                                json={"dose_mg": 2.0, "note": "smaller step"})
    assert edited.status_code == 200, edited.text
    assert edited.json()["edited"] is True
    assert edited.json()["plan"]["plan"]["steps"][0]["dose_mg"] == 2.0


def test_a_patient_is_answered_that_the_proposal_is_a_suggestion(server: RecordServer) -> None:
    base = _running_plan(server, 16)
    proposal = server.client.get(base + "/next-step", headers=server.as_("patient")).json()
    assert proposal["may_approve"] is False
    refused = server.client.post(base + "/next-step/approve", headers=server.as_("patient"))
    assert refused.status_code == 403
    assert "suggestion to discuss with your prescriber" in refused.json()["detail"]


def test_nothing_running_is_a_conflict(server: RecordServer) -> None:
    base = f"/api/v1/patients/{server.cast.ids.alice}"
    answer = server.client.post(base + "/next-step/approve", headers=server.as_("clinician"))
    assert answer.status_code == 409


def test_an_approval_of_what_was_read_is_refused_once_it_changed(server: RecordServer) -> None:
    base = _running_plan(server, 16)
    read = server.client.get(base + "/next-step", headers=server.as_("clinician")).json()
    seen = {"plan_version": read["plan_version"], "proposal_action": read["action"],
            "proposal_dose_mg": read["dose_mg"]}
    stale = server.client.post(base + "/next-step/approve", headers=server.as_("clinician"),
                               json={**seen, "proposal_dose_mg": 4.5})
    assert stale.status_code == 409 and "changed since it was shown" in stale.text
    half = server.client.post(base + "/next-step/approve", headers=server.as_("clinician"),
                              json={"proposal_action": read["action"]})
    assert half.status_code == 422 and "plan_version" in half.text

    first = server.client.post(base + "/next-step/approve", headers=server.as_("clinician"),
                               json=seen)
    again = server.client.post(base + "/next-step/approve", headers=server.as_("clinician"),
                               json=seen)  # a colleague's approval of the same reading
    assert first.status_code == 200 and again.status_code == 409

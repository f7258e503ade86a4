"""Scored questionnaires over real HTTP, on SQLite and PostgreSQL: the list endpoint returns
score and band; an incomplete PHQ-9 is a 422 naming the item; item 9 reaches the flags."""

# ruff: noqa: F811  (pytest fixtures are parameters named like the imported fixture)
from __future__ import annotations

from api.test_records import RecordServer, server  # noqa: F401  (fixture used by name)
from persistence.conftest import backend, isolated_database, templates  # noqa: F401


def test_the_list_returns_score_band_and_the_urgent_flag(server: RecordServer) -> None:
    base = f"/api/v1/patients/{server.cast.ids.alice}"
    answers = {str(i): 2 for i in range(1, 9)} | {"9": 1}
    sent = server.client.post(base + "/questionnaires", headers=server.as_("patient"), json={
        "instrument": "phq9", "answered_at": "2025-06-01T20:00", "answers": answers})
    assert sent.status_code == 200, sent.text
    [listed] = server.client.get(base + "/questionnaires",
                                 headers=server.as_("clinician")).json()
    assert (listed["score"], listed["band"]) == (17, "moderately severe")
    assert listed["flags"][0]["code"] == "phq9-self-harm-thoughts"
    assert listed["flags"][0]["level"] == "urgent"


def test_an_incomplete_phq9_is_refused_naming_the_item(server: RecordServer) -> None:
    base = f"/api/v1/patients/{server.cast.ids.alice}"
    answers = {str(i): 0 for i in range(1, 9)}
    sent = server.client.post(base + "/questionnaires", headers=server.as_("patient"), json={
        "instrument": "phq9", "answered_at": "2025-06-01T20:00", "answers": answers})
    assert sent.status_code == 422
    assert [e["field"] for e in sent.json()["errors"]] == ["answers.9"]
    listed = server.client.get(base + "/questionnaires", headers=server.as_("patient")).json()
    assert listed == []

"""FHIR over real HTTP, on SQLite and PostgreSQL: `$everything` and `POST /fhir` with the API's
bearer tokens, the same policy and audit as the REST API, and every error an
OperationOutcome."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from interop.conftest import Running, assert_valid_fhir, seed_record
from interop.test_fhir_import import counts, ehr_bundle
from lowdose.store.models import AuditEvent

FHIR_JSON = "application/fhir+json"


def assert_outcome(response: Any, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(FHIR_JSON)
    body = response.json()
    assert_valid_fhir(body)
    assert body["resourceType"] == "OperationOutcome"
    assert body["issue"][0]["code"] == code
    return body


def test_everything_is_a_valid_searchset_of_the_record(running: Running) -> None:
    alice = seed_record(running.cast)
    response = running.client.get(f"/fhir/Patient/{alice}/$everything",
                                  headers=running.as_("patient"))
    assert response.status_code == 200
    assert response.headers["content-type"].startswith(FHIR_JSON)
    bundle = response.json()
    assert_valid_fhir(bundle)
    assert bundle["type"] == "searchset"
    assert bundle["entry"][0]["resource"]["resourceType"] == "Patient"
    assert bundle["entry"][0]["search"] == {"mode": "match"}
    with running.cast.db.transaction() as session:
        event = session.scalars(select(AuditEvent).where(AuditEvent.action == "fhir.export")
                                .order_by(AuditEvent.id.desc())).first()
    assert event is not None
    assert (event.patient_id, event.actor_user_id, event.source) == (
        alice, running.cast.user("patient").id, "127.0.0.1")


def test_without_a_token_the_answer_is_401_as_an_operation_outcome(running: Running) -> None:
    response = running.client.get(f"/fhir/Patient/{running.cast.ids.alice}/$everything")
    assert_outcome(response, 401, "login")
    assert response.headers["www-authenticate"] == "Bearer"


@pytest.mark.parametrize("persona", ["outsider", "other_clinician", "second_patient"])
def test_someone_elses_record_is_not_found(running: Running, persona: str) -> None:
    response = running.client.get(f"/fhir/Patient/{running.cast.ids.alice}/$everything",
                                  headers=running.as_(persona))
    assert_outcome(response, 404, "not-found")


def test_the_admin_knows_the_patient_but_may_not_read_the_record(running: Running) -> None:
    response = running.client.get(f"/fhir/Patient/{running.cast.ids.alice}/$everything",
                                  headers=running.as_("admin"))
    assert_outcome(response, 403, "forbidden")


def test_a_posted_bundle_is_reported_entry_by_entry_and_screened(running: Running) -> None:
    alice = running.cast.ids.alice
    response = running.client.post("/fhir", json=ehr_bundle(alice),
                                   headers={**running.as_("patient"),
                                            "Content-Type": FHIR_JSON})
    assert response.status_code == 200, response.text
    answer = response.json()
    assert_valid_fhir(answer)
    assert answer["type"] == "transaction-response"
    assert [e["response"]["status"] for e in answer["entry"]] == [
        "201 Created", "201 Created", "201 Created", "200 OK", "200 OK"]
    assert "added" in answer["entry"][0]["response"]["outcome"]["issue"][0]["diagnostics"]
    screen = running.client.get(f"/api/v1/patients/{alice}/screen",
                                headers=running.as_("clinician"))
    assert screen.json()["verdict"] == "contraindicated"


def test_with_the_ehrs_own_patient_ids_the_query_names_the_record(
        running: Running) -> None:
    bob = running.cast.ids.bob
    response = running.client.post(f"/fhir?patient={bob}", json=ehr_bundle("ehr-77"),
                                   headers=running.as_("clinician"))
    assert response.status_code == 200, response.text
    assert counts(running.cast, bob)[0] == 2


def test_a_bad_entry_is_a_422_naming_it_and_stores_nothing(running: Running) -> None:
    alice = running.cast.ids.alice
    before = counts(running.cast, alice)
    bad = {"resourceType": "MedicationStatement", "status": "active"}
    response = running.client.post("/fhir", json=ehr_bundle(alice, bad),
                                   headers=running.as_("clinician"))
    body = assert_outcome(response, 422, "invalid")
    assert body["issue"][0]["expression"] == ["Bundle.entry[5].resource.medication[x]"]
    assert counts(running.cast, alice) == before


def test_a_body_that_is_not_json_is_a_400(running: Running) -> None:
    response = running.client.post("/fhir", content=b"{not json",
                                   headers={**running.as_("clinician"),
                                            "Content-Type": FHIR_JSON})
    assert_outcome(response, 400, "structure")


def test_importing_into_a_record_i_may_not_edit_is_refused(running: Running) -> None:
    response = running.client.post("/fhir", json=ehr_bundle(running.cast.ids.alice),
                                   headers=running.as_("team_admin"))
    assert_outcome(response, 403, "forbidden")
    assert counts(running.cast, running.cast.ids.alice)[0] == 0

"""FHIR R4 HTTP points, over a real server on SQLite and PostgreSQL: the $everything searchset
links to itself, and an imported batch is answered with a batch-response."""

from __future__ import annotations

from interop.conftest import Running, assert_valid_fhir, seed_record
from interop.test_fhir_import import ehr_bundle


def test_everything_is_a_searchset_with_a_self_link(running: Running) -> None:
    # FHIR R4 bundle.html (searchset) and search.html: the searchset names the search it
    # answers with Bundle.link relation self.
    alice = seed_record(running.cast)
    path = f"/fhir/Patient/{alice}/$everything"
    response = running.client.get(path, headers=running.as_("clinician"))
    assert response.status_code == 200, response.text
    bundle = response.json()
    assert bundle["type"] == "searchset"
    [link] = bundle["link"]
    assert link["relation"] == "self" and link["url"].endswith(path)
    assert_valid_fhir(bundle)


def test_a_batch_is_answered_with_a_batch_response(running: Running) -> None:
    # FHIR R4 http.html#transaction-response: a batch gets a batch-response Bundle, a
    # transaction a transaction-response.
    alice = running.cast.ids.alice
    batch = {**ehr_bundle(alice), "type": "batch"}
    response = running.client.post("/fhir", json=batch, headers=running.as_("clinician"))
    assert response.status_code == 200, response.text
    assert response.json()["type"] == "batch-response"
    assert_valid_fhir(response.json())
    again = running.client.post("/fhir", json=ehr_bundle(alice),
                                headers=running.as_("clinician"))
    assert again.json()["type"] == "transaction-response"

"""A Bundle that is not valid FHIR R4 is refused whole: codes outside the required bindings
(status, intent, Condition statuses) and dateTimes FHIR does not allow are a 4xx naming the
element, and nothing is stored (design §6 "nothing stored half-written", §5 FHIR anchors).
On SQLite and PostgreSQL, in the service and over real HTTP."""

from __future__ import annotations

from typing import Any

import pytest

from interop.conftest import Running
from interop.test_fhir_http import assert_outcome
from interop.test_fhir_import import assert_refused_whole, counts, ehr_bundle
from lowdose.services import fhir
from persistence.conftest import Cast

NAPROXEN = {"text": "naproxen 250 mg tablet"}
CLINICAL = "http://terminology.hl7.org/CodeSystem/condition-clinical"
VERIFICATION = "http://terminology.hl7.org/CodeSystem/condition-ver-status"


def _statement(**fields: Any) -> dict[str, Any]:
    return {"resourceType": "MedicationStatement", "status": "active",
            "medicationCodeableConcept": NAPROXEN, **fields}


def _request(**fields: Any) -> dict[str, Any]:
    return {"resourceType": "MedicationRequest", "status": "active", "intent": "order",
            "medicationCodeableConcept": NAPROXEN, **fields}


INVALID = [
    # interop-notes §1.2: R4 MedicationStatement.status is a required binding; STU3's
    # `taken` is gone.
    pytest.param(_statement(status="taken"), "Bundle.entry[5].resource.status",
                 id="statement-status-stu3-taken"),
    pytest.param(_request(status="ordered"), "Bundle.entry[5].resource.status",
                 id="request-status-unknown-code"),
    # interop-notes §1.1: MedicationRequest status and intent are both required.
    pytest.param({k: v for k, v in _request().items() if k != "intent"},
                 "Bundle.entry[5].resource.intent", id="request-without-intent"),
    pytest.param(_request(intent="prescription"), "Bundle.entry[5].resource.intent",
                 id="request-intent-unknown-code"),
    # FHIR R4 dateTime: a time needs seconds and a zone; dates are YYYY-MM-DD.
    pytest.param(_statement(effectivePeriod={"start": "2025-06-01T10:00"}),
                 "Bundle.entry[5].resource.effectivePeriod.start", id="time-without-zone"),
    pytest.param(_statement(effectiveDateTime="01/06/2025"),
                 "Bundle.entry[5].resource.effectiveDateTime", id="not-iso-date"),
    pytest.param(_request(authoredOn="2025-13-01"), "Bundle.entry[5].resource.authoredOn",
                 id="month-13"),
    # interop-notes §1.5: Condition clinicalStatus / verificationStatus code systems.
    pytest.param({"resourceType": "Condition", "code": {"text": "asthma"},
                  "clinicalStatus": {"coding": [{"system": CLINICAL, "code": "current"}]}},
                 "Bundle.entry[5].resource.clinicalStatus", id="condition-clinical-status"),
    pytest.param({"resourceType": "Condition", "code": {"text": "asthma"},
                  "clinicalStatus": {"coding": [{"system": CLINICAL, "code": "resolved"}]},
                  "verificationStatus": {"coding": [{"system": VERIFICATION,
                                                     "code": "maybe"}]}},
                 "Bundle.entry[5].resource.verificationStatus",
                 id="condition-verification-status"),
]


@pytest.mark.parametrize(("broken", "field"), INVALID)
def test_an_invalid_entry_refuses_the_bundle_and_stores_nothing(
        cast: Cast, broken: dict[str, Any], field: str) -> None:
    assert_refused_whole(cast, broken, field)


@pytest.mark.parametrize("valid", [
    _statement(status="not-taken"), _request(status="draft"),
    _statement(effectiveDateTime="2025-06-01T22:00:00+02:00"),
    _statement(effectivePeriod={"start": "2025-06", "end": "2025-06-01T10:00:00.250Z"}),
    _request(intent="plan", authoredOn="2025"),
])
def test_valid_codes_and_dates_are_still_read(cast: Cast, valid: dict[str, Any]) -> None:
    report = fhir.import_bundle(cast.db, cast.ctx("clinician"), ehr_bundle(cast.ids.alice,
                                                                           valid))
    assert report.items[-1].outcome in ("added", "skipped")


def test_over_http_an_invalid_bundle_is_a_422_operation_outcome_storing_nothing(
        running: Running) -> None:
    alice = running.cast.ids.alice
    before = counts(running.cast, alice)
    response = running.client.post("/fhir", json=ehr_bundle(alice, _statement(status="taken")),
                                   headers=running.as_("clinician"))
    body = assert_outcome(response, 422, "invalid")
    assert body["issue"][0]["expression"] == ["Bundle.entry[5].resource.status"]
    assert "taken" in body["issue"][0]["diagnostics"]
    assert counts(running.cast, alice) == before

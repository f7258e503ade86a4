"""FHIR R4 export points from interop-notes §1, on SQLite and PostgreSQL: what an EHR reads
in the LDN MedicationRequest, with code systems exactly as the notes give them."""

from __future__ import annotations

from typing import Any

from interop.conftest import assert_valid_fhir
from lowdose.services import fhir
from persistence.conftest import Cast

SNOMED = "http://snomed.info/sct"
ICD10CM = "http://hl7.org/fhir/sid/icd-10-cm"


def _ldn_request(bundle: dict[str, Any]) -> dict[str, Any]:
    [request] = [e["resource"] for e in bundle["entry"]
                 if e["resource"]["resourceType"] == "MedicationRequest"]
    return request


def test_the_ldn_request_gives_its_indication_as_the_conditions_code(
        record: tuple[Cast, int]) -> None:
    # interop-notes §1.1: MedicationRequest.reasonCode is the Condition's SNOMED code;
    # §1.5: fibromyalgia is SNOMED 203082005, ICD-10-CM M79.7; always with the text.
    cast, alice = record
    bundle = fhir.export_patient(cast.db, cast.ctx("clinician"), alice)
    request = _ldn_request(bundle)
    [reason] = request["reasonCode"]
    assert reason["text"] == "fibromyalgia"
    assert {(c["system"], c["code"]) for c in reason["coding"]} == {
        (SNOMED, "203082005"), (ICD10CM, "M79.7")}
    assert_valid_fhir(request)

"""FHIR R4 export points from interop-notes §1, on SQLite and PostgreSQL: what an EHR reads
in the LDN MedicationRequest, with code systems exactly as the notes give them."""

from __future__ import annotations

from datetime import date, time
from typing import Any

from interop.conftest import assert_valid_fhir
from lowdose.services import checkins, fhir
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


def test_a_dose_taken_without_its_amount_has_no_dosage_without_a_dose(
        record: tuple[Cast, int]) -> None:
    # FHIR R4 MedicationAdministration invariant mad-1: a dosage has a dose or a rate. A
    # diary day that says "taken at 21:40" but not how much keeps the time in a note.
    cast, alice = record
    checkins.record_checkin(cast.db, cast.ctx("patient"), alice, checkins.CheckinInput(
        date=date(2025, 6, 1), dose_taken=True, dose_time=time(21, 40)))
    bundle = fhir.export_patient(cast.db, cast.ctx("clinician"), alice)
    given = [e["resource"] for e in bundle["entry"]
             if e["resource"]["resourceType"] == "MedicationAdministration"]
    assert all("dose" in d["dosage"] or "rateQuantity" in d["dosage"]
               or "rateRatio" in d["dosage"] for d in given if "dosage" in d)
    [day] = [d for d in given if d["effectiveDateTime"] == "2025-06-01"]
    assert day["status"] == "completed"
    assert day["note"] == [{"text": "taken at 21:40 local time"}]
    assert_valid_fhir(day)

"""What lowdose's FHIR R4 export and import share: code system URIs, references, dates and
OperationOutcome, the resource FHIR uses for errors and item-by-item reports."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

FHIR_JSON = "application/fhir+json"

# Standard code systems (FHIR R4 terminology pages).
LOINC = "http://loinc.org"
SNOMED = "http://snomed.info/sct"
ICD10CM = "http://hl7.org/fhir/sid/icd-10-cm"
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
UCUM = "http://unitsofmeasure.org"
OBSERVATION_CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
CONDITION_CLINICAL = "http://terminology.hl7.org/CodeSystem/condition-clinical"
CONDITION_CATEGORY = "http://terminology.hl7.org/CodeSystem/condition-category"
ACT_REASON = "http://terminology.hl7.org/CodeSystem/v3-ActReason"

# lowdose's own systems, for what has no standard code (fatigue, sleep, PGIC ratings: no LOINC
# exists, interop-notes §1.3). URNs: a self-hosted server has no domain of its own to use.
LOCAL_MEASURES = "urn:lowdose:fhir:CodeSystem:measure"
PATIENT_IDS = "urn:lowdose:fhir:sid:patient"
LDN_COURSE_IDS = "urn:lowdose:fhir:sid:ldn-course"
QUESTIONNAIRES = "urn:lowdose:fhir:Questionnaire:"
LAST_TAKEN = "urn:lowdose:fhir:StructureDefinition:last-taken"

# Symbolic systems of the knowledge files → URIs.
SYSTEMS = {"loinc": LOINC, "lowdose": LOCAL_MEASURES, "snomed": SNOMED, "icd10": ICD10CM}

NALTREXONE_RXNORM = "7243"  # RxNorm ingredient (IN), interop-notes §1.1
# naltrexone hydrochloride 50 MG Oral Tablet (SCD), the product split or dissolved for LDN
# (interop-notes §1.1); an order may carry this code alone.
NALTREXONE_TABLET_RXNORM = "1483744"
NALTREXONE_ALONE_RXNORM = frozenset({NALTREXONE_RXNORM, NALTREXONE_TABLET_RXNORM})
ORAL_ROUTE = {"system": SNOMED, "code": "26643006", "display": "Oral route"}

# Reference UUIDs are derived from the record, so exporting twice gives the same bundle.
_NAMESPACE = uuid.UUID("0f0e6a52-6c1d-4f57-9a7e-5a3c8d1b2e40")


def full_url(patient_id: int, kind: str, ident: str) -> str:
    return f"urn:uuid:{uuid.uuid5(_NAMESPACE, f'{patient_id}/{kind}/{ident}')}"


def instant(moment: datetime) -> str:
    """A naive UTC datetime as a FHIR dateTime (which needs a zone once it has a time)."""
    return moment.replace(microsecond=0).isoformat() + "Z"


def day(value: date) -> str:
    return value.isoformat()


def outcome(issues: list[dict[str, Any]]) -> dict[str, Any]:
    return {"resourceType": "OperationOutcome", "issue": issues}


def issue(severity: str, code: str, diagnostics: str,
          expression: str | None = None) -> dict[str, Any]:
    """One OperationOutcome issue (severity: fatal | error | warning | information)."""
    found: dict[str, Any] = {"severity": severity, "code": code, "diagnostics": diagnostics}
    if expression:
        found["expression"] = [expression]
    return found

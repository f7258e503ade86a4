"""The FHIR R4 export of a stored record: every resource validates against the official R4 JSON
schema and fhir.resources' R4B models, and says what the record says (titration steps in
sequence, doses, ratings with LOINC or local codes, scores derived from their responses)."""

from __future__ import annotations

import itertools
from collections import Counter
from typing import Any

import pytest
from sqlalchemy import select

from interop.conftest import PHQ9, assert_valid_fhir
from lowdose.interop.fhir import LOCAL_MEASURES, LOINC, RXNORM, SNOMED
from lowdose.services import fhir
from lowdose.services.errors import NotFound
from lowdose.store.models import AuditEvent
from persistence.conftest import Cast


def resources(bundle: dict[str, Any], kind: str | None = None) -> list[dict[str, Any]]:
    return [e["resource"] for e in bundle["entry"]
            if kind is None or e["resource"]["resourceType"] == kind]


@pytest.mark.parametrize("kind", ["searchset", "collection"])
def test_every_exported_resource_and_the_bundle_validate(record: tuple[Cast, int],
                                                         kind: str) -> None:
    cast, alice = record
    bundle = fhir.export_patient(cast.db, cast.ctx("clinician"), alice, kind=kind)
    assert bundle["type"] == kind
    assert_valid_fhir(bundle)
    for resource in resources(bundle):
        assert_valid_fhir(resource)
    kinds = Counter(r["resourceType"] for r in resources(bundle))
    assert kinds == {"Patient": 1, "Observation": 1 + 4 * 3 + 4 + 1, "Condition": 2,
                     "MedicationStatement": 3, "MedicationRequest": 1,
                     "MedicationAdministration": 4, "QuestionnaireResponse": 1}


def test_references_resolve_inside_the_bundle(record: tuple[Cast, int]) -> None:
    cast, alice = record
    bundle = fhir.export_patient(cast.db, cast.ctx("patient"), alice)
    urls = {e["fullUrl"] for e in bundle["entry"]}
    found = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            ref = node.get("reference")
            if isinstance(ref, str) and not ref.startswith("#"):
                found.append(ref)
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(bundle["entry"])
    assert found and set(found) <= urls


def test_the_titration_is_sequenced_dosage_instructions_of_compounded_ldn(
        record: tuple[Cast, int]) -> None:
    cast, alice = record
    [request] = resources(fhir.export_patient(cast.db, cast.ctx("clinician"), alice),
                          "MedicationRequest")
    steps = request["dosageInstruction"]
    assert [s["sequence"] for s in steps] == list(range(1, 10))
    assert steps[0]["doseAndRate"][0]["doseQuantity"] == {
        "value": 0.5, "unit": "mg", "system": "http://unitsofmeasure.org", "code": "mg"}
    assert steps[0]["timing"]["repeat"]["boundsPeriod"] == {"start": "2025-05-01",
                                                            "end": "2025-05-07"}
    assert "end" not in steps[-1]["timing"]["repeat"]["boundsPeriod"]  # the target dose
    assert steps[-1]["doseAndRate"][0]["doseQuantity"]["value"] == 4.5
    # Each step starts the day after the one before ends: no gap, no overlap.
    for before, after in itertools.pairwise(steps):
        assert before["timing"]["repeat"]["boundsPeriod"]["end"] < \
            after["timing"]["repeat"]["boundsPeriod"]["start"]
    [medication] = request["contained"]
    assert request["medicationReference"]["reference"] == "#" + medication["id"]
    ingredient = medication["ingredient"][0]
    assert ingredient["itemCodeableConcept"]["coding"][0] == {
        "system": RXNORM, "code": "7243", "display": "naltrexone"}
    assert ingredient["strength"]["numerator"]["value"] == 5.0  # the 5 mg/mL liquid
    assert [r["text"] for r in request["reasonCode"]] == ["fibromyalgia"]


def test_doses_ratings_and_scores_say_what_the_diary_says(record: tuple[Cast, int]) -> None:
    cast, alice = record
    bundle = fhir.export_patient(cast.db, cast.ctx("clinician"), alice)
    doses = {d["effectiveDateTime"]: d for d in resources(bundle, "MedicationAdministration")}
    assert [doses[d]["status"] for d in sorted(doses)] == [
        "completed", "completed", "not-done", "completed"]
    assert doses["2025-05-28"]["dosage"]["dose"]["value"] == 0.5
    assert doses["2025-05-28"]["dosage"]["text"] == "0.5 mg at 22:05 local time"
    [request] = resources(bundle, "MedicationRequest")
    request_url = next(e["fullUrl"] for e in bundle["entry"] if e["resource"] is request)
    assert {d["request"]["reference"] for d in doses.values()} == {request_url}

    observations = resources(bundle, "Observation")
    pain = [o for o in observations if o["code"]["coding"][0]["code"] == "72514-3"]
    assert [o["valueInteger"] for o in sorted(pain, key=lambda o: o["effectiveDateTime"])] == [
        6, 5, 4, 3]
    assert pain[0]["code"]["coding"][0]["system"] == LOINC
    # No LOINC exists for 0–10 fatigue and sleep ratings: a local code, never an invented one.
    fatigue = [o for o in observations if o["code"]["coding"][0]["code"] == "fatigue-nrs"]
    assert len(fatigue) == 4 and fatigue[0]["code"]["coding"][0]["system"] == LOCAL_MEASURES
    [score] = [o for o in observations if o["code"]["coding"][0]["code"] == "44261-6"]
    assert score["valueInteger"] == sum(PHQ9.values())
    # Each diary side effect: its name, its 0–3 severity, and the day's dose as its focus.
    effects = [o for o in observations if o["code"]["coding"][0]["code"] == "side-effect"]
    assert [(o["code"]["text"], o["valueInteger"], o["effectiveDateTime"]) for o in sorted(
        effects, key=lambda o: o["effectiveDateTime"])] == [
        ("vivid dreams", 1, f"2025-05-{d}") for d in (28, 29, 30, 31)]
    dose_urls = {e["resource"]["effectiveDateTime"]: e["fullUrl"] for e in bundle["entry"]
                 if e["resource"]["resourceType"] == "MedicationAdministration"}
    assert all(o["focus"] == [{"reference": dose_urls[o["effectiveDateTime"]]}]
               for o in effects)
    [response] = resources(bundle, "QuestionnaireResponse")
    response_url = next(e["fullUrl"] for e in bundle["entry"] if e["resource"] is response)
    assert score["derivedFrom"] == [{"reference": response_url}]
    first = response["item"][0]
    assert first["answer"][0]["valueCoding"]["code"] == "LA6569-3"  # "Several days" = 1


def test_conditions_carry_verified_snomed_codes_and_always_the_text(
        record: tuple[Cast, int]) -> None:
    cast, alice = record
    conditions = resources(fhir.export_patient(cast.db, cast.ctx("clinician"), alice),
                           "Condition")
    by_text = {c["code"]["text"]: c["code"] for c in conditions}
    assert {"system": SNOMED, "code": "203082005"} in by_text["fibromyalgia"]["coding"]
    assert "coding" not in by_text["migraine"]  # no verified code: the text alone


def test_patient_is_labelled_synthetic_and_has_the_profile(record: tuple[Cast, int]) -> None:
    cast, alice = record
    [patient] = resources(fhir.export_patient(cast.db, cast.ctx("clinician"), alice), "Patient")
    assert (patient["gender"], patient["birthDate"]) == ("female", "1973-04-02")
    assert patient["meta"]["security"][0]["code"] == "HTEST"


@pytest.mark.parametrize("persona", ["outsider", "other_clinician", "admin", "operator"])
def test_export_is_refused_and_audited_for_who_may_not_read_the_record(
        record: tuple[Cast, int], persona: str) -> None:
    cast, alice = record
    with pytest.raises(Exception) as refused:
        fhir.export_patient(cast.db, cast.ctx(persona), alice)
    assert refused.type.__name__ in ("Forbidden", "NotFound")
    with cast.db.transaction() as session:
        last = session.scalars(select(AuditEvent).order_by(AuditEvent.id.desc())).first()
    assert last is not None and (last.action, last.outcome) == ("fhir.export", "denied")


def test_export_is_audited(record: tuple[Cast, int]) -> None:
    cast, alice = record
    fhir.export_patient(cast.db, cast.ctx("patient"), alice)
    with cast.db.transaction() as session:
        last = session.scalars(select(AuditEvent).order_by(AuditEvent.id.desc())).first()
    assert last is not None
    assert (last.action, last.outcome, last.patient_id) == ("fhir.export", "allowed", alice)


def test_an_unknown_patient_is_not_found(record: tuple[Cast, int]) -> None:
    cast, _ = record
    with pytest.raises(NotFound):
        fhir.export_patient(cast.db, cast.ctx("clinician"), 999_999)

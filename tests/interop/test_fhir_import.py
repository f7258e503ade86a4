"""Importing a FHIR Bundle: an EHR's medicines and conditions land on the record item by item,
all or nothing, under the policy; the stored-record screen then sees them; and exporting a
record and importing it elsewhere keeps its medicines and conditions."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import pytest
from sqlalchemy import func, select

from interop.conftest import seed_record
from lowdose.errors import InputError
from lowdose.interop.fhir import RXNORM, SNOMED
from lowdose.services import fhir, medicines, patients, screening
from lowdose.services.errors import Forbidden, NotFound
from lowdose.store.models import Medicine, MedicineVersion, PatientCondition
from persistence.conftest import Cast

NOW = datetime(2025, 6, 2, 9, 0)


def ehr_bundle(patient: int | str, *extra: dict[str, Any]) -> dict[str, Any]:
    """A transaction an EHR might post: subjects refer to this server's Patient/{id}."""
    subject = {"reference": f"Patient/{patient}"}
    resources: list[dict[str, Any]] = [
        {"resourceType": "MedicationStatement", "status": "active", "subject": subject,
         "medicationCodeableConcept": {
             "coding": [{"system": RXNORM, "code": "1049621",
                         "display": "oxycodone hydrochloride 5 MG Oral Tablet"}]},
         "effectivePeriod": {"start": "2025-05-20"}},
        {"resourceType": "MedicationRequest", "status": "active", "intent": "order",
         "subject": subject, "contained": [{"resourceType": "Medication", "id": "m1",
                                            "code": {"text": "metformin 500 mg tablet"}}],
         "medicationReference": {"reference": "#m1"}, "authoredOn": "2025-01-03"},
        {"resourceType": "Condition", "subject": subject,
         "clinicalStatus": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/"
                                                  "condition-clinical", "code": "active"}]},
         "code": {"coding": [{"system": SNOMED, "code": "24700007"}]}},
        {"resourceType": "Condition", "subject": subject,
         "clinicalStatus": {"coding": [{"code": "resolved"}]}, "code": {"text": "otitis"}},
        {"resourceType": "Observation", "status": "final", "code": {"text": "heart rate"}},
        *extra,
    ]
    return {"resourceType": "Bundle", "type": "transaction",
            "entry": [{"resource": r, "request": {"method": "POST",
                                                  "url": r["resourceType"]}}
                      for r in resources]}


def counts(cast: Cast, patient: int) -> tuple[int, int, int]:
    with cast.db.transaction() as session:
        return (session.scalar(select(func.count()).select_from(Medicine)
                               .where(Medicine.patient_id == patient)) or 0,
                session.scalar(select(func.count()).select_from(MedicineVersion)) or 0,
                session.scalar(select(func.count()).select_from(PatientCondition)
                               .where(PatientCondition.patient_id == patient)) or 0)


def test_an_ehr_bundle_is_reported_item_by_item_and_the_screen_sees_it(cast: Cast) -> None:
    alice = cast.ids.alice
    report = fhir.import_bundle(cast.db, cast.ctx("clinician"), ehr_bundle(alice))
    assert report.patient_id == alice
    assert [(i.resource_type, i.outcome) for i in report.items] == [
        ("MedicationStatement", "added"), ("MedicationRequest", "added"),
        ("Condition", "added"), ("Condition", "skipped"), ("Observation", "skipped")]
    assert "resolved" in report.items[3].message
    listed = medicines.list_medicines(cast.db, cast.ctx("clinician"), alice)
    assert {(m.text, m.rxnorm, m.started_on) for m in listed} == {
        ("oxycodone hydrochloride 5 MG Oral Tablet", "1049621", date(2025, 5, 20)),
        ("metformin 500 mg tablet", None, date(2025, 1, 3))}
    profile = patients.get_profile(cast.db, cast.ctx("clinician"), alice)
    assert profile.conditions == ("Multiple sclerosis",)  # named from the SNOMED code

    result = screening.screen_patient(cast.db, cast.ctx("clinician"), alice, as_of=NOW).result
    assert result.verdict == "contraindicated"
    assert any(f.code == "active-opioid" and "oxycodone" in (f.matched or "")
               for f in result.findings)


def test_importing_the_same_bundle_again_adds_nothing(cast: Cast) -> None:
    ctx, alice = cast.ctx("patient"), cast.ids.alice
    fhir.import_bundle(cast.db, ctx, ehr_bundle(alice))
    before = counts(cast, alice)
    again = fhir.import_bundle(cast.db, ctx, ehr_bundle(alice))
    assert again.added == 0
    assert {i.outcome for i in again.items} == {"unchanged", "skipped"}
    assert counts(cast, alice) == before


def test_a_stopped_medicine_without_an_end_day_counts_as_stopped_today(cast: Cast) -> None:
    stopped = {"resourceType": "MedicationStatement", "status": "stopped",
               "medicationCodeableConcept": {"text": "tramadol 50 mg"},
               "subject": {"reference": f"Patient/{cast.ids.alice}"}}
    report = fhir.import_bundle(cast.db, cast.ctx("clinician"), ehr_bundle(cast.ids.alice,
                                                                           stopped))
    assert "stopped today" in report.items[-1].message
    [tramadol] = [m for m in medicines.list_medicines(cast.db, cast.ctx("clinician"),
                                                      cast.ids.alice) if "tramadol" in m.text]
    assert tramadol.stopped_on == cast.ctx("clinician").now.date()


@pytest.mark.parametrize(("broken", "field"), [
    ({"resourceType": "MedicationStatement", "status": "active"},
     "Bundle.entry[5].resource.medication[x]"),
    ({"resourceType": "MedicationStatement", "status": "active",
      "medicationCodeableConcept": {"text": "naproxen"},
      "effectivePeriod": {"start": "2025-05-02", "end": "2025-05-01"}},
     "Bundle.entry[5].resource.effectivePeriod"),
    ({"resourceType": "MedicationStatement",
      "medicationCodeableConcept": {"text": "naproxen"}}, "Bundle.entry[5].resource.status"),
    ({"resourceType": "Condition", "code": {"coding": [{"system": SNOMED, "code": "1"}]}},
     "Bundle.entry[5].resource.code"),
    ({"resourceType": "MedicationStatement", "status": "active",
      "medicationCodeableConcept": {"text": "x" * 501}}, "Bundle.entry[5].resource (text)"),
])
def test_one_bad_entry_stores_nothing_and_names_the_element(cast: Cast, broken: dict[str, Any],
                                                            field: str) -> None:
    assert_refused_whole(cast, broken, field)


def assert_refused_whole(cast: Cast, broken: dict[str, Any], field: str) -> None:
    """Importing Alice's EHR bundle with `broken` added fails naming `field`; nothing stored."""
    alice = cast.ids.alice
    before = counts(cast, alice)
    with pytest.raises(InputError) as error:
        fhir.import_bundle(cast.db, cast.ctx("clinician"), ehr_bundle(alice, broken))
    assert error.value.field == field
    assert counts(cast, alice) == before


@pytest.mark.parametrize(("bundle", "field"), [
    ({"resourceType": "Patient"}, "resourceType"),
    ({"resourceType": "Bundle", "type": "history"}, "Bundle.type"),
    ({"resourceType": "Bundle", "type": "collection", "entry": [{"fullUrl": "x"}]},
     "Bundle.entry[0].resource"),
    ({"resourceType": "Bundle", "type": "collection", "entry": []}, "patient"),
])
def test_a_document_that_is_not_an_importable_bundle_is_refused(cast: Cast, bundle: Any,
                                                                field: str) -> None:
    with pytest.raises(InputError) as error:
        fhir.import_bundle(cast.db, cast.ctx("clinician"), bundle)
    assert error.value.field == field


def test_entries_naming_two_patients_are_refused(cast: Cast) -> None:
    other = {"resourceType": "Condition", "code": {"text": "asthma"},
             "subject": {"reference": f"Patient/{cast.ids.bob}"}}
    with pytest.raises(InputError, match="different patients"):
        fhir.import_bundle(cast.db, cast.ctx("clinician"), ehr_bundle(cast.ids.alice, other))


@pytest.mark.parametrize(("persona", "refusal"), [
    ("outsider", NotFound), ("admin", Forbidden), ("team_admin", Forbidden),
    ("other_clinician", NotFound), ("second_patient", NotFound), ("operator", NotFound)])
def test_who_may_not_edit_the_record_imports_nothing(cast: Cast, persona: str,
                                                     refusal: type[Exception]) -> None:
    before = counts(cast, cast.ids.alice)
    with pytest.raises(refusal):
        fhir.import_bundle(cast.db, cast.ctx(persona), ehr_bundle(cast.ids.alice))
    assert counts(cast, cast.ids.alice) == before


def test_export_then_import_elsewhere_keeps_medicines_and_conditions(cast: Cast) -> None:
    alice, bob, ctx = seed_record(cast), cast.ids.bob, cast.ctx("clinician")
    bundle = fhir.export_patient(cast.db, ctx, alice, kind="collection")
    report = fhir.import_bundle(cast.db, ctx, bundle, bob)
    assert report.added == 3 + 2

    def kept(patient: int) -> set[tuple[Any, ...]]:
        return {(m.text, m.rxnorm, m.started_on, m.stopped_on, m.last_taken)
                for m in medicines.list_medicines(cast.db, ctx, patient)}

    assert kept(bob) == kept(alice)
    assert patients.get_profile(cast.db, ctx, bob).conditions == \
        patients.get_profile(cast.db, ctx, alice).conditions
    # And back again: nothing new.
    assert fhir.import_bundle(cast.db, ctx, bundle, alice).added == 0

"""A patient's record as a FHIR R4 Bundle (design §3.4, interop-notes §1), built from plain
dicts: no model library at run time (the tests validate with two independent ones).

- Patient; Condition per active problem (SNOMED and ICD-10-CM where the knowledge files hold a
  verified code, always the text); MedicationStatement per entry of the medicine list.
- MedicationRequest per LDN course: the newest plan's steps as `dosageInstruction`s in
  `sequence` order, each bounded by its dates; compounded LDN has no RxNorm product, so the
  medicine is a contained Medication with the naltrexone ingredient (RxNorm 7243).
- MedicationAdministration per diary dose (taken: completed; skipped: not-done).
- Observation per daily rating and per questionnaire score (LOINC where one exists, a local
  code otherwise), and a QuestionnaireResponse per questionnaire.
- Observation per diary side effect (its name as text, severity 0–3, `focus` on that day's
  dose): interop-notes §1.4, since R4's AdverseEvent is trial use and few EHRs accept it.

Local wall-clock times have no time zone, and a FHIR dateTime with a time needs one, so diary
days are exported as dates and the clock time goes into the dosage text.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from lowdose.core.diary import SideEffect
from lowdose.core.instruments import score
from lowdose.errors import InputError
from lowdose.interop.fhir import (
    ACT_REASON,
    CONDITION_CATEGORY,
    CONDITION_CLINICAL,
    LAST_TAKEN,
    LDN_COURSE_IDS,
    LOCAL_MEASURES,
    LOINC,
    NALTREXONE_RXNORM,
    OBSERVATION_CATEGORY,
    ORAL_ROUTE,
    PATIENT_IDS,
    QUESTIONNAIRES,
    RXNORM,
    SYSTEMS,
    UCUM,
    day,
    full_url,
    instant,
)
from lowdose.knowledge.instruments import Instrument
from lowdose.services.checkins import CheckinView
from lowdose.services.courses import CourseView, PlanVersionView
from lowdose.services.medicines import MedicineView
from lowdose.services.patients import PatientSummary, Profile
from lowdose.services.questionnaires import ResponseView

BUNDLE_TYPES = ("searchset", "collection")
BODY_WEIGHT = {"system": LOINC, "code": "29463-7", "display": "Body weight"}
NALTREXONE = {"system": RXNORM, "code": NALTREXONE_RXNORM, "display": "naltrexone"}
# A diary side effect is named in the patient's words, so the name is the code's text; the
# local coding says what the value is.
SIDE_EFFECT = {"system": LOCAL_MEASURES, "code": "side-effect",
               "display": "Side effect severity, 0 none to 3 severe (patient diary)"}


@dataclass(frozen=True)
class ConditionEntry:
    text: str
    recorded_at: datetime  # naive UTC
    codes: tuple[tuple[str, str], ...] = ()  # (symbolic system, code), verified codes only


@dataclass(frozen=True)
class CourseEntry:
    course: CourseView
    plan: PlanVersionView | None  # the newest version
    # Verified codes of the indication (symbolic system, code), as for conditions.
    reason_codes: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class RecordExport:
    """Everything the export shows of one patient, as the services read it."""

    patient: PatientSummary
    profile: Profile
    conditions: tuple[ConditionEntry, ...]
    medicines: tuple[MedicineView, ...]
    courses: tuple[CourseEntry, ...]
    checkins: tuple[CheckinView, ...]
    responses: tuple[ResponseView, ...]


def record_bundle(record: RecordExport, instruments: Mapping[str, Instrument], *,
                  at: datetime, kind: str = "searchset") -> dict[str, Any]:
    """The Bundle of `record` (`kind`: searchset for $everything, collection for a file)."""
    if kind not in BUNDLE_TYPES:
        raise InputError("type", f"must be one of {', '.join(BUNDLE_TYPES)}")
    build = _Builder(record, instruments)
    build.patient()
    for condition in record.conditions:
        build.condition(condition)
    for medicine in record.medicines:
        build.statement(medicine)
    for course in record.courses:
        build.ldn_request(course)
    for checkin in record.checkins:
        build.diary_day(checkin)
    for response in record.responses:
        build.questionnaire(response)
    entries = build.entries
    if kind == "searchset":
        for entry in entries:
            entry["search"] = {"mode": "match" if entry is entries[0] else "include"}
    bundle: dict[str, Any] = {
        "resourceType": "Bundle", "id": full_url(record.patient.id, "Bundle", instant(at))[9:],
        "meta": {"lastUpdated": instant(at)}, "type": kind, "timestamp": instant(at)}
    if kind == "searchset":
        bundle["total"] = 1  # one Patient matched; the rest are included
    bundle["entry"] = entries
    return bundle


class _Builder:
    def __init__(self, record: RecordExport, instruments: Mapping[str, Instrument]) -> None:
        self.record = record
        self.instruments = instruments
        self.pid = record.patient.id
        self.entries: list[dict[str, Any]] = []
        self.subject = {"reference": full_url(self.pid, "Patient", str(self.pid))}

    def add(self, resource: dict[str, Any]) -> str:
        url = full_url(self.pid, resource["resourceType"], resource["id"])
        self.entries.append({"fullUrl": url, "resource": resource})
        return url

    # ------------------------------------------------------------------ who, problems, list

    def patient(self) -> None:
        summary, profile = self.record.patient, self.record.profile
        resource: dict[str, Any] = {
            "resourceType": "Patient", "id": str(self.pid),
            "identifier": [{"system": PATIENT_IDS, "value": str(self.pid)}],
            "name": [{"text": summary.display_name}],
        }
        if summary.synthetic:
            # HL7's "test health data" label: a synthetic record must never pass for a person.
            resource["meta"] = {"security": [{"system": ACT_REASON, "code": "HTEST",
                                              "display": "test health data"}]}
        if profile.sex:
            resource["gender"] = profile.sex
        if profile.birth_date:
            resource["birthDate"] = day(profile.birth_date)
        self.add(resource)
        if profile.weight_kg is not None:
            self.add({
                "resourceType": "Observation", "id": "weight", "status": "final",
                "category": [_category("vital-signs", "Vital Signs")],
                "code": {"coding": [BODY_WEIGHT], "text": "Body weight"},
                "subject": self.subject,
                "valueQuantity": {"value": profile.weight_kg, "unit": "kg", "system": UCUM,
                                  "code": "kg"}})

    def condition(self, entry: ConditionEntry) -> None:
        index = sum(1 for e in self.entries if e["resource"]["resourceType"] == "Condition")
        code: dict[str, Any] = {"text": entry.text}
        codings = [{"system": SYSTEMS[system], "code": value} for system, value in entry.codes]
        if codings:
            code = {"coding": codings, "text": entry.text}
        self.add({
            "resourceType": "Condition", "id": f"condition-{index + 1}",
            "clinicalStatus": {"coding": [{"system": CONDITION_CLINICAL, "code": "active"}]},
            "category": [{"coding": [{"system": CONDITION_CATEGORY,
                                      "code": "problem-list-item",
                                      "display": "Problem List Item"}]}],
            "code": code, "subject": self.subject, "recordedDate": instant(entry.recorded_at)})

    def statement(self, medicine: MedicineView) -> None:
        concept: dict[str, Any] = {"text": medicine.text}
        if medicine.rxnorm:
            concept["coding"] = [{"system": RXNORM, "code": medicine.rxnorm}]
        resource: dict[str, Any] = {
            "resourceType": "MedicationStatement", "id": f"medicine-{medicine.id}",
            "status": "stopped" if medicine.stopped_on else "active",
            "medicationCodeableConcept": concept, "subject": self.subject,
            "dateAsserted": instant(medicine.recorded_at), "informationSource": self.subject}
        period = {k: day(v) for k, v in (("start", medicine.started_on),
                                         ("end", medicine.stopped_on)) if v is not None}
        if period:
            resource["effectivePeriod"] = period
        if medicine.last_taken is not None:
            taken = medicine.last_taken
            # A local clock time has no zone: FHIR's dateTime cannot hold it, so an extension
            # keeps the day (and the time as text) for a lowdose round trip.
            value = ({"valueString": taken.isoformat(timespec="minutes")}
                     if isinstance(taken, datetime) else {"valueDate": day(taken)})
            resource["extension"] = [{"url": LAST_TAKEN, **value}]
        self.add(resource)

    # ------------------------------------------------------------------------------ LDN

    def ldn_request(self, entry: CourseEntry) -> None:
        course, version = entry.course, entry.plan
        plan = version.plan if version else {"steps": []}
        form = str(plan.get("form") or "capsules")
        medication: dict[str, Any] = {
            "resourceType": "Medication", "id": "ldn",
            "code": {"text": f"Naltrexone (compounded, low dose) {_form_text(form)}"},
            "form": {"text": _form_text(form)},
            "ingredient": [{"itemCodeableConcept": {"coding": [NALTREXONE],
                                                    "text": "naltrexone hydrochloride"},
                            "isActive": True}]}
        if plan.get("mg_per_ml"):
            medication["ingredient"][0]["strength"] = {
                "numerator": _mg(float(plan["mg_per_ml"])),
                "denominator": {"value": 1, "unit": "mL", "system": UCUM, "code": "mL"}}
        ended = course.ended_on is not None
        resource: dict[str, Any] = {
            "resourceType": "MedicationRequest", "id": f"ldn-course-{course.id}",
            "identifier": [{"system": LDN_COURSE_IDS, "value": str(course.id)}],
            "contained": [medication],
            "status": "completed" if ended else "active", "intent": "order",
            "medicationReference": {"reference": "#ldn", "display": "low-dose naltrexone"},
            "subject": self.subject,
            "dosageInstruction": [_step(step) for step in plan.get("steps", [])],
        }
        if version is not None:
            resource["authoredOn"] = instant(version.created_at)
        if course.indication:
            # interop-notes §1.1: reasonCode is the condition's code (SNOMED, ICD-10-CM), with
            # the words as written.
            reason: dict[str, Any] = {"text": course.indication}
            if entry.reason_codes:
                reason = {"coding": [{"system": SYSTEMS[system], "code": value}
                                     for system, value in entry.reason_codes],
                          "text": course.indication}
            resource["reasonCode"] = [reason]
        if not resource["dosageInstruction"]:
            del resource["dosageInstruction"]
        self.add(resource)

    def diary_day(self, checkin: CheckinView) -> None:
        dose = self.administration(checkin) if checkin.dose_taken is not None else None
        for name, value in sorted(checkin.ratings.items()):
            self.rating(checkin.date, name, value)
        for number, effect in enumerate(checkin.side_effects, start=1):
            self.side_effect(checkin.date, number, effect, dose)

    def side_effect(self, when: date, number: int, effect: SideEffect,
                    dose: str | None) -> None:
        resource: dict[str, Any] = {
            "resourceType": "Observation", "id": f"side-effect-{when}-{number}",
            "status": "final", "category": [_category("survey", "Survey")],
            "code": {"coding": [SIDE_EFFECT], "text": effect.name},
            "subject": self.subject, "effectiveDateTime": day(when),
            "valueInteger": effect.severity}
        if dose is not None:
            resource["focus"] = [{"reference": dose}]
        self.add(resource)

    def administration(self, checkin: CheckinView) -> str:
        resource: dict[str, Any] = {
            "resourceType": "MedicationAdministration", "id": f"dose-{checkin.date}",
            "status": "completed" if checkin.dose_taken else "not-done",
            "medicationCodeableConcept": {"coding": [NALTREXONE],
                                          "text": "naltrexone (low dose)"},
            "subject": self.subject, "effectiveDateTime": day(checkin.date),
            "performer": [{"actor": self.subject}]}
        if not checkin.dose_taken:
            resource["statusReason"] = [{"text": "not taken (patient diary)"}]
        request = self._course_on(checkin.date)
        if request is not None:
            resource["request"] = {"reference": request}
        at = (f" at {checkin.dose_time.strftime('%H:%M')} local time"
              if checkin.dose_time else "")
        if checkin.dose_taken and checkin.dose_mg is not None:
            resource["dosage"] = {"text": f"{checkin.dose_mg:g} mg{at}",
                                  "route": {"coding": [ORAL_ROUTE]},
                                  "dose": _mg(checkin.dose_mg)}
        elif checkin.dose_taken and at:
            # R4 invariant mad-1: a dosage needs a dose (or rate); with the amount unknown the
            # clock time goes into a note instead.
            resource["note"] = [{"text": f"taken{at}"}]
        return self.add(resource)

    def _course_on(self, when: date) -> str | None:
        for entry in self.record.courses:
            if entry.course.active_on(when):
                return full_url(self.pid, "MedicationRequest", f"ldn-course-{entry.course.id}")
        return None

    # ------------------------------------------------------------------ scores, answers

    def rating(self, when: date, name: str, value: int) -> None:
        self.add({
            "resourceType": "Observation", "id": f"rating-{when}-{name}", "status": "final",
            "category": [_category("survey", "Survey")], "code": self._code(name),
            "subject": self.subject, "effectiveDateTime": day(when), "valueInteger": value})

    def questionnaire(self, response: ResponseView) -> None:
        instrument = self.instruments.get(response.instrument)
        items = []
        for link_id, answer in response.answers.items():
            items.append({"linkId": str(link_id), **_item_text(instrument, str(link_id)),
                          "answer": [_answer(instrument, str(link_id), answer)]})
        url = self.add({
            "resourceType": "QuestionnaireResponse", "id": f"questionnaire-{response.id}",
            "questionnaire": QUESTIONNAIRES + response.instrument, "status": "completed",
            "subject": self.subject, "authored": day(response.answered_at.date()),
            "item": items})
        if instrument is None:
            return
        try:
            total = score(instrument, response.answers, response.answered_at.date()).total
        except InputError:
            return  # an incomplete response has no score; its answers are still exported
        self.add({
            "resourceType": "Observation", "id": f"questionnaire-{response.id}-score",
            "status": "final", "category": [_category("survey", "Survey")],
            "code": self._code(response.instrument), "subject": self.subject,
            "effectiveDateTime": day(response.answered_at.date()), "valueInteger": total,
            "derivedFrom": [{"reference": url}]})

    def _code(self, measure: str) -> dict[str, Any]:
        instrument = self.instruments.get(measure)
        if instrument is None:
            # A clinic's own rating name: a local code, never a guessed LOINC.
            return {"coding": [{"system": LOCAL_MEASURES, "code": measure}], "text": measure}
        coding = instrument.code
        return {"coding": [{"system": SYSTEMS[coding.system], "code": coding.code,
                            "display": coding.display}], "text": instrument.name}


def _category(code: str, display: str) -> dict[str, Any]:
    return {"coding": [{"system": OBSERVATION_CATEGORY, "code": code, "display": display}]}


def _mg(value: float) -> dict[str, Any]:
    return {"value": value, "unit": "mg", "system": UCUM, "code": "mg"}


def _form_text(form: str) -> str:
    return "oral liquid" if form == "liquid" else "capsules"


def _step(step: Mapping[str, Any]) -> dict[str, Any]:
    dose = float(step["dose_mg"])
    clock = str(step["time"])
    bounds = {"start": step["from"]}
    if step.get("to"):
        bounds["end"] = step["to"]
    until = f"until {step['to']}" if step.get("to") else "onwards"
    volume = f" ({step['dose_ml']:g} mL)" if step.get("dose_ml") else ""
    return {
        "sequence": int(step["step"]),
        "text": f"Step {step['step']}: {dose:g} mg{volume} by mouth once a day at {clock}, "
                f"from {step['from']} {until}",
        "timing": {"repeat": {"boundsPeriod": bounds, "frequency": 1, "period": 1,
                              "periodUnit": "d", "timeOfDay": [f"{clock}:00"]}},
        "route": {"coding": [ORAL_ROUTE]},
        "doseAndRate": [{"doseQuantity": _mg(dose)}],
    }


def _item_text(instrument: Instrument | None, link_id: str) -> dict[str, str]:
    if instrument is None:
        return {}
    item = next((i for i in instrument.items if i.id == link_id), None)
    return {"text": item.text} if item else {}


def _answer(instrument: Instrument | None, link_id: str, value: Any) -> dict[str, Any]:
    item = None if instrument is None else next(
        (i for i in instrument.items if i.id == link_id), None)
    options = item.options if item is not None else ()
    option = next((o for o in options if o.value == value), None)
    if option is not None and option.code:
        return {"valueCoding": {"system": LOINC, "code": option.code, "display": option.label}}
    if isinstance(value, bool):
        return {"valueBoolean": value}
    if isinstance(value, int):
        return {"valueInteger": value}
    if isinstance(value, float):
        return {"valueDecimal": value}
    return {"valueString": str(value)}

"""Reading a FHIR R4 Bundle from an EHR (or from lowdose's own export) into what the record
keeps: medicines (MedicationStatement, MedicationRequest) and conditions (Condition).

Every entry gets a verdict: imported as a medicine or condition, or skipped with the reason
(other resource types, entries in error, inactive conditions, drafts). Malformed input is an
`InputError` naming the element as a FHIRPath-like location, so nothing is half-read.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from lowdose.errors import InputError
from lowdose.interop.fhir import LAST_TAKEN, LDN_COURSE_IDS, RXNORM, SNOMED

MAX_ENTRIES = 2000
IMPORTED = ("MedicationStatement", "MedicationRequest", "Condition")
BUNDLE_TYPES = ("transaction", "batch", "collection", "searchset", "document", "message")
# What each status means for the list: taken now, taken until a stop, or not to import.
_STATEMENT_CURRENT = {"active", "intended", "on-hold", "unknown"}
_STATEMENT_STOPPED = {"stopped", "completed"}
_REQUEST_CURRENT = {"active", "on-hold", "unknown"}
_REQUEST_STOPPED = {"stopped", "completed"}
_CONDITION_ACTIVE = {"active", "recurrence", "relapse"}
# FHIR R4 required bindings: a code outside them makes the resource invalid, so the Bundle is
# refused rather than the entry skipped (interop-notes §1.2: R4 has no `taken`).
STATUSES = {
    "MedicationStatement": ("active", "completed", "entered-in-error", "intended", "stopped",
                            "on-hold", "unknown", "not-taken"),
    "MedicationRequest": ("active", "on-hold", "cancelled", "completed", "entered-in-error",
                          "stopped", "draft", "unknown"),
}
INTENTS = ("proposal", "plan", "order", "original-order", "reflex-order", "filler-order",
           "instance-order", "option")
CONDITION_CODES = {
    "clinicalStatus": ("active", "recurrence", "relapse", "inactive", "remission", "resolved"),
    "verificationStatus": ("unconfirmed", "provisional", "differential", "confirmed",
                           "refuted", "entered-in-error"),
}
# FHIR R4 dateTime (datatypes.html#dateTime): a year, year-month or date, or a date with a
# time to the second and a time zone (a time without a zone is not a dateTime).
_DATE_TIME = re.compile(
    r"([0-9]([0-9]([0-9][1-9]|[1-9]0)|[1-9]00)|[1-9]000)(-(0[1-9]|1[0-2])(-(0[1-9]|[1-2][0-9]"
    r"|3[0-1])(T([01][0-9]|2[0-3]):[0-5][0-9]:([0-5][0-9]|60)(\.[0-9]+)?(Z|(\+|-)((0[0-9]|"
    r"1[0-3]):[0-5][0-9]|14:00)))?)?)?")
_LOCAL_PATIENT = re.compile(r"^Patient/(\d{1,18})$")


@dataclass(frozen=True)
class MedicineItem:
    index: int
    resource_type: str
    text: str
    rxnorm: str | None
    started_on: date | None
    stopped_on: date | None
    last_taken: date | datetime | None
    note: str | None = None


@dataclass(frozen=True)
class ConditionItem:
    index: int
    text: str


@dataclass(frozen=True)
class Skipped:
    index: int
    resource_type: str
    reason: str


Item = MedicineItem | ConditionItem | Skipped


@dataclass(frozen=True)
class ParsedBundle:
    items: tuple[Item, ...]
    # The lowdose patient the entries name as `Patient/N` (REST semantics of a Bundle posted to
    # this server), when they all name the same one.
    subject_patient: int | None


def parse_bundle(data: Any, *, today: date,
                 condition_names: Mapping[str, str] | None = None) -> ParsedBundle:
    """Read `data` (parsed JSON). `condition_names` maps SNOMED codes to names, for
    Conditions that come with a code but no text."""
    if not isinstance(data, Mapping) or data.get("resourceType") != "Bundle":
        raise InputError("resourceType", "must be Bundle")
    kind = data.get("type")
    if kind not in BUNDLE_TYPES:
        raise InputError("Bundle.type", f"must be one of {', '.join(BUNDLE_TYPES)}")
    entries = data.get("entry", [])
    if not isinstance(entries, list):
        raise InputError("Bundle.entry", "must be a list")
    if len(entries) > MAX_ENTRIES:
        raise InputError("Bundle.entry", f"at most {MAX_ENTRIES} entries")
    reader = _Reader(entries, today, condition_names or {})
    items = tuple(reader.item(i) for i in range(len(entries)))
    return ParsedBundle(items, reader.target())


class _Reader:
    def __init__(self, entries: list[Any], today: date, names: Mapping[str, str]) -> None:
        self.entries = entries
        self.today = today
        self.names = names
        self.subjects: set[int] = set()
        self.by_url: dict[str, Mapping[str, Any]] = {}
        for i, entry in enumerate(entries):
            resource = self.resource(i)
            url = entry.get("fullUrl")
            if isinstance(url, str):
                self.by_url[url] = resource
            if isinstance(resource.get("id"), str):
                self.by_url[f"{resource.get('resourceType')}/{resource['id']}"] = resource

    def resource(self, i: int) -> Mapping[str, Any]:
        entry = self.entries[i]
        if not isinstance(entry, Mapping) or not isinstance(entry.get("resource"), Mapping):
            raise InputError(f"Bundle.entry[{i}].resource", "is required (an object)")
        resource: Mapping[str, Any] = entry["resource"]
        if not isinstance(resource.get("resourceType"), str):
            raise InputError(f"Bundle.entry[{i}].resource.resourceType", "is required")
        return resource

    def target(self) -> int | None:
        if len(self.subjects) > 1:
            raise InputError("Bundle.entry.resource.subject",
                             "the entries name different patients; import one at a time")
        return next(iter(self.subjects), None)

    def item(self, i: int) -> Item:
        resource = self.resource(i)
        kind = resource["resourceType"]
        if kind not in IMPORTED:
            return Skipped(i, kind, f"lowdose imports only {', '.join(IMPORTED)}")
        where = f"Bundle.entry[{i}].resource"
        self.subject(resource, where)
        if kind == "Condition":
            return self.condition(i, resource, where)
        return self.medicine(i, kind, resource, where)

    def subject(self, resource: Mapping[str, Any], where: str) -> None:
        subject = resource.get("subject")
        if subject is None:
            return
        reference = subject.get("reference") if isinstance(subject, Mapping) else None
        if not isinstance(reference, str):
            raise InputError(f"{where}.subject", "must be a Reference with `reference`")
        local = _LOCAL_PATIENT.match(reference)
        if local:
            self.subjects.add(int(local.group(1)))

    # ------------------------------------------------------------------------ medicines

    def medicine(self, i: int, kind: str, resource: Mapping[str, Any], where: str) -> Item:
        status = _coded(resource, "status", where, STATUSES[kind])
        if kind == "MedicationRequest":
            _coded(resource, "intent", where, INTENTS)
        current = _STATEMENT_CURRENT if kind == "MedicationStatement" else _REQUEST_CURRENT
        stopped = _STATEMENT_STOPPED if kind == "MedicationStatement" else _REQUEST_STOPPED
        if status not in current | stopped:
            return Skipped(i, kind, f"status {status}: not a medicine being taken")
        if _is_ldn_course(resource):
            return Skipped(i, kind, "an LDN course exported by lowdose: courses are "
                                    "prescribed in lowdose, not imported")
        text, rxnorm = self.medication(resource, where)
        started, ended = _period(resource, where)
        note = None
        if status in stopped and ended is None:
            # Stopped at some unknown day: today is the latest it can have been, and the screen
            # then counts any washout from today, erring on the safe side.
            ended, note = self.today, "stopped on an unknown day: recorded as stopped today"
        if ended is not None and started is not None and ended < started:
            raise InputError(f"{where}.effectivePeriod", "end is before start")
        return MedicineItem(i, kind, text, rxnorm, started, ended, _last_taken(resource, where),
                            note)

    def medication(self, resource: Mapping[str, Any], where: str) -> tuple[str, str | None]:
        concept = resource.get("medicationCodeableConcept")
        if concept is None and "medicationReference" in resource:
            concept = self.referenced_medication(resource, where)
        if not isinstance(concept, Mapping):
            raise InputError(f"{where}.medication[x]", "is required: a CodeableConcept or a "
                                                       "reference to a Medication")
        rxnorm = next((str(c.get("code")) for c in _codings(concept, where)
                       if c.get("system") == RXNORM and c.get("code")), None)
        if rxnorm is not None and not rxnorm.isdigit():
            raise InputError(f"{where}.medicationCodeableConcept.coding",
                             f"RxNorm code {rxnorm!r} must be digits")
        text = concept.get("text") or next(
            (c.get("display") for c in _codings(concept, where) if c.get("display")), None)
        if not text:
            if rxnorm is None:
                raise InputError(f"{where}.medicationCodeableConcept",
                                 "needs a text, a display or an RxNorm code")
            text = f"RxNorm {rxnorm}"
        if not isinstance(text, str):
            raise InputError(f"{where}.medicationCodeableConcept.text", "must be a string")
        return text, rxnorm

    def referenced_medication(self, resource: Mapping[str, Any],
                              where: str) -> Mapping[str, Any] | None:
        ref = resource.get("medicationReference")
        reference = ref.get("reference") if isinstance(ref, Mapping) else None
        if not isinstance(reference, str):
            raise InputError(f"{where}.medicationReference", "must have a `reference`")
        if reference.startswith("#"):
            contained = resource.get("contained", [])
            found = next((c for c in contained if isinstance(c, Mapping)
                          and c.get("id") == reference[1:]), None) if isinstance(
                contained, list) else None
        else:
            found = self.by_url.get(reference)
        if found is None or found.get("resourceType") != "Medication":
            raise InputError(f"{where}.medicationReference",
                             f"{reference!r} is not a Medication in this Bundle")
        code = found.get("code")
        if isinstance(code, Mapping) and (code.get("text") or code.get("coding")):
            return code
        ingredients = found.get("ingredient", [])
        first = ingredients[0] if isinstance(ingredients, list) and ingredients else {}
        item = first.get("itemCodeableConcept") if isinstance(first, Mapping) else None
        return item if isinstance(item, Mapping) else None

    # ----------------------------------------------------------------------- conditions

    def condition(self, i: int, resource: Mapping[str, Any], where: str) -> Item:
        clinical = _status_code(resource, "clinicalStatus", where)
        verification = _status_code(resource, "verificationStatus", where)
        if clinical is not None and clinical not in _CONDITION_ACTIVE:
            return Skipped(i, "Condition", f"clinical status {clinical}: not active")
        if verification in ("refuted", "entered-in-error"):
            return Skipped(i, "Condition", f"verification status {verification}")
        code = resource.get("code")
        if not isinstance(code, Mapping):
            raise InputError(f"{where}.code", "is required")
        text = code.get("text")
        codings = _codings(code, f"{where}.code")
        if not text:
            named = [self.names.get(str(c.get("code"))) for c in codings
                     if c.get("system") == SNOMED]
            text = next((n for n in named if n), None) or next(
                (c.get("display") for c in codings if c.get("display")), None)
        if not isinstance(text, str) or not text.strip():
            raise InputError(f"{where}.code", "needs a text, a display or a known SNOMED code")
        return ConditionItem(i, text.strip())


def _is_ldn_course(resource: Mapping[str, Any]) -> bool:
    identifiers = resource.get("identifier", [])
    return isinstance(identifiers, list) and any(
        isinstance(i, Mapping) and i.get("system") == LDN_COURSE_IDS for i in identifiers)


def _text(resource: Mapping[str, Any], key: str, where: str, *, required: bool = False) -> Any:
    value = resource.get(key)
    if value is None and required:
        raise InputError(f"{where}.{key}", "is required")
    if value is not None and not isinstance(value, str):
        raise InputError(f"{where}.{key}", "must be a string")
    return value


def _coded(resource: Mapping[str, Any], key: str, where: str, allowed: tuple[str, ...]) -> str:
    """A required code element with a required binding."""
    value = _text(resource, key, where, required=True)
    if value not in allowed:
        raise InputError(f"{where}.{key}", f"{value!r} is not a FHIR R4 {key} code (one of "
                                           f"{', '.join(allowed)})")
    return str(value)


def _codings(concept: Mapping[str, Any], where: str) -> list[Mapping[str, Any]]:
    codings = concept.get("coding", [])
    if not isinstance(codings, list) or not all(isinstance(c, Mapping) for c in codings):
        raise InputError(f"{where}.coding", "must be a list of Codings")
    return codings


def _status_code(resource: Mapping[str, Any], key: str, where: str) -> str | None:
    concept = resource.get(key)
    if concept is None:
        return None
    if not isinstance(concept, Mapping):
        raise InputError(f"{where}.{key}", "must be a CodeableConcept")
    code = next((str(c["code"]) for c in _codings(concept, f"{where}.{key}") if "code" in c),
                None)
    allowed = CONDITION_CODES[key]
    if code is not None and code not in allowed:
        raise InputError(f"{where}.{key}", f"{code!r} is not a FHIR R4 Condition {key} code "
                                           f"(one of {', '.join(allowed)})")
    return code


def _date(value: Any, field: str) -> date | None:
    """The day of a FHIR date or dateTime; None for a partial date (year or month only)."""
    if not isinstance(value, str):
        raise InputError(field, "must be a FHIR date or dateTime string")
    if not _DATE_TIME.fullmatch(value):
        raise InputError(field, f"{value[:40]!r} is not a FHIR dateTime: YYYY, YYYY-MM, "
                                "YYYY-MM-DD, or a date with a time to the second and a zone "
                                "(2025-06-01T22:00:00+02:00)")
    if len(value) < 10:
        return None
    try:
        return date.fromisoformat(value[:10])
    except ValueError:
        raise InputError(field, f"{value!r} is not a valid date") from None


def _period(resource: Mapping[str, Any], where: str) -> tuple[date | None, date | None]:
    if "effectivePeriod" in resource:
        period = resource["effectivePeriod"]
        if not isinstance(period, Mapping):
            raise InputError(f"{where}.effectivePeriod", "must be a Period")
        start = period.get("start")
        end = period.get("end")
        return (None if start is None else _date(start, f"{where}.effectivePeriod.start"),
                None if end is None else _date(end, f"{where}.effectivePeriod.end"))
    if "effectiveDateTime" in resource:
        return _date(resource["effectiveDateTime"], f"{where}.effectiveDateTime"), None
    if "authoredOn" in resource:
        return _date(resource["authoredOn"], f"{where}.authoredOn"), None
    return None, None


def _last_taken(resource: Mapping[str, Any], where: str) -> date | datetime | None:
    extensions = resource.get("extension", [])
    if not isinstance(extensions, list):
        raise InputError(f"{where}.extension", "must be a list")
    for extension in extensions:
        if not isinstance(extension, Mapping) or extension.get("url") != LAST_TAKEN:
            continue
        field = f"{where}.extension"
        try:
            if "valueDate" in extension:
                return date.fromisoformat(str(extension["valueDate"]))
            return datetime.fromisoformat(str(extension.get("valueString")))
        except ValueError:
            raise InputError(field, "last-taken must be a date or a local date and time"
                             ) from None
    return None

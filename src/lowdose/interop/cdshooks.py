"""The LDN safety screen as a CDS Hooks 2.0 service (order-select and order-sign).

Pure translation, no I/O: a hook request (its draft orders and prefetched FHIR data) becomes a
screening profile (design §3.1), and the screen's findings become cards. The service answers
only when a draft order is naltrexone (by RxNorm code or by name, as the medicine recogniser
reads it); other orders alone get no cards, but orders drafted with the naltrexone order count
as medicines the patient is about to take (an opioid ordered alongside LDN is the danger).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from lowdose.core.medicines import recognize
from lowdose.core.screening import LdnUse, Medication, Profile, ScreeningResult
from lowdose.errors import InputError
from lowdose.interop.fhir import NALTREXONE_ALONE_RXNORM, RXNORM
from lowdose.knowledge.medicines import MedicineVocabulary
from lowdose.knowledge.sources import Sources

SERVICE_ID = "ldn-safety"
SIGN_SERVICE_ID = "ldn-safety-sign"
HOOKS = ("order-select", "order-sign")
# FHIR queries the EHR runs for us (prefetch templates, CDS Hooks 2.0 §"Prefetch Template").
PREFETCH = {
    "patient": "Patient/{{context.patientId}}",
    "medications": "MedicationRequest?patient={{context.patientId}}&status=active",
    # Every statement, stopped ones included: an opioid stopped two days ago still matters (the
    # screen counts the washout from its end date), interop-notes §2.3.
    "statements": "MedicationStatement?patient={{context.patientId}}",
    "conditions": "Condition?patient={{context.patientId}}&clinical-status=active",
}
_DESCRIPTION = ("Screens a draft low-dose naltrexone (LDN) order against the patient's active "
                "medicines (opioids above all), conditions and age, with cited sources. It "
                "supports the prescriber's decision; it does not make it.")
INDICATORS = {"contraindicated": "critical", "defer": "critical", "specialist": "warning",
              "caution": "warning", "info": "info"}
_HEADLINES = {"contraindicated": "LDN contraindicated", "defer": "Defer LDN",
              "specialist": "LDN needs prescriber review", "caution": "LDN caution",
              "info": "LDN note"}
FINDING_CODES = "urn:lowdose:cds:finding"
OVERRIDE_CODES = "urn:lowdose:cds:override"
OVERRIDE_REASONS = (
    ("opioid-free-confirmed", "Patient confirmed opioid-free for 7 days or more"),
    ("specialist-supervised", "Prescribing under specialist supervision"),
    ("information-outdated", "The listed medicine or condition is no longer current"),
)
REMINDER = "_lowdose supports decisions; it does not make them._"


def discovery() -> dict[str, Any]:
    """The discovery document: one service id, `ldn-safety`, under both hooks, so the cards of
    order-sign replace those of order-select (interop-notes §2.2). `ldn-safety-sign` still
    answers for clients registered with it, but is no longer advertised: an EHR reading
    discovery would otherwise call two services at signing and show every card twice."""
    return {"services": [
        {"hook": "order-select", "id": SERVICE_ID, "title": "LDN safety screen",
         "description": _DESCRIPTION, "prefetch": dict(PREFETCH)},
        {"hook": "order-sign", "id": SERVICE_ID, "title": "LDN safety screen at signing",
         "description": _DESCRIPTION, "prefetch": dict(PREFETCH)},
    ]}


@dataclass(frozen=True)
class HookRequest:
    hook: str
    hook_instance: str
    patient_id: str
    orders: tuple[Mapping[str, Any], ...]  # draft MedicationRequests in play
    others: tuple[Mapping[str, Any], ...]  # the other draft orders
    fhir_server: str | None
    access_token: str | None
    prefetch: Mapping[str, Any]
    # Medication resources of the draftOrders Bundle, by `Medication/id` and by fullUrl: an
    # order may name its medicine by reference instead of containing it.
    medications: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)


def read_request(body: Any) -> HookRequest:
    """The parts of a hook request the service uses; InputError names a missing or bad field."""
    if not isinstance(body, Mapping):
        raise InputError("body", "must be a JSON object")
    hook = body.get("hook")
    if hook not in HOOKS:
        raise InputError("hook", f"must be one of {', '.join(HOOKS)}")
    instance = body.get("hookInstance")
    if not isinstance(instance, str) or not instance:
        raise InputError("hookInstance", "is required")
    context = body.get("context")
    if not isinstance(context, Mapping):
        raise InputError("context", "is required")
    patient = context.get("patientId")
    if not isinstance(patient, str) or not patient:
        raise InputError("context.patientId", "is required")
    server, authorization = body.get("fhirServer"), body.get("fhirAuthorization")
    if server is not None and not (isinstance(server, str) and server.startswith("http")):
        raise InputError("fhirServer", "must be an http(s) URL")
    token = None
    if authorization is not None:
        if server is None:  # cds-r-1
            raise InputError("fhirAuthorization", "needs fhirServer")
        token = authorization.get("access_token") if isinstance(authorization, Mapping) else None
        if not isinstance(token, str):
            raise InputError("fhirAuthorization.access_token", "is required")
    prefetch = body.get("prefetch", {})
    if not isinstance(prefetch, Mapping):
        raise InputError("prefetch", "must be an object")
    drafts = context.get("draftOrders")
    orders = _draft_orders(drafts)
    chosen = _selected(hook, context, orders)
    return HookRequest(hook, instance, patient, chosen,
                       tuple(o for o in orders if o not in chosen), server, token, prefetch,
                       medications_in(drafts))


def _draft_orders(bundle: Any) -> list[Mapping[str, Any]]:
    if not isinstance(bundle, Mapping) or bundle.get("resourceType") != "Bundle":
        raise InputError("context.draftOrders", "must be a FHIR Bundle")
    entries = bundle.get("entry", [])
    if not isinstance(entries, list):
        raise InputError("context.draftOrders.entry", "must be a list")
    return [e["resource"] for e in entries
            if isinstance(e, Mapping) and isinstance(e.get("resource"), Mapping)
            and e["resource"].get("resourceType") != "Medication"]


def medications_in(*values: Any) -> dict[str, Mapping[str, Any]]:
    """The Medication resources of prefetch values or Bundles, by `Medication/id` and by
    fullUrl, for resolving `medicationReference`."""
    found: dict[str, Mapping[str, Any]] = {}
    for value in values:
        entries = value.get("entry") if isinstance(value, Mapping) else None
        for entry in entries if isinstance(entries, list) else []:
            resource = entry.get("resource") if isinstance(entry, Mapping) else None
            if not isinstance(resource, Mapping) or resource.get("resourceType") != "Medication":
                continue
            if isinstance(entry.get("fullUrl"), str):
                found[entry["fullUrl"]] = resource
            if isinstance(resource.get("id"), str):
                found[f"Medication/{resource['id']}"] = resource
    return found


def _selected(hook: str, context: Mapping[str, Any],
              orders: list[Mapping[str, Any]]) -> tuple[Mapping[str, Any], ...]:
    """order-select: the orders just selected; order-sign: every order being signed."""
    if hook == "order-sign":
        return tuple(orders)
    selections = context.get("selections")
    if not isinstance(selections, list) or not all(isinstance(s, str) for s in selections):
        raise InputError("context.selections", "must be a list of resource ids")
    return tuple(o for o in orders
                 if f"{o.get('resourceType')}/{o.get('id')}" in selections)


# ---------------------------------------------------------------------------- orders


def is_naltrexone(resource: Mapping[str, Any], vocabulary: MedicineVocabulary,
                  medications: Mapping[str, Mapping[str, Any]] | None = None) -> bool:
    """A MedicationRequest for naltrexone itself (not an opioid combined with naltrexone)."""
    if resource.get("resourceType") != "MedicationRequest":
        return False
    text, rxnorm = medication_of(resource, medications)
    if rxnorm in NALTREXONE_ALONE_RXNORM:
        # The ingredient or the 50 mg tablet: naltrexone alone, whatever the text says.
        return True
    if not text and not rxnorm:
        return False
    recognised = recognize(text, rxnorm, vocabulary)
    return "naltrexone" in recognised.ingredients and recognised.cls == "naltrexone"


def medication_of(resource: Mapping[str, Any],
                  medications: Mapping[str, Mapping[str, Any]] | None = None,
                  ) -> tuple[str | None, str | None]:
    """(text, RxNorm code) of a MedicationRequest or MedicationStatement; `medications`
    resolves a `medicationReference` to a Medication outside the resource."""
    concept = resource.get("medicationCodeableConcept")
    if concept is None:
        concept = _referenced_medication(resource, medications or {})
    if not isinstance(concept, Mapping):
        return None, None
    codings = _codings(concept)
    rxnorm = next((str(c["code"]) for c in codings if isinstance(c, Mapping)
                   and c.get("system") == RXNORM and str(c.get("code", "")).isdigit()), None)
    text = concept.get("text") or next(
        (c.get("display") for c in codings if isinstance(c, Mapping) and c.get("display")),
        None)
    return (text if isinstance(text, str) else None), rxnorm


def _codings(concept: Mapping[str, Any]) -> list[Any]:
    found = concept.get("coding")
    return found if isinstance(found, list) else []


def _referenced_medication(resource: Mapping[str, Any],
                           medications: Mapping[str, Mapping[str, Any]]
                           ) -> Mapping[str, Any] | None:
    ref = resource.get("medicationReference")
    reference = ref.get("reference") if isinstance(ref, Mapping) else None
    display = ref.get("display") if isinstance(ref, Mapping) else None
    contained = resource.get("contained")
    found: Any = None
    if isinstance(reference, str) and reference.startswith("#"):
        found = next((c for c in contained if isinstance(c, Mapping)
                      and c.get("id") == reference[1:]), None) if isinstance(
            contained, list) else None
    elif isinstance(reference, str):
        # "Medication/x", or an absolute URL ending so, or a Bundle entry's fullUrl.
        found = medications.get(reference) or medications.get(
            "/".join(reference.rstrip("/").split("/")[-2:]))
    if not isinstance(found, Mapping):
        # An unresolvable reference may still name the medicine in its display.
        return {"text": display} if isinstance(display, str) and display else None
    code = found.get("code")
    if isinstance(code, Mapping) and (code.get("text") or code.get("coding")):
        return code
    ingredients = found.get("ingredient")
    first = ingredients[0] if isinstance(ingredients, list) and ingredients else None
    item = first.get("itemCodeableConcept") if isinstance(first, Mapping) else None
    return item if isinstance(item, Mapping) else None


def _dose_mg(order: Mapping[str, Any]) -> float | None:
    for dosage in order.get("dosageInstruction") or []:
        for rate in (dosage.get("doseAndRate") or []) if isinstance(dosage, Mapping) else []:
            quantity = rate.get("doseQuantity") if isinstance(rate, Mapping) else None
            if (isinstance(quantity, Mapping) and "mg" in (quantity.get("unit"),
                                                           quantity.get("code"))
                    and isinstance(quantity.get("value"), int | float)):
                return float(quantity["value"])
    return None


# ------------------------------------------------------------------------- profile


def resources_of(value: Any, kind: str) -> Iterator[Mapping[str, Any]]:
    """The resources of `kind` in a prefetch value (a resource, a Bundle or null)."""
    if not isinstance(value, Mapping):
        return
    if value.get("resourceType") == kind:
        yield value
    elif value.get("resourceType") == "Bundle":
        for entry in value.get("entry") or []:
            resource = entry.get("resource") if isinstance(entry, Mapping) else None
            if isinstance(resource, Mapping) and resource.get("resourceType") == kind:
                yield resource


def profile_of(request: HookRequest, data: Mapping[str, Any], ldn_order: Mapping[str, Any],
               as_of: datetime) -> Profile:
    """The screening profile: the patient, their active medicines and conditions, the other
    draft orders, and the naltrexone order as the LDN about to be started."""
    patient = next(resources_of(data.get("patient"), "Patient"), {})
    known = {**medications_in(*data.values()), **request.medications}
    medications = []
    for kind, key in (("MedicationRequest", "medications"),
                      ("MedicationStatement", "statements")):
        for resource in resources_of(data.get(key), kind):
            if resource.get("id") == ldn_order.get("id") and kind == "MedicationRequest":
                continue
            medications.append(resource)
    listed = [_as_taken(m, known) for m in medications if m.get("status") not in _NOT_TAKEN]
    # Draft orders are drafts by definition: about to be taken, whatever their status says.
    drafts = [o for o in (*request.others, *request.orders)
              if o.get("resourceType") == "MedicationRequest" and o is not ldn_order]
    listed += [Medication(*medication_of(o, known)) for o in drafts]
    conditions = [_condition_text(c) for c in resources_of(data.get("conditions"), "Condition")
                  if _active_condition(c)]
    return Profile(
        as_of=as_of, age=_age(patient.get("birthDate"), as_of.date()),
        sex=patient.get("gender") if patient.get("gender") in (
            "female", "male", "other", "unknown") else None,
        conditions=tuple(c for c in conditions if c),
        medications=tuple(m for m in listed if m.text or m.rxnorm),
        ldn=LdnUse(dose_mg=_dose_mg(ldn_order)))


# Statuses of entries that were never taken or were recorded in error.
_NOT_TAKEN = {"entered-in-error", "cancelled", "not-taken", "draft", "revoked"}
_ENDED = {"stopped", "completed"}


def _as_taken(resource: Mapping[str, Any],
              medications: Mapping[str, Mapping[str, Any]]) -> Medication:
    """A medicine as the screen reads it; a stopped one keeps its stop day, so the screen can
    count the washout (an opioid stopped two days ago still matters)."""
    text, rxnorm = medication_of(resource, medications)
    if resource.get("status") not in _ENDED:
        return Medication(text=text, rxnorm=rxnorm)
    period = resource.get("effectivePeriod")
    end = period.get("end") if isinstance(period, Mapping) else None
    stopped = _day(end)
    if stopped is None:
        # Stopped on a day nobody recorded: say so in words the recogniser reads.
        return Medication(text=f"{text or ''} (stopped)".strip(), rxnorm=rxnorm)
    return Medication(text=text, rxnorm=rxnorm, stopped=stopped)


def _active_condition(condition: Mapping[str, Any]) -> bool:
    status = condition.get("clinicalStatus")
    codings = _codings(status) if isinstance(status, Mapping) else []
    codes = {c.get("code") for c in codings if isinstance(c, Mapping)}
    return not codes or bool(codes & {"active", "recurrence", "relapse"})


def _day(value: Any) -> date | None:
    if not isinstance(value, str) or len(value) < 10:
        return None
    try:
        return date.fromisoformat(value[:10])
    except ValueError:
        return None


def _condition_text(condition: Mapping[str, Any]) -> str | None:
    code = condition.get("code")
    if not isinstance(code, Mapping):
        return None
    codings = _codings(code)
    text = code.get("text") or next((c.get("display") for c in codings
                                     if isinstance(c, Mapping) and c.get("display")), None)
    return text if isinstance(text, str) else None


def _age(birth: Any, today: date) -> int | None:
    born = _day(birth)
    if born is None:
        return None
    return today.year - born.year - ((today.month, today.day) < (born.month, born.day))


# ---------------------------------------------------------------------------- cards


def cards(result: ScreeningResult, ldn_order: Mapping[str, Any],
          sources: Sources) -> list[dict[str, Any]]:
    """One card per finding, most severe first."""
    return [_card(finding, ldn_order, sources) for finding in result.findings]


def _card(finding: Any, ldn_order: Mapping[str, Any], sources: Sources) -> dict[str, Any]:
    level = finding.level
    about = finding.matched or finding.trigger
    summary = f"{_HEADLINES.get(level, 'LDN')}: {about}"
    if len(summary) > 139:
        summary = summary[:138] + "…"
    detail = finding.message
    if finding.earliest_start:
        detail += f"\n\nEarliest start: {finding.earliest_start.isoformat()}."
    cited = [s for s in (sources.get(i) for i in finding.sources) if s is not None]
    card: dict[str, Any] = {
        "uuid": str(uuid.uuid4()), "summary": summary, "detail": f"{detail}\n\n{REMINDER}",
        "indicator": INDICATORS.get(level, "info"),
        "source": {"label": "lowdose LDN safety screen",
                   "topic": {"system": FINDING_CODES, "code": finding.code,
                             "display": finding.code.replace("-", " ")}},
        "links": [{"label": _short(s.citation), "url": s.link, "type": "absolute"}
                  for s in cited],
    }
    if cited:
        card["source"]["url"] = cited[0].link
    if card["indicator"] == "critical":
        card["overrideReasons"] = [{"system": OVERRIDE_CODES, "code": code, "display": text}
                                   for code, text in OVERRIDE_REASONS]
        if ldn_order.get("id"):
            card["selectionBehavior"] = "at-most-one"
            card["suggestions"] = [{
                "label": "Remove the naltrexone order", "uuid": str(uuid.uuid4()),
                "isRecommended": True,
                "actions": [{"type": "delete",
                             "description": "Remove the draft low-dose naltrexone order",
                             "resourceId": f"MedicationRequest/{ldn_order['id']}"}]}]
    return card


def _short(citation: str) -> str:
    return citation if len(citation) <= 80 else citation[:79] + "…"

"""What the CDS Hooks tests share: EHR client keys and tokens, hook requests, a stand-in FHIR
server, and the CDS Hooks 2.0 response shapes as JSON Schema (from the spec's tables)."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jsonschema
import jwt
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from lowdose.interop.fhir import RXNORM

EHR = "https://ehr.example.org"
JWKS_EHR = "https://jwks-ehr.example.org"
RXNORM_NALTREXONE = "7243"


def _public_jwk(key: Any, kid: str, alg: str) -> dict[str, Any]:
    jwk = json.loads(jwt.algorithms.get_default_algorithms()[alg].to_jwk(key.public_key()))
    return {**jwk, "kid": kid, "alg": alg, "use": "sig"}


@dataclass
class Keys:
    """An EHR's signing keys: ES384 (`ehr-ec`) and RS384 (`ehr-rsa`), plus a stranger's."""

    ec_key: Any = field(default_factory=lambda: ec.generate_private_key(ec.SECP384R1()))
    rsa_key: Any = field(default_factory=lambda: rsa.generate_private_key(65537, 2048))
    stranger: Any = field(default_factory=lambda: ec.generate_private_key(ec.SECP384R1()))

    def jwks(self) -> dict[str, Any]:
        return {"keys": [_public_jwk(self.ec_key, "ehr-ec", "ES384"),
                         _public_jwk(self.rsa_key, "ehr-rsa", "RS384")]}

    def token(self, aud: str | list[str], *, iss: str = EHR, alg: str = "ES384",
              kid: str | None = "ehr-ec", key: Any = None, lifetime: float = 120,
              issued_ago: float = 0, jti: str | None = None,
              headers: dict[str, Any] | None = None, drop: tuple[str, ...] = ()) -> str:
        now = time.time() - issued_ago
        claims = {"iss": iss, "aud": aud, "iat": int(now), "exp": int(now + lifetime),
                  "jti": jti or str(uuid.uuid4()), "tenant": "clinic-1"}
        for name in drop:
            claims.pop(name)
        header = {"typ": "JWT", **({"kid": kid} if kid else {}), **(headers or {})}
        if key is None:
            key = self.rsa_key if alg.startswith(("RS", "PS")) else self.ec_key
        return jwt.encode(claims, key, algorithm=alg, headers=header)


def write_clients(data_dir: Path, keys: Keys, *, jwks_url: str | None = None,
                  base_url: str | None = None) -> None:
    clients: list[dict[str, Any]] = [{"issuer": EHR, "jwks": keys.jwks()}]
    if jwks_url:
        clients.append({"issuer": JWKS_EHR, "jwks_url": jwks_url})
    document: dict[str, Any] = {"clients": clients}
    if base_url:
        document["service_base_url"] = base_url
    data_dir.mkdir(parents=True, exist_ok=True)
    (data_dir / "cds-clients.json").write_text(json.dumps(document))


# ------------------------------------------------------------------------------ requests


def med(text: str | None = None, rxnorm: str | None = None, *, ident: str = "m1",
        kind: str = "MedicationRequest", status: str = "active") -> dict[str, Any]:
    concept: dict[str, Any] = {}
    if text:
        concept["text"] = text
    if rxnorm:
        concept["coding"] = [{"system": RXNORM, "code": rxnorm}]
    resource = {"resourceType": kind, "id": ident, "status": status,
                "subject": {"reference": "Patient/p1"}, "medicationCodeableConcept": concept}
    if kind == "MedicationRequest":
        resource["intent"] = "order"
    return resource


def ldn_order(ident: str = "ldn-1", *, text: str | None = "naltrexone 1.5 mg capsule",
              rxnorm: str | None = RXNORM_NALTREXONE, dose_mg: float = 1.5) -> dict[str, Any]:
    order = med(text, rxnorm, ident=ident, status="draft")
    order["dosageInstruction"] = [{"text": f"{dose_mg} mg at bedtime", "doseAndRate": [
        {"doseQuantity": {"value": dose_mg, "unit": "mg", "system": "http://unitsofmeasure.org",
                          "code": "mg"}}]}]
    return order


def bundle(*resources: dict[str, Any]) -> dict[str, Any]:
    return {"resourceType": "Bundle", "type": "searchset",
            "entry": [{"resource": r} for r in resources]}


def patient(birth: str = "1970-03-01", gender: str = "female") -> dict[str, Any]:
    return {"resourceType": "Patient", "id": "p1", "birthDate": birth, "gender": gender}


def condition(text: str) -> dict[str, Any]:
    return {"resourceType": "Condition", "id": text.replace(" ", "-"),
            "subject": {"reference": "Patient/p1"}, "code": {"text": text}}


def hook_request(*, orders: list[dict[str, Any]], hook: str = "order-sign",
                 meds: list[dict[str, Any]] | None = None,
                 conditions: list[dict[str, Any]] | None = None,
                 the_patient: dict[str, Any] | None = None,
                 selections: list[str] | None = None,
                 prefetch: bool = True) -> dict[str, Any]:
    context: dict[str, Any] = {"userId": "Practitioner/dr-1", "patientId": "p1",
                               "draftOrders": bundle(*orders)}
    if hook == "order-select":
        context["selections"] = selections if selections is not None else [
            f"MedicationRequest/{orders[0]['id']}"]
    body: dict[str, Any] = {"hook": hook, "hookInstance": str(uuid.uuid4()), "context": context}
    if prefetch:
        body["prefetch"] = {
            "patient": the_patient or patient(),
            "medications": bundle(*[m for m in meds or [] if m["resourceType"] ==
                                    "MedicationRequest"]),
            "statements": bundle(*[m for m in meds or [] if m["resourceType"] ==
                                   "MedicationStatement"]),
            "conditions": bundle(*(conditions or [])),
        }
    return body


# ------------------------------------------------------------------------- FHIR stand-in


@dataclass
class FhirStandIn:
    """A tiny FHIR server: the EHR's patient p1 with an active oxycodone order; it records
    the Authorization header of every request and also serves a JWKS."""

    url: str
    seen: list[dict[str, str | None]]


@contextmanager
def fhir_stand_in(keys: Keys, serve_app: Callable[[Any], Any]) -> Iterator[FhirStandIn]:
    app = FastAPI()
    seen: list[dict[str, str | None]] = []
    data = {
        "Patient/p1": patient(),
        "MedicationRequest": bundle(med("oxycodone 5 mg tablet every 6 hours", "1049621",
                                        ident="oxy")),
        "MedicationStatement": bundle(),
        "Condition": bundle(condition("fibromyalgia")),
    }

    @app.get("/fhir/{kind}")
    @app.get("/fhir/{kind}/{ident}")
    def read(request: Request, kind: str, ident: str | None = None) -> JSONResponse:
        seen.append({"path": request.url.path, "query": request.url.query,
                     "authorization": request.headers.get("authorization")})
        found = data.get(f"{kind}/{ident}" if ident else kind)
        if found is None or (not ident and request.query_params.get("patient") != "p1"):
            return JSONResponse({"resourceType": "OperationOutcome"}, status_code=404)
        return JSONResponse(found)

    @app.get("/jwks")
    def jwks() -> dict[str, Any]:
        return keys.jwks()

    with serve_app(app) as url:
        yield FhirStandIn(url, seen)


# --------------------------------------------------------------- CDS Hooks 2.0 shapes

_CODING = {"type": "object", "required": ["code", "system"], "additionalProperties": False,
           "properties": {"code": {"type": "string"}, "system": {"type": "string"},
                          "display": {"type": "string"}}}
_ACTION = {"type": "object", "required": ["type", "description"], "additionalProperties": False,
           "properties": {"type": {"enum": ["create", "update", "delete"]},
                          "description": {"type": "string"}, "resource": {"type": "object"},
                          "resourceId": {"type": "string"}}}
_SUGGESTION = {"type": "object", "required": ["label"], "additionalProperties": False,
               "properties": {"label": {"type": "string"}, "uuid": {"type": "string"},
                              "isRecommended": {"type": "boolean"},
                              "actions": {"type": "array", "items": _ACTION}}}
_LINK = {"type": "object", "required": ["label", "url", "type"], "additionalProperties": False,
         "properties": {"label": {"type": "string"}, "url": {"type": "string",
                                                             "pattern": "^https?://"},
                        "type": {"enum": ["absolute", "smart"]},
                        "appContext": {"type": "string"},
                        "autolaunchable": {"type": "boolean"}}}
CARD = {
    "type": "object", "required": ["summary", "indicator", "source"],
    "additionalProperties": False,
    "properties": {
        "uuid": {"type": "string", "format": "uuid"},
        "summary": {"type": "string", "minLength": 1, "maxLength": 139},
        "detail": {"type": "string"},
        "indicator": {"enum": ["info", "warning", "critical"]},
        "source": {"type": "object", "required": ["label"], "additionalProperties": False,
                   "properties": {"label": {"type": "string"}, "url": {"type": "string"},
                                  "icon": {"type": "string"}, "topic": _CODING}},
        "suggestions": {"type": "array", "items": _SUGGESTION},
        "selectionBehavior": {"enum": ["at-most-one", "any"]},
        "overrideReasons": {"type": "array", "items": {**_CODING,
                                                       "required": ["code", "system",
                                                                    "display"]}},
        "links": {"type": "array", "items": _LINK},
    },
    # The spec: selectionBehavior is required when suggestions are present.
    "dependentRequired": {"suggestions": ["selectionBehavior"]},
}
RESPONSE = {"type": "object", "required": ["cards"],
            "properties": {"cards": {"type": "array", "items": CARD},
                           "systemActions": {"type": "array", "items": _ACTION}}}
DISCOVERY = {"type": "object", "required": ["services"], "properties": {"services": {
    "type": "array", "items": {
        "type": "object", "required": ["hook", "description", "id"],
        "properties": {"hook": {"type": "string"}, "title": {"type": "string"},
                       "description": {"type": "string"}, "id": {"type": "string"},
                       "prefetch": {"type": "object",
                                    "additionalProperties": {"type": "string"}},
                       "usageRequirements": {"type": "string"}}}}}}


def assert_shape(document: Any, schema: dict[str, Any]) -> None:
    validator = jsonschema.Draft202012Validator(
        schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER)
    problems = [f"{'/'.join(map(str, e.absolute_path))}: {e.message}"
                for e in validator.iter_errors(document)]
    assert problems == [], "\n".join(problems)

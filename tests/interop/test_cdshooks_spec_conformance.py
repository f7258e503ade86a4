"""CDS Hooks 2.0 points the first suite did not pin down, each stated with its section of the
spec or of interop-notes, over real HTTP on SQLite and PostgreSQL (the fixtures of
test_cdshooks: a real server, real EHR keys, real tokens)."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from interop.cds_support import (
    DISCOVERY,
    Keys,
    assert_shape,
    bundle,
    hook_request,
    ldn_order,
    med,
    write_clients,
)
from interop.test_cdshooks import (  # noqa: F401  (fixtures used by name)
    SERVICE,
    Cds,
    cds,
    codes,
    db_url,
    keys,
    make_cds,
)
from lowdose.api.app import create_app
from lowdose.interop.fhir import RXNORM
from lowdose.settings import Settings
from persistence.conftest import backend, isolated_database, templates  # noqa: F401


def _discovery(cds: Cds) -> dict[str, Any]:  # noqa: F811
    response = cds.client.get("/cds-services", headers={
        "Authorization": f"Bearer {cds.keys.token(cds.url + '/cds-services')}"})
    assert response.status_code == 200, response.text
    found: dict[str, Any] = response.json()
    assert_shape(found, DISCOVERY)
    return found


# ------------------------------------------------------------------------- discovery


def test_discovery_lists_ldn_safety_under_order_select_and_order_sign(cds: Cds) -> None:  # noqa: F811
    # design §3.4: the service is POST /cds-services/ldn-safety for order-select and
    # order-sign; interop-notes §2.2: register the same service id for both hooks so the
    # order-sign cards replace the order-select ones.
    services = _discovery(cds)["services"]
    pairs = [(s["id"], s["hook"]) for s in services]
    assert sorted(pairs) == [("ldn-safety", "order-select"), ("ldn-safety", "order-sign")]
    for service in services:  # interop-notes §2.3: hook, id, description required; title
        assert service["title"] and service["description"]
        assert service["prefetch"]["patient"] == "Patient/{{context.patientId}}"


def test_the_statement_prefetch_brings_stopped_statements_too(cds: Cds) -> None:  # noqa: F811
    # interop-notes §2.3 (stmts: every MedicationStatement of the patient): an opioid stopped
    # two days ago defers LDN, so a status=active filter would hide exactly what matters.
    [service, *_] = _discovery(cds)["services"]
    statements = service["prefetch"]["statements"]
    assert statements == "MedicationStatement?patient={{context.patientId}}"


def test_order_sign_to_ldn_safety_answers_with_cards(cds: Cds) -> None:  # noqa: F811
    # design §3.4: order-sign goes to the same service id as order-select.
    body = hook_request(orders=[ldn_order()], hook="order-sign",
                        meds=[med("oxycodone 5 mg tablet", "1049621")])
    assert codes(cds.cards(body, SERVICE)) == [("active-opioid", "critical")]


# ------------------------------------------------------------------------------ JWT


@pytest.mark.parametrize(("alg", "kid"), [("RS256", "ehr-rsa"), ("PS384", "ehr-rsa"),
                                          ("RS512", "ehr-rsa")])
def test_only_es384_and_rs384_signatures_are_accepted(cds: Cds, alg: str, kid: str) -> None:  # noqa: F811
    # interop-notes §2.6 / CDS Hooks 2.0 "Trusting CDS Clients": clients sign with ES384 or
    # RS384; the service accepts those two algorithms and no other.
    response = cds.call(hook_request(orders=[ldn_order()]), alg=alg, kid=kid)
    assert response.status_code == 401
    assert f"algorithm {alg!r} refused" in response.json()["detail"]


# ----------------------------------------------------------------- reading the orders


def test_an_order_coded_only_as_the_50_mg_naltrexone_tablet_is_screened(cds: Cds) -> None:  # noqa: F811
    # interop-notes §1.1: RxCUI 1483744 (naltrexone hydrochloride 50 MG Oral Tablet) is the
    # code for LDN made from a split or dissolved tablet; an order with that code and no text
    # must still get the safety screen.
    order = ldn_order(text=None, rxnorm="1483744")
    cards = cds.cards(hook_request(orders=[order], meds=[med("oxycodone 5 mg", "1049621")]))
    assert ("active-opioid", "critical") in codes(cards)


def _referencing(ident: str, medication_id: str, *, status: str = "draft") -> dict[str, Any]:
    order = ldn_order(ident)
    del order["medicationCodeableConcept"]
    order["status"] = status
    order["medicationReference"] = {"reference": f"Medication/{medication_id}"}
    return order


def _medication(ident: str, *, rxnorm: str | None, text: str | None) -> dict[str, Any]:
    code: dict[str, Any] = {}
    if rxnorm:
        code["coding"] = [{"system": RXNORM, "code": rxnorm}]
    if text:
        code["text"] = text
    return {"resourceType": "Medication", "id": ident, "code": code}


@pytest.mark.parametrize("hook", ["order-select", "order-sign"])
def test_an_order_naming_a_medication_in_draft_orders_is_read(cds: Cds, hook: str) -> None:  # noqa: F811
    # CDS Hooks order-select/order-sign: draftOrders is a Bundle; an R4 MedicationRequest may
    # name its medicine with medicationReference to a Medication in that Bundle.
    body = hook_request(orders=[_referencing("ldn-1", "nal")], hook=hook,
                        meds=[med("morphine 10 mg tablet")])
    body["context"]["draftOrders"]["entry"].append(
        {"fullUrl": "Medication/nal",
         "resource": _medication("nal", rxnorm="7243", text=None)})
    assert ("active-opioid", "critical") in codes(cds.cards(body))


def test_a_prefetched_order_naming_a_medication_in_the_prefetch_is_read(cds: Cds) -> None:  # noqa: F811
    # CDS Hooks 2.0 prefetch: a searchset may carry the Medication an active order refers
    # to (e.g. with _include); the opioid behind the reference must reach the screen.
    body = hook_request(orders=[ldn_order()])
    oxy = _referencing("oxy-1", "oxy", status="active")
    body["prefetch"]["medications"] = bundle(
        oxy, _medication("oxy", rxnorm="1049621", text="oxycodone hydrochloride 5 MG Oral "
                                                         "Tablet"))
    assert codes(cds.cards(body)) == [("active-opioid", "critical")]


def test_a_stopped_opioid_statement_from_the_prefetch_defers_ldn(cds: Cds) -> None:  # noqa: F811
    # interop-notes §1.2: MedicationStatement status stopped with effectivePeriod.end; the
    # washout counts from that day.
    stopped = med("hydromorphone 2 mg tablet", kind="MedicationStatement", status="stopped")
    stopped["effectivePeriod"] = {"start": "2025-01-01",
                                  "end": (date.today() - timedelta(days=1)).isoformat()}
    cards = cds.cards(hook_request(orders=[ldn_order()], meds=[stopped]))
    assert codes(cards) == [("recent-opioid", "critical")]


# ----------------------------------------------------------------------------- CORS


@pytest.mark.parametrize("path", ["/cds-services", SERVICE])
def test_a_browser_preflight_is_answered_without_a_token(cds: Cds, path: str) -> None:  # noqa: F811
    # interop-notes §2.6: CORS is needed for browser-based CDS clients; a preflight carries
    # no Authorization header, so it cannot need one.
    response = cds.client.options(path, headers={
        "Origin": "https://ehr-app.example.org", "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization, content-type"})
    assert response.status_code in (200, 204)
    assert response.headers["access-control-allow-origin"] in (
        "*", "https://ehr-app.example.org")
    assert "POST" in response.headers["access-control-allow-methods"]
    assert "authorization" in response.headers["access-control-allow-headers"].lower()


def test_answers_and_refusals_carry_the_cors_header(cds: Cds) -> None:  # noqa: F811
    # interop-notes §2.6: without the header a browser hides the answer (cards or 401) from
    # the page that asked.
    origin = {"Origin": "https://ehr-app.example.org"}
    token = cds.keys.token(cds.url + SERVICE)
    answered = cds.client.post(SERVICE, json=hook_request(orders=[ldn_order()]),
                               headers={**origin, "Authorization": f"Bearer {token}"})
    refused = cds.client.post(SERVICE, json=hook_request(orders=[ldn_order()]), headers=origin)
    assert (answered.status_code, refused.status_code) == (200, 401)
    for response in (answered, refused):
        assert response.headers["access-control-allow-origin"] == "*"


@pytest.mark.parametrize("typ", ["at+jwt", "JWS", "dpop+jwt"])
def test_a_token_whose_typ_is_not_jwt_is_refused(cds: Cds, typ: str) -> None:  # noqa: F811
    # CDS Hooks 2.0 "Trusting CDS Clients" / interop-notes §2.6: the JWT header's typ is JWT.
    token = cds.keys.token(cds.url + SERVICE, headers={"typ": typ})
    response = cds.call(hook_request(orders=[ldn_order()]), token=token)
    assert response.status_code == 401
    assert "typ" in response.json()["detail"]


def test_in_production_a_plain_http_fhir_server_is_refused(
        db_url: str, tmp_path: Path, keys: Keys,  # noqa: F811
        serve_app: Callable[[Any], Any]) -> None:
    # interop-notes §2.4: fhirServer is https in production; over plain http the EHR's
    # access token (fhirAuthorization) would travel in the clear.
    data_dir = tmp_path / "data"
    write_clients(data_dir, keys)
    settings = Settings(mode="production", data_dir=data_dir, database_url=db_url,
                        secret_key=secrets.token_urlsafe(48), hold_hours=None,
                        allowed_hosts=["127.0.0.1", "localhost"])
    with serve_app(create_app(settings)) as base, httpx.Client(base_url=base) as client:
        body = hook_request(orders=[ldn_order()], prefetch=False)
        body["fhirServer"] = "http://ehr.example.org/fhir"
        body["fhirAuthorization"] = {"access_token": "secret", "token_type": "Bearer",
                                     "expires_in": 300, "scope": "patient/*.read",
                                     "subject": "lowdose"}
        token = keys.token(base + SERVICE)
        response = client.post(SERVICE, json=body, headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 400
    assert response.json()["detail"].startswith("fhirServer")

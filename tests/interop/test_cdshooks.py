"""The CDS Hooks 2.0 service over real HTTP, on SQLite and PostgreSQL: discovery, order-select
and order-sign on naltrexone orders, one request/response fixture per screening rule, cards
checked against the spec's shapes, prefetch fetched from a real stand-in FHIR server (or 412),
and JWT-authenticated EHR clients (every bad token refused)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from sqlalchemy import select

from interop.cds_support import (
    CARD,
    DISCOVERY,
    EHR,
    JWKS_EHR,
    RESPONSE,
    Keys,
    assert_shape,
    condition,
    fhir_stand_in,
    hook_request,
    ldn_order,
    med,
    patient,
    write_clients,
)
from lowdose.api.app import create_app
from lowdose.settings import Settings
from lowdose.store import Database
from lowdose.store.models import AuditEvent, CdsJwtId
from persistence.conftest import backend, isolated_database, templates  # noqa: F401

SERVICE = "/cds-services/ldn-safety"


@dataclass
class Cds:
    client: httpx.Client
    url: str
    keys: Keys
    db: Database
    serve_app: Callable[[Any], Any]

    def call(self, body: Any, *, path: str = SERVICE, token: str | None = None,
             **claims: Any) -> httpx.Response:
        token = token or self.keys.token(self.url + path, **claims)
        return self.client.post(path, json=body, headers={"Authorization": f"Bearer {token}"})

    def cards(self, body: Any, path: str = SERVICE) -> list[dict[str, Any]]:
        response = self.call(body, path=path)
        assert response.status_code == 200, response.text
        answer = response.json()
        assert_shape(answer, RESPONSE)
        return list(answer["cards"])


@pytest.fixture(scope="module")
def keys() -> Keys:
    return Keys()


@pytest.fixture
def db_url(isolated_database: Callable[[str], tuple[str, object]]) -> str:  # noqa: F811
    return isolated_database("empty")[0]


@pytest.fixture
def make_cds(db_url: str, tmp_path: Path, keys: Keys,
             serve_app: Callable[[Any], Any]) -> Callable[..., Any]:
    def make(**clients: Any) -> Any:
        data_dir = tmp_path / "data"
        write_clients(data_dir, keys, **clients)
        settings = Settings(mode="development", data_dir=data_dir, database_url=db_url,
                            secret_key="test-secret", hold_hours=None)
        return serve_app(create_app(settings))

    return make


@pytest.fixture
def cds(make_cds: Callable[..., Any], keys: Keys, db_url: str,
        serve_app: Callable[[Any], Any]) -> Iterator[Cds]:
    database = Database(db_url)
    with make_cds() as base, httpx.Client(base_url=base, timeout=20) as client:
        yield Cds(client, base, keys, database, serve_app)
    database.dispose()


def codes(cards: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return [(c["source"]["topic"]["code"], c["indicator"]) for c in cards]


# ------------------------------------------------------------------------- discovery


def test_discovery_lists_the_service_under_both_hooks(cds: Cds) -> None:
    response = cds.client.get("/cds-services", headers={
        "Authorization": f"Bearer {cds.keys.token(cds.url + '/cds-services')}"})
    assert response.status_code == 200
    found = response.json()
    assert_shape(found, DISCOVERY)
    assert {(s["id"], s["hook"]) for s in found["services"]} == {
        ("ldn-safety", "order-select"), ("ldn-safety", "order-sign")}
    assert all(s["prefetch"]["patient"] == "Patient/{{context.patientId}}"
               for s in found["services"])


def test_discovery_needs_a_token_too(cds: Cds) -> None:
    assert cds.client.get("/cds-services").status_code == 401


# ------------------------------------------------------------- one fixture per rule

RULES = [
    pytest.param(dict(meds=[med("oxycodone 5 mg every 6 hours", "1049621")]),
                 [("active-opioid", "critical")], id="active-opioid"),
    pytest.param(dict(meds=[med("Suboxone 8/2 mg film", kind="MedicationStatement")]),
                 [("opioid-dependence-treatment", "critical")], id="buprenorphine"),
    pytest.param(dict(meds=[med("loperamide 60-100 mg/day")]),
                 [("loperamide-misuse", "critical")], id="loperamide-misuse"),
    pytest.param(dict(meds=[med("zorblax 10 mg")]), [("unrecognised-medicine", "warning")],
                 id="unrecognised-medicine"),
    pytest.param(dict(conditions=[condition("acute hepatitis")]),
                 [("acute-liver-disease", "critical")], id="acute-liver-disease"),
    pytest.param(dict(the_patient=patient(birth="2016-01-01")), [("paediatric", "warning")],
                 id="paediatric"),
    pytest.param(dict(meds=[med("levothyroxine 50 mcg")]), [("thyroid-monitoring", "info")],
                 id="thyroid"),
    pytest.param(dict(meds=[med("ibuprofen 400 mg", kind="MedicationStatement"),
                            med("sertraline 50 mg", ident="m2")],
                      conditions=[condition("fibromyalgia")]), [], id="nothing-against"),
]


@pytest.mark.parametrize(("case", "expected"), RULES)
@pytest.mark.parametrize("hook", ["order-select", "order-sign"])
def test_each_rule_gives_its_card(cds: Cds, case: dict[str, Any],
                                  expected: list[tuple[str, str]], hook: str) -> None:
    cards = cds.cards(hook_request(orders=[ldn_order()], hook=hook, **case))
    assert [c for c in codes(cards) if c[0] != "depression"] == expected


def test_a_critical_card_cites_its_sources_and_suggests_removing_the_order(cds: Cds) -> None:
    [card] = cds.cards(hook_request(orders=[ldn_order("ldn-7")],
                                    meds=[med("Norco 5/325 every 6 h as needed")]))
    assert card["summary"].startswith("LDN contraindicated: hydrocodone")
    assert "does not make them" in card["detail"]
    assert card["links"][0]["url"].startswith("https://dailymed.nlm.nih.gov/")
    assert card["source"]["url"] == card["links"][0]["url"]
    [suggestion] = card["suggestions"]
    assert suggestion["actions"] == [{"type": "delete", "resourceId": "MedicationRequest/ldn-7",
                                      "description": "Remove the draft low-dose naltrexone "
                                                     "order"}]
    assert card["selectionBehavior"] == "at-most-one"
    assert any("opioid-free" in r["display"] for r in card["overrideReasons"])


def _stopped(text: str, end: str | None = None, status: str = "stopped") -> dict[str, Any]:
    statement = med(text, kind="MedicationStatement", status=status)
    if end:
        statement["effectivePeriod"] = {"start": "2025-01-01", "end": end}
    return statement


def test_an_opioid_stopped_two_days_ago_defers_ldn_with_the_earliest_start(cds: Cds) -> None:
    two_days_ago = (date.today() - timedelta(days=2)).isoformat()
    [card] = cds.cards(hook_request(orders=[ldn_order()],
                                    meds=[_stopped("oxycodone 5 mg tablet", two_days_ago)]))
    assert (card["source"]["topic"]["code"], card["indicator"]) == ("recent-opioid", "critical")
    assert card["summary"].startswith("Defer LDN")
    assert "Earliest start: " in card["detail"]


def test_an_opioid_stopped_on_an_unknown_day_needs_review(cds: Cds) -> None:
    cards = cds.cards(hook_request(orders=[ldn_order()],
                                   meds=[_stopped("oxycodone 5 mg tablet")]))
    assert codes(cards) == [("opioid-stop-date-unknown", "warning")]


def test_entries_in_error_and_resolved_conditions_are_left_out(cds: Cds) -> None:
    resolved = condition("acute hepatitis")
    resolved["clinicalStatus"] = {"coding": [{"code": "resolved"}]}
    cards = cds.cards(hook_request(
        orders=[ldn_order()], conditions=[resolved],
        meds=[_stopped("oxycodone 5 mg", status="entered-in-error")]))
    assert cards == []


def test_an_opioid_ordered_with_ldn_counts(cds: Cds) -> None:
    cards = cds.cards(hook_request(orders=[ldn_order(), med("tramadol 50 mg", ident="t1",
                                                            status="draft")]))
    assert codes(cards) == [("active-opioid", "critical")]


@pytest.mark.parametrize("order", [
    pytest.param(ldn_order(text=None), id="rxnorm-code-only"),
    pytest.param(ldn_order(text="LDN 4.5 mg compounded capsule", rxnorm=None), id="text-only"),
    pytest.param(ldn_order(text="Revia 50 mg", rxnorm=None), id="brand"),
])
def test_naltrexone_is_recognised_by_code_or_by_name(cds: Cds, order: dict[str, Any]) -> None:
    cards = cds.cards(hook_request(orders=[order], meds=[med("morphine 10 mg")]))
    assert ("active-opioid", "critical") in codes(cards)


@pytest.mark.parametrize("orders", [
    pytest.param([med("oxycodone 5 mg", ident="o1", status="draft")], id="opioid-order"),
    pytest.param([med("Embeda 20 mg/0.8 mg", ident="e1", status="draft")],
                 id="morphine-naltrexone-combination"),
    pytest.param([med("amoxicillin 500 mg", ident="a1", status="draft")], id="antibiotic"),
])
def test_orders_that_are_not_naltrexone_get_no_cards_even_without_data(
        cds: Cds, orders: list[dict[str, Any]]) -> None:
    assert cds.cards(hook_request(orders=orders, prefetch=False)) == []


def test_order_select_looks_only_at_the_selected_order(cds: Cds) -> None:
    body = hook_request(orders=[ldn_order(), med("oxycodone 5 mg", ident="o1",
                                                 status="draft")],
                        hook="order-select", selections=["MedicationRequest/o1"],
                        meds=[med("fentanyl patch")])
    assert cds.cards(body) == []


def test_the_sign_service_answers_order_sign_alike(cds: Cds) -> None:
    body = hook_request(orders=[ldn_order()], meds=[med("methadone 10 mg")])
    assert codes(cds.cards(body, "/cds-services/ldn-safety-sign")) == codes(cds.cards(body))


@pytest.mark.parametrize(("change", "field"), [
    (lambda b: b.update(hook="patient-view"), "hook"),
    (lambda b: b["context"].pop("patientId"), "context.patientId"),
    (lambda b: b["context"].update(draftOrders=[]), "context.draftOrders"),
    (lambda b: b.update(fhirAuthorization={"access_token": "x"}), "fhirAuthorization"),
])
def test_a_malformed_request_is_a_400_naming_the_field(cds: Cds, change: Any,
                                                       field: str) -> None:
    body = hook_request(orders=[ldn_order()])
    change(body)
    response = cds.call(body)
    assert response.status_code == 400
    assert response.json()["detail"].startswith(field)


# ------------------------------------------------------------------------- prefetch


def test_missing_prefetch_is_fetched_from_the_fhir_server_with_its_token(cds: Cds) -> None:
    with fhir_stand_in(cds.keys, cds.serve_app) as ehr:
        body = hook_request(orders=[ldn_order()], prefetch=False)
        body["fhirServer"] = ehr.url + "/fhir"
        body["fhirAuthorization"] = {"access_token": "ehr-token-123", "token_type": "Bearer",
                                     "expires_in": 300, "scope": "patient/*.read",
                                     "subject": "lowdose"}
        cards = cds.cards(body)
    assert codes(cards) == [("active-opioid", "critical")]  # the stand-in's oxycodone
    assert sorted(s["path"] for s in ehr.seen) == [
        "/fhir/Condition", "/fhir/MedicationRequest", "/fhir/MedicationStatement",
        "/fhir/Patient/p1"]
    assert {s["authorization"] for s in ehr.seen} == {"Bearer ehr-token-123"}


def test_only_the_missing_keys_are_fetched(cds: Cds) -> None:
    with fhir_stand_in(cds.keys, cds.serve_app) as ehr:
        body = hook_request(orders=[ldn_order()])
        del body["prefetch"]["medications"]
        body["fhirServer"] = ehr.url + "/fhir"
        cards = cds.cards(body)
    assert [s["path"] for s in ehr.seen] == ["/fhir/MedicationRequest"]
    assert codes(cards) == [("active-opioid", "critical")]


def test_a_null_prefetch_key_means_no_data_not_an_error(cds: Cds) -> None:
    body = hook_request(orders=[ldn_order()])
    body["prefetch"]["conditions"] = None
    assert cds.cards(body) == []


def test_without_prefetch_or_a_fhir_server_the_answer_is_412(cds: Cds) -> None:
    response = cds.call(hook_request(orders=[ldn_order()], prefetch=False))
    assert response.status_code == 412
    assert "no fhirServer" in response.json()["detail"]


def test_a_fhir_server_that_fails_gives_412(cds: Cds) -> None:
    with fhir_stand_in(cds.keys, cds.serve_app) as ehr:
        body = hook_request(orders=[ldn_order()], prefetch=False)
        body["context"]["patientId"] = "someone-else"  # the stand-in answers 404
        body["fhirServer"] = ehr.url + "/fhir"
        response = cds.call(body)
    assert response.status_code == 412
    assert "404" in response.json()["detail"]


# --------------------------------------------------------------------------- tokens


def test_rs384_and_es384_are_accepted_and_the_call_is_audited(cds: Cds) -> None:
    body = hook_request(orders=[ldn_order()])
    assert cds.call(body, alg="RS384", kid="ehr-rsa").status_code == 200
    assert cds.call(body, alg="ES384", kid="ehr-ec").status_code == 200
    with cds.db.transaction() as session:
        events = session.scalars(select(AuditEvent).where(AuditEvent.action == "cds.call")).all()
        seen = session.scalars(select(CdsJwtId.issuer)).all()
    assert [e.target for e in events] == ["cds-service:ldn-safety×1"] * 2
    assert events[0].patient_id is None  # the EHR's patient is not a lowdose record
    assert seen == [EHR, EHR]


def _hs256(cds: Cds) -> str:
    return jwt.encode({"iss": EHR, "aud": cds.url + SERVICE, "iat": 1, "exp": 2, "jti": "h"},
                      "a-shared-secret-of-thirty-two-bytes!", algorithm="HS256",
                      headers={"kid": "ehr-ec"})


def _none(cds: Cds) -> str:
    return jwt.encode({"iss": EHR, "aud": cds.url + SERVICE, "iat": 1, "exp": 2, "jti": "n"},
                      None, algorithm="none", headers={"kid": "ehr-ec"})


BAD_TOKENS: list[Any] = [
    pytest.param(lambda c: _none(c), "algorithm 'none' refused", id="alg-none"),
    pytest.param(lambda c: _hs256(c), "algorithm 'HS256' refused", id="symmetric-hs256"),
    pytest.param(lambda c: c.keys.token(c.url + SERVICE, lifetime=60, issued_ago=300),
                 "expired", id="expired"),
    pytest.param(lambda c: c.keys.token(c.url + "/cds-services/other-service"),
                 "audience", id="wrong-audience"),
    pytest.param(lambda c: c.keys.token("https://cds.example.org" + SERVICE), "audience",
                 id="audience-of-another-host"),
    pytest.param(lambda c: c.keys.token(c.url + SERVICE, iss="https://evil.example"),
                 "unknown issuer", id="unknown-issuer"),
    pytest.param(lambda c: c.keys.token(c.url + SERVICE, key=c.keys.stranger),
                 "bad signature", id="bad-signature"),
    pytest.param(lambda c: c.keys.token(c.url + SERVICE, kid=None), "kid", id="no-kid"),
    pytest.param(lambda c: c.keys.token(c.url + SERVICE, kid="unknown"), "no key",
                 id="unknown-kid"),
    pytest.param(lambda c: c.keys.token(c.url + SERVICE, lifetime=3600),
                 "longer than five minutes", id="long-lived"),
    pytest.param(lambda c: c.keys.token(c.url + SERVICE, issued_ago=-600, lifetime=60),
                 "future", id="issued-in-the-future"),
    pytest.param(lambda c: c.keys.token(c.url + SERVICE, drop=("jti",)), "jti", id="no-jti"),
    pytest.param(lambda c: c.keys.token(c.url + SERVICE, headers={
        "jku": "https://evil.example/jwks"}), "jku", id="foreign-jku"),
    pytest.param(lambda c: "not-a-jwt", "not a JWT", id="garbage"),
]


@pytest.mark.parametrize(("make_token", "reason"), BAD_TOKENS)
def test_bad_tokens_are_refused(cds: Cds, make_token: Callable[[Cds], str],
                                reason: str) -> None:
    response = cds.call(hook_request(orders=[ldn_order()]), token=make_token(cds))
    assert response.status_code == 401
    assert reason in response.json()["detail"]
    assert response.headers["www-authenticate"] == "Bearer"


def test_a_replayed_token_is_refused(cds: Cds) -> None:
    token = cds.keys.token(cds.url + SERVICE)
    body = hook_request(orders=[ldn_order()])
    assert cds.call(body, token=token).status_code == 200
    again = cds.call(body, token=token)
    assert again.status_code == 401
    assert "replayed" in again.json()["detail"]


def test_without_any_token_or_with_an_api_token_the_answer_is_401(cds: Cds) -> None:
    body = hook_request(orders=[ldn_order()])
    assert cds.client.post(SERVICE, json=body).status_code == 401
    assert cds.client.post(SERVICE, json=body, headers={
        "Authorization": "Bearer an-opaque-api-token"}).status_code == 401


def test_an_aud_list_naming_the_service_is_accepted(cds: Cds) -> None:
    token = cds.keys.token([cds.url + SERVICE, "https://elsewhere.example"])
    assert cds.call(hook_request(orders=[ldn_order()]), token=token).status_code == 200


def test_keys_from_the_issuers_registered_jwks_url(make_cds: Callable[..., Any], keys: Keys,
                                                   serve_app: Callable[[Any], Any]) -> None:
    with fhir_stand_in(keys, serve_app) as ehr, make_cds(jwks_url=ehr.url + "/jwks") as base, \
            httpx.Client(base_url=base) as client:
        token = keys.token(base + SERVICE, iss=JWKS_EHR, headers={"jku": ehr.url + "/jwks"})
        body = hook_request(orders=[ldn_order()])
        response = client.post(SERVICE, json=body, headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 200, response.text


def test_behind_a_proxy_the_audience_is_the_configured_public_url(
        make_cds: Callable[..., Any], keys: Keys) -> None:
    public = "https://ldn.example.org"
    with make_cds(base_url=public) as base, httpx.Client(base_url=base) as client:
        body = hook_request(orders=[ldn_order()])
        good = keys.token(public + SERVICE)
        local = keys.token(base + SERVICE)
        assert client.post(SERVICE, json=body, headers={
            "Authorization": f"Bearer {good}"}).status_code == 200
        assert client.post(SERVICE, json=body, headers={
            "Authorization": f"Bearer {local}"}).status_code == 401


def test_card_shape_schema_catches_what_the_spec_forbids() -> None:
    # The shape check itself must be able to fail: a long summary, a bad indicator and
    # suggestions without selectionBehavior are each caught.
    import jsonschema

    bad = {"summary": "x" * 200, "indicator": "urgent", "source": {"label": "s"},
           "suggestions": [{"label": "l"}]}
    errors = list(jsonschema.Draft202012Validator(CARD).iter_errors(bad))
    assert len(errors) == 3

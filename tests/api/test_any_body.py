"""Property: whatever JSON a client sends, the API answers with a result or a 422 problem,
never a crash (design §6: bad input at any interface gets a specific error)."""

from __future__ import annotations

from typing import Any

import httpx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-10**6, 10**6)
    | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner,
                                                                 max_size=4),
    max_leaves=12,
)
# Edges of the calendar included: date arithmetic there overflows unless it is checked.
moments = st.sampled_from(["2025-06-02T09:00", "2025-06-01", "2025-06-12T08:00", "2025-13-40",
                           "2025-06-02T09:00+02:00", "", "now", "0001-01-01T00:00",
                           "0001-01-01", "9999-12-31T23:00", "9999-12-30"])
days = st.sampled_from(["2025-06-02", "0001-01-01", "9999-12-30"])
numbers = (st.integers(-10, 10**12) | st.floats(allow_nan=False, allow_infinity=False)
           | st.sampled_from([0.5, 1.5, 4.5, 7, 30]))
medication = st.fixed_dictionaries({}, optional={
    "text": st.sampled_from(["Norco 5/325 mg", "oxycodon", "Delsym", "", "tramadol 50 mg"])
    | st.text(max_size=40),
    "rxnorm": st.sampled_from(["857002", "abc", ""]),
    "last_taken": moments,
    "stopped": moments,
})
profiles = st.fixed_dictionaries({"as_of": moments}, optional={
    "age": st.integers(-5, 140) | st.text(max_size=3),
    "weight_kg": st.floats(allow_nan=False, allow_infinity=False),
    "pregnant": st.booleans(),
    "conditions": st.lists(st.text(max_size=30), max_size=3),
    "medications": st.lists(medication, max_size=4),
    "ldn": st.fixed_dictionaries({}, optional={"dose_mg": st.floats(-1, 60), "time": moments,
                                               "last_taken": moments}),
    "procedures": st.lists(st.fixed_dictionaries({"at": moments}, optional={
        "opioids_expected": st.booleans()}), max_size=2),
})
plans = st.fixed_dictionaries({"from": days}, optional={
    key: numbers for key in ("start_mg", "step_mg", "every_days", "target_mg", "weight_kg",
                             "liquid_mg_per_ml")})
formulations = st.fixed_dictionaries(
    {"dose_mg": numbers, "form": st.sampled_from(["liquid", "capsule"]), "quantity": numbers,
     "start": days},
    optional={"mg_per_ml": numbers, "lead_days": numbers, "price": numbers})
holds = st.fixed_dictionaries({"surgery_at": moments, "as_of": moments},
                              optional={"hold_hours": numbers, "last_taken": moments})
ROUTES = ["/api/v1/screen", "/api/v1/plan", "/api/v1/formulate", "/api/v1/periop"]


def assert_answered(response: httpx.Response) -> None:
    assert response.status_code in (200, 422), response.text
    if response.status_code == 422:
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["errors"]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(route=st.sampled_from(ROUTES), body=json_values)
def test_any_json_body_gets_a_result_or_a_problem(api: httpx.Client, route: str,
                                                  body: Any) -> None:
    assert_answered(api.post(route, json=body))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(route_body=st.tuples(st.just("/api/v1/screen"), profiles)
       | st.tuples(st.just("/api/v1/plan"), plans)
       | st.tuples(st.just("/api/v1/formulate"), formulations)
       | st.tuples(st.just("/api/v1/periop"), holds))
def test_any_well_shaped_body_gets_a_result_or_a_problem(
    api: httpx.Client, route_body: tuple[str, dict[str, Any]]
) -> None:
    route, body = route_body
    assert_answered(api.post(route, json=body))

"""POST /api/v1/plan, /formulate, /periop: the same contract as `lowdose … --json`."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest

from lowdose.api.app import create_app
from lowdose.knowledge.regimens import load_perioperative_facts, load_titration_facts

RunLowdose = Callable[..., Any]
PERIOP = load_perioperative_facts()

SAME_AS_CLI = [
    ("/api/v1/plan",
     {"from": "2025-06-02", "start_mg": 1.5, "step_mg": 0.5, "every_days": 7, "target_mg": 4.5},
     ["plan", "--from", "2025-06-02", "--start", "1.5", "--step", "0.5", "--every", "7",
      "--target", "4.5"]),
    ("/api/v1/plan",
     {"from": "2025-06-02", "protocol": "ldnrt-liquid"},
     ["plan", "--from", "2025-06-02", "--protocol", "ldnrt-liquid"]),
    ("/api/v1/formulate",
     {"dose_mg": 1.5, "form": "liquid", "mg_per_ml": 1, "quantity": 60,
      "start": "2025-06-02"},
     ["formulate", "--dose", "1.5", "--mg-per-ml", "1", "--quantity", "60", "--start",
      "2025-06-02"]),
    ("/api/v1/formulate",
     {"dose_mg": 4.5, "form": "capsule", "quantity": 30, "start": "2025-06-02",
      "price": 45},
     ["formulate", "--dose", "4.5", "--form", "capsule", "--quantity", "30", "--start",
      "2025-06-02", "--price", "45"]),
    ("/api/v1/periop",
     {"surgery_at": "2025-06-12T08:00", "as_of": "2025-06-02T09:00", "dose_mg": 4.5},
     ["periop", "--surgery", "2025-06-12T08:00", "--as-of", "2025-06-02T09:00", "--dose",
      "4.5"]),
]


@pytest.mark.parametrize(("path", "body", "args"), SAME_AS_CLI,
                         ids=[f"{p}-{i}" for i, (p, _, _) in enumerate(SAME_AS_CLI)])
def test_route_answers_exactly_what_the_command_prints(
    api: httpx.Client, lowdose: RunLowdose, path: str, body: dict[str, Any], args: list[str]
) -> None:
    response = api.post(path, json=body)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json"
    run = lowdose(*args, "--json")
    assert run.code == 0, run.stderr
    assert response.json() == run.json()


@pytest.mark.parametrize("protocol", load_titration_facts().protocols, ids=lambda p: p.name)
def test_every_preset_can_be_planned_over_http(api: httpx.Client, protocol) -> None:
    body: dict[str, Any] = {"from": "2025-06-02", "protocol": protocol.name}
    if protocol.mg_per_kg is not None:
        body["weight_kg"] = 20
    response = api.post("/api/v1/plan", json=body)
    assert response.status_code == 200, response.text
    assert set(protocol.sources) <= set(response.json()["sources"])


def test_periop_contract_example(api: httpx.Client) -> None:
    # design §3.2: surgery 2025-06-12 08:00, bedtime dose, 72 h hold → last dose 06-08 22:00.
    response = api.post("/api/v1/periop", json={"surgery_at": "2025-06-12T08:00",
                                                "as_of": "2025-06-02T09:00"})
    assert response.status_code == 200
    out = response.json()
    assert out["last_dose_by"] == "2025-06-08T22:00"
    assert out["hold_hours"] == PERIOP.default_hold_hours
    assert out["can_meet_hold"] is True


def test_configured_hold_is_the_periop_default(
    make_settings: Callable[..., Any], serve_app: Callable[[Any], Any]
) -> None:
    # LOWDOSE_HOLD_HOURS=48 (settings.hold_hours): the 48 h one LDN prescriber uses.
    app = create_app(make_settings(hold_hours=48))
    with serve_app(app) as url:
        response = httpx.post(f"{url}/api/v1/periop", json={
            "surgery_at": "2025-06-12T08:00", "as_of": "2025-06-02T09:00"})
        explicit = httpx.post(f"{url}/api/v1/periop", json={
            "surgery_at": "2025-06-12T08:00", "as_of": "2025-06-02T09:00", "hold_hours": 72})
    assert response.json()["hold_hours"] == 48
    assert response.json()["last_dose_by"] == "2025-06-09T22:00"
    assert explicit.json()["last_dose_by"] == "2025-06-08T22:00"


def test_health_is_a_trivial_ok(api: httpx.Client) -> None:
    response = api.get("/api/v1/health")
    assert response.status_code == 200
    assert response.json()["status"] == "ok"

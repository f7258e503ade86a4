"""The OpenAPI document describes the check-in of design §3.4, so a client generated from it
sends what the server accepts and reads what it answers: the body's fields and their scales
(ratings 0–10, severity 0–3, no other fields) and the stored check-in of the 201."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

CHECKINS = "/api/v1/patients/{patient_id}/checkins"


@pytest.fixture(scope="module")
def document(api: httpx.Client) -> dict[str, Any]:
    response = api.get("/api/v1/openapi.json")
    assert response.status_code == 200
    body: dict[str, Any] = response.json()
    return body


def resolved(document: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        node: Any = document
        for part in schema["$ref"].removeprefix("#/").split("/"):
            node = node[part]
        schema = node
    return schema


def nullable(document: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    """The non-null member of an `anyOf [X, null]`, else the schema itself."""
    members = [m for m in schema.get("anyOf", [schema]) if m.get("type") != "null"]
    assert len(members) == 1, schema
    return resolved(document, members[0])


def test_checkin_body_is_described_with_its_fields_and_scales(document: dict[str, Any]) -> None:
    # §3.4: ratings 0–10; severity 0–3; unknown fields are refused; the date is required.
    post = document["paths"][CHECKINS]["post"]
    body = resolved(document, post["requestBody"]["content"]["application/json"]["schema"])
    assert body.get("additionalProperties") is False
    assert set(body["properties"]) == {"date", "dose_taken", "dose_mg", "dose_time",
                                       "ratings", "side_effects", "note"}
    assert body["required"] == ["date"]
    assert body["properties"]["date"]["format"] == "date"
    rating = resolved(document, body["properties"]["ratings"]["additionalProperties"])
    assert (rating["type"], rating["minimum"], rating["maximum"]) == ("integer", 0, 10)
    effect = resolved(document, body["properties"]["side_effects"]["items"])
    severity = effect["properties"]["severity"]
    assert (severity["type"], severity["minimum"], severity["maximum"]) == ("integer", 0, 3)
    assert set(effect["required"]) == {"name", "severity"}


@pytest.mark.parametrize(("method", "status"), [("post", "201"), ("post", "200"),
                                                ("get", "200")])
def test_stored_checkin_is_described_in_the_answers(document: dict[str, Any], method: str,
                                                    status: str) -> None:
    # §3.4: 201 with the stored check-in (200 on an idempotent replay); GET lists them.
    answer = document["paths"][CHECKINS][method]["responses"][status]
    schema = resolved(document, answer["content"]["application/json"]["schema"])
    if method == "get":
        assert schema["type"] == "array"
        schema = resolved(document, schema["items"])
    assert {"id", "patient_id", "date", "ratings", "side_effects", "version",
            "recorded_at"} <= set(schema["properties"])

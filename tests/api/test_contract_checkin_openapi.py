"""The OpenAPI document describes the check-in of design §3.4, so a client generated from it
sends what the server accepts and reads what it answers: the body's fields and their scales
(ratings 0–10, severity 0–3, no other fields) and the stored check-in of the 201."""

from __future__ import annotations

from typing import Any

import pytest

from api.conftest import resolved

CHECKINS = "/api/v1/patients/{patient_id}/checkins"




def nullable(openapi: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    """The non-null member of an `anyOf [X, null]`, else the schema itself."""
    members = [m for m in schema.get("anyOf", [schema]) if m.get("type") != "null"]
    assert len(members) == 1, schema
    return resolved(openapi, members[0])


def test_checkin_body_is_described_with_its_fields_and_scales(openapi: dict[str, Any]) -> None:
    # §3.4: ratings 0–10; severity 0–3; unknown fields are refused; the date is required.
    post = openapi["paths"][CHECKINS]["post"]
    body = resolved(openapi, post["requestBody"]["content"]["application/json"]["schema"])
    assert body.get("additionalProperties") is False
    assert set(body["properties"]) == {"date", "dose_taken", "dose_mg", "dose_time",
                                       "ratings", "side_effects", "note"}
    assert body["required"] == ["date"]
    assert body["properties"]["date"]["format"] == "date"
    rating = resolved(openapi, body["properties"]["ratings"]["additionalProperties"])
    assert (rating["type"], rating["minimum"], rating["maximum"]) == ("integer", 0, 10)
    effect = resolved(openapi, body["properties"]["side_effects"]["items"])
    severity = effect["properties"]["severity"]
    assert (severity["type"], severity["minimum"], severity["maximum"]) == ("integer", 0, 3)
    assert set(effect["required"]) == {"name", "severity"}


@pytest.mark.parametrize(("method", "status"), [("post", "201"), ("post", "200"),
                                                ("get", "200")])
def test_stored_checkin_is_described_in_the_answers(openapi: dict[str, Any], method: str,
                                                    status: str) -> None:
    # §3.4: 201 with the stored check-in (200 on an idempotent replay); GET lists them.
    answer = openapi["paths"][CHECKINS][method]["responses"][status]
    schema = resolved(openapi, answer["content"]["application/json"]["schema"])
    if method == "get":
        assert schema["type"] == "array"
        schema = resolved(openapi, schema["items"])
    assert {"id", "patient_id", "date", "ratings", "side_effects", "version",
            "recorded_at"} <= set(schema["properties"])

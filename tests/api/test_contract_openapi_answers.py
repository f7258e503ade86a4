"""The OpenAPI document describes what the fixed points of design §3.4 answer, so a client
generated from it can read them: the token, who am I, the patients, the record's screen."""

from __future__ import annotations

from typing import Any

import pytest

from api.conftest import resolved


def answer(openapi: dict[str, Any], path: str, method: str) -> dict[str, Any]:
    content = openapi["paths"][path][method]["responses"]["200"]["content"]
    return resolved(openapi, content["application/json"]["schema"])


@pytest.mark.parametrize(("path", "method", "fields"), [
    # §3.4: {"access_token", "token_type": "bearer"}; /me → user, role, patient_id.
    ("/api/v1/auth/token", "post", {"access_token", "token_type"}),
    ("/api/v1/me", "get", {"user", "role", "patient_id"}),
    ("/api/v1/patients/{patient_id}", "get", {"id", "display_name"}),
    # §3.2 from the record, with the patient and the moment screened.
    ("/api/v1/patients/{patient_id}/screen", "get",
     {"patient_id", "as_of", "verdict", "findings", "earliest_start", "perioperative"}),
])
def test_fixed_point_answers_are_described(openapi: dict[str, Any], path: str, method: str,
                                           fields: set[str]) -> None:
    schema = answer(openapi, path, method)
    assert fields <= set(schema["properties"]), schema
    assert fields <= set(schema.get("required", [])), schema


def test_the_token_type_is_bearer(openapi: dict[str, Any]) -> None:
    token_type = answer(openapi, "/api/v1/auth/token", "post")["properties"]["token_type"]
    assert token_type.get("const") == "bearer" or token_type.get("enum") == ["bearer"]


def test_the_patient_list_is_described_as_patients(openapi: dict[str, Any]) -> None:
    schema = answer(openapi, "/api/v1/patients", "get")
    assert schema["type"] == "array"
    assert {"id", "display_name"} <= set(resolved(openapi, schema["items"])["properties"])

"""The OpenAPI document: served, internally consistent, every route documented, errors
declared as problem details; the docs page and the front-page redirect."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute, iter_route_contexts

from lowdose.api.app import create_app

METHODS = {"get", "put", "post", "delete", "patch", "options", "head", "trace"}


def refs(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                yield value
            else:
                yield from refs(value)
    elif isinstance(node, list):
        for item in node:
            yield from refs(item)


def resolve(document: dict[str, Any], ref: str) -> Any:
    assert ref.startswith("#/"), f"only local references are used: {ref}"
    node: Any = document
    for part in ref[2:].split("/"):
        node = node[part.replace("~1", "/").replace("~0", "~")]
    return node


def api_routes(app: FastAPI) -> list[Any]:
    """Every documented route of the app, included routers flattened."""
    routes = [r for r in iter_route_contexts(app.routes)
              if isinstance(r.original_route, APIRoute) and r.include_in_schema]
    assert routes, "the app has API routes"
    return routes


def operations(document: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if method in METHODS:
                yield path, method, operation


def test_document_is_openapi_3_1_with_title_and_version(openapi: dict[str, Any]) -> None:
    assert openapi["openapi"].startswith("3.1.")
    assert openapi["info"]["title"] == "lowdose"
    assert openapi["info"]["version"]
    assert set(openapi) <= {"openapi", "info", "paths", "components", "servers", "tags",
                            "security", "webhooks", "externalDocs", "jsonSchemaDialect"}


def test_every_reference_resolves(openapi: dict[str, Any]) -> None:
    found = list(refs(openapi))
    assert found
    for ref in found:
        assert isinstance(resolve(openapi, ref), dict), ref


def test_every_route_of_the_app_is_documented(
    openapi: dict[str, Any], make_settings: Callable[..., Any]
) -> None:
    routes = api_routes(create_app(make_settings()))
    assert {r.path for r in routes} >= {"/api/v1/health", "/api/v1/screen", "/api/v1/plan",
                                        "/api/v1/formulate", "/api/v1/periop"}
    for route in routes:
        for method in route.methods:
            operation = openapi["paths"][route.path][method.lower()]
            assert operation.get("summary"), f"{method} {route.path} has no summary"
            assert any(code.startswith("2") for code in operation["responses"]), \
                f"{method} {route.path} documents no success"


def test_operations_have_unique_ids_and_a_success_response(openapi: dict[str, Any]) -> None:
    ids = [op["operationId"] for _, _, op in operations(openapi)]
    assert len(ids) == len(set(ids))
    for path, method, operation in operations(openapi):
        assert any(code.startswith("2") for code in operation["responses"]), (path, method)


def test_every_body_route_documents_its_422_as_problem_details(openapi: dict[str, Any]) -> None:
    with_body = [(p, m, op) for p, m, op in operations(openapi) if "requestBody" in op]
    assert {p for p, _, _ in with_body} >= {"/api/v1/plan", "/api/v1/formulate",
                                            "/api/v1/periop"}
    for path, method, operation in with_body:
        content = operation["responses"]["422"]["content"]
        assert list(content) == ["application/problem+json"], (path, method)
        schema = resolve(openapi, content["application/problem+json"]["schema"]["$ref"])
        assert {"type", "title", "status", "detail", "instance", "errors"} <= set(
            schema["properties"])


def test_success_responses_describe_the_contract(openapi: dict[str, Any]) -> None:
    plan = openapi["paths"]["/api/v1/plan"]["post"]["responses"]["200"]
    schema = resolve(openapi, plan["content"]["application/json"]["schema"]["$ref"])
    assert {"protocol", "form", "steps", "target_mg", "sources", "notes"} <= set(
        schema["properties"])


def test_docs_page_is_served(api: httpx.Client) -> None:
    response = api.get("/api/v1/docs")
    assert response.status_code == 200
    assert "text/html" in response.headers["content-type"]
    assert "/api/v1/openapi.json" in response.text
    assert api.get("/api/v1/docs/oauth2-redirect").status_code == 200


def test_every_path_lives_under_api_v1(make_settings: Callable[..., Any]) -> None:
    # The web app's pages (issue 5) are outside the API and its OpenAPI document.
    paths = {r.path for r in iter_route_contexts(create_app(make_settings()).routes)
             if r.include_in_schema}
    assert paths
    assert all(p.startswith("/api/v1/") for p in paths), sorted(paths)


def test_front_page_is_the_web_app(api: httpx.Client) -> None:
    response = api.get("/", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/signin"


DOCUMENTED = [
    ("/api/v1/screen", {"as_of": "2025-06-02T09:00", "ldn": {"dose_mg": 4.5},
                        "medications": [{"text": "Norco 5/325 mg", "last_taken": "2025-06-01"},
                                        {"text": "Delsym 30 mg"}],
                        "procedures": [{"at": "2025-06-12T08:00", "opioids_expected": True}]}),
    ("/api/v1/plan", {"from": "2025-06-02", "protocol": "ldnrt-liquid"}),
    ("/api/v1/plan", {"from": "2025-06-02", "protocol": "dartmouth-weekly"}),
    ("/api/v1/formulate", {"dose_mg": 1.5, "form": "liquid", "mg_per_ml": 1, "quantity": 60,
                           "start": "2025-06-02", "price": 30}),
    ("/api/v1/formulate", {"dose_mg": 4.5, "form": "capsule", "quantity": 30,
                           "start": "2025-06-02"}),
    ("/api/v1/periop", {"surgery_at": "2025-06-12T08:00", "as_of": "2025-06-10T09:00",
                        "last_taken": "2025-06-09T22:00"}),
]


@pytest.mark.parametrize(("path", "body"), DOCUMENTED, ids=[p for p, _ in DOCUMENTED])
def test_answers_match_the_documented_response_model(
    api: httpx.Client, make_settings: Callable[..., Any], path: str, body: dict[str, Any]
) -> None:
    route = next(r for r in api_routes(create_app(make_settings())) if r.path == path)
    response = api.post(path, json=body)
    assert response.status_code == 200, response.text
    assert route.response_model is not None
    route.response_model.model_validate(response.json())

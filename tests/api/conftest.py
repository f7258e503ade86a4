"""One stateless API server over real HTTP for the API tests (nothing is stored)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from lowdose.api.app import create_app
from lowdose.settings import Settings


def settings_for(data_dir: Path, **values: Any) -> Settings:
    # Explicit values, so a developer's LOWDOSE_* variables cannot change what is tested.
    return Settings(mode="development", data_dir=data_dir, database_url=None,
                    secret_key="test-secret", **{"hold_hours": None, **values})


@pytest.fixture
def make_settings(tmp_path: Path) -> Callable[..., Settings]:
    """`make_settings(hold_hours=48)`: settings in a fresh data dir with these values."""
    return lambda **values: settings_for(tmp_path / "data", **values)


@pytest.fixture(scope="session")
def api(tmp_path_factory: pytest.TempPathFactory,
        serve_app: Callable[[Any], Any]) -> Iterator[httpx.Client]:
    app = create_app(settings_for(tmp_path_factory.mktemp("api-data")))
    with serve_app(app) as url, httpx.Client(base_url=url, timeout=10) as client:
        yield client


@pytest.fixture(scope="session")
def openapi(api: httpx.Client) -> dict[str, Any]:
    """The server's OpenAPI document, read once."""
    response = api.get("/api/v1/openapi.json")
    assert response.status_code == 200
    document: dict[str, Any] = response.json()
    return document


def resolved(document: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    """`schema` with its `$ref`s followed within `document`."""
    while "$ref" in schema:
        node: Any = document
        for part in schema["$ref"].removeprefix("#/").split("/"):
            node = node[part]
        schema = node
    return schema

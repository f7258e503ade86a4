"""Servers for the hardening tests: the real `lowdose serve` in a subprocess (its log output
captured as an operator would see it), and the app in a thread over a seeded database."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from lowdose.api.app import create_app
from lowdose.settings import Settings
from persistence.conftest import (  # noqa: F401  (fixtures used by name)
    PASSWORD,
    CastIds,
    backend,
    fresh_database,
    isolated_database,
    templates,
)
from support import clean_env, serving

# A production secret for tests: long, varied, and nobody's default.
STRONG_KEY = "tH1s-is-only-a-test-key-8d1f4b6a2c9e7f03a5b1"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class ServeProcess:
    """A running `lowdose serve`, its stderr going to `log_file`."""

    process: subprocess.Popen[bytes]
    url: str
    log_file: Path

    def log_text(self) -> str:
        return self.log_file.read_text(encoding="utf-8", errors="replace")

    def log_lines(self) -> list[dict[str, Any]]:
        """Every line of the log as JSON (a line that is not JSON fails the test)."""
        return [json.loads(line) for line in self.log_text().splitlines() if line.strip()]

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=20)


@pytest.fixture
def start_serve(tmp_path: Path, lowdose_argv: list[str]) -> Iterator[Callable[..., ServeProcess]]:
    """`start_serve(database_url, *args, env={...})` starts `lowdose serve` on a free port and
    waits until it answers; every server started is stopped when the test ends."""
    started: list[ServeProcess] = []

    def start(database_url: str, *args: str, env: dict[str, str] | None = None) -> ServeProcess:
        port = free_port()
        log_file = tmp_path / f"serve-{port}.log"
        environment = clean_env(tmp_path / "data", **(env or {}))
        with log_file.open("wb") as sink:
            process = subprocess.Popen(
                [*lowdose_argv, "serve", "--port", str(port), "--database-url", database_url,
                 *args], env=environment, stdout=sink, stderr=subprocess.STDOUT,
                cwd=tmp_path)
        running = ServeProcess(process, f"http://127.0.0.1:{port}", log_file)
        started.append(running)
        _wait_until_up(running)
        return running

    yield start
    for running in started:
        running.stop()


def _wait_until_up(running: ServeProcess) -> None:
    deadline = time.monotonic() + 180  # a loaded 2-core machine starts workers slowly
    while time.monotonic() < deadline:
        if running.process.poll() is not None:
            raise RuntimeError(f"lowdose serve exited: {running.log_text()}")
        try:
            if httpx.get(running.url + "/api/v1/health", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"lowdose serve did not start: {running.log_text()}")


def login(client: httpx.Client, username: str, password: str = PASSWORD) -> dict[str, str]:
    response = client.post("/api/v1/auth/token",
                           data={"username": username, "password": password})
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


@dataclass
class CastServer:
    client: httpx.Client
    url: str
    database_url: str
    ids: CastIds


@pytest.fixture
def cast_server(isolated_database: Callable[[str], tuple[str, object]],  # noqa: F811
                tmp_path: Path) -> Iterator[CastServer]:
    """The app in a thread over a database holding the persistence tests' cast."""
    url, ids = isolated_database("cast")
    assert isinstance(ids, CastIds)
    settings = Settings(mode="development", data_dir=tmp_path / "data", database_url=url,
                        secret_key="test-secret", hold_hours=None)
    with serving(create_app(settings)) as base, \
            httpx.Client(base_url=base, timeout=30) as client:
        yield CastServer(client, base, url, ids)


@pytest.fixture(scope="module")
def stateless_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[httpx.Client]:
    """The app with default limits; for requests that store nothing."""
    settings = Settings(mode="development", data_dir=tmp_path_factory.mktemp("data"),
                        database_url=None, secret_key="test-secret", hold_hours=None)
    with serving(create_app(settings)) as base, \
            httpx.Client(base_url=base, timeout=30) as client:
        yield client


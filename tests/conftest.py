"""Shared fixtures: the real `lowdose` console script in a subprocess, and a real uvicorn
server on a free loopback port."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

LOWDOSE = Path(sys.executable).with_name("lowdose")


@dataclass(frozen=True)
class Run:
    """A finished `lowdose` process."""

    args: tuple[str, ...]
    code: int
    stdout: str
    stderr: str

    def json(self) -> Any:
        return json.loads(self.stdout)


def clean_env(data_dir: Path, **extra: str) -> dict[str, str]:
    """The environment without any LOWDOSE_* setting of the developer's, plus `extra`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("LOWDOSE_")}
    env["LOWDOSE_DATA_DIR"] = str(data_dir)
    env["COLUMNS"] = "100"  # Rich wraps at the terminal width; keep it fixed
    env.update(extra)
    return env


@pytest.fixture
def lowdose_env(tmp_path: Path) -> dict[str, str]:
    """The environment `lowdose` runs in: no developer settings, a fresh data dir."""
    return clean_env(tmp_path / "data")


@pytest.fixture(scope="session")
def lowdose_argv() -> list[str]:
    """How to start `lowdose`: the installed console script, else `python -m lowdose`."""
    return [str(LOWDOSE)] if LOWDOSE.exists() else [sys.executable, "-m", "lowdose"]


@pytest.fixture
def lowdose(tmp_path: Path, lowdose_argv: list[str],
            lowdose_env: dict[str, str]) -> Callable[..., Run]:
    """Run the console script: `lowdose("plan", "--json", stdin=..., env={...})`."""

    def run(*args: str, stdin: str | None = None, env: dict[str, str] | None = None) -> Run:
        done = subprocess.run(
            [*lowdose_argv, *args], input=stdin if stdin is not None else "", text=True,
            capture_output=True, env={**lowdose_env, **(env or {})}, timeout=60, cwd=tmp_path,
        )
        return Run(tuple(args), done.returncode, done.stdout, done.stderr)

    return run


@pytest.fixture
def free_port() -> int:
    """A loopback port nobody listens on right now (for a server started as a subprocess)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture(scope="session")
def serve_app() -> Callable[[Any], Any]:
    """`with serve_app(app) as url:` serves any ASGI app over real HTTP for the block."""
    return serving


@contextmanager
def serving(app: Any) -> Iterator[str]:
    """Serve an ASGI app with uvicorn in a thread on a free loopback port; yield its URL."""
    import uvicorn

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=20)
        sock.close()

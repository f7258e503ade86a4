"""Shared fixtures: the real `lowdose` console script in a subprocess, and a real uvicorn
server on a free loopback port."""

from __future__ import annotations

import socket
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from support import Run, clean_env, serving

LOWDOSE = Path(sys.executable).with_name("lowdose")


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

"""Without a PostgreSQL server the PostgreSQL half is skipped with a clear message; under CI
(`CI=true`) it fails instead. Runs pytest itself, pointed at a server that is not there."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).parent
NO_SERVER = "postgresql://nobody@127.0.0.1:9/postgres"  # the discard port: nothing listens


def _pytest(ci: bool) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items()
           if k not in ("CI", "PYTEST_XDIST_WORKER", "PYTEST_ADDOPTS")}
    env["LOWDOSE_TEST_POSTGRES_URL"] = NO_SERVER
    if ci:
        env["CI"] = "true"
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", "-rs",
         str(HERE / "test_store_schema.py"), "-k", "each_test_starts"],
        env=env, capture_output=True, text=True, timeout=120, cwd=HERE.parent.parent)


@pytest.mark.parametrize("ci", [False, True])
def test_a_missing_server_is_skipped_locally_and_fails_under_ci(ci: bool) -> None:
    run = _pytest(ci)
    if ci:
        assert run.returncode != 0, run.stdout
        assert "under CI the PostgreSQL half must run" in run.stdout
        assert "2 passed" in run.stdout  # the SQLite half still ran
    else:
        assert run.returncode == 0, run.stdout
        assert "2 passed, 2 skipped" in run.stdout
        assert "PostgreSQL is not reachable" in run.stdout

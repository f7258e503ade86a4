"""`lowdose demo` opens on the populated clinic: the sign-in page lists the demo accounts in
demo mode, and only there; every demo sign-in lands on real pages."""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from lowdose.api.app import create_app
from web.conftest import SECRET, Serve, csrf_of, settings_for

ACCOUNTS = {"database": "x", "accounts": [
    {"username": "demo-admin", "password": "pw-admin-123456", "role": "admin",
     "patient_id": None}]}


@pytest.mark.parametrize("mode", ["demo", "development"])
def test_demo_sign_ins_are_shown_in_demo_mode_only(tmp_path: Path, mode: str,
                                                   serve_app: Serve) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / "demo-accounts.json").write_text(json.dumps(ACCOUNTS))
    settings = settings_for(f"sqlite:///{tmp_path / 'db.sqlite3'}", data).model_copy(
        update={"mode": mode})
    with serve_app(create_app(settings)) as url:
        page = httpx.get(url + "/signin").text
    assert ("pw-admin-123456" in page) is (mode == "demo")
    assert ("Demo: synthetic data only" in page) is (mode == "demo")


@pytest.fixture
def demo_server(lowdose_argv: list[str], lowdose_env: dict[str, str],
                free_port: int, tmp_path: Path) -> Iterator[str]:
    """`lowdose demo` as a user runs it, serving on a free port."""
    env = {**lowdose_env, "LOWDOSE_SECRET_KEY": SECRET}
    process = subprocess.Popen(
        [*lowdose_argv, "demo", "--patients", "3", "--seed", "5", "--port", str(free_port)],
        env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    url = f"http://127.0.0.1:{free_port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(url + "/api/v1/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"lowdose demo did not start: {process.stdout.read()}"
                                     if process.stdout else "lowdose demo did not start")
            time.sleep(0.2)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=20)


def test_lowdose_demo_opens_on_the_populated_clinic(demo_server: str) -> None:
    signin = httpx.get(demo_server + "/signin").text
    assert "Demo sign-ins" in signin and "demo-admin" in signin
    accounts = _accounts(signin)
    homes = {"patient": ("/today", "Tonight's dose"), "admin": ("/admin/users", "demo-")}
    for role, (home, expected) in homes.items():
        username, password = next((u, p) for u, p, r in accounts if r == role)
        with httpx.Client(base_url=demo_server) as client:
            form = client.get("/signin")
            answer = client.post("/signin", data={"username": username, "password": password,
                                                  "csrf_token": csrf_of(form.text)})
            assert answer.headers["location"] == home
            page = client.get(home)
            assert page.status_code == 200 and expected in page.text


def _accounts(html: str) -> list[Any]:
    """(username, password, role) rows of the demo table."""
    import re

    rows = re.findall(r"<tr><td>(\w+)</td><td><code>([^<]+)</code></td><td><code>([^<]+)"
                      r"</code></td></tr>", html)
    return [(username, password, role) for role, username, password in rows]

"""Production mode refuses to start on defaults that are unsafe for a clinic, naming the
variable to set and never echoing a secret; development still starts with nothing set."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import ValidationError

from lowdose.api.app import create_app
from lowdose.settings import Settings
from support import Run, clean_env, serving

from .conftest import STRONG_KEY

SAFE = {"mode": "production", "database_url": "postgresql://lowdose@db.internal/lowdose",
        "secret_key": STRONG_KEY, "allowed_hosts": "ldn.clinic.example"}


def refusal(**changes: Any) -> dict[str, str]:
    """{field: message} of what production refuses in SAFE with `changes`."""
    values = {**SAFE, **changes}
    with pytest.raises(ValidationError) as refused:
        Settings(_env_file=None, **{k: v for k, v in values.items() if v is not None})
    return {".".join(map(str, e["loc"])): e["msg"] for e in refused.value.errors()}


def test_a_safe_production_configuration_is_accepted_and_tightens_the_defaults() -> None:
    settings = Settings(_env_file=None, **SAFE)
    assert settings.production
    assert settings.cookies_secure
    assert not settings.docs_enabled
    assert settings.json_logs
    assert settings.allowed_hosts == ["ldn.clinic.example"]


def test_development_needs_no_configuration_at_all(tmp_path: Path) -> None:
    settings = Settings(_env_file=None, data_dir=tmp_path)
    assert not settings.production
    assert (settings.cookies_secure, settings.docs_enabled, settings.json_logs) == (
        False, True, False)
    assert settings.resolved_database_url.startswith("sqlite:///")


@pytest.mark.parametrize(("changes", "field", "words"), [
    ({"secret_key": None}, "secret_key", "is required in production mode"),
    ({"secret_key": "changeme"}, "secret_key", "well-known default"),
    ({"secret_key": "test-secret"}, "secret_key", "well-known default"),
    ({"secret_key": "s3cr3t-but-short"}, "secret_key", "use at least 32"),
    ({"secret_key": "ab" * 20}, "secret_key", "too few different characters"),
    ({"database_url": None}, "database_url", "is required in production mode"),
    ({"allowed_hosts": "*"}, "allowed_hosts", 'not "*"'),
    ({"allowed_hosts": "ldn.clinic.example, *"}, "allowed_hosts", 'not "*"'),
    ({"secure_cookies": False}, "secure_cookies", "cannot be turned off"),
], ids=["no key", "changeme", "test key", "short key", "two letters", "no database",
        "any host", "any host among others", "cookies without Secure"])
def test_production_refuses_an_unsafe_setting_and_names_it(changes: dict[str, Any], field: str,
                                                           words: str) -> None:
    refused = refusal(**changes)
    assert list(refused) == [field]
    assert words in refused[field]


def test_the_secret_key_may_come_from_a_file_which_must_hold_a_strong_key(
        tmp_path: Path) -> None:
    key_file = tmp_path / "key"
    key_file.write_text(STRONG_KEY + "\n")
    settings = Settings(_env_file=None, **{**SAFE, "secret_key": None},
                        secret_key_file=key_file)
    assert settings.resolved_secret_key == STRONG_KEY
    key_file.write_text("changeme\n")
    assert "well-known default" in refusal(secret_key=None, secret_key_file=key_file)[
        "secret_key"]
    assert "is empty" in refusal(secret_key=None,
                                 secret_key_file=_write(tmp_path / "empty", ""))["secret_key"]
    assert "cannot be read" in refusal(secret_key=None,
                                       secret_key_file=tmp_path / "missing")["secret_key"]


def test_a_key_and_a_key_file_together_are_ambiguous(tmp_path: Path) -> None:
    key_file = _write(tmp_path / "key", STRONG_KEY)
    for mode in ("production", "development"):
        assert "not both" in refusal(mode=mode, secret_key_file=key_file)["secret_key"]


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


# ------------------------------------------------------------ the processes that start


def test_lowdose_serve_in_production_with_a_weak_key_exits_1_naming_the_variable(
        lowdose: Callable[..., Run]) -> None:
    weak = "my-own-clinic-key"
    done = lowdose("serve", "--port", "9", env={
        "LOWDOSE_MODE": "production", "LOWDOSE_SECRET_KEY": weak,
        "LOWDOSE_DATABASE_URL": "sqlite:////tmp/never-created.sqlite3",
        "LOWDOSE_ALLOWED_HOSTS": "ldn.clinic.example"})
    assert done.code == 1
    assert "LOWDOSE_SECRET_KEY" in done.stderr
    assert "at least 32" in done.stderr
    assert weak not in done.stderr + done.stdout  # the value is never echoed
    assert "Traceback" not in done.stderr


def test_importing_the_asgi_app_with_unsafe_settings_exits_1_naming_each_variable(
        tmp_path: Path) -> None:
    env = clean_env(tmp_path / "data", LOWDOSE_MODE="production",
                    LOWDOSE_SECRET_KEY="changeme")
    done = subprocess.run([sys.executable, "-c", "import lowdose.asgi"], env=env,
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 1
    for variable in ("LOWDOSE_SECRET_KEY", "LOWDOSE_DATABASE_URL", "LOWDOSE_ALLOWED_HOSTS"):
        assert variable in done.stderr
    assert "changeme" not in done.stderr
    assert "Traceback" not in done.stderr


def test_a_production_app_hides_the_docs_ui_keeps_the_contract_and_checks_the_host(
        tmp_path: Path) -> None:
    settings = Settings(_env_file=None, **{**SAFE, "database_url":
                                           f"sqlite:///{tmp_path / 'prod.sqlite3'}",
                                           "allowed_hosts": "ldn.clinic.example,127.0.0.1"})
    with serving(create_app(settings)) as url, httpx.Client(base_url=url) as client:
        assert client.get("/api/v1/docs").status_code == 404
        assert client.get("/api/v1/openapi.json").status_code == 200
        assert client.get("/api/v1/openapi.json",
                          headers={"Host": "ldn.clinic.example"}).status_code == 200
        elsewhere = client.get("/api/v1/openapi.json", headers={"Host": "evil.example"})
        assert elsewhere.status_code == 400
        assert elsewhere.headers["content-type"] == "application/problem+json"
        assert "Host header" in elsewhere.json()["detail"]
        # Probes connect by address: liveness and readiness answer whatever the Host.
        for probe in ("/api/v1/health", "/api/v1/ready"):
            assert client.get(probe, headers={"Host": "10.0.0.7:8000"}).status_code == 200

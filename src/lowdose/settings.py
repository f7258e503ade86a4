"""One typed settings module (design §3.5). Every setting comes from a LOWDOSE_* variable.

Development (the default) starts with no configuration at all. Production mode
(`LOWDOSE_MODE=production`) refuses to start on a default that is unsafe for a clinic, and
says which variable to set: a missing, short or well-known secret key, no explicit database,
no allowed host names, cookies without `Secure`. See docs/deploy.md.
"""

from __future__ import annotations

import os
import secrets
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

# "demo": `lowdose demo` serving its synthetic clinic; the sign-in page lists its accounts.
Mode = Literal["development", "production", "demo"]

# A key signs sessions and CSRF tokens: 32 characters of `secrets.token_urlsafe` carry about
# 190 bits; anything shorter is likely typed by hand.
MIN_SECRET_KEY_LENGTH = 32
# Values seen in examples and tutorials; a key someone else may know is no key.
KNOWN_DEFAULT_KEYS = frozenset({
    "changeme", "change-me", "change_me", "changethis", "secret", "secret-key", "secretkey",
    "test-secret", "dev", "development", "lowdose", "insecure", "password", "default",
})
MIB = 1024 * 1024


def default_data_dir() -> Path:
    """The user data dir: $XDG_DATA_HOME/lowdose, else ~/.local/share/lowdose."""
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "lowdose"


def is_production(info: ValidationInfo) -> bool:
    return info.data.get("mode") == "production"


def weak_key_reason(key: str) -> str | None:
    """Why `key` is unfit to sign production sessions, or None when it is fit."""
    if key.strip().casefold() in KNOWN_DEFAULT_KEYS:
        return "is a well-known default value"
    if len(key) < MIN_SECRET_KEY_LENGTH:
        return f"is {len(key)} characters long; use at least {MIN_SECRET_KEY_LENGTH}"
    if len(set(key)) < 8:
        return "repeats too few different characters to be secret"
    return None


KEY_HINT = ('generate one with: python -c "import secrets; print(secrets.token_urlsafe(48))"')


class Settings(BaseSettings):
    # Errors name the variable, never echo its value: it may be the secret key.
    model_config = SettingsConfigDict(env_prefix="LOWDOSE_", extra="ignore",
                                      hide_input_in_errors=True)

    # Fields are validated in this order; the production checks read `mode` first.
    mode: Mode = "development"
    data_dir: Path = Field(default_factory=default_data_dir)
    database_url: str | None = Field(default=None, validate_default=True)
    secret_key_file: Path | None = None
    secret_key: str | None = Field(default=None, validate_default=True)
    # Hours between the last LDN dose and planned opioid analgesia (clinical-facts §3e).
    hold_hours: float | None = Field(default=None, gt=0, le=24 * 14)
    # Host names the server answers to (the Host header), comma separated; "*" for any.
    allowed_hosts: Annotated[list[str], NoDecode] = Field(default=["*"], validate_default=True)
    # Cookies only over https. Unset: on in production, off in development (plain http).
    secure_cookies: bool | None = Field(default=None, validate_default=True)
    # The interactive API docs (Swagger UI). Unset: on in development, off in production.
    # The OpenAPI document itself is always served: it is the API's contract.
    api_docs: bool | None = None
    # Request bodies: larger ones are refused (413) before they are read to the end. FHIR
    # imports of a patient's whole record may be larger than a check-in ever is.
    max_body_bytes: int = Field(default=MIB, ge=1024)
    max_import_bytes: int = Field(default=16 * MIB, ge=1024)
    # JSON nested deeper than this is refused (422) before it is parsed; no contract of
    # lowdose nests deeper than about 10 (a FHIR Bundle).
    max_json_depth: int = Field(default=32, ge=4, le=1000)
    # Log lines: "json" (one object per line) or "text". Unset: json in production.
    log_format: Literal["json", "text"] | None = None
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    # Proxies whose X-Forwarded-For/-Proto are believed (uvicorn's forwarded_allow_ips).
    forwarded_allow_ips: str = "127.0.0.1"

    @field_validator("database_url")
    @classmethod
    def _explicit_database_in_production(cls, value: str | None,
                                         info: ValidationInfo) -> str | None:
        if not value and is_production(info):
            raise ValueError(
                "is required in production mode: a PostgreSQL URL "
                "(postgresql://user@host/lowdose), or sqlite:////absolute/path.sqlite3 for a "
                "one-machine practice; the default file in a home directory is for trying "
                "lowdose out")
        return value or None

    @field_validator("secret_key")
    @classmethod
    def _strong_key_in_production(cls, value: str | None,
                                  info: ValidationInfo) -> str | None:
        key_file = info.data.get("secret_key_file")
        if value and key_file:
            raise ValueError("set either LOWDOSE_SECRET_KEY or LOWDOSE_SECRET_KEY_FILE, "
                             "not both")
        if not is_production(info):
            return value
        if not value and not key_file:
            raise ValueError("is required in production mode (or LOWDOSE_SECRET_KEY_FILE "
                             f"naming a file that holds it); {KEY_HINT}")
        key = _read_key_file(key_file) if key_file else value or ""
        reason = weak_key_reason(key)
        if reason:
            where = f"the key in LOWDOSE_SECRET_KEY_FILE {key_file}" if key_file else "the key"
            raise ValueError(f"{where} {reason}; {KEY_HINT}")
        return value

    @field_validator("allowed_hosts", mode="before")
    @classmethod
    def _split_hosts(cls, value: object) -> object:
        if isinstance(value, str):
            return [host.strip() for host in value.split(",") if host.strip()]
        return value

    @field_validator("allowed_hosts")
    @classmethod
    def _named_hosts_in_production(cls, value: list[str], info: ValidationInfo) -> list[str]:
        if not value:
            raise ValueError("names no host; use \"*\" for any (development only)")
        if is_production(info) and "*" in value:
            raise ValueError("must name the host names of the server in production mode "
                             "(e.g. ldn.clinic.example), not \"*\"")
        return value

    @field_validator("secure_cookies")
    @classmethod
    def _secure_cookies_in_production(cls, value: bool | None,
                                      info: ValidationInfo) -> bool | None:
        if value is False and is_production(info):
            raise ValueError("cannot be turned off in production mode: session cookies must "
                             "only travel over https")
        return value

    @property
    def production(self) -> bool:
        return self.mode == "production"

    @property
    def cookies_secure(self) -> bool:
        """Whether cookies carry `Secure`: always in production."""
        return self.secure_cookies if self.secure_cookies is not None else self.production

    @property
    def docs_enabled(self) -> bool:
        return self.api_docs if self.api_docs is not None else not self.production

    @property
    def json_logs(self) -> bool:
        return (self.log_format or ("json" if self.production else "text")) == "json"

    @property
    def resolved_database_url(self) -> str:
        """The configured URL, else an embedded SQLite file in the data dir."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.data_dir / 'lowdose.sqlite3'}"

    @property
    def resolved_secret_key(self) -> str:
        """The configured secret; in development a per-data-dir random key kept on disk."""
        if self.secret_key:
            return self.secret_key
        if self.secret_key_file:
            return self.secret_key_file.read_text().strip()
        key_file = self.data_dir / "secret_key"
        if not key_file.exists():
            key_file.parent.mkdir(parents=True, exist_ok=True)
            key_file.write_text(secrets.token_urlsafe(48))
            key_file.chmod(0o600)
        return key_file.read_text().strip()


def _read_key_file(path: Path) -> str:
    try:
        key = path.read_text().strip()
    except OSError as error:
        raise ValueError(f"LOWDOSE_SECRET_KEY_FILE {path} cannot be read: "
                         f"{error.strerror}") from None
    if not key:
        raise ValueError(f"LOWDOSE_SECRET_KEY_FILE {path} is empty; {KEY_HINT}")
    return key


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()

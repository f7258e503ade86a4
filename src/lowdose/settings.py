"""One typed settings module (design §3.5). Every setting comes from a LOWDOSE_* variable."""

from __future__ import annotations

import os
import secrets
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


def default_data_dir() -> Path:
    """The user data dir: $XDG_DATA_HOME/lowdose, else ~/.local/share/lowdose."""
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "lowdose"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="LOWDOSE_", extra="ignore")

    mode: Literal["development", "production"] = "development"
    data_dir: Path = Field(default_factory=default_data_dir)
    database_url: str | None = None
    secret_key: str | None = None
    secret_key_file: Path | None = None
    # Hours between the last LDN dose and planned opioid analgesia (clinical-facts §3e).
    hold_hours: float | None = Field(default=None, gt=0, le=24 * 14)

    @field_validator("database_url")
    @classmethod
    def _blank_is_none(cls, value: str | None) -> str | None:
        return value or None

    @model_validator(mode="after")
    def _refuse_unsafe_production(self) -> Settings:
        if self.mode == "production" and not (self.secret_key or self.secret_key_file):
            raise ValueError(
                "LOWDOSE_SECRET_KEY (or LOWDOSE_SECRET_KEY_FILE) must be set in production mode"
            )
        return self

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


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()

"""docs/deploy.md cannot drift from the code: every setting and every command it relies on
exists, and every setting that exists is explained there."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

from lowdose.settings import Settings
from support import Run

DEPLOY = (Path(__file__).resolve().parents[2] / "docs" / "deploy.md").read_text()


def test_every_setting_is_explained_and_every_variable_named_exists() -> None:
    variables = {f"LOWDOSE_{name.upper()}" for name in Settings.model_fields}
    named = set(re.findall(r"LOWDOSE_[A-Z_]+[A-Z]", DEPLOY))
    assert variables - named == set(), "settings missing from docs/deploy.md"
    assert named - variables == set(), "docs/deploy.md names settings that do not exist"


def test_the_commands_the_guide_uses_exist(lowdose: Callable[..., Run]) -> None:
    for command in ("serve", "migrate", "backup", "restore", "users", "audit"):
        assert f"lowdose {command}" in DEPLOY
        done = lowdose(command, "--help")
        assert done.code == 0, (command, done.stderr)
    assert "--workers" in lowdose("serve", "--help").stdout

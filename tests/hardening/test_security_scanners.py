"""bandit finds nothing in src that is not justified in pyproject's [tool.bandit], and the
dependency audit tells a vulnerability, an unaudited dependency and a clean report apart."""

from __future__ import annotations

import importlib.util
import json
import re
import subprocess
import sys
import tomllib
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[2]


def test_bandit_reports_nothing_beyond_the_justified_skips() -> None:
    done = subprocess.run([sys.executable, "-m", "bandit", "-q", "-c", "pyproject.toml",
                           "-r", "src", "-f", "json"], cwd=ROOT, capture_output=True,
                          text=True, timeout=300, check=False)
    report = json.loads(done.stdout)
    findings = [f"{r['test_id']} {r['filename']}:{r['line_number']} {r['issue_text']}"
                for r in report["results"]]
    assert findings == []
    assert done.returncode == 0


def test_every_skipped_bandit_check_says_why() -> None:
    text = (ROOT / "pyproject.toml").read_text()
    skips = tomllib.loads(text)["tool"]["bandit"]["skips"]
    assert skips
    for check in skips:
        line = next(line for line in text.splitlines() if f'"{check}"' in line)
        assert re.search(r'",\s+#\s+\S.{20,}', line), f"{check} is skipped without a reason"


def audit_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("audit_dependencies",
                                                  ROOT / "scripts" / "audit_dependencies.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while being made
    spec.loader.exec_module(module)
    return module


def test_the_audit_reads_vulnerabilities_and_unaudited_packages_apart() -> None:
    audit = audit_script()
    # The shape of `pip-audit -f json`, as pip-audit 2.x writes it.
    report = {"dependencies": [
        {"name": "lowdose", "skip_reason": "Dependency not found on PyPI"},
        {"name": "jinja2", "version": "2.10", "vulns": [
            {"id": "GHSA-462w-v97r-4m45", "fix_versions": ["2.10.1"], "aliases": [],
             "description": "sandbox escape"}]},
        {"name": "httpx", "version": "0.28.1", "vulns": []},
        {"name": "mystery", "skip_reason": "Dependency not found on PyPI and could not be "
                                           "audited: mystery (1.0)"}], "fixes": []}
    found = audit.classify(report)
    assert found.vulnerable == ["jinja2 2.10: GHSA-462w-v97r-4m45 (fixed in 2.10.1)"]
    assert found.unaudited == ["mystery: Dependency not found on PyPI and could not be "
                               "audited: mystery (1.0)"]
    assert found.audited == 2
    clean = audit.classify({"dependencies": [{"name": "httpx", "version": "0.28.1",
                                              "vulns": []}]})
    assert (clean.vulnerable, clean.unaudited, clean.audited) == ([], [], 1)

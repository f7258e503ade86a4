"""`make audit`: pip-audit over the installed environment, read strictly.

pip-audit says "No known vulnerabilities found" even when it could audit nothing (a machine
without the vulnerability service, or behind a mirror that lacks it). This reads its JSON
report instead and tells the three cases apart:

- exit 0: every dependency was audited and none has a known vulnerability not listed in
  IGNORED below with its reason;
- exit 1: a known vulnerability (each printed with its fix versions);
- exit 0 with a NOTE (exit 3 with --strict): some dependencies could not be audited, e.g. no
  network; `.ci/run` prints the note and carries on, a release check passes --strict.
"""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass, field
from typing import Any

# Vulnerability id → why it does not affect lowdose. The one place a finding is accepted.
IGNORED: dict[str, str] = {}
# Packages that are not on PyPI, so there is nothing to audit: lowdose itself.
LOCAL = {"lowdose"}


@dataclass
class Audit:
    audited: int = 0
    vulnerable: list[str] = field(default_factory=list)
    unaudited: list[str] = field(default_factory=list)


def classify(report: dict[str, Any]) -> Audit:
    """What a `pip-audit -f json` report says, with IGNORED and LOCAL applied."""
    audit = Audit()
    for dependency in report.get("dependencies", []):
        name = dependency["name"]
        if name in LOCAL:
            continue
        if "skip_reason" in dependency:
            audit.unaudited.append(f"{name}: {dependency['skip_reason']}")
            continue
        audit.audited += 1
        for vuln in dependency.get("vulns", []):
            if vuln["id"] in IGNORED:
                continue
            fixed = ", ".join(vuln.get("fix_versions", [])) or "no fix yet"
            audit.vulnerable.append(f"{name} {dependency.get('version', '?')}: {vuln['id']} "
                                    f"(fixed in {fixed})")
    return audit


def main(argv: list[str]) -> int:
    strict = "--strict" in argv
    done = subprocess.run([sys.executable, "-m", "pip_audit", "-f", "json",
                           "--progress-spinner", "off"],
                          capture_output=True, text=True, check=False)
    try:
        report = json.loads(done.stdout)
    except json.JSONDecodeError:
        print(f"audit: pip-audit gave no report (exit {done.returncode}):\n{done.stderr}",
              file=sys.stderr)
        return 3 if strict else 0
    audit = classify(report)
    for finding in audit.vulnerable:
        print(f"VULNERABLE {finding}")
    if audit.vulnerable:
        return 1
    if audit.unaudited:
        print(f"NOTE: {len(audit.unaudited)} of {len(audit.unaudited) + audit.audited} "
              "dependencies could not be audited (no vulnerability data reachable from this "
              f"machine?), e.g. {audit.unaudited[0]}. Run `make audit` where PyPI's JSON API "
              "is reachable before a release.")
        return 3 if strict else 0
    print(f"audit: {audit.audited} dependencies audited, no known vulnerabilities")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

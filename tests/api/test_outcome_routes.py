"""Outcomes, flags and the proposed next step over real HTTP, on SQLite and PostgreSQL.

The API and `lowdose analyze` (design §3.3) must give the same numbers for the same diary, so
the test writes the check-ins through the API, exports the same ratings as a CSV and runs the
real command on it.
"""

from __future__ import annotations

import csv
import json
import math
import random
import subprocess
import sys
from datetime import date, timedelta
from pathlib import Path

from api.test_records import RecordServer, server  # noqa: F401  (fixture used by name)
from persistence.conftest import backend, isolated_database, templates  # noqa: F401

START = date(2025, 3, 1)


def _diary(client: RecordServer, days: int = 70) -> list[dict[str, object]]:
    """Three weeks before LDN, then treatment with a slow fall in pain; noisy but seeded."""
    rng = random.Random(7)
    url = f"/api/v1/patients/{client.cast.ids.alice}/checkins"
    headers = client.as_("patient")
    written = []
    for offset in range(days):
        day = START - timedelta(days=21) + timedelta(days=offset)
        treated = day >= START + timedelta(days=28)
        ratings = {"pain": min(10, max(0, round(6 - (2 if treated else 0) + rng.gauss(0, 1)))),
                   "fatigue": min(10, max(0, round(5 + rng.gauss(0, 1))))}
        body = {"date": day.isoformat(), "dose_taken": day >= START, "ratings": ratings}
        response = client.client.post(url, json=body, headers=headers)
        assert response.status_code == 201, response.text
        written.append(body)
    return written


def _as_csv(diary: list[dict[str, object]], path: Path) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        out = csv.writer(handle)
        out.writerow(["date", "measure", "value"])
        for entry in diary:
            ratings = entry["ratings"]
            assert isinstance(ratings, dict)
            for measure, value in ratings.items():
                out.writerow([entry["date"], measure, value])
    return path


def _close(a: object, b: object) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_close(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_close(x, y) for x, y in zip(a, b, strict=True))
    return a == b


def test_api_outcomes_equal_the_analyze_command_on_the_same_diary(
        server: RecordServer, tmp_path: Path) -> None:  # noqa: F811
    diary = _diary(server)
    api = server.client.get(f"/api/v1/patients/{server.cast.ids.alice}/outcomes",
                            params={"start": START.isoformat()},
                            headers=server.as_("clinician"))
    assert api.status_code == 200, api.text
    command = subprocess.run(
        [sys.executable, "-m", "lowdose", "analyze", str(_as_csv(diary, tmp_path / "d.csv")),
         "--start", START.isoformat(), "--json"],
        capture_output=True, text=True, check=True)
    from_api, from_cli = api.json(), json.loads(command.stdout)
    assert _close(from_api, from_cli), (from_api, from_cli)
    pain = next(m for m in from_api["measures"] if m["measure"] == "pain")
    assert pain["status"] == "ok" and pain["effect"]["estimate"] < 0


def test_outcomes_without_a_course_or_start_say_what_is_missing(
        server: RecordServer) -> None:  # noqa: F811
    response = server.client.get(f"/api/v1/patients/{server.cast.ids.alice}/outcomes",
                                 headers=server.as_("patient"))
    assert response.status_code == 422
    assert "start" in response.text


def test_flags_carry_level_reason_and_source(server: RecordServer) -> None:  # noqa: F811
    url = f"/api/v1/patients/{server.cast.ids.alice}"
    headers = server.as_("patient")
    today = date.today().isoformat()
    body = {"date": today, "dose_taken": True, "ratings": {"pain": 5},
            "side_effects": [{"name": "suicidal thoughts", "severity": 2}]}
    assert server.client.post(url + "/checkins", json=body, headers=headers).status_code == 201
    flags = server.client.get(url + "/flags", headers=server.as_("clinician"))
    assert flags.status_code == 200, flags.text
    assert flags.json(), "a red-flag symptom must raise a flag"
    first = flags.json()[0]
    assert first["level"] == "urgent"
    assert first["reason"] and first["sources"]


def test_a_start_too_late_to_analyse_is_422_naming_the_start_query(
        server: RecordServer) -> None:  # noqa: F811
    # §3.4: errors name the field. A GET has no body; the start (plus the onset lag) runs past
    # year 9999, so the error points at `query.start`, as `lowdose analyze` names --start.
    url = f"/api/v1/patients/{server.cast.ids.alice}/outcomes?start=9999-12-31"
    response = server.client.get(url, headers=server.as_("patient"))
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert [e["field"] for e in response.json()["errors"]] == ["query.start"]

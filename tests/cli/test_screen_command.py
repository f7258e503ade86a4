"""`lowdose screen PROFILE.json` (or `-`): verdicts from the cited facts, human and JSON
output, and bad input that exits 1 naming the field."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lowdose.knowledge.screening import load_screening_knowledge

RunLowdose = Callable[..., Any]
RULES = load_screening_knowledge().rules
AS_OF = "2025-06-02T09:00"
OPIOID_CODES = {"active-opioid", "recent-opioid", "opioid-dependence-treatment",
                "opioid-stop-date-unknown"}


def profile(*medications: dict[str, Any], **fields: Any) -> dict[str, Any]:
    return {"as_of": AS_OF, "medications": list(medications), **fields}


def screen_json(lowdose: RunLowdose, tmp_path: Path, document: Any,
                env: dict[str, str] | None = None) -> dict[str, Any]:
    path = tmp_path / "profile.json"
    path.write_text(json.dumps(document))
    run = lowdose("screen", str(path), "--json", env=env)
    assert run.code == 0, run.stderr
    result: dict[str, Any] = run.json()
    return result


def codes(result: dict[str, Any]) -> set[str]:
    return {f["code"] for f in result["findings"]}


@pytest.mark.parametrize(
    "text",
    [
        "Norco 5/325 mg every 6 h as needed",  # hydrocodone combination (naltrexone-label)
        "oxycodone 5 mg every 4 hours",
        "tramadol 50 mg twice a day",  # the label names tramadol
        "Suboxone 8/2 mg film daily",  # buprenorphine maintenance
    ],
)
def test_an_opioid_taken_now_is_a_contraindication(
    lowdose: RunLowdose, tmp_path: Path, text: str
) -> None:
    result = screen_json(lowdose, tmp_path, profile({"text": text, "last_taken": "2025-06-01"}))
    assert result["verdict"] == "contraindicated"
    opioid = [f for f in result["findings"] if f["level"] == "contraindicated"]
    assert opioid and opioid[0]["trigger"] == text
    assert "naltrexone-label" in opioid[0]["sources"]


@pytest.mark.parametrize(
    "text",
    [
        "Delsym 30 mg every 12 hours",  # dextromethorphan is not an opioid (mcclure-2023)
        "ibuprofen 400 mg as needed",
        "sertraline 50 mg daily",
        "levothyroxine 75 mcg every morning",
    ],
)
def test_non_opioids_are_not_flagged_as_opioids(
    lowdose: RunLowdose, tmp_path: Path, text: str
) -> None:
    result = screen_json(lowdose, tmp_path, profile({"text": text}))
    assert not codes(result) & OPIOID_CODES
    assert result["verdict"] != "contraindicated"


def test_a_stopped_short_acting_opioid_defers_the_start_by_the_opioid_free_interval(
    lowdose: RunLowdose, tmp_path: Path
) -> None:
    last = date(2025, 5, 30)
    result = screen_json(lowdose, tmp_path, profile(
        {"text": "tramadol 50 mg", "last_taken": last.isoformat(), "stopped": last.isoformat()}))
    assert result["verdict"] == "defer"
    days = RULES.interval_for(("tramadol",)).days
    assert result["earliest_start"] == (last + timedelta(days=days)).isoformat()


def test_an_unrecognised_medicine_needs_a_prescriber_never_ok(
    lowdose: RunLowdose, tmp_path: Path
) -> None:
    result = screen_json(lowdose, tmp_path, profile({"text": "Zorblaxin 10 mg daily"}))
    assert result["verdict"] == "specialist"
    assert "unrecognised-medicine" in codes(result)


def test_a_procedure_gets_the_hold_and_lowdose_hold_hours_changes_it(
    lowdose: RunLowdose, tmp_path: Path
) -> None:
    document = profile(ldn={"dose_mg": 4.5, "time": "22:00"},
                       procedures=[{"name": "knee replacement", "at": "2025-06-12T08:00",
                                    "opioids_expected": True}])
    default = screen_json(lowdose, tmp_path, document)["perioperative"]
    assert default["last_dose_by"] == "2025-06-08T22:00"  # 72 h, design §3.2
    shorter = screen_json(lowdose, tmp_path, document, env={"LOWDOSE_HOLD_HOURS": "48"})
    assert shorter["perioperative"]["hold_hours"] == 48
    assert shorter["perioperative"]["last_dose_by"] == "2025-06-09T22:00"


def test_the_hold_counts_real_hours_across_a_daylight_saving_change(
    lowdose: RunLowdose, tmp_path: Path
) -> None:
    # New York clocks went forward on 2025-03-09: Friday 07:30 to Monday 08:00 is 71.5 hours.
    document = {"as_of": "2025-03-01T09:00", "ldn": {"dose_mg": 4.5, "time": "07:30"},
                "procedures": [{"name": "hip replacement", "at": "2025-03-10T08:00",
                                "opioids_expected": True}]}
    result = screen_json(lowdose, tmp_path, document, env={"TZ": "America/New_York"})
    assert result["perioperative"]["last_dose_by"] == "2025-03-06T07:30"
    # The profile's own `timezone` wins over the machine's (here UTC: no change that night).
    in_file = screen_json(lowdose, tmp_path, {**document, "timezone": "America/New_York"},
                          env={"TZ": "UTC"})
    assert in_file["perioperative"]["last_dose_by"] == "2025-03-06T07:30"
    on_utc = screen_json(lowdose, tmp_path, document, env={"TZ": "UTC"})
    assert on_utc["perioperative"]["last_dose_by"] == "2025-03-07T07:30"


def test_the_profile_can_come_from_stdin(lowdose: RunLowdose) -> None:
    document = profile({"text": "Norco 5/325 mg", "last_taken": "2025-06-01"})
    run = lowdose("screen", "-", "--json", stdin=json.dumps(document))
    assert run.code == 0, run.stderr
    assert run.json()["verdict"] == "contraindicated"


def test_human_output_shows_verdict_findings_sources_and_reminder(
    lowdose: RunLowdose, tmp_path: Path
) -> None:
    path = tmp_path / "profile.json"
    path.write_text(json.dumps(profile({"text": "Norco 5/325 mg", "last_taken": "2025-06-01"})))
    run = lowdose("screen", str(path))
    assert run.code == 0, run.stderr
    text = " ".join(run.stdout.split())
    assert "Screening verdict: CONTRAINDICATED" in text
    assert "Norco 5/325 mg" in text
    assert "[naltrexone-label]" in text  # with its full citation
    assert "it does not make them" in text


def test_json_output_is_the_contract_and_nothing_else(lowdose: RunLowdose, tmp_path: Path) -> None:
    result = screen_json(lowdose, tmp_path, profile({"text": "ibuprofen 400 mg"}))
    assert {"verdict", "findings", "earliest_start", "perioperative"} <= set(result)
    for finding in result["findings"]:
        assert {"code", "level", "trigger", "matched", "message", "sources"} <= set(finding)


@pytest.mark.parametrize(
    ("content", "field"),
    [
        ('{"as_of": "2025-06-02T09:00",', "PROFILE"),  # not JSON
        ('{"medications": []}', "as_of"),
        ('{"as_of": "yesterday"}', "as_of"),
        ('{"as_of": "2025-06-02T09:00", "colour": "red"}', "colour"),
        ('{"as_of": "2025-06-02T09:00", "medications": [{"text": 42}]}', "medications.0.text"),
        ('{"as_of": "2025-06-02T09:00", "medications": [{}]}', "medications.0"),
        ('{"as_of": "2025-06-02T09:00", "medications": [{"text": "x", "dose": 1}]}',
         "medications.0.dose"),
        ('{"as_of": "2025-06-02T09:00", "ldn": {"dose_mg": -1}}', "ldn.dose_mg"),
        ('{"as_of": "2025-06-02T09:00", "procedures": [{"name": "knee"}]}', "procedures.0.at"),
        ('[1, 2, 3]', "(document)"),
    ],
)
def test_bad_profiles_exit_1_naming_the_field(
    lowdose: RunLowdose, tmp_path: Path, content: str, field: str
) -> None:
    path = tmp_path / "profile.json"
    path.write_text(content)
    run = lowdose("screen", str(path), "--json")
    assert run.code == 1
    assert f"error: {field}: " in run.stderr
    assert run.stdout == ""
    assert "Traceback" not in run.stderr


def test_a_missing_file_exits_1_naming_it(lowdose: RunLowdose, tmp_path: Path) -> None:
    run = lowdose("screen", str(tmp_path / "nope.json"))
    assert run.code == 1
    assert run.stderr.startswith("error: PROFILE: no such file")


def test_a_folder_or_a_binary_file_exits_1_naming_the_profile(
    lowdose: RunLowdose, tmp_path: Path
) -> None:
    binary = tmp_path / "profile.json"
    binary.write_bytes(b"\xff\xfe\x00profile")
    for path, problem in ((tmp_path, "is a folder"), (binary, "is not UTF-8")):
        run = lowdose("screen", str(path))
        assert run.code == 1
        assert run.stderr.startswith("error: PROFILE: ")
        assert problem in run.stderr


def test_no_profile_is_a_usage_error(lowdose: RunLowdose) -> None:
    run = lowdose("screen")
    assert run.code == 2


documents = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3)
    | st.dictionaries(st.sampled_from(["as_of", "medications", "text", "ldn", "age", "x"]),
                      inner, max_size=3),
    max_leaves=8,
)


@settings(max_examples=12, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(document=documents)
def test_any_json_on_stdin_is_screened_or_refused_never_a_traceback(
    lowdose: RunLowdose, document: Any
) -> None:
    # Floats include NaN and infinity, which json.dumps writes as bare words: handled too.
    run = lowdose("screen", "-", "--json", stdin=json.dumps(document))
    assert run.code in (0, 1), run.stderr
    assert "Traceback" not in run.stderr
    if run.code == 1:
        assert run.stderr.startswith("error: ")

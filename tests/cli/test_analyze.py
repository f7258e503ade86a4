"""`lowdose analyze DIARY.csv --start …` (design §3.3) on real CSV files: the same numbers as
the core analysis, and bad lines refused with exit 1 naming the line and the field."""

from __future__ import annotations

import json
import math
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pytest
import typer
from typer.testing import CliRunner

from lowdose.cli.analyze import read_diary, register
from lowdose.core.outcomes import analyze_outcomes
from lowdose.knowledge.instruments import load_instruments
from lowdose.knowledge.monitoring import load_monitoring_rules

START = date(2025, 1, 15)
runner = CliRunner()


def make_app() -> typer.Typer:
    app = typer.Typer()
    register(app)

    @app.callback()
    def main() -> None:
        """A one-command app still dispatches by name (`app analyze …`)."""

    return app


APP = make_app()


def invoke(*args: str):
    return runner.invoke(APP, ["analyze", *args])


def write_diary(path: Path, *, baseline_days=21, after_days=120, seed=0) -> Path:
    rng = np.random.default_rng(seed)
    lines = ["date,measure,value"]
    for measure, level, effect in (("pain", 6.5, -2.5), ("sleep", 4.0, 1.0), ("fatigue", 6, 0)):
        noise = 0.0
        for offset in range(-baseline_days, after_days):
            noise = 0.5 * noise + rng.normal() * math.sqrt(0.75)
            value = level + noise + (effect if offset >= 28 else 0.0)
            day = START + timedelta(days=offset)
            lines.append(f"{day.isoformat()},{measure},{min(max(round(value, 1), 0), 10)}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_json_output_is_the_core_analysis_of_the_file(tmp_path: Path):
    path = write_diary(tmp_path / "diary.csv")
    result = invoke(str(path), "--start", "2025-01-15", "--json")
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    instruments = load_instruments()
    expected = analyze_outcomes(read_diary(path, instruments), start=START,
                                instruments=instruments, rules=load_monitoring_rules())
    assert data == json.loads(json.dumps(expected.to_dict()))
    by_measure = {m["measure"]: m for m in data["measures"]}
    assert set(by_measure) == {"pain", "sleep", "fatigue"}
    pain = by_measure["pain"]
    assert pain["status"] == "ok" and pain["effect"]["interval"]["high"] < 0
    assert pain["n_days"] == 21 + 120 - 28
    assert {"baseline_mean", "treatment_mean", "effect", "n_days", "summary"} <= set(pain)


def test_human_output_names_each_measure_and_says_what_it_means(tmp_path: Path):
    path = write_diary(tmp_path / "diary.csv", baseline_days=5)
    result = invoke(str(path), "--start", "2025-01-15")
    assert result.exit_code == 0, result.stderr
    for text in ("pain", "sleep", "fatigue", "insufficient data", "What it means",
                 "a baseline needs at least 7 days", "ask your clinician"):
        assert text.lower() in " ".join(result.stdout.lower().split())


def test_too_short_a_baseline_is_insufficient_data_with_the_reason(tmp_path: Path):
    path = write_diary(tmp_path / "diary.csv", baseline_days=6)
    data = json.loads(invoke(str(path), "--start", "2025-01-15", "--json").stdout)
    for measure in data["measures"]:
        assert measure["status"] == "insufficient-data"
        assert measure["reason"].startswith("6 days recorded before LDN started on 2025-01-15")


def test_onset_days_moves_the_start_of_the_effect_window(tmp_path: Path):
    path = write_diary(tmp_path / "diary.csv")
    data = json.loads(invoke(str(path), "--start", "2025-01-15", "--onset-days", "42",
                             "--json").stdout)
    assert data["onset_days"] == 42 and data["effect_from"] == "2025-02-26"


GOOD = "date,measure,value\n2025-01-01,pain,4\n"


@pytest.mark.parametrize(("text", "field", "message"), [
    (GOOD + "2025-13-01,pain,4\n", "line 3: date", "'2025-13-01' is not a date"),
    (GOOD + "2025-01-02,pain,lots\n", "line 3: value", "'lots' is not a number"),
    (GOOD + "2025-01-02,pain,11\n", "line 3: value", "11 is outside the pain range 0 to 10"),
    (GOOD + "2025-01-02,sleep,-1\n", "line 3: value", "outside the sleep range"),
    (GOOD + "2025-01-02,pain,nan\n", "line 3: value", "not a finite number"),
    # a questionnaire total is a sum of whole-number answers
    (GOOD + "2025-01-02,phq9,13.5\n", "line 3: value", "13.5 is not a possible phq9 total"),
    (GOOD + "2025-01-02,phq9,28\n", "line 3: value", "28 is outside the phq9 range 0 to 27"),
    (GOOD + "2025-01-02, ,4\n", "line 3: measure", "is empty"),
    (GOOD + "2025-01-02,pain\n", "line 3", "expected 3 fields"),
    (GOOD + "\n2025-01-01,pain,5\n", "line 4", "the first is on line 2"),
    ("day,what,score\n2025-01-01,pain,4\n", "line 1", "header must be exactly"),
    ("", "line 1", "header must be exactly"),
])
def test_a_bad_line_exits_1_naming_the_line_and_field(tmp_path: Path, text, field, message):
    path = tmp_path / "diary.csv"
    path.write_text(text, encoding="utf-8")
    result = invoke(str(path), "--start", "2025-01-15")
    assert result.exit_code == 1
    assert result.stderr.startswith(f"error: {field}: ")
    assert message in result.stderr
    assert result.stdout == ""


@pytest.mark.parametrize(("args", "field"), [
    (["--start", "15/01/2025"], "--start"),
    (["--start", "2025-01-15", "--onset-days", "-3"], "--onset-days"),
])
def test_a_bad_option_exits_1_naming_it(tmp_path: Path, args, field):
    path = write_diary(tmp_path / "diary.csv")
    result = invoke(str(path), *args)
    assert result.exit_code == 1 and result.stderr.startswith(f"error: {field}: ")


def test_a_missing_file_exits_1(tmp_path: Path):
    result = invoke(str(tmp_path / "none.csv"), "--start", "2025-01-15")
    assert result.exit_code == 1 and "no such file" in result.stderr


def test_a_missing_start_is_a_usage_error(tmp_path: Path):
    path = write_diary(tmp_path / "diary.csv")
    assert invoke(str(path)).exit_code == 2


def test_a_spreadsheet_bom_and_header_case_are_accepted(tmp_path: Path):
    path = tmp_path / "diary.csv"
    path.write_text("\ufeffDate,Measure,Value\n2025-01-01,Pain,4\n", encoding="utf-8")
    rows = read_diary(path, load_instruments())
    assert [(r.day, r.measure, r.value) for r in rows] == [(date(2025, 1, 1), "pain", 4.0)]


CLINIC = """
id = "stiffness"
name = "Morning stiffness (0–5)"
kind = "rating"
direction = "lower-is-better"
licence = "The clinic's own rating."
sources = ["bennett-2009"]

[code]
system = "lowdose"
code = "clinic-stiffness"
display = "Morning stiffness"

[[items]]
id = "stiffness"
text = "How stiff were you this morning?"
minimum = 0
maximum = 5
"""


def test_a_clinic_instrument_folder_sets_range_and_direction(tmp_path: Path):
    folder = tmp_path / "instruments"
    folder.mkdir()
    (folder / "stiffness.toml").write_text(CLINIC, encoding="utf-8")
    path = tmp_path / "diary.csv"
    path.write_text(GOOD + "2025-01-02,stiffness,7\n", encoding="utf-8")
    result = invoke(str(path), "--start", "2025-01-15", "--instruments", str(folder))
    assert result.exit_code == 1
    assert "line 3: value: 7 is outside the stiffness range 0 to 5" in result.stderr
    path.write_text(GOOD + "2025-01-02,stiffness,3\n", encoding="utf-8")
    ok = invoke(str(path), "--start", "2025-01-15", "--instruments", str(folder), "--json")
    stiffness = next(m for m in json.loads(ok.stdout)["measures"]
                     if m["measure"] == "stiffness")
    assert stiffness["direction"] == "lower-is-better"


def test_the_command_loads_numpy_only_when_it_runs():
    import subprocess
    import sys

    code = ("import sys, typer; from lowdose.cli.analyze import register; "
            "register(typer.Typer()); print('numpy' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "False"


def test_human_output_shows_means_change_and_chance_for_analysed_measures(tmp_path: Path):
    path = write_diary(tmp_path / "diary.csv")
    result = invoke(str(path), "--start", "2025-01-15")
    assert result.exit_code == 0, result.stderr
    data = json.loads(invoke(str(path), "--start", "2025-01-15", "--json").stdout)
    pain = next(m for m in data["measures"] if m["measure"] == "pain")
    line = next(row for row in result.stdout.splitlines() if " pain " in row)
    assert f"{pain['baseline_mean']:.1f}" in line and f"{pain['treatment_mean']:.1f}" in line
    assert f"{pain['effect']['estimate']:+.1f}" in line
    assert f"{pain['effect']['p_mid_improvement'] * 100:.0f} %" in line
    assert "before–after comparison" in " ".join(result.stdout.split())


@pytest.mark.parametrize(("make", "message"), [
    (lambda p: p.mkdir(), "is a folder"),
    (lambda p: p.write_bytes(b"date,measure,value\n2025-01-01,pain,\xff\n"), "not UTF-8"),
    (lambda p: p.write_text("date,measure,value\n\n", encoding="utf-8"), "no diary rows"),
])
def test_an_unreadable_or_empty_diary_exits_1(tmp_path: Path, make, message):
    path = tmp_path / "diary.csv"
    make(path)
    result = invoke(str(path), "--start", "2025-01-15")
    assert result.exit_code == 1 and message in result.stderr


@pytest.mark.parametrize(("args", "field"), [
    # §3.3: exit 1 on bad input, the message naming the field (not "input").
    (["--start", "9999-12-31"], "--start"),
    (["--start", "2025-01-15", "--onset-days", "366"], "--onset-days"),
    (["--start", "2025-01-15", "--onset-days", "100000000"], "--onset-days"),
])
def test_a_start_or_onset_beyond_what_can_be_analysed_exits_1_naming_it(tmp_path: Path, args,
                                                                        field):
    # The onset lag is bounded as in GET /patients/{id}/outcomes (0–365 days).
    path = write_diary(tmp_path / "diary.csv")
    result = invoke(str(path), *args)
    assert result.exit_code == 1
    assert result.stderr.startswith(f"error: {field}: "), result.stderr
    assert result.stdout == ""


def test_human_output_never_shows_a_chance_as_certain(tmp_path: Path):
    # §3.3: a probability of an improvement of at least the MID. A large effect gives a
    # chance above 99 % and no change one below 1 %; the table said "100%" and "0%", which
    # read as certainty, while the summary under it says "more than 99 %" / "less than 1 %".
    lines = ["date,measure,value"]
    for offset in range(-21, 120):
        day = (START + timedelta(days=offset)).isoformat()
        wiggle = (offset % 3) * 0.5
        lines.append(f"{day},pain,{(2 if offset >= 28 else 8) + wiggle}")
        lines.append(f"{day},fatigue,{5 + wiggle}")
    path = tmp_path / "diary.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    data = json.loads(invoke(str(path), "--start", "2025-01-15", "--json").stdout)
    chances = {m["measure"]: m["effect"]["p_mid_improvement"] for m in data["measures"]}
    assert chances["pain"] > 0.99 and chances["fatigue"] < 0.01
    result = invoke(str(path), "--start", "2025-01-15")
    assert result.exit_code == 0, result.stderr
    rows = {row.split()[1]: row for row in result.stdout.splitlines()
            if row.startswith("│") and (" pain " in row or " fatigue " in row)}
    assert ">99 %" in rows["pain"] and "100 %" not in rows["pain"]
    assert "<1 %" in rows["fatigue"] and " 0 %" not in rows["fatigue"]


def test_a_line_the_csv_reader_cannot_read_exits_1_naming_the_line(tmp_path: Path):
    # §3.3: exit 1 on bad input naming the field, never a traceback. A field longer than
    # the CSV reader's limit (a pasted blob, a binary file renamed .csv) stopped the command
    # with `_csv.Error`.
    path = tmp_path / "diary.csv"
    path.write_text(GOOD + "2025-01-02,pain," + "9" * 200_000 + "\n", encoding="utf-8")
    result = invoke(str(path), "--start", "2025-01-15")
    assert result.exit_code == 1
    assert result.stderr.startswith("error: line 3: "), result.stderr
    assert "Traceback" not in result.stderr and result.stdout == ""

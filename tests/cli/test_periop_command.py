"""`lowdose periop`: the last dose before surgery, the note for the team, restart guidance."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from lowdose.knowledge.regimens import load_perioperative_facts

RunLowdose = Callable[..., Any]
FACTS = load_perioperative_facts()
SURGERY = "2025-06-12T08:00"
EARLY = "2025-06-02T09:00"


@pytest.mark.parametrize(
    ("dose_time", "hold", "last_dose_by"),
    [
        ("22:00", "72", "2025-06-08T22:00"),  # design §3.2; oral naltrexone 3 days (whately)
        ("22:00", "48", "2025-06-09T22:00"),  # one LDN prescriber's 48 h (ldndirect-surgery)
        ("08:00", "72", "2025-06-09T08:00"),  # exactly 72 h before still leaves the hold
        ("08:30", "72", "2025-06-08T08:30"),  # 08:30 on the 9th would be 30 minutes short
    ],
)
def test_last_dose_is_the_latest_dose_leaving_the_whole_hold(
    lowdose: RunLowdose, dose_time: str, hold: str, last_dose_by: str
) -> None:
    run = lowdose("periop", "--surgery", SURGERY, "--dose-time", dose_time, "--hold-hours",
                  hold, "--as-of", EARLY, "--json")
    assert run.code == 0, run.stderr
    out = run.json()
    assert out["last_dose_by"] == last_dose_by
    assert out["can_meet_hold"] is True
    assert out["hold_hours"] == float(hold)


@pytest.mark.parametrize("where", [["--timezone", "America/New_York"], []])
def test_a_spring_forward_night_inside_the_hold_does_not_shorten_it(
    lowdose: RunLowdose, where: list[str]
) -> None:
    # New York clocks went forward on 2025-03-09: Friday 07:30 to Monday 08:00 is only 71.5
    # real hours. Without --timezone the machine's zone (TZ) is the one used.
    run = lowdose("periop", "--surgery", "2025-03-10T08:00", "--dose-time", "07:30",
                  "--as-of", "2025-03-01T09:00", *where, "--json",
                  env={"TZ": "America/New_York"})
    assert run.code == 0, run.stderr
    assert run.json()["last_dose_by"] == "2025-03-06T07:30"


def test_an_unknown_time_zone_exits_1_naming_the_option(lowdose: RunLowdose) -> None:
    run = lowdose("periop", "--surgery", SURGERY, "--timezone", "Mars/Olympus", "--json")
    assert run.code == 1
    assert "--timezone" in run.stderr and "Mars/Olympus" in run.stderr


def test_defaults_are_the_bedtime_dose_and_the_cited_hold(lowdose: RunLowdose) -> None:
    run = lowdose("periop", "--surgery", SURGERY, "--as-of", EARLY, "--json")
    assert run.code == 0, run.stderr
    out = run.json()
    assert out["hold_hours"] == FACTS.default_hold_hours
    assert out["last_dose_by"].endswith(FACTS.default_dose_time.strftime("%H:%M"))
    assert set(FACTS.hold_sources) <= set(out["sources"])


def test_lowdose_hold_hours_overrides_the_default_hold(lowdose: RunLowdose) -> None:
    run = lowdose("periop", "--surgery", SURGERY, "--as-of", EARLY, "--json",
                  env={"LOWDOSE_HOLD_HOURS": "48"})
    assert run.code == 0, run.stderr
    assert run.json()["hold_hours"] == 48
    assert run.json()["last_dose_by"] == "2025-06-09T22:00"


def test_an_explicit_hold_beats_the_environment(lowdose: RunLowdose) -> None:
    run = lowdose("periop", "--surgery", SURGERY, "--as-of", EARLY, "--hold-hours", "96",
                  "--json", env={"LOWDOSE_HOLD_HOURS": "48"})
    assert run.code == 0, run.stderr
    assert run.json()["last_dose_by"] == "2025-06-07T22:00"


def test_too_late_to_hold_warns_the_team_about_opioid_blockade(lowdose: RunLowdose) -> None:
    # Last planned dose was 2025-06-08 22:00; on the 10th the 72 h hold can no longer be met.
    run = lowdose("periop", "--surgery", SURGERY, "--as-of", "2025-06-10T09:00",
                  "--last-taken", "2025-06-09T22:00", "--json")
    assert run.code == 0, run.stderr
    out = run.json()
    assert out["can_meet_hold"] is False
    assert out["last_taken"] == "2025-06-09T22:00"
    assert "blockade" in out["surgical_team_note"]


def test_human_output_has_the_note_restart_guidance_and_reminder(lowdose: RunLowdose) -> None:
    run = lowdose("periop", "--surgery", SURGERY, "--as-of", EARLY, "--dose", "4.5")
    assert run.code == 0, run.stderr
    text = " ".join(run.stdout.split())  # Rich wraps long lines
    assert "Last dose by 2025-06-08 22:00" in text
    assert "Note for the surgical team" in text
    assert "4.5 mg" in text
    assert "Restarting after surgery" in text
    assert "[whately-stead-2023]" in text
    assert "it does not make them" in text


def test_design_example_runs_without_as_of_after_the_surgery_date(lowdose: RunLowdose) -> None:
    # design §3.3's example surgery lies in the past today: still answered, hold not met.
    run = lowdose("periop", "--surgery", SURGERY, "--dose-time", "22:00", "--json")
    assert run.code == 0, run.stderr
    assert run.json()["last_dose_by"] == "2025-06-08T22:00"
    assert run.json()["can_meet_hold"] is False


@pytest.mark.parametrize(
    ("args", "env", "field"),
    [
        (["--surgery", "2025-06-12"], {}, "--surgery"),  # a date alone would mean midnight
        (["--surgery", "12/06/2025 8am"], {}, "--surgery"),
        (["--surgery", "2025-06-12T08:00+02:00"], {}, "--surgery"),
        (["--surgery", SURGERY, "--as-of", EARLY, "--dose-time", "25:00"], {}, "--dose-time"),
        (["--surgery", SURGERY, "--as-of", EARLY, "--hold-hours", "0"], {}, "--hold-hours"),
        (["--surgery", SURGERY, "--as-of", EARLY, "--hold-hours", "1000"], {}, "--hold-hours"),
        (["--surgery", SURGERY, "--as-of", EARLY, "--last-taken", "2025-06-03T22:00"], {},
         "--last-taken"),
        (["--surgery", SURGERY, "--as-of", EARLY], {"LOWDOSE_HOLD_HOURS": "three days"},
         "LOWDOSE_HOLD_HOURS"),
        (["--surgery", SURGERY, "--as-of", EARLY], {"LOWDOSE_HOLD_HOURS": "-5"},
         "LOWDOSE_HOLD_HOURS"),
    ],
)
def test_bad_values_exit_1_naming_the_option_or_variable(
    lowdose: RunLowdose, args: list[str], env: dict[str, str], field: str
) -> None:
    run = lowdose("periop", *args, "--json", env=env)
    assert run.code == 1
    assert run.stderr.startswith(f"error: {field}: ")
    assert run.stdout == ""
    assert "Traceback" not in run.stderr

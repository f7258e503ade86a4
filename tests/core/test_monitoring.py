"""Monitoring flags from a diary, one table per rule (clinical-facts §1c, §4; monitoring.toml)."""

from __future__ import annotations

import tomllib
from datetime import date, time, timedelta
from importlib import resources

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lowdose.core.diary import CheckIn, PlannedDose, SideEffect
from lowdose.core.instruments import score
from lowdose.core.monitoring import monitor
from lowdose.errors import InputError
from lowdose.knowledge.evidence import load_side_effects
from lowdose.knowledge.instruments import load_instruments
from lowdose.knowledge.monitoring import LEVELS, load_monitoring_rules

RULES = load_monitoring_rules()
COURSE = load_side_effects()
INSTRUMENTS = load_instruments()
TODAY = date(2025, 6, 30)
BEDTIME, MORNING = time(22, 0), time(8, 0)


def day(offset: int) -> date:
    """`offset` days before today (0 = today)."""
    return TODAY - timedelta(days=offset)


def diary(days: int, *, dose: float = 1.5, taken: bool = True, at: time = BEDTIME,
          effects: dict[int, list[tuple[str, int]]] | None = None,
          ratings: dict[int, dict[str, float]] | None = None,
          doses: dict[int, float] | None = None) -> list[CheckIn]:
    """Daily check-ins for the last `days` days, up to today; dicts are keyed by offset."""
    effects, ratings, doses = effects or {}, ratings or {}, doses or {}
    return [CheckIn(day(i), dose_taken=taken, dose_mg=doses.get(i, dose), dose_time=at,
                    ratings=ratings.get(i, {}),
                    side_effects=tuple(SideEffect(n, s) for n, s in effects.get(i, [])))
            for i in range(days - 1, -1, -1)]


def codes(flags) -> list[str]:
    return [f.code for f in flags]


def run(checkins, **kwargs):
    return monitor(checkins, today=TODAY, rules=RULES, course=COURSE, instruments=INSTRUMENTS,
                   **kwargs)


# ------------------------------------------------------------------------------ red flags


@pytest.mark.parametrize(("effects", "code"), [
    ([("yellow skin", 1)], "red-flag-hepatitis"),
    ([("Dark urine", 2)], "red-flag-hepatitis"),
    ([("jaundice (yellow eyes)", 2)], "red-flag-hepatitis"),
    ([("goosebumps", 1)], "red-flag-opioid-withdrawal"),
    ([("opioid withdrawal", 1)], "red-flag-opioid-withdrawal"),
    # three different withdrawal signs on one day, none a trigger on its own
    ([("sweating", 2), ("vomiting", 2), ("diarrhoea", 2)], "red-flag-opioid-withdrawal"),
    ([("hives", 2)], "red-flag-allergic-reaction"),
    ([("swollen tongue", 3)], "red-flag-allergic-reaction"),
    ([("suicidal thoughts", 1)], "red-flag-suicidal-thoughts"),
    ([("thoughts of self-harm", 2)], "red-flag-suicidal-thoughts"),
    ([("severe pain needing opioids", 3)], "red-flag-severe-pain-needing-opioids"),
])
def test_red_flag_signs_are_urgent(effects, code):
    flags = run(diary(10, effects={1: effects}))
    assert flags[0].code == code and flags[0].level == "urgent"
    assert flags[0].day == day(1) and "naltrexone-label" in flags[0].sources


# The usual ways people write each red flag down (clinical-facts §4), not only the label's words.
@pytest.mark.parametrize(("entry", "red_flag"), [
    *((entry, "hepatitis") for entry in [
        "yellow whites of my eyes", "eyes turned yellow", "yellowish skin", "dark pee",
        "dark-coloured urine", "dark colored urine", "brown urine", "tea-coloured urine",
        "pain in the upper right part of the belly", "right upper quadrant pain", "RUQ pain",
        "pain under my right ribs", "upper right abdominal pain"]),
    *((entry, "opioid-withdrawal") for entry in [
        "goose pimples", "gooseflesh", "dope sick", "opiate withdrawal"]),
    *((entry, "allergic-reaction") for entry in [
        "rash", "itchy rash", "lip swelling", "swelling of the face", "face swelling",
        "swollen throat", "tongue swelling", "anaphylactic", "can't breathe",
        "shortness of breath", "wheezing", "trouble swallowing", "difficulty swallowing",
        "hard to breathe"]),
    *((entry, "suicidal-thoughts") for entry in [
        "wanting to die", "don't want to live", "better off dead", "want to hurt myself",
        "harming myself", "self-harming", "thoughts of ending my life", "end it all",
        "thinking about killing myself", "wish I was dead"]),
    *((entry, "severe-pain-needing-opioids") for entry in [
        "unbearable pain", "excruciating pain", "extreme pain", "uncontrolled pain",
        "needed opioids", "needing opioids", "need an opioid", "need morphine"]),
])
def test_red_flags_are_raised_by_their_usual_wordings(entry, red_flag):
    flags = run(diary(10, effects={1: [(entry, 1)]}))
    assert (flags[0].code, flags[0].level) == (f"red-flag-{red_flag}", "urgent"), entry


@pytest.mark.parametrize(("note", "red_flag"), [
    ("My eyes have turned yellow since Tuesday.", "hepatitis"),
    ("I have no energy and my eyes are yellow", "hepatitis"),
    ("Honestly I don't want to live anymore", "suicidal-thoughts"),
    ("Came out in hives after the dose", "allergic-reaction"),
    ("Had a fall, unbearable pain in my hip", "severe-pain-needing-opioids"),
    ("Felt sweaty, threw up once and had diarrhoea", "opioid-withdrawal"),
])
def test_a_red_flag_written_in_the_note_is_urgent_too(note, red_flag):
    checkins = diary(10)
    checkins[-2] = CheckIn(day(1), True, 1.5, BEDTIME, note=note)
    flags = run(checkins)
    assert (flags[0].code, flags[0].level) == (f"red-flag-{red_flag}", "urgent"), note
    assert flags[0].day == day(1)


@pytest.mark.parametrize("note", [
    "No rash, no dark urine and not suicidal. Slept badly.",
    "I don't have yellow eyes any more",
    "Pain is less than it was, no severe pain today",
    "Not sweating, no vomiting, no diarrhoea",
    "Hurt myself in the garden; seasonal allergy is back",  # an accident, hay fever
])
def test_a_note_that_denies_a_red_flag_raises_none(note):
    checkins = diary(10)
    checkins[-2] = CheckIn(day(1), True, 1.5, BEDTIME, note=note)
    assert not any(f.level == "urgent" for f in run(checkins)), note


# Signs that are also common, mild LDN effects: on their own they raise no alarm.
ALONE_NOT_URGENT = {"unusual, severe tiredness", "agitation or restlessness you cannot control",
                    "sweating", "vomiting", "diarrhoea", "confusion"}


@pytest.mark.parametrize(("red_flag", "sign"), [
    (red.id, sign) for red in COURSE.red_flags for sign in red.signs
    if sign not in ALONE_NOT_URGENT])
def test_each_sign_people_are_shown_raises_its_red_flag_when_written_down(red_flag, sign):
    flags = run(diary(10, effects={1: [(sign, 1)]}))
    assert (flags[0].code, flags[0].level) == (f"red-flag-{red_flag}", "urgent"), sign


@pytest.mark.parametrize("effects", [
    [("sweats", 2), ("throwing up", 2), ("agitated", 1)],
    [("sweaty", 1), ("vomited", 2), ("diarrhea", 2)],
    [("restless", 1), ("shaking", 1), ("chills", 1)],
])
def test_withdrawal_signs_in_other_word_forms_still_make_the_cluster(effects):
    flags = run(diary(10, effects={1: effects}))
    assert (flags[0].code, flags[0].level) == ("red-flag-opioid-withdrawal", "urgent")


def test_two_wordings_of_one_withdrawal_sign_count_once():
    # agitation and restlessness are one sign; with diarrhoea that is two, below the three
    effects = [("agitation", 1), ("restlessness", 1), ("diarrhoea", 2)]
    assert not any(f.level == "urgent" for f in run(diary(10, effects={1: effects})))


@pytest.mark.parametrize("effects", [
    [("diarrhoea", 2)],  # a common mild LDN effect on its own, not withdrawal
    [("diarrhoea", 2), ("restlessness", 1)],  # two signs: below the three needed
    [("yellow skin", 0)],  # severity 0 records an absence
    [("vivid dreams", 1)],
])
def test_common_effects_alone_are_not_red_flags(effects):
    assert not any(f.level == "urgent" for f in run(diary(10, effects={1: effects})))


def test_a_red_flag_from_weeks_ago_is_no_longer_urgent():
    assert not any(f.level == "urgent" for f in run(diary(20, effects={10: [("hives", 2)]})))


def test_hepatitis_flag_tells_to_stop_and_contact_clinician():
    flag = run(diary(5, effects={0: [("dark urine", 2), ("yellow skin", 1)]}))[0]
    assert flag.reason.startswith("Signs of liver inflammation (dark urine and yellow skin): ")
    assert "Stop LDN" in flag.reason


# --------------------------------------------------------------------------- side effects


def test_a_side_effect_soon_after_a_step_up_is_an_expected_start_up_effect():
    checkins = diary(9, doses={i: 3.0 for i in range(6)},
                     effects={i: [("nausea", 1)] for i in range(4)})
    flag = next(f for f in run(checkins) if f.code == "side-effect-expected")
    assert flag.level == "info"
    assert f"2 days after the change to 3 mg on {day(5).isoformat()}" in flag.reason
    assert "polo-2019" in flag.sources


@pytest.mark.parametrize(("days", "expected"), [
    (14, "side-effect-expected"),
    (15, "side-effect-persisting"),
])
def test_a_side_effect_lasting_longer_than_its_course_is_persisting(days, expected):
    checkins = diary(days + 2, doses={i: 3.0 for i in range(days + 1)},
                     effects={i: [("headache", 1)] for i in range(days)})
    flag = next(f for f in run(checkins) if f.code.startswith("side-effect"))
    assert flag.code == expected
    assert flag.level == ("attention" if expected.endswith("persisting") else "info")


def test_one_side_effect_in_changing_words_is_one_run():
    # 16 days of nausea, written two ways: longer than the 14 days start-up effects last
    effects = {i: [("nausea" if i >= 8 else "feeling sick", 1)] for i in range(16)}
    checkins = diary(18, doses={i: 3.0 for i in range(17)}, effects=effects)
    flag = next(f for f in run(checkins) if f.code.startswith("side-effect"))
    assert flag.code == "side-effect-persisting" and "16 days" in flag.reason


def test_a_check_in_without_the_effect_ends_it_but_a_missing_day_does_not():
    checkins = diary(18, doses={i: 3.0 for i in range(17)},
                     effects={i: [("headache", 1)] for i in range(16)})
    # no check-in at all on one day in the middle: the headache run carries on
    gapped = [c for c in checkins if c.day != day(8)]
    assert "side-effect-persisting" in codes(run(gapped))
    # a check-in on that day without the headache: the run restarts after it
    cleared = [CheckIn(c.day, True, c.dose_mg, c.dose_time) if c.day == day(8) else c
               for c in checkins]
    assert "side-effect-persisting" not in codes(run(cleared))


def test_a_severe_side_effect_needs_attention():
    flags = run(diary(5, effects={0: [("headache", 3)]}))
    assert "side-effect-severe" in codes(flags)
    assert next(f for f in flags if f.code == "side-effect-severe").level == "attention"


def test_an_effect_not_linked_to_a_dose_change_or_not_listed_is_noted():
    unlisted = run(diary(5, doses={i: 3.0 for i in range(4)}, effects={0: [("itchy ears", 1)]}))
    assert "side-effect-unlinked" in codes(unlisted)
    late = run(diary(30, doses={i: 3.0 for i in range(28)}, effects={0: [("nausea", 1)]}))
    assert "side-effect-unlinked" in codes(late)


# ------------------------------------------------------------------------------------ sleep


@pytest.mark.parametrize(("days", "at", "expected"), [
    (8, BEDTIME, "sleep-suggest-morning"),  # more than 7 days in the evening
    (7, BEDTIME, None),  # not yet more than 5–7 days
    (8, MORNING, "side-effect-persisting"),  # already in the morning: no morning advice
])
def test_sleep_disturbed_more_than_7_days_suggests_morning_dosing(days, at, expected):
    checkins = diary(days + 3, at=at, doses={i: 3.0 for i in range(days + 2)},
                     effects={i: [("vivid dreams", 1)] for i in range(days)})
    flags = run(checkins)
    assert ("sleep-suggest-morning" in codes(flags)) is (expected == "sleep-suggest-morning")
    if expected:
        flag = next(f for f in flags if f.code == expected)
        assert flag.level == "attention" and flag.day == TODAY
    if expected == "sleep-suggest-morning":
        assert flag.sources == ("ldnrt-morning-dosing",)
        assert "morning" in flag.reason and f"for {days} days" in flag.reason


@pytest.mark.parametrize("entry", [
    "couldn't sleep", "trouble falling asleep", "difficulty sleeping", "sleepless nights",
    "woke up at night", "broken sleep", "hard to fall asleep", "not sleeping",
])
def test_sleep_trouble_in_everyday_words_suggests_morning_dosing(entry):
    checkins = diary(11, doses={i: 3.0 for i in range(10)},
                     effects={i: [(entry, 1)] for i in range(8)})
    assert "sleep-suggest-morning" in codes(run(checkins)), entry


@pytest.mark.parametrize("entry", ["felt sick", "feel sick", "fatigued", "worn out", "head hurts"])
def test_start_up_effects_in_everyday_words_are_recognised(entry):
    checkins = diary(9, doses={i: 3.0 for i in range(6)},
                     effects={i: [(entry, 1)] for i in range(4)})
    assert "side-effect-expected" in codes(run(checkins)), entry


def test_a_dose_after_midnight_is_a_bedtime_dose_not_a_morning_one():
    checkins = diary(11, at=time(0, 30), doses={i: 3.0 for i in range(10)},
                     effects={i: [("insomnia", 1)] for i in range(8)})
    assert "sleep-suggest-morning" in codes(run(checkins))


def test_different_sleep_complaints_on_successive_days_count_as_one_stretch():
    effects = {i: [("insomnia", 1)] if i % 2 else [("nightmares", 1)] for i in range(9)}
    flags = run(diary(12, doses={i: 3.0 for i in range(11)}, effects=effects))
    assert "sleep-suggest-morning" in codes(flags)


# --------------------------------------------------------------------------------- step back


def step_up(after_effects=None, after_ratings=None, before_ratings=None, later_dose=None,
            effect_days=7):
    """1.5 mg up to 8 days ago, 3 mg from 7 days ago (offset 6) onwards."""
    doses = {i: 3.0 for i in range(7)}
    if later_dose is not None:
        doses[0] = later_dose
    ratings = {i: dict(before_ratings or {}) for i in range(7, 14)}
    ratings |= {i: dict(after_ratings or {}) for i in range(7)}
    effects = {i: list(after_effects or []) for i in range(effect_days)}
    return diary(14, doses=doses, effects=effects, ratings=ratings)


@pytest.mark.parametrize(("kwargs", "flagged"), [
    ({"after_effects": [("headache", 1)]}, True),
    ({"after_effects": [("bloating", 1)], "effect_days": 5}, False),  # 5/7 < 1 a day more
    ({"before_ratings": {"pain": 5}, "after_ratings": {"pain": 7}}, True),  # 2 points = MID
    ({"before_ratings": {"pain": 5}, "after_ratings": {"pain": 6}}, False),
    ({"before_ratings": {"sleep": 7}, "after_ratings": {"sleep": 4}}, True),  # higher is better
    ({"before_ratings": {"sleep": 4}, "after_ratings": {"sleep": 7}}, False),
    ({"after_effects": [("headache", 1), ("nausea", 1)], "later_dose": 1.5}, False),
])
def test_worse_after_a_step_up_suggests_stepping_back(kwargs, flagged):
    flags = run(step_up(**kwargs))
    assert ("worse-after-step-up" in codes(flags)) is flagged
    if flagged:
        flag = next(f for f in flags if f.code == "worse-after-step-up")
        assert flag.level == "attention"
        assert "previous dose (1.5 mg)" in flag.reason and "3 mg" in flag.reason
        assert "ldnrt-pharmacist-titration" in flag.sources


# ------------------------------------------------------------------ adherence and check-ins


def with_missed(missed_offsets, days=14):
    return [CheckIn(c.day, c.day not in {day(i) for i in missed_offsets}, c.dose_mg, c.dose_time)
            for c in diary(days)]


@pytest.mark.parametrize(("missed", "low", "streak"), [
    ([], False, False),
    ([1, 5], False, False),  # 12 of 14 = 86 %
    ([1, 4, 7], True, False),  # 11 of 14 = 79 %
    ([1, 4, 7, 10], True, False),
    ([1, 2, 3], True, True),  # three days in a row (and 11 of 14)
    ([1, 2], False, False),
    ([0, 1, 2, 3, 8], True, True),
])
def test_adherence_below_80_percent_and_missed_streaks_need_attention(missed, low, streak):
    flags = run(with_missed(missed))
    assert ("adherence-low" in codes(flags)) is low
    assert ("missed-doses" in codes(flags)) is streak
    for flag in flags:
        if flag.code in ("adherence-low", "missed-doses"):
            assert flag.level == "attention" and flag.sources == ()


def test_adherence_counts_only_recorded_days_and_needs_a_week_of_them():
    checkins = [c for c in with_missed([1, 2]) if c.day >= day(5)]  # 6 recorded days
    assert "adherence-low" not in codes(run(checkins))


@pytest.mark.parametrize(("last", "level"), [
    (0, None), (2, None), (3, "info"), (6, "info"), (7, "attention"), (20, "attention"),
])
def test_an_overdue_check_in_is_flagged_by_how_long_it_is_missing(last, level):
    checkins = [c for c in diary(30) if c.day <= day(last)]
    overdue = [f for f in run(checkins) if f.code == "checkin-overdue"]
    assert [f.level for f in overdue] == ([level] if level else [])


def test_no_check_in_at_all_needs_attention():
    flags = run([])
    assert [(f.code, f.level) for f in flags] == [("checkin-overdue", "attention")]


# ---------------------------------------------------------------------------- titration


PLAN = (PlannedDose(day(20), 1.5), PlannedDose(day(6), 3.0), PlannedDose(TODAY + timedelta(7),
                                                                          4.5))


@pytest.mark.parametrize(("recorded", "due"), [(1.5, True), (3.0, False), (4.5, False)])
def test_a_titration_step_is_due_when_the_recorded_dose_is_below_the_plan(recorded, due):
    flags = run(diary(10, dose=recorded), plan=PLAN)
    assert ("titration-step-due" in codes(flags)) is due
    if due:
        flag = next(f for f in flags if f.code == "titration-step-due")
        assert flag.level == "info" and "3 mg" in flag.reason and "1.5 mg" in flag.reason


def test_a_step_due_with_ongoing_side_effects_says_ask_before_increasing():
    flags = run(diary(10, effects={0: [("headache", 1)]}), plan=PLAN)
    flag = next(f for f in flags if f.code == "titration-step-due")
    assert "ask your clinician before increasing" in flag.reason


def test_no_step_up_is_suggested_while_worse_after_the_last_one():
    plan = (PlannedDose(day(13), 1.5), PlannedDose(day(6), 3.0), PlannedDose(day(0), 4.5))
    flags = run(step_up(after_effects=[("headache", 2)]), plan=plan)
    assert "worse-after-step-up" in codes(flags)
    assert "titration-step-due" not in codes(flags)


def test_a_step_starting_today_is_announced_without_a_recorded_dose():
    plan = (PlannedDose(day(7), 1.5), PlannedDose(TODAY, 3.0))
    checkins = [CheckIn(c.day, c.dose_taken) for c in diary(7)]
    flag = next(f for f in run(checkins, plan=plan) if f.code == "titration-step-due")
    assert "starts today" in flag.reason


# ----------------------------------------------------------------------------- all flags


def test_questionnaire_flags_join_the_diary_flags():
    phq = score(INSTRUMENTS["phq9"], {str(i): 0 for i in range(1, 9)} | {"9": 1}, day(1))
    old = score(INSTRUMENTS["phq9"], {str(i): 0 for i in range(1, 9)} | {"9": 1}, day(30))
    assert codes(run(diary(3), scores=[phq])) == ["phq9-self-harm-thoughts"]
    assert codes(run(diary(3), scores=[old])) == []


def test_flags_come_most_severe_first_with_level_reason_sources_and_date():
    checkins = diary(12, doses={i: 3.0 for i in range(11)},
                     effects={i: [("vivid dreams", 1)] for i in range(9)} | {
                         0: [("vivid dreams", 1), ("hives", 2), ("itchy ears", 1)]})
    flags = run(checkins, plan=PLAN)
    assert [f.level for f in flags] == sorted((f.level for f in flags), key=LEVELS.index)
    text = resources.files("lowdose.knowledge").joinpath("data", "sources.toml")
    known = set(tomllib.loads(text.read_text("utf-8"))["sources"])
    for flag in flags:
        assert flag.reason and set(flag.sources) <= known
        assert set(flag.to_dict()) == {"code", "level", "reason", "sources", "date"}
    assert {"red-flag-allergic-reaction", "sleep-suggest-morning",
            "side-effect-unlinked"} <= set(codes(flags))


def test_every_sleep_effect_and_the_withdrawal_cluster_name_entries_of_side_effects_toml():
    ids = {effect.id for effect in COURSE.side_effects}
    assert set(RULES.side_effects.sleep_effects) <= ids
    assert RULES.red_flags.withdrawal_cluster.red_flag in {red.id for red in COURSE.red_flags}


@pytest.mark.parametrize(("effect", "field"), [
    (SideEffect(" ", 1), "checkins.2.side_effects.0.name"),
    (SideEffect("nausea", 4), "checkins.2.side_effects.0.severity"),
])
def test_a_blank_or_out_of_range_side_effect_is_refused(effect, field):
    checkins = [*diary(2), CheckIn(TODAY + timedelta(1), True, side_effects=(effect,))]
    with pytest.raises(InputError) as error:
        run(checkins)
    assert error.value.field == field


def test_two_check_ins_for_one_day_are_refused():
    checkins = [*diary(3), CheckIn(TODAY, True)]
    with pytest.raises(InputError) as error:
        run(checkins)
    assert error.value.field == "checkins.3.date"


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.integers(45, 400), st.sampled_from(["hives", "nausea", ""])),
                max_size=20, unique_by=lambda t: t[0]))
def test_check_ins_older_than_the_window_do_not_change_the_flags(old):
    recent = diary(20, effects={3: [("nausea", 2)], 0: [("headache", 1)]})
    older = [CheckIn(day(i), False, 1.5, BEDTIME,
                     side_effects=(SideEffect(name, 3),) if name else ()) for i, name in old]
    assert run(older + recent) == run(recent)


def test_without_a_recorded_dose_a_step_that_started_earlier_is_not_guessed_at():
    plan = (PlannedDose(day(7), 1.5), PlannedDose(day(2), 3.0))
    checkins = [CheckIn(c.day, c.dose_taken) for c in diary(7)]
    assert "titration-step-due" not in codes(run(checkins, plan=plan))


def test_sleep_disturbed_since_the_first_check_in_in_the_window_counts_from_there():
    plan = (PlannedDose(day(12), 1.5),)
    checkins = [CheckIn(c.day, True, None, BEDTIME, side_effects=(SideEffect("insomnia", 1),))
                for c in diary(10)]
    flags = run(checkins, plan=plan)
    flag = next(f for f in flags if f.code == "sleep-suggest-morning")
    assert "for 10 days" in flag.reason


def test_every_rule_cites_sources_that_exist_and_policy_rules_cite_none():
    text = resources.files("lowdose.knowledge").joinpath("data", "sources.toml")
    known = set(tomllib.loads(text.read_text("utf-8"))["sources"])
    assert RULES.cited() and set(RULES.cited()) <= known
    # thresholds no study sets are marked policy in the data and cite nothing
    assert RULES.adherence.sources == () and RULES.checkins.sources == ()

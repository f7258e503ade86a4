"""Properties of the pure report model (no database): whatever the diary, the counts add up,
and whatever the patient typed, the PDF is made."""

from __future__ import annotations

import io
from datetime import UTC, date, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st
from pypdf import PdfReader

from lowdose.core.diary import CheckIn, SideEffect
from lowdose.core.screening import Profile, screen
from lowdose.knowledge.evidence import load_side_effects
from lowdose.knowledge.screening import load_screening_knowledge
from lowdose.reports.model import RECENT_NOTES, VisitReport, build_visit_report
from lowdose.reports.pdf import render_pdf

START = date(2025, 3, 1)
NOW = datetime(2025, 6, 2, 9, tzinfo=UTC)
SCREEN = screen(Profile(as_of=datetime(2025, 6, 2, 9)), load_screening_knowledge())
COURSE = load_side_effects()

texts = st.text(st.characters(exclude_categories=("Cs",)), max_size=40)
days = st.builds(
    CheckIn,
    day=st.dates(date(2025, 1, 1), date(2025, 6, 1)),
    dose_taken=st.sampled_from([None, True, False]),
    dose_mg=st.sampled_from([None, 1.5, 3.0]),
    ratings=st.dictionaries(st.sampled_from(["pain", "sleep"]), st.integers(0, 10)),
    side_effects=st.lists(st.builds(SideEffect, st.sampled_from(
        ["vivid dreams", "Headache", "headache", "odd taste"]), st.integers(0, 3)),
        max_size=3, unique_by=lambda e: e.name.casefold()).map(tuple),
    note=texts)
diaries = st.lists(days, max_size=60, unique_by=lambda c: c.day).map(
    lambda cs: sorted(cs, key=lambda c: c.day))


def model(diary: list[CheckIn], name: str = "Test Patient") -> VisitReport:
    return build_visit_report(
        patient_id=1, patient_name=name, synthetic=True, generated_at=NOW, diary=diary,
        plan_steps=[{"from": "2025-03-01", "to": None, "dose_mg": 1.5, "time": "22:00"}],
        ldn_start=START, outcomes=None, flags=[], screen=SCREEN, procedures=[], course=COURSE)


@settings(max_examples=150, deadline=None)
@given(diaries)
def test_the_counts_add_up(diary: list[CheckIn]) -> None:
    report = model(diary)
    on_ldn = [c for c in diary if c.day >= START and c.dose_taken is not None]
    adherence = report.adherence
    assert adherence.recorded == len(on_ldn)
    assert adherence.taken == sum(1 for c in on_ldn if c.dose_taken)
    assert sum(r for _, _, r in adherence.weekly) == adherence.recorded
    assert sum(t for _, t, _ in adherence.weekly) == adherence.taken
    assert adherence.longest_missed_run <= adherence.recorded - adherence.taken
    for row in report.side_effects:
        felt = [c.day for c in diary if any(e.name.casefold() == row.name.casefold()
                                            and e.severity > 0 for e in c.side_effects)]
        assert (row.days, row.first, row.last) == (len(felt), felt[0], felt[-1])
    noted = [c for c in diary if c.note.strip()]
    assert [n.day for n in report.notes] == [c.day for c in noted][-RECENT_NOTES:]
    assert report.measures == () and report.measures_note


def test_a_missed_run_counts_consecutive_days_only() -> None:
    missed = [CheckIn(START + timedelta(days=n), dose_taken=n not in (2, 3, 4, 7, 9))
              for n in range(12)]
    assert model(missed).adherence.longest_missed_run == 3


@settings(max_examples=12, deadline=None)
@given(diaries, texts.filter(str.strip))
def test_any_text_the_patient_typed_still_makes_a_pdf(diary: list[CheckIn], name: str) -> None:
    pdf = render_pdf(model(diary, name))
    assert len(PdfReader(io.BytesIO(pdf)).pages) >= 1


def test_every_opioid_finding_of_the_screen_is_an_event_on_the_report() -> None:
    # What the screen says about opioids (in use, stopped, suspected, tested, a depot, a recent
    # operation) belongs on the report's timeline, not only in the findings table.
    profile = Profile(as_of=datetime(2025, 6, 2, 9), conditions=(
        "positive urine opioid screen", "opioid-induced constipation",
        "history of chronic opioid therapy", "back pain treated with oxycodone"))
    screened = screen(profile, load_screening_knowledge())
    codes = {f.code for f in screened.findings}
    assert {"opioid-test-positive", "opioid-use-suspected", "opioid-use-history",
            "opioid-in-conditions"} <= codes
    report = build_visit_report(
        patient_id=1, patient_name="Test Patient", synthetic=True, generated_at=NOW, diary=[],
        plan_steps=[], ldn_start=None, outcomes=None, flags=[], screen=screened, procedures=[],
        course=COURSE)
    assert len([e for e in report.events if e.kind == "opioid"]) == len(
        [f for f in screened.findings if "opioid" in f.code])

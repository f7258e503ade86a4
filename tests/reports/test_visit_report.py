"""The visit report's content equals the analyses the API serves, and reading it is a policy-
checked, audited use case (SQLite and PostgreSQL)."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from lowdose.services import outcomes, reports, screening
from lowdose.services.errors import Forbidden, NotFound
from lowdose.store.models import AuditEvent
from persistence.conftest import Cast

from .conftest import LDN_START, MARKUP_NOTE, build_history


def test_every_number_is_the_outcome_analysis_own(cast: Cast) -> None:
    history = build_history(cast)
    ctx = cast.ctx("clinician")
    report = reports.visit_report_model(cast.db, ctx, history.patient_id)
    analysis = outcomes.analyze_patient(cast.db, ctx, history.patient_id)
    assert report.ldn_start == LDN_START == analysis.start
    assert report.effect_from == analysis.effect_from
    assert [m.measure for m in report.measures] == ["fatigue", "pain", "sleep"]
    for row, measure in zip(report.measures, analysis.measures, strict=True):
        effect = measure.effect
        assert effect is not None and row.status == "ok"
        assert (row.baseline_mean, row.treatment_mean, row.estimate, row.low, row.high,
                row.p_mid) == (effect.reference_mean, effect.compared_mean, effect.estimate,
                               effect.low, effect.high, effect.p_mid)
        assert row.mid_points == (measure.mid.points if measure.mid else None)
        assert (row.n_baseline, row.n_treatment) == (measure.phases[0].days,
                                                     measure.phases[2].days)
        assert row.summary == measure.summary
    # The synthetic diary improves pain by 2.5 points after the onset: the report says so.
    pain = next(m for m in report.measures if m.measure == "pain")
    assert pain.estimate is not None and pain.estimate < -1.5


def test_flags_and_screen_are_those_of_the_record(cast: Cast) -> None:
    history = build_history(cast)
    ctx = cast.ctx("clinician")
    report = reports.visit_report_model(cast.db, ctx, history.patient_id)
    assert list(report.flags) == outcomes.patient_flags(cast.db, ctx, history.patient_id)
    screened = screening.screen_patient(cast.db, ctx, history.patient_id)
    assert report.screen_verdict == screened.result.verdict
    assert [f.code for f in report.screen_findings] == [f.code for f in screened.result.findings]
    kinds = {e.kind for e in report.events}
    assert {"procedure", "hold", "opioid"} <= kinds  # surgery, its LDN hold, Norco last week


def test_dose_steps_adherence_and_side_effects(cast: Cast) -> None:
    history = build_history(cast)
    report = reports.visit_report_model(cast.db, cast.ctx("clinician"), history.patient_id)
    assert [(s.dose_mg, s.start.isoformat()) for s in report.steps] == [
        (1.5, "2025-02-01"), (3.0, "2025-02-08"), (4.5, "2025-02-15")]
    adherence = report.adherence
    assert adherence.recorded == (history.days - (LDN_START - report.first_day).days)
    assert adherence.taken == len(report.doses_taken)
    assert 0.8 < adherence.taken / adherence.recorded < 1.0
    assert sum(t for _, t, _ in adherence.weekly) == adherence.taken
    names = {row.name for row in report.side_effects}
    assert names <= {"vivid dreams", "headache"} and names
    dreams = next(r for r in report.side_effects if r.name == "vivid dreams")
    assert dreams.known_as == "Vivid dreams" and "first nights" in dreams.expected_onset
    assert report.notes[-1].text == MARKUP_NOTE
    assert any("self-reported" in line or "entered by the patient" in line
               for line in report.uncertainty)


def test_a_record_without_a_course_or_diary_still_reports(cast: Cast) -> None:
    report = reports.visit_report_model(cast.db, cast.ctx("clinician"), cast.ids.bob)
    assert report.measures == () and report.measures_note is not None
    assert report.steps == () and report.adherence.percent is None
    assert reports.visit_report(cast.db, cast.ctx("clinician"), cast.ids.bob)[:5] == b"%PDF-"


@pytest.mark.parametrize("persona", ["outsider", "admin", "other_clinician", "second_patient",
                                     "operator"])
def test_only_the_patient_and_their_care_team_get_the_report(cast: Cast, persona: str) -> None:
    with pytest.raises((Forbidden, NotFound)):
        reports.visit_report(cast.db, cast.ctx(persona), cast.ids.alice)
    with cast.db.transaction(write=False) as session:
        refused = session.scalars(select(AuditEvent).where(
            AuditEvent.action == "report.visit")).all()
    assert [(e.outcome, e.patient_id) for e in refused] == [("denied", cast.ids.alice)]


@pytest.mark.parametrize("persona", ["patient", "clinician", "team_admin"])
def test_reading_the_report_is_one_audited_event(cast: Cast, persona: str) -> None:
    reports.visit_report(cast.db, cast.ctx(persona), cast.ids.alice)
    with cast.db.transaction(write=False) as session:
        events = session.scalars(select(AuditEvent).where(
            AuditEvent.action == "report.visit")).all()
    assert [(e.outcome, e.patient_id, e.actor_user_id) for e in events] == [
        ("allowed", cast.ids.alice, cast.user(persona).id)]

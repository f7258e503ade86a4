"""The visit report of one patient (issue 6): the record, its outcome analysis, today's flags
and the safety screen, read in one audited transaction and laid out as a PDF.

The numbers are the same calls `analyze_patient`, `patient_flags` and `screen_patient` make, so
the report never disagrees with the API or the panel. Reading the report is READ_RECORD, and
it is audited as `report.visit` (one event, whatever the report contains).
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import select

from lowdose.core.diary import PlannedDose, observations
from lowdose.core.monitoring import monitor
from lowdose.core.outcomes import analyze_outcomes
from lowdose.core.screening import screen
from lowdose.knowledge.evidence import load_side_effects
from lowdose.knowledge.instruments import load_instruments
from lowdose.knowledge.monitoring import load_monitoring_rules
from lowdose.knowledge.screening import load_screening_knowledge
from lowdose.reports.model import Procedure, VisitReport, build_visit_report
from lowdose.security.policy import PatientAction
from lowdose.services._access import Access, patient_access
from lowdose.services.context import Context
from lowdose.services.courses import _courses, current_plan
from lowdose.services.outcomes import _diary
from lowdose.services.procedures import planned_procedures
from lowdose.services.screening import patient_zone, record_profile
from lowdose.store.db import Database
from lowdose.store.models import PlanVersion


def visit_report_model(db: Database, ctx: Context, patient_id: int, *,
                       hold_hours: float | None = None) -> VisitReport:
    """The report's content at the patient's "now": `ctx.now` read in the patient's calendar
    time zone when one is set (the hold before surgery then counts real hours), else its wall
    time as it stands, as for the record screen."""
    with patient_access(db, ctx, patient_id, PatientAction.READ_RECORD,
                        "report.visit") as access:
        zone = patient_zone(access)
        local = ctx.now.astimezone(zone) if zone is not None and ctx.now.tzinfo else ctx.now
        moment = local.replace(tzinfo=None)
        today = moment.date()
        diary = _diary(access)
        started = [course.started_on for course in _courses(access)]
        start = min(started) if started else None
        rules, instruments = load_monitoring_rules(), load_instruments()
        outcomes = None if start is None else analyze_outcomes(
            observations(diary), start=start, instruments=instruments, rules=rules)
        steps = _plan_steps(access, today)
        flags = monitor(diary, today=today, rules=rules, course=load_side_effects(),
                        plan=_planned(access, today), instruments=instruments)
        result = screen(record_profile(access, moment), load_screening_knowledge(),
                        hold_hours=hold_hours, zone=zone)
        procedures = [Procedure(p.name, p.at, p.opioids_expected, p.cancelled)
                      for p in planned_procedures(access)]
        patient = access.patient
        return build_visit_report(
            patient_id=patient.id, patient_name=patient.display_name,
            synthetic=patient.synthetic, generated_at=ctx.now, diary=diary, plan_steps=steps,
            ldn_start=start, outcomes=outcomes, flags=flags, screen=result,
            procedures=procedures, course=load_side_effects())


def visit_report(db: Database, ctx: Context, patient_id: int, *,
                 hold_hours: float | None = None) -> bytes:
    """The visit report as PDF bytes (the web page's button, the API and the CLI)."""
    from lowdose.reports.pdf import render_pdf

    return render_pdf(visit_report_model(db, ctx, patient_id, hold_hours=hold_hours))


def _planned(access: Access, today: date) -> list[PlannedDose]:
    # What `patient_flags` gives monitoring: the running course's newest plan.
    running = current_plan(access, today)
    steps = running[1].plan["steps"] if running and running[1] else []
    return [PlannedDose(date.fromisoformat(s["from"]), float(s["dose_mg"])) for s in steps]


def _plan_steps(access: Access, today: date) -> list[dict[str, object]]:
    """The dose steps to show: the running course's newest plan, else the newest plan of the
    latest course (a course that has ended still explains the diary)."""
    running = current_plan(access, today)
    if running is not None:
        return list(running[1].plan["steps"]) if running[1] else []
    courses = _courses(access)
    if not courses:
        return []
    row = access.session.scalar(select(PlanVersion)
                                .where(PlanVersion.course_id == courses[-1].id)
                                .order_by(PlanVersion.version.desc()).limit(1))
    return list(row.plan["steps"]) if row else []


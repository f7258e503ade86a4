"""The clinician's pages: the panel (who needs attention, most urgent first) and a patient page
with the patient's own charts, the plan's versions, the screen, the outcome summary, the
diary's proposal to approve (as it stands or edited first) and the care team's notes.

Pages stay thin: the services decide who may see what (a clinician of another clinic gets a
404, an admin off the care team a 403) and audit every read and write. Search terms are
patient data, so they travel in a POSTed form, never in the URL; the level and page number
are not and stay linkable.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Annotated, Any

from fastapi import Path, Request
from starlette.responses import RedirectResponse, Response

from lowdose.errors import InputError
from lowdose.knowledge.monitoring import load_monitoring_rules
from lowdose.services import (
    checkins,
    courses,
    notes,
    outcomes,
    panel,
    patients,
    screening,
)
from lowdose.services.context import Context
from lowdose.services.courses import CourseView, PlanVersionView, SeenProposal, StepEdits
from lowdose.services.errors import Conflict, Forbidden
from lowdose.web import charts, progress, session
from lowdose.web.progress import CHART_DAYS, _effect_charts, _effect_svgs, _measure_charts
from lowdose.web.routing import page_router
from lowdose.web.templating import render

router = page_router()

PAGE_SIZE = 25
# Ids are database integers: a larger one is no record (404), not a database error.
RecordId = Annotated[int, Path(ge=1, le=2**31 - 1)]
MAX_PAGE = 100_000
# What the patient page says after a change (`?done=`: a word, never patient data).
NOTICES = {
    "approved": "Approved: the new plan version is below and is the patient's plan from today.",
    "noted": "Note added.",
    "ended": "The course is ended; its plan versions stay on the record.",
}
# The panel's level filter: (value, label); "" is everyone.
LEVEL_CHOICES = (("", "Everyone"), ("urgent", "Urgent only"),
                 ("attention", "Urgent or needs attention"), ("info", "Anyone with a flag"))
GROUP_LABELS = {
    "red-flag": "Red flag", "side-effects": "Side effects persisting",
    "attention": "Needs attention", "step-due": "Dose step due",
    "checkin-overdue": "Check-ins overdue", "surgery-coming": "Surgery coming",
    "none": "Nothing due",
}
# The screen's verdicts (design §3.2) in a line each, for the prescriber.
VERDICTS = {
    "ok": "Nothing in the record rules LDN out.",
    "caution": "LDN may proceed with care: read the named warnings.",
    "specialist": "A prescriber must review the findings below before LDN.",
    "defer": "Not now: something in the record means waiting (see the earliest start).",
    "contraindicated": "Contraindicated now: see the findings below.",
}
TIMING_LABELS = {"bedtime": "at bedtime", "morning": "in the morning"}
MIN_CHART_DAYS = 14  # as the patient's charts: at least two weeks, so a new diary is readable


def staff_context(request: Request) -> Context:
    """The signed-in clinician's or admin's context; patients have their own pages."""
    ctx = session.current_context(request)
    if session.current_user(request).role not in ("clinician", "admin"):
        raise Forbidden("these pages are for the clinic's staff")
    return ctx


# ----------------------------------------------------------------------------- panel


@router.get("/clinic/panel")
def panel_page(request: Request, level: str = "", page: str = "0") -> Response:
    return _panel(request, {"level": level, "q": "", "page": page})


@router.post("/clinic/panel")
async def panel_search(request: Request) -> Response:
    """The same panel, searched by name: the terms come in the form body."""
    form = await request.form()
    return _panel(request, {key: str(form.get(key, "")).strip()
                            for key in ("level", "q", "page")})


def _panel(request: Request, values: dict[str, str]) -> Response:
    ctx = staff_context(request)
    try:
        number = _page_number(values["page"])
        found = panel.clinic_panel(session.database(request), ctx,
                                   level=values["level"] or None, search=values["q"] or None,
                                   limit=PAGE_SIZE, offset=number * PAGE_SIZE)
    except InputError as exc:
        return render(request, "clinician/panel.html", {
            "values": values, "found": None, "error": exc, **_panel_labels()}, status=422)
    pages = max((found.total + PAGE_SIZE - 1) // PAGE_SIZE, 1)
    return render(request, "clinician/panel.html", {
        "values": values, "found": found, "error": None, "page": number, "pages": pages,
        "first_shown": found.offset + 1 if found.rows else 0,
        "last_shown": found.offset + len(found.rows), **_panel_labels()})


def _panel_labels() -> dict[str, Any]:
    return {"levels": LEVEL_CHOICES, "groups": GROUP_LABELS}


def _page_number(text: str) -> int:
    try:
        number = int(text or "0")
    except ValueError:
        raise InputError("page", "must be a page number") from None
    if not 0 <= number <= MAX_PAGE:
        raise InputError("page", f"must be between 0 and {MAX_PAGE}")
    return number


# ----------------------------------------------------------------------- patient page


@router.get("/clinic/patients/{patient_id}")
def patient_page(request: Request, patient_id: RecordId) -> Response:
    notice = NOTICES.get(request.query_params.get("done", ""))
    return _patient(request, patient_id, notice=notice)


@router.post("/clinic/patients/{patient_id}/approve")
async def approve(request: Request, patient_id: RecordId) -> Response:
    """Approve the diary's proposal, as it stands or with the dose, time or a note changed.

    The form carries the plan version and proposal the clinician was looking at: if either
    changed in the meantime (a colleague approved, a check-in arrived, or this form was sent
    twice) nothing is approved."""
    ctx = staff_context(request)
    db = session.database(request)
    form = {key: str(value).strip() for key, value in (await request.form()).items()}
    try:
        edits = _edits(form)
        courses.approve_next_step(db, ctx, patient_id, edits=edits, seen=_seen(form))
    except (InputError, Conflict) as exc:
        status = 422 if isinstance(exc, InputError) else 409
        return _patient(request, patient_id, approval_error=_error_of(exc), form=form,
                        status=status)
    return RedirectResponse(f"/clinic/patients/{patient_id}?done=approved", status_code=303)


@router.post("/clinic/patients/{patient_id}/courses/{course_id}/end")
async def end_course(request: Request, patient_id: RecordId, course_id: RecordId) -> Response:
    """End a course (e.g. when the diary says stop and call): its plan versions stay."""
    ctx = staff_context(request)
    form = {key: str(value).strip() for key, value in (await request.form()).items()}
    try:
        try:
            ended_on = date.fromisoformat(form.get("ended_on", ""))
        except ValueError:
            raise InputError("ended_on", "must be a date such as 2025-06-02") from None
        courses.end_course(session.database(request), ctx, patient_id, course_id,
                           ended_on=ended_on)
    except InputError as exc:
        return _patient(request, patient_id, approval_error=_error_of(exc), form=form,
                        status=422)
    return RedirectResponse(f"/clinic/patients/{patient_id}?done=ended", status_code=303)


@router.post("/clinic/patients/{patient_id}/notes")
async def add_note(request: Request, patient_id: RecordId) -> Response:
    ctx = staff_context(request)
    form = await request.form()
    written = str(form.get("note", ""))
    try:
        notes.add_note(session.database(request), ctx, patient_id, written)
    except InputError as exc:
        return _patient(request, patient_id, note_error=_error_of(exc),
                        form={"note": written}, status=422)
    return RedirectResponse(f"/clinic/patients/{patient_id}?done=noted", status_code=303)


def _edits(form: dict[str, str]) -> StepEdits:
    dose = form.get("dose_mg", "")
    try:
        dose_mg = float(dose) if dose else None
    except ValueError:
        raise InputError("dose_mg", "must be a number of milligrams") from None
    return StepEdits(dose_mg=dose_mg, timing=form.get("timing") or None,
                     note=form.get("note") or None)


def _seen(form: dict[str, str]) -> SeenProposal:
    try:
        dose = form.get("proposal_dose_mg", "")
        return SeenProposal(plan_version=int(form.get("plan_version", "")),
                            action=form.get("proposal_action") or None,
                            dose_mg=float(dose) if dose else None)
    except ValueError:
        raise Conflict(courses.PROPOSAL_CHANGED) from None


@dataclass(frozen=True)
class FormError:
    field: str | None
    message: str


def _error_of(exc: InputError | Conflict) -> FormError:
    if isinstance(exc, InputError):
        return FormError(exc.field, exc.message)
    return FormError(None, str(exc))


def _patient(request: Request, patient_id: int, *, notice: str | None = None,
             approval_error: FormError | None = None, note_error: FormError | None = None,
             form: dict[str, str] | None = None, status: int = 200) -> Response:
    ctx = staff_context(request)
    db = session.database(request)
    # Reading the record first: whoever may not gets the policy's 404 or 403 before anything.
    flags = outcomes.patient_flags(db, ctx, patient_id)
    who = patients.get_patient(db, ctx, patient_id)
    history = _plan_history(request, ctx, patient_id)
    proposal = courses.next_step_proposal(db, ctx, patient_id)
    found = screening.screen_patient(db, ctx, patient_id,
                                     hold_hours=session.settings(request).hold_hours)
    report: dict[str, Any] | None = None
    missing: str | None = None
    try:
        report = outcomes.analyze_patient(db, ctx, patient_id).to_dict()
    except InputError as exc:
        missing = exc.message
    today = ctx.now.date()
    steps = _dose_steps(history)
    diary = checkins.list_checkins(db, ctx, patient_id,
                                   date_from=today - timedelta(days=CHART_DAYS - 1),
                                   date_to=today)
    first = _chart_start(diary, steps, today)
    return render(request, "clinician/patient.html", {
        "patient": who, "flags": [f.to_dict() for f in flags], "history": history,
        "proposal": proposal.to_dict() if proposal else None,
        "timings": TIMING_LABELS, "screen": found.result.to_dict(),
        "screen_as_of": found.profile.as_of, "headline": VERDICTS[found.result.verdict],
        "report": report, "missing": missing,
        "effect_svg": _effect_svgs(report) if report else {},
        "first": first, "last": today, "count": sum(1 for d in diary if d.date >= first),
        "measures": _measure_charts(diary, steps, first, today),
        "effects": _effect_charts(diary, steps, first, today),
        "rules": load_monitoring_rules().side_effects,
        "notes": notes.list_notes(db, ctx, patient_id), "notice": notice,
        # Only a clinician prescribes; the services still decide for this patient.
        "may_prescribe": session.current_user(request).role == "clinician",
        "approval_error": approval_error, "note_error": note_error, "form": form or {},
        "max_note": notes.MAX_NOTE}, status=status)


@dataclass(frozen=True)
class CourseHistory:
    course: CourseView
    versions: list[PlanVersionView]  # first to last


def _plan_history(request: Request, ctx: Context, patient_id: int) -> list[CourseHistory]:
    """Every course, newest first, each with all its plan versions."""
    db = session.database(request)
    found = [CourseHistory(course, courses.plan_versions(db, ctx, patient_id, course.id)
                           if course.plan_version else [])
             for course in courses.list_courses(db, ctx, patient_id)]
    return list(reversed(found))


def _dose_steps(history: list[CourseHistory]) -> list[charts.DoseStep]:
    return progress.prescribed_steps(entry.versions for entry in history)


def _chart_start(diary: list[checkins.CheckinView], steps: list[charts.DoseStep],
                 today: date) -> date:
    # As on the patient's charts: from where the diary or the plan starts within the window,
    # never less than two weeks.
    earliest = today - timedelta(days=CHART_DAYS - 1)
    starts = [entry.date for entry in diary[:1]] + [s.start for s in steps if s.start >= earliest]
    return max(earliest, min([*starts, today - timedelta(days=MIN_CHART_DAYS - 1)]))

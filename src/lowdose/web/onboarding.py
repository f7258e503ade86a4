"""Onboarding, one page per step: the profile, the medicine list, the screen's result in
plain words with its sources, and the plan (received from the clinician, or presets to talk
about with them). Each page is also where the patient keeps that part of the record."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from fastapi import Request
from starlette.responses import RedirectResponse, Response

from lowdose.core.titration import plan as make_plan
from lowdose.errors import InputError
from lowdose.knowledge.regimens import load_titration_facts
from lowdose.services import courses, medicines, patients, screening
from lowdose.services.patients import SEXES
from lowdose.web import session
from lowdose.web.patient import own_record
from lowdose.web.routing import page_router
from lowdose.web.templating import render

router = page_router()

STEPS = (("/profile", "About you"), ("/medicines", "Your medicines"),
         ("/screen", "Is LDN safe for you?"), ("/plan", "Your plan"))

# What each verdict means for the patient, in plain words (levels: design §3.2).
VERDICTS = {
    "ok": "Nothing in your record rules LDN out. Your prescriber still decides.",
    "caution": "LDN may be possible with care. Read the warnings below with your prescriber.",
    "specialist": "A prescriber needs to look at this before you start LDN.",
    "defer": "Not now: something in your record means waiting before starting LDN.",
    "contraindicated": "LDN must not be started now. Talk to your prescriber.",
}


def steps_context(path: str) -> dict[str, Any]:
    index = next(i for i, (p, _) in enumerate(STEPS) if p == path)
    following = STEPS[index + 1] if index + 1 < len(STEPS) else ("/today", "Today")
    return {"steps": STEPS, "step_index": index, "next_step": following}


# --------------------------------------------------------------------------- profile


@router.get("/profile")
def profile_page(request: Request) -> Response:
    own = own_record(request)
    profile = patients.get_profile(session.database(request), own.ctx, own.patient_id)
    return render(request, "patient/profile.html", {
        "profile": profile, "sexes": SEXES, "error": None, **steps_context("/profile")})


@router.post("/profile")
async def save_profile(request: Request) -> Response:
    own = own_record(request)
    db = session.database(request)
    form = await request.form()
    try:
        fields = _profile_fields(form)
        patients.update_profile(db, own.ctx, own.patient_id, **fields)
    except InputError as exc:
        profile = patients.get_profile(db, own.ctx, own.patient_id)
        return render(request, "patient/profile.html", {
            "profile": profile, "sexes": SEXES, "error": exc, **steps_context("/profile")},
            status=422)
    return RedirectResponse("/medicines", status_code=303)


def _profile_fields(form: Any) -> dict[str, Any]:
    def text(name: str) -> str:
        return str(form.get(name, "")).strip()

    def yes_no(name: str) -> bool | None:
        return {"yes": True, "no": False}.get(text(name))

    birth = text("birth_date")
    weight = text("weight_kg")
    try:
        birth_date = date.fromisoformat(birth) if birth else None
    except ValueError:
        raise InputError("birth_date", "must be a date such as 1972-03-14") from None
    try:
        weight_kg = float(weight) if weight else None
    except ValueError:
        raise InputError("weight_kg", "must be a number of kilograms") from None
    conditions = tuple(line.strip() for line in text("conditions").splitlines() if line.strip())
    return {"birth_date": birth_date, "sex": text("sex") or None, "weight_kg": weight_kg,
            "pregnant": yes_no("pregnant"), "breastfeeding": yes_no("breastfeeding"),
            "conditions": conditions}


# ------------------------------------------------------------------------- medicines


@router.get("/medicines")
def medicines_page(request: Request) -> Response:
    return _medicines(request, None)


def _medicines(request: Request, error: InputError | None, status: int = 200) -> Response:
    own = own_record(request)
    listed = medicines.list_medicines(session.database(request), own.ctx, own.patient_id,
                                      include_stopped=True)
    return render(request, "patient/medicines.html", {
        "medicines": [m for m in listed if not m.removed], "error": error,
        **steps_context("/medicines")}, status=status)


@router.post("/medicines")
async def add_medicine(request: Request) -> Response:
    own = own_record(request)
    form = await request.form()
    try:
        last = str(form.get("last_taken", "")).strip()
        try:
            last_taken = date.fromisoformat(last) if last else None
        except ValueError:
            raise InputError("last_taken", "must be a date such as 2025-06-01") from None
        medicines.add_medicine(session.database(request), own.ctx, own.patient_id,
                               text=str(form.get("text", "")), last_taken=last_taken)
    except InputError as exc:
        return _medicines(request, exc, status=422)
    return RedirectResponse("/medicines", status_code=303)


@router.post("/medicines/{medicine_id}/stop")
def stop_medicine(request: Request, medicine_id: int) -> Response:
    own = own_record(request)
    medicines.update_medicine(session.database(request), own.ctx, own.patient_id, medicine_id,
                              stopped_on=own.ctx.now.date())
    return RedirectResponse("/medicines", status_code=303)


@router.post("/medicines/{medicine_id}/remove")
def remove_medicine(request: Request, medicine_id: int) -> Response:
    own = own_record(request)
    medicines.remove_medicine(session.database(request), own.ctx, own.patient_id, medicine_id)
    return RedirectResponse("/medicines", status_code=303)


# ---------------------------------------------------------------------------- screen


@router.get("/screen")
def screen_page(request: Request) -> Response:
    own = own_record(request)
    settings = session.settings(request)
    found = screening.screen_patient(session.database(request), own.ctx, own.patient_id,
                                     hold_hours=settings.hold_hours)
    result = found.result.to_dict()
    return render(request, "patient/screen.html", {
        "result": result, "headline": VERDICTS[result["verdict"]],
        "as_of": found.profile.as_of, **steps_context("/screen")})


# ------------------------------------------------------------------------------ plan


@router.get("/plan")
def plan_page(request: Request) -> Response:
    return _plan(request, preview=None)


@router.post("/plan/preview")
async def preview_plan(request: Request) -> Response:
    """A preset drawn from today, to talk about with the prescriber; nothing is stored."""
    own_record(request)
    name = str((await request.form()).get("protocol", ""))
    facts = load_titration_facts()
    if facts.protocol(name) is None:
        raise InputError("protocol", "choose one of the listed plans")
    preview = make_plan(from_date=session.now().date(), facts=facts, protocol=name).to_dict()
    return _plan(request, preview=preview)


def _plan(request: Request, preview: dict[str, Any] | None) -> Response:
    own = own_record(request)
    db = session.database(request)
    today = own.ctx.now.date()
    listed = courses.list_courses(db, own.ctx, own.patient_id)
    course = next((c for c in reversed(listed) if c.active_on(today)), None) or \
        (listed[-1] if listed else None)
    versions = courses.plan_versions(db, own.ctx, own.patient_id, course.id) if course else []
    current = versions[-1] if versions else None
    return render(request, "patient/plan.html", {
        "course": course, "versions": versions, "current": current,
        "steps_of_plan": _timeline(current.plan["steps"], today) if current else [],
        "protocols": load_titration_facts().protocols, "preview": preview,
        "today": today, **steps_context("/plan")})


def _timeline(steps: list[dict[str, Any]], today: date) -> list[dict[str, Any]]:
    """The plan's steps marked past, current or to come."""
    marked = []
    for step in steps:
        starts = date.fromisoformat(step["from"])
        ends = date.fromisoformat(step["to"]) if step["to"] else None
        state = ("past" if ends is not None and ends < today
                 else "current" if starts <= today else "future")
        marked.append({**step, "state": state})
    return marked


def format_moment(value: datetime | date | None) -> str:
    if value is None:
        return "—"
    if isinstance(value, datetime):
        return value.strftime("%-d %b %Y %H:%M")
    return value.strftime("%-d %b %Y")

"""Clinic administration: users and roles, care teams, the audit log (searchable), backups.

Every page acts on the admin's own clinic; the services check the clinic rules
(`security.policy.authorize_clinic`) and audit each change.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from fastapi import Request
from starlette.responses import RedirectResponse, Response

from lowdose.errors import InputError
from lowdose.services import accounts, audit_search, backups, careteams, patients
from lowdose.services.accounts import USER_ROLES
from lowdose.services.context import Context
from lowdose.services.errors import Conflict, Forbidden
from lowdose.web import session
from lowdose.web.routing import page_router
from lowdose.web.templating import render

router = page_router(prefix="/admin")
AUDIT_PAGE = 50


def admin_context(request: Request) -> tuple[Context, int]:
    ctx = session.current_context(request)
    if ctx.actor.role != "admin" or ctx.actor.clinic_id is None:
        raise Forbidden("these pages are for clinic admins")
    return ctx, ctx.actor.clinic_id


# ----------------------------------------------------------------------------- users


@router.get("/users")
def users_page(request: Request) -> Response:
    return _users(request, None, {})


def _users(request: Request, error: InputError | Conflict | None, values: dict[str, str],
           status: int = 200, done: str | None = None) -> Response:
    ctx, clinic_id = admin_context(request)
    listed = accounts.list_users(session.database(request), ctx, clinic_id)
    return render(request, "admin/users.html", {
        "users": listed, "roles": USER_ROLES, "error": error, "values": values, "done": done},
        status=status)


@router.post("/users")
async def add_user(request: Request) -> Response:
    ctx, clinic_id = admin_context(request)
    db = session.database(request)
    form = await request.form()
    values = {k: str(form.get(k, "")).strip() for k in ("username", "display_name", "role")}
    try:
        user = accounts.create_user(db, ctx, clinic_id=clinic_id, username=values["username"],
                                    password=str(form.get("password", "")),
                                    role=values["role"],
                                    display_name=values["display_name"] or None)
        if user.role == "patient":
            # A patient account comes with its record, so the patient can start at once.
            patients.create_patient(db, ctx, clinic_id=clinic_id,
                                    display_name=user.display_name, user_id=user.id)
    except (InputError, Conflict) as exc:
        return _users(request, exc, values, status=422 if isinstance(exc, InputError) else 409)
    return _users(request, None, {}, done=f"Added {user.username} as {user.role}.")


@router.post("/users/{user_id}/active")
async def set_active(request: Request, user_id: int) -> Response:
    ctx, _ = admin_context(request)
    active = str((await request.form()).get("active", "")) == "yes"
    accounts.set_active(session.database(request), ctx, user_id, active)
    return RedirectResponse("/admin/users", status_code=303)


@router.post("/users/{user_id}/password")
async def reset_password(request: Request, user_id: int) -> Response:
    ctx, _ = admin_context(request)
    try:
        user = accounts.reset_password(session.database(request), ctx, user_id,
                                       str((await request.form()).get("password", "")))
    except InputError as exc:
        return _users(request, exc, {}, status=422)
    return _users(request, None, {}, done=f"New password set for {user.username}; their "
                                          "sessions have ended.")


# ------------------------------------------------------------------------ care teams


@router.get("/care-teams")
def teams_page(request: Request) -> Response:
    return _teams(request, None)


def _teams(request: Request, error: InputError | Conflict | None,
           status: int = 200) -> Response:
    ctx, clinic_id = admin_context(request)
    db = session.database(request)
    users = {u.id: u for u in accounts.list_users(db, ctx, clinic_id)}
    records = {p.id: p for p in _all_patients(db, ctx)}
    teams = careteams.list_care_teams(db, ctx, clinic_id)
    return render(request, "admin/care_teams.html", {
        "teams": teams, "users": users, "records": records, "error": error,
        "staff": [u for u in users.values() if u.role in ("clinician", "admin") and u.active]},
        status=status)


def _all_patients(db: Any, ctx: Context) -> list[Any]:
    found, offset = [], 0
    while True:
        page = patients.list_patients(db, ctx, limit=500, offset=offset)
        found += page
        if len(page) < 500:
            return found
        offset += 500


@router.post("/care-teams")
async def add_team(request: Request) -> Response:
    ctx, clinic_id = admin_context(request)
    try:
        careteams.create_care_team(session.database(request), ctx, clinic_id,
                                   str((await request.form()).get("name", "")))
    except (InputError, Conflict) as exc:
        return _teams(request, exc, status=422 if isinstance(exc, InputError) else 409)
    return RedirectResponse("/admin/care-teams", status_code=303)


@router.post("/care-teams/{team_id}/members")
async def add_member(request: Request, team_id: int) -> Response:
    ctx, _ = admin_context(request)
    try:
        careteams.add_member(session.database(request), ctx, team_id,
                             _id((await request.form()).get("user_id"), "user_id"))
    except InputError as exc:
        return _teams(request, exc, status=422)
    return RedirectResponse("/admin/care-teams", status_code=303)


@router.post("/care-teams/{team_id}/members/{user_id}/remove")
def remove_member(request: Request, team_id: int, user_id: int) -> Response:
    ctx, _ = admin_context(request)
    careteams.remove_member(session.database(request), ctx, team_id, user_id)
    return RedirectResponse("/admin/care-teams", status_code=303)


@router.post("/care-teams/{team_id}/patients")
async def assign_patient(request: Request, team_id: int) -> Response:
    ctx, _ = admin_context(request)
    try:
        careteams.assign_patient(session.database(request), ctx, team_id,
                                 _id((await request.form()).get("patient_id"), "patient_id"))
    except InputError as exc:
        return _teams(request, exc, status=422)
    return RedirectResponse("/admin/care-teams", status_code=303)


@router.post("/care-teams/{team_id}/patients/{patient_id}/remove")
def unassign_patient(request: Request, team_id: int, patient_id: int) -> Response:
    ctx, _ = admin_context(request)
    careteams.unassign_patient(session.database(request), ctx, team_id, patient_id)
    return RedirectResponse("/admin/care-teams", status_code=303)


def _id(value: Any, field: str) -> int:
    try:
        return int(str(value))
    except ValueError:
        raise InputError(field, "choose one from the list") from None


# ------------------------------------------------------------------------- audit log


@router.get("/audit")
def audit_page(request: Request) -> Response:
    """The search form; results come from a POST so the search terms (a record id, a
    username) never sit in a URL or the browser history."""
    admin_context(request)
    return render(request, "admin/audit.html", {"entries": None, "values": {}, "error": None,
                                                "page": 0, "more": False})


@router.post("/audit")
async def audit_search_results(request: Request) -> Response:
    ctx, clinic_id = admin_context(request)
    form = await request.form()
    values = {k: str(form.get(k, "")).strip()
              for k in ("action", "username", "record", "outcome", "from", "to", "page")}
    page = int(values["page"]) if values["page"].isdigit() else 0
    try:
        query = audit_search.AuditQuery(
            action=values["action"] or None, username=values["username"] or None,
            record=_id(values["record"], "record") if values["record"] else None,
            outcome=values["outcome"] or None, date_from=_date(values["from"], "from"),
            date_to=_date(values["to"], "to"))
        entries = audit_search.search_audit_log(session.database(request), ctx, clinic_id,
                                                query, limit=AUDIT_PAGE + 1,
                                                offset=page * AUDIT_PAGE)
    except InputError as exc:
        return render(request, "admin/audit.html", {"entries": None, "values": values,
                                                    "error": exc, "page": 0, "more": False},
                      status=422)
    return render(request, "admin/audit.html", {
        "entries": entries[:AUDIT_PAGE], "values": values, "error": None, "page": page,
        "more": len(entries) > AUDIT_PAGE})


def _date(value: str, field: str) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise InputError(field, "must be a date such as 2025-06-02") from None


# --------------------------------------------------------------------------- backups


@router.get("/backups")
def backups_page(request: Request) -> Response:
    return _backups(request, None)


def _backups(request: Request, done: str | None, status: int = 200,
             error: InputError | None = None) -> Response:
    ctx, _ = admin_context(request)
    directory = session.settings(request).data_dir / "backups"
    return render(request, "admin/backups.html", {
        "backups": backups.list_backups(ctx, directory), "done": done, "error": error},
        status=status)


@router.post("/backups")
def make_backup(request: Request) -> Response:
    ctx, _ = admin_context(request)
    settings = session.settings(request)
    try:
        made = backups.create_backup(session.database(request), ctx,
                                     settings.resolved_database_url,
                                     settings.data_dir / "backups")
    except InputError as exc:
        return _backups(request, None, status=422, error=exc)
    return _backups(request, f"Backup {made.name} written.")

"""The patient's calendar: doses by titration step, the surgery hold and refills, as a file to
download or a secret feed URL a calendar app subscribes to (shown once, revocable), and the
time zone and medicine-naming preferences both use."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from starlette.responses import RedirectResponse, Response

from lowdose.errors import InputError
from lowdose.services import calendar
from lowdose.services.errors import NotFound
from lowdose.web import session
from lowdose.web.patient import own_record
from lowdose.web.routing import page_router
from lowdose.web.templating import render

router = page_router(prefix="/calendar")


@router.get("")
def calendar_page(request: Request, done: str | None = None) -> Response:
    notice = {"saved": "Saved.", "revoked": "That feed URL no longer works."}.get(done or "")
    return _page(request, {"done": notice})


@router.get("/download")
def download(request: Request) -> Response:
    own = own_record(request)
    exported = calendar.export_calendar(session.database(request), own.ctx, own.patient_id,
                                        hold_hours=session.settings(request).hold_hours)
    return Response(exported.ics, media_type=calendar.MEDIA_TYPE, headers={
        "Content-Disposition": 'attachment; filename="lowdose-calendar.ics"'})


@router.post("/preferences")
async def save_preferences(request: Request) -> Response:
    own = own_record(request)
    form = await request.form()
    try:
        calendar.set_preferences(session.database(request), own.ctx, own.patient_id,
                                 timezone=str(form.get("timezone", "")),
                                 medicine_names=form.get("medicine_names") == "yes")
    except InputError as exc:
        return _page(request, {"error": exc}, status=422)
    return RedirectResponse("/calendar?done=saved", status_code=303)


@router.post("/feeds")
async def make_feed(request: Request) -> Response:
    own = own_record(request)
    label = str((await request.form()).get("label", "")).strip() or None
    try:
        made = calendar.create_feed(session.database(request), own.ctx, own.patient_id,
                                    label=label)
    except InputError as exc:
        return _page(request, {"error": exc}, status=422)
    return _page(request, {"new_feed": made,
                           "new_url": str(request.url_for("calendar_feed", token=made.token))})


@router.post("/feeds/{feed_id}/revoke")
def revoke(request: Request, feed_id: int) -> Response:
    own = own_record(request)
    try:
        calendar.revoke_feed(session.database(request), own.ctx, own.patient_id, feed_id)
    except NotFound:
        return _page(request, {"error": InputError("feed", "no such feed URL")}, status=404)
    return RedirectResponse("/calendar?done=revoked", status_code=303)


def _page(request: Request, context: dict[str, Any], status: int = 200) -> Response:
    own = own_record(request)
    db = session.database(request)
    values: dict[str, Any] = {
        "preferences": calendar.get_preferences(db, own.ctx, own.patient_id),
        "feeds": calendar.list_feeds(db, own.ctx, own.patient_id),
        "done": None, "error": None, "new_feed": None, "new_url": None, **context}
    return render(request, "patient/calendar.html", values, status=status)

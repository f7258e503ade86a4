"""The patient's calendar over HTTP: the .ics file (signed in), calendar preferences, and the
secret feed URLs calendar apps subscribe to without signing in (`/calendar/{token}.ics`).
Making a feed answers 200 with the token, like the record's other "add" routes.

Authorization and audit are the services' job (`lowdose.services.calendar`).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from lowdose.api.deps import DB, Ctx, now, source_of
from lowdose.api.problems import documented
from lowdose.services import calendar
from lowdose.services._checks import UNSET
from lowdose.settings import Settings

PATIENT = "/api/v1/patients/{patient_id}"
router = APIRouter(tags=["calendar"])
REFUSALS = documented(401, 403, 404, 422)
ICS: dict[int | str, dict[str, Any]] = {
    200: {"description": "An iCalendar (RFC 5545) file",
          "content": {"text/calendar": {"schema": {"type": "string"}}}}}
# A calendar holds health data: no shared cache may keep a copy.
NO_STORE = {"Cache-Control": "no-store, private"}


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PreferencesChange(Strict):
    """Only the fields sent change; `"timezone": null` makes the times floating."""

    timezone: str | None = Field(default=None, max_length=64,
                                 description="IANA name, e.g. Europe/Berlin")
    medicine_names: bool | None = Field(
        default=None, description="Name the medicine in event descriptions (never in titles)")


class NewFeedRequest(Strict):
    label: str | None = Field(default=None, max_length=100,
                              description="Where the feed is used, e.g. 'phone'")


def _ics(body: bytes, filename: str | None = None) -> Response:
    headers = dict(NO_STORE)
    if filename:
        headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    return Response(content=body, media_type=calendar.MEDIA_TYPE, headers=headers)


def _hold_hours(request: Request) -> float | None:
    settings: Settings = request.app.state.settings
    return settings.hold_hours


@router.get(PATIENT + "/calendar.ics", summary="The patient's calendar as an .ics file",
            response_class=Response, responses={**ICS, **REFUSALS})
def calendar_file(request: Request, db: DB, ctx: Ctx, patient_id: int) -> Response:
    exported = calendar.export_calendar(db, ctx, patient_id, hold_hours=_hold_hours(request))
    return _ics(exported.ics, "lowdose-calendar.ics")


@router.get(PATIENT + "/calendar/preferences", summary="Time zone and medicine naming",
            responses=REFUSALS)
def get_preferences(db: DB, ctx: Ctx, patient_id: int) -> dict[str, object]:
    return calendar.get_preferences(db, ctx, patient_id).to_dict()


@router.patch(PATIENT + "/calendar/preferences", summary="Change time zone or medicine naming",
              responses=REFUSALS)
def change_preferences(db: DB, ctx: Ctx, patient_id: int,
                       body: PreferencesChange) -> dict[str, object]:
    sent = body.model_fields_set
    return calendar.set_preferences(
        db, ctx, patient_id,
        timezone=body.timezone if "timezone" in sent else UNSET,
        medicine_names=(UNSET if "medicine_names" not in sent or body.medicine_names is None
                        else body.medicine_names)).to_dict()


@router.post(PATIENT + "/calendar/feeds", responses=REFUSALS,
             summary="A secret feed URL for calendar apps (shown once)")
def create_feed(request: Request, db: DB, ctx: Ctx, patient_id: int,
                body: NewFeedRequest | None = None) -> dict[str, object]:
    made = calendar.create_feed(db, ctx, patient_id, label=body.label if body else None)
    url = str(request.url_for("calendar_feed", token=made.token))
    return {**made.to_dict(), "url": url}


@router.get(PATIENT + "/calendar/feeds", summary="Feed URLs made (never their secrets)",
            responses=REFUSALS)
def list_feeds(db: DB, ctx: Ctx, patient_id: int) -> list[dict[str, object]]:
    return [feed.to_dict() for feed in calendar.list_feeds(db, ctx, patient_id)]


@router.delete(PATIENT + "/calendar/feeds/{feed_id}", summary="Revoke a feed URL",
               responses=REFUSALS)
def revoke_feed(db: DB, ctx: Ctx, patient_id: int, feed_id: int) -> dict[str, object]:
    return calendar.revoke_feed(db, ctx, patient_id, feed_id).to_dict()


# An address for calendar apps, not part of the JSON API: outside /api/v1 and its OpenAPI
# document, like the web pages.
@router.get("/calendar/{token}.ics", name="calendar_feed", response_class=Response,
            include_in_schema=False)
def calendar_feed(request: Request, db: DB, token: str) -> Response:
    feed = calendar.read_feed(db, token, now=now(), source=source_of(request),
                              hold_hours=_hold_hours(request))
    return _ics(feed.ics)

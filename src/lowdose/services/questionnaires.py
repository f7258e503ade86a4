"""Questionnaire responses (PHQ-9, GAD-7, PGIC, HBI, …), stored as answered and scored with the
instrument definitions in `knowledge` (total, band, flags such as PHQ-9 item 9).

A response to a known instrument must be complete and valid before it is stored: a missing
PHQ-9 item 9 must never read as "not at all". Keys that are not items (a comment) are kept. A
response to an instrument lowdose does not ship (a clinic's own form) is stored as answered
and shown unscored.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select

from lowdose.core.instruments import Score, score
from lowdose.errors import InputError
from lowdose.knowledge.instruments import load_instruments
from lowdose.security.policy import PatientAction
from lowdose.services._access import patient_access
from lowdose.services._checks import code, local_time
from lowdose.services._panel_status import refresh_status
from lowdose.services.context import Context
from lowdose.store.db import Database
from lowdose.store.models import QuestionnaireResponse

MAX_ANSWERS_BYTES = 20_000


@dataclass(frozen=True)
class ResponseView:
    id: int
    patient_id: int
    instrument: str
    answered_at: datetime  # local wall-clock time
    answers: Mapping[str, Any]
    recorded_at: datetime  # naive UTC
    score: Score | None = None  # None: an instrument lowdose does not know

    def to_dict(self) -> dict[str, object]:
        scored = self.score
        return {"id": self.id, "patient_id": self.patient_id, "instrument": self.instrument,
                "answered_at": self.answered_at.isoformat(), "answers": dict(self.answers),
                "recorded_at": self.recorded_at.isoformat() + "Z",
                "scored": scored is not None,
                "score": None if scored is None else scored.total,
                "band": None if scored is None else scored.band,
                "flags": [] if scored is None else [f.to_dict() for f in scored.flags]}


def record_response(db: Database, ctx: Context, patient_id: int, *, instrument: str,
                    answered_at: datetime, answers: Mapping[str, Any]) -> ResponseView:
    """Store one completed questionnaire: `answers` maps item ids to JSON values."""
    code("instrument", instrument)
    local_time("answered_at", answered_at)
    if answered_at.date() > ctx.now.date() + timedelta(days=1):
        raise InputError("answered_at", "must not be in the future")
    document = _answers(answers)
    _score(instrument, document, answered_at)  # refuses an incomplete or invalid response
    with patient_access(db, ctx, patient_id, PatientAction.RECORD_QUESTIONNAIRE,
                        "questionnaire.record", write=True) as access:
        row = QuestionnaireResponse(patient_id=patient_id, instrument=instrument,
                                    answered_at=answered_at, answers=document,
                                    created_at=ctx.at, created_by=ctx.actor.user_id)
        access.session.add(row)
        access.session.flush()
        access.point_at("questionnaire", row.id)
        # A PHQ-9 item 9 must reach the clinician panel at once: same transaction.
        refresh_status(access.session, patient_id=patient_id,
                       clinic_id=access.patient.clinic_id, today=ctx.now.date(), at=ctx.at)
        return _view(row)


def list_responses(db: Database, ctx: Context, patient_id: int, *,
                   instrument: str | None = None) -> list[ResponseView]:
    """Responses, oldest first, optionally for one instrument."""
    with patient_access(db, ctx, patient_id, PatientAction.READ_RECORD,
                        "questionnaire.list") as access:
        query = select(QuestionnaireResponse).where(
            QuestionnaireResponse.patient_id == patient_id)
        if instrument is not None:
            query = query.where(QuestionnaireResponse.instrument == code("instrument",
                                                                           instrument))
        rows = access.session.scalars(query.order_by(QuestionnaireResponse.answered_at,
                                                     QuestionnaireResponse.id)).all()
        return [_view(row) for row in rows]


def _answers(answers: Mapping[str, Any]) -> dict[str, Any]:
    if not isinstance(answers, Mapping) or not answers:
        raise InputError("answers", "must be a non-empty object of item id: answer")
    try:
        size = len(json.dumps(answers, allow_nan=False))
    except (TypeError, ValueError):
        raise InputError("answers", "must hold only JSON values") from None
    if size > MAX_ANSWERS_BYTES:
        raise InputError("answers", f"must be at most {MAX_ANSWERS_BYTES} bytes of JSON")
    for item in answers:
        code(f"answers.{item}", str(item))
    return dict(answers)


def _score(instrument: str, answers: Mapping[str, Any], answered_at: datetime) -> Score | None:
    known = load_instruments().get(instrument)
    if known is None:
        return None
    # Every item must be answered; other keys (a free-text comment) are kept, not scored.
    items = {item.id for item in known.items}
    return score(known, {k: v for k, v in answers.items() if k in items}, answered_at.date())


def stored_score(row: QuestionnaireResponse) -> Score | None:
    """The score of a stored response (for flags and the panel); None when unscorable."""
    try:
        return _score(row.instrument, row.answers, row.answered_at)
    except InputError:
        # Stored before the instrument's definition changed: shown, but not scored.
        return None


def _view(row: QuestionnaireResponse) -> ResponseView:
    return ResponseView(row.id, row.patient_id, row.instrument, row.answered_at,
                        dict(row.answers), row.created_at, stored_score(row))

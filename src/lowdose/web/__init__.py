"""The web app: server-rendered pages over the services, phone first.

`router` holds every page; `api/app.py` includes it. Pages stay thin: parse the form, call one
use case with `session.current_context(request)`, `templating.render` the result. Routers are
made with `routing.page_router()` so CSRF, error pages and security headers come for free.
"""

from __future__ import annotations

from fastapi import APIRouter

from lowdose.web import (
    account,
    admin,
    assets,
    auth,
    calendar_feeds,
    care,
    clinician,
    onboarding,
    patient,
    progress,
)

router = APIRouter(include_in_schema=False)
router.include_router(assets.router)
router.include_router(auth.router)
router.include_router(patient.router)
router.include_router(onboarding.router)
router.include_router(progress.router)
router.include_router(care.router)
router.include_router(calendar_feeds.router)
router.include_router(admin.router)
router.include_router(clinician.router)
router.include_router(account.router)

"""Signing in: an OAuth2 password form gives a bearer token; `/me` says who it stands for."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request

from lowdose.api.deps import DB, Ctx, now, source_of
from lowdose.api.problems import documented
from lowdose.services import accounts

router = APIRouter(prefix="/api/v1", tags=["accounts"])


@router.post("/auth/token", summary="Sign in: get a bearer token",
             responses=documented(401, 422))
def token(request: Request, db: DB, username: Annotated[str, Form()],
          password: Annotated[str, Form()],
          totp_code: Annotated[str | None, Form(description="The authenticator app's code, "
                                                            "when a second factor is on")] = None,
          ) -> dict[str, Any]:
    """OAuth2 password flow (`username`, `password` as a form). A locked-out login answers 401
    with `Retry-After`."""
    issued = accounts.login(db, username=username, password=password, now=now(),
                            source=source_of(request), totp_code=totp_code or None)
    return issued.to_dict()


@router.get("/me", summary="Who am I?", responses=documented(401))
def me(db: DB, ctx: Ctx) -> dict[str, Any]:
    """The signed-in user: id, username, role, clinic and `patient_id` (their own record)."""
    user = accounts.me(db, ctx).to_dict()
    return {**user, "user": user["username"]}

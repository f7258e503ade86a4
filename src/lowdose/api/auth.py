"""Signing in and the signed-in user's own account: an OAuth2 password form gives a bearer
token; `/me` says who it stands for; the rest changes only the caller's own account (password,
second factor, tokens), so it takes no ids and needs no policy beyond being signed in."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Form, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from lowdose.api.deps import DB, Ctx, bearer_token, now, source_of
from lowdose.api.problems import documented
from lowdose.errors import InputError
from lowdose.services import accounts

router = APIRouter(prefix="/api/v1", tags=["accounts"])
NO_CONTENT = 204


FORMS = ("application/x-www-form-urlencoded", "multipart/form-data")


def form_body(request: Request) -> None:
    """Refuse a body that is not a form: its fields would be reported missing though sent."""
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type not in FORMS:
        raise InputError("body", "send username and password as a form "
                                 "(application/x-www-form-urlencoded), as OAuth2 asks, "
                                 f"not {media_type or 'without a content type'}")


class IssuedToken(BaseModel):
    """Design §3.4: send `Authorization: Bearer <access_token>` with each request."""

    model_config = ConfigDict(extra="forbid")

    access_token: str
    token_type: Literal["bearer"]
    expires_at: datetime = Field(description="When it ends at the latest (UTC); a session "
                                             "idle for too long ends sooner")


class Me(BaseModel):
    """Design §3.4: the signed-in user, their role and their own record (`patient_id`)."""

    model_config = ConfigDict(extra="forbid")

    id: int
    clinic_id: int
    user: str = Field(description="The username")
    username: str
    display_name: str
    role: str = Field(examples=["patient", "clinician", "admin"])
    active: bool
    totp_enabled: bool
    patient_id: int | None = Field(description="The user's own patient record, if any")


@router.post("/auth/token", summary="Sign in: get a bearer token", response_model=None,
             responses={**documented(401, 422),
                        200: {"model": IssuedToken, "description": "A bearer token"}},
             dependencies=[Depends(form_body)])
def token(request: Request, db: DB, username: Annotated[str, Form()],
          password: Annotated[str, Form()],
          totp_code: Annotated[str | None, Form(description="The authenticator app's code, "
                                                            "when a second factor is on")] = None,
          grant_type: Annotated[str | None, Form(description="`password`, or left out")]
          = None,
          ) -> dict[str, Any]:
    """OAuth2 password flow (`username`, `password` as a form). A locked-out login answers 401
    with `Retry-After`."""
    if grant_type is not None and grant_type != "password":
        raise InputError("grant_type", f"must be \"password\" (or left out), not {grant_type!r}: "
                                       "only the OAuth2 password grant is supported")
    issued = accounts.login(db, username=username, password=password, now=now(),
                            source=source_of(request), totp_code=totp_code or None)
    return issued.to_dict()


@router.post("/auth/logout", status_code=NO_CONTENT, summary="Sign out: end this token",
             responses=documented(401))
def logout(db: DB, ctx: Ctx,
           bearer: Annotated[str | None, Depends(bearer_token)]) -> Response:
    """The bearer token of this request stops working at once."""
    assert bearer is not None  # `ctx` has already refused a request without one
    accounts.logout(db, bearer, now=ctx.now, source=ctx.source)
    return Response(status_code=NO_CONTENT)


@router.get("/me", summary="Who am I?", response_model=None,
            responses={**documented(401), 200: {"model": Me, "description": "The user"}})
def me(db: DB, ctx: Ctx) -> dict[str, Any]:
    """The signed-in user: id, username, role, clinic, `patient_id` (their own record) and
    `totp_enabled`."""
    user = accounts.me(db, ctx).to_dict()
    return {**user, "user": user["username"]}


class PasswordChange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    current_password: str = Field(max_length=1024)
    new_password: str = Field(max_length=1024)


@router.post("/me/password", status_code=NO_CONTENT, summary="Change my password",
             responses=documented(401, 422))
def change_password(db: DB, ctx: Ctx, body: PasswordChange) -> Response:
    """Needs the current password. Every session and token of the account ends, this one
    included: sign in again with the new password."""
    accounts.change_password(db, ctx, current=body.current_password, new=body.new_password)
    return Response(status_code=NO_CONTENT)


@router.post("/me/tokens/revoke", summary="Sign out everywhere",
             responses=documented(401))
def revoke_tokens(db: DB, ctx: Ctx) -> dict[str, int]:
    """Ends every session and token of the account (this one included); `revoked` counts them."""
    return {"revoked": accounts.revoke_all_tokens(db, ctx)}


@router.post("/me/totp", status_code=201, summary="Start a second factor (authenticator app)",
             responses=documented(401, 409))
def start_totp(db: DB, ctx: Ctx) -> dict[str, str]:
    """A new secret for an authenticator app (`secret`, and `uri` as an `otpauth://` link or QR
    code). It takes effect once `/me/totp/confirm` receives a code the app shows."""
    enrolment = accounts.start_totp(db, ctx)
    return {"secret": enrolment.secret, "uri": enrolment.uri}


class TotpCode(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: str = Field(min_length=1, max_length=20, description="The app's current code")


@router.post("/me/totp/confirm", status_code=NO_CONTENT, summary="Turn the second factor on",
             responses=documented(401, 409, 422))
def confirm_totp(db: DB, ctx: Ctx, body: TotpCode) -> Response:
    """From now on, signing in asks for the app's code as well as the password."""
    accounts.confirm_totp(db, ctx, body.code)
    return Response(status_code=NO_CONTENT)


@router.post("/me/totp/disable", status_code=NO_CONTENT, summary="Turn the second factor off",
             responses=documented(401, 409, 422))
def disable_totp(db: DB, ctx: Ctx, body: TotpCode) -> Response:
    """Needs a current code from the app, so a stolen session alone cannot turn it off."""
    accounts.disable_totp(db, ctx, body.code)
    return Response(status_code=NO_CONTENT)

"""The signed-in person's own account, for every role: change the password, turn the
authenticator-app second factor on or off, and sign out everywhere.

Each form acts on the caller's own account only (`services.accounts` takes the user from the
context), so there are no ids to check; the services audit every change.
"""

from __future__ import annotations

from typing import Any

import segno
from fastapi import Request
from starlette.responses import RedirectResponse, Response

from lowdose.errors import InputError
from lowdose.services import accounts
from lowdose.services.errors import Conflict
from lowdose.web import session
from lowdose.web.routing import page_router
from lowdose.web.templating import render

router = page_router(prefix="/account")

DONE = {"totp-on": "Two-step sign-in is on: from now on you will be asked for the app's code.",
        "totp-off": "Two-step sign-in is off."}


@router.get("")
def account_page(request: Request, done: str | None = None) -> Response:
    return _page(request, {"done": DONE.get(done or "")})


@router.post("/password")
async def change_password(request: Request) -> Response:
    form = await request.form()
    current, new = str(form.get("current_password", "")), str(form.get("new_password", ""))
    try:
        if new != str(form.get("repeat_password", "")):
            raise InputError("repeat_password", "is not the same as the new password")
        accounts.change_password(session.database(request), session.current_context(request),
                                 current=current, new=new)
    except InputError as exc:
        return _page(request, {"password_error": exc}, status=422)
    # Every session of the account has ended, this one too: sign in with the new password.
    response = RedirectResponse("/signin?changed=1", status_code=303)
    session.sign_out(request, response)
    return response


@router.post("/signout-everywhere")
def sign_out_everywhere(request: Request) -> Response:
    accounts.revoke_all_tokens(session.database(request), session.current_context(request))
    response = RedirectResponse("/signin", status_code=303)
    session.sign_out(request, response)
    return response


@router.post("/totp/start")
def start_totp(request: Request) -> Response:
    try:
        enrolment = accounts.start_totp(session.database(request),
                                        session.current_context(request))
    except Conflict as exc:
        return _page(request, {"totp_error": InputError("two-step sign-in", str(exc))},
                     status=409)
    qr = segno.make(enrolment.uri, error="m").svg_inline(
        scale=4, title="QR code for your authenticator app", svgclass="qr")
    return _page(request, {"enrolment": enrolment, "qr": qr,
                           "secret_groups": _groups(enrolment.secret)})


@router.post("/totp/confirm")
async def confirm_totp(request: Request) -> Response:
    return await _set_totp(request, on=True)


@router.post("/totp/disable")
async def disable_totp(request: Request) -> Response:
    return await _set_totp(request, on=False)


async def _set_totp(request: Request, *, on: bool) -> Response:
    code = str((await request.form()).get("code", "")).strip()
    ctx, db = session.current_context(request), session.database(request)
    try:
        (accounts.confirm_totp if on else accounts.disable_totp)(db, ctx, code)
    except (InputError, Conflict) as exc:
        error = exc if isinstance(exc, InputError) else InputError("code", str(exc))
        hint = " Start again to get a new code." if on else ""
        return _page(request, {"totp_error": InputError(error.field, error.message + hint)},
                     status=422)
    return RedirectResponse(f"/account?done=totp-{'on' if on else 'off'}", status_code=303)


def _page(request: Request, context: dict[str, Any], status: int = 200) -> Response:
    user = session.current_user(request)
    return render(request, "account.html", {
        "account": user, "done": None, "password_error": None, "totp_error": None,
        "enrolment": None, **context}, status=status)


def _groups(secret: str) -> str:
    # Typed by hand into an app: groups of four are easier to copy without a slip.
    return " ".join(secret[i:i + 4] for i in range(0, len(secret), 4))

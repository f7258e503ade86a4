"""`page_router()`: an APIRouter for HTML pages. Every route on it

- checks the CSRF token of every POST (form field `csrf_token` or header `X-CSRF-Token`)
  before the page code runs;
- answers the use-case errors as HTML pages (no session: a redirect to sign in);
- carries the strict security headers (see `web.security`);
- stays out of the API's OpenAPI document.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from starlette.responses import RedirectResponse, Response

from lowdose.errors import InputError
from lowdose.services.errors import Conflict, Forbidden, NotFound, Unauthenticated
from lowdose.web import security, session

Handler = Callable[[Request], Coroutine[Any, Any, Response]]
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


class WebRoute(APIRoute):
    def get_route_handler(self) -> Handler:
        inner = super().get_route_handler()

        async def handle(request: Request) -> Response:
            response = await _answer(request, inner)
            security.add_security_headers(response, https=session.is_https(request),
                                          private=not request.url.path.startswith("/static/"))
            return response

        return handle


def page_router(**options: Any) -> APIRouter:
    """A router whose routes are `WebRoute`s, outside the OpenAPI document."""
    return APIRouter(route_class=WebRoute, include_in_schema=False, **options)


async def _answer(request: Request, inner: Handler) -> Response:
    from lowdose.web.templating import render  # templating imports session, not routing

    if request.method in UNSAFE_METHODS and not await _csrf_ok(request):
        return render(request, "error.html", {
            "title": "This form has expired",
            "message": "The page was open too long or came from somewhere else. Go back, "
                       "reload the page and try again."}, status=403)
    try:
        return await inner(request)
    except Unauthenticated:
        return _to_sign_in(request)
    except Forbidden:
        return render(request, "error.html", {
            "title": "Not allowed", "message": "Your account may not open this page."},
            status=403)
    except (NotFound, RequestValidationError):
        return render(request, "error.html", {
            "title": "Not found", "message": "There is nothing here, or it is not yours to see."},
            status=404)
    except Conflict as exc:
        return render(request, "error.html", {"title": "That clashes with what is stored",
                                              "message": str(exc)}, status=409)
    except InputError as exc:
        return render(request, "error.html", {"title": "Please check what you entered",
                                              "message": f"{exc.field}: {exc.message}"},
                      status=422)


async def _csrf_ok(request: Request) -> bool:
    sent = request.headers.get(security.CSRF_HEADER)
    if sent is None and request.headers.get("content-type", "").startswith(
            ("application/x-www-form-urlencoded", "multipart/form-data")):
        field = (await request.form()).get(security.CSRF_FIELD)
        sent = field if isinstance(field, str) else None
    return session.csrf_valid(request, sent)


def _to_sign_in(request: Request) -> Response:
    # Only the path (ids at most) goes into the URL, never a query string from the page.
    target = "/signin"
    if request.method == "GET" and request.url.path not in ("/", "/signin"):
        target += "?next=" + quote(request.url.path, safe="/")
    response = RedirectResponse(target, status_code=303)
    response.delete_cookie(session.SESSION_COOKIE, path="/")
    return response

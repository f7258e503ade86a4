"""What every request goes through before a route sees it (pure ASGI, outermost first):

1. `RequestLog`: a request id (the proxy's `X-Request-ID` when it is opaque hex, else a new
   one), echoed in the response, and one log line per request with the method, the route
   template (`/api/v1/patients/{patient_id}/checkins`, never the raw path or query string),
   the status and the duration.
2. `AllowedHosts`: a `Host` header the server does not serve is refused (400), so links built
   from it cannot point elsewhere. Health and readiness answer any host: probes often connect
   by address, and they build no links.
3. `InputLimits`: a body larger than the limit is refused (413) before it is read to the end;
   JSON nested deeper than the limit is refused (422) before it is parsed; a NUL character in
   the path, query string, JSON or form body is refused (422): no text lowdose stores can hold
   one (PostgreSQL refuses it outright). All answer with problem details, like every other
   error.
"""

from __future__ import annotations

import logging
import re
import time
import uuid
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import numpy as np
from fastapi import FastAPI
from starlette.requests import Request

from lowdose.api.problems import invalid_input, problem
from lowdose.logs import request_id
from lowdose.settings import Settings

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

access_log = logging.getLogger("lowdose.access")

# A request id from the proxy is kept only when it is opaque: hex digits and dashes (nginx's
# $request_id, a UUID) cannot smuggle words, let alone patient data, into the log.
_REQUEST_ID = re.compile(r"[0-9a-fA-F-]{16,64}")
# Liveness and readiness: load balancers and orchestrators call them by address.
PROBES = frozenset({"/api/v1/health", "/api/v1/ready"})
# Paths whose bodies may be whole records (FHIR Bundles), allowed the larger import limit.
IMPORT_PREFIXES = ("/fhir",)


def install(app: FastAPI, settings: Settings) -> None:
    """Add the middleware to `app`; the last added runs first."""
    app.add_middleware(InputLimits, max_bytes=settings.max_body_bytes,
                       max_import_bytes=settings.max_import_bytes,
                       max_depth=settings.max_json_depth)
    if settings.allowed_hosts != ["*"]:
        app.add_middleware(AllowedHosts, hosts=settings.allowed_hosts)
    app.add_middleware(RequestLog)


def route_template(scope: Scope) -> str:
    """The matched route's path template; requests that matched none share one name."""
    route = scope.get("route")
    path = getattr(route, "path", None)
    return path if isinstance(path, str) and path else "(no route)"


class RequestLog:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        sent = _header(scope, b"x-request-id")
        rid = sent if sent and _REQUEST_ID.fullmatch(sent) else uuid.uuid4().hex
        # Not reset afterwards: each request runs in a task of its own, and the server's own
        # line about a crash, logged after this returns, should carry the id too.
        request_id.set(rid)
        status = 500
        started = time.perf_counter()

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], (b"x-request-id", rid.encode())]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            millis = round((time.perf_counter() - started) * 1000, 2)
            access_log.info("request", extra={"fields": {
                "method": scope["method"], "route": route_template(scope), "status": status,
                "duration_ms": millis}})


class AllowedHosts:
    def __init__(self, app: ASGIApp, hosts: list[str]) -> None:
        self.app = app
        self.exact = {host.lower() for host in hosts if not host.startswith("*.")}
        self.suffixes = tuple(host.lower()[1:] for host in hosts if host.startswith("*."))

    def allows(self, host: str) -> bool:
        name = host.rsplit(":", 1)[0] if not host.endswith("]") else host
        name = name.lower()
        return name in self.exact or (bool(self.suffixes) and name.endswith(self.suffixes))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (scope["type"] == "http" and scope["path"] not in PROBES
                and not self.allows(_header(scope, b"host") or "")):
            response = problem(Request(scope), 400, "This server does not serve the host named "
                                                    "in the Host header.")
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)


class InputLimits:
    def __init__(self, app: ASGIApp, *, max_bytes: int, max_import_bytes: int,
                 max_depth: int) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.max_import_bytes = max_import_bytes
        self.max_depth = max_depth

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        if "\x00" in path or b"%00" in scope.get("query_string", b""):
            await _refuse_nul(scope, receive, send, "path" if "\x00" in path else "query")
            return
        limit = self.max_import_bytes if path.startswith(IMPORT_PREFIXES) else self.max_bytes
        declared = _header(scope, b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            await _too_large(scope, receive, send, limit)
            return
        if declared in (None, "0") and _header(scope, b"transfer-encoding") is None:
            await self.app(scope, receive, send)  # no body at all: nothing to read or check
            return
        body = bytearray()
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return  # the client went away; nobody to answer
            body += message.get("body", b"")
            if len(body) > limit:
                await _too_large(scope, receive, send, limit)
                return
            if not message.get("more_body", False):
                break
        if _is_json(scope) and nests_deeper_than(bytes(body), self.max_depth):
            errors = [{"field": "body",
                       "message": f"nests deeper than {self.max_depth} levels"}]
            await invalid_input(Request(scope), errors)(scope, receive, send)
            return
        if holds_nul(bytes(body), _media_type(scope)):
            await _refuse_nul(scope, receive, send, "body")
            return
        await self.app(scope, _replay(bytes(body), receive), send)


async def _too_large(scope: Scope, receive: Receive, send: Send, limit: int) -> None:
    response = problem(Request(scope), 413,
                       f"The request body is larger than this server accepts ({limit} bytes).")
    # The rest of the body is never read: close the connection rather than drain it.
    response.headers["connection"] = "close"
    await response(scope, receive, send)


async def _refuse_nul(scope: Scope, receive: Receive, send: Send, field: str) -> None:
    errors = [{"field": field, "message": "contains a NUL character (\\u0000), which no text "
                                          "can hold"}]
    await invalid_input(Request(scope), errors)(scope, receive, send)


def _replay(body: bytes, receive: Receive) -> Receive:
    """A `receive` that gives the body already read, then hands over to the server's."""
    done = False

    async def replay() -> Message:
        nonlocal done
        if not done:
            done = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key == name:
            return bytes(value).decode("latin-1")
    return None


def _media_type(scope: Scope) -> str:
    return (_header(scope, b"content-type") or "").split(";")[0].strip().lower()


def _is_json(scope: Scope) -> bool:
    # FastAPI parses a body as JSON when it says so, or when it names no type at all.
    media_type = _media_type(scope)
    return not media_type or "json" in media_type


def _escaped_nul(body: bytes) -> bool:
    """Whether JSON text holds the escape `\\u0000`. JSON reads escapes left to right, so
    dropping every escaped backslash (`\\\\`) first leaves `\\u0000` only where it is one."""
    return b"\\u0000" in body and b"\\u0000" in body.replace(b"\\\\", b"")


def holds_nul(body: bytes, media_type: str) -> bool:
    """Whether a JSON or form body carries a NUL character (raw, escaped or %-encoded)."""
    if not media_type or "json" in media_type:
        return b"\x00" in body or _escaped_nul(body)
    if media_type == "application/x-www-form-urlencoded":
        return b"\x00" in body or b"%00" in body
    return False  # multipart uploads are checked by the route that reads them


# A JSON string, escapes included: its brackets are text, not nesting.
_JSON_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"')
_NOT_BRACKETS = bytes(sorted(set(range(256)) - set(b"[]{}")))


def nests_deeper_than(body: bytes, limit: int) -> bool:
    """Whether JSON text `body` opens more than `limit` arrays/objects inside each other.

    Counted on the raw bytes, so a hostile document costs a scan, not a parse; text that is
    not JSON at all is left for the parser to refuse.
    """
    if body.count(b"[") + body.count(b"{") <= limit:
        return False  # too few brackets to be that deep: the common, small body
    brackets = np.frombuffer(_JSON_STRING.sub(b"", body).translate(None, _NOT_BRACKETS),
                             dtype=np.uint8)
    # +1 for each opening bracket, -1 for each closing one: the running sum is the depth.
    steps = np.where((brackets == ord("[")) | (brackets == ord("{")), 1, -1).astype(np.int32)
    return bool(steps.size) and int(np.cumsum(steps).max()) > limit

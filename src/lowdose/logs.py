"""Log lines for operators: one JSON object per line (or plain text), never patient data.

What a line may carry: the time, level, logger, a message written by lowdose or the server,
the request id, and for requests the method, route template, status and duration (see
`api/middleware.py`). What it never carries: bodies, query strings, raw paths, names, notes,
and exception messages. An exception is logged as its type and the code locations it passed
through: its message, like a database error's "Failing row contains (…)", may quote the
patient data that caused it, and locals are never printed.

`configure(settings)` is called by the process that serves (`lowdose serve`, `lowdose.asgi`),
not by `create_app`, so tests and embedding programs keep their own logging.
"""

from __future__ import annotations

import json
import logging
import sys
import traceback
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

from lowdose.settings import Settings

# The id of the request being served, for every line logged while serving it.
request_id: ContextVar[str | None] = ContextVar("lowdose_request_id", default=None)

# Frames kept per exception: lowdose's own (where to look) and the innermost few (what
# failed), bounded for deep recursion.
MAX_FRAMES = 30
INNERMOST = 3


def describe_exception(exc: BaseException, *, depth: int = 0) -> dict[str, Any]:
    """The type of `exc` and where it was raised, and the same for its cause; no message."""
    kind = type(exc)
    stack = traceback.extract_tb(exc.__traceback__)
    kept = [i for i, frame in enumerate(stack)
            if "/lowdose/" in frame.filename or i >= len(stack) - INNERMOST]
    frames = [f"{_short(stack[i].filename)}:{stack[i].lineno} in {stack[i].name}"
              for i in kept[-MAX_FRAMES:]]
    described: dict[str, Any] = {"type": f"{kind.__module__}.{kind.__qualname__}",
                                 "frames": frames}
    cause = exc.__cause__ or (None if exc.__suppress_context__ else exc.__context__)
    if cause is not None and depth < 5:
        described["caused_by"] = describe_exception(cause, depth=depth + 1)
    return described


def _short(filename: str) -> str:
    # From the package on: "lowdose/services/checkins.py", "sqlalchemy/engine/base.py".
    for marker in ("/site-packages/", "/src/"):
        if marker in filename:
            return filename.rsplit(marker, 1)[1]
    return filename


def _fields(record: logging.LogRecord) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    current = request_id.get()
    if current:
        fields["request_id"] = current
    extra = getattr(record, "fields", None)
    if isinstance(extra, dict):
        fields.update(extra)
    return fields


def _exception(record: logging.LogRecord) -> dict[str, Any] | None:
    if record.exc_info and record.exc_info[1] is not None:
        return describe_exception(record.exc_info[1])
    return None


class JsonLines(logging.Formatter):
    """One JSON object per line: time, level, logger, message, request fields, error."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage().strip(),
            **_fields(record),
        }
        error = _exception(record)
        if error is not None:
            entry["error"] = error
        return json.dumps(entry, default=str, ensure_ascii=False)


class PlainText(logging.Formatter):
    """The same content for a person at a terminal: `time level logger message k=v …`."""

    def format(self, record: logging.LogRecord) -> str:
        moment = datetime.fromtimestamp(record.created, UTC).strftime("%H:%M:%S")
        fields = " ".join(f"{key}={value}" for key, value in _fields(record).items())
        line = f"{moment} {record.levelname:<7} {record.name}: {record.getMessage().strip()}"
        line = f"{line} {fields}" if fields else line
        error = _exception(record)
        while error is not None:
            line += f"\n  {error['type']}" + "".join(f"\n    at {f}" for f in error["frames"])
            error = error.get("caused_by")
        return line


def configure(settings: Settings, stream: Any = None) -> None:
    """Send every log line, the server's included, through one formatter to stderr."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonLines() if settings.json_logs else PlainText())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(settings.log_level.upper())
    # Python's warnings print raw text to stderr; as log records they become JSON lines too.
    logging.captureWarnings(True)
    for name in ("uvicorn", "uvicorn.error", "gunicorn.error"):
        logger = logging.getLogger(name)
        logger.handlers.clear()
        logger.propagate = True
    # The server's access log prints the raw request line, query string included (a calendar
    # feed's secret is in its path); lowdose's request log prints the route template instead.
    for name in ("uvicorn.access", "gunicorn.access"):
        logger = logging.getLogger(name)
        logger.handlers.clear()
        logger.propagate = False
        logger.disabled = True

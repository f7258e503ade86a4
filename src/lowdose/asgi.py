"""The application for process managers, configured from the LOWDOSE_* environment.

Several workers: prefer `lowdose serve --workers N`, which turns Nagle's algorithm off on the
shared socket; `uvicorn --workers` and gunicorn's uvicorn worker leave it on, and each
keep-alive request then waits ~40 ms for a delayed ACK. One worker per process is fine:

    uvicorn lowdose.asgi:app --port 8001 --proxy-headers

Importing it checks the settings (production mode refuses unsafe defaults, naming the
variable, and exits 1), sends every log line through lowdose's formatter (JSON lines in
production, no patient data) and builds the app. Each worker migrates the database on start;
workers take turns, so any number may start at once. See docs/deploy.md.
"""

from __future__ import annotations

import sys

from pydantic import ValidationError

from lowdose import logs
from lowdose.api.app import create_app
from lowdose.settings import Settings, get_settings


def load() -> Settings:
    """The settings, or exit 1 with each bad variable named (never its value)."""
    try:
        return get_settings()
    except ValidationError as exc:
        for error in exc.errors():
            name = "LOWDOSE_" + "_".join(str(part) for part in error["loc"]).upper()
            message = str(error["msg"]).removeprefix("Value error, ")
            print(f"lowdose: {name}: {message}", file=sys.stderr)
        raise SystemExit(1) from None


settings = load()
logs.configure(settings)
app = create_app(settings)

"""Reading command-line input: JSON files (or stdin), dates and clock times, Pydantic models.

Every problem becomes an `InputError` (or `InputProblems` for several at once) naming the
option or the JSON field, so `main()` can print it and exit 1 instead of a traceback.
Only the standard library is imported here: this module is loaded on every start.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import date, datetime, time
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from lowdose.errors import InputError

if TYPE_CHECKING:
    from pydantic import BaseModel

Model = TypeVar("Model", bound="BaseModel")


class InputProblems(Exception):
    """Several input problems at once (a JSON body can have many), each (field, message)."""

    def __init__(self, problems: list[tuple[str, str]]) -> None:
        super().__init__("; ".join(f"{field}: {message}" for field, message in problems))
        self.problems = problems


def read_json(path: str, field: str) -> Any:
    """The JSON document in the file at `path`, or on stdin when `path` is `-`."""
    text = sys.stdin.read() if path == "-" else _read_text(Path(path), field)
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(field, f"is not valid JSON: {exc.msg} at line {exc.lineno} "
                                f"column {exc.colno}") from None


def _read_text(path: Path, field: str) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(field, f"no such file: {path}") from None
    except IsADirectoryError:
        raise InputError(field, f"{path} is a folder, not a file") from None
    except PermissionError:
        raise InputError(field, f"cannot read {path}: permission denied") from None
    except UnicodeDecodeError:
        raise InputError(field, f"{path} is not UTF-8 text") from None


def parse_model(model: type[Model], data: Any) -> Model:
    """Validate `data` with a Pydantic model, turning every validation error into a problem."""
    from pydantic import ValidationError

    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise InputProblems(validation_problems(exc.errors())) from None


def validation_problems(errors: Any) -> list[tuple[str, str]]:
    """Pydantic's error list as (dotted field, message): `medications.0.text`."""
    problems = []
    for error in errors:
        field = ".".join(str(part) for part in error["loc"]) or "(document)"
        problems.append((field, _message(error)))
    return problems


def _message(error: Mapping[str, Any]) -> str:
    if error["type"] == "extra_forbidden":
        return "is not a known field"
    if error["type"] == "missing":
        return "is required"
    # Pydantic prefixes messages raised by validators with "Value error, ".
    return str(error["msg"]).removeprefix("Value error, ")


@contextmanager
def options(names: Mapping[str, str]) -> Iterator[None]:
    """Report a core InputError about `target_mg` as one about `--target`, the option typed."""
    try:
        yield
    except InputError as exc:
        option = names.get(exc.field)
        if option is None:
            raise
        raise InputError(option, exc.message) from None


def parse_date(option: str, text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise InputError(option, f"{text!r} is not a date; use YYYY-MM-DD, e.g. 2025-06-02"
                         ) from None


def parse_datetime(option: str, text: str) -> datetime:
    """A local date and clock time (no time zone): `2025-06-12T08:00` or `2025-06-12 08:00`."""
    # A bare date would silently mean midnight: ask for the clock time too.
    has_clock = "T" in text.upper() or " " in text.strip()
    try:
        moment = datetime.fromisoformat(text) if has_clock else None
    except ValueError:
        moment = None
    if moment is None:
        raise InputError(option, f"{text!r} is not a date and time; use YYYY-MM-DDTHH:MM, "
                                 f"e.g. 2025-06-12T08:00")
    if moment.tzinfo is not None:
        raise InputError(option, "give the local clock time without a time zone")
    return moment


def parse_time(option: str, text: str) -> time:
    try:
        moment = time.fromisoformat(text)
    except ValueError:
        raise InputError(option, f"{text!r} is not a clock time; use HH:MM, e.g. 22:00"
                         ) from None
    if moment.tzinfo is not None:
        raise InputError(option, "give the local clock time without a time zone")
    return moment


def parse_zone(option: str, name: str | None) -> ZoneInfo | None:
    """The IANA time zone named, else this machine's (TZ, then /etc/localtime), else None:
    the clock times typed are read there so a daylight-saving change is counted."""
    if name is not None:
        zone = _zone(name)
        if zone is None:
            raise InputError(option, f"{name[:64]!r} is not a time zone name such as "
                                     f"Europe/London or America/New_York")
        return zone
    configured = os.environ.get("TZ", "").removeprefix(":")
    if configured:
        return _zone(configured)
    try:
        with open("/etc/localtime", "rb") as local:
            return ZoneInfo.from_file(local)
    except (OSError, ValueError):
        return None


def _zone(name: str) -> ZoneInfo | None:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None


def emit_json(data: Any) -> None:
    """The contract dict, exactly, on stdout."""
    sys.stdout.write(json.dumps(data, indent=2, ensure_ascii=False) + "\n")

"""The settings, with a bad LOWDOSE_* variable reported as bad input (exit 1), not a crash."""

from __future__ import annotations

from typing import TYPE_CHECKING

from lowdose.cli.inputs import InputProblems, validation_problems

if TYPE_CHECKING:
    from lowdose.settings import Settings


def load_settings() -> Settings:
    from pydantic import ValidationError

    from lowdose.settings import get_settings

    try:
        return get_settings()
    except ValidationError as exc:
        problems = validation_problems(exc.errors())
        # Name the variable the user set: hold_hours → LOWDOSE_HOLD_HOURS.
        raise InputProblems([(_variable(field), message) for field, message in problems]
                            ) from None


def _variable(field: str) -> str:
    return "LOWDOSE_" + field.upper() if field != "(document)" else "LOWDOSE_*"

"""The screen builds its frozen results with `make_frozen` (faster than their generated
`__init__`), which does not check that every field is given. Every object a screen returns must
still hold every field of its dataclass: a field added to a result type but not to its
`make_frozen` call fails here instead of at the first read."""

from __future__ import annotations

import json
from dataclasses import fields, is_dataclass
from pathlib import Path
from typing import Any

import pytest

from lowdose.core.medicines import make_frozen
from lowdose.core.screening import screen
from lowdose.knowledge.screening import load_screening_knowledge
from lowdose.schemas.screening import Profile

ROOT = Path(__file__).resolve().parents[2]
PROFILES = sorted((ROOT / "tests" / "fixtures" / "profiles").glob("*.json"))
KNOWLEDGE = load_screening_knowledge()


def dataclass_objects(value: Any) -> list[Any]:
    """Every dataclass instance reachable from `value` through fields, tuples and lists."""
    found, stack = [], [value]
    while stack:
        item = stack.pop()
        if is_dataclass(item) and not isinstance(item, type):
            found.append(item)
            stack.extend(vars(item).values())
        elif isinstance(item, tuple | list):
            stack.extend(item)
    return found


@pytest.mark.parametrize("path", [*PROFILES, ROOT / "bench" / "profile_20_medicines.json"],
                         ids=lambda p: p.name)
def test_every_result_object_holds_every_field(path: Path) -> None:
    profile = Profile.model_validate(json.loads(path.read_text())).to_core()
    objects = dataclass_objects(screen(profile, KNOWLEDGE))
    assert objects
    for item in objects:
        missing = [f.name for f in fields(item) if f.name not in vars(item)]
        assert not missing, f"{type(item).__name__} lacks {missing}"


def test_a_missing_field_is_caught() -> None:
    from lowdose.core.medicines import Strength

    partial = make_frozen(Strength, ingredient="oxycodone", value=5.0)  # no unit
    assert dataclass_objects(partial) == [partial]
    assert [f.name for f in fields(partial) if f.name not in vars(partial)] == ["unit"]

"""A patient record with something of everything (conditions, medicines, an LDN course with a
stepped plan, diary days, questionnaires), and the validators an export must pass: the official
R4 JSON schema (jsonschema, Draft 6) and fhir.resources' R4B models."""

from __future__ import annotations

import json
from datetime import date, datetime, time
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from api.test_records import RecordServer, server  # noqa: F401  (fixture used by name)
from lowdose.core.diary import SideEffect
from lowdose.services import checkins, courses, medicines, patients, questionnaires
from persistence.conftest import (  # noqa: F401  (fixtures used by name)
    PASSWORD,
    Cast,
    CastIds,
    backend,
    cast,
    isolated_database,
    templates,
)

SCHEMA = Path("/work/shared/data/fhir-r4/fhir.schema.json")
PHQ9 = {str(i): (i % 4) for i in range(1, 10)}


@cache
def _schema_validator() -> jsonschema.Draft6Validator:
    schema = json.loads(SCHEMA.read_text())
    return jsonschema.Draft6Validator(schema)


def schema_errors(resource: dict[str, Any]) -> list[str]:
    """Errors of `resource` against the official R4 JSON schema."""
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}"
            for e in _schema_validator().iter_errors(resource)]


def model_errors(resource: dict[str, Any]) -> list[str]:
    """Errors of `resource` against fhir.resources' R4B models (cardinality, choice types)."""
    from fhir.resources.R4B import get_fhir_model_class
    from pydantic import ValidationError

    try:
        get_fhir_model_class(resource["resourceType"]).model_validate(resource)
    except ValidationError as exc:
        return [str(e) for e in exc.errors()]
    return []


def assert_valid_fhir(resource: dict[str, Any]) -> None:
    problems = schema_errors(resource) + model_errors(resource)
    assert problems == [], "\n".join(problems[:20])


def seed_record(people: Cast) -> int:
    """Alice's record, written by her clinician: returns her patient id."""
    db, ctx, alice = people.db, people.ctx("clinician"), people.ids.alice
    patients.update_profile(db, ctx, alice, birth_date=date(1973, 4, 2), sex="female",
                            weight_kg=68.5, conditions=("fibromyalgia", "migraine"))
    medicines.add_medicine(db, ctx, alice, text="ibuprofen 400 mg as needed",
                           started_on=date(2024, 1, 10), last_taken=date(2025, 5, 30))
    medicines.add_medicine(db, ctx, alice, text="sertraline 50 MG Oral Tablet", rxnorm="312940",
                           last_taken=datetime(2025, 6, 1, 8, 0))
    medicines.add_medicine(db, ctx, alice, text="tramadol 50 mg", started_on=date(2025, 3, 1),
                           stopped_on=date(2025, 4, 1))
    courses.start_course(db, ctx, alice, started_on=date(2025, 5, 1), indication="fibromyalgia",
                         first_plan=courses.PlanRequest(from_date=date(2025, 5, 1),
                                                        protocol="ldnrt-liquid"))
    for offset, taken in enumerate([True, True, False, True]):
        checkins.record_checkin(db, ctx, alice, checkins.CheckinInput(
            date=date(2025, 5, 28 + offset), dose_taken=taken,
            dose_mg=0.5 if taken else None, dose_time=time(22, 5) if taken else None,
            ratings={"pain": 6 - offset, "fatigue": 5, "sleep": 7},
            side_effects=(SideEffect("vivid dreams", 1),)))
    questionnaires.record_response(db, ctx, alice, instrument="phq9",
                                   answered_at=datetime(2025, 6, 1, 9, 30), answers=PHQ9)
    return alice


@pytest.fixture
def record(cast: Cast) -> tuple[Cast, int]:  # noqa: F811
    return cast, seed_record(cast)


# The interop tests' real server is the record tests' one, under the name they use.
Running = RecordServer


@pytest.fixture
def running(server: RecordServer) -> RecordServer:  # noqa: F811
    return server

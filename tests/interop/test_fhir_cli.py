"""`lowdose export-fhir` and `lowdose import-fhir` as real processes: they act as a named user
signed in with a password (the operator may not read patient data), write a valid Bundle, and
bad input exits 1 naming what is wrong."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from interop.conftest import assert_valid_fhir, seed_record
from interop.test_fhir_import import ehr_bundle
from lowdose.services import medicines
from lowdose.store import Database
from persistence.conftest import PASSWORD, Cast, CastIds

Lowdose = Callable[..., Any]  # the `lowdose` fixture: runs the console script


@pytest.fixture
def clinic(isolated_database: Callable[[str], tuple[str, object]]) -> tuple[Cast, str]:
    url, ids = isolated_database("cast")
    assert isinstance(ids, CastIds)
    return Cast(Database(url), ids), url


def test_export_writes_a_valid_collection_as_the_named_user(
        clinic: tuple[Cast, str], lowdose: Lowdose, tmp_path: Path) -> None:
    cast, url = clinic
    alice = seed_record(cast)
    out = tmp_path / "alice.json"
    done = lowdose("export-fhir", str(alice), "--as", "carol", "--out", str(out), "--json",
                   "--database-url", url, env={"LOWDOSE_PASSWORD": PASSWORD})
    assert done.code == 0, done.stderr
    bundle = json.loads(out.read_text())
    assert_valid_fhir(bundle)
    assert bundle["type"] == "collection"
    assert done.json() == {"file": str(out), "resources": len(bundle["entry"]),
                           "patient_id": alice}


def test_export_to_stdout_with_the_password_on_stdin(clinic: tuple[Cast, str],
                                                     lowdose: Lowdose) -> None:
    cast, url = clinic
    done = lowdose("export-fhir", str(cast.ids.alice), "--as", "alice", "--password-stdin",
                   "--database-url", url, stdin=PASSWORD + "\n")
    assert done.code == 0, done.stderr
    assert done.json()["entry"][0]["resource"]["resourceType"] == "Patient"


@pytest.mark.parametrize(("args", "password", "field"), [
    (["--as", "carol"], "wrong password", "--as"),
    (["--as", "carol"], "", "--as"),
    (["--as", "oscar"], PASSWORD, "PATIENT"),  # a clinician not on her care team
    (["--as", "ada"], PASSWORD, "PATIENT"),  # the clinic admin: no clinical data
])
def test_export_refusals_exit_1_naming_the_problem(clinic: tuple[Cast, str], lowdose: Lowdose,
                                                   args: list[str], password: str,
                                                   field: str) -> None:
    cast, url = clinic
    done = lowdose("export-fhir", str(cast.ids.alice), *args, "--database-url", url,
                   env={"LOWDOSE_PASSWORD": password})
    assert done.code == 1
    assert done.stderr.startswith(f"error: {field}: ")
    assert done.stdout == ""


def test_import_reports_each_entry_and_stores_the_medicines(
        clinic: tuple[Cast, str], lowdose: Lowdose, tmp_path: Path) -> None:
    cast, url = clinic
    alice = cast.ids.alice
    file = tmp_path / "ehr.json"
    file.write_text(json.dumps(ehr_bundle("ehr-1")))
    done = lowdose("import-fhir", str(alice), str(file), "--as", "carol", "--json",
                   "--database-url", url, env={"LOWDOSE_PASSWORD": PASSWORD})
    assert done.code == 0, done.stderr
    report = done.json()
    assert report["added"] == 3
    assert [i["outcome"] for i in report["items"]] == [
        "added", "added", "added", "skipped", "skipped"]
    listed = medicines.list_medicines(cast.db, cast.ctx("clinician"), alice)
    assert len(listed) == 2


def test_import_of_a_bad_bundle_exits_1_with_the_element_and_stores_nothing(
        clinic: tuple[Cast, str], lowdose: Lowdose) -> None:
    cast, url = clinic
    bad = ehr_bundle("ehr-1", {"resourceType": "Condition", "code": {}})
    done = lowdose("import-fhir", str(cast.ids.alice), "-", "--as", "carol",
                   "--database-url", url, stdin=json.dumps(bad),
                   env={"LOWDOSE_PASSWORD": PASSWORD})
    assert done.code == 1
    assert done.stderr.startswith("error: Bundle.entry[5].resource.code: ")
    assert medicines.list_medicines(cast.db, cast.ctx("clinician"), cast.ids.alice) == []

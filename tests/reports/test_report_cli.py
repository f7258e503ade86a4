"""`lowdose report` and `lowdose diary` as whole processes: they act as a signed-in user (never
the operator), through the policy and the audit log, and fail with exit 1 naming the field."""

from __future__ import annotations

import io
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from pypdf import PdfReader
from sqlalchemy import select, text

from lowdose.services import checkins
from lowdose.services.checkins import CheckinInput
from lowdose.store.models import AuditEvent, AuthToken
from persistence.conftest import PASSWORD, Cast


@pytest.fixture(params=["sqlite"])
def backend(request: pytest.FixtureRequest) -> str:
    """The commands are thin over the services tested on both backends: SQLite suffices."""
    return str(request.param)


@pytest.fixture
def env(cast: Cast) -> dict[str, str]:
    url = str(cast.db.engine.url.render_as_string(hide_password=False))
    return {"LOWDOSE_DATABASE_URL": url, "LOWDOSE_PASSWORD": PASSWORD}


def _diary(cast: Cast) -> None:
    for day, pain in ((date(2025, 5, 30), 6), (date(2025, 5, 31), 5)):
        checkins.record_checkin(cast.db, cast.ctx("patient"), cast.ids.alice,
                                CheckinInput(date=day, ratings={"pain": pain}))


def test_the_report_is_written_as_the_named_user_and_audited(
        cast: Cast, lowdose: Callable[..., Any], env: dict[str, str],
        tmp_path: Path) -> None:
    out = tmp_path / "visit.pdf"
    run = lowdose("report", str(cast.ids.alice), "--as", "carol", "--out", str(out), env=env)
    assert run.code == 0, run.stderr
    text = " ".join(p.extract_text() for p in PdfReader(io.BytesIO(out.read_bytes())).pages)
    assert "Visit report: Alice" in text
    with cast.db.transaction(write=False) as session:
        event = session.scalars(select(AuditEvent).where(
            AuditEvent.action == "report.visit")).one()
        tokens = session.scalars(select(AuthToken).where(
            AuthToken.user_id == cast.user("clinician").id)).all()
    assert (event.actor_user_id, event.source, event.outcome) == (
        cast.user("clinician").id, "cli", "allowed")
    assert tokens and all(t.revoked_at is not None for t in tokens)  # signed out at the end


def test_json_output_and_password_from_stdin(cast: Cast, lowdose: Callable[..., Any],
                                             env: dict[str, str], tmp_path: Path) -> None:
    out = tmp_path / "r.pdf"
    no_env = {**env, "LOWDOSE_PASSWORD": ""}
    run = lowdose("report", str(cast.ids.alice), "--as", "alice", "--password-stdin",
                  "--out", str(out), "--json", stdin=PASSWORD + "\n", env=no_env)
    assert run.code == 0, run.stderr
    assert run.json() == {"patient_id": cast.ids.alice, "out": str(out),
                          "bytes": out.stat().st_size}


@pytest.mark.parametrize(("args", "extra_env", "field"), [
    (["--as", "carol"], {"LOWDOSE_PASSWORD": "wrong"}, "--as"),
    (["--as", "oscar"], {}, "PATIENT"),  # a clinician not on Alice's care team
    (["--as", "dave"], {}, "PATIENT"),  # another clinic
    (["--as", "carol"], {"LOWDOSE_PASSWORD": ""}, "--as"),  # no password, no terminal
])
def test_refusals_exit_1_naming_the_field_and_write_nothing(
        cast: Cast, lowdose: Callable[..., Any], env: dict[str, str], tmp_path: Path,
        args: list[str], extra_env: dict[str, str], field: str) -> None:
    out = tmp_path / "visit.pdf"
    run = lowdose("report", str(cast.ids.alice), *args, "--out", str(out),
                  env={**env, **extra_env})
    assert run.code == 1
    assert run.stderr.startswith(f"error: {field}: ")
    assert not out.exists()


def test_a_database_a_newer_lowdose_migrated_is_refused_naming_it(
        cast: Cast, lowdose: Callable[..., Any], env: dict[str, str], tmp_path: Path) -> None:
    with cast.db.transaction() as session:
        session.execute(text("UPDATE alembic_version SET version_num = 'from-the-future'"))
    out = tmp_path / "visit.pdf"
    run = lowdose("report", str(cast.ids.alice), "--as", "carol", "--out", str(out), env=env)
    assert run.code == 1
    assert run.stderr.startswith("error: database: its schema is at revision from-the-future")
    assert not out.exists()


def test_without_a_user_it_says_the_operator_may_not_read_patient_data(
        cast: Cast, lowdose: Callable[..., Any], env: dict[str, str]) -> None:
    done = lowdose("report", str(cast.ids.alice), env=env)
    assert done.code == 1
    assert done.stderr.startswith("error: --as: the operator may not read patient data")


def test_diary_export_then_import_into_another_record(
        cast: Cast, lowdose: Callable[..., Any], env: dict[str, str],
        tmp_path: Path) -> None:
    _diary(cast)
    csv_file = tmp_path / "diary.csv"
    exported = lowdose("diary", "export", str(cast.ids.alice), "--as", "carol", "--out",
                       str(csv_file), env=env)
    assert exported.code == 0, exported.stderr
    imported = lowdose("diary", "import", str(cast.ids.bob), str(csv_file), "--as", "carol",
                       "--json", env=env)
    assert imported.code == 0, imported.stderr
    assert imported.json() == {"rows": 2, "created": 2, "updated": 0,
                               "unchanged": 0}
    bob = checkins.list_checkins(cast.db, cast.ctx("clinician"), cast.ids.bob)
    assert [(c.date, dict(c.ratings)) for c in bob] == [
        (date(2025, 5, 30), {"pain": 6}), (date(2025, 5, 31), {"pain": 5})]


def test_diary_export_as_json_gives_the_check_ins_as_the_api_does(
        cast: Cast, lowdose: Callable[..., Any], env: dict[str, str]) -> None:
    # design §3.3: every command has --json; the objects are §3.4's check-ins.
    _diary(cast)
    run = lowdose("diary", "export", str(cast.ids.alice), "--as", "carol", "--from",
                  "2025-05-31", "--json", env=env)
    assert run.code == 0, run.stderr
    stored = checkins.list_checkins(cast.db, cast.ctx("clinician"), cast.ids.alice,
                                    date_from=date(2025, 5, 31))
    assert run.json() == [c.to_dict() for c in stored]
    assert [(c["date"], c["ratings"]) for c in run.json()] == [("2025-05-31", {"pain": 5})]


def test_a_bad_file_prints_every_bad_line_and_stores_nothing(
        cast: Cast, lowdose: Callable[..., Any], env: dict[str, str],
        tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("Day,Pain\n2025-05-01,4\n2025-05-02,eleven\n2025-05-03,\n2025-5-4,3\n")
    mapping = tmp_path / "mapping.json"
    mapping.write_text('{"columns": {"Day": "date", "Pain": "ratings.pain"}}')
    run = lowdose("diary", "import", str(cast.ids.alice), str(bad), "--mapping", str(mapping),
                  "--as", "alice", env=env)
    assert run.code == 1
    assert run.stderr.splitlines() == [
        "error: line 3: ratings.pain: 'eleven' is not a whole number from 0 to 10",
        "error: line 5: date: '2025-5-4' is not a date in the form YYYY-MM-DD",
        "error: FILE: nothing was imported"]
    assert checkins.list_checkins(cast.db, cast.ctx("patient"), cast.ids.alice) == []

"""The command line as a whole: help, exit codes, lazy start-up, `serve`, `knowledge`."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from lowdose import __version__
from lowdose.knowledge.evidence import load_evidence, load_side_effects
from lowdose.knowledge.instruments import load_instruments
from lowdose.knowledge.medicines import load_medicine_vocabulary
from lowdose.knowledge.regimens import load_titration_facts
from lowdose.knowledge.sources import load_sources

RunLowdose = Callable[..., Any]
HEAVY = ("fastapi", "uvicorn", "sqlalchemy", "starlette", "rich", "alembic", "numpy")


def test_without_a_command_it_shows_help_as_a_usage_error(lowdose: RunLowdose) -> None:
    run = lowdose()
    assert run.code == 2
    for command in ("screen", "plan", "formulate", "periop", "knowledge", "serve"):
        assert command in run.stdout + run.stderr


def test_help_says_lowdose_does_not_make_decisions(lowdose: RunLowdose) -> None:
    run = lowdose("--help")
    assert run.code == 0
    assert "does not make them" in " ".join(run.stdout.split())


def test_version(lowdose: RunLowdose) -> None:
    run = lowdose("version")
    assert (run.code, run.stdout.strip()) == (0, __version__)


def test_version_as_json(lowdose: RunLowdose) -> None:
    # design §3.3: every command has --json.
    run = lowdose("version", "--json")
    assert (run.code, json.loads(run.stdout)) == (0, {"version": __version__})


@pytest.mark.parametrize(("command", "default"), [
    (("plan",), "[default: today]"),
    (("serve",), "[default: LOWDOSE_DATABASE_URL, else SQLite in the data dir]"),
    (("formulate",), "[default: from the facts]"),
])
def test_help_shows_each_options_default(lowdose: RunLowdose, command: tuple[str, ...],
                                         default: str) -> None:
    # Defaults are written "[default: …]"; read as markup, they vanished from the help
    # ("Database URL .").
    run = lowdose(*command, "--help")
    assert run.code == 0
    assert default in " ".join(run.stdout.split())


def test_unknown_command_is_a_usage_error(lowdose: RunLowdose) -> None:
    run = lowdose("prescribe")
    assert run.code == 2
    assert "Traceback" not in run.stderr


def imported_by(code: str, tmp_path: Path) -> set[str]:
    done = subprocess.run([sys.executable, "-X", "importtime", "-c", code], text=True,
                          capture_output=True, cwd=tmp_path, check=True)
    lines = [line.split("|")[-1] for line in done.stderr.splitlines() if "|" in line]
    return {line.strip().split(".")[0] for line in lines}


def test_starting_the_command_line_imports_no_web_database_or_rich_code(tmp_path: Path) -> None:
    # Start-up budget (design §4): the heavy libraries load only inside the command using them.
    loaded = imported_by("import lowdose.cli", tmp_path)
    assert not loaded & set(HEAVY)


def test_knowledge_summary_counts_what_the_loaders_load(lowdose: RunLowdose) -> None:
    run = lowdose("knowledge", "--json")
    assert run.code == 0, run.stderr
    evidence = load_evidence()
    assert run.json() == {
        "sources": len(load_sources()),
        "drugs": len(load_medicine_vocabulary().concepts),
        "rxnorm_codes": len(load_medicine_vocabulary().rxnorm),
        "protocols": len(load_titration_facts().protocols),
        "conditions": len(evidence.conditions),
        "claims": len(evidence.claims),
        "instruments": len(load_instruments()),
        "side_effects": len(load_side_effects().side_effects),
    }


def test_knowledge_sources_lists_every_source_with_its_citation(lowdose: RunLowdose) -> None:
    run = lowdose("knowledge", "sources", "--json")
    assert run.code == 0, run.stderr
    assert run.json() == load_sources().to_dict()
    human = lowdose("knowledge", "sources")
    for source in load_sources():
        assert f"[{source.id}]" in human.stdout


def test_knowledge_protocols_lists_every_preset_name(lowdose: RunLowdose) -> None:
    run = lowdose("knowledge", "protocols")
    assert run.code == 0, run.stderr
    for protocol in load_titration_facts().protocols:
        assert protocol.name in run.stdout


@pytest.mark.parametrize(
    ("query", "sources"),
    [
        ("fibromyalgia", {"younger-2009", "younger-2013", "bruun-2024"}),
        ("Crohn's disease", {"smith-2011"}),
        ("multiple sclerosis", {"cree-2010"}),
    ],
)
def test_knowledge_evidence_for_one_condition_cites_its_trials(
    lowdose: RunLowdose, query: str, sources: set[str]
) -> None:
    run = lowdose("knowledge", "evidence", query, "--json")
    assert run.code == 0, run.stderr
    cited = {s for study in run.json()["studies"] for s in study["sources"]}
    assert sources <= cited


def test_knowledge_drugs_filters_by_name(lowdose: RunLowdose) -> None:
    run = lowdose("knowledge", "drugs", "norco", "--json")
    assert run.code == 0, run.stderr
    drugs = run.json()["drugs"]
    assert drugs
    assert all("norco" in " ".join([d["name"], *d["names"]]).lower() for d in drugs)
    assert any("hydrocodone" in d["ingredients"] for d in drugs)


@pytest.mark.parametrize(
    ("args", "code", "field"),
    [
        (["knowledge", "evidence", "no such illness"], 1, "CONDITION"),
        (["knowledge", "drugs", "zzzzqqq"], 1, "QUERY"),
        (["knowledge", "sources", "extra"], 1, "QUERY"),
        (["knowledge", "recipes"], 2, None),
    ],
)
def test_knowledge_bad_queries(
    lowdose: RunLowdose, args: list[str], code: int, field: str | None
) -> None:
    run = lowdose(*args)
    assert run.code == code
    if field:
        assert run.stderr.startswith(f"error: {field}: ")
    assert "Traceback" not in run.stderr


def _serve(lowdose_argv: list[str], lowdose_env: dict[str, str], port: int, tmp_path: Path,
           *options: str) -> subprocess.Popen[bytes]:
    database = f"sqlite:///{tmp_path / 'serve.sqlite3'}"
    server = subprocess.Popen(
        [*lowdose_argv, "serve", "--port", str(port), "--database-url", database, *options],
        env=lowdose_env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 30
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=2):
                return server
        except OSError:
            assert server.poll() is None, server.stdout.read().decode() if server.stdout else ""
            assert time.monotonic() < deadline, "server did not start"
            time.sleep(0.1)


def test_serve_answers_http_on_the_given_port(
    lowdose_argv: list[str], lowdose_env: dict[str, str], free_port: int, tmp_path: Path
) -> None:
    server = _serve(lowdose_argv, lowdose_env, free_port, tmp_path)
    try:
        response = httpx.get(f"http://127.0.0.1:{free_port}/api/v1/health", timeout=5)
        assert response.json()["status"] == "ok"
    finally:
        server.terminate()
        server.wait(timeout=20)


def test_serve_sheds_requests_beyond_its_concurrency_limit(
    lowdose_argv: list[str], lowdose_env: dict[str, str], free_port: int, tmp_path: Path
) -> None:
    server = _serve(lowdose_argv, lowdose_env, free_port, tmp_path, "--limit-concurrency", "2")
    held = [socket.create_connection(("127.0.0.1", free_port)) for _ in range(2)]
    try:
        time.sleep(0.5)  # both connections accepted and counted
        over = httpx.get(f"http://127.0.0.1:{free_port}/api/v1/health", timeout=5)
        assert over.status_code == 503  # answered at once, not queued
        for connection in held:
            connection.close()
        time.sleep(0.5)
        assert httpx.get(f"http://127.0.0.1:{free_port}/api/v1/health",
                         timeout=5).status_code == 200
    finally:
        for connection in held:
            connection.close()
        server.terminate()
        server.wait(timeout=20)

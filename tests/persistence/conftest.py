"""Real databases for the persistence tests: every test runs on SQLite and on PostgreSQL, each
on a database of its own.

- SQLite: a fresh file per test, copied from a migrated template file.
- PostgreSQL (127.0.0.1:5432, trust auth, user `postgres` or `root`, or the URL in
  LOWDOSE_TEST_POSTGRES_URL): one working database per xdist worker, put back to its migrated
  starting rows after every test (creating a database per test costs ~0.4 s); tests that change
  the schema get a database of their own. Without a reachable server the PostgreSQL half is
  skipped with a message, except under CI (`CI=true`), where it fails.

The `cast` fixture adds a fixed set of personas for authorization tests (see `Cast`).
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache
from pathlib import Path

import psycopg
import pytest

from lowdose.security.policy import OPERATOR, Actor, Role
from lowdose.services import accounts, careteams, patients
from lowdose.services.accounts import UserView
from lowdose.services.context import Context
from lowdose.store import Database, migrate
from lowdose.store.models import Base

NOW = datetime(2025, 6, 2, 9, 0, tzinfo=UTC)
PASSWORD = "correct horse battery staple"
SOURCE = "203.0.113.7"
BACKENDS = ("sqlite", "postgresql")
_MAINTENANCE_URLS = (
    "postgresql://postgres@127.0.0.1:5432/postgres",
    "postgresql://root@127.0.0.1:5432/postgres",
)
_RUN = f"{os.environ.get('PYTEST_XDIST_WORKER', 'main')}_{os.getpid()}"


# ------------------------------------------------------------------------- PostgreSQL


@cache
def _postgres_maintenance_url() -> str | None:
    configured = os.environ.get("LOWDOSE_TEST_POSTGRES_URL")
    for url in (configured,) if configured else _MAINTENANCE_URLS:
        try:
            with psycopg.connect(url, connect_timeout=3):
                return url
        except psycopg.OperationalError:
            continue
    return None


def _require_postgres() -> str:
    url = _postgres_maintenance_url()
    if url is not None:
        return url
    message = ("PostgreSQL is not reachable at 127.0.0.1:5432 as user postgres or root "
               "(set LOWDOSE_TEST_POSTGRES_URL to point elsewhere)")
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{message}; under CI the PostgreSQL half must run", pytrace=False)
    pytest.skip(f"{message}: PostgreSQL tests skipped")


def _pg_execute(sql: str) -> None:
    with psycopg.connect(_require_postgres(), autocommit=True) as connection:
        connection.execute(sql)


def _pg_url(name: str) -> str:
    base = _require_postgres().rsplit("/", 1)[0]
    return f"{base}/{name}"


# ------------------------------------------------------------------------- templates


@dataclass
class Templates:
    """Migrated template databases, built once per test run (and xdist worker)."""

    directory: Path
    built: dict[tuple[str, str], tuple[str, object]] = field(default_factory=dict)
    pg_databases: list[str] = field(default_factory=list)

    def get(self, backend: str, kind: str) -> tuple[str, object]:
        """(template location, data made while building it) for `kind` "empty" or "cast"."""
        if (backend, kind) not in self.built:
            self.built[backend, kind] = self._build(backend, kind)
        return self.built[backend, kind]

    def _build(self, backend: str, kind: str) -> tuple[str, object]:
        if backend == "sqlite":
            location = str(self.directory / f"template-{kind}.sqlite3")
            url = f"sqlite:///{location}"
        else:
            location = f"lowdose_tpl_{_RUN}_{kind}"
            _pg_execute(f"DROP DATABASE IF EXISTS {location}")
            _pg_execute(f"CREATE DATABASE {location}")
            self.pg_databases.append(location)
            url = _pg_url(location)
        migrate(url)
        data: object = None
        if kind == "cast":
            database = Database(url)
            try:
                data = build_cast(database)
            finally:
                database.dispose()
        return location, data

    def working(self, kind: str) -> str:
        """The worker's PostgreSQL database of `kind`, made once, with a snapshot of its rows
        (schema `snapshot`) that `reset` restores."""
        name = f"lowdose_w_{_RUN}_{kind}"
        if name not in self.pg_databases:
            location, _ = self.get("postgresql", kind)
            _pg_execute(f"DROP DATABASE IF EXISTS {name}")
            _pg_execute(f"CREATE DATABASE {name} TEMPLATE {location}")
            self.pg_databases.append(name)
            with psycopg.connect(_pg_url(name), autocommit=True) as connection:
                connection.execute("CREATE SCHEMA snapshot")
                for table in Base.metadata.sorted_tables:
                    connection.execute(
                        f"CREATE TABLE snapshot.{table.name} AS TABLE public.{table.name}")
        return name

    def reset(self, name: str) -> None:
        """Put a working database back to its snapshot rows and sequence positions."""
        tables = Base.metadata.sorted_tables
        with psycopg.connect(_pg_url(name)) as connection:
            for table in reversed(tables):
                connection.execute(f"DELETE FROM public.{table.name}")
            for table in tables:
                connection.execute(
                    f"INSERT INTO public.{table.name} SELECT * FROM snapshot.{table.name}")
                if "id" in table.c and table.c.id.autoincrement is not False:
                    connection.execute(
                        f"SELECT setval(pg_get_serial_sequence('public.{table.name}', 'id'), "
                        f"COALESCE(MAX(id), 0) + 1, false) FROM public.{table.name}")

    def fresh(self, backend: str, kind: str, name: str) -> tuple[str, object]:
        """A new database copied from the template: (URL, template data)."""
        location, data = self.get(backend, kind)
        if backend == "sqlite":
            target = self.directory / f"{name}.sqlite3"
            shutil.copyfile(location, target)
            return f"sqlite:///{target}", data
        _pg_execute(f"CREATE DATABASE {name} TEMPLATE {location}")
        return _pg_url(name), data


@pytest.fixture(scope="session")
def templates(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Templates]:
    made = Templates(tmp_path_factory.mktemp("databases"))
    yield made
    for name in made.pg_databases:
        _pg_execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    if request.param == "postgresql":
        _require_postgres()
    return str(request.param)


@pytest.fixture
def fresh_database(templates: Templates, backend: str,
                   tmp_path: Path) -> Iterator[Callable[[str], tuple[str, object]]]:
    """Make databases of their own, of a kind ("empty", "cast", "bare": not migrated), for
    tests that change the schema; all are dropped when the test ends."""
    made: list[str] = []

    def make(kind: str) -> tuple[str, object]:
        name = f"lowdose_t_{_RUN}_{uuid.uuid4().hex[:10]}"
        if kind != "bare":
            url, data = templates.fresh(backend, kind, name)
        elif backend == "sqlite":
            url, data = f"sqlite:///{tmp_path / name}.sqlite3", None
        else:
            _pg_execute(f"CREATE DATABASE {name}")
            url, data = _pg_url(name), None
        if backend == "postgresql":
            made.append(name)
        return url, data

    yield make
    for name in made:
        _pg_execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture
def isolated_database(templates: Templates, backend: str,
                      tmp_path: Path) -> Iterator[Callable[[str], tuple[str, object]]]:
    """A database of a kind ("empty", "cast") for one test's rows only: a fresh SQLite file,
    or the worker's PostgreSQL database, reset after the test."""
    used: list[str] = []

    def make(kind: str) -> tuple[str, object]:
        if backend == "sqlite":
            return templates.fresh(backend, kind, f"{kind}-{uuid.uuid4().hex[:10]}")
        name = templates.working(kind)
        used.append(name)
        return _pg_url(name), templates.get(backend, kind)[1]

    yield make
    for name in used:
        templates.reset(name)


@pytest.fixture
def db_url(isolated_database: Callable[[str], tuple[str, object]]) -> str:
    """The URL of a migrated database with no rows of its own."""
    return isolated_database("empty")[0]


@pytest.fixture
def db(db_url: str) -> Iterator[Database]:
    database = Database(db_url)
    yield database
    database.dispose()


# ----------------------------------------------------------------------------- personas


@dataclass(frozen=True)
class CastIds:
    clinic_a: int
    clinic_b: int
    team_a: int
    team_b: int
    users: dict[str, UserView]
    alice: int  # patient record of the persona "patient"
    bob: int  # patient record of the persona "second_patient"
    erin: int  # a patient of clinic B (no login)


PERSONAS = ("patient", "second_patient", "clinician", "other_clinician", "admin",
            "team_admin", "outsider")


@dataclass
class Cast:
    """A fixed cast on a fresh database.

    Clinic A: patients alice ("patient") and bob ("second_patient") with their own logins, both
    cared for by care team A with clinician carol ("clinician") and admin tess ("team_admin");
    admin ada ("admin") on no team; clinician oscar ("outsider") on no team.
    Clinic B: clinician dave ("other_clinician") on care team B, caring for erin (no login).
    Plus the server's "operator".
    """

    db: Database
    ids: CastIds

    def actor(self, persona: str) -> Actor:
        if persona == "operator":
            return OPERATOR
        user = self.ids.users[persona]
        return Actor(user_id=user.id, role=Role(user.role), clinic_id=user.clinic_id)

    def ctx(self, persona: str, now: datetime = NOW, source: str = SOURCE) -> Context:
        return Context(actor=self.actor(persona), now=now, source=source)

    def user(self, persona: str) -> UserView:
        return self.ids.users[persona]

    def ctx_of(self, user: UserView, now: datetime = NOW) -> Context:
        """The context of any user, e.g. one a test just created."""
        return Context(Actor(user.id, Role(user.role), user.clinic_id), now, SOURCE)


def build_cast(db: Database) -> CastIds:
    op = Context(OPERATOR, NOW, "cli")
    clinic_a = accounts.create_clinic(db, op, "Clinic A").id
    clinic_b = accounts.create_clinic(db, op, "Clinic B").id
    roles = {"patient": ("alice", "patient", clinic_a),
             "second_patient": ("bob", "patient", clinic_a),
             "clinician": ("carol", "clinician", clinic_a),
             "other_clinician": ("dave", "clinician", clinic_b),
             "admin": ("ada", "admin", clinic_a),
             "team_admin": ("tess", "admin", clinic_a),
             "outsider": ("oscar", "clinician", clinic_a)}
    users = {persona: accounts.create_user(db, op, clinic_id=clinic, username=name,
                                           password=PASSWORD, role=role,
                                           display_name=name.title())
             for persona, (name, role, clinic) in roles.items()}
    admin_a = Context(Actor(users["admin"].id, Role.ADMIN, clinic_a), NOW, "cli")
    admin_b = accounts.create_user(db, op, clinic_id=clinic_b, username="bea",
                                   password=PASSWORD, role="admin")
    admin_b_ctx = Context(Actor(admin_b.id, Role.ADMIN, clinic_b), NOW, "cli")
    alice = patients.create_patient(db, admin_a, clinic_id=clinic_a, display_name="Alice",
                                    user_id=users["patient"].id, synthetic=True).id
    bob = patients.create_patient(db, admin_a, clinic_id=clinic_a, display_name="Bob",
                                  user_id=users["second_patient"].id, synthetic=True).id
    erin = patients.create_patient(db, admin_b_ctx, clinic_id=clinic_b, display_name="Erin",
                                   synthetic=True).id
    team_a = careteams.create_care_team(db, admin_a, clinic_a, "Team A").id
    for persona in ("clinician", "team_admin"):
        careteams.add_member(db, admin_a, team_a, users[persona].id)
    for patient_id in (alice, bob):
        careteams.assign_patient(db, admin_a, team_a, patient_id)
    team_b = careteams.create_care_team(db, admin_b_ctx, clinic_b, "Team B").id
    careteams.add_member(db, admin_b_ctx, team_b, users["other_clinician"].id)
    careteams.assign_patient(db, admin_b_ctx, team_b, erin)
    refreshed = {p: accounts.me(db, Context(Actor(u.id, Role(u.role), u.clinic_id), NOW))
                 for p, u in users.items()}
    return CastIds(clinic_a, clinic_b, team_a, team_b, refreshed, alice, bob, erin)


@pytest.fixture
def cast(isolated_database: Callable[[str], tuple[str, object]]) -> Iterator[Cast]:
    url, ids = isolated_database("cast")
    assert isinstance(ids, CastIds)
    database = Database(url)
    yield Cast(database, ids)
    database.dispose()

"""Walk every route of the app × method × persona × own and foreign ids over real HTTP, on
SQLite and PostgreSQL: nobody gets what the expectation table does not grant, everyone gets
what it does grant, and no list carries another patient's or clinic's records.

A route missing from `TABLE` fails `test_every_route_has_an_expectation`: a new route cannot
ship without saying who may use it.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

import httpx
from fastapi.routing import APIRoute, iter_route_contexts
from test_records import RecordServer, server  # noqa: F401

from lowdose.api.app import create_app
from lowdose.core.nof1 import Arm
from lowdose.security.policy import OPERATOR
from lowdose.services import (
    accounts,
    calendar,
    checkins,
    courses,
    medicines,
    nof1,
    patients,
    procedures,
)
from lowdose.services.context import Context
from lowdose.settings import Settings
from persistence.conftest import NOW, PASSWORD, backend, isolated_database, templates  # noqa: F401  (fixtures used by name)  # noqa: F401

PERSONAS = ("patient", "second_patient", "clinician", "other_clinician", "admin",
            "team_admin", "outsider", "anonymous")
SIGNED_IN = frozenset(PERSONAS) - {"anonymous"}
NOBODY: frozenset[str] = frozenset()

# Who may, per kind of use, on the own side (Alice, clinic A, care team A) and the foreign side
# (Erin, clinic B, care team B). From the cast: Alice is "patient"; "clinician" and
# "team_admin" are on her care team; "admin" administers clinic A; "outsider" is a clinician of
# clinic A on no team; "other_clinician" cares for Erin in clinic B.
VIEW = {"own": frozenset({"patient", "clinician", "team_admin", "admin"}),
        "foreign": frozenset({"other_clinician"})}
READ = {"own": frozenset({"patient", "clinician", "team_admin"}),
        "foreign": frozenset({"other_clinician"})}
WRITE = {"own": frozenset({"patient", "clinician"}), "foreign": frozenset({"other_clinician"})}
PRESCRIBE = {"own": frozenset({"clinician"}), "foreign": frozenset({"other_clinician"})}
ADMINISTER = {"own": frozenset({"admin", "team_admin"}), "foreign": NOBODY}
ANYONE_SIGNED_IN = {"own": SIGNED_IN}  # routes without ids: walked once

# Stateless routes: they take no ids and store nothing, so they need no account.
PUBLIC = {("GET", "/api/v1/health"), ("POST", "/api/v1/screen"), ("POST", "/api/v1/plan"),
          ("POST", "/api/v1/formulate"), ("POST", "/api/v1/periop"),
          ("POST", "/api/v1/auth/token"),
          ("GET", "/api/v1/ready")}  # readiness: says only whether the database is current
# CDS Hooks routes take no API token: the EHR client signs a JWT (interop.cds_auth), so every
# persona's API token is refused there (test_cds_hooks_routes_refuse_every_api_token); their
# own tests (tests/interop/test_cdshooks.py) walk good and bad JWTs.
EHR_JWT = {("GET", "/cds-services"), ("POST", "/cds-services/ldn-safety"),
           ("POST", "/cds-services/ldn-safety-sign")}

# The caller's own account (password, second factor, tokens): no ids, and each call changes or
# ends the caller's own sign-in, so they are walked in tests/api/test_account_routes.py, where
# anonymous callers are refused on every one.
OWN_ACCOUNT = {("POST", "/api/v1/auth/logout"), ("POST", "/api/v1/me/password"),
               ("POST", "/api/v1/me/tokens/revoke"), ("POST", "/api/v1/me/totp"),
               ("POST", "/api/v1/me/totp/confirm"), ("POST", "/api/v1/me/totp/disable")}

P = "/api/v1/patients/{patient_id}"
TABLE: dict[tuple[str, str], dict[str, frozenset[str]]] = {
    ("GET", "/api/v1/me"): ANYONE_SIGNED_IN,
    ("GET", "/api/v1/patients"): ANYONE_SIGNED_IN,
    ("POST", "/api/v1/clinics/{clinic_id}/patients"): ADMINISTER,
    ("GET", P): VIEW,
    ("GET", P + "/profile"): READ,
    ("PATCH", P + "/profile"): WRITE,
    ("GET", P + "/medicines"): READ,
    ("POST", P + "/medicines"): WRITE,
    ("PATCH", P + "/medicines/{medicine_id}"): WRITE,
    ("DELETE", P + "/medicines/{medicine_id}"): WRITE,
    ("GET", P + "/medicines/{medicine_id}/history"): READ,
    ("POST", P + "/checkins"): WRITE,
    ("GET", P + "/checkins"): READ,
    ("GET", P + "/checkins/{day}/history"): READ,
    ("GET", P + "/courses"): READ,
    ("POST", P + "/courses"): PRESCRIBE,
    ("POST", P + "/courses/{course_id}/end"): PRESCRIBE,
    ("GET", P + "/courses/{course_id}/plans"): READ,
    ("POST", P + "/courses/{course_id}/plans"): PRESCRIBE,
    ("GET", P + "/procedures"): READ,
    ("POST", P + "/procedures"): WRITE,
    ("POST", P + "/procedures/{procedure_id}/cancel"): WRITE,
    ("GET", P + "/supplies"): READ,
    ("POST", P + "/supplies"): WRITE,
    ("GET", P + "/questionnaires"): READ,
    ("POST", P + "/questionnaires"): WRITE,
    ("GET", P + "/screen"): READ,
    ("GET", P + "/outcomes"): READ,
    ("GET", P + "/flags"): READ,
    ("GET", P + "/next-step"): READ,
    ("GET", P + "/report.pdf"): READ,
    ("GET", P + "/checkins.csv"): READ,
    ("POST", P + "/checkins/import"): WRITE,
    ("POST", P + "/next-step/approve"): PRESCRIBE,
    ("GET", P + "/calendar.ics"): READ,
    ("GET", P + "/calendar/preferences"): READ,
    ("PATCH", P + "/calendar/preferences"): WRITE,
    ("GET", P + "/calendar/feeds"): READ,
    ("POST", P + "/calendar/feeds"): WRITE,
    ("DELETE", P + "/calendar/feeds/{feed_id}"): WRITE,
    ("POST", P + "/nof1"): PRESCRIBE,
    ("GET", P + "/nof1"): READ,
    ("GET", P + "/nof1/{comparison_id}"): READ,
    ("GET", P + "/nof1/{comparison_id}/analysis"): READ,
    ("POST", P + "/nof1/{comparison_id}/cancel"): PRESCRIBE,
    # FHIR: the record as a Bundle; a Bundle's medicines and conditions into the record it
    # names (walked once: the body names the own side's patient).
    ("GET", "/fhir/Patient/{patient_id}/$everything"): READ,
    ("POST", "/fhir"): {"own": WRITE["own"]},
    # The panel: clinicians and admins of any clinic, each scoped to their own patients.
    ("GET", "/api/v1/panel"): {"own": frozenset({"clinician", "other_clinician", "admin",
                                                 "team_admin", "outsider"})},
    ("GET", "/api/v1/clinics/{clinic_id}/users"): ADMINISTER,
    ("POST", "/api/v1/clinics/{clinic_id}/users"): ADMINISTER,
    ("PATCH", "/api/v1/users/{user_id}"): ADMINISTER,
    ("POST", "/api/v1/users/{user_id}/password"): ADMINISTER,
    ("GET", "/api/v1/clinics/{clinic_id}/care-teams"): ADMINISTER,
    ("POST", "/api/v1/clinics/{clinic_id}/care-teams"): ADMINISTER,
    ("PUT", "/api/v1/care-teams/{team_id}/members/{user_id}"): ADMINISTER,
    ("DELETE", "/api/v1/care-teams/{team_id}/members/{user_id}"): ADMINISTER,
    ("PUT", "/api/v1/care-teams/{team_id}/patients/{patient_id}"): ADMINISTER,
    ("DELETE", "/api/v1/care-teams/{team_id}/patients/{patient_id}"): ADMINISTER,
}


# FHIR and CDS Hooks stay out of the API's OpenAPI document (their own specifications describe
# them) but are walked like every API route.
OWN_SPECIFICATION = ("/fhir", "/cds-services")


def app_routes() -> set[tuple[str, str]]:
    app = create_app(Settings(mode="development", secret_key="test-secret"))
    return {(method, r.path) for r in iter_route_contexts(app.routes)
            if isinstance(r.original_route, APIRoute)
            and (r.include_in_schema or r.path.startswith(OWN_SPECIFICATION))
            for method in r.methods}


def test_every_route_has_an_expectation() -> None:
    routes = app_routes()
    assert routes - PUBLIC - EHR_JWT - OWN_ACCOUNT - set(TABLE) == set(), \
        "routes without an authorization entry"
    assert set(TABLE) | PUBLIC | EHR_JWT | OWN_ACCOUNT <= routes, \
        "entries for routes that no longer exist"
    assert all("{" not in path for _, path in OWN_ACCOUNT), "own-account routes take no ids"
    assert all("{" not in path for _, path in PUBLIC), "a public route must not take ids"


# ------------------------------------------------------------------------------- the world


@dataclass
class World:
    """The ids each side's requests use; things a request changes or ends (a medicine, a
    course, a procedure) are made fresh for every request."""

    server: RecordServer
    writer: dict[str, Context] = field(default_factory=dict)
    patient: dict[str, int] = field(default_factory=dict)
    clinic: dict[str, int] = field(default_factory=dict)
    team: dict[str, int] = field(default_factory=dict)
    spare_user: dict[str, int] = field(default_factory=dict)
    spare_patient: dict[str, int] = field(default_factory=dict)
    course_day: dict[str, date] = field(default_factory=dict)
    counter: itertools.count[int] = field(default_factory=itertools.count)

    @classmethod
    def build(cls, running: RecordServer) -> World:
        cast, ids = running.cast, running.cast.ids
        db, operator = cast.db, Context(OPERATOR, NOW, "cli")
        admin_b = accounts.create_user(db, operator, clinic_id=ids.clinic_b,
                                       username="walk-admin-b", password=PASSWORD, role="admin")
        world = cls(running, writer={"own": cast.ctx("clinician"),
                                    "foreign": cast.ctx("other_clinician")},
                    patient={"own": ids.alice, "foreign": ids.erin},
                    clinic={"own": ids.clinic_a, "foreign": ids.clinic_b},
                    team={"own": ids.team_a, "foreign": ids.team_b},
                    course_day={"own": date(2020, 1, 1), "foreign": date(2020, 1, 1)})
        admins = {"own": cast.ctx("admin"), "foreign": cast.ctx_of(admin_b)}
        for side in ("own", "foreign"):
            world.spare_user[side] = accounts.create_user(
                db, operator, clinic_id=world.clinic[side], username=f"walk-spare-{side}",
                password=PASSWORD, role="clinician").id
            world.spare_patient[side] = patients.create_patient(
                db, admins[side], clinic_id=world.clinic[side], display_name="Spare",
                synthetic=True).id
            checkins.record_checkin(db, world.writer[side], world.patient[side],
                                    checkins.CheckinInput(date=date(2025, 6, 1), note="walk"))
        return world

    def params(self, path: str, side: str) -> dict[str, Any]:
        """Path parameters of `path` for `side`, making what the request may change."""
        db, ctx, patient = self.server.cast.db, self.writer[side], self.patient[side]
        found: dict[str, Any] = {"clinic_id": self.clinic[side], "team_id": self.team[side],
                                 "patient_id": patient, "day": "2025-06-01",
                                 "user_id": self.spare_user[side]}
        if path.startswith("/api/v1/care-teams/"):
            found["patient_id"] = self.spare_patient[side]
        if "{medicine_id}" in path:
            found["medicine_id"] = medicines.add_medicine(db, ctx, patient,
                                                          text="ibuprofen 200 mg").id
        if "{procedure_id}" in path:
            found["procedure_id"] = procedures.add_procedure(
                db, ctx, patient, name="knee arthroscopy", at=datetime(2025, 7, 1, 8, 0)).id
        if "/courses" in path:
            self._end_running(side)
        if "{feed_id}" in path:
            found["feed_id"] = calendar.create_feed(db, ctx, patient).feed.id
        if "{comparison_id}" in path:
            found["comparison_id"] = nof1.create_comparison(
                db, ctx, patient, nof1.ComparisonRequest(
                    a=Arm(3.0, time(22)), b=Arm(4.5, time(22)),
                    starts_on=self.comparison_start())).id
        if path.endswith("/next-step/approve"):
            # Something to approve: a running course with a plan.
            self._end_running(side)
            courses.start_course(db, ctx, patient, started_on=self.course_day[side],
                                 first_plan=courses.PlanRequest(
                                     from_date=self.course_day[side],
                                     protocol="dartmouth-weekly"))
        if "{course_id}" in path:
            found["course_id"] = courses.start_course(db, ctx, patient,
                                                      started_on=self.course_day[side]).id
        return found

    def comparison_start(self) -> date:
        # Comparisons never overlap: each one made by the walk gets days of its own.
        return date(2030, 1, 1) + timedelta(days=120 * next(self.counter))

    def _end_running(self, side: str) -> None:
        # Courses never overlap: end the running one, and start the next one days later.
        db, ctx, patient = self.server.cast.db, self.writer[side], self.patient[side]
        for course in courses.list_courses(db, ctx, patient):
            if course.ended_on is None:
                courses.end_course(db, ctx, patient, course.id, ended_on=course.started_on)
        self.course_day[side] += timedelta(days=3)

    def body(self, method: str, path: str, side: str) -> dict[str, Any] | None:
        n = next(self.counter)
        bodies: dict[tuple[str, str], dict[str, Any]] = {
            ("POST", "/api/v1/clinics/{clinic_id}/patients"): {"display_name": f"Walk {n}"},
            ("PATCH", P + "/profile"): {"weight_kg": 70},
            ("POST", P + "/medicines"): {"text": "ibuprofen 200 mg"},
            ("PATCH", P + "/medicines/{medicine_id}"): {"stopped_on": "2025-06-01"},
            ("POST", P + "/checkins"): {"date": "2025-06-02", "ratings": {"pain": n % 11}},
            ("POST", P + "/courses"): {"started_on": self.course_day[side].isoformat()},
            ("POST", P + "/courses/{course_id}/end"):
                {"ended_on": self.course_day[side].isoformat()},
            ("POST", P + "/courses/{course_id}/plans"):
                {"request": {"from_date": "2025-06-02", "protocol": "ldnrt-liquid"}},
            ("POST", P + "/procedures"): {"name": "knee arthroscopy", "at": "2025-07-01T08:00"},
            ("POST", P + "/supplies"): {"dispensed_on": "2025-06-02", "form": "liquid",
                                        "quantity": 50, "strength": 1.0},
            ("POST", P + "/checkins/import"): {"csv": "date,ratings.pain\n2025-06-01,4\n"},
            ("POST", P + "/nof1"): {"a": {"dose_mg": 3.0, "time": "22:00"},
                                    "b": {"dose_mg": 4.5, "time": "22:00"},
                                    "starts_on": self.comparison_start().isoformat()},
            ("POST", P + "/questionnaires"): {"instrument": "bpi",
                                              "answered_at": "2025-06-02T09:00",
                                              "answers": {"pain_now": 4}},
            ("POST", "/api/v1/clinics/{clinic_id}/users"): {
                "username": f"walk-user-{n}", "password": PASSWORD, "role": "clinician"},
            ("PATCH", "/api/v1/users/{user_id}"): {"active": True},
            ("POST", "/api/v1/users/{user_id}/password"): {"password": PASSWORD},
            ("POST", "/api/v1/clinics/{clinic_id}/care-teams"): {"name": f"Walk team {n}"},
            ("PATCH", P + "/calendar/preferences"): {"timezone": "Europe/Berlin"},
            ("POST", P + "/calendar/feeds"): {"label": f"walk {n}"},
            ("POST", "/fhir"): {"resourceType": "Bundle", "type": "transaction", "entry": [
                {"resource": {"resourceType": "MedicationStatement", "status": "active",
                              "medicationCodeableConcept": {"text": f"ibuprofen {n} mg"},
                              "subject": {"reference": f"Patient/{self.patient[side]}"}}}]},
        }
        return bodies.get((method, path))


# -------------------------------------------------------------------------------- the walk


@dataclass(frozen=True)
class Call:
    method: str
    path: str
    side: str
    persona: str
    status: int

    def __str__(self) -> str:
        return f"{self.persona} {self.method} {self.path} ({self.side}) → {self.status}"


def walk(world: World, persona_check: Callable[[Call, Any], list[str]]) -> list[str]:
    running, problems = world.server, []
    for (method, path), allowed in sorted(TABLE.items()):
        # A route without ids is the same route for everyone: walked once.
        sides = ("own", "foreign") if "{" in path else ("own",)
        for side, persona in itertools.product(sides, PERSONAS):
            url = path.format(**world.params(path, side))
            response = running.client.request(method, url, json=world.body(method, path, side),
                                              headers=running.as_(persona))
            call = Call(method, path, side, persona, response.status_code)
            problems += judge(call, allowed.get(side, NOBODY)) + persona_check(call, response)
    return problems


def judge(call: Call, allowed: frozenset[str]) -> list[str]:
    if call.persona in allowed:
        return [] if 200 <= call.status < 300 else [f"wrongly refused: {call}"]
    expected = {401} if call.persona == "anonymous" else {403, 404}
    return [] if call.status in expected else [f"unexpected answer: {call}"]


def no_foreign_records(world: World) -> Callable[[Call, Any], list[str]]:
    """Every record in a successful list belongs to the patient or clinic asked about, and a
    patient's own list of patients holds only themselves."""
    users = world.server.cast.ids.users

    def check(call: Call, response: httpx.Response) -> list[str]:
        if call.method != "GET" or not 200 <= call.status < 300 or call.path.endswith(
                (".ics", ".pdf", ".csv")):
            return []
        body = response.json()
        items = [item for item in (body if isinstance(body, list) else [body])
                 if isinstance(item, dict)]
        owner = {"clinic_id": world.clinic[call.side]}
        if call.path.startswith(P):
            owner["patient_id"] = world.patient[call.side]
        if call.path == "/api/v1/patients":
            user = users[call.persona]
            owner = {"clinic_id": user.clinic_id}
            if user.role == "patient":
                owner["id"] = user.patient_id or -1
        elif call.path == "/api/v1/me":
            return []
        return [f"foreign record in {call}: {item}" for item in items
                for key, value in owner.items() if key in item and item[key] != value]
    return check


def test_no_route_lets_anyone_past_the_table_and_no_list_leaks(server: RecordServer,  # noqa: F811
                                                               ) -> None:
    world = World.build(server)
    problems = walk(world, no_foreign_records(world))
    assert problems == [], "\n".join(problems)


def test_anonymous_can_reach_only_the_public_routes(server: RecordServer) -> None:  # noqa: F811
    assert server.client.get("/api/v1/health").status_code == 200
    token = server.client.post("/api/v1/auth/token", data={"username": "alice",
                                                           "password": PASSWORD})
    assert token.status_code == 200


def test_cds_hooks_routes_refuse_every_api_token(server: RecordServer) -> None:  # noqa: F811
    for (method, path), persona in itertools.product(sorted(EHR_JWT), PERSONAS):
        response = server.client.request(method, path, json={}, headers=server.as_(persona))
        assert response.status_code == 401, f"{persona} {method} {path}"

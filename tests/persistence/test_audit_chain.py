"""The audit log: every access to patient data leaves an event, refusals included, and any
edit to the stored log is detected by `verify_chain`."""

from __future__ import annotations

import random
import threading
from datetime import date, timedelta
from typing import Any

import pytest
from sqlalchemy import delete, insert, select, update
from sqlalchemy.orm import Session

from lowdose.security import audit
from lowdose.security.audit import verify_chain
from lowdose.services import checkins, medicines, patients
from lowdose.services.checkins import CheckinInput
from lowdose.services.errors import Forbidden, NotFound
from lowdose.store.models import AuditEvent, AuditHead

from .conftest import NOW, SOURCE, Cast

EDITS = 1000


def _events(cast: Cast, after: int = 0) -> list[AuditEvent]:
    with cast.db.transaction(write=False) as session:
        return list(session.scalars(select(AuditEvent).where(AuditEvent.id > after)
                                    .order_by(AuditEvent.id)))


def _last_id(cast: Cast) -> int:
    with cast.db.transaction(write=False) as session:
        head = session.get(AuditHead, audit.HEAD_ID)
        assert head is not None
        return head.last_id


def test_the_cast_setup_left_a_valid_chain(cast: Cast) -> None:
    with cast.db.transaction(write=False) as session:
        report = verify_chain(session)
    assert report.ok and report.events == _last_id(cast) > 0, report


def test_a_batch_of_events_extends_the_chain_one_link_per_patient(cast: Cast) -> None:
    before = _last_id(cast)
    patients_shown = [cast.ids.alice, cast.ids.bob, None]
    with cast.db.transaction() as session:
        made = audit.append_each(session, at=NOW, actor_user_id=cast.user("clinician").id,
                                 action="panel.read", patient_ids=patients_shown,
                                 source=SOURCE)
    stored = _events(cast, before)
    assert [e.id for e in stored] == [before + 1, before + 2, before + 3] == [e.id for e in made]
    assert [e.patient_id for e in stored] == patients_shown
    assert [e.prev_hash for e in stored[1:]] == [e.hash for e in stored[:-1]]
    assert _last_id(cast) == before + 3
    with cast.db.transaction(write=False) as session:
        assert verify_chain(session).ok


def test_reads_and_writes_of_patient_data_are_audited_with_who_what_when_where(
        cast: Cast) -> None:
    start = _last_id(cast)
    ctx = cast.ctx("clinician")
    added = medicines.add_medicine(cast.db, ctx, cast.ids.alice, text="sertraline 50 mg")
    patients.get_profile(cast.db, ctx, cast.ids.alice)
    events = _events(cast, start)
    assert [(e.action, e.outcome, e.patient_id, e.actor_user_id, e.source) for e in events] == [
        ("medicine.add", "allowed", cast.ids.alice, ctx.actor.user_id, SOURCE),
        ("profile.read", "allowed", cast.ids.alice, ctx.actor.user_id, SOURCE),
    ]
    assert events[0].target == f"medicine:{added.id}@1"
    assert all(e.at == NOW.replace(tzinfo=None) for e in events)


@pytest.mark.parametrize(("persona", "error"), [
    ("second_patient", NotFound),  # may not know Alice exists
    ("other_clinician", NotFound),
    ("admin", Forbidden),  # knows Alice, may not read her diary
])
def test_refusals_are_audited_too(cast: Cast, persona: str, error: type[Exception]) -> None:
    start = _last_id(cast)
    with pytest.raises(error):
        checkins.list_checkins(cast.db, cast.ctx(persona), cast.ids.alice)
    [event] = _events(cast, start)
    assert (event.action, event.outcome, event.patient_id, event.actor_user_id) == (
        "checkin.list", "denied", cast.ids.alice, cast.user(persona).id)


def test_listing_patients_audits_each_patient_shown(cast: Cast) -> None:
    start = _last_id(cast)
    shown = patients.list_patients(cast.db, cast.ctx("clinician"))
    assert {p.id for p in shown} == {cast.ids.alice, cast.ids.bob}
    assert [e.patient_id for e in _events(cast, start)] == [p.id for p in shown]


def test_audit_events_hold_no_clinical_values(cast: Cast) -> None:
    start = _last_id(cast)
    secret_note = "ate the whole cake at 3 am"
    checkins.record_checkin(cast.db, cast.ctx("patient"), cast.ids.alice,
                            CheckinInput(date=date(2025, 6, 1), note=secret_note,
                                         ratings={"pain": 7}))
    for event in _events(cast, start):
        stored = " ".join(str(v) for v in (event.action, event.target, event.source))
        assert secret_note not in stored and "pain" not in stored


@pytest.mark.parametrize("workers", [4])
def test_concurrent_writers_extend_one_unbroken_chain(cast: Cast, workers: int) -> None:
    errors: list[BaseException] = []

    writers = [("patient", cast.ids.alice), ("second_patient", cast.ids.bob)]

    def write(n: int) -> None:
        persona, patient_id = writers[n % 2]
        try:
            for i in range(10):
                checkins.record_checkin(
                    cast.db, cast.ctx(persona), patient_id,
                    CheckinInput(date=date(2025, 4, 1) + timedelta(days=n * 10 + i),
                                 ratings={"pain": i}))
        except BaseException as error:  # collected and asserted below
            errors.append(error)

    threads = [threading.Thread(target=write, args=(n,)) for n in range(workers)]
    start = _last_id(cast)
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    with cast.db.transaction(write=False) as session:
        report = verify_chain(session)
    assert report.ok, report
    assert _last_id(cast) - start == workers * 10


# ----------------------------------------------------------------------- tampering


FIELDS = ("at", "actor_user_id", "action", "outcome", "patient_id", "target", "source",
          "prev_hash", "hash")


def _changed(rng: random.Random, field: str, value: Any) -> Any:
    """A different value of the same type for one audit column."""
    if field == "at":
        return value + timedelta(microseconds=rng.choice([-1, 1]) * rng.randint(1, 10**9))
    if field in ("actor_user_id", "patient_id"):
        return rng.choice([v for v in (None, 1, 2, 3, 4, 5, 999) if v != value])
    if field == "outcome":
        return "denied" if value == "allowed" else "allowed"
    if field in ("prev_hash", "hash"):
        return "".join(rng.choice("0123456789abcdef") for _ in range(64))
    # action, target, source: text; only target and source may be empty (NULL)
    options = [(value or "") + rng.choice("x .1"), "", "patient.view", "checkin.record"]
    options += [None] if field != "action" else []
    return rng.choice([option for option in options if option != value])


def _tamper(session: Session, rng: random.Random, ids: list[int]) -> str:
    """Apply one random edit an attacker with database access might make."""
    kind = rng.choice(["field", "field", "field", "delete", "insert", "swap", "renumber",
                       "head"])
    target = rng.choice(ids)
    row = session.get(AuditEvent, target)
    assert row is not None
    if kind == "field":
        field = rng.choice(FIELDS)
        new = _changed(rng, field, getattr(row, field))
        session.execute(update(AuditEvent).where(AuditEvent.id == target).values({field: new}))
    elif kind == "delete":
        session.execute(delete(AuditEvent).where(AuditEvent.id == target))
    elif kind == "insert":
        # A forged event, correctly hashed onto the current tail.
        last = session.get(AuditEvent, ids[-1])
        assert last is not None
        forged = AuditEvent(id=last.id + 1, at=last.at, actor_user_id=1, action="patient.view",
                            outcome="allowed", patient_id=1, target=None, source=None,
                            prev_hash=last.hash, hash="")
        forged.hash = audit.event_hash(forged)
        session.execute(insert(AuditEvent).values(
            {c: getattr(forged, c) for c in ("id", *FIELDS)}))
    elif kind == "swap":
        other = session.get(AuditEvent, rng.choice([i for i in ids if i != target]))
        assert other is not None
        a = {f: getattr(row, f) for f in FIELDS}
        b = {f: getattr(other, f) for f in FIELDS}
        session.execute(update(AuditEvent).where(AuditEvent.id == row.id).values(b))
        session.execute(update(AuditEvent).where(AuditEvent.id == other.id).values(a))
    elif kind == "renumber":
        session.execute(update(AuditEvent).where(AuditEvent.id == target)
                        .values(id=ids[-1] + rng.randint(1, 50)))
    else:
        change: dict[str, object] = rng.choice([{"last_id": ids[-1] + rng.choice([-1, 1])},
                                                {"last_hash": "f" * 64}])
        session.execute(update(AuditHead).values(change))
    session.expire_all()
    return kind


def test_every_one_of_a_thousand_random_edits_is_detected(cast: Cast) -> None:
    # More events to tamper with: a few days of check-ins by patient and clinician.
    for day in range(10):
        persona = ("patient", "clinician")[day % 2]
        checkins.record_checkin(cast.db, cast.ctx(persona), cast.ids.alice,
                                CheckinInput(date=date(2025, 5, 20) + timedelta(days=day),
                                             ratings={"pain": day % 11}))
    ids = [e.id for e in _events(cast)]
    rng = random.Random(20250602)
    missed: list[tuple[int, str]] = []
    kinds: dict[str, int] = {}
    for attempt in range(EDITS):
        with cast.db.engine.connect() as connection, connection.begin() as transaction:
            session = Session(bind=connection)
            kind = _tamper(session, rng, ids)
            kinds[kind] = kinds.get(kind, 0) + 1
            if verify_chain(session).ok:
                missed.append((attempt, kind))
            session.close()
            transaction.rollback()
    assert missed == []
    assert set(kinds) == {"field", "delete", "insert", "swap", "renumber", "head"}
    with cast.db.transaction(write=False) as session:
        assert verify_chain(session).ok  # every edit was rolled back

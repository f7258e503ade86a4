"""LDN courses and their titration plans.

A plan comes from the core planner (`lowdose.core.titration.plan`) applied to the prescriber's
request and the patient's stored weight. Plans are never edited: a change appends a new version,
so what the patient was told on any day stays on the record.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, replace
from datetime import date, datetime, timedelta
from typing import Any, cast

from sqlalchemy import func, select

from lowdose.core.diary import SideEffect
from lowdose.core.titration import DayRecord, Decision, Plan, Timing, next_step, plan
from lowdose.errors import InputError
from lowdose.knowledge.regimens import load_titration_facts
from lowdose.security.policy import PatientAction, Role, authorize
from lowdose.services._access import Access, load_ref, patient_access
from lowdose.services._checks import optional_text
from lowdose.services._panel_status import refresh_status
from lowdose.services.context import Context
from lowdose.services.errors import Conflict, Forbidden, NotFound
from lowdose.store.db import Database
from lowdose.store.models import (
    CareTeamMember,
    CareTeamPatient,
    Checkin,
    LdnCourse,
    PlanVersion,
    User,
)

TIMINGS = ("bedtime", "morning")


@dataclass(frozen=True)
class PlanRequest:
    """What the prescriber asks the planner for (the options of `lowdose plan`)."""

    from_date: date
    protocol: str | None = None
    start_mg: float | None = None
    step_mg: float | None = None
    every_days: int | None = None
    target_mg: float | None = None
    liquid_mg_per_ml: float | None = None
    syringe_resolution_ml: float | None = None
    timing: str = "bedtime"
    clinician_override: bool = False

    def __post_init__(self) -> None:
        if self.timing not in TIMINGS:
            raise InputError("timing", f"must be one of {', '.join(TIMINGS)}")

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["from_date"] = self.from_date.isoformat()
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> PlanRequest:
        values = dict(data)
        values["from_date"] = date.fromisoformat(values["from_date"])
        return cls(**values)


@dataclass(frozen=True)
class PlanVersionView:
    course_id: int
    version: int
    request: PlanRequest
    plan: Mapping[str, Any]  # lowdose.core.titration.Plan.to_dict()
    reason: str | None
    created_at: datetime  # naive UTC
    created_by: int | None

    def to_dict(self) -> dict[str, object]:
        return {"course_id": self.course_id, "version": self.version,
                "request": self.request.to_dict(), "plan": dict(self.plan),
                "reason": self.reason, "created_at": self.created_at.isoformat() + "Z",
                "created_by": self.created_by}

    def step_on(self, day: date) -> Mapping[str, Any] | None:
        """The plan step in force on `day`, None before the plan starts."""
        for step in self.plan["steps"]:
            starts = date.fromisoformat(step["from"])
            ends = date.fromisoformat(step["to"]) if step["to"] else None
            if starts <= day and (ends is None or day <= ends):
                return cast(Mapping[str, Any], step)
        return None


@dataclass(frozen=True)
class CourseView:
    id: int
    patient_id: int
    started_on: date
    ended_on: date | None
    indication: str | None
    plan_version: int  # 0 while no plan was made

    def active_on(self, day: date) -> bool:
        return self.started_on <= day and (self.ended_on is None or day <= self.ended_on)

    def to_dict(self) -> dict[str, object]:
        return {"id": self.id, "patient_id": self.patient_id,
                "started_on": self.started_on.isoformat(),
                "ended_on": self.ended_on.isoformat() if self.ended_on else None,
                "indication": self.indication, "plan_version": self.plan_version}


def start_course(db: Database, ctx: Context, patient_id: int, *, started_on: date,
                 indication: str | None = None,
                 first_plan: PlanRequest | None = None) -> CourseView:
    """Start an LDN course (a prescriber on the care team), optionally with its first plan."""
    reason = optional_text("indication", indication, max_length=200)
    with patient_access(db, ctx, patient_id, PatientAction.PRESCRIBE, "course.start",
                        write=True) as access:
        # Courses never overlap, so "the course on a given day" is always one course.
        if any(c.ended_on is None or c.ended_on >= started_on for c in _courses(access)):
            raise Conflict("the patient has a course running on or after that date; end it")
        course = LdnCourse(patient_id=patient_id, started_on=started_on, indication=reason,
                           created_at=ctx.at, created_by=ctx.actor.user_id)
        access.session.add(course)
        access.session.flush()
        if first_plan is not None:
            _append_plan(access, course, first_plan, "first plan")
        access.point_at("course", course.id)
        return _course_view(access, course)


def end_course(db: Database, ctx: Context, patient_id: int, course_id: int, *,
               ended_on: date) -> CourseView:
    with patient_access(db, ctx, patient_id, PatientAction.PRESCRIBE, "course.end",
                        write=True) as access:
        course = _course(access, course_id)
        if ended_on < course.started_on:
            raise InputError("ended_on", "must not be before the course started")
        course.ended_on = ended_on
        access.session.flush()
        access.point_at("course", course.id)
        _refresh(access)
        return _course_view(access, course)


def revise_plan(db: Database, ctx: Context, patient_id: int, course_id: int,
                request: PlanRequest, *, reason: str | None = None) -> PlanVersionView:
    """Make a new plan version for the course; earlier versions stay as they were."""
    why = optional_text("reason", reason, max_length=2000)
    with patient_access(db, ctx, patient_id, PatientAction.PRESCRIBE, "plan.revise",
                        write=True) as access:
        course = _course(access, course_id)
        if course.ended_on is not None:
            raise Conflict("this course has ended; start a new one")
        return _append_plan(access, course, request, why)


def list_courses(db: Database, ctx: Context, patient_id: int) -> list[CourseView]:
    with patient_access(db, ctx, patient_id, PatientAction.READ_RECORD,
                        "course.list") as access:
        return [_course_view(access, c) for c in _courses(access)]


def plan_versions(db: Database, ctx: Context, patient_id: int,
                  course_id: int) -> list[PlanVersionView]:
    """Every plan version of a course, first to last."""
    with patient_access(db, ctx, patient_id, PatientAction.READ_RECORD,
                        "plan.list") as access:
        course = _course(access, course_id)
        access.point_at("course", course.id)
        rows = access.session.scalars(select(PlanVersion)
                                      .where(PlanVersion.course_id == course.id)
                                      .order_by(PlanVersion.version)).all()
        return [_plan_view(row) for row in rows]


def current_plan(access: Access, day: date) -> tuple[CourseView, PlanVersionView | None] | None:
    """The course running on `day` and its newest plan (for other use cases, e.g. the screen)."""
    for course in reversed(_courses(access)):
        if course.started_on <= day and (course.ended_on is None or day <= course.ended_on):
            row = access.session.scalar(select(PlanVersion)
                                        .where(PlanVersion.course_id == course.id)
                                        .order_by(PlanVersion.version.desc()).limit(1))
            return _course_view(access, course), _plan_view(row) if row else None
    return None


# ------------------------------------------------------------------------------- helpers


def propose_next_step(db: Database, ctx: Context, patient_id: int, *,
                      days: int = 28) -> Decision | None:
    """What the diary suggests for today's dose (advance, hold, step back, morning, call).

    A proposal only: a clinician approves it (`approve_next_step`); a self-managing patient
    reads it as a suggestion. None while no plan is running.
    """
    found = next_step_proposal(db, ctx, patient_id, days=days)
    return None if found is None else found.decision


@dataclass(frozen=True)
class Proposal:
    """The diary's proposal and who may act on it.

    `self_managing`: no clinician is on the patient's care team, so nobody can approve it and
    it stays a suggestion (the policy lets only a care-team clinician prescribe).
    `may_approve`: whether the caller may approve it (`approve_next_step`).
    """

    decision: Decision
    course_id: int
    plan_version: int
    self_managing: bool
    may_approve: bool

    @property
    def message(self) -> str:
        if self.self_managing:
            return SELF_MANAGING
        return (APPROVE if self.may_approve else NEEDS_CLINICIAN)

    def to_dict(self) -> dict[str, object]:
        return {**self.decision.to_dict(), "course_id": self.course_id,
                "plan_version": self.plan_version,
                "approval": "suggestion" if self.self_managing else "clinician",
                "may_approve": self.may_approve, "message": self.message}


SELF_MANAGING = ("A suggestion from your diary, not a change to your plan. No clinician is on "
                 "your care team, so lowdose cannot approve it: talk to whoever prescribes "
                 "your LDN before changing the dose or the time.")
NEEDS_CLINICIAN = ("A proposal from the diary for the clinician on the care team to approve "
                   "or change. Until then the plan stays as it is.")
APPROVE = ("A proposal from the diary. Approving it makes a new plan version from today; "
           "you may change the dose or the time first. It supports your decision, it does "
           "not make it.")
REFUSED_FOR_PATIENT = ("only a clinician on the care team can approve a change to the plan; "
                       "the diary's proposal is a suggestion to discuss with your prescriber")


@dataclass(frozen=True)
class StepEdits:
    """What a clinician changes in the proposal before approving it (None: as proposed)."""

    dose_mg: float | None = None
    timing: str | None = None
    note: str | None = None

    def __post_init__(self) -> None:
        if self.dose_mg is not None and (isinstance(self.dose_mg, bool)
                                         or not math.isfinite(self.dose_mg)
                                         or self.dose_mg <= 0):
            raise InputError("dose_mg", "must be a positive number of milligrams")
        if self.timing is not None and self.timing not in TIMINGS:
            raise InputError("timing", f"must be one of {', '.join(TIMINGS)}")

    @property
    def empty(self) -> bool:
        return self.dose_mg is None and self.timing is None


@dataclass(frozen=True)
class SeenProposal:
    """The proposal as the approver saw it: approving refuses (Conflict) when the plan or the
    proposal changed since, e.g. a colleague approved first or a new check-in arrived."""

    plan_version: int
    action: str | None = None
    dose_mg: float | None = None

    def matches(self, plan_version: int, decision: Decision) -> bool:
        return (self.plan_version == plan_version
                and self.action in (None, decision.action)
                and self.dose_mg in (None, decision.dose_mg))


PROPOSAL_CHANGED = ("the plan or the diary's proposal changed since it was shown; look at the "
                    "new proposal before approving")


@dataclass(frozen=True)
class Approval:
    proposal: Decision
    edited: bool
    plan: PlanVersionView

    def to_dict(self) -> dict[str, object]:
        return {"proposal": self.proposal.to_dict(), "edited": self.edited,
                "plan": self.plan.to_dict()}


def next_step_proposal(db: Database, ctx: Context, patient_id: int, *,
                       days: int = 28) -> Proposal | None:
    """The diary's proposal for today with who may approve it; None while no plan runs."""
    with patient_access(db, ctx, patient_id, PatientAction.READ_RECORD,
                        "plan.propose") as access:
        found = _proposal(access, days)
        if found is None:
            return None
        course, version, decision = found
        ref = load_ref(access.session, patient_id, lock=False)[1]
        may = authorize(ctx.actor, PatientAction.PRESCRIBE, ref).allowed
        return Proposal(decision, course.id, version.version,
                        self_managing=not _has_clinician(access), may_approve=may)


def approve_next_step(db: Database, ctx: Context, patient_id: int, *,
                      edits: StepEdits | None = None, seen: SeenProposal | None = None,
                      days: int = 28) -> Approval:
    """Approve the diary's proposal (optionally edited): a new plan version from today whose
    reason records that it was the diary's proposal. Only a care-team clinician may.

    With `seen`, the proposal is compared with what the approver saw in the same transaction
    that appends the plan, so two approvals (or an approval and a check-in) cannot interleave.
    """
    changes = edits or StepEdits()
    note = optional_text("note", changes.note, max_length=1000)
    try:
        with patient_access(db, ctx, patient_id, PatientAction.PRESCRIBE, "plan.approve",
                            write=True) as access:
            found = _proposal(access, days)
            if found is None:
                raise Conflict("no plan is running, so there is nothing to approve")
            course_view, version, decision = found
            if seen is not None and not seen.matches(version.version, decision):
                raise Conflict(PROPOSAL_CHANGED)
            course = _course(access, course_view.id)
            request = _approved_request(version.request, decision, changes, access.ctx.now)
            reason = _approval_reason(decision, changes, note)
            try:
                made = _append_plan(access, course, request, reason)
            except InputError as refused:
                # The planner names its own inputs; the approver chose `dose_mg`.
                if refused.field != "start_mg":
                    raise
                raise InputError("dose_mg", str(refused).split(": ", 1)[-1]) from None
            return Approval(decision, not changes.empty, made)
    except Forbidden:
        if ctx.actor.role is Role.PATIENT:
            raise Forbidden(REFUSED_FOR_PATIENT) from None
        raise


def _proposal(access: Access, days: int) -> tuple[CourseView, PlanVersionView,
                                                 Decision] | None:
    today = access.ctx.now.date()
    running = current_plan(access, today)
    if running is None or running[1] is None:
        return None
    rows = access.session.scalars(
        select(Checkin).where(Checkin.patient_id == access.patient.id,
                              Checkin.date > today - timedelta(days=days),
                              Checkin.date <= today).order_by(Checkin.date)).all()
    records = [DayRecord(day=r.date, dose_mg=r.dose_mg if r.dose_taken else None,
                         dose_time=r.dose_time,
                         side_effects=tuple(SideEffect(str(e["name"]), int(e["severity"]))
                                            for e in r.side_effects or ()))
               for r in rows]
    decision = next_step(records=records, plan=_compute(access, running[1].request),
                         as_of=today, facts=load_titration_facts())
    return running[0], running[1], decision


def _has_clinician(access: Access) -> bool:
    found = access.session.scalar(
        select(User.id)
        .join(CareTeamMember, CareTeamMember.user_id == User.id)
        .join(CareTeamPatient, CareTeamPatient.care_team_id == CareTeamMember.care_team_id)
        .where(CareTeamPatient.patient_id == access.patient.id, User.role == "clinician",
               User.active.is_(True)).limit(1))
    return found is not None


def _approved_request(previous: PlanRequest, decision: Decision, edits: StepEdits,
                      now: datetime) -> PlanRequest:
    """The plan from today: the approved dose now, then the earlier plan's pace and target."""
    dose = edits.dose_mg if edits.dose_mg is not None else decision.dose_mg
    if dose <= 0:
        # "Stop and call" proposes no dose: stopping is ending the course, not a new plan.
        raise Conflict("the diary proposes stopping and calling the patient; end the course "
                       "or approve with a dose (dose_mg) you choose")
    timing = edits.timing or ("morning" if decision.action == "move_to_morning"
                              else previous.timing)
    return replace(previous, from_date=now.date(), start_mg=dose, timing=timing)


def _approval_reason(decision: Decision, edits: StepEdits, note: str | None) -> str:
    proposed = f"{decision.action.replace('_', ' ')}, {decision.dose_mg:g} mg"
    if edits.empty:
        head = f"Approved the diary's proposal ({proposed})."
    else:
        changed = ", ".join(part for part in (
            None if edits.dose_mg is None else f"{edits.dose_mg:g} mg",
            None if edits.timing is None else f"at {edits.timing}") if part)
        head = f"Approved the diary's proposal ({proposed}) after changing it to {changed}."
    return " ".join(part for part in (head, f"Diary: {decision.reason}", note) if part)


def _compute(access: Access, request: PlanRequest) -> Plan:
    return plan(
        from_date=request.from_date, facts=load_titration_facts(), protocol=request.protocol,
        start_mg=request.start_mg, step_mg=request.step_mg, every_days=request.every_days,
        target_mg=request.target_mg, weight_kg=access.patient.weight_kg,
        liquid_mg_per_ml=request.liquid_mg_per_ml,
        syringe_resolution_ml=request.syringe_resolution_ml,
        timing=cast(Timing, request.timing), clinician_override=request.clinician_override)


def _append_plan(access: Access, course: LdnCourse, request: PlanRequest,
                 reason: str | None) -> PlanVersionView:
    computed = _compute(access, request)
    latest = access.session.scalar(select(func.max(PlanVersion.version))
                                   .where(PlanVersion.course_id == course.id)) or 0
    row = PlanVersion(course_id=course.id, version=latest + 1, parameters=request.to_dict(),
                      plan=computed.to_dict(), reason=reason, created_at=access.ctx.at,
                      created_by=access.ctx.actor.user_id)
    access.session.add(row)
    access.session.flush()
    access.point_at("plan", f"{course.id}@{row.version}")
    _refresh(access)
    return _plan_view(row)


def _refresh(access: Access) -> None:
    """Keep the patient's panel line in step with the plan (same transaction)."""
    refresh_status(access.session, patient_id=access.patient.id,
                   clinic_id=access.patient.clinic_id, today=access.ctx.now.date(),
                   at=access.ctx.at)


def _courses(access: Access) -> list[LdnCourse]:
    return list(access.session.scalars(select(LdnCourse)
                                       .where(LdnCourse.patient_id == access.patient.id)
                                       .order_by(LdnCourse.started_on, LdnCourse.id)).all())


def _course(access: Access, course_id: int) -> LdnCourse:
    course = access.session.get(LdnCourse, course_id)
    if course is None or course.patient_id != access.patient.id:
        raise NotFound("course", course_id)
    return course


def _course_view(access: Access, course: LdnCourse) -> CourseView:
    version = access.session.scalar(select(func.max(PlanVersion.version))
                                    .where(PlanVersion.course_id == course.id)) or 0
    return CourseView(course.id, course.patient_id, course.started_on, course.ended_on,
                      course.indication, version)


def _plan_view(row: PlanVersion) -> PlanVersionView:
    return PlanVersionView(row.course_id, row.version, PlanRequest.from_dict(row.parameters),
                           row.plan, row.reason, row.created_at, row.created_by)

"""Approving the diary's proposed next step: in a clinic a care-team clinician approves it (as
proposed or edited) and that appends a plan version saying it was the diary's proposal; a
self-managing patient (no clinician on the care team) only ever gets a suggestion."""

from __future__ import annotations

from datetime import time, timedelta

import pytest

from lowdose.core.diary import SideEffect
from lowdose.errors import InputError
from lowdose.services import careteams, checkins, courses
from lowdose.services.checkins import CheckinInput
from lowdose.services.courses import PlanRequest, SeenProposal, StepEdits
from lowdose.services.errors import Conflict, Forbidden, NotFound

from .conftest import Cast


def _course(cast: Cast, *, every_days: int = 14) -> int:
    today = cast.ctx("clinician").now.date()
    start = today - timedelta(days=20)
    return courses.start_course(
        cast.db, cast.ctx("clinician"), cast.ids.alice, started_on=start,
        first_plan=PlanRequest(from_date=start, start_mg=1.5, step_mg=1.5,
                               every_days=every_days, target_mg=4.5)).id


def _nights(cast: Cast, count: int, dose_mg: float = 1.5,
            effects: tuple[SideEffect, ...] = ()) -> None:
    today = cast.ctx("clinician").now.date()
    for back in range(count, 0, -1):
        checkins.record_checkin(cast.db, cast.ctx("patient"), cast.ids.alice, CheckinInput(
            date=today - timedelta(days=back), dose_taken=True, dose_mg=dose_mg,
            dose_time=time(22, 0), side_effects=effects))


def _versions(cast: Cast, course_id: int) -> list[courses.PlanVersionView]:
    return courses.plan_versions(cast.db, cast.ctx("clinician"), cast.ids.alice, course_id)


def test_approving_an_advance_starts_the_next_dose_today_and_says_it_was_proposed(
        cast: Cast) -> None:
    course_id = _course(cast)
    _nights(cast, 16)  # 16 quiet nights on 1.5 mg, steps every 14 days: time to advance
    proposal = courses.next_step_proposal(cast.db, cast.ctx("clinician"), cast.ids.alice)
    assert proposal is not None and proposal.decision.action == "advance"
    assert proposal.may_approve and not proposal.self_managing

    approval = courses.approve_next_step(cast.db, cast.ctx("clinician"), cast.ids.alice)

    today = cast.ctx("clinician").now.date()
    assert not approval.edited
    assert [v.version for v in _versions(cast, course_id)] == [1, 2]
    new = approval.plan
    assert new.step_on(today) is not None and new.step_on(today)["dose_mg"] == 3.0
    assert new.plan["steps"][0]["from"] == today.isoformat()
    assert new.reason is not None and "diary's proposal" in new.reason
    assert "advance, 3 mg" in new.reason
    # The pace and target of the earlier plan carry on from the approved dose.
    assert new.plan["steps"][-1]["dose_mg"] == 4.5


def test_an_edited_approval_uses_the_clinicians_dose_and_records_both(cast: Cast) -> None:
    course_id = _course(cast)
    _nights(cast, 16)
    approval = courses.approve_next_step(
        cast.db, cast.ctx("clinician"), cast.ids.alice,
        edits=StepEdits(dose_mg=2.0, timing="morning", note="Prefers smaller steps."))
    assert approval.edited and approval.proposal.dose_mg == 3.0
    first = approval.plan.plan["steps"][0]
    assert (first["dose_mg"], first["time"]) == (2.0, "08:00")
    reason = _versions(cast, course_id)[-1].reason or ""
    assert "after changing it to 2 mg, at morning" in reason
    assert "Prefers smaller steps." in reason


def test_approving_the_morning_suggestion_moves_the_dose_time(cast: Cast) -> None:
    _course(cast)
    _nights(cast, 10, effects=(SideEffect("vivid dreams", 1),))
    approval = courses.approve_next_step(cast.db, cast.ctx("clinician"), cast.ids.alice)
    assert approval.proposal.action == "move_to_morning"
    assert approval.plan.request.timing == "morning"
    assert approval.plan.plan["steps"][0]["time"] == "08:00"


def test_stop_and_call_is_not_approved_as_a_plan_without_a_chosen_dose(cast: Cast) -> None:
    course_id = _course(cast)
    _nights(cast, 3, effects=(SideEffect("jaundice", 2),))
    with pytest.raises(Conflict, match="stopping"):
        courses.approve_next_step(cast.db, cast.ctx("clinician"), cast.ids.alice)
    assert [v.version for v in _versions(cast, course_id)] == [1]


def test_nothing_to_approve_without_a_running_plan(cast: Cast) -> None:
    with pytest.raises(Conflict):
        courses.approve_next_step(cast.db, cast.ctx("clinician"), cast.ids.alice)


@pytest.mark.parametrize(("persona", "error"), [
    ("patient", Forbidden), ("team_admin", Forbidden), ("admin", Forbidden),
    ("second_patient", NotFound), ("outsider", NotFound), ("other_clinician", NotFound),
])
def test_only_a_care_team_clinician_approves(cast: Cast, persona: str,
                                             error: type[Exception]) -> None:
    course_id = _course(cast)
    _nights(cast, 16)
    with pytest.raises(error):
        courses.approve_next_step(cast.db, cast.ctx(persona), cast.ids.alice)
    assert [v.version for v in _versions(cast, course_id)] == [1]


def test_a_patient_is_told_the_proposal_is_a_suggestion_for_their_prescriber(
        cast: Cast) -> None:
    _course(cast)
    _nights(cast, 16)
    proposal = courses.next_step_proposal(cast.db, cast.ctx("patient"), cast.ids.alice)
    assert proposal is not None and not proposal.may_approve
    assert proposal.to_dict()["approval"] == "clinician"
    with pytest.raises(Forbidden, match="suggestion to discuss with your prescriber"):
        courses.approve_next_step(cast.db, cast.ctx("patient"), cast.ids.alice)


def test_a_self_managing_patient_gets_a_suggestion_that_nobody_can_apply(cast: Cast) -> None:
    course_id = _course(cast)
    _nights(cast, 16)
    # The clinician leaves the care team: nobody may prescribe for Alice any more.
    careteams.remove_member(cast.db, cast.ctx("admin"), cast.ids.team_a,
                            cast.user("clinician").id)
    proposal = courses.next_step_proposal(cast.db, cast.ctx("patient"), cast.ids.alice)
    assert proposal is not None and proposal.self_managing and not proposal.may_approve
    shown = proposal.to_dict()
    assert shown["approval"] == "suggestion"
    assert "talk to whoever prescribes" in str(shown["message"])
    with pytest.raises(Forbidden):
        courses.approve_next_step(cast.db, cast.ctx("patient"), cast.ids.alice)
    kept = courses.plan_versions(cast.db, cast.ctx("patient"), cast.ids.alice, course_id)
    assert [v.version for v in kept] == [1]


@pytest.mark.parametrize(("edits", "field"), [
    ({"dose_mg": 0.0}, "dose_mg"), ({"dose_mg": float("nan")}, "dose_mg"),
    ({"timing": "noon"}, "timing"),
])
def test_bad_edits_name_their_field(edits: dict[str, object], field: str) -> None:
    with pytest.raises(InputError) as raised:
        StepEdits(**edits)  # type: ignore[arg-type]
    assert raised.value.field == field


def test_a_dose_above_what_the_sources_allow_is_refused_naming_dose_mg(cast: Cast) -> None:
    course_id = _course(cast)
    _nights(cast, 16)
    with pytest.raises(InputError) as refused:
        courses.approve_next_step(cast.db, cast.ctx("clinician"), cast.ids.alice,
                                  edits=StepEdits(dose_mg=20.0))
    assert refused.value.field == "dose_mg"
    assert [v.version for v in _versions(cast, course_id)] == [1]


def test_an_approval_of_a_proposal_that_changed_since_it_was_shown_is_refused(
        cast: Cast) -> None:
    course_id = _course(cast)
    _nights(cast, 16)
    shown = courses.next_step_proposal(cast.db, cast.ctx("clinician"), cast.ids.alice)
    assert shown is not None and shown.decision.action == "advance"
    seen = SeenProposal(shown.plan_version, shown.decision.action, shown.decision.dose_mg)

    # Not what was shown: another action, another dose, or a plan a colleague replaced.
    for stale in (SeenProposal(seen.plan_version, "hold", seen.dose_mg),
                  SeenProposal(seen.plan_version, seen.action, 4.5)):
        with pytest.raises(Conflict, match="changed since it was shown"):
            courses.approve_next_step(cast.db, cast.ctx("clinician"), cast.ids.alice,
                                      seen=stale)
    assert [v.version for v in _versions(cast, course_id)] == [1]

    courses.approve_next_step(cast.db, cast.ctx("clinician"), cast.ids.alice, seen=seen)
    with pytest.raises(Conflict, match="changed since it was shown"):  # sent twice
        courses.approve_next_step(cast.db, cast.ctx("clinician"), cast.ids.alice, seen=seen)
    assert [v.version for v in _versions(cast, course_id)] == [1, 2]

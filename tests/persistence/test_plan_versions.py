"""LDN courses and titration plans: a change appends a version; earlier versions never change."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select

from lowdose.core.titration import plan
from lowdose.errors import InputError
from lowdose.knowledge.regimens import load_titration_facts
from lowdose.services import courses, patients
from lowdose.services.courses import PlanRequest
from lowdose.services.errors import Conflict, Forbidden, NotFound
from lowdose.store.models import PlanVersion

from .conftest import Cast

START = date(2025, 6, 2)
# nct04678895 (Dartmouth): 1.5 → 3 → 4.5 mg, one week each.
WEEKLY = PlanRequest(from_date=START, start_mg=1.5, step_mg=1.5, every_days=7, target_mg=4.5)
SLOWER = PlanRequest(from_date=date(2025, 6, 9), start_mg=1.5, step_mg=0.5, every_days=7,
                     target_mg=3.0)


def _start(cast: Cast, first: PlanRequest | None = WEEKLY) -> courses.CourseView:
    return courses.start_course(cast.db, cast.ctx("clinician"), cast.ids.alice,
                                started_on=START, indication="fibromyalgia", first_plan=first)


def _stored_rows(cast: Cast) -> list[tuple[int, dict[str, object], dict[str, object]]]:
    with cast.db.transaction(write=False) as session:
        return [(r.version, r.parameters, r.plan)
                for r in session.scalars(select(PlanVersion).order_by(PlanVersion.version))]


def test_the_stored_plan_is_the_core_planners_plan(cast: Cast) -> None:
    course = _start(cast)
    [first] = courses.plan_versions(cast.db, cast.ctx("patient"), cast.ids.alice, course.id)
    expected = plan(from_date=START, facts=load_titration_facts(), start_mg=1.5, step_mg=1.5,
                    every_days=7, target_mg=4.5)
    assert (first.version, dict(first.plan)) == (1, expected.to_dict())
    assert [s["dose_mg"] for s in first.plan["steps"]] == [1.5, 3.0, 4.5]


def test_revising_appends_a_version_and_leaves_the_earlier_one_as_it_was(cast: Cast) -> None:
    course = _start(cast)
    before = _stored_rows(cast)
    revised = courses.revise_plan(cast.db, cast.ctx("clinician"), cast.ids.alice, course.id,
                                  SLOWER, reason="vivid dreams at 3 mg")
    after = _stored_rows(cast)
    assert revised.version == 2 and after[:1] == before
    versions = courses.plan_versions(cast.db, cast.ctx("clinician"), cast.ids.alice, course.id)
    assert [(v.version, v.request, v.reason) for v in versions] == [
        (1, WEEKLY, "first plan"), (2, SLOWER, "vivid dreams at 3 mg")]
    [listed] = courses.list_courses(cast.db, cast.ctx("patient"), cast.ids.alice)
    assert listed.plan_version == 2


def test_a_plan_for_a_weighed_child_uses_the_stored_weight(cast: Cast) -> None:
    # parker-2018-cochrane: paediatric dosing by weight, at most 4.5 mg.
    facts = load_titration_facts()
    by_weight = [p.name for p in facts.protocols if p.mg_per_kg is not None]
    assert by_weight, "the knowledge has a weight-based protocol"
    patients.update_profile(cast.db, cast.ctx("clinician"), cast.ids.alice, weight_kg=20)
    course = _start(cast, PlanRequest(from_date=START, protocol=by_weight[0]))
    [first] = courses.plan_versions(cast.db, cast.ctx("clinician"), cast.ids.alice, course.id)
    def planned(weight: float) -> dict[str, object]:
        return plan(from_date=START, facts=facts, protocol=by_weight[0],
                    weight_kg=weight).to_dict()

    assert dict(first.plan) == planned(20) != planned(60)


def test_a_request_the_planner_refuses_stores_nothing(cast: Cast) -> None:
    course = _start(cast)
    with pytest.raises(InputError):
        courses.revise_plan(cast.db, cast.ctx("clinician"), cast.ids.alice, course.id,
                            PlanRequest(from_date=START, start_mg=-1, target_mg=4.5))
    assert [v for v, _, _ in _stored_rows(cast)] == [1]


def test_an_ended_course_takes_no_new_plan_and_courses_do_not_overlap(cast: Cast) -> None:
    course = _start(cast)
    ended = courses.end_course(cast.db, cast.ctx("clinician"), cast.ids.alice, course.id,
                               ended_on=date(2025, 7, 1))
    assert ended.ended_on == date(2025, 7, 1)
    with pytest.raises(Conflict):
        courses.revise_plan(cast.db, cast.ctx("clinician"), cast.ids.alice, course.id, SLOWER)
    with pytest.raises(Conflict):
        courses.start_course(cast.db, cast.ctx("clinician"), cast.ids.alice,
                             started_on=date(2025, 6, 15))
    later = courses.start_course(cast.db, cast.ctx("clinician"), cast.ids.alice,
                                 started_on=date(2025, 7, 2))
    assert later.plan_version == 0


@pytest.mark.parametrize(("persona", "error"), [
    ("clinician", None), ("patient", Forbidden), ("team_admin", Forbidden),
    ("admin", Forbidden), ("outsider", NotFound), ("other_clinician", NotFound),
])
def test_only_a_clinician_on_the_care_team_prescribes(cast: Cast, persona: str,
                                                      error: type[Exception] | None) -> None:
    course = _start(cast)

    def revise() -> object:
        return courses.revise_plan(cast.db, cast.ctx(persona), cast.ids.alice, course.id,
                                   SLOWER)

    if error is None:
        revise()
    else:
        with pytest.raises(error):
            revise()
        assert [v for v, _, _ in _stored_rows(cast)] == [1]


def test_a_course_of_another_patient_is_not_found_through_this_one(cast: Cast) -> None:
    course = _start(cast)
    with pytest.raises(NotFound):
        courses.plan_versions(cast.db, cast.ctx("clinician"), cast.ids.bob, course.id)

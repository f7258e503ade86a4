"""The dose line of the charts: what was prescribed at the time, across plan revisions."""

from __future__ import annotations

from datetime import date
from types import SimpleNamespace
from typing import Any

from lowdose.web.charts import DoseStep
from lowdose.web.progress import prescribed_steps


def version(from_date: date, *steps: tuple[str, float]) -> Any:
    # The two fields prescribed_steps reads of a stored plan version.
    return SimpleNamespace(request=SimpleNamespace(from_date=from_date),
                           plan={"steps": [{"from": day, "dose_mg": mg} for day, mg in steps]})


def test_a_revision_keeps_the_doses_taken_before_it() -> None:
    first = version(date(2025, 6, 2), ("2025-06-02", 1.5), ("2025-06-09", 3.0),
                    ("2025-06-16", 4.5))
    step_back = version(date(2025, 6, 12), ("2025-06-12", 1.5), ("2025-06-19", 3.0))
    assert prescribed_steps([[first, step_back]]) == [
        DoseStep(date(2025, 6, 2), 1.5), DoseStep(date(2025, 6, 9), 3.0),
        DoseStep(date(2025, 6, 12), 1.5), DoseStep(date(2025, 6, 19), 3.0)]


def test_courses_are_merged_in_date_order() -> None:
    later = version(date(2025, 9, 1), ("2025-09-01", 0.5))
    earlier = version(date(2025, 1, 6), ("2025-01-06", 1.0))
    assert [s.start for s in prescribed_steps([[later], [earlier]])] == [
        date(2025, 1, 6), date(2025, 9, 1)]

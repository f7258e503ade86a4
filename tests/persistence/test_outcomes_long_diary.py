"""A long diary: the flags read only the monitoring window from the store, yet say what the
whole record says (a silence longer than the window included), on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

from lowdose.core.diary import CheckIn, SideEffect
from lowdose.core.monitoring import monitor
from lowdose.knowledge.evidence import load_side_effects
from lowdose.knowledge.instruments import load_instruments
from lowdose.knowledge.monitoring import load_monitoring_rules
from lowdose.services import checkins, outcomes
from lowdose.services.checkins import CheckinInput

from .conftest import Cast


def _store(cast: Cast, entries: list[CheckinInput]) -> None:
    for entry in entries:
        checkins.record_checkin(cast.db, cast.ctx("patient"), cast.ids.alice, entry)


def test_a_silence_longer_than_the_window_is_reported_with_its_true_length(cast: Cast) -> None:
    today = cast.ctx("clinician").now.date()
    window = load_monitoring_rules().window.lookback_days
    last = today - timedelta(days=window + 18)
    _store(cast, [CheckinInput(date=last - timedelta(days=n), dose_taken=True, dose_mg=1.5,
                               ratings={"pain": 5}) for n in range(5)])

    flags = outcomes.patient_flags(cast.db, cast.ctx("clinician"), cast.ids.alice)

    overdue = [f for f in flags if f.code == "checkin-overdue"]
    assert [f.level for f in overdue] == ["attention"]
    assert last.isoformat() in overdue[0].reason
    assert str((today - last).days) in overdue[0].reason


def test_the_flags_of_a_long_diary_are_those_of_the_whole_record(cast: Cast) -> None:
    today = cast.ctx("clinician").now.date()
    # Four months with gaps: an old red flag (outside the window), missed doses and a
    # recent side effect, so several kinds of flag depend on what is loaded.
    entries = [CheckinInput(date=today - timedelta(days=back), dose_taken=back % 4 != 0,
                            dose_mg=None if back % 4 == 0 else 1.5 if back > 20 else 3.0,
                            ratings={"pain": back % 11},
                            side_effects=((SideEffect("dark urine", 2),) if back == 90 else
                                          (SideEffect("vivid dreams", 1),) if back < 9 else ()))
               for back in range(1, 120) if back % 7 != 3]
    _store(cast, entries)

    flags = outcomes.patient_flags(cast.db, cast.ctx("clinician"), cast.ids.alice)

    whole = checkins.list_checkins(cast.db, cast.ctx("clinician"), cast.ids.alice)
    expected = monitor([CheckIn(c.date, c.dose_taken, c.dose_mg, c.dose_time, c.ratings,
                                c.side_effects, c.note or "") for c in whole], today=today,
                       rules=load_monitoring_rules(), course=load_side_effects(),
                       instruments=load_instruments())
    assert [f.to_dict() for f in flags] == [f.to_dict() for f in expected]
    assert flags and "red-flag-hepatitis" not in {f.code for f in flags}

"""The diary as CSV on SQLite and PostgreSQL: export → import round trip, re-import never
duplicates, a generic CSV through a column mapping, and every malformed file rejected with its
line numbers and nothing stored."""

from __future__ import annotations

import csv
import io
from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from lowdose.core.diary import SideEffect
from lowdose.services import checkins, diary_csv
from lowdose.services.checkins import CheckinInput
from lowdose.services.diary_csv import ColumnMapping, CsvRejected
from lowdose.services.diary_csv import diary_csv as to_csv
from lowdose.services.errors import Forbidden, NotFound
from lowdose.store.models import AuditEvent, Checkin, CheckinVersion
from persistence.conftest import Cast

from .conftest import build_history

LATEST = date(2025, 6, 3)


def stored_rows(cast: Cast) -> tuple[int, int]:
    with cast.db.transaction(write=False) as session:
        return (session.scalar(select(func.count()).select_from(Checkin)) or 0,
                session.scalar(select(func.count()).select_from(CheckinVersion)) or 0)


def comparable(rows: list[checkins.CheckinView]) -> list[dict[str, object]]:
    return [CheckinInput.to_dict(r) for r in rows]


# --------------------------------------------------------------------------- round trip


def test_export_then_import_gives_the_same_diary(cast: Cast) -> None:
    build_history(cast)
    ctx = cast.ctx("clinician")
    exported = diary_csv.export_diary(cast.db, ctx, cast.ids.alice)
    result = diary_csv.import_diary(cast.db, ctx, cast.ids.bob, exported.encode("utf-8"))
    alice = checkins.list_checkins(cast.db, ctx, cast.ids.alice)
    bob = checkins.list_checkins(cast.db, ctx, cast.ids.bob)
    assert (result.rows, result.created, result.updated) == (len(alice), len(alice), 0)
    assert comparable(bob) == comparable(alice)
    assert diary_csv.export_diary(cast.db, ctx, cast.ids.bob) == exported


def test_importing_the_same_file_again_changes_nothing(cast: Cast) -> None:
    build_history(cast)
    ctx = cast.ctx("patient")
    exported = diary_csv.export_diary(cast.db, ctx, cast.ids.alice).encode("utf-8")
    before = stored_rows(cast)
    again = diary_csv.import_diary(cast.db, ctx, cast.ids.alice, exported)
    assert (again.created, again.updated, again.unchanged) == (0, 0, again.rows)
    assert stored_rows(cast) == before  # no new check-ins, no new versions


def test_a_changed_row_updates_that_day_and_keeps_its_history(cast: Cast) -> None:
    ctx = cast.ctx("patient")
    checkins.record_checkin(cast.db, ctx, cast.ids.alice, CheckinInput(
        date=date(2025, 6, 1), ratings={"pain": 6}, note="kept",
        side_effects=(SideEffect("headache", 1),)))
    result = diary_csv.import_diary(cast.db, ctx, cast.ids.alice,
                                    b"date,ratings.fatigue\n2025-06-01,4\n")
    assert (result.created, result.updated) == (0, 1)
    [day] = checkins.list_checkins(cast.db, ctx, cast.ids.alice)
    # Columns the file does not have stay as they were; its ratings add to the day's.
    assert (dict(day.ratings), day.note, day.side_effects) == (
        {"pain": 6, "fatigue": 4}, "kept", (SideEffect("headache", 1),))
    history = checkins.checkin_history(cast.db, ctx, cast.ids.alice, date(2025, 6, 1))
    assert [v.version for v in history] == [1, 2]


def test_a_generic_csv_imports_through_a_mapping(cast: Cast) -> None:
    data = ("Day;Pain (0-10);Took it?;Mood;Comment\n"
            "28/05/2025;6;yes;ok;first\n"
            "29/05/2025;5;no;meh;\n").replace(";", ",").encode("utf-8-sig")
    mapping = ColumnMapping.from_dict({"columns": {
        "Day": "date", "Pain (0-10)": "ratings.pain", "Took it?": "dose_taken", "Mood": None,
        "Comment": "note"}, "date_format": "%d/%m/%Y"})
    result = diary_csv.import_diary(cast.db, cast.ctx("patient"), cast.ids.alice, data,
                                    mapping)
    assert result.created == 2
    rows = checkins.list_checkins(cast.db, cast.ctx("patient"), cast.ids.alice)
    assert [(r.date, dict(r.ratings), r.dose_taken, r.note) for r in rows] == [
        (date(2025, 5, 28), {"pain": 6}, True, "first"),
        (date(2025, 5, 29), {"pain": 5}, False, None)]


def test_export_and_import_are_audited_and_policy_checked(cast: Cast) -> None:
    diary_csv.export_diary(cast.db, cast.ctx("team_admin"), cast.ids.alice)
    with pytest.raises((Forbidden, NotFound)):
        diary_csv.import_diary(cast.db, cast.ctx("team_admin"), cast.ids.alice,
                               b"date,ratings.pain\n2025-06-01,3\n")
    with pytest.raises((Forbidden, NotFound)):
        diary_csv.export_diary(cast.db, cast.ctx("other_clinician"), cast.ids.alice)
    with cast.db.transaction(write=False) as session:
        events = session.execute(select(AuditEvent.action, AuditEvent.outcome).where(
            AuditEvent.action.in_(("checkin.export", "checkin.import")))).all()
    assert sorted(events) == [("checkin.export", "allowed"), ("checkin.export", "denied"),
                              ("checkin.import", "denied")]
    assert stored_rows(cast) == (0, 0)


# ---------------------------------------------------------------------- malformed files


GOOD = "2025-06-01,yes,1.5,22:00,4,\n"
HEADER = "date,dose_taken,dose_mg,dose_time,ratings.pain,note\n"


@pytest.mark.parametrize(("data", "expected"), [
    pytest.param((HEADER + GOOD + "2025-02-30,yes,1.5,22:00,4,\n" + "01/06/2025,,,,3,\n")
                 .encode(), [(3, "date"), (4, "date")], id="bad dates"),
    pytest.param((HEADER + "2025-05-01,,,,11,\n" + GOOD + "2025-05-02,,,,-1,\n"
                  "2025-05-03,,,,4.5,\n").encode(),
                 [(2, "ratings.pain"), (4, "ratings.pain"), (5, "ratings.pain")],
                 id="ratings outside 0-10"),
    pytest.param((b"date,ratings.pain,mood\n2025-06-01,4,ok\n"),
                 [(1, "column 'mood'")], id="unknown column"),
    pytest.param((HEADER + GOOD).encode("utf-16"), [(1, "file")], id="utf-16"),
    pytest.param((HEADER + GOOD + "2025-05-02,,,,4,café\n").encode("latin-1"),
                 [(3, "file")], id="latin-1 on line 3"),
    pytest.param(b"", [(1, "file")], id="empty"),
    pytest.param(b"\n\n", [(1, "file")], id="only blank lines"),
    pytest.param(HEADER.encode(), [(2, "file")], id="header only"),
    pytest.param((HEADER + GOOD + "2025-05-02,yes\n").encode(), [(3, "file")],
                 id="short row"),
    pytest.param((HEADER + GOOD + GOOD).encode(), [(3, "date")], id="a date twice"),
    pytest.param((HEADER + "2025-06-09,,,,4,\n").encode(), [(2, "date")], id="future"),
    pytest.param((HEADER + "2025-05-01,perhaps,,,4,\n2025-05-02,no,1.5,,4,\n"
                  "2025-05-03,yes,lots,,4,\n2025-05-04,yes,1.5,10pm,4,\n").encode(),
                 [(2, "dose_taken"), (3, "dose_taken"), (4, "dose_mg"), (5, "dose_time")],
                 id="dose fields"),
    pytest.param((b"date,side_effects\n2025-05-01,headache\n2025-05-02,nausea:7\n"
                  b'2025-05-03,"dreams:1; :2"\n'),
                 [(2, "side_effects.0"), (3, "side_effects.0.severity"), (4, "side_effects.1")],
                 id="side effects"),
    pytest.param((b'date,note\n2025-05-01,"a note\nover two lines"\n2025-05-02,ok\n'
                  b'2025-05-45,x\n'), [(5, "date")], id="line numbers count a "
                 "quoted line break"),
    pytest.param(b"date,ratings.pain\n2025-05-01,4\x00\n", [(2, "file")], id="NUL byte"),
    pytest.param(b"date,date\n2025-05-01,2025-05-01\n", [(1, "column 'date'")],
                 id="repeated column"),
])
def test_a_malformed_file_is_rejected_line_by_line_and_nothing_is_stored(
        cast: Cast, data: bytes, expected: list[tuple[int, str]]) -> None:
    checkins.record_checkin(cast.db, cast.ctx("patient"), cast.ids.alice,
                            CheckinInput(date=date(2025, 4, 1), ratings={"pain": 5}))
    before = stored_rows(cast)
    with pytest.raises(CsvRejected) as rejected:
        diary_csv.import_diary(cast.db, cast.ctx("patient"), cast.ids.alice, data)
    assert [(r.line, r.field) for r in rejected.value.rejected] == expected
    assert all(r.message for r in rejected.value.rejected)
    assert stored_rows(cast) == before


def test_one_bad_line_among_good_ones_stores_none_of_them(cast: Cast) -> None:
    rows = "".join(f"2025-05-{d:02d},,,,{d % 11},\n" for d in range(1, 29))
    data = (HEADER + rows + "2025-05-29,,,,12,\n").encode()
    with pytest.raises(CsvRejected) as rejected:
        diary_csv.import_diary(cast.db, cast.ctx("patient"), cast.ids.alice, data)
    assert [r.line for r in rejected.value.rejected] == [30]
    assert stored_rows(cast) == (0, 0)


def test_a_row_that_contradicts_the_stored_day_is_rejected_with_its_line(cast: Cast) -> None:
    checkins.record_checkin(cast.db, cast.ctx("patient"), cast.ids.alice, CheckinInput(
        date=date(2025, 5, 2), dose_taken=True, dose_mg=1.5))
    before = stored_rows(cast)
    data = b"date,dose_taken\n2025-05-01,yes\n2025-05-02,no\n"
    with pytest.raises(CsvRejected) as rejected:
        diary_csv.import_diary(cast.db, cast.ctx("patient"), cast.ids.alice, data)
    assert [(r.line, r.field) for r in rejected.value.rejected] == [(3, "dose_taken")]
    assert stored_rows(cast) == before  # line 2 was fine, and is not stored either


@pytest.mark.parametrize(("mapping", "field"), [
    ({"columns": {"Day": "birthday"}}, "mapping.columns.Day"),
    ({"columns": {"Pain": "ratings.pain"}}, "mapping.columns"),
    ({"columns": {"A": "date", "B": "date"}}, "mapping.columns"),
    ({"columns": {"Day": "date"}, "date_format": "dd/mm"}, "mapping.date_format"),
    ({"columns": {"Day": "date"}, "delimiter": ";"}, "mapping.delimiter"),
    ([], "mapping"),
])
def test_a_bad_mapping_names_its_field(mapping: object, field: str) -> None:
    with pytest.raises(diary_csv.InputError) as error:
        ColumnMapping.from_dict(mapping)
    assert error.value.field == field


# ------------------------------------------------------------------------------ pure


def test_cells_a_spreadsheet_would_run_are_exported_inert_and_imported_back() -> None:
    entry = CheckinInput(date=date(2025, 5, 1), note='=HYPERLINK("http://x","y")',
                         side_effects=(SideEffect("+cmd|' /C calc'!A0", 1),))
    text = to_csv([entry])
    cells = list(csv.reader(io.StringIO(text)))[1]
    assert all(not cell.startswith(("=", "+", "-", "@")) for cell in cells)
    [parsed] = diary_csv.parse_diary(text.encode(), None, latest=LATEST)
    assert parsed.values["note"] == entry.note
    assert parsed.values["side_effects"] == list(entry.side_effects)


names = st.text(st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), min_size=1,
                max_size=20).filter(lambda s: s.strip() == s and s.strip() != "")
doses = st.one_of(
    st.fixed_dictionaries({"dose_taken": st.sampled_from([None, False])}),
    st.fixed_dictionaries({"dose_taken": st.just(True),
                           "dose_mg": st.one_of(st.none(), st.sampled_from([0.5, 1.5, 4.5])),
                           "dose_time": st.one_of(st.none(), st.times().map(
                               lambda t: t.replace(microsecond=0)))}))
entries = st.builds(
    lambda dose, **rest: CheckinInput(**dose, **rest),
    doses,
    date=st.dates(date(2020, 1, 1), LATEST),
    ratings=st.dictionaries(st.sampled_from(["pain", "fatigue", "sleep", "mood"]),
                            st.integers(0, 10), max_size=4),
    side_effects=st.lists(st.builds(SideEffect, names, st.integers(0, 3)), max_size=3)
    .map(tuple),
    note=st.one_of(st.none(), st.text(st.characters(codec="utf-8", exclude_categories=(
        "Cs",)), max_size=60).filter(lambda s: s.strip() == s and s != "" and "\x00" not in s
                                     and "\r" not in s)),
)


@settings(max_examples=150, deadline=None)
@given(st.lists(entries, max_size=8, unique_by=lambda e: e.date))
def test_any_diary_survives_the_csv_round_trip(diary: list[CheckinInput]) -> None:
    ordered = sorted(diary, key=lambda e: e.date)
    text = to_csv(ordered)
    if not ordered:
        with pytest.raises(CsvRejected):
            diary_csv.parse_diary(text.encode(), None, latest=LATEST)
        return
    parsed = diary_csv.parse_diary(text.encode(), None, latest=LATEST)
    back = [CheckinInput.from_dict(diary_csv._as_json(row.values)) for row in parsed]
    assert [e.to_dict() for e in back] == [e.to_dict() for e in ordered]

"""The diary as CSV: export for spreadsheets, import from other apps with a column mapping.

Export writes one row per check-in: `date, dose_taken, dose_mg, dose_time, ratings.<measure>…,
side_effects, note` (side effects as `name:severity; name:severity`). Import reads any CSV
whose columns a mapping names (CSV column → lowdose field, or null to skip it); without a
mapping the export's own column names are expected, so an export imports back unchanged.

An import is all or nothing. Every line is checked first, with the same rules as a check-in
sent to the API, and every rejected line is reported with its line number; if any line fails,
nothing is stored. Otherwise the rows are stored in one transaction through the check-in write
path: a date already in the diary is updated (its earlier version stays in the history), and
an unchanged row writes nothing, so importing the same file twice never duplicates.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import select

from lowdose.core.diary import SideEffect
from lowdose.errors import InputError
from lowdose.security.policy import PatientAction
from lowdose.services._access import Access, patient_access
from lowdose.services.checkins import _FIND, CheckinInput, CheckinView, _clock, _store, _view
from lowdose.services.context import Context
from lowdose.store.db import Database
from lowdose.store.models import Checkin

MAX_BYTES = 5_000_000
MAX_ROWS = 20_000
FIELDS = ("date", "dose_taken", "dose_mg", "dose_time", "side_effects", "note")
RATING = "ratings."
TRUE = frozenset({"yes", "y", "true", "1", "taken"})
FALSE = frozenset({"no", "n", "false", "0", "missed"})
# A cell starting with one of these is a formula to a spreadsheet (CSV injection): the export
# puts an apostrophe in front, and the import takes it off again.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "'")


@dataclass(frozen=True)
class RejectedLine:
    line: int  # 1 is the header
    field: str  # the lowdose field, or "file" / the CSV column for problems of the file
    message: str

    def to_dict(self) -> dict[str, object]:
        return {"line": self.line, "field": self.field, "message": self.message}


class CsvRejected(InputError):
    """The file cannot be imported; `rejected` lists every line that failed and why."""

    def __init__(self, rejected: Sequence[RejectedLine]) -> None:
        first = rejected[0]
        more = f" (and {len(rejected) - 1} more)" if len(rejected) > 1 else ""
        super().__init__(f"line {first.line}: {first.field}", f"{first.message}{more}")
        self.rejected = tuple(rejected)


@dataclass(frozen=True)
class ColumnMapping:
    """Which lowdose field each CSV column holds (None: skip the column)."""

    columns: Mapping[str, str | None] = field(default_factory=dict)
    date_format: str | None = None  # strptime format such as "%d/%m/%Y"; default ISO 8601

    @classmethod
    def from_dict(cls, data: Any) -> ColumnMapping:
        """`{"columns": {"Day": "date", "Pain": "ratings.pain", "Comment": null},
        "date_format": "%d/%m/%Y"}`; fields are checked, errors name `mapping.…`."""
        if not isinstance(data, Mapping):
            raise InputError("mapping", "must be an object with `columns`")
        unknown = sorted(set(data) - {"columns", "date_format"})
        if unknown:
            raise InputError(f"mapping.{unknown[0]}", "is not a mapping field")
        columns = data.get("columns", {})
        if not isinstance(columns, Mapping) or not columns:
            raise InputError("mapping.columns", "must name at least the date column")
        checked: dict[str, str | None] = {}
        for name, target in columns.items():
            if target is not None and (not isinstance(target, str) or not _is_field(target)):
                raise InputError(f"mapping.columns.{name}",
                                 f"must be one of {', '.join(FIELDS)}, ratings.<measure> "
                                 "or null (skip the column)")
            checked[str(name)] = target
        targets = [t for t in checked.values() if t is not None]
        repeated = sorted({t for t in targets if targets.count(t) > 1})
        if repeated:
            raise InputError("mapping.columns", f"{repeated[0]} is mapped from two columns")
        if "date" not in targets:
            raise InputError("mapping.columns", "no column is mapped to date")
        date_format = data.get("date_format")
        if date_format is not None and (not isinstance(date_format, str)
                                        or "%" not in date_format):
            raise InputError("mapping.date_format", "must be a strptime format, e.g. %d/%m/%Y")
        return cls(checked, date_format)


@dataclass(frozen=True)
class ImportReport:
    rows: int
    created: int
    updated: int
    unchanged: int

    def to_dict(self) -> dict[str, object]:
        return {"rows": self.rows, "created": self.created, "updated": self.updated,
                "unchanged": self.unchanged}


# ------------------------------------------------------------------------------- export


def export_diary(db: Database, ctx: Context, patient_id: int, *, date_from: date | None = None,
                 date_to: date | None = None) -> str:
    """The patient's current check-ins as CSV text, oldest first."""
    if date_from and date_to and date_to < date_from:
        raise InputError("to", "must not be before from")
    with patient_access(db, ctx, patient_id, PatientAction.READ_RECORD,
                        "checkin.export") as access:
        query = select(Checkin).where(Checkin.patient_id == patient_id)
        if date_from is not None:
            query = query.where(Checkin.date >= date_from)
        if date_to is not None:
            query = query.where(Checkin.date <= date_to)
        rows = [_view(r) for r in access.session.scalars(query.order_by(Checkin.date))]
        access.point_at("checkins", len(rows))
        return diary_csv(rows)


def diary_csv(checkins: Sequence[CheckinInput]) -> str:
    """Check-ins as CSV text in the export's columns (pure)."""
    measures = sorted({m for c in checkins for m in c.ratings})
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(["date", "dose_taken", "dose_mg", "dose_time",
                     *(RATING + m for m in measures), "side_effects", "note"])
    for c in checkins:
        writer.writerow([
            c.date.isoformat(), "" if c.dose_taken is None else ("yes" if c.dose_taken else "no"),
            "" if c.dose_mg is None else f"{c.dose_mg:g}", _clock(c.dose_time) or "",
            *("" if m not in c.ratings else str(c.ratings[m]) for m in measures),
            _inert(_effects_text(c.side_effects)), _inert(c.note or "")])
    return out.getvalue()


def _inert(cell: str) -> str:
    return "'" + cell if cell.startswith(FORMULA_STARTS) else cell


def _effects_text(effects: Sequence[SideEffect]) -> str:
    def escaped(name: str) -> str:
        return name.replace("\\", "\\\\").replace(";", "\\;")
    return "; ".join(f"{escaped(e.name)}:{e.severity}" for e in effects)


# ------------------------------------------------------------------------------- import


def import_diary(db: Database, ctx: Context, patient_id: int, data: bytes,
                 mapping: ColumnMapping | None = None) -> ImportReport:
    """Store every row of the CSV `data`, or nothing: raises CsvRejected listing each bad
    line. Columns not in the mapping (or, without one, not export columns) are refused."""
    with patient_access(db, ctx, patient_id, PatientAction.RECORD_CHECKIN, "checkin.import",
                        write=True) as access:
        rows = parse_diary(data, mapping, latest=ctx.now.date() + timedelta(days=1))
        report = _store_all(access, rows)
        access.point_at("checkin-import", f"{report.created}+{report.updated}")
        return report


@dataclass(frozen=True)
class ParsedRow:
    line: int
    values: Mapping[str, Any]  # only the mapped fields; ratings as {"ratings": {...}}


def parse_diary(data: bytes, mapping: ColumnMapping | None, *,
                latest: date) -> list[ParsedRow]:
    """Read and check the whole file (pure); CsvRejected names every bad line."""
    text = _decode(data)
    lines = list(_records(text))
    if not lines:
        raise CsvRejected([RejectedLine(1, "file", "is empty; the first line must name the "
                                                   "columns")])
    header_line, header = lines[0]
    targets = _targets(header, mapping, header_line)
    rejected: list[RejectedLine] = []
    rows: list[ParsedRow] = []
    first_line_of: dict[date, int] = {}
    for line, cells in lines[1:]:
        if len(cells) != len(header):
            rejected.append(RejectedLine(line, "file", f"has {len(cells)} fields; the header "
                                                       f"has {len(header)}"))
            continue
        try:
            values = _row(cells, targets, mapping)
            day: date = values["date"]
            if day > latest:
                raise InputError("date", f"{day.isoformat()} is in the future")
            if day in first_line_of:
                raise InputError("date", f"{day.isoformat()} is already on line "
                                         f"{first_line_of[day]}")
            first_line_of[day] = line
            CheckinInput.from_dict(_as_json(values))  # the API's own checks, field by field
        except InputError as exc:
            rejected.append(RejectedLine(line, exc.field, exc.message))
            continue
        rows.append(ParsedRow(line, values))
    if not rejected and not rows:
        rejected.append(RejectedLine(header_line + 1, "file", "has no check-in rows after "
                                                              "the header"))
    if len(rows) > MAX_ROWS:
        rejected.append(RejectedLine(rows[MAX_ROWS].line, "file",
                                     f"more than {MAX_ROWS} rows; split the file"))
    if rejected:
        raise CsvRejected(rejected)
    return rows


def _decode(data: bytes) -> str:
    if len(data) > MAX_BYTES:
        raise CsvRejected([RejectedLine(1, "file", f"is larger than {MAX_BYTES // 1_000_000} "
                                                   "MB; split it")])
    try:
        return data.decode("utf-8-sig")  # spreadsheets often write a byte-order mark
    except UnicodeDecodeError as exc:
        line = data[:exc.start].count(b"\n") + 1
        raise CsvRejected([RejectedLine(line, "file", f"byte 0x{data[exc.start]:02x} is not "
                                                      "UTF-8 text; save the file as UTF-8 "
                                                      "(CSV UTF-8)")]) from None


def _records(text: str) -> list[tuple[int, list[str]]]:
    """(line where the record starts, cells), skipping blank lines; a quoted note may span
    several lines."""
    if "\x00" in text:
        line = text[:text.index("\x00")].count("\n") + 1
        raise CsvRejected([RejectedLine(line, "file", "holds a NUL character; it is not a "
                                                      "text CSV file")])
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    records, start = [], 1
    try:
        for cells in reader:
            if any(cell.strip() for cell in cells):
                records.append((start, cells))
            start = reader.line_num + 1
    except csv.Error as exc:
        raise CsvRejected([RejectedLine(start, "file", f"is not valid CSV: {exc}")]) from None
    return records


def _targets(header: list[str], mapping: ColumnMapping | None,
             line: int) -> list[str | None]:
    names = [h.strip() for h in header]
    rejected = [RejectedLine(line, f"column {n!r}", "appears twice in the header")
                for i, n in enumerate(names) if n in names[:i]]
    if mapping is None:
        targets: list[str | None] = list(names)
        rejected += [RejectedLine(line, f"column {n!r}", "is not a lowdose column (date, "
                                  "dose_taken, dose_mg, dose_time, ratings.<measure>, "
                                  "side_effects, note); send a mapping to import other "
                                  "columns") for n in names if not _is_field(n)]
        if "date" not in names:
            rejected.append(RejectedLine(line, "date", "no date column in the header"))
    else:
        targets = [mapping.columns.get(n) for n in names]
        rejected += [RejectedLine(line, f"column {n!r}", "is not in the mapping; map it to "
                                  "a field, or to null to skip it")
                     for n in names if n not in mapping.columns]
        rejected += [RejectedLine(line, f"column {n!r}", "is in the mapping but not in the "
                                                         "file")
                     for n in mapping.columns if n not in names]
    if rejected:
        raise CsvRejected(rejected)
    return targets


def _is_field(name: str) -> bool:
    return name in FIELDS or (name.startswith(RATING) and len(name) > len(RATING))


def _row(cells: list[str], targets: list[str | None],
         mapping: ColumnMapping | None) -> dict[str, Any]:
    values: dict[str, Any] = {}
    ratings: dict[str, int] = {}
    for cell, target in zip(cells, targets, strict=True):
        if target is None:
            continue
        value = cell.strip()
        if target.startswith(RATING):
            if value:
                ratings[target.removeprefix(RATING)] = _rating(target, value)
            continue
        values[target] = _cell(target, value, cell, mapping)
    if values.get("date") is None:
        raise InputError("date", "is empty")
    if ratings:
        values["ratings"] = ratings
    return values


def _cell(target: str, value: str, raw: str, mapping: ColumnMapping | None) -> Any:
    if target == "date":
        return _date(value, mapping.date_format if mapping else None) if value else None
    if not value:
        return [] if target == "side_effects" else None
    if target == "dose_taken":
        folded = value.casefold()
        if folded not in TRUE | FALSE:
            raise InputError(target, f"{value!r} is not yes or no")
        return folded in TRUE
    if target == "dose_mg":
        try:
            number = float(value)
        except ValueError:
            raise InputError(target, f"{value!r} is not a number of milligrams") from None
        if not math.isfinite(number):
            raise InputError(target, f"{value!r} is not a number of milligrams")
        return number
    if target == "dose_time":
        try:
            return time.fromisoformat(value)
        except ValueError:
            raise InputError(target, f"{value!r} is not a clock time like 22:00") from None
    if target == "side_effects":
        return _effects(_uninert(value))
    return _uninert(raw.strip("\r\n"))  # note: kept as written, apart from the line ends


def _date(value: str, date_format: str | None) -> date:
    try:
        if date_format:
            return datetime.strptime(value, date_format).date()
        return date.fromisoformat(value)
    except ValueError:
        expected = date_format or "YYYY-MM-DD"
        raise InputError("date", f"{value!r} is not a date in the form {expected}") from None


def _rating(target: str, value: str) -> int:
    try:
        number = float(value)
    except ValueError:
        raise InputError(target, f"{value!r} is not a whole number from 0 to 10") from None
    if not number.is_integer() or not 0 <= number <= 10:
        raise InputError(target, f"{value} is not a whole number from 0 to 10")
    return int(number)


def _uninert(cell: str) -> str:
    if cell.startswith("'") and cell[1:].startswith(FORMULA_STARTS):
        return cell[1:]
    return cell


def _effects(value: str) -> list[SideEffect]:
    """`vivid dreams:1; nausea:2` (a `\\;` inside a name is a semicolon)."""
    items, current, escaped = [], "", False
    for char in value:
        if escaped:
            current, escaped = current + char, False
        elif char == "\\":
            escaped = True
        elif char == ";":
            items.append(current)
            current = ""
        else:
            current += char
    items.append(current)
    effects = []
    for i, item in enumerate(i for i in items if i.strip()):
        name, colon, severity = item.strip().rpartition(":")
        if not colon or not severity.strip().isdigit() or not name.strip():
            raise InputError(f"side_effects.{i}", f"{item.strip()!r} is not name:severity "
                                                  "(severity 0–3)")
        effects.append(SideEffect(name.strip(), int(severity)))
    return effects


def _as_json(values: Mapping[str, Any]) -> dict[str, Any]:
    """The row as the check-in JSON of the API, so the same checks apply."""
    out: dict[str, Any] = {}
    for key, value in values.items():
        if isinstance(value, date | time):
            out[key] = _clock(value) if isinstance(value, time) else value.isoformat()
        elif key == "side_effects":
            out[key] = [e.to_dict() for e in value]
        else:
            out[key] = value
    return out


def _store_all(access: Access, rows: Sequence[ParsedRow]) -> ImportReport:
    created = updated = unchanged = 0
    rejected: list[RejectedLine] = []
    for row in rows:
        stored = access.session.execute(_FIND, {"patient": access.patient.id,
                                                "day": row.values["date"]}).one_or_none()
        before = _view(stored) if stored is not None else None
        try:
            entry = _merged(before, row.values)
        except InputError as exc:  # e.g. "not taken" over a stored dose
            rejected.append(RejectedLine(row.line, exc.field, exc.message))
            continue
        view, was_created = _store(access, entry)
        if was_created:
            created += 1
        elif before is not None and view.version == before.version:
            unchanged += 1
        else:
            updated += 1
    if rejected:
        raise CsvRejected(rejected)  # rolls the whole import back
    return ImportReport(len(rows), created, updated, unchanged)


def _merged(stored: CheckinView | None, values: Mapping[str, Any]) -> CheckinInput:
    """The row over the stored check-in: fields the file does not map stay as they were, and
    its ratings replace only the measures it has."""
    json = _as_json(values)
    if stored is None:
        return CheckinInput.from_dict(json)
    ratings = {**stored.ratings, **json.get("ratings", {})}
    base = CheckinInput(date=stored.date, dose_taken=stored.dose_taken,
                        dose_mg=stored.dose_mg, dose_time=stored.dose_time, ratings={},
                        side_effects=stored.side_effects, note=stored.note)
    update = CheckinInput.from_dict(json)
    kept = {name: getattr(update, name) for name in FIELDS if name in values}
    return replace(base, **kept, ratings=ratings)

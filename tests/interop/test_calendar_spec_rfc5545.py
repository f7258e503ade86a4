"""RFC 5545 text rules for the calendar, read from the bytes a calendar app receives: every
TEXT value, X- properties included, escapes commas, semicolons, backslashes and newlines
(§3.3.11), and content lines stay within 75 octets (§3.1). Pure, and over real HTTP on SQLite
and PostgreSQL (the fixtures of test_calendar_api)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time

from icalendar import Calendar

from interop.test_calendar_api import Running, running  # noqa: F401  (fixture used by name)
from lowdose.interop.calendar import DoseRun, Schedule, to_calendar
from persistence.conftest import backend, isolated_database, templates  # noqa: F401

STAMP = datetime(2025, 6, 1, 9, 0, tzinfo=UTC)


def unfolded(ics: bytes) -> list[str]:
    """The content lines, unfolded (§3.1: CRLF followed by one space or tab)."""
    assert b"\n" not in ics.replace(b"\r\n", b""), "every line ends with CRLF"
    return ics.replace(b"\r\n ", b"").replace(b"\r\n\t", b"").decode().split("\r\n")


def value_of(ics: bytes, name: str) -> str:
    [line] = [line for line in unfolded(ics) if line.split(":", 1)[0].split(";")[0] == name]
    return line.split(":", 1)[1]


def _bare(value: str, char: str) -> bool:
    """Whether `char` appears in an escaped TEXT value without its backslash."""
    i = 0
    while i < len(value):
        if value[i] == "\\":
            i += 2
            continue
        if value[i] == char:
            return True
        i += 1
    return False


def test_the_calendar_description_escapes_text_like_every_text_property() -> None:
    # RFC 5545 §3.3.11 (TEXT: ESCAPED-CHAR for "\\", ";", "," and newline) and §3.8.8.2
    # (an X- property's default value type is TEXT).
    note = "Hold from Monday, 9 June; ask C:\\clinic\nthen restart"
    run = DoseRun(1, 1, 1, date(2025, 6, 2), date(2025, 6, 8), 1.5, None, time(22), 1)
    ics = to_calendar(Schedule((run,), (), (), ()), stamp=STAMP, notes=(note,)).to_ical()
    written = value_of(ics, "X-WR-CALDESC")
    assert not any(_bare(written, c) for c in ",;"), written
    assert written.startswith("Hold from Monday\\, 9 June\\; ask C:\\\\clinic\\nthen restart")
    Calendar.from_ical(ics)  # still parses (icalendar keeps X- values as written)
    assert all(len(line) <= 75 for line in ics.split(b"\r\n"))  # §3.1, in octets


def test_the_served_calendar_has_no_unescaped_text_values(running: Running) -> None:  # noqa: F811
    # RFC 5545 §3.3.11 over HTTP: Alice has no supply on the record, so the calendar
    # description explains it in a sentence with a comma, which must go out escaped.
    response = running.client.get(running.url("/calendar.ics"), headers=running.as_("patient"))
    assert response.status_code == 200
    ics = response.content
    description = value_of(ics, "X-WR-CALDESC")
    assert "No refill reminders" in description
    assert not any(_bare(description, c) for c in ",;"), description
    for line in unfolded(ics):
        name = line.split(":", 1)[0].split(";")[0]
        if name in ("SUMMARY", "DESCRIPTION", "X-WR-CALNAME", "X-LOWDOSE-KIND", "COMMENT"):
            value = line.split(":", 1)[1]
            assert not any(_bare(value, c) for c in ",;"), line
    assert all(len(line) <= 75 for line in ics.split(b"\r\n"))  # §3.1, in octets

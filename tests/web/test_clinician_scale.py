"""The panel page at clinic scale, on SQLite and PostgreSQL: 10,000 patients on one care team,
each with a stored panel line, read over real HTTP. A page still shows 25 patients, the most
urgent first, and touches (and audits) only those.

The rows are written in bulk (the status lines as the check-in writes would leave them). Its
speed (design §4: ≤ 300 ms for the first flagged page) is measured in bench/panel.py, not here.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, insert, select

from lowdose.store.models import AuditEvent, CareTeamPatient, PanelStatus, Patient
from web.conftest import Site
from web.test_clinician_pages import names_in_order, post

PATIENTS = 10_000
FLAGS = {
    0: ("red-flag-jaundice", "urgent", "Signs of liver inflammation (jaundice): stop LDN and "
                                       "contact a clinician today."),
    1: ("side-effect-persisting", "attention", "Vivid dreams have lasted 20 days."),
    2: ("adherence-low", "attention", "Doses taken on 9 of the last 14 days."),
}


def populate(site: Site, count: int) -> None:
    now = datetime.now(UTC).replace(tzinfo=None)
    today = now.date()
    with site.cast.db.transaction() as session:
        ids = list(session.scalars(insert(Patient).returning(Patient.id), [
            {"clinic_id": site.cast.ids.clinic_a, "display_name": f"Synthetic {n:05d}",
             "synthetic": True, "created_at": now, "updated_at": now} for n in range(count)]))
        session.execute(insert(CareTeamPatient), [
            {"care_team_id": site.cast.ids.team_a, "patient_id": pid, "added_at": now}
            for pid in ids])
        session.execute(insert(PanelStatus), [_status(n, pid, site, today, now)
                                              for n, pid in enumerate(ids)])


def _status(n: int, patient_id: int, site: Site, today: Any, now: datetime) -> dict[str, Any]:
    category = n % 50 if n % 50 in FLAGS else 9
    flag = FLAGS.get(category)
    return {"patient_id": patient_id, "clinic_id": site.cast.ids.clinic_a,
            "category": category, "level": flag[1] if flag else None,
            "flags": [{"code": flag[0], "level": flag[1], "reason": flag[2],
                       "date": today.isoformat()}] if flag else [],
            "last_checkin": today - timedelta(days=n % 9), "dose_mg": 3.0,
            "next_step_on": today + timedelta(days=(n % 21) - 7), "next_step_mg": 4.5,
            "steps_held": False, "refreshed_at": now}


def panel_reads(site: Site) -> int:
    with site.cast.db.transaction(write=False) as session:
        return int(session.scalar(select(func.count()).select_from(AuditEvent).where(
            AuditEvent.action == "panel.read")) or 0)


def test_the_panel_page_at_ten_thousand_patients(site: Site) -> None:
    populate(site, PATIENTS)
    total = PATIENTS + 2  # and Alice and Bob
    with site.signed_in("clinician") as client:
        client.get("/clinic/panel")  # warm: templates compiled, connections open
        before = panel_reads(site)
        first = [client.get("/clinic/panel") for _ in range(5)]
        audited = panel_reads(site) - before
        urgent = client.get("/clinic/panel", params={"level": "urgent"})
        search = post(client, "/clinic/panel", {"q": "synthetic 0999"})
        last = client.get("/clinic/panel", params={"page": str(total // 25)})

    page = first[0].text
    assert f"Patients 1–25 of {total:,}".replace(",", "") in page.replace(",", "")
    assert len(names_in_order(page)) == 25
    assert re.findall(r'data-group="([a-z-]+)"', page) == ["red-flag"] * 25
    assert audited == 5 * 25  # each view touched the 25 patients it shows, no more
    assert "of 200" in urgent.text and len(names_in_order(urgent.text)) == 25
    assert sorted(names_in_order(search.text)) == [f"Synthetic 0999{n}" for n in range(10)]
    assert len(names_in_order(last.text)) == total % 25

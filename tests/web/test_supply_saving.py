"""The /supply page's "Save this supply": the supply is stored on the record (over real HTTP,
signed in as the patient) and its refill reminder reaches the patient's calendar."""

from __future__ import annotations

from datetime import timedelta

from icalendar import Calendar

from lowdose.services import calendar, supplies
from web.conftest import Site
from web.test_patient_pages import TODAY, now_ctx, post, start_plan


def test_saving_a_supply_stores_it_and_the_calendar_reminds_of_the_refill(site: Site) -> None:
    start_plan(site, liquid=1.0)  # 1.5 mg today: 1.5 mL of 1 mg/mL
    entered = {"form": "liquid", "dose_mg": "1.5", "mg_per_ml": "1", "quantity": "30",
               "start": TODAY.isoformat()}
    with site.signed_in("patient") as client:
        worked_out = post(client, "/supply", entered)
        assert worked_out.status_code == 200 and "Supply saved" not in worked_out.text
        assert supplies.list_supplies(site.cast.db, now_ctx(site, "patient"),
                                      site.cast.ids.alice) == []
        saved = post(client, "/supply", {**entered, "save": "1"})
        refused = post(client, "/supply", {**entered, "quantity": "", "save": "1"})
    # 30 mL at 1.5 mL a day is 20 days; order 7 days before they end.
    refill_on = TODAY + timedelta(days=13)
    assert saved.status_code == 200
    assert "Supply saved" in saved.text and refill_on.isoformat() in saved.text
    assert refused.status_code == 422 and "quantity" in refused.text
    [stored] = supplies.list_supplies(site.cast.db, now_ctx(site, "patient"),
                                      site.cast.ids.alice)
    assert (stored.form, stored.quantity, stored.strength, stored.dispensed_on) == (
        "liquid", 30, 1, TODAY)
    ics = calendar.export_calendar(site.cast.db, now_ctx(site, "patient"), site.cast.ids.alice)
    [refill] = [e for e in Calendar.from_ical(ics.ics).walk("VEVENT")
                if str(e["X-LOWDOSE-KIND"]) == "refill"]
    assert refill["DTSTART"].dt == refill_on

"""The report and CSV routes over real HTTP on SQLite and PostgreSQL: the PDF and the CSV as
files, the import as multipart or JSON, rejected files as problem details with line numbers."""

from __future__ import annotations

import io
import json

from pypdf import PdfReader
from sqlalchemy import select

from api.test_records import RecordServer
from lowdose.store.models import AuditEvent

P = "/api/v1/patients/{}"


def test_the_report_downloads_as_a_pdf_and_the_read_is_audited(server: RecordServer) -> None:
    alice = server.cast.ids.alice
    response = server.client.get(P.format(alice) + "/report.pdf",
                                 headers=server.as_("clinician"))
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/pdf"
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["content-disposition"].startswith(
        f'attachment; filename="lowdose-visit-report-patient-{alice}-')
    text = " ".join(p.extract_text() for p in PdfReader(io.BytesIO(response.content)).pages)
    assert "Visit report: Alice" in text
    with server.cast.db.transaction(write=False) as session:
        event = session.scalars(select(AuditEvent).where(
            AuditEvent.action == "report.visit")).one()
    assert (event.patient_id, event.source, event.outcome) == (alice, "127.0.0.1", "allowed")


def test_someone_elses_report_is_a_problem_not_a_pdf(server: RecordServer) -> None:
    response = server.client.get(P.format(server.cast.ids.alice) + "/report.pdf",
                                 headers=server.as_("other_clinician"))
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"


def test_export_import_round_trip_over_http(server: RecordServer) -> None:
    ids, headers = server.cast.ids, server.as_("clinician")
    for day, pain in (("2025-05-30", 6), ("2025-05-31", 5)):
        assert server.client.post(P.format(ids.alice) + "/checkins", headers=headers, json={
            "date": day, "ratings": {"pain": pain}, "note": "=1+1"}).status_code == 201
    exported = server.client.get(P.format(ids.alice) + "/checkins.csv", headers=headers)
    assert exported.status_code == 200
    assert exported.headers["content-type"] == "text/csv; charset=utf-8"
    assert exported.text.splitlines()[0] == (
        "date,dose_taken,dose_mg,dose_time,ratings.pain,side_effects,note")
    imported = server.client.post(P.format(ids.bob) + "/checkins/import", headers=headers,
                                  files={"file": ("diary.csv", exported.content, "text/csv")})
    assert imported.status_code == 200, imported.text
    assert imported.json() == {"rows": 2, "created": 2, "updated": 0, "unchanged": 0}
    again = server.client.post(P.format(ids.bob) + "/checkins/import", headers=headers,
                               json={"csv": exported.text})
    assert again.json() == {"rows": 2, "created": 0, "updated": 0, "unchanged": 2}
    bob = server.client.get(P.format(ids.bob) + "/checkins.csv", headers=headers)
    assert bob.text == exported.text


def test_a_mapped_import_over_multipart(server: RecordServer) -> None:
    alice, headers = server.cast.ids.alice, server.as_("patient")
    mapping = {"columns": {"When": "date", "Pain": "ratings.pain"}, "date_format": "%d.%m.%Y"}
    response = server.client.post(
        P.format(alice) + "/checkins/import", headers=headers,
        files={"file": ("export.csv", b"When,Pain\n01.05.2025,4\n", "text/csv")},
        data={"mapping": json.dumps(mapping)})
    assert response.status_code == 200, response.text
    listed = server.client.get(P.format(alice) + "/checkins", headers=headers).json()
    assert [(c["date"], c["ratings"]) for c in listed] == [("2025-05-01", {"pain": 4})]


def test_a_rejected_file_answers_every_bad_line_and_stores_nothing(server: RecordServer
                                                                  ) -> None:
    alice, headers = server.cast.ids.alice, server.as_("patient")
    data = b"date,ratings.pain\n2025-05-01,4\n2025-05-02,12\nyesterday,3\n"
    response = server.client.post(P.format(alice) + "/checkins/import", headers=headers,
                                  files={"file": ("bad.csv", data, "text/csv")})
    assert response.status_code == 422
    problem = response.json()
    assert response.headers["content-type"] == "application/problem+json"
    assert [(e["line"], e["field"]) for e in problem["errors"]] == [
        (3, "ratings.pain"), (4, "date")]
    assert "nothing was imported" in problem["detail"]
    assert server.client.get(P.format(alice) + "/checkins", headers=headers).json() == []


def test_an_import_without_a_file_or_with_a_broken_mapping_says_which(server: RecordServer
                                                                     ) -> None:
    url, headers = P.format(server.cast.ids.alice) + "/checkins/import", server.as_("patient")
    no_file = server.client.post(url, headers=headers, data={"mapping": "{}"})
    assert (no_file.status_code, no_file.json()["errors"][0]["field"]) == (422, "file")
    broken = server.client.post(url, headers=headers, data={"mapping": "{"},
                                files={"file": ("a.csv", b"date\n2025-05-01\n", "text/csv")})
    assert (broken.status_code, broken.json()["errors"][0]["field"]) == (422, "mapping")
    text = server.client.post(url, headers={**headers, "content-type": "text/plain"},
                              content=b"date\n")
    assert (text.status_code, text.json()["errors"][0]["field"]) == (422, "body")


def test_an_overfull_or_broken_form_is_422_not_400(server: RecordServer) -> None:
    url, headers = P.format(server.cast.ids.alice) + "/checkins/import", server.as_("patient")
    overfull = server.client.post(url, headers=headers, data={"mapping": "", "x": "1", "y": "2"},
                                  files={"file": ("a.csv", b"date\n2025-05-01\n", "text/csv")})
    assert (overfull.status_code, overfull.json()["errors"][0]["field"]) == (422, "body")
    broken = server.client.post(url, content=b"--x\r\nnonsense", headers={
        **headers, "content-type": "multipart/form-data; boundary=x"})
    assert broken.status_code == 422

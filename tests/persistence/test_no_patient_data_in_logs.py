"""No patient data in logs: a whole day of record keeping, with every logger at DEBUG, leaves
no name, note, medicine or answer in any log message, nor in database error messages."""

from __future__ import annotations

import logging
from datetime import date, datetime, time

import pytest
from sqlalchemy.exc import IntegrityError

from lowdose.services import checkins, medicines, patients, procedures, questionnaires
from lowdose.services.checkins import CheckinInput
from lowdose.store.models import Medicine

from .conftest import Cast

SECRETS = ("Zebulon Quartermaine", "whispered-note-7731", "oxymorphone-xr-9931",
           "surgery-codename-4411", "answer-secret-5512")


def test_record_keeping_logs_no_patient_data(cast: Cast,
                                             caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    # SQLAlchemy quiets its own loggers; an operator debugging SQL would turn them up.
    caplog.set_level(logging.DEBUG, logger="sqlalchemy")
    admin, clinician = cast.ctx("admin"), cast.ctx("clinician")
    name, note, medicine, surgery, answer = SECRETS
    record = patients.create_patient(cast.db, admin, clinic_id=cast.ids.clinic_a,
                                     display_name=name)
    alice = cast.ids.alice
    checkins.record_checkin(cast.db, clinician, alice,
                            CheckinInput(date=date(2025, 6, 1), dose_taken=True,
                                         dose_time=time(22), note=note))
    medicines.add_medicine(cast.db, clinician, alice, text=medicine)
    procedures.add_procedure(cast.db, clinician, alice, name=surgery,
                             at=datetime(2025, 7, 1, 8, 0))
    questionnaires.record_response(cast.db, clinician, alice, instrument="notes",
                                   answered_at=datetime(2025, 6, 1), answers={"q": answer})
    patients.list_patients(cast.db, admin)
    patients.get_patient(cast.db, admin, record.id)
    error_text = _database_error_text(cast, medicine)
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "INSERT INTO checkins" in logged  # the statements themselves were logged
    for secret in SECRETS:
        assert secret not in logged
    assert medicine not in error_text


def _database_error_text(cast: Cast, medicine: str) -> str:
    """The message of a failed write (a medicine for a patient that does not exist)."""
    try:
        with cast.db.transaction() as session:
            session.add(Medicine(patient_id=10**6, version=1, text=medicine, removed=False,
                                 updated_at=datetime(2025, 6, 2)))
            session.flush()
    except IntegrityError as error:
        return str(error)
    raise AssertionError("the write should have failed")

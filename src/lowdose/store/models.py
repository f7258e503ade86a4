"""The tables of the patient record (SQLAlchemy 2 declarative models).

Conventions that keep the schema portable and the history honest:
- Datetimes are stored as naive UTC (`db.utc_naive`); dates and clock times as given.
- Records whose edits must stay visible (medicines, check-ins) keep a `version` counter and a
  `*_versions` table holding a full copy of every version, the current one included.
- Titration plans are only ever appended: a change is a new `plan_versions` row.
- JSON columns only where the value is a small document (ratings, side effects, answers, the
  computed steps of a plan).
"""

from __future__ import annotations

from datetime import date, datetime, time
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    Time,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

# Stable constraint names, so migrations written today match what autogenerate sees tomorrow.
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

ROLES = ("patient", "clinician", "admin")
TOKEN_KINDS = ("session", "api")


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


# ---------------------------------------------------------------- clinics, users, care teams


class Clinic(Base):
    __tablename__ = "clinics"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime)


class User(Base):
    __tablename__ = "users"
    __table_args__ = (CheckConstraint(_in("role", ROLES), name="role"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    clinic_id: Mapped[int] = mapped_column(ForeignKey("clinics.id"), index=True)
    username: Mapped[str] = mapped_column(String(150), unique=True)
    display_name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(16))
    password_hash: Mapped[str] = mapped_column(String(255))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    totp_secret: Mapped[str | None] = mapped_column(String(64))
    totp_enabled: Mapped[bool] = mapped_column(Boolean, default=False)
    # The last accepted TOTP time step: a code is accepted once, never replayed.
    totp_last_step: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    password_changed_at: Mapped[datetime] = mapped_column(DateTime)


class CareTeam(Base):
    __tablename__ = "care_teams"
    __table_args__ = (UniqueConstraint("clinic_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    clinic_id: Mapped[int] = mapped_column(ForeignKey("clinics.id"))
    name: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(DateTime)


class CareTeamMember(Base):
    __tablename__ = "care_team_members"

    care_team_id: Mapped[int] = mapped_column(ForeignKey("care_teams.id"), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True, index=True)
    added_at: Mapped[datetime] = mapped_column(DateTime)


class CareTeamPatient(Base):
    __tablename__ = "care_team_patients"

    care_team_id: Mapped[int] = mapped_column(ForeignKey("care_teams.id"), primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"), primary_key=True,
                                            index=True)
    added_at: Mapped[datetime] = mapped_column(DateTime)


# ------------------------------------------------------------------------ patients, profile


class Patient(Base):
    __tablename__ = "patients"

    id: Mapped[int] = mapped_column(primary_key=True)
    clinic_id: Mapped[int] = mapped_column(ForeignKey("clinics.id"), index=True)
    # The patient's own login, when they have one.
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), unique=True)
    display_name: Mapped[str] = mapped_column(String(200))
    birth_date: Mapped[date | None] = mapped_column(Date)
    sex: Mapped[str | None] = mapped_column(String(16))
    weight_kg: Mapped[float | None] = mapped_column(Float)
    pregnant: Mapped[bool | None] = mapped_column(Boolean)
    breastfeeding: Mapped[bool | None] = mapped_column(Boolean)
    # Demo and test records are labelled so they can never pass for real people.
    synthetic: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    updated_at: Mapped[datetime] = mapped_column(DateTime)


class PatientCondition(Base):
    """A condition on the problem list; removing one sets `removed_at` and keeps the row."""

    __tablename__ = "patient_conditions"

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"), index=True)
    text: Mapped[str] = mapped_column(String(200))
    added_at: Mapped[datetime] = mapped_column(DateTime)
    removed_at: Mapped[datetime | None] = mapped_column(DateTime)


# ------------------------------------------------------------------------------ medicines


class Medicine(Base):
    """The current state of one medicine on the patient's list."""

    __tablename__ = "medicines"

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"), index=True)
    version: Mapped[int] = mapped_column(Integer)
    text: Mapped[str] = mapped_column(String(500))
    rxnorm: Mapped[str | None] = mapped_column(String(16))
    started_on: Mapped[date | None] = mapped_column(Date)
    stopped_on: Mapped[date | None] = mapped_column(Date)
    # When it was last taken: a date, and the clock time when the patient knows it.
    last_taken_on: Mapped[date | None] = mapped_column(Date)
    last_taken_time: Mapped[time | None] = mapped_column(Time)
    # Entered in error: hidden from the list and the screen, still in the history.
    removed: Mapped[bool] = mapped_column(Boolean, default=False)
    updated_at: Mapped[datetime] = mapped_column(DateTime)


class MedicineVersion(Base):
    """Every version of a medicine entry, as it was recorded."""

    __tablename__ = "medicine_versions"
    __table_args__ = (UniqueConstraint("medicine_id", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    medicine_id: Mapped[int] = mapped_column(ForeignKey("medicines.id"))
    version: Mapped[int] = mapped_column(Integer)
    text: Mapped[str] = mapped_column(String(500))
    rxnorm: Mapped[str | None] = mapped_column(String(16))
    started_on: Mapped[date | None] = mapped_column(Date)
    stopped_on: Mapped[date | None] = mapped_column(Date)
    last_taken_on: Mapped[date | None] = mapped_column(Date)
    last_taken_time: Mapped[time | None] = mapped_column(Time)
    removed: Mapped[bool] = mapped_column(Boolean)
    recorded_at: Mapped[datetime] = mapped_column(DateTime)
    recorded_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))


# ------------------------------------------------------------------- LDN courses and plans


class LdnCourse(Base):
    """One course of LDN for a patient; its doses and times come from its plan versions."""

    __tablename__ = "ldn_courses"

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"), index=True)
    started_on: Mapped[date] = mapped_column(Date)
    ended_on: Mapped[date | None] = mapped_column(Date)
    indication: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(DateTime)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))


class PlanVersion(Base):
    """A titration plan as prescribed at one moment; revising a plan appends a version."""

    __tablename__ = "plan_versions"
    __table_args__ = (UniqueConstraint("course_id", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    course_id: Mapped[int] = mapped_column(ForeignKey("ldn_courses.id"))
    version: Mapped[int] = mapped_column(Integer)
    # The planner's inputs, so a version can be recomputed and explained.
    parameters: Mapped[dict[str, Any]] = mapped_column(JSON)
    # The planner's output (dated steps, notes, sources) as the patient was shown it.
    plan: Mapped[dict[str, Any]] = mapped_column(JSON)
    reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))


# ------------------------------------------------------------------------------- check-ins


class Checkin(Base):
    """The current daily check-in of a patient for one date (one per patient per date)."""

    __tablename__ = "checkins"
    __table_args__ = (UniqueConstraint("patient_id", "date"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"))
    date: Mapped[date] = mapped_column(Date)
    version: Mapped[int] = mapped_column(Integer)
    dose_taken: Mapped[bool | None] = mapped_column(Boolean)
    dose_mg: Mapped[float | None] = mapped_column(Float)
    dose_time: Mapped[time | None] = mapped_column(Time)
    ratings: Mapped[dict[str, int]] = mapped_column(JSON)
    side_effects: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    note: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    updated_at: Mapped[datetime] = mapped_column(DateTime)


class CheckinVersion(Base):
    """Every version of a check-in, as it was recorded."""

    __tablename__ = "checkin_versions"
    __table_args__ = (UniqueConstraint("checkin_id", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    checkin_id: Mapped[int] = mapped_column(ForeignKey("checkins.id"))
    version: Mapped[int] = mapped_column(Integer)
    dose_taken: Mapped[bool | None] = mapped_column(Boolean)
    dose_mg: Mapped[float | None] = mapped_column(Float)
    dose_time: Mapped[time | None] = mapped_column(Time)
    ratings: Mapped[dict[str, int]] = mapped_column(JSON)
    side_effects: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    note: Mapped[str | None] = mapped_column(Text)
    recorded_at: Mapped[datetime] = mapped_column(DateTime)
    recorded_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))


class IdempotencyKey(Base):
    """A client's retry key and what its first request produced, so a retry never duplicates."""

    __tablename__ = "idempotency_keys"
    __table_args__ = (UniqueConstraint("user_id", "key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    key: Mapped[str] = mapped_column(String(255))
    # SHA-256 of the canonical request: the same key with another request is a conflict.
    request_hash: Mapped[str] = mapped_column(String(64))
    resource: Mapped[str] = mapped_column(String(32))
    resource_id: Mapped[int] = mapped_column(Integer)
    resource_version: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(DateTime)


# ------------------------------------------------------------ questionnaires, procedures


class QuestionnaireResponse(Base):
    __tablename__ = "questionnaire_responses"

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"), index=True)
    instrument: Mapped[str] = mapped_column(String(64))
    answered_at: Mapped[datetime] = mapped_column(DateTime)
    answers: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))


class Procedure(Base):
    """A planned procedure; cancelling sets `cancelled_at` and keeps the row."""

    __tablename__ = "procedures"

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    # Local wall-clock time of the procedure, as the patient was told it.
    at: Mapped[datetime] = mapped_column(DateTime)
    opioids_expected: Mapped[bool | None] = mapped_column(Boolean)
    cancelled_at: Mapped[datetime | None] = mapped_column(DateTime)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))


# -------------------------------------------------------------------- audit, auth state


class AuditEvent(Base):
    """Who did what to whose record, when, from where: one link of a hash chain.

    No foreign keys: the log must outlive and never block changes elsewhere. It holds
    identifiers only, never clinical values.
    """

    __tablename__ = "audit_events"
    __table_args__ = (Index("ix_audit_events_patient_id_at", "patient_id", "at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    at: Mapped[datetime] = mapped_column(DateTime)
    actor_user_id: Mapped[int | None] = mapped_column(Integer)
    action: Mapped[str] = mapped_column(String(64))
    outcome: Mapped[str] = mapped_column(String(16))
    patient_id: Mapped[int | None] = mapped_column(Integer)
    target: Mapped[str | None] = mapped_column(String(64))
    source: Mapped[str | None] = mapped_column(String(100))
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class AuditHead(Base):
    """The chain's newest link. Appenders lock this one row, so the chain never forks, and a
    deleted tail shows up as a head that points past the last event."""

    __tablename__ = "audit_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    last_id: Mapped[int] = mapped_column(Integer)
    last_hash: Mapped[str] = mapped_column(String(64))


class AuthToken(Base):
    """A browser session or API bearer token. Only the SHA-256 of the token is stored."""

    __tablename__ = "auth_tokens"
    __table_args__ = (CheckConstraint(_in("kind", TOKEN_KINDS), name="kind"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    label: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(DateTime)
    last_used_at: Mapped[datetime] = mapped_column(DateTime)
    expires_at: Mapped[datetime] = mapped_column(DateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime)


class LoginThrottle(Base):
    """Failed logins per username and per client address, shared by every worker."""

    __tablename__ = "login_throttles"

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer)
    window_started_at: Mapped[datetime] = mapped_column(DateTime)
    locked_until: Mapped[datetime | None] = mapped_column(DateTime)


# --- panel and n-of-1 (issue 4; migration 0002) ---


PANEL_CATEGORIES = (0, 1, 2, 9)  # urgent, side effects, other attention, nothing stored


class PanelStatus(Base):
    """One patient's line on the clinician panel, kept current in the same transaction as
    every check-in, questionnaire and plan write, so reading the panel never reads a diary.

    Flags that depend on the diary are stored as computed at the last write (an urgent flag
    stays until a newer record clears it); what depends only on today's date (check-in
    overdue, titration step due, surgery coming) is computed from the stored dates when the
    panel is read.
    """

    __tablename__ = "panel_status"
    __table_args__ = (
        CheckConstraint(f"category IN {PANEL_CATEGORIES}", name="category"),
        Index("ix_panel_status_clinic_id_category", "clinic_id", "category"),
    )

    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"), primary_key=True,
                                            autoincrement=False)
    clinic_id: Mapped[int] = mapped_column(ForeignKey("clinics.id"))
    category: Mapped[int] = mapped_column(Integer)
    level: Mapped[str | None] = mapped_column(String(16))  # most severe stored flag
    flags: Mapped[list[dict[str, Any]]] = mapped_column(JSON)  # code, level, reason, date
    last_checkin: Mapped[date | None] = mapped_column(Date)
    dose_mg: Mapped[float | None] = mapped_column(Float)  # the last dose recorded as taken
    # The plan's next step above the last dose taken; held while a step back is suggested.
    next_step_on: Mapped[date | None] = mapped_column(Date)
    next_step_mg: Mapped[float | None] = mapped_column(Float)
    steps_held: Mapped[bool] = mapped_column(Boolean, default=False)
    refreshed_at: Mapped[datetime] = mapped_column(DateTime)


class NofOneComparison(Base):
    """A planned n-of-1 comparison of two arms (dose or time of day) in randomised blocks.

    The parameters rebuild the schedule exactly (the allocation is seeded); `schedule` keeps
    it as the patient was shown it. Cancelling sets `cancelled_at` and keeps the row.
    """

    __tablename__ = "nof1_comparisons"

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    a_dose_mg: Mapped[float] = mapped_column(Float)
    a_time: Mapped[time] = mapped_column(Time)
    b_dose_mg: Mapped[float] = mapped_column(Float)
    b_time: Mapped[time] = mapped_column(Time)
    starts_on: Mapped[date] = mapped_column(Date)
    ends_on: Mapped[date] = mapped_column(Date)
    blocks: Mapped[int] = mapped_column(Integer)
    period_days: Mapped[int] = mapped_column(Integer)
    run_in_days: Mapped[int] = mapped_column(Integer)
    seed: Mapped[int] = mapped_column(BigInteger)
    schedule: Mapped[dict[str, Any]] = mapped_column(JSON)
    note: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    cancelled_at: Mapped[datetime | None] = mapped_column(DateTime)



# --- web app (issue 5; migration 0003) ---


class ClinicianNote(Base):
    """A note a clinician on the care team wrote on a patient's record. Notes are only ever
    appended: a correction is a new note, so what was written stays on the record."""

    __tablename__ = "clinician_notes"

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"), index=True)
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    created_by: Mapped[int] = mapped_column(ForeignKey("users.id"))


# --- calendar feeds (issue 6; migration 0004) ---


class CalendarPreference(Base):
    """How a patient's calendar is written: their time zone (IANA name; None: floating local
    times) and whether descriptions may name the medicine (off unless the patient opts in)."""

    __tablename__ = "calendar_preferences"

    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"), primary_key=True)
    timezone: Mapped[str | None] = mapped_column(String(64))
    medicine_names: Mapped[bool] = mapped_column(Boolean, default=False)
    updated_at: Mapped[datetime] = mapped_column(DateTime)
    updated_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))


class CalendarFeed(Base):
    """A secret feed URL for calendar apps. Only the SHA-256 of its token is stored; the feed
    reads the record as its creator, so it stops when the creator loses access or it is
    revoked."""

    __tablename__ = "calendar_feeds"

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    label: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(DateTime)
    created_by: Mapped[int] = mapped_column(ForeignKey("users.id"))
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime)
    revoked_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))


# --- CDS Hooks (issue 6; migration 0005) ---


class CdsJwtId(Base):
    """A JWT id (`jti`) an EHR client has already used: a second request with it is a replay.
    Kept until the token expires, after which the token itself is refused anyway."""

    __tablename__ = "cds_jwt_ids"

    issuer: Mapped[str] = mapped_column(String(500), primary_key=True)
    jti: Mapped[str] = mapped_column(String(255), primary_key=True)
    expires_at: Mapped[datetime] = mapped_column(DateTime, index=True)
    seen_at: Mapped[datetime] = mapped_column(DateTime)


# --- supplies (issue 6; migration 0006) ---

SUPPLY_FORMS = ("capsule", "liquid")


class Supply(Base):
    """A supply of LDN the pharmacy dispensed. Only ever appended: a correction is a new row,
    and the newest dispensing is the one the refill reminder counts down from."""

    __tablename__ = "supplies"
    __table_args__ = (CheckConstraint(_in("form", SUPPLY_FORMS), name="form"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"), index=True)
    dispensed_on: Mapped[date] = mapped_column(Date)
    form: Mapped[str] = mapped_column(String(16))
    quantity: Mapped[float] = mapped_column(Float)  # capsules, or mL of liquid
    strength: Mapped[float] = mapped_column(Float)  # mg per capsule, or mg/mL
    price: Mapped[float | None] = mapped_column(Float)  # per fill, any currency
    created_at: Mapped[datetime] = mapped_column(DateTime)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

"""Accounts: clinics, users, logins, tokens and the optional second factor.

Logins and token checks take `now` and the client `source` directly, because nobody is signed in
yet; everything else takes a `Context`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import bindparam, select, update
from sqlalchemy.orm import Session

from lowdose.errors import InputError
from lowdose.security import audit, passwords, ratelimit, tokens, totp
from lowdose.security.policy import Actor, ClinicAction, Role, authorize_clinic
from lowdose.services._checks import text
from lowdose.services.context import Context
from lowdose.services.errors import Conflict, Forbidden, NotFound, Unauthenticated
from lowdose.store.db import Database, utc_naive
from lowdose.store.models import AuthToken, Clinic, Patient, User

USER_ROLES = (Role.PATIENT, Role.CLINICIAN, Role.ADMIN)
_USERNAME = re.compile(r"^[a-z0-9][a-z0-9._@+-]{2,149}$")


@dataclass(frozen=True)
class ClinicView:
    id: int
    name: str

    def to_dict(self) -> dict[str, object]:
        return {"id": self.id, "name": self.name}


@dataclass(frozen=True)
class UserView:
    id: int
    clinic_id: int
    username: str
    display_name: str
    role: str
    active: bool
    totp_enabled: bool
    patient_id: int | None

    def to_dict(self) -> dict[str, object]:
        return {"id": self.id, "clinic_id": self.clinic_id, "username": self.username,
                "display_name": self.display_name, "role": self.role, "active": self.active,
                "totp_enabled": self.totp_enabled, "patient_id": self.patient_id}


@dataclass(frozen=True)
class IssuedToken:
    """A new token: shown to its owner once, only its hash is kept."""

    token: str
    kind: str
    expires_at: datetime  # naive UTC; idle expiry may end it sooner
    user: UserView

    def to_dict(self) -> dict[str, object]:
        return {"access_token": self.token, "token_type": "bearer",
                "expires_at": self.expires_at.isoformat() + "Z"}


@dataclass(frozen=True)
class TotpEnrolment:
    secret: str
    uri: str


def normalise_username(username: str) -> str:
    return username.strip().casefold()


def actor_of(user: User) -> Actor:
    return Actor(user_id=user.id, role=Role(user.role), clinic_id=user.clinic_id)


# ------------------------------------------------------------------------- administration


def create_clinic(db: Database, ctx: Context, name: str) -> ClinicView:
    """A new clinic (operator only)."""
    name = text("name", name, max_length=200)
    _require_clinic(ctx, ClinicAction.CREATE_CLINIC, None)
    with db.transaction() as session:
        if session.scalar(select(Clinic.id).where(Clinic.name == name)) is not None:
            raise Conflict("a clinic with this name exists")
        clinic = Clinic(name=name, created_at=ctx.at)
        session.add(clinic)
        session.flush()
        _audit(session, ctx, "clinic.create", target=f"clinic:{clinic.id}")
        return ClinicView(clinic.id, clinic.name)


def list_clinics(db: Database, ctx: Context) -> list[ClinicView]:
    """Clinics the caller administers: all for the operator, their own for an admin."""
    with db.transaction(write=False) as session:
        clinics = session.scalars(select(Clinic).order_by(Clinic.id)).all()
        return [ClinicView(c.id, c.name) for c in clinics
                if authorize_clinic(ctx.actor, ClinicAction.MANAGE_USERS, c.id)]


def create_user(db: Database, ctx: Context, *, clinic_id: int, username: str, password: str,
                role: str, display_name: str | None = None) -> UserView:
    """A new account in `clinic_id` (the operator, or an admin of that clinic).

    Usernames are case-insensitive and unique on the server.
    """
    name = _check_username(username)
    if role not in USER_ROLES:
        raise InputError("role", f"must be one of {', '.join(USER_ROLES)}")
    shown = text("display_name", display_name or name, max_length=200)
    password_hash = _hash_new_password(password)
    _require_clinic(ctx, ClinicAction.MANAGE_USERS, clinic_id)
    with db.transaction() as session:
        if session.get(Clinic, clinic_id) is None:
            raise NotFound("clinic", clinic_id)
        if session.scalar(select(User.id).where(User.username == name)) is not None:
            raise Conflict("this username is taken")
        user = User(clinic_id=clinic_id, username=name, display_name=shown, role=role,
                    password_hash=password_hash, active=True, totp_enabled=False,
                    created_at=ctx.at, password_changed_at=ctx.at)
        session.add(user)
        session.flush()
        _audit(session, ctx, "user.create", target=f"user:{user.id}")
        return _view(session, user)


def list_users(db: Database, ctx: Context, clinic_id: int) -> list[UserView]:
    _require_clinic(ctx, ClinicAction.MANAGE_USERS, clinic_id)
    with db.transaction(write=False) as session:
        users = session.scalars(select(User).where(User.clinic_id == clinic_id)
                                .order_by(User.id)).all()
        return [_view(session, user) for user in users]


def set_active(db: Database, ctx: Context, user_id: int, active: bool) -> UserView:
    """Disable or re-enable an account; disabling also ends all its sessions and tokens."""
    with db.transaction() as session:
        user = _user_in_clinic(session, ctx, user_id)
        user.active = active
        if not active:
            _revoke_all(session, user.id, ctx.at)
        _audit(session, ctx, "user.activate" if active else "user.deactivate",
               target=f"user:{user.id}")
        return _view(session, user)


def reset_password(db: Database, ctx: Context, user_id: int, new_password: str) -> UserView:
    """An admin sets a new password; the user's sessions and tokens end."""
    password_hash = _hash_new_password(new_password)
    with db.transaction() as session:
        user = _user_in_clinic(session, ctx, user_id)
        user.password_hash, user.password_changed_at = password_hash, ctx.at
        _revoke_all(session, user.id, ctx.at)
        _audit(session, ctx, "user.password-reset", target=f"user:{user.id}")
        return _view(session, user)


# ----------------------------------------------------------------------- login and tokens


def login(db: Database, *, username: str, password: str, now: datetime,
          source: str | None = None, totp_code: str | None = None, kind: str = "api",
          label: str | None = None) -> IssuedToken:
    """Check a password (and TOTP code when enabled) and issue a `kind` token.

    Raises Unauthenticated, with `locked_until` while the login is locked out and
    `needs_totp` when the password was right but the second factor is missing.
    """
    if kind not in tokens.LIFETIMES:
        raise InputError("kind", f"must be one of {', '.join(tokens.LIFETIMES)}")
    at = utc_naive(now)
    with db.transaction() as session:
        outcome = _try_login(session, username, password, totp_code, at, source)
        if isinstance(outcome, User):
            token, record = tokens.new_record(outcome.id, kind, at, label)
            session.add(record)
            _audit_login(session, at, source, outcome.id, audit.ALLOWED)
            return IssuedToken(token, kind, record.expires_at, _view(session, outcome))
    raise outcome


def _try_login(session: Session, username: str, password: str, code: str | None,
               at: datetime, source: str | None) -> User | Unauthenticated:
    name = normalise_username(username)
    locked = ratelimit.locked_until(session, name, source, at)
    if locked is not None:
        _audit_login(session, at, source, None, audit.DENIED)
        return Unauthenticated("too many failed logins; try again later", locked_until=locked)
    user = session.scalar(select(User).where(User.username == name))
    good = passwords.verify_password(user.password_hash if user else None, password)
    if user is None or not good or not user.active:
        return _failed(session, name, source, at, user)
    if user.totp_enabled and not code:
        _audit_login(session, at, source, user.id, audit.DENIED)
        return Unauthenticated("a one-time code is required", needs_totp=True)
    if user.totp_enabled and not _accept_code(user, code or "", at):
        return _failed(session, name, source, at, user)
    ratelimit.record_success(session, name)
    if passwords.needs_rehash(user.password_hash):
        user.password_hash = passwords.hash_password(password)
    return user


def _failed(session: Session, name: str, source: str | None, at: datetime,
            user: User | None) -> Unauthenticated:
    locked = ratelimit.record_failure(session, name, source, at)
    _audit_login(session, at, source, user.id if user else None, audit.DENIED)
    return Unauthenticated(locked_until=locked)


def authenticate_token(db: Database, token: str, *, now: datetime,
                       kind: str | None = None) -> Actor:
    """The actor a bearer or session token stands for; Unauthenticated when it is unknown,
    revoked, expired, of another `kind`, or its user is disabled."""
    at = utc_naive(now)
    with db.transaction(write=False) as session:
        found = session.execute(_TOKEN_USER, {"token_hash": tokens.hash_token(token)}).first()
        if (found is None or not found.active
                or (kind is not None and found.kind != kind)
                or not tokens.is_usable(found, at)):
            raise Unauthenticated("invalid or expired token")
    if at - found.last_used_at >= tokens.TOUCH_INTERVAL:
        with db.transaction() as session:
            session.execute(update(AuthToken).where(AuthToken.id == found.token_id)
                            .values(last_used_at=at))
    return Actor(user_id=found.user_id, role=Role(found.role), clinic_id=found.clinic_id)


# Runs on every API call and page view: one prepared Core statement, no ORM objects.
_TOKEN_USER = (select(AuthToken.id.label("token_id"), AuthToken.kind, AuthToken.revoked_at,
                      AuthToken.expires_at, AuthToken.last_used_at, User.id.label("user_id"),
                      User.role, User.clinic_id, User.active)
               .join(User, User.id == AuthToken.user_id)
               .where(AuthToken.token_hash == bindparam("token_hash")))


def logout(db: Database, token: str, *, now: datetime, source: str | None = None) -> None:
    """Revoke one token (idempotent: an unknown token is already logged out)."""
    at = utc_naive(now)
    with db.transaction() as session:
        record = session.scalar(select(AuthToken)
                                .where(AuthToken.token_hash == tokens.hash_token(token)))
        if record is not None and record.revoked_at is None:
            record.revoked_at = at
            audit.append(session, at=at, actor_user_id=record.user_id, action="auth.logout",
                         target=f"user:{record.user_id}", source=source)


def revoke_all_tokens(db: Database, ctx: Context) -> int:
    """End every session and token of the signed-in user; returns how many were ended."""
    user_id = _signed_in(ctx)
    with db.transaction() as session:
        count = _revoke_all(session, user_id, ctx.at)
        _audit(session, ctx, "auth.revoke-all", target=f"user:{user_id}")
        return count


# ------------------------------------------------------------------ the signed-in user


def me(db: Database, ctx: Context) -> UserView:
    user_id = _signed_in(ctx)
    with db.transaction(write=False) as session:
        user = session.get(User, user_id)
        if user is None:
            raise NotFound("user", user_id)
        return _view(session, user)


def change_password(db: Database, ctx: Context, *, current: str, new: str) -> None:
    """Change one's own password; every session and token of the account ends."""
    user_id = _signed_in(ctx)
    password_hash = _hash_new_password(new, field="new_password")
    with db.transaction() as session:
        user = session.get(User, user_id)
        if user is None:
            raise NotFound("user", user_id)
        if not passwords.verify_password(user.password_hash, current):
            raise InputError("current_password", "is not the account's current password")
        user.password_hash, user.password_changed_at = password_hash, ctx.at
        _revoke_all(session, user_id, ctx.at)
        _audit(session, ctx, "user.password-change", target=f"user:{user_id}")


def start_totp(db: Database, ctx: Context) -> TotpEnrolment:
    """Begin enrolling an authenticator app: a new secret, active once a code confirms it."""
    user_id = _signed_in(ctx)
    with db.transaction() as session:
        user = session.get(User, user_id)
        if user is None:
            raise NotFound("user", user_id)
        if user.totp_enabled:
            raise Conflict("a second factor is already enabled; disable it first")
        user.totp_secret, user.totp_last_step = totp.new_secret(), None
        _audit(session, ctx, "user.totp-start", target=f"user:{user_id}")
        return TotpEnrolment(user.totp_secret, totp.provisioning_uri(user.totp_secret,
                                                                      user.username))


def confirm_totp(db: Database, ctx: Context, code: str) -> None:
    """Turn the second factor on with a first valid code from the app."""
    _set_totp(db, ctx, code, enabled=True)


def disable_totp(db: Database, ctx: Context, code: str) -> None:
    """Turn the second factor off; needs a current code, so a stolen session cannot."""
    _set_totp(db, ctx, code, enabled=False)


def _set_totp(db: Database, ctx: Context, code: str, *, enabled: bool) -> None:
    user_id = _signed_in(ctx)
    with db.transaction() as session:
        user = session.get(User, user_id)
        if user is None or user.totp_secret is None or user.totp_enabled == enabled:
            raise Conflict("no second factor to " + ("confirm" if enabled else "disable"))
        if not _accept_code(user, code, ctx.at):
            raise InputError("code", "is not the current code of your authenticator app")
        user.totp_enabled = enabled
        if not enabled:
            user.totp_secret = None
        _audit(session, ctx, "user.totp-" + ("enable" if enabled else "disable"),
               target=f"user:{user_id}")


# ------------------------------------------------------------------------------- helpers


def _accept_code(user: User, code: str, at: datetime) -> bool:
    if user.totp_secret is None:
        return False
    step = totp.matching_step(user.totp_secret, code, at, user.totp_last_step)
    if step is None:
        return False
    user.totp_last_step = step
    return True


def _check_username(username: str) -> str:
    name = normalise_username(username)
    if not _USERNAME.match(name):
        raise InputError("username", "must be 3–150 characters: letters, digits, . _ @ + -")
    return name


def _hash_new_password(password: str, field: str = "password") -> str:
    passwords.check_password_rules(password, field)
    return passwords.hash_password(password)


def _require_clinic(ctx: Context, action: ClinicAction, clinic_id: int | None) -> None:
    if not authorize_clinic(ctx.actor, action, clinic_id):
        raise Forbidden(f"not allowed: {action}")


def _user_in_clinic(session: Session, ctx: Context, user_id: int) -> User:
    user = session.get(User, user_id, with_for_update=True)
    if user is None or not authorize_clinic(ctx.actor, ClinicAction.MANAGE_USERS, user.clinic_id):
        raise NotFound("user", user_id)
    return user


def _signed_in(ctx: Context) -> int:
    if ctx.actor.user_id is None:
        raise Forbidden("only a signed-in user can do this")
    return ctx.actor.user_id


def _revoke_all(session: Session, user_id: int, at: datetime) -> int:
    result = session.execute(update(AuthToken)
                             .where(AuthToken.user_id == user_id, AuthToken.revoked_at.is_(None))
                             .values(revoked_at=at))
    return int(getattr(result, "rowcount", 0) or 0)


def _view(session: Session, user: User) -> UserView:
    patient_id = session.scalar(select(Patient.id).where(Patient.user_id == user.id))
    return UserView(user.id, user.clinic_id, user.username, user.display_name, user.role,
                    user.active, user.totp_enabled, patient_id)


def _audit(session: Session, ctx: Context, action: str, target: str | None = None) -> None:
    audit.append(session, at=ctx.at, actor_user_id=ctx.actor.user_id, action=action,
                 target=target, source=ctx.source)


def _audit_login(session: Session, at: datetime, source: str | None, user_id: int | None,
                 outcome: str) -> None:
    audit.append(session, at=at, actor_user_id=user_id, action="auth.login", outcome=outcome,
                 target=f"user:{user_id}" if user_id else None, source=source)

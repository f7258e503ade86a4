"""Session and API tokens: stored hashed, ended by idle time, total age, logout, disabling."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy import select

from lowdose.security import tokens
from lowdose.services import accounts
from lowdose.services.errors import Unauthenticated
from lowdose.store.models import AuthToken

from .conftest import NOW, PASSWORD, Cast

KINDS = sorted(tokens.LIFETIMES)


def _issue(cast: Cast, kind: str, username: str = "carol") -> str:
    return accounts.login(cast.db, username=username, password=PASSWORD, now=NOW,
                          kind=kind).token


def _works(cast: Cast, token: str, at: datetime, kind: str | None = None) -> bool:
    try:
        accounts.authenticate_token(cast.db, token, now=at, kind=kind)
    except Unauthenticated:
        return False
    return True


@pytest.mark.parametrize("kind", KINDS)
def test_only_the_hash_of_a_token_is_stored(cast: Cast, kind: str) -> None:
    token = _issue(cast, kind)
    with cast.db.transaction(write=False) as session:
        stored = session.scalars(select(AuthToken)).all()
    assert [row.token_hash for row in stored] == [tokens.hash_token(token)]
    assert token not in {row.token_hash for row in stored}


@pytest.mark.parametrize("kind", KINDS)
def test_an_unused_token_ends_after_the_idle_timeout(cast: Cast, kind: str) -> None:
    idle = tokens.LIFETIMES[kind].idle
    token = _issue(cast, kind)
    assert _works(cast, token, NOW + idle - timedelta(seconds=1))
    fresh = _issue(cast, kind)
    assert not _works(cast, fresh, NOW + idle)


@pytest.mark.parametrize("kind", KINDS)
def test_use_keeps_a_token_alive_until_its_absolute_end(cast: Cast, kind: str) -> None:
    life = tokens.LIFETIMES[kind]
    token = _issue(cast, kind)
    step = life.idle / 2
    at = NOW
    while at + step < NOW + life.absolute:
        at += step
        assert _works(cast, token, at), at - NOW
    assert not _works(cast, token, NOW + life.absolute)


def test_a_session_token_is_not_an_api_token(cast: Cast) -> None:
    token = _issue(cast, "session")
    assert _works(cast, token, NOW, kind="session")
    assert not _works(cast, token, NOW, kind="api")


@pytest.mark.parametrize("token", ["", "ldt_", "ldt_forged-token-value", "x" * 500])
def test_made_up_tokens_are_refused(cast: Cast, token: str) -> None:
    _issue(cast, "api")
    assert not _works(cast, token, NOW)


def test_logout_ends_only_that_token(cast: Cast) -> None:
    first, second = _issue(cast, "session"), _issue(cast, "session")
    accounts.logout(cast.db, first, now=NOW)
    assert (_works(cast, first, NOW), _works(cast, second, NOW)) == (False, True)


def test_revoking_all_ends_every_token_of_that_user_only(cast: Cast) -> None:
    mine = [_issue(cast, kind) for kind in KINDS]
    theirs = _issue(cast, "api", username="alice")
    ended = accounts.revoke_all_tokens(cast.db, cast.ctx("clinician"))
    assert ended == len(mine)
    assert [_works(cast, t, NOW) for t in mine] == [False] * len(mine)
    assert _works(cast, theirs, NOW)


@pytest.mark.parametrize("how", ["deactivate", "reset_password", "change_password"])
def test_account_changes_end_existing_tokens(cast: Cast, how: str) -> None:
    token = _issue(cast, "api")
    user_id = cast.user("clinician").id
    if how == "deactivate":
        accounts.set_active(cast.db, cast.ctx("admin"), user_id, False)
    elif how == "reset_password":
        accounts.reset_password(cast.db, cast.ctx("admin"), user_id, "a brand new passphrase")
    else:
        accounts.change_password(cast.db, cast.ctx("clinician"), current=PASSWORD,
                                 new="a brand new passphrase")
    assert not _works(cast, token, NOW)


def test_the_token_json_follows_the_oauth2_shape(cast: Cast) -> None:
    issued = accounts.login(cast.db, username="carol", password=PASSWORD, now=NOW)
    body = issued.to_dict()
    assert body["access_token"] == issued.token and body["token_type"] == "bearer"
    assert datetime.fromisoformat(str(body["expires_at"])) == (
        NOW + tokens.LIFETIMES["api"].absolute)


def test_me_tells_the_patient_their_patient_id(cast: Cast) -> None:
    token = _issue(cast, "api", username="alice")
    actor = accounts.authenticate_token(cast.db, token, now=NOW)
    from lowdose.services.context import Context

    me = accounts.me(cast.db, Context(actor, NOW))
    assert (me.username, me.role, me.patient_id) == ("alice", "patient", cast.ids.alice)

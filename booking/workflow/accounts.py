"""Coach accounts: creating, deactivating, signing in (with throttling) and password resets.

Sign-in throttling uses the LoginFailure table, so it holds across workers and restarts:
a few failures are answered with a short wait, more are refused for a while, counted both
per account (email) and per client address.
"""

from __future__ import annotations

import hashlib
import math
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from email_validator import EmailNotValidError
from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import InstrumentedAttribute

from .. import emails, outbox
from ..extensions import db
from ..limits import EMAIL_MAX
from ..models import Coach, CoachSignIn, LoginFailure
from ..passwords import (
    hash_password,
    needs_rehash,
    password_problem,
    verify_against_dummy,
    verify_password,
)
from ..settings import Settings
from ..validators import normalise_email
from .common import DomainError

# Failures counted over this window; a lock-out lasts this long after the latest failure.
FAILURE_WINDOW = timedelta(minutes=15)
# From this many failures on, each try must wait longer since the last failure ...
SLOW_DOWN_AFTER = 3
SLOW_DOWN_SECONDS = {3: 10, 4: 30}
# ... and from this many, sign-in is refused until the window has passed.
LOCK_AFTER_PER_ACCOUNT = 5
# One office may share an address, so the per-address limit is higher.
LOCK_AFTER_PER_ADDRESS = 20

SIGN_IN_FAILED = "The email address or password is not right. Check them and try again."


class SignInThrottled(Exception):
    """Too many recent failures. `retry_after` is a whole number of seconds, `locked` tells
    a lock-out (minutes) from a slow-down (seconds)."""

    def __init__(self, retry_after: int, locked: bool) -> None:
        super().__init__(f"retry after {retry_after}s")
        self.retry_after = max(1, retry_after)
        self.locked = locked


@dataclass(frozen=True)
class _Failures:
    count: int
    latest: datetime | None


def normalise_coach_email(email: str) -> str:
    """Lower case, an international domain in its ASCII form (as create_coach stores it)."""
    try:
        return normalise_email(email).lower()
    except EmailNotValidError:
        return email.strip().lower()


def create_coach(
    email: str,
    name: str,
    password: str,
    *,
    now: datetime,
    settings: Settings,
    is_admin: bool = False,
) -> Coach:
    try:
        # The same check as a leader's address: password-reset mail must be deliverable.
        email = normalise_email(email).lower()
    except EmailNotValidError as error:
        raise DomainError(
            f"{email.strip()!r} is not an email address we can send to ({error})."
        ) from error
    if not name.strip():
        raise DomainError("Give the coach's name.")
    problem = password_problem(password)
    if problem:
        raise DomainError(problem + ".")
    if db.session.scalar(select(Coach).where(Coach.email == email)) is not None:
        raise DomainError(f"There is already a coach with the email {email}.")
    coach = Coach(
        email=email,
        name=name.strip(),
        password_hash=hash_password(password, settings.password_hashing),
        active=True,
        is_admin=is_admin,
        created_at=now,
    )
    db.session.add(coach)
    db.session.flush()
    return coach


def deactivate_coach(email: str) -> Coach:
    coach = db.session.scalar(select(Coach).where(Coach.email == normalise_coach_email(email)))
    if coach is None:
        raise DomainError(f"There is no coach with the email {email}.")
    # Their signed-in sessions end at the next request: the user loader refuses inactive coaches.
    coach.active = False
    return coach


def _failures(column: InstrumentedAttribute[str], value: str, now: datetime) -> _Failures:
    count, latest = db.session.execute(
        select(func.count(), func.max(LoginFailure.at))
        .where(column == value)
        .where(LoginFailure.at > now - FAILURE_WINDOW)
    ).one()
    return _Failures(int(count), latest)


def _check_throttle(email: str, address: str, now: datetime) -> None:
    for failures, lock_after in (
        (_failures(LoginFailure.email, email, now), LOCK_AFTER_PER_ACCOUNT),
        (_failures(LoginFailure.address, address, now), LOCK_AFTER_PER_ADDRESS),
    ):
        if failures.latest is None:
            continue
        if failures.count >= lock_after:
            until = failures.latest + FAILURE_WINDOW
            raise SignInThrottled(math.ceil((until - now).total_seconds()), locked=True)
        wait = (
            SLOW_DOWN_SECONDS.get(min(failures.count, max(SLOW_DOWN_SECONDS)), 0)
            if failures.count >= SLOW_DOWN_AFTER
            else 0
        )
        if wait and now < failures.latest + timedelta(seconds=wait):
            remaining = failures.latest + timedelta(seconds=wait) - now
            raise SignInThrottled(math.ceil(remaining.total_seconds()), locked=False)


def check_password_attempts(email: str, address: str, now: datetime) -> None:
    """SignInThrottled when this account or address has failed too often lately (the same
    count as signing in: a wrong current password on the password change counts too)."""
    _check_throttle(normalise_coach_email(email)[:EMAIL_MAX], (address or "unknown")[:64], now)


def record_wrong_password(email: str, address: str, now: datetime) -> None:
    db.session.add(
        LoginFailure(
            email=normalise_coach_email(email)[:EMAIL_MAX],
            address=(address or "unknown")[:64],
            at=now,
        )
    )


def authenticate(
    email: str, password: str, *, address: str, now: datetime, settings: Settings
) -> Coach:
    """The active coach with this email and password.

    Raises SignInThrottled when too many recent failures (nothing is checked then), or
    DomainError(SIGN_IN_FAILED) for any wrong email, wrong password or inactive account alike.
    The caller commits either way, so that a failure is remembered.
    """
    email = normalise_coach_email(email)[:EMAIL_MAX]
    address = (address or "unknown")[:64]
    _check_throttle(email, address, now)
    coach = db.session.scalar(select(Coach).where(Coach.email == email))
    if coach is None:
        verify_against_dummy(password, settings.password_hashing)
        ok = False
    else:
        ok = (
            verify_password(coach.password_hash, password, settings.password_hashing)
            and coach.active
        )
    if not ok:
        db.session.add(LoginFailure(email=email, address=address, at=now))
        # Old rows serve no purpose; tidy them while we are writing anyway.
        db.session.execute(delete(LoginFailure).where(LoginFailure.at < now - timedelta(days=1)))
        raise DomainError(SIGN_IN_FAILED)
    assert coach is not None
    if needs_rehash(coach.password_hash, settings.password_hashing):
        coach.password_hash = hash_password(password, settings.password_hashing)
    db.session.execute(delete(LoginFailure).where(LoginFailure.email == email))
    return coach


def _digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def start_sign_in(coach: Coach, *, now: datetime) -> str:
    """Record a new signed-in browser; returns the key for its session cookie."""
    key = secrets.token_urlsafe(32)
    db.session.add(CoachSignIn(key_digest=_digest(key), coach_id=coach.id, created_at=now))
    return key


def sign_in_is_live(coach: Coach, key: str | None) -> bool:
    if not key:
        return False
    row = db.session.get(CoachSignIn, _digest(key))
    return row is not None and row.coach_id == coach.id and row.ended_at is None


def end_sign_in(key: str | None, *, now: datetime) -> None:
    """Sign-out: this browser's session cookie, or any copy of it, stops working."""
    if key:
        db.session.execute(
            update(CoachSignIn)
            .where(CoachSignIn.key_digest == _digest(key), CoachSignIn.ended_at.is_(None))
            .values(ended_at=now)
        )


def end_all_sign_ins(coach: Coach, *, now: datetime) -> None:
    db.session.execute(
        update(CoachSignIn)
        .where(CoachSignIn.coach_id == coach.id, CoachSignIn.ended_at.is_(None))
        .values(ended_at=now)
    )


def end_other_sign_ins(coach: Coach, keep: str | None, *, now: datetime) -> None:
    """Every signed-in browser of this coach but the one whose key is `keep`."""
    query = update(CoachSignIn).where(
        CoachSignIn.coach_id == coach.id, CoachSignIn.ended_at.is_(None)
    )
    if keep:
        query = query.where(CoachSignIn.key_digest != _digest(keep))
    db.session.execute(query.values(ended_at=now))


def set_password(coach: Coach, password: str, settings: Settings) -> None:
    problem = password_problem(password)
    if problem:
        raise DomainError(problem + ".")
    coach.password_hash = hash_password(password, settings.password_hashing)


def request_password_reset(email: str, *, now: datetime, settings: Settings) -> bool:
    """Email a one-time reset link if an active coach has this address. The caller says the
    same thing either way, so the page does not reveal who has an account."""
    coach = db.session.scalar(select(Coach).where(Coach.email == normalise_coach_email(email)))
    if coach is None or not coach.active:
        return False
    outbox.enqueue(emails.coach_password_reset(coach, settings=settings), now=now)
    return True


def reset_password(coach: Coach, password: str, *, now: datetime, settings: Settings) -> None:
    """A coach sets a new password from a reset link (links.load_password_reset found them)."""
    set_password(coach, password, settings)
    # Whoever knew the old password may be signed in somewhere: end every session.
    end_all_sign_ins(coach, now=now)
    db.session.execute(delete(LoginFailure).where(LoginFailure.email == coach.email))

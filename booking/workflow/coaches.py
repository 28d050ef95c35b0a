"""People in the coach area: what an admin does to coach accounts, and what every coach does
to their own (password, profile).

Each function is one step of one transaction (the caller commits). An admin's action is
recorded as a line on the `booking.audit` logger, naming rows by id (log lines carry no
addresses). Two rules hold whatever order admins act in: there is always at least one active
admin, and no admin deactivates themselves.
"""

from __future__ import annotations

import logging
import secrets
from datetime import datetime

from sqlalchemy import select

from .. import emails, outbox
from ..extensions import db
from ..limits import COACH_BIO_MAX, NAME_MAX, characters
from ..models import Coach, CoachPhoto
from ..passwords import verify_password
from ..photos import Photo
from ..settings import Settings
from .accounts import (
    check_password_attempts,
    create_coach,
    end_all_sign_ins,
    end_other_sign_ins,
    record_wrong_password,
    set_password,
)
from .common import DomainError

audit = logging.getLogger("booking.audit")

LAST_ADMIN = (
    "{name} is the only active admin. Make another coach an admin first, so that someone "
    "can still manage the coach accounts."
)
NOT_YOURSELF = "You cannot deactivate your own account. Ask another admin to do it."
WRONG_PASSWORD = "Your current password is not right"


def _record(action: str, coach: Coach, actor: Coach) -> None:
    audit.info("coach admin: coach %s %s by coach %s", coach.id, action, actor.id)


def _other_active_admins(coach: Coach) -> int:
    """Active admins other than `coach`. Every active admin's row (`coach` too) is locked on
    PostgreSQL until the transaction ends, so two admins removing each other at once cannot
    both pass this check: the second waits for the first, then sees its change. SQLite
    serialises writing transactions anyway."""
    ids = db.session.scalars(
        select(Coach.id).where(Coach.is_admin, Coach.active).with_for_update()
    ).all()
    return len([i for i in ids if i != coach.id])


def invite_coach(
    email: str,
    name: str,
    *,
    make_admin: bool,
    actor: Coach,
    now: datetime,
    settings: Settings,
) -> Coach:
    """A new coach account with a random password nobody knows, and an email to the coach
    with a link to choose their own."""
    coach = create_coach(
        email,
        name,
        secrets.token_urlsafe(32),
        now=now,
        settings=settings,
        is_admin=make_admin,
    )
    outbox.enqueue(emails.coach_set_password(coach, actor, settings=settings), now=now)
    _record("added" + (" as an admin" if make_admin else ""), coach, actor)
    return coach


def send_set_password_link(
    coach: Coach, *, actor: Coach, now: datetime, settings: Settings
) -> None:
    if not coach.active:
        raise DomainError(f"{coach.name}'s account is deactivated: reactivate it first.")
    outbox.enqueue(
        emails.coach_set_password(coach, actor, settings=settings, new_account=False), now=now
    )
    _record("sent a set-password link", coach, actor)


def deactivate(coach: Coach, *, actor: Coach, now: datetime) -> None:
    if coach.id == actor.id:
        raise DomainError(NOT_YOURSELF)
    if not coach.active:
        raise DomainError(f"{coach.name}'s account is already deactivated.")
    if coach.is_admin and _other_active_admins(coach) == 0:
        raise DomainError(LAST_ADMIN.format(name=coach.name))
    coach.active = False
    # Signed out everywhere at once (the user loader also refuses an inactive coach).
    end_all_sign_ins(coach, now=now)
    _record("deactivated", coach, actor)


def reactivate(coach: Coach, *, actor: Coach, now: datetime) -> None:
    if coach.active:
        raise DomainError(f"{coach.name}'s account is already active.")
    # Sessions from before the deactivation stay ended (`coach deactivate` on the command line
    # does not end them): the coach signs in afresh.
    end_all_sign_ins(coach, now=now)
    coach.active = True
    _record("reactivated", coach, actor)


def set_admin(coach: Coach, make_admin: bool, *, actor: Coach, now: datetime) -> None:
    if coach.is_admin == make_admin:
        return
    if not make_admin and coach.active and _other_active_admins(coach) == 0:
        raise DomainError(LAST_ADMIN.format(name=coach.name))
    if make_admin and not coach.active:
        raise DomainError(f"{coach.name}'s account is deactivated: reactivate it first.")
    coach.is_admin = make_admin
    _record("made an admin" if make_admin else "no longer an admin", coach, actor)


def change_password(
    coach: Coach,
    current: str,
    new: str,
    *,
    keep_sign_in: str | None,
    address: str,
    now: datetime,
    settings: Settings,
) -> None:
    """A signed-in coach changes their own password. Every other signed-in browser of theirs
    is signed out; `keep_sign_in` (this browser's key) stays.

    A wrong current password counts as a failed sign-in (the caller commits, so it is
    remembered), so a borrowed session cannot be used to guess the password: after a few,
    SignInThrottled, as on the sign-in page."""
    check_password_attempts(coach.email, address, now)
    if not verify_password(coach.password_hash, current, settings.password_hashing):
        record_wrong_password(coach.email, address, now)
        raise DomainError(WRONG_PASSWORD)
    set_password(coach, new, settings)
    end_other_sign_ins(coach, keep_sign_in, now=now)
    audit.info("coach %s changed their password", coach.id)


def update_profile(
    coach: Coach,
    *,
    shown_name: str,
    bio: str,
    photo: Photo | None,
    remove_photo: bool,
    now: datetime,
) -> None:
    """The profile leaders see. `photo` (already checked by photos.prepare_photo) replaces the
    current one; `remove_photo` takes it away; neither keeps it."""
    shown_name = " ".join(shown_name.split())
    bio = "\n".join(line.rstrip() for line in bio.strip().splitlines())
    if len(shown_name) > NAME_MAX:
        raise DomainError(f"Keep the name to {characters(NAME_MAX)}")
    if len(bio) > COACH_BIO_MAX:
        raise DomainError(f"Keep the bio to {characters(COACH_BIO_MAX)}")
    # The account's own name when left blank or the same.
    coach.shown_name = shown_name if shown_name and shown_name != coach.name else None
    coach.bio = bio
    current = db.session.get(CoachPhoto, coach.id)
    if photo is not None:
        if current is None:
            current = CoachPhoto(coach_id=coach.id)
            db.session.add(current)
        current.jpeg = photo.jpeg
        current.updated_at = now
        coach.photo_digest = photo.digest
    elif remove_photo:
        if current is not None:
            db.session.delete(current)
        coach.photo_digest = None
    audit.info("coach %s updated their profile", coach.id)

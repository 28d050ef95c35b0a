"""Telling the right coach at the right time: the lead's assigned coach is told about what
happens on their lead, by one email each or in one daily digest (their choice, `Coach.
email_digest`). A lead nobody is assigned to (or whose coach is no longer active) is told to
whoever is told today: COACH_NOTIFY_EMAILS, or every active coach.

Both ways are written in the transaction of the event itself: an immediate email as an outbox
row, a digest line as a `CoachNotice`. `queue_digest` (run by `flask coach digest`) turns a
digest coach's waiting notices into one email, at most once per coach and local day.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import Protocol

from sqlalchemy import select

from .. import emails, outbox
from ..emails import MailDraft
from ..extensions import db
from ..kinds import NoticeKind
from ..models import Coach, CoachDigest, CoachNotice, Lead
from ..settings import Settings
from .common import coach_notification_recipients

log = logging.getLogger(__name__)

SUMMARY_MAX = 300


class CoachToTell(Protocol):
    """What telling a coach needs: a Coach, or the coach a registration picked (its row)."""

    @property
    def id(self) -> int: ...
    @property
    def email(self) -> str: ...
    @property
    def active(self) -> bool: ...
    @property
    def email_digest(self) -> bool: ...


def tell_coach(
    coach: CoachToTell | None,
    lead_id: int,
    kind: NoticeKind,
    summary: str,
    draft: Callable[[list[str]], MailDraft] | None,
    *,
    now: datetime,
    settings: Settings,
    session_id: int | None = None,
    queue: list[tuple[MailDraft, int | None]] | None = None,
) -> None:
    """Tell `coach` (the lead's coach for this event) that `summary` happened on lead `lead_id`.

    A digest coach gets a line in their next digest. Anyone else gets `draft(recipients)` now;
    `draft` is None when the event already sends that coach an email of its own (a leader's
    cancellation sends the coach's calendar its CANCEL), so immediate coaches get no second
    copy. The summary must not name the leader: the digest reads the name from the lead, so an
    erasure leaves no copy of it behind. With `queue`, an email is appended to it (draft, lead
    id) for the caller to write with others (`outbox.new_rows`), not enqueued here.
    """
    if coach is not None and coach.active:
        if coach.email_digest:
            db.session.add(
                CoachNotice(
                    coach_id=coach.id,
                    lead_id=lead_id,
                    at=now,
                    kind=kind,
                    summary=" ".join(summary.split())[:SUMMARY_MAX],
                )
            )
            return
        recipients = [coach.email]
    else:
        recipients = coach_notification_recipients(settings)
    if draft is None:
        return
    if not recipients:
        log.warning("lead %s: no coach to tell (%s)", lead_id, kind.value)
        return
    if queue is not None and session_id is None:
        queue.append((draft(recipients), lead_id))
        return
    outbox.enqueue(draft(recipients), lead_id=lead_id, session_id=session_id, now=now)


def set_email_digest(coach: Coach, digest: bool) -> None:
    """The coach's choice. Switching to immediate emails leaves notices already waiting for
    the next digest run, so nothing is lost on the way."""
    coach.email_digest = digest


def coach_of(lead: Lead, fallback: Coach | None = None) -> Coach | None:
    """The coach to tell about an event on `lead`: the assigned coach, else `fallback` (the
    coach of the proposal or session concerned)."""
    return lead.assigned_coach or fallback


# ----- the daily digest -------------------------------------------------------------------


def digest_due(*, now: datetime, settings: Settings) -> list[int]:
    """The active coaches with notices waiting and no digest yet today (local day), by id.

    A deactivated coach is not emailed about leads any more (they may have left the firm);
    their waiting notices stay, and go out if they are reactivated. Each event is on its
    lead's history either way.
    """
    day = now.astimezone(settings.zone).date()
    had_today = select(CoachDigest.coach_id).where(CoachDigest.day == day)
    return list(
        db.session.scalars(
            select(CoachNotice.coach_id)
            .join(Coach, Coach.id == CoachNotice.coach_id)
            .where(
                Coach.active,
                CoachNotice.digest_id.is_(None),
                CoachNotice.coach_id.not_in(had_today),
            )
            .distinct()
            .order_by(CoachNotice.coach_id)
        )
    )


def queue_digest(coach: Coach, *, now: datetime, settings: Settings) -> CoachDigest | None:
    """Queue `coach`'s digest of every notice waiting, and mark them as listed in it; None
    when nothing waits or today's digest exists already. The caller commits.

    Idempotent per local day: the digest row is unique per coach and day (a second run the
    same day, or a second process at once, fails on it and queues nothing). The digest row,
    its outbox row and the notices' `digest_id` go in the one transaction, so a crash before
    the commit leaves the notices waiting for the next run and one after it leaves them
    listed once: nothing is sent twice or lost. Notices that arrive after today's digest wait
    for tomorrow's. A coach who switched to immediate emails still gets the notices already
    waiting.
    """
    day = now.astimezone(settings.zone).date()
    exists = db.session.scalar(
        select(CoachDigest.id).where(CoachDigest.coach_id == coach.id, CoachDigest.day == day)
    )
    notices = list(
        db.session.scalars(
            select(CoachNotice)
            .where(CoachNotice.coach_id == coach.id, CoachNotice.digest_id.is_(None))
            .order_by(CoachNotice.at, CoachNotice.id)
        )
    )
    if exists is not None or not notices:
        return None
    digest = CoachDigest(coach_id=coach.id, day=day, created_at=now)
    db.session.add(digest)
    db.session.flush()  # IntegrityError here: another run has just taken this coach and day
    row = outbox.enqueue(emails.coach_digest(coach, notices, day, settings=settings), now=now)
    db.session.flush()
    digest.outbox_message_id = row.id
    for notice in notices:
        notice.digest_id = digest.id
    return digest


__all__ = ["coach_of", "digest_due", "queue_digest", "set_email_digest", "tell_coach"]

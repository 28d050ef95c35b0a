"""The coach's own moves on a lead (change its status by hand, assign it, add a note) and the
contact promise. The status table itself, and the one place statuses change, is lifecycle.py.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from .. import emails, outbox
from ..extensions import db
from ..kinds import EventKind, NoticeKind
from ..limits import SUBJECT_MAX, TEXT_MAX, characters
from ..models import Coach, Lead, LeadStatus, Note, OutboxMessage, SessionStatus
from ..settings import Settings
from .common import DomainError, record_event
from .lifecycle import (
    STEP_ONLY,
    TRANSITIONS,
    booked_session,
    by_hand,
    can_move,
    close_open_proposals,
    coach_moves,
    move,
    move_refusal,
    open_proposals,
)
from .notices import tell_coach
from .outcomes import schedule_follow_up
from .scheduling import cancel_session

S = LeadStatus


def change_status(
    lead: Lead, to: LeadStatus, *, coach: Coach, reason: str, now: datetime, settings: Settings
) -> None:
    """A coach moves a lead by hand (contacted, held, closed, not suitable, no response)."""
    if to in STEP_ONLY:
        raise DomainError(STEP_ONLY[to])
    if to == lead.status:
        raise DomainError(f"This lead is already “{to.label}”.")
    if not by_hand(lead.status, to):
        raise DomainError(move_refusal(lead.status, to))

    session = booked_session(lead)
    if to == S.HELD:
        if session is None:
            raise DomainError("There is no booked session to mark as held.")
        if session.starts_at > now:
            raise DomainError("The session has not started yet, so it cannot be marked as held.")
        session.status = SessionStatus.HELD
        session.updated_at = now
    if to == S.CONTACTED and lead.status == S.AGREED:
        raise DomainError("Cancel the booked session to hand this lead back to “Contacted”.")

    if to in (S.CONTACTED, S.NOT_SUITABLE, S.NO_RESPONSE):
        closed = close_open_proposals(lead, now=now)
        if closed:
            record_event(
                lead, EventKind.PROPOSAL_CLOSED, "Open proposal closed", now=now, actor=coach
            )
    if to == S.CLOSED and session is not None:
        raise DomainError(
            "A session is booked: mark it as held (or cancel it) before closing the journey."
        )
    move(lead, to, now=now, actor=coach, reason=reason)
    if to == S.CLOSED:
        follow_up = schedule_follow_up(lead, now=now, settings=settings)
        if follow_up is not None:
            record_event(
                lead,
                EventKind.FOLLOW_UP,
                "Journey closed: the follow-up questionnaire is due on "
                f"{follow_up.due_at.astimezone(settings.zone):%-d %B %Y}",
                now=now,
                actor=coach,
                detail={"due_at": follow_up.due_at.isoformat()},
            )
    if to in (S.NOT_SUITABLE, S.NO_RESPONSE) and session is not None:
        cancel_session(
            session,
            coach,
            reason or f"The request was closed: {to.label.lower()}",
            now,
            settings=settings,
            leader_status_set=True,
        )


def assign(lead: Lead, to: Coach, *, actor: Coach, now: datetime, settings: Settings) -> None:
    """Take a lead (to is actor) or hand it on to another active coach, who is told."""
    if not to.active:
        raise DomainError(f"{to.name} is no longer an active coach.")
    if lead.assigned_coach_id == to.id:
        raise DomainError(f"This lead is already assigned to {to.name}.")
    before = lead.assigned_coach.name if lead.assigned_coach else "nobody"
    lead.assigned_coach = to
    lead.assigned_coach_id = to.id
    summary = (
        f"Taken by {to.name} (was {before})"
        if to.id == actor.id
        else f"Handed on to {to.name} (was {before})"
    )
    record_event(
        lead, EventKind.ASSIGNED, summary, now=now, actor=actor, detail={"coach_id": to.id}
    )
    if to.id != actor.id:
        tell_coach(
            to,
            lead.id,
            NoticeKind.ASSIGNED,
            f"{actor.name} handed this lead to you",
            lambda recipients: emails.coach_lead_assigned(
                lead, recipients, actor.name, settings=settings
            ),
            now=now,
            settings=settings,
        )


DEFAULT_MESSAGE_SUBJECT = "A message from your coach"


def email_leader(
    lead: Lead, coach: Coach, subject: str, body: str, *, now: datetime, settings: Settings
) -> OutboxMessage:
    """A coach writes to the leader from the lead's page: sent through the outbox From the
    service with Reply-To the coach, and recorded in the history (the text in the event's
    detail, which an erasure removes)."""
    if lead.erased_at is not None:
        raise DomainError("This leader's personal data was erased, so they cannot be emailed.")
    if lead.status == LeadStatus.WITHDRAWN:
        raise DomainError(
            "This leader withdrew their interest, so they cannot be emailed from here: "
            "we promised them no more emails."
        )
    subject = " ".join(subject.split())[:SUBJECT_MAX] or DEFAULT_MESSAGE_SUBJECT
    body = body.strip()
    if not body:
        raise DomainError("Write the message before sending it.")
    if len(body) > TEXT_MAX:
        raise DomainError(f"Keep the message to {characters(TEXT_MAX)}.")
    row = outbox.enqueue(
        emails.leader_message(lead, coach, subject, body, settings=settings),
        lead_id=lead.id,
        now=now,
    )
    db.session.flush()
    record_event(
        lead,
        EventKind.MESSAGE_SENT,
        f"Emailed the leader: “{subject}”",
        now=now,
        actor=coach,
        detail={"outbox_id": row.id, "subject": subject, "message": body},
    )
    return row


def add_note(lead: Lead, coach: Coach, body: str, *, now: datetime) -> Note:
    body = body.strip()
    if not body:
        raise DomainError("Write the note before saving it.")
    note = Note(lead=lead, coach_id=coach.id, coach=coach, created_at=now, body=body)
    db.session.add(note)
    record_event(lead, EventKind.NOTE, "Added a private note", now=now, actor=coach)
    return note


# ----- the contact promise --------------------------------------------------------------


def contact_due_by(created_at: datetime, working_days: int, zone: ZoneInfo) -> datetime:
    """The end of the n-th working day (Mon–Fri) after the day the leader registered."""
    day: date = created_at.astimezone(zone).date()
    counted = 0
    while counted < working_days:
        day += timedelta(days=1)
        if day.weekday() < 5:
            counted += 1
    return datetime.combine(day + timedelta(days=1), time(0), tzinfo=zone)


def is_overdue(lead: Lead, now: datetime, working_days: int, zone: ZoneInfo) -> bool:
    """Not yet contacted and past the promised time."""
    return (
        lead.status == S.NEW
        and lead.first_contacted_at is None
        and now >= contact_due_by(lead.created_at, working_days, zone)
    )


__all__ = [
    # The lifecycle's names, for callers that know them from here.
    "STEP_ONLY",
    "TRANSITIONS",
    "add_note",
    "assign",
    "booked_session",
    "can_move",
    "change_status",
    "close_open_proposals",
    "coach_moves",
    "contact_due_by",
    "email_leader",
    "is_overdue",
    "move",
    "open_proposals",
]

"""A lead's lifecycle: which status moves are allowed from where, and the coach's own moves.

    new → contacted → times proposed → agreed → held → closed
    side exits: withdrawn (by the leader only), not suitable, no response

Some moves belong to a particular step and happen only there: "times proposed" by proposing
times, "agreed" by agreeing a time (scheduling.py), "withdrawn" by the leader's own link
(registration.py). The rest a coach makes from the lead's page through `change_status`.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select

from ..extensions import db
from ..models import (
    Coach,
    CoachingSession,
    Lead,
    LeadStatus,
    Note,
    Proposal,
    ProposalStatus,
    SessionStatus,
)
from .common import DomainError, record_event

S = LeadStatus

# from -> the statuses it may move to (by any step).
TRANSITIONS: dict[LeadStatus, frozenset[LeadStatus]] = {
    S.NEW: frozenset(
        {S.CONTACTED, S.TIMES_PROPOSED, S.AGREED, S.NOT_SUITABLE, S.NO_RESPONSE, S.WITHDRAWN}
    ),
    S.CONTACTED: frozenset(
        {S.TIMES_PROPOSED, S.AGREED, S.NOT_SUITABLE, S.NO_RESPONSE, S.WITHDRAWN}
    ),
    # Proposing again replaces the open proposal; "none suit" hands the lead back (contacted).
    S.TIMES_PROPOSED: frozenset(
        {S.TIMES_PROPOSED, S.CONTACTED, S.AGREED, S.NOT_SUITABLE, S.NO_RESPONSE, S.WITHDRAWN}
    ),
    # A cancelled session hands the lead back to the coach (contacted).
    S.AGREED: frozenset({S.HELD, S.CONTACTED, S.NOT_SUITABLE, S.NO_RESPONSE, S.WITHDRAWN}),
    S.HELD: frozenset({S.CLOSED, S.WITHDRAWN}),
    S.CLOSED: frozenset(),
    S.WITHDRAWN: frozenset(),
    S.NOT_SUITABLE: frozenset(),
    # The leader got back in touch after all.
    S.NO_RESPONSE: frozenset({S.CONTACTED}),
}

# Statuses reached only through their own step, never by "move to".
STEP_ONLY: dict[LeadStatus, str] = {
    S.TIMES_PROPOSED: "Propose times to the leader to move this lead to “Times proposed”.",
    S.AGREED: "Agree a time (the leader picks one, or record a time agreed by phone or email) "
    "to move this lead to “Agreed”.",
    S.WITHDRAWN: "Only the leader can withdraw, with the link in their emails.",
}


def can_move(current: LeadStatus, to: LeadStatus) -> bool:
    return to in TRANSITIONS[current]


def coach_moves(current: LeadStatus) -> list[LeadStatus]:
    """The moves a coach can make by hand from `current`, in lifecycle order."""
    return [
        s for s in LeadStatus if s in TRANSITIONS[current] and s not in STEP_ONLY and s != current
    ]


def _refusal(current: LeadStatus, to: LeadStatus) -> str:
    allowed = [s.label for s in LeadStatus if s in TRANSITIONS[current] and s != current]
    where = (
        f"From “{current.label}” it can move to: {', '.join(allowed)}."
        if allowed
        else f"“{current.label}” is final: nothing can change it."
    )
    return f"This lead is “{current.label}”, so it cannot move to “{to.label}”. {where}"


def move(
    lead: Lead,
    to: LeadStatus,
    *,
    now: datetime,
    actor: Coach | None = None,
    actor_label: str = "",
    reason: str = "",
    summary: str | None = None,
    detail: dict[str, Any] | None = None,
) -> None:
    """Change the status after checking the table, and record it. The one place statuses change."""
    current = lead.status
    if not can_move(current, to):
        raise DomainError(_refusal(current, to))
    lead.status = to
    if to in (S.NOT_SUITABLE, S.NO_RESPONSE, S.WITHDRAWN, S.CLOSED) or reason:
        lead.status_reason = reason
    if to in (S.CONTACTED, S.TIMES_PROPOSED, S.AGREED) and lead.first_contacted_at is None:
        lead.first_contacted_at = now
    text = summary or f"Status: {current.label} → {to.label}"
    record_event(
        lead,
        "status",
        text,
        now=now,
        actor=actor,
        actor_label=actor_label,
        detail={"from": current.value, "to": to.value, "reason": reason, **(detail or {})},
    )


def open_proposals(lead: Lead) -> list[Proposal]:
    return list(
        db.session.scalars(
            select(Proposal).where(
                Proposal.lead_id == lead.id, Proposal.status == ProposalStatus.OPEN
            )
        )
    )


def booked_session(lead: Lead) -> CoachingSession | None:
    return db.session.scalar(
        select(CoachingSession).where(
            CoachingSession.lead_id == lead.id, CoachingSession.status == SessionStatus.BOOKED
        )
    )


def close_open_proposals(lead: Lead, *, now: datetime) -> int:
    proposals = open_proposals(lead)
    for proposal in proposals:
        proposal.status = ProposalStatus.CLOSED
    return len(proposals)


def change_status(lead: Lead, to: LeadStatus, *, coach: Coach, reason: str, now: datetime) -> None:
    """A coach moves a lead by hand (contacted, held, closed, not suitable, no response)."""
    if to in STEP_ONLY:
        raise DomainError(STEP_ONLY[to])
    if to == lead.status:
        raise DomainError(f"This lead is already “{to.label}”.")
    if not can_move(lead.status, to):
        raise DomainError(_refusal(lead.status, to))

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
            record_event(lead, "proposal-closed", "Open proposal closed", now=now, actor=coach)
    move(lead, to, now=now, actor=coach, reason=reason)
    if to in (S.NOT_SUITABLE, S.NO_RESPONSE) and session is not None:
        # Late import: scheduling imports this module.
        from .scheduling import cancel_session

        cancel_session(
            session,
            coach,
            reason or f"The request was closed: {to.label.lower()}",
            now,
            leader_status_set=True,
        )


def assign(lead: Lead, to: Coach, *, actor: Coach, now: datetime) -> None:
    """Take a lead (to is actor) or hand it on to another active coach."""
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
    record_event(lead, "assigned", summary, now=now, actor=actor, detail={"coach_id": to.id})


def add_note(lead: Lead, coach: Coach, body: str, *, now: datetime) -> Note:
    body = body.strip()
    if not body:
        raise DomainError("Write the note before saving it.")
    note = Note(lead=lead, coach_id=coach.id, coach=coach, created_at=now, body=body)
    db.session.add(note)
    record_event(lead, "note", "Added a private note", now=now, actor=coach)
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


def time_ago(moment: datetime, now: datetime) -> str:
    seconds = max(0, int((now - moment).total_seconds()))
    for size, unit in ((86400 * 7, "week"), (86400, "day"), (3600, "hour"), (60, "minute")):
        if seconds >= size:
            n = seconds // size
            return f"{n} {unit}{'s' if n != 1 else ''} ago"
    return "just now"

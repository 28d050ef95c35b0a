"""A lead's lifecycle: which status moves are allowed from where, and the lead's open rows.

    new → contacted → times proposed → agreed → held → closed
    side exits: withdrawn (by the leader only), not suitable, no response

Some moves belong to a particular step and happen only there: "times proposed" by proposing
times, "agreed" by agreeing a time (scheduling.py), "withdrawn" by the leader's own link
(registration.py). The rest a coach makes from the lead's page (leads.py `change_status`).
Every stage of the workflow uses this module; it uses none of them (no import circles).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select

from ..extensions import db
from ..kinds import EventKind
from ..models import (
    Coach,
    CoachingSession,
    Lead,
    LeadStatus,
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
    # Back to "Held" when the leader says none of the times for a next session suit.
    S.TIMES_PROPOSED: frozenset(
        {
            S.TIMES_PROPOSED,
            S.CONTACTED,
            S.AGREED,
            S.HELD,
            S.NOT_SUITABLE,
            S.NO_RESPONSE,
            S.WITHDRAWN,
        }
    ),
    # A cancelled session hands the lead back to the coach (contacted).
    S.AGREED: frozenset({S.HELD, S.CONTACTED, S.NOT_SUITABLE, S.NO_RESPONSE, S.WITHDRAWN}),
    # A journey: after a held session the next one is arranged (times proposed, agreed), or
    # the journey is closed.
    S.HELD: frozenset({S.TIMES_PROPOSED, S.AGREED, S.CLOSED, S.WITHDRAWN}),
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
    """The moves a coach can make by hand from `current`, in lifecycle order. "Held" only
    from "Agreed" (a booked session took place); from "Times proposed" it is the journey's
    own step back."""
    return [s for s in LeadStatus if by_hand(current, s) and s not in STEP_ONLY and s != current]


def by_hand(current: LeadStatus, to: LeadStatus) -> bool:
    """A move a coach may make with "Move to" (the status table, less the journey's step back
    to "Held", which only refused times make)."""
    return can_move(current, to) and (to != S.HELD or current == S.AGREED)


def move_refusal(current: LeadStatus, to: LeadStatus) -> str:
    allowed = [s.label for s in LeadStatus if by_hand(current, s) and s != current]
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
        raise DomainError(move_refusal(current, to))
    lead.status = to
    if to in (S.NOT_SUITABLE, S.NO_RESPONSE, S.WITHDRAWN, S.CLOSED) or reason:
        lead.status_reason = reason
    if to in (S.CONTACTED, S.TIMES_PROPOSED, S.AGREED) and lead.first_contacted_at is None:
        lead.first_contacted_at = now
    text = summary or f"Status: {current.label} → {to.label}"
    record_event(
        lead,
        EventKind.STATUS,
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

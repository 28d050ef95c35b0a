"""A leader's data rights (UK GDPR): export everything held about a person, erase it, and
erase closed requests once they are older than the retention period.

Plain functions that take `now` and never commit, like the rest of the workflow.

What erasing does, for every lead with the person's email address (case-insensitive):
- queued mail for the lead is cancelled, so nothing more goes to the leader;
- a booked session still in the future is cancelled; its coach gets a calendar CANCEL (naming
  no one) so the entry leaves the coach's calendar. The leader gets nothing: we were asked to
  forget the address, so the entry stays in their own calendar;
- an open lead is closed as "Withdrawn" (the person has left);
- the lead's name, email, phone, organisation, role, what they wanted help with, availability
  and status reason are replaced by a placeholder; notes, questionnaire answers and form
  receipts are deleted; the leader's notes on proposals, session cancel reasons and joining
  details (a phone number, an address, a link) are blanked; every email's recipients, subject,
  bodies, calendar, attachments and last error are blanked (kind, status and dates stay);
- the history keeps every entry with its kind and date, but the leader's name as the actor,
  free-text reasons and the submitted details are removed, and the person's name, email and
  phone are struck from every summary;
- the lead keeps its status, dates, dimensions and format, so reports still add up, and
  `erased_at` says when. A last history entry says who erased it.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, delete, func, or_, select

from .. import invite_emails, outbox
from ..calendar_writes import queue_session_write
from ..extensions import db
from ..kinds import EventKind, Role
from ..models import (
    CLOSED_STATUSES,
    Coach,
    CoachingSession,
    FormReceipt,
    Lead,
    LeadEvent,
    LeadStatus,
    OutboxMessage,
    OutboxStatus,
    Proposal,
    QuestionnaireResponse,
    SelfRating,
    SessionStatus,
)
from ..questionnaire import QuestionnaireError, answered_questions, load_questionnaire
from ..settings import Settings
from ..timefmt import format_range
from .common import DomainError, record_event
from .outcomes import erase_outcomes, follow_up_of, session_note

ERASED_EMAIL_DOMAIN = "erased.invalid"
ERASE_KIND = EventKind.ERASED
CANCEL_REASON = "The leader's personal data was erased"
# History detail keys that never hold personal data; every other key is dropped on erasure.
SAFE_DETAIL_KEYS = frozenset(
    {"from", "to", "session_id", "coach_id", "times", "partstat", "previous", "source"}
)
# "role" is kept only as who answered an invitation; a repeat registration's "role" is a job.
SAFE_ROLES = frozenset({"leader", "coach"})
# A session-cancelled summary ends in the reason someone typed ("… cancelled: <reason>").
_FREE_TEXT_AFTER = re.compile(r"(?s)( cancelled):.*$")


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


def normalise(email: str) -> str:
    return email.strip().lower()


def leads_for_email(email: str) -> list[Lead]:
    """Every lead with this email address, case-insensitively, oldest first."""
    address = normalise(email)
    if not address:
        return []
    return list(
        db.session.scalars(
            select(Lead).where(func.lower(Lead.email) == address).order_by(Lead.id)
        ).unique()
    )


def _sessions(lead_ids: list[int]) -> list[CoachingSession]:
    return list(
        db.session.scalars(
            select(CoachingSession)
            .where(CoachingSession.lead_id.in_(lead_ids))
            .order_by(CoachingSession.starts_at)
        )
    )


def _messages(lead_ids: list[int], session_ids: list[int], email: str) -> list[OutboxMessage]:
    """Mail about these leads or their sessions, and any mail addressed to the person."""
    address = normalise(email)
    conditions: list[ColumnElement[bool]] = [OutboxMessage.lead_id.in_(lead_ids)]
    if session_ids:
        conditions.append(OutboxMessage.session_id.in_(session_ids))
    if address:
        conditions.append(
            func.lower(OutboxMessage.recipients_json).contains(json.dumps(address), autoescape=True)
        )
    return list(
        db.session.scalars(select(OutboxMessage).where(or_(*conditions)).order_by(OutboxMessage.id))
    )


# ----- export ------------------------------------------------------------------------------


def _answers_export(response: QuestionnaireResponse) -> dict[str, Any]:
    answers = response.answers
    try:
        questionnaire = load_questionnaire()
        labelled = [
            {"question": row.label, "answer": row.answer}
            for row in answered_questions(questionnaire, answers)
        ]
    except QuestionnaireError:
        labelled = [{"question": qid, "answer": str(value)} for qid, value in answers.items()]
    return {"updated_at": _iso(response.updated_at), "answers": labelled, "raw": answers}


def _lead_export(lead: Lead) -> dict[str, Any]:
    proposals = db.session.scalars(
        select(Proposal).where(Proposal.lead_id == lead.id).order_by(Proposal.id)
    )
    sessions = _sessions([lead.id])
    responses = {
        r.session_id: r
        for r in db.session.scalars(
            select(QuestionnaireResponse).where(
                QuestionnaireResponse.session_id.in_([s.id for s in sessions])
            )
        )
    }
    return {
        "id": lead.id,
        "registered_at": _iso(lead.created_at),
        "updated_at": _iso(lead.updated_at),
        "full_name": lead.full_name,
        "email": lead.email,
        "phone": lead.phone,
        "organisation": lead.organisation,
        "role": lead.role,
        "support_with": lead.dimensions.split(",") if lead.dimensions else [],
        "help_text": lead.help_text,
        "preferred_format": lead.preferred_format.value,
        "availability": lead.availability,
        "consent_at": _iso(lead.consent_at),
        "status": lead.status.value,
        "status_reason": lead.status_reason,
        "first_contacted_at": _iso(lead.first_contacted_at),
        "coach": lead.assigned_coach.name if lead.assigned_coach else None,
        "erased_at": _iso(lead.erased_at),
        "history": [
            {
                "at": _iso(event.at),
                "by": event.actor.name if event.actor else event.actor_label,
                "kind": event.kind,
                "summary": event.summary,
                "detail": event.detail,
            }
            for event in lead.events
        ],
        "notes": [
            {"at": _iso(note.created_at), "by": note.coach.name, "text": note.body}
            for note in lead.notes
        ],
        "proposals": [
            {
                "sent_at": _iso(proposal.created_at),
                "by": proposal.coach.name,
                "status": proposal.status.value,
                "responded_at": _iso(proposal.responded_at),
                "leader_note": proposal.leader_note,
                "times": [
                    {
                        "starts_at": _iso(t.starts_at),
                        "ends_at": _iso(t.ends_at),
                        "format": t.format.value,
                        "join_detail": t.join_detail,
                    }
                    for t in proposal.times
                ],
            }
            for proposal in proposals
        ],
        "sessions": [
            {
                "starts_at": _iso(s.starts_at),
                "ends_at": _iso(s.ends_at),
                "format": s.format.value,
                "join_detail": s.join_detail,
                "coach": s.coach.name,
                "status": s.status.value,
                "your_answer": s.leader_partstat.value,
                "cancelled_at": _iso(s.cancelled_at),
                "cancel_reason": s.cancel_reason,
                "questionnaire": _answers_export(responses[s.id]) if s.id in responses else None,
                **_session_note_export(s),
            }
            for s in sessions
        ],
        **_outcomes_export(lead),
    }


def _session_note_export(session: CoachingSession) -> dict[str, Any]:
    note = session_note(session)
    if note is None:
        return {}
    return {
        "coach_notes": note.notes,
        "agreed_actions": note.actions,
        "actions_emailed_at": _iso(note.actions_sent_at),
    }


def _outcomes_export(lead: Lead) -> dict[str, Any]:
    """The leader's self-ratings (before and after) and their follow-up questionnaire."""
    ratings = db.session.scalars(
        select(SelfRating).where(SelfRating.lead_id == lead.id).order_by(SelfRating.id)
    )
    follow_up = follow_up_of(lead)
    return {
        "self_ratings": [
            {
                "when": r.kind.value,
                "dimension": r.dimension.value,
                "value": r.value,
                "at": _iso(r.created_at),
            }
            for r in ratings
        ],
        "follow_up": None
        if follow_up is None
        else {
            "due_at": _iso(follow_up.due_at),
            "sent_at": _iso(follow_up.sent_at),
            "reminder_sent_at": _iso(follow_up.reminder_sent_at),
            "answered_at": _iso(follow_up.answered_at),
            "cancelled_at": _iso(follow_up.cancelled_at),
        },
    }


def export_person(email: str, *, now: datetime, settings: Settings) -> dict[str, Any]:
    """Everything held about the person with this email address, ready for json.dumps.

    Raises DomainError when nothing is held (so the operator knows the address did not match).
    """
    leads = leads_for_email(email)
    if not leads:
        raise DomainError("No lead has that email address.")
    lead_ids = [lead.id for lead in leads]
    session_ids = [s.id for s in _sessions(lead_ids)]
    return {
        "exported_at": _iso(now),
        "email": email.strip(),
        "leads": [_lead_export(lead) for lead in leads],
        "emails": [
            {
                "lead_id": m.lead_id,
                "kind": m.kind,
                "to": m.recipients,
                "subject": m.subject,
                "status": m.status.value,
                "queued_at": _iso(m.created_at),
                "due_at": _iso(m.due_at),
                "sent_at": _iso(m.sent_at),
                **dict(zip(("body_text", "body_html"), outbox.bodies(m, settings), strict=True)),
                "calendar": m.calendar,
            }
            for m in _messages(lead_ids, session_ids, email)
        ],
    }


# ----- erasure -----------------------------------------------------------------------------


@dataclass
class ErasurePlan:
    """What erasing this person's data will do, for the confirmation page and the CLI."""

    leads: list[Lead]
    notes: int = 0
    emails: int = 0
    pending_emails: int = 0
    questionnaires: int = 0
    future_sessions: list[CoachingSession] = field(default_factory=list)
    open_leads: list[Lead] = field(default_factory=list)


def erasure_plan(email: str, *, now: datetime) -> ErasurePlan:
    leads = [lead for lead in leads_for_email(email) if lead.erased_at is None]
    lead_ids = [lead.id for lead in leads]
    sessions = _sessions(lead_ids)
    messages = _messages(lead_ids, [s.id for s in sessions], email)
    return ErasurePlan(
        leads=leads,
        notes=sum(len(lead.notes) for lead in leads),
        emails=len(messages),
        pending_emails=sum(m.status == OutboxStatus.PENDING for m in messages),
        questionnaires=int(
            db.session.scalar(
                select(func.count())
                .select_from(QuestionnaireResponse)
                .where(QuestionnaireResponse.session_id.in_([s.id for s in sessions]))
            )
            or 0
        ),
        future_sessions=[
            s for s in sessions if s.status == SessionStatus.BOOKED and s.starts_at > now
        ],
        open_leads=[lead for lead in leads if lead.status.is_open],
    )


@dataclass
class ErasureReport:
    lead_ids: list[int] = field(default_factory=list)
    cancelled_emails: int = 0
    cancelled_sessions: list[int] = field(default_factory=list)


def _strike(text: str, needles: list[str]) -> str:
    for needle in needles:
        text = re.sub(re.escape(needle), "the leader", text, flags=re.IGNORECASE)
    return text


def _needles(lead: Lead) -> list[str]:
    """The person's identifying strings as they may appear in history summaries."""
    found = {lead.full_name, lead.email, lead.phone or ""}
    for event in lead.events:
        if event.kind == "registered-again":
            detail = event.detail
            found.update(str(detail.get(key) or "") for key in ("full_name", "email", "phone"))
    # Longest first, so a full name goes before a part of it.
    return sorted((n.strip() for n in found if n and len(n.strip()) >= 3), key=len, reverse=True)


def _scrub_history(lead: Lead, needles: list[str]) -> None:
    for event in lead.events:
        if event.actor_coach_id is None and event.actor_label not in ("System", "Operator"):
            event.actor_label = "The leader"
        summary = _FREE_TEXT_AFTER.sub(r"\1", event.summary)
        event.summary = _strike(summary, needles)
        detail = {
            k: v
            for k, v in event.detail.items()
            if k in SAFE_DETAIL_KEYS or (k == "role" and v in SAFE_ROLES)
        }
        event.detail_json = json.dumps(detail, default=str)


def _blank_message(message: OutboxMessage) -> None:
    message.recipients_json = "[]"
    message.subject = "(erased)"
    message.body_text = ""
    message.body_html = ""
    message.compose_at_send = False
    message.calendar = None
    message.attachments_json = "[]"
    message.last_error = ""


def erase_lead(
    lead: Lead, *, now: datetime, actor: Coach | None, by: str, settings: Settings
) -> ErasureReport:
    """Erase one lead's personal data (see the module docstring). `by` names who erased it
    in the history ("the operator")."""
    # Late import: scheduling imports the registration stage, which this module sits beside.
    from .leads import close_open_proposals, move

    if lead.erased_at is not None:
        raise DomainError("This lead's personal data has already been erased.")
    needles = _needles(lead)
    sessions = _sessions([lead.id])
    messages = _messages([lead.id], [s.id for s in sessions], lead.email)
    report = ErasureReport(lead_ids=[lead.id])
    for message in messages:
        if message.status == OutboxStatus.PENDING:
            message.status = OutboxStatus.CANCELLED
            report.cancelled_emails += 1
        _blank_message(message)

    cancelled: list[CoachingSession] = []
    for session in sessions:
        if session.status == SessionStatus.BOOKED and session.starts_at > now:
            session.status = SessionStatus.CANCELLED
            session.cancelled_at = now
            session.sequence += 1
            session.updated_at = now
            cancelled.append(session)
        session.cancel_reason = CANCEL_REASON if session in cancelled else ""
        session.join_detail = ""
        # Out of the coach's own CalDAV calendar too, past sessions included: the entry names
        # the leader.
        queue_session_write(session, "delete", now)
    close_open_proposals(lead, now=now)
    for proposal in db.session.scalars(select(Proposal).where(Proposal.lead_id == lead.id)):
        proposal.leader_note = ""
        for time in proposal.times:
            time.join_detail = ""
    session_ids = [s.id for s in sessions]
    if session_ids:
        db.session.execute(
            delete(QuestionnaireResponse).where(QuestionnaireResponse.session_id.in_(session_ids))
        )
    db.session.execute(delete(FormReceipt).where(FormReceipt.lead_id == lead.id))
    for note in list(lead.notes):
        lead.notes.remove(note)
    erase_outcomes(lead, now=now)

    if lead.status.is_open:
        move(
            lead,
            LeadStatus.WITHDRAWN,
            now=now,
            actor=actor,
            actor_label="Operator",
            summary="Closed as “Withdrawn”: the leader's personal data was erased",
        )
    _scrub_history(lead, needles)
    for session in cancelled:
        record_event(
            lead,
            EventKind.SESSION_CANCELLED,
            f"Session {format_range(session.starts_at, session.ends_at, settings.zone)} cancelled: "
            "the leader's personal data was erased",
            now=now,
            actor=actor,
            actor_label="Operator",
            detail={"session_id": session.id},
        )

    lead.full_name = f"Erased lead #{lead.id}"
    lead.email = f"erased-{lead.id}@{ERASED_EMAIL_DOMAIN}"
    lead.phone = None
    lead.organisation = ""
    lead.role = ""
    lead.help_text = ""
    lead.availability = ""
    lead.status_reason = ""
    lead.erased_at = now
    record_event(
        lead,
        ERASE_KIND,
        f"Personal data erased by {by}",
        now=now,
        actor=actor,
        actor_label="Operator",
    )
    db.session.flush()
    # The coach's calendar still holds the cancelled sessions: a CANCEL (same UID, higher
    # SEQUENCE) built from the erased lead, so it names no one. Nothing to the leader.
    for session in cancelled:
        draft = invite_emails.invitation(
            session, Role.COACH, "cancelled", now=now, settings=settings, reason=CANCEL_REASON
        )
        draft.kind = "coach_session_update"
        outbox.enqueue(draft, lead_id=lead.id, session_id=session.id, now=now)
        report.cancelled_sessions.append(session.id)
    return report


def erase_person(
    email: str,
    *,
    now: datetime,
    settings: Settings,
    actor: Coach | None = None,
    by: str = "the operator",
) -> ErasureReport:
    """Erase every lead with this email address. DomainError when none is left to erase."""
    leads = [lead for lead in leads_for_email(email) if lead.erased_at is None]
    if not leads:
        raise DomainError("No lead with that email address is left to erase.")
    report = ErasureReport()
    for lead in leads:
        one = erase_lead(lead, now=now, actor=actor, by=by, settings=settings)
        report.lead_ids += one.lead_ids
        report.cancelled_emails += one.cancelled_emails
        report.cancelled_sessions += one.cancelled_sessions
    return report


# ----- retention ---------------------------------------------------------------------------


def last_activity(lead: Lead) -> datetime:
    """The latest of the lead's own change, its history, its sessions' ends and its mail."""
    moments = [lead.updated_at, lead.created_at]
    for column, where in (
        (func.max(LeadEvent.at), LeadEvent.lead_id == lead.id),
        (func.max(CoachingSession.ends_at), CoachingSession.lead_id == lead.id),
        (func.max(OutboxMessage.created_at), OutboxMessage.lead_id == lead.id),
    ):
        value = db.session.scalar(select(column).where(where))
        if value is not None:
            moments.append(value)
    return max(moments)


def expired_leads(*, now: datetime, retention_days: int) -> list[Lead]:
    """Closed, withdrawn, not-suitable and no-response leads, not yet erased, whose last
    activity is more than `retention_days` ago."""
    cutoff = now - timedelta(days=retention_days)
    candidates = db.session.scalars(
        select(Lead)
        .where(
            Lead.status.in_(CLOSED_STATUSES),
            Lead.erased_at.is_(None),
            Lead.updated_at < cutoff,
        )
        .order_by(Lead.id)
    ).unique()
    return [lead for lead in candidates if last_activity(lead) < cutoff]


def purge_expired(*, now: datetime, retention_days: int, settings: Settings) -> list[int]:
    """Erase every expired lead (see `expired_leads`); the ids erased. Running it again erases
    nothing more until more leads expire."""
    if retention_days < 1:
        raise DomainError("RETENTION_DAYS must be at least 1.")
    erased = []
    for lead in expired_leads(now=now, retention_days=retention_days):
        erase_lead(lead, now=now, actor=None, by="the operator (retention)", settings=settings)
        erased.append(lead.id)
    return erased


__all__ = [
    "ErasurePlan",
    "ErasureReport",
    "erase_lead",
    "erase_person",
    "erasure_plan",
    "expired_leads",
    "export_person",
    "last_activity",
    "leads_for_email",
    "purge_expired",
]

"""A leader registers interest; a leader withdraws."""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import cast

from sqlalchemy import String, Table, bindparam, func, insert, select, update

from .. import emails, outbox
from ..database import insert_together
from ..extensions import db
from ..kinds import EventKind, MailKind, NoticeKind
from ..models import (
    CLOSED_STATUSES,
    Coach,
    Dimension,
    FormReceipt,
    Lead,
    LeadEvent,
    LeadStatus,
    OutboxMessage,
    SessionFormat,
)
from ..settings import Settings
from ..timefmt import format_range
from .common import DomainError, new_lead_event_rows, record_event
from .lifecycle import close_open_proposals
from .notices import tell_coach
from .outcomes import cancel_follow_up, follow_up_of
from .scheduling import cancel_for_withdrawal

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Registration:
    """What a leader typed, already validated and normalised by the form."""

    full_name: str
    email: str
    organisation: str
    role: str
    preferred_format: SessionFormat
    dimensions: list[Dimension] = field(default_factory=list)
    phone: str | None = None
    help_text: str = ""
    availability: str = ""
    consent: bool = False


@dataclass(frozen=True)
class RegistrationOutcome:
    lead_id: int
    # "created", "repeat" (an open lead with this email existed) or "replay" (same form again)
    result: str

    @property
    def lead(self) -> Lead:
        lead = db.session.get(Lead, self.lead_id)
        assert lead is not None
        return lead


# The registration's statements, built once (building a statement costs more than running it
# here). Nearly every registration is a new lead, and a new lead is written without the ORM's
# unit of work: plain rows, the lead first (its id comes back), then its receipt, history and
# emails together (`database.insert_together`).
_received = FormReceipt.__table__.c
_leads = Lead.__table__.c
# Before anything is written, in one statement: the lead this very form made already (a
# double click, a refresh, a replay), and the newest open lead with this address (a repeat).
_EARLIER = select(
    select(_received.lead_id)
    .where(_received.token == bindparam("token", type_=String))
    .scalar_subquery(),
    select(_leads.id)
    .where(func.lower(_leads.email) == bindparam("email", type_=String))
    .where(_leads.status.not_in(CLOSED_STATUSES))
    .order_by(_leads.created_at.desc())
    .limit(1)
    .scalar_subquery(),
)
# Round-robin: the active coach who was given a lead longest ago (or never), marked as given
# one now (UPDATE … RETURNING).
_coaches = Coach.__table__.c
_NEXT_COACH = (
    update(cast(Table, Coach.__table__))
    .where(
        _coaches.id
        == select(_coaches.id)
        .where(_coaches.active)
        .order_by(_coaches.last_assigned_at.is_not(None), _coaches.last_assigned_at, _coaches.id)
        .limit(1)
        .scalar_subquery()
    )
    .values(last_assigned_at=bindparam("assigned_at"))
    .returning(_coaches.id, _coaches.name, _coaches.email, _coaches.active, _coaches.email_digest)
)
_INSERT_LEAD = insert(cast(Table, Lead.__table__)).returning(_leads.id)
_RECEIPTS = cast(Table, FormReceipt.__table__)
_EVENTS = cast(Table, LeadEvent.__table__)
_OUTBOX = cast(Table, OutboxMessage.__table__)


@dataclass(frozen=True)
class _PickedCoach:
    """The coach round-robin gave a new lead: what the registration needs of them."""

    id: int
    name: str
    email: str
    active: bool
    email_digest: bool


def _next_coach(now: datetime, settings: Settings) -> _PickedCoach | None:
    if not settings.round_robin_assignment:
        return None
    picked = db.session.execute(_NEXT_COACH, {"assigned_at": now}).first()
    return _PickedCoach(*picked) if picked is not None else None


def register_interest(
    data: Registration, *, form_token: str, now: datetime, settings: Settings
) -> RegistrationOutcome:
    if not data.consent:
        raise DomainError("We need your consent to contact you about this request.")

    replayed, open_lead = db.session.execute(
        _EARLIER, {"token": form_token, "email": data.email.lower()}
    ).one()
    if replayed is not None:
        # A double click, a refresh or a replay of the same form: one lead, not two.
        return RegistrationOutcome(replayed, "replay")

    dimensions = [d for d in Dimension if d in data.dimensions]
    if len(dimensions) > 1 and Dimension.NOT_SURE in dimensions:
        dimensions.remove(Dimension.NOT_SURE)

    existing = db.session.get(Lead, open_lead) if open_lead is not None else None
    if existing is not None:
        submitted = asdict(data)
        submitted["dimensions"] = [d.value for d in dimensions]
        submitted["preferred_format"] = data.preferred_format.value
        record_event(
            existing,
            EventKind.REGISTERED_AGAIN,
            "Registered again while this request was open",
            now=now,
            actor_label=data.full_name,
            detail=submitted,
        )
        db.session.add(FormReceipt(token=form_token, lead_id=existing.id, created_at=now))
        # The confirmation page promises an email: say we already have the request.
        outbox.enqueue(
            emails.leader_repeat_registration(existing, settings=settings),
            lead_id=existing.id,
            now=now,
        )
        tell_coach(
            existing.assigned_coach,
            existing.id,
            NoticeKind.REGISTERED_AGAIN,
            "Registered again while the request was open",
            lambda recipients: emails.coach_repeat_registration(
                existing, recipients, submitted, settings=settings
            ),
            now=now,
            settings=settings,
        )
        return RegistrationOutcome(existing.id, "repeat")

    coach = _next_coach(now, settings)
    lead_id = db.session.execute(
        _INSERT_LEAD,
        dict(
            created_at=now,
            updated_at=now,
            full_name=data.full_name,
            email=data.email,
            phone=data.phone,
            organisation=data.organisation,
            role=data.role,
            dimensions=",".join(d.value for d in dimensions),
            help_text=data.help_text,
            preferred_format=data.preferred_format,
            availability=data.availability,
            consent_at=now,
            status=LeadStatus.NEW,
            status_reason="",
            assigned_coach_id=coach.id if coach is not None else None,
        ),
    ).scalar_one()
    events = [(EventKind.REGISTERED, "Registered interest", data.full_name)]
    if coach is not None:
        events.append((EventKind.ASSIGNED, f"Assigned to {coach.name} (round-robin)", ""))

    # Both emails are written by the outbox worker when it sends them (emails.COMPOSED_AT_SEND):
    # the request queues who gets what.
    acknowledgement = emails.to_compose_at_send(
        MailKind.LEADER_ACKNOWLEDGEMENT, [data.email], emails.ACKNOWLEDGEMENT_SUBJECT
    )
    mail: list[tuple[emails.MailDraft, int | None]] = [(acknowledgement, lead_id)]
    # An assigned lead is its coach's to hear about; an unassigned one goes where new leads
    # always have (COACH_NOTIFY_EMAILS, or every active coach).
    tell_coach(
        coach,
        lead_id,
        NoticeKind.NEW_LEAD,
        "New request for personal support, assigned to you (round-robin)",
        lambda recipients: emails.to_compose_at_send(
            MailKind.COACH_NEW_LEAD,
            recipients,
            emails.new_lead_subject(data.full_name, data.organisation),
        ),
        now=now,
        settings=settings,
        queue=mail,
    )
    # The lead's form receipt, history and emails: one statement on PostgreSQL, three elsewhere.
    insert_together(
        db.session,
        [
            (_RECEIPTS, [{"token": form_token, "lead_id": lead_id, "created_at": now}]),
            (_EVENTS, new_lead_event_rows(lead_id, events, now=now)),
            (_OUTBOX, outbox.new_rows(mail, now=now)),
        ],
    )
    return RegistrationOutcome(lead_id, "created")


def withdrew_after_journey(lead: Lead) -> bool:
    """A closed journey whose leader withdrew before the follow-up was answered."""
    follow_up = follow_up_of(lead) if lead.status == LeadStatus.CLOSED else None
    return follow_up is not None and follow_up.cancelled_at is not None


def withdraw(lead: Lead, *, reason: str, now: datetime, settings: Settings) -> None:
    """The leader withdraws their interest: no more mail to them, open proposals close, a booked
    session is cancelled, and the coach is told why."""
    if lead.status == LeadStatus.WITHDRAWN or withdrew_after_journey(lead):
        return
    if lead.status == LeadStatus.CLOSED and cancel_follow_up(lead, now=now):
        # A closed journey whose follow-up questionnaire is still to come: it is not sent.
        # The lead stays "Closed" (its journey did end), its history says the leader withdrew.
        record_event(
            lead,
            EventKind.WITHDRAWN,
            "Withdrawn by the leader: the follow-up questionnaire will not be sent",
            now=now,
            actor_label=lead.full_name,
            detail={"reason": reason.strip(), "follow_up": "cancelled"},
        )
        return
    if not lead.status.is_open:
        raise DomainError("This request is already closed, so there is nothing to withdraw.")
    lead.status = LeadStatus.WITHDRAWN
    lead.status_reason = reason.strip()
    record_event(
        lead,
        EventKind.WITHDRAWN,
        "Withdrawn by the leader",
        now=now,
        actor_label=lead.full_name,
        detail={"reason": lead.status_reason},
    )
    if close_open_proposals(lead, now=now):
        record_event(
            lead,
            EventKind.PROPOSAL_CLOSED,
            "Open proposal closed (the leader withdrew)",
            now=now,
            actor_label=lead.full_name,
        )
    # Older pending mail first (acknowledgements, proposals, reminders, invitations not yet
    # sent); everything queued below comes after it and so is not cancelled with it: the
    # calendar CANCELs for a booked session and the coach's notice.
    outbox.cancel_pending(lead_id=lead.id)
    session = cancel_for_withdrawal(lead, now, settings=settings)
    cancelled = (
        f" (the session on {format_range(session.starts_at, session.ends_at, settings.zone)} "
        "is cancelled)"
        if session is not None
        else ""
    )
    tell_coach(
        lead.assigned_coach,
        lead.id,
        NoticeKind.WITHDRAWN,
        f"Withdrew their interest{cancelled}",
        lambda recipients: emails.coach_leader_withdrawn(
            lead, recipients, session, settings=settings
        ),
        now=now,
        settings=settings,
        session_id=session.id if session else None,
    )

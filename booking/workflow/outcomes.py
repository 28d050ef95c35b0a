"""A lead's coaching journey and what changed: several sessions, the coach's notes and agreed
actions after each held one, closing the journey, the leader's self-ratings before the first
session and after the journey (the follow-up questionnaire, sent by `flask outcomes send-due`).

    held session → next session (propose / agree, as for the first) … → close the journey
    → FOLLOW_UP_AFTER_DAYS after the last held session: the follow-up (once), one reminder

Like every stage: plain functions taking `now` and `settings`, never committing.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, select

from .. import emails, outbox
from ..extensions import db
from ..kinds import EventKind, MailKind
from ..limits import TEXT_MAX
from ..models import (
    DIMENSION_LABELS,
    RATED_DIMENSIONS,
    Coach,
    CoachingSession,
    Dimension,
    FollowUp,
    Lead,
    LeadStatus,
    RatingKind,
    SelfRating,
    SessionNote,
    SessionStatus,
)
from ..questionnaire import Questionnaire, check_answers, load_questionnaire
from ..settings import Settings
from ..timefmt import format_range
from .common import DomainError, record_event

# ----- the journey ------------------------------------------------------------------------


def journey_sessions(lead: Lead) -> list[CoachingSession]:
    """Every session of the lead, oldest first (cancelled ones too: the page says so)."""
    return list(
        db.session.scalars(
            select(CoachingSession)
            .where(CoachingSession.lead_id == lead.id)
            .order_by(CoachingSession.starts_at, CoachingSession.id)
        )
    )


def sessions_used(lead: Lead) -> int:
    """Sessions that count towards the journey's maximum: held or booked."""
    return int(
        db.session.scalar(
            select(func.count())
            .select_from(CoachingSession)
            .where(
                CoachingSession.lead_id == lead.id,
                CoachingSession.status.in_((SessionStatus.HELD, SessionStatus.BOOKED)),
            )
        )
        or 0
    )


def has_held_session(lead: Lead) -> bool:
    return (
        db.session.scalar(
            select(CoachingSession.id)
            .where(CoachingSession.lead_id == lead.id, CoachingSession.status == SessionStatus.HELD)
            .limit(1)
        )
        is not None
    )


def check_room_for_another(lead: Lead, settings: Settings) -> None:
    """Refuse a next session once the journey has its maximum (JOURNEY_MAX_SESSIONS)."""
    if sessions_used(lead) >= settings.journey_max_sessions:
        raise DomainError(
            f"This journey has had its {settings.journey_max_sessions} sessions, the most "
            "a journey may have. Close the journey instead."
        )


def between_sessions_status(lead: Lead) -> LeadStatus:
    """Where a lead goes back to when times are refused or a session is cancelled: "Held"
    once a session of its journey has been held (the next one is being arranged), else
    "Contacted"."""
    return LeadStatus.HELD if has_held_session(lead) else LeadStatus.CONTACTED


def session_note(session: CoachingSession) -> SessionNote | None:
    return db.session.get(SessionNote, session.id)


def save_session_note(
    session: CoachingSession,
    coach: Coach,
    notes: str,
    actions: str,
    *,
    send_actions: bool,
    now: datetime,
    settings: Settings,
) -> SessionNote:
    """The coach's private notes and the agreed actions of a held session. The actions go to
    the leader (a follow-up email through the outbox) only when the coach ticks the box."""
    if session.status != SessionStatus.HELD:
        raise DomainError("Notes and actions are recorded once the session has been held.")
    notes, actions = notes.strip(), actions.strip()
    if len(notes) > TEXT_MAX or len(actions) > TEXT_MAX:
        raise DomainError(f"Notes and actions must each be {TEXT_MAX:,} characters or fewer.")
    lead = session.lead
    if send_actions:
        if not actions:
            raise DomainError("Write the agreed actions before sending them to the leader.")
        if lead.status == LeadStatus.WITHDRAWN or lead.erased_at is not None:
            raise DomainError("The leader has withdrawn, so nothing more is sent to them.")
    note = session_note(session)
    if note is None:
        note = SessionNote(session_id=session.id, coach_id=coach.id, notes="", actions="")
        db.session.add(note)
    note.notes, note.actions, note.coach_id, note.updated_at = notes, actions, coach.id, now
    when = format_range(session.starts_at, session.ends_at, settings.zone)
    record_event(
        lead,
        EventKind.SESSION_NOTES,
        f"Recorded notes and actions for the session on {when}",
        now=now,
        actor=coach,
        detail={"session_id": session.id},
    )
    if send_actions:
        note.actions_sent_at = now
        outbox.enqueue(
            emails.leader_session_actions(session, actions, settings=settings),
            lead_id=lead.id,
            session_id=session.id,
            now=now,
        )
        record_event(
            lead,
            EventKind.SESSION_NOTES,
            f"Emailed the agreed actions of the session on {when} to the leader",
            now=now,
            actor=coach,
            detail={"session_id": session.id, "sent": True},
        )
    return note


def schedule_follow_up(lead: Lead, *, now: datetime, settings: Settings) -> FollowUp | None:
    """A closed journey with a held session gets its follow-up questionnaire, due
    FOLLOW_UP_AFTER_DAYS after the last held session ends. None when nothing was held."""
    last_end = db.session.scalar(
        select(func.max(CoachingSession.ends_at)).where(
            CoachingSession.lead_id == lead.id, CoachingSession.status == SessionStatus.HELD
        )
    )
    if last_end is None:
        return None
    if last_end.tzinfo is None:  # SQLite's max() comes back without the column's type
        last_end = datetime.fromisoformat(str(last_end)).replace(tzinfo=now.tzinfo)
    existing = follow_up_of(lead)
    if existing is not None:
        return existing
    follow_up = FollowUp(
        lead_id=lead.id,
        created_at=now,
        due_at=last_end + timedelta(days=settings.follow_up_after_days),
    )
    db.session.add(follow_up)
    return follow_up


def follow_up_of(lead: Lead) -> FollowUp | None:
    return db.session.scalar(select(FollowUp).where(FollowUp.lead_id == lead.id))


def cancel_follow_up(lead: Lead, *, now: datetime) -> bool:
    """Withdrawal or erasure: the follow-up (and its reminder) will not be sent."""
    follow_up = follow_up_of(lead)
    if follow_up is None or follow_up.cancelled_at or follow_up.answered_at:
        return False
    follow_up.cancelled_at = now
    outbox.cancel_pending(
        lead_id=lead.id, kinds=(MailKind.LEADER_FOLLOW_UP, MailKind.LEADER_FOLLOW_UP_REMINDER)
    )
    return True


@dataclass
class SendReport:
    follow_ups: int = 0
    reminders: int = 0

    def __str__(self) -> str:
        return f"{self.follow_ups} follow-up(s) and {self.reminders} reminder(s) queued"


def _live(stmt: Any) -> Any:
    return (
        stmt.join(Lead, Lead.id == FollowUp.lead_id)
        .where(
            FollowUp.cancelled_at.is_(None),
            FollowUp.answered_at.is_(None),
            Lead.erased_at.is_(None),
            Lead.status != LeadStatus.WITHDRAWN,
        )
        .with_for_update(of=FollowUp, skip_locked=True)
    )


def send_due(*, now: datetime, settings: Settings) -> SendReport:
    """Queue what is due: each follow-up once, then one reminder FOLLOW_UP_REMINDER_DAYS
    later if still unanswered, and nothing more. Running it again sends nothing twice (the
    rows say what was sent; PostgreSQL rows are locked so two runs at once cannot both
    send)."""
    report = SendReport()
    for follow_up in db.session.scalars(
        _live(select(FollowUp)).where(FollowUp.sent_at.is_(None), FollowUp.due_at <= now)
    ):
        follow_up.sent_at = now
        _queue(follow_up, reminder=False, now=now, settings=settings)
        report.follow_ups += 1
    reminder_before = now - timedelta(days=settings.follow_up_reminder_days)
    for follow_up in db.session.scalars(
        _live(select(FollowUp)).where(
            FollowUp.sent_at.is_not(None),
            FollowUp.sent_at <= reminder_before,
            FollowUp.reminder_sent_at.is_(None),
        )
    ):
        follow_up.reminder_sent_at = now
        _queue(follow_up, reminder=True, now=now, settings=settings)
        report.reminders += 1
    return report


def _queue(follow_up: FollowUp, *, reminder: bool, now: datetime, settings: Settings) -> None:
    lead = follow_up.lead
    outbox.enqueue(
        emails.leader_follow_up(follow_up, reminder=reminder, settings=settings),
        lead_id=lead.id,
        now=now,
    )
    record_event(
        lead,
        EventKind.FOLLOW_UP,
        "Sent the follow-up reminder" if reminder else "Sent the follow-up questionnaire",
        now=now,
        detail={"follow_up_id": follow_up.id, "reminder": reminder},
    )


def follow_up_open(follow_up: FollowUp) -> bool:
    return (
        follow_up.sent_at is not None
        and follow_up.cancelled_at is None
        and follow_up.lead.erased_at is None
        and follow_up.lead.status != LeadStatus.WITHDRAWN
    )


def save_follow_up(
    follow_up: FollowUp, answers: Mapping[str, Any], *, now: datetime, settings: Settings
) -> None:
    """The leader's ratings after the journey. They can change them while the link lasts."""
    if not follow_up_open(follow_up):
        raise DomainError("This follow-up questionnaire is closed.")
    q = load_questionnaire(settings.questionnaire_path)
    check = check_answers(q, answers)
    if not check.ok:
        raise DomainError("Some answers need correcting: " + "; ".join(check.errors.values()))
    rated = store_ratings(follow_up.lead, RatingKind.AFTER, q, check.answers, now=now)
    first = follow_up.answered_at is None
    follow_up.answered_at = now
    outbox.cancel_pending(lead_id=follow_up.lead_id, kinds=(MailKind.LEADER_FOLLOW_UP_REMINDER,))
    record_event(
        follow_up.lead,
        EventKind.FOLLOW_UP,
        "Answered the follow-up questionnaire" if first else "Changed their follow-up answers",
        now=now,
        actor_label=follow_up.lead.full_name,
        detail={"follow_up_id": follow_up.id, "rated": sorted(rated)},
    )


# ----- self-ratings -------------------------------------------------------------------------


def store_ratings(
    lead: Lead,
    kind: RatingKind,
    q: Questionnaire,
    answers: Mapping[str, Any],
    *,
    now: datetime,
    session: CoachingSession | None = None,
) -> list[str]:
    """Keep the rating answers as rows (one per dimension), replacing earlier ones of this
    kind; a rating left blank this time removes the earlier one. Returns the dimensions rated."""
    rated: list[str] = []
    for dimension in RATED_DIMENSIONS:
        question = q.rating_question(dimension.value)
        if question is None:
            continue
        db.session.execute(
            delete(SelfRating).where(
                SelfRating.lead_id == lead.id,
                SelfRating.kind == kind,
                SelfRating.dimension == dimension,
            )
        )
        value = answers.get(question.id)
        if isinstance(value, int):
            db.session.add(
                SelfRating(
                    lead_id=lead.id,
                    session_id=session.id if session else None,
                    kind=kind,
                    dimension=dimension,
                    value=value,
                    created_at=now,
                )
            )
            rated.append(dimension.value)
    return rated


def is_first_session(session: CoachingSession) -> bool:
    """No session of the journey was held before this one: its reflection is the 'before'."""
    return (
        db.session.scalar(
            select(CoachingSession.id)
            .where(
                CoachingSession.lead_id == session.lead_id,
                CoachingSession.status == SessionStatus.HELD,
                CoachingSession.id != session.id,
            )
            .limit(1)
        )
        is None
    )


@dataclass(frozen=True)
class BeforeAfter:
    """A leader's ratings by dimension (None: not rated) before the journey and after it."""

    before: dict[Dimension, int | None]
    after: dict[Dimension, int | None]

    @property
    def any_after(self) -> bool:
        return any(v is not None for v in self.after.values())

    @property
    def any(self) -> bool:
        return self.any_after or any(v is not None for v in self.before.values())


def before_after(lead: Lead) -> BeforeAfter:
    rows = db.session.scalars(select(SelfRating).where(SelfRating.lead_id == lead.id))
    found = {(r.kind, r.dimension): r.value for r in rows}
    return BeforeAfter(
        before={d: found.get((RatingKind.BEFORE, d)) for d in RATED_DIMENSIONS},
        after={d: found.get((RatingKind.AFTER, d)) for d in RATED_DIMENSIONS},
    )


def pdf_ratings(lead: Lead) -> tuple[tuple[str, int | None, int | None], ...] | None:
    """The leader's ratings for the questionnaire PDF's chart, once a session of their journey
    has been held (before that, the PDF is the blank questionnaire); None when unrated."""
    if not has_held_session(lead):
        return None
    ratings = before_after(lead)
    if not ratings.any:
        return None
    return tuple(
        (DIMENSION_LABELS[d], ratings.before[d], ratings.after[d]) for d in RATED_DIMENSIONS
    )


def erase_outcomes(lead: Lead, *, now: datetime) -> None:
    """Erasure: the follow-up is cancelled, the self-ratings and the coach's session notes go."""
    cancel_follow_up(lead, now=now)
    db.session.execute(delete(SelfRating).where(SelfRating.lead_id == lead.id))
    session_ids = select(CoachingSession.id).where(CoachingSession.lead_id == lead.id)
    db.session.execute(delete(SessionNote).where(SessionNote.session_id.in_(session_ids)))


__all__ = [
    "BeforeAfter",
    "SendReport",
    "before_after",
    "between_sessions_status",
    "cancel_follow_up",
    "check_room_for_another",
    "erase_outcomes",
    "follow_up_of",
    "follow_up_open",
    "has_held_session",
    "is_first_session",
    "journey_sessions",
    "save_follow_up",
    "save_session_note",
    "schedule_follow_up",
    "send_due",
    "session_note",
    "sessions_used",
    "store_ratings",
]

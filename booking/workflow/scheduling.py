"""Agreeing a session time: proposals, the leader's choice, times agreed directly, and changes.

Times are entered in the firm's zone (TIMEZONE) and stored in UTC. A coach's booked sessions
never overlap: checked here with a clear message, and guarded by the database (one booked
session per coach and start, one booked session per lead) against two requests at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from urllib.parse import urlsplit
from uuid import uuid4

from sqlalchemy import select

from .. import emails, invite_emails, outbox
from ..calendar_writes import queue_session_write
from ..extensions import db
from ..kinds import EventKind, NoticeKind, Role, invitation_kind
from ..limits import MAX_TIMES, SESSION_MINUTES_MAX, SESSION_MINUTES_MIN, TEXT_MAX
from ..models import (
    Coach,
    CoachingSession,
    Lead,
    LeadStatus,
    PartStat,
    Proposal,
    ProposalStatus,
    ProposedTime,
    SessionFormat,
    SessionStatus,
)
from ..settings import Settings
from ..timefmt import format_range, local_to_utc
from .common import DomainError, FieldProblem, FieldProblems, record_event
from .lifecycle import booked_session, close_open_proposals, move, open_proposals
from .notices import coach_of, tell_coach
from .outcomes import (
    between_sessions_status,
    check_room_for_another,
    has_held_session,
    pdf_ratings,
)

DETAIL_NEEDED = {
    SessionFormat.VIDEO: "the joining link for the video call",
    SessionFormat.PHONE: "the number to call",
    SessionFormat.IN_PERSON: "the address",
}


@dataclass(frozen=True)
class Slot:
    """One time a coach offers, as typed: a local date and start time."""

    day: date
    start: time
    format: SessionFormat
    detail: str
    duration_minutes: int = 60


def local_start(day: date, start: time, settings: Settings) -> datetime:
    """A local wall-clock time as aware UTC; a time the clocks skip is refused in words."""
    try:
        return local_to_utc(day, start, settings.zone)
    except ValueError as error:
        raise DomainError(
            f"{start:%H:%M} on {day:%A} {day.day} {day:%B %Y} does not exist in "
            f"{settings.timezone}: the clocks go forward that night. "
            "Choose another time."
        ) from error


def _check_duration(minutes: int) -> timedelta:
    if not SESSION_MINUTES_MIN <= minutes <= SESSION_MINUTES_MAX:
        raise DomainError(
            f"A session lasts between {SESSION_MINUTES_MIN} and {SESSION_MINUTES_MAX} minutes."
        )
    return timedelta(minutes=minutes)


def _check_detail(format: SessionFormat, detail: str) -> str:
    detail = " ".join(detail.split())
    if not detail:
        raise DomainError(f"Give {DETAIL_NEEDED[format]}.")
    if format == SessionFormat.VIDEO:
        parts = urlsplit(detail)
        if parts.scheme not in ("https", "http") or not parts.netloc:
            raise DomainError(
                "Give the video call's joining link as a web address starting with https://"
            )
    return detail


def _clash(
    coach: Coach, starts: datetime, ends: datetime, excluding: CoachingSession | None = None
) -> CoachingSession | None:
    """The coach's booked session that overlaps [starts, ends), if any."""
    query = select(CoachingSession).where(
        CoachingSession.coach_id == coach.id,
        CoachingSession.status == SessionStatus.BOOKED,
        CoachingSession.starts_at < ends,
        CoachingSession.ends_at > starts,
    )
    if excluding is not None and excluding.id is not None:
        query = query.where(CoachingSession.id != excluding.id)
    return db.session.scalars(query.limit(1)).first()


def _check_time(
    coach: Coach,
    starts: datetime,
    ends: datetime,
    now: datetime,
    label: str,
    settings: Settings,
    excluding: CoachingSession | None = None,
) -> None:
    when = format_range(starts, ends, settings.zone)
    if starts <= now:
        raise DomainError(f"{label} ({when}) is in the past.")
    other = _clash(coach, starts, ends, excluding)
    if other is not None:
        theirs = format_range(other.starts_at, other.ends_at, settings.zone)
        raise DomainError(
            f"{label} ({when}) clashes with {coach.name}'s session with "
            f"{other.lead.full_name}, {theirs}."
        )


def _check_coach(lead: Lead, coach: Coach) -> None:
    if lead.assigned_coach_id is not None and lead.assigned_coach_id != coach.id:
        owner = lead.assigned_coach.name if lead.assigned_coach else "another coach"
        raise DomainError(
            f"This lead is assigned to {owner}. Take it first if you are agreeing the time."
        )


def _take_if_unassigned(lead: Lead, coach: Coach, now: datetime) -> None:
    if lead.assigned_coach_id is None:
        lead.assigned_coach = coach
        lead.assigned_coach_id = coach.id
        record_event(
            lead,
            EventKind.ASSIGNED,
            f"Taken by {coach.name}",
            now=now,
            actor=coach,
            detail={"coach_id": coach.id},
        )


def proposal_open(proposal: Proposal) -> bool:
    """Can the leader still pick from (or answer) these times?

    First times are open while the lead is "Times proposed". New times for a booked session
    (`moves_session`) are open while the lead is "Agreed" and that session is still booked.
    """
    if proposal.status != ProposalStatus.OPEN:
        return False
    moving = proposal.moves_session
    if moving is not None:
        return proposal.lead.status == LeadStatus.AGREED and moving.status == SessionStatus.BOOKED
    return proposal.lead.status == LeadStatus.TIMES_PROPOSED


def _sentence_case_after_label(label: str, message: str) -> str:
    return f"{label}: {message[:1].lower()}{message[1:]}"


def _checked_times(
    coach: Coach,
    slots: list[Slot],
    now: datetime,
    settings: Settings,
    moving: CoachingSession | None,
) -> list[ProposedTime]:
    """The slots as proposed times, or FieldProblems naming every problem of every slot
    ("Time 2: give the joining link…"), each against the field it concerns."""
    problems: list[FieldProblem] = []
    times: list[ProposedTime] = []
    starts_seen: set[datetime] = set()
    for index, slot in enumerate(slots):
        label = f"Time {index + 1}"
        found = len(problems)

        def problem(field: str, message: str, *, entry: int = index) -> None:
            problems.append(FieldProblem(field, message, entry))

        starts: datetime | None = None
        length: timedelta | None = None
        detail = ""
        try:
            starts = local_start(slot.day, slot.start, settings)
        except DomainError as error:
            problem("start", _sentence_case_after_label(label, str(error)))
        try:
            length = _check_duration(slot.duration_minutes)
        except DomainError as error:
            problem("duration", _sentence_case_after_label(label, str(error)))
        try:
            detail = _check_detail(slot.format, slot.detail)
        except DomainError as error:
            problem("detail", _sentence_case_after_label(label, str(error)))
        if starts is not None and length is not None:
            ends = starts + length
            if starts in starts_seen:
                problem("start", f"{label} is the same as an earlier time. Offer different times.")
            else:
                starts_seen.add(starts)
                # The session being moved does not clash with its own new times.
                try:
                    _check_time(coach, starts, ends, now, label, settings, excluding=moving)
                except DomainError as error:
                    past = starts <= now
                    problem("day" if past else "start", str(error))
            if len(problems) == found:
                times.append(
                    ProposedTime(
                        starts_at=starts, ends_at=ends, format=slot.format, join_detail=detail
                    )
                )
    if problems:
        raise FieldProblems(problems)
    return times


def propose_times(
    lead: Lead, coach: Coach, slots: list[Slot], now: datetime, *, settings: Settings
) -> Proposal:
    """Offer the leader 1 to 5 times; the previous open proposal closes; the leader is emailed.

    For an "Agreed" lead these are new times for the booked session (the leader asked for a
    different time): the lead stays "Agreed", the session stays booked until the leader picks
    one, and picking moves that session rather than booking another.
    """
    moving: CoachingSession | None = None
    if lead.status == LeadStatus.AGREED:
        moving = booked_session(lead)
    if moving is None and lead.status not in (
        LeadStatus.NEW,
        LeadStatus.CONTACTED,
        LeadStatus.TIMES_PROPOSED,
        LeadStatus.HELD,
    ):
        raise DomainError(
            f"This lead is “{lead.status.label}”, so times cannot be proposed. "
            "Times can be proposed to a lead that is New, Contacted, "
            "Times proposed or Held (the next session of a journey), or Agreed with a "
            "booked session to move."
        )
    if moving is None:
        check_room_for_another(lead, settings)
    _check_coach(lead, coach)
    if moving is not None and moving.coach_id != coach.id:
        raise DomainError(
            f"The booked session is with {moving.coach.name}, so only they can "
            "offer new times for it. Cancel it first to start afresh."
        )
    if not 1 <= len(slots) <= MAX_TIMES:
        raise DomainError(f"Propose between 1 and {MAX_TIMES} times.")

    times = _checked_times(coach, slots, now, settings, moving)
    # New times for a booked session answer the leader's request for a different time, or are
    # the coach's own offer (a session agreed by phone, say): the leader is told which.
    leader_asked = moving is not None and open_new_time_request(moving) is not None
    replaced = close_open_proposals(lead, now=now)
    _take_if_unassigned(lead, coach, now)
    proposal = Proposal(
        lead=lead,
        lead_id=lead.id,
        coach=coach,
        coach_id=coach.id,
        created_at=now,
        status=ProposalStatus.OPEN,
        times=times,
        moves_session=moving,
        moves_session_id=moving.id if moving else None,
    )
    db.session.add(proposal)
    if moving is not None:
        moving.clear_new_time_request()
    db.session.flush()  # the proposal's id goes on its event
    offered = {"times": [format_range(t.starts_at, t.ends_at, settings.zone) for t in times]}
    plural = "s" if len(times) != 1 else ""
    closed = " (the earlier proposal is closed)" if replaced else ""
    if moving is not None:
        record_event(
            lead,
            EventKind.MOVE_PROPOSED,
            f"Proposed {len(times)} new time{plural} for the session on "
            f"{format_range(moving.starts_at, moving.ends_at, settings.zone)}{closed}",
            now=now,
            actor=coach,
            detail={
                **offered,
                "session_id": moving.id,
                "proposal_id": proposal.id,
                "leader_asked": leader_asked,
            },
        )
    else:
        move(
            lead,
            LeadStatus.TIMES_PROPOSED,
            now=now,
            actor=coach,
            summary=f"Proposed {len(times)} new time{plural}{closed}",
            detail=offered,
        )
    db.session.flush()
    outbox.enqueue(
        emails.leader_proposed_times(
            proposal,
            settings=settings,
            leader_asked=leader_asked,
            next_session=moving is None and has_held_session(lead),
        ),
        lead_id=lead.id,
        now=now,
    )
    return proposal


def leader_asked_for_new_times(proposal: Proposal) -> bool:
    """Are these new times for a booked session the answer to the leader's own request (a
    different time, or none of the earlier new times suit)? False for first times, and for new
    times the coach offered unasked."""
    if proposal.moves_session_id is None:
        return False
    for event in reversed(proposal.lead.events):
        if event.kind == EventKind.MOVE_PROPOSED and event.detail.get("proposal_id") == proposal.id:
            return bool(event.detail.get("leader_asked"))
    return False


def _new_uid(settings: Settings) -> str:
    return f"{uuid4()}@{settings.sender_domain}"


def _book(
    lead: Lead,
    coach: Coach,
    starts: datetime,
    ends: datetime,
    format: SessionFormat,
    detail: str,
    now: datetime,
    settings: Settings,
    proposed_time: ProposedTime | None = None,
) -> CoachingSession:
    session = CoachingSession(
        lead=lead,
        lead_id=lead.id,
        coach=coach,
        coach_id=coach.id,
        proposed_time_id=proposed_time.id if proposed_time else None,
        starts_at=starts,
        ends_at=ends,
        format=format,
        join_detail=detail,
        uid=_new_uid(settings),
        sequence=0,
        status=SessionStatus.BOOKED,
        created_at=now,
        updated_at=now,
    )
    db.session.add(session)
    # The unique indexes speak here, inside the caller's transaction: two picks of one slot
    # at once (or a double click) fail with IntegrityError, which the view turns into words.
    db.session.flush()
    return session


def agree_time(
    proposed_time: ProposedTime, now: datetime, *, settings: Settings
) -> CoachingSession:
    """The leader picks one of the proposed times."""
    proposal = proposed_time.proposal
    lead = proposal.lead
    if not proposal_open(proposal):
        raise DomainError(
            "These times are no longer open: a time has been chosen, or the "
            "coach has sent new times."
        )
    if proposed_time.starts_at <= now:
        raise DomainError("That time has already passed. Please choose another.")
    moving = proposal.moves_session
    if (
        _clash(proposal.coach, proposed_time.starts_at, proposed_time.ends_at, excluding=moving)
        is not None
    ):
        raise DomainError(
            "Sorry, that time has just been taken. Please choose another, or "
            "tell us none of them suit."
        )
    if moving is not None:
        # New times for a booked session: move it (same UID, SEQUENCE + 1, "updated" REQUEST
        # to both), never book a second one.
        proposal.status = ProposalStatus.CHOSEN
        proposal.responded_at = now
        return _move_session(
            moving,
            proposed_time.starts_at,
            proposed_time.ends_at,
            now,
            actor_label=lead.full_name,
            settings=settings,
            proposed_time=proposed_time,
            how="chosen from the new times offered",
        )
    session = _book(
        lead,
        proposal.coach,
        proposed_time.starts_at,
        proposed_time.ends_at,
        proposed_time.format,
        proposed_time.join_detail,
        now,
        settings,
        proposed_time,
    )
    proposal.status = ProposalStatus.CHOSEN
    proposal.responded_at = now
    move(
        lead,
        LeadStatus.AGREED,
        now=now,
        actor_label=lead.full_name,
        summary=f"Chose {format_range(session.starts_at, session.ends_at, settings.zone)}",
    )
    _send_session_confirmations(session, now, settings)
    return session


def none_suit(proposal: Proposal, note: str, now: datetime, *, settings: Settings) -> None:
    """The leader says none of the times suit, with a note (and times that would)."""
    lead = proposal.lead
    if not proposal_open(proposal):
        raise DomainError("These times are no longer open.")
    note = note.strip()  # the form requires a note of at most 2,000 characters
    proposal.status = ProposalStatus.NONE_SUIT
    proposal.leader_note = note[:TEXT_MAX]
    proposal.responded_at = now
    moving = proposal.moves_session
    if moving is not None:
        # The booked session stays as it is; the leader's request for another time is open again.
        moving.set_new_time_request(now, proposal.leader_note)
        record_event(
            lead,
            EventKind.MOVE_NONE_SUIT,
            "None of the new times suit; the session on "
            f"{format_range(moving.starts_at, moving.ends_at, settings.zone)} stays booked",
            now=now,
            actor_label=lead.full_name,
            detail={"session_id": moving.id, "reason": proposal.leader_note},
        )
    else:
        move(
            lead,
            between_sessions_status(lead),
            now=now,
            actor_label=lead.full_name,
            reason=proposal.leader_note,
            summary="None of the proposed times suit",
        )
    tell_coach(
        coach_of(lead, proposal.coach),
        lead.id,
        NoticeKind.NONE_SUIT,
        "Said none of the new times suit (the session stays booked)"
        if moving is not None
        else "Said none of the proposed times suit",
        lambda recipients: emails.coach_none_suit(proposal, recipients, settings=settings),
        now=now,
        settings=settings,
    )


def record_agreed_time(
    lead: Lead,
    coach: Coach,
    start: datetime,
    duration: int,
    format: SessionFormat,
    detail: str,
    now: datetime,
    *,
    settings: Settings,
) -> CoachingSession:
    """A time agreed by phone or email: book it directly."""
    if lead.status not in (
        LeadStatus.NEW,
        LeadStatus.CONTACTED,
        LeadStatus.TIMES_PROPOSED,
        LeadStatus.HELD,
    ):
        hint = " Move the booked session instead." if lead.status == LeadStatus.AGREED else ""
        raise DomainError(f"This lead is “{lead.status.label}”, so a time cannot be agreed.{hint}")
    check_room_for_another(lead, settings)
    _check_coach(lead, coach)
    length = _check_duration(duration)
    detail = _check_detail(format, detail)
    _check_time(coach, start, start + length, now, "The time", settings)
    _take_if_unassigned(lead, coach, now)
    if close_open_proposals(lead, now=now):
        record_event(
            lead,
            EventKind.PROPOSAL_CLOSED,
            "Open proposal closed (time agreed directly)",
            now=now,
            actor=coach,
        )
    session = _book(lead, coach, start, start + length, format, detail, now, settings)
    move(
        lead,
        LeadStatus.AGREED,
        now=now,
        actor=coach,
        summary="Recorded a time agreed directly: "
        f"{format_range(session.starts_at, session.ends_at, settings.zone)}",
    )
    _send_session_confirmations(session, now, settings)
    return session


def reschedule_session(
    session: CoachingSession,
    coach: Coach,
    start: datetime,
    duration: int,
    now: datetime,
    *,
    settings: Settings,
) -> CoachingSession:
    """The coach moves a booked session to a new time (agreed with the leader)."""
    length = _check_duration(duration)
    return _move_session(session, start, start + length, now, actor=coach, settings=settings)


def _move_session(
    session: CoachingSession,
    starts: datetime,
    ends: datetime,
    now: datetime,
    *,
    settings: Settings,
    actor: Coach | None = None,
    actor_label: str = "",
    proposed_time: ProposedTime | None = None,
    how: str = "",
) -> CoachingSession:
    """Move a booked session: the same calendar entry (UID) with a higher SEQUENCE, an
    "updated" REQUEST to both, reminders re-queued. A picked proposed time also brings its
    format and joining details. Open offers of new times for this session are closed."""
    if session.status != SessionStatus.BOOKED:
        raise DomainError(f"This session is {session.status.value}, so it cannot be moved.")
    _check_time(session.coach, starts, ends, now, "The new time", settings, excluding=session)
    before = format_range(session.starts_at, session.ends_at, settings.zone)
    session.starts_at, session.ends_at = starts, ends
    if proposed_time is not None:
        session.format = proposed_time.format
        session.join_detail = proposed_time.join_detail
        session.proposed_time_id = proposed_time.id
    session.sequence += 1
    session.updated_at = now
    session.clear_new_time_request()
    db.session.flush()
    record_event(
        session.lead,
        EventKind.SESSION_MOVED,
        f"Session moved from {before} to "
        f"{format_range(session.starts_at, session.ends_at, settings.zone)}"
        f"{f' ({how})' if how else ''}",
        now=now,
        actor=actor,
        actor_label=actor_label,
        detail={"session_id": session.id, "from": before},
    )
    _close_offers_to_move(session, now, actor=actor, actor_label=actor_label)
    _send_session_update(session, "rescheduled", now, settings)
    return session


def _close_offers_to_move(
    session: CoachingSession, now: datetime, *, actor: Coach | None, actor_label: str
) -> None:
    """New times offered for this session are moot once it has moved or been cancelled."""
    closing = [p for p in open_proposals(session.lead) if p.moves_session_id == session.id]
    for proposal in closing:
        proposal.status = ProposalStatus.CLOSED
    if closing:
        record_event(
            session.lead,
            EventKind.PROPOSAL_CLOSED,
            "Open offer of new times for the session closed",
            now=now,
            actor=actor,
            actor_label=actor_label,
            detail={"session_id": session.id},
        )


def _mark_cancelled(session: CoachingSession, reason: str, now: datetime) -> None:
    session.status = SessionStatus.CANCELLED
    session.cancelled_at = now
    session.cancel_reason = reason
    session.sequence += 1
    session.updated_at = now
    session.clear_new_time_request()


def cancel_session(
    session: CoachingSession,
    actor: Coach | None,
    reason: str,
    now: datetime,
    *,
    settings: Settings,
    leader_status_set: bool = False,
    actor_label: str = "",
    leader_words: str | None = None,
) -> None:
    """Cancel a booked session. The lead goes back to "contacted" unless the caller has already
    moved it on (`leader_status_set`, e.g. not suitable). `actor` is the coach who cancels, or
    None with `actor_label` naming who did (the leader). `leader_words` is set when the leader
    cancelled: their own reason, which their email quotes instead of the history's summary."""
    if session.status != SessionStatus.BOOKED:
        raise DomainError(f"This session is already {session.status.value}.")
    reason = reason.strip()
    if not reason:
        raise DomainError("Say why the session is cancelled.")
    _mark_cancelled(session, reason, now)
    lead = session.lead
    when = format_range(session.starts_at, session.ends_at, settings.zone)
    # The history says who cancelled once (the Who column) and quotes the reason once: the
    # stored reason ("Cancelled by Sian: …") is worded for the calendars, not for the page.
    if leader_words is not None:
        summary = f"{actor_label or lead.full_name} cancelled the session on {when}"
        quoted = leader_words
    else:
        summary = f"Session {when} cancelled"
        quoted = reason
    record_event(
        lead,
        EventKind.SESSION_CANCELLED,
        summary,
        now=now,
        actor=actor,
        actor_label=actor_label,
        detail={
            "session_id": session.id,
            **({"reason": quoted} if quoted else {}),
            **({"by": "leader", "leader_words": leader_words} if leader_words is not None else {}),
        },
    )
    _close_offers_to_move(session, now, actor=actor, actor_label=actor_label)
    if not leader_status_set and lead.status == LeadStatus.AGREED:
        back = between_sessions_status(lead)
        move(
            lead,
            back,
            now=now,
            actor=actor,
            actor_label=actor_label,
            summary=f"Back to “{back.label}” (session cancelled)",
        )
        lead.status_reason = ""  # the session says why; an older reason no longer applies
    if session.starts_at > now:
        if leader_words is None:
            _send_session_update(session, "cancelled", now, settings)
        else:
            _send_session_update(
                session, "cancelled", now, settings, cancelled_by="leader", reason=leader_words
            )


def cancel_for_withdrawal(
    lead: Lead, now: datetime, *, settings: Settings
) -> CoachingSession | None:
    """The leader withdrew: cancel their booked session and take it out of both calendars.

    The caller cancels the lead's older pending mail first (`withdraw` does), or it would
    cancel the calendar CANCELs queued here too.
    """
    session = booked_session(lead)
    if session is None:
        return None
    _mark_cancelled(session, "The leader withdrew their interest", now)
    record_event(
        lead,
        EventKind.SESSION_CANCELLED,
        f"Session {format_range(session.starts_at, session.ends_at, settings.zone)} cancelled: "
        "the leader withdrew",
        now=now,
        actor_label=lead.full_name,
        detail={"session_id": session.id},
    )
    if session.starts_at > now:
        _send_session_update(
            session, "cancelled", now, settings, cancelled_by="withdrawn", reason=""
        )
    return session


# ----- the leader's own changes, from the link in their invitation (public/leader_session.py)


@dataclass(frozen=True)
class NewTimeRequest:
    """The leader's open request for a different time for a booked session."""

    session: CoachingSession
    at: datetime
    note: str
    # Made by saying none of the new times offered suit (rather than from the session page).
    none_suit: bool = False


def leader_can_change(session: CoachingSession, now: datetime) -> str | None:
    """Why the leader can no longer change this session ('cancelled', 'held', 'started',
    'withdrawn'), or None when they can."""
    if session.lead.status == LeadStatus.WITHDRAWN:
        return "withdrawn"
    if session.status == SessionStatus.CANCELLED:
        return "cancelled"
    if session.status == SessionStatus.HELD:
        return "held"
    if session.starts_at <= now:
        return "started"
    return None


_CANNOT_CHANGE = {
    "withdrawn": "You have withdrawn your interest, so this session is already cancelled.",
    "cancelled": "This session has been cancelled, so it cannot be changed.",
    "held": "This session has taken place, so it cannot be changed.",
    "started": "This session has already started, so it cannot be changed here. "
    "Reply to our email instead.",
}


def _check_leader_can_change(session: CoachingSession, now: datetime) -> None:
    problem = leader_can_change(session, now)
    if problem is not None:
        raise DomainError(_CANNOT_CHANGE[problem])


def leader_cancelled_with(session: CoachingSession) -> str | None:
    """The leader's own words when they cancelled this session themselves ("" for none), or
    None when the coach cancelled it (or the leader withdrew)."""
    for event in reversed(session.lead.events):
        if (
            event.kind == EventKind.SESSION_CANCELLED
            and event.detail.get("session_id") == session.id
        ):
            if event.detail.get("by") == "leader":
                return str(event.detail.get("leader_words") or "")
            return None
    return None


def leader_cancel_session(
    session: CoachingSession, reason: str, now: datetime, *, settings: Settings
) -> None:
    """The leader cancels their booked session from their link: the coach's cancel path, so
    both get a METHOD:CANCEL, the slot is free, the lead is back to "Contacted" and the
    reminders are cancelled."""
    _check_leader_can_change(session, now)
    name = session.lead.full_name
    reason = " ".join(reason.split())[:TEXT_MAX]
    when = format_range(session.starts_at, session.ends_at, settings.zone)
    cancel_session(
        session,
        None,
        f"Cancelled by {name}" + (f": {reason}" if reason else ""),
        now,
        settings=settings,
        actor_label=name,
        leader_words=reason,
    )
    # The session's coach has just been sent the calendar CANCEL, which tells them: only a
    # digest coach (a line in the digest), another coach now assigned, or the usual
    # recipients when the coach has left (an email) hear more.
    told = coach_of(session.lead, session.coach)
    tell_coach(
        told,
        session.lead_id,
        NoticeKind.CANCELLED,
        f"Cancelled the session on {when}",
        None
        if told is session.coach and told.active
        else lambda recipients: emails.coach_session_cancelled(
            session, recipients, reason, settings=settings
        ),
        now=now,
        settings=settings,
        session_id=session.id,
    )


def open_new_time_request(session: CoachingSession | None) -> NewTimeRequest | None:
    """The leader's request for a different time for this session, while nothing has answered
    it yet (the session moved, new times offered, or cancelled). A "none of the new times
    suit" opens it again."""
    if (
        session is None
        or session.status != SessionStatus.BOOKED
        or session.new_time_requested_at is None
    ):
        return None
    return NewTimeRequest(
        session, session.new_time_requested_at, session.new_time_request_note or ""
    )


def leader_request_new_time(
    session: CoachingSession, note: str, now: datetime, *, settings: Settings
) -> bool:
    """The leader asks for a different time. The session stays booked; the request goes on the
    history and to the coach, who moves the session or offers new times for it. Returns False
    when the same request is already open (a double click), with nothing recorded again."""
    _check_leader_can_change(session, now)
    note = note.strip()[:TEXT_MAX]  # the form requires a note of at most TEXT_MAX characters
    lead = session.lead
    current = open_new_time_request(session)
    if current is not None and current.note == note:
        return False
    session.set_new_time_request(now, note)
    when = format_range(session.starts_at, session.ends_at, settings.zone)
    record_event(
        lead,
        EventKind.NEW_TIME_REQUESTED,
        f"Asked for a different time for the session on {when}",
        now=now,
        actor_label=lead.full_name,
        detail={"session_id": session.id, "reason": note},
    )
    db.session.flush()
    tell_coach(
        coach_of(lead, session.coach),
        lead.id,
        NoticeKind.NEW_TIME_REQUESTED,
        f"Asked for a different time for the session on {when}",
        lambda recipients: emails.coach_new_time_requested(
            session, note, recipients, settings=settings
        ),
        now=now,
        settings=settings,
        session_id=session.id,
    )
    return True


# ----- the emails that follow a booking: calendar invitations (invite_emails.py) and reminders.


def _invite(
    session: CoachingSession,
    role: Role,
    change: str,
    now: datetime,
    settings: Settings,
    *,
    cancelled_by: str = "coach",
    reason: str | None = None,
) -> None:
    if change == "cancelled" and reason is None:
        reason = session.cancel_reason
    draft = invite_emails.invitation(
        session,
        role,
        change,
        now=now,
        settings=settings,
        reason=reason or "",
        cancelled_by=cancelled_by,
        ratings=pdf_ratings(session.lead) if Role(role) == Role.LEADER else None,
    )
    # Outbox kinds keep naming the purpose (a confirmation, an update) for the coach area.
    draft.kind = invitation_kind(role, change)
    outbox.enqueue(draft, lead_id=session.lead_id, session_id=session.id, now=now)
    if role == Role.COACH:
        # And into the coach's own CalDAV calendar, if they asked (same UID as this invitation).
        queue_session_write(session, "delete" if change == "cancelled" else "put", now)


def _queue_reminders(session: CoachingSession, now: datetime, settings: Settings) -> None:
    """A reminder to both, REMINDER_HOURS_BEFORE the start; none when that moment has passed
    (the invitation itself has only just gone)."""
    due = session.starts_at - timedelta(hours=settings.reminder_hours_before)
    if due <= now:
        return
    for role in Role:
        outbox.enqueue(
            invite_emails.reminder(session, role, settings=settings),
            lead_id=session.lead_id,
            session_id=session.id,
            due_at=due,
            now=now,
        )


def _send_session_confirmations(
    session: CoachingSession, now: datetime, settings: Settings
) -> None:
    """A time is agreed: a calendar invitation (REQUEST, SEQUENCE 0) to the leader and the
    coach, and their reminders."""
    for role in Role:
        _invite(session, role, "new", now, settings)
    _queue_reminders(session, now, settings)


def _send_session_update(
    session: CoachingSession,
    kind: str,
    now: datetime,
    settings: Settings,
    *,
    cancelled_by: str = "coach",
    reason: str | None = None,
) -> None:
    """A booked session moved ('rescheduled': REQUEST, same UID, higher SEQUENCE) or was
    cancelled ('cancelled': CANCEL). The caller has already raised the SEQUENCE. A
    cancellation says who cancelled: 'coach' (the reason stored on the session), 'leader'
    (their own words in `reason`) or 'withdrawn' (the leader withdrew)."""
    outbox.cancel_pending(session_id=session.id, kinds=(invite_emails.REMINDER_KIND,))
    change = "cancelled" if kind == "cancelled" else "updated"
    if change == "updated":
        # A new time asks both again: the calendars reset their answer to NEEDS-ACTION too.
        session.leader_partstat = session.coach_partstat = PartStat.NEEDS_ACTION
    # A withdrawn leader gets no more mail, with one exception: the CANCEL for the session
    # they were booked into. They asked to withdraw, and without it the event would stay in
    # their calendar (the invitation put it there); the CANCEL only removes it.
    if change == "cancelled" or session.lead.status != LeadStatus.WITHDRAWN:
        _invite(
            session, Role.LEADER, change, now, settings, cancelled_by=cancelled_by, reason=reason
        )
    _invite(session, Role.COACH, change, now, settings, cancelled_by=cancelled_by, reason=reason)
    if change == "updated":
        _queue_reminders(session, now, settings)


__all__ = [
    "NewTimeRequest",
    "Slot",
    "agree_time",
    "cancel_session",
    "leader_can_change",
    "leader_cancel_session",
    "leader_request_new_time",
    "local_start",
    "none_suit",
    "open_new_time_request",
    "proposal_open",
    "propose_times",
    "record_agreed_time",
    "reschedule_session",
]

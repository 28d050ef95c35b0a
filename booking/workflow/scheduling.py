"""Agreeing a session time: proposals, the leader's choice, times agreed directly, and changes.

Times are entered in the firm's zone (TIMEZONE) and stored in UTC. A coach's booked sessions
never overlap: checked here with a clear message, and guarded by the database (one booked
session per coach and start, one booked session per lead) against two requests at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from email.utils import parseaddr
from urllib.parse import urlsplit
from uuid import uuid4

from flask import current_app
from sqlalchemy import select

from .. import emails, invite_emails, outbox
from ..extensions import db
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
from ..timefmt import format_range, local_to_utc
from ..tokens import make_token
from ..urls import external_url
from .common import DomainError, coach_notification_recipients, record_event
from .leads import booked_session, close_open_proposals, move
from .registration import withdraw_url

MAX_TIMES = 5
MIN_MINUTES, MAX_MINUTES = 15, 480

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


def local_start(day: date, start: time) -> datetime:
    """A local wall-clock time as aware UTC; a time the clocks skip is refused in words."""
    try:
        return local_to_utc(day, start)
    except ValueError as error:
        raise DomainError(
            f"{start:%H:%M} on {day:%A} {day.day} {day:%B %Y} does not exist in "
            f"{current_app.config['TIMEZONE']}: the clocks go forward that night. "
            "Choose another time."
        ) from error


def _check_duration(minutes: int) -> timedelta:
    if not MIN_MINUTES <= minutes <= MAX_MINUTES:
        raise DomainError(f"A session lasts between {MIN_MINUTES} and {MAX_MINUTES} minutes.")
    return timedelta(minutes=minutes)


def _check_detail(format: SessionFormat, detail: str) -> str:
    detail = " ".join(detail.split())
    if not detail:
        raise DomainError(f"Give {DETAIL_NEEDED[format]}.")
    if format == SessionFormat.VIDEO:
        parts = urlsplit(detail)
        if parts.scheme not in ("https", "http") or not parts.netloc:
            raise DomainError("Give the video call's joining link as a web address "
                              "starting with https://")
    return detail


def _clash(coach: Coach, starts: datetime, ends: datetime,
           excluding: CoachingSession | None = None) -> CoachingSession | None:
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


def _check_time(coach: Coach, starts: datetime, ends: datetime, now: datetime, label: str,
                excluding: CoachingSession | None = None) -> None:
    if starts <= now:
        raise DomainError(f"{label} ({format_range(starts, ends)}) is in the past.")
    other = _clash(coach, starts, ends, excluding)
    if other is not None:
        raise DomainError(
            f"{label} ({format_range(starts, ends)}) clashes with {coach.name}'s session with "
            f"{other.lead.full_name}, {format_range(other.starts_at, other.ends_at)}."
        )


def _check_coach(lead: Lead, coach: Coach) -> None:
    if lead.assigned_coach_id is not None and lead.assigned_coach_id != coach.id:
        owner = lead.assigned_coach.name if lead.assigned_coach else "another coach"
        raise DomainError(f"This lead is assigned to {owner}. Take it first if you are "
                          "agreeing the time.")


def _take_if_unassigned(lead: Lead, coach: Coach, now: datetime) -> None:
    if lead.assigned_coach_id is None:
        lead.assigned_coach = coach
        lead.assigned_coach_id = coach.id
        record_event(lead, "assigned", f"Taken by {coach.name}", now=now, actor=coach,
                     detail={"coach_id": coach.id})


def choose_url(proposal: Proposal) -> str:
    # The token carries the proposal's id only: no personal data in the link.
    return external_url("public.choose_time", token=make_token("choose-time", proposal.id))


def propose_times(lead: Lead, coach: Coach, slots: list[Slot], now: datetime) -> Proposal:
    """Offer the leader 1 to 5 times; the previous open proposal closes; the leader is emailed."""
    if lead.status not in (LeadStatus.NEW, LeadStatus.CONTACTED, LeadStatus.TIMES_PROPOSED):
        raise DomainError(f"This lead is “{lead.status.label}”, so times cannot be proposed. "
                          "Times can be proposed to a lead that is New, Contacted or "
                          "Times proposed.")
    _check_coach(lead, coach)
    if not 1 <= len(slots) <= MAX_TIMES:
        raise DomainError(f"Propose between 1 and {MAX_TIMES} times.")

    times: list[ProposedTime] = []
    starts_seen: set[datetime] = set()
    for number, slot in enumerate(slots, start=1):
        label = f"Time {number}" if len(slots) > 1 else "The time"
        try:
            starts = local_start(slot.day, slot.start)
            length = _check_duration(slot.duration_minutes)
            detail = _check_detail(slot.format, slot.detail)
        except DomainError as error:
            raise DomainError(f"{label}: {error}") from error
        ends = starts + length
        if starts in starts_seen:
            raise DomainError(f"{label} is the same as an earlier time. Offer different times.")
        starts_seen.add(starts)
        _check_time(coach, starts, ends, now, label)
        times.append(ProposedTime(starts_at=starts, ends_at=ends, format=slot.format,
                                  join_detail=detail))

    replaced = close_open_proposals(lead, now=now)
    _take_if_unassigned(lead, coach, now)
    proposal = Proposal(lead=lead, lead_id=lead.id, coach=coach, coach_id=coach.id,
                        created_at=now, status=ProposalStatus.OPEN, times=times)
    db.session.add(proposal)
    move(lead, LeadStatus.TIMES_PROPOSED, now=now, actor=coach,
         summary=(f"Proposed {len(times)} new time{'s' if len(times) != 1 else ''}"
                  f"{' (the earlier proposal is closed)' if replaced else ''}"),
         detail={"times": [format_range(t.starts_at, t.ends_at) for t in times]})
    db.session.flush()
    outbox.enqueue(emails.leader_proposed_times(proposal, choose_url(proposal), withdraw_url(lead)),
                   lead_id=lead.id, now=now)
    return proposal


def _new_uid() -> str:
    address = parseaddr(current_app.config["MAIL_DEFAULT_SENDER"])[1]
    domain = address.rsplit("@", 1)[-1] if "@" in address else "localhost"
    return f"{uuid4()}@{domain}"


def _book(lead: Lead, coach: Coach, starts: datetime, ends: datetime, format: SessionFormat,
          detail: str, now: datetime, proposed_time: ProposedTime | None = None
          ) -> CoachingSession:
    session = CoachingSession(
        lead=lead, lead_id=lead.id, coach=coach, coach_id=coach.id,
        proposed_time_id=proposed_time.id if proposed_time else None,
        starts_at=starts, ends_at=ends, format=format, join_detail=detail,
        uid=_new_uid(), sequence=0, status=SessionStatus.BOOKED,
        created_at=now, updated_at=now,
    )
    db.session.add(session)
    # The unique indexes speak here, inside the caller's transaction: two picks of one slot
    # at once (or a double click) fail with IntegrityError, which the view turns into words.
    db.session.flush()
    return session


def agree_time(proposed_time: ProposedTime, now: datetime) -> CoachingSession:
    """The leader picks one of the proposed times."""
    proposal = proposed_time.proposal
    lead = proposal.lead
    if proposal.status != ProposalStatus.OPEN or lead.status != LeadStatus.TIMES_PROPOSED:
        raise DomainError("These times are no longer open: a time has been chosen, or the "
                          "coach has sent new times.")
    if proposed_time.starts_at <= now:
        raise DomainError("That time has already passed. Please choose another.")
    if _clash(proposal.coach, proposed_time.starts_at, proposed_time.ends_at) is not None:
        raise DomainError("Sorry, that time has just been taken. Please choose another, or "
                          "tell us none of them suit.")
    session = _book(lead, proposal.coach, proposed_time.starts_at, proposed_time.ends_at,
                    proposed_time.format, proposed_time.join_detail, now, proposed_time)
    proposal.status = ProposalStatus.CHOSEN
    proposal.responded_at = now
    move(lead, LeadStatus.AGREED, now=now, actor_label=lead.full_name,
         summary=f"Chose {format_range(session.starts_at, session.ends_at)}")
    _send_session_confirmations(session, now)
    return session


def none_suit(proposal: Proposal, note: str, now: datetime) -> None:
    """The leader says none of the times suit, with a note (and times that would)."""
    lead = proposal.lead
    if proposal.status != ProposalStatus.OPEN or lead.status != LeadStatus.TIMES_PROPOSED:
        raise DomainError("These times are no longer open.")
    note = note.strip()
    if not note:
        raise DomainError("Tell the coach which times would suit you.")
    proposal.status = ProposalStatus.NONE_SUIT
    proposal.leader_note = note[:2000]
    proposal.responded_at = now
    move(lead, LeadStatus.CONTACTED, now=now, actor_label=lead.full_name,
         reason=proposal.leader_note, summary="None of the proposed times suit")
    recipients = [proposal.coach.email] if proposal.coach.active else \
        coach_notification_recipients()
    if recipients:
        outbox.enqueue(emails.coach_none_suit(proposal, recipients), lead_id=lead.id, now=now)


def record_agreed_time(lead: Lead, coach: Coach, start: datetime, duration: int,
                       format: SessionFormat, detail: str, now: datetime) -> CoachingSession:
    """A time agreed by phone or email: book it directly."""
    if lead.status not in (LeadStatus.NEW, LeadStatus.CONTACTED, LeadStatus.TIMES_PROPOSED):
        hint = " Move the booked session instead." if lead.status == LeadStatus.AGREED else ""
        raise DomainError(f"This lead is “{lead.status.label}”, so a time cannot be agreed.{hint}")
    _check_coach(lead, coach)
    length = _check_duration(duration)
    detail = _check_detail(format, detail)
    _check_time(coach, start, start + length, now, "The time")
    _take_if_unassigned(lead, coach, now)
    if close_open_proposals(lead, now=now):
        record_event(lead, "proposal-closed", "Open proposal closed (time agreed directly)",
                     now=now, actor=coach)
    session = _book(lead, coach, start, start + length, format, detail, now)
    move(lead, LeadStatus.AGREED, now=now, actor=coach,
         summary="Recorded a time agreed directly: "
                 f"{format_range(session.starts_at, session.ends_at)}")
    _send_session_confirmations(session, now)
    return session


def reschedule_session(session: CoachingSession, coach: Coach, start: datetime, duration: int,
                       now: datetime) -> CoachingSession:
    if session.status != SessionStatus.BOOKED:
        raise DomainError(f"This session is {session.status.value}, so it cannot be moved.")
    length = _check_duration(duration)
    _check_time(session.coach, start, start + length, now, "The new time", excluding=session)
    before = format_range(session.starts_at, session.ends_at)
    session.starts_at, session.ends_at = start, start + length
    session.sequence += 1
    session.updated_at = now
    db.session.flush()
    record_event(session.lead, "session-moved",
                 f"Session moved from {before} to "
                 f"{format_range(session.starts_at, session.ends_at)}",
                 now=now, actor=coach, detail={"session_id": session.id, "from": before})
    _send_session_update(session, "rescheduled", now)
    return session


def _mark_cancelled(session: CoachingSession, reason: str, now: datetime) -> None:
    session.status = SessionStatus.CANCELLED
    session.cancelled_at = now
    session.cancel_reason = reason
    session.sequence += 1
    session.updated_at = now


def cancel_session(session: CoachingSession, actor: Coach | None, reason: str, now: datetime,
                   *, leader_status_set: bool = False) -> None:
    """Cancel a booked session. The lead goes back to "contacted" unless the caller has already
    moved it on (`leader_status_set`, e.g. not suitable)."""
    if session.status != SessionStatus.BOOKED:
        raise DomainError(f"This session is already {session.status.value}.")
    reason = reason.strip()
    if not reason:
        raise DomainError("Say why the session is cancelled.")
    _mark_cancelled(session, reason, now)
    lead = session.lead
    record_event(lead, "session-cancelled",
                 f"Session {format_range(session.starts_at, session.ends_at)} cancelled: {reason}",
                 now=now, actor=actor, detail={"session_id": session.id, "reason": reason})
    if not leader_status_set and lead.status == LeadStatus.AGREED:
        move(lead, LeadStatus.CONTACTED, now=now, actor=actor, reason=reason,
             summary="Back to “Contacted” (session cancelled)")
    if session.starts_at > now:
        _send_session_update(session, "cancelled", now)


def cancel_for_withdrawal(lead: Lead, now: datetime) -> CoachingSession | None:
    """The leader withdrew: cancel their booked session and take it out of both calendars.

    The caller cancels the lead's older pending mail first (`withdraw` does), or it would
    cancel the calendar CANCELs queued here too.
    """
    session = booked_session(lead)
    if session is None:
        return None
    _mark_cancelled(session, "The leader withdrew their interest", now)
    record_event(lead, "session-cancelled",
                 f"Session {format_range(session.starts_at, session.ends_at)} cancelled: "
                 "the leader withdrew", now=now, actor_label=lead.full_name,
                 detail={"session_id": session.id})
    if session.starts_at > now:
        _send_session_update(session, "cancelled", now)
    return session


# ----- the emails that follow a booking: calendar invitations (invite_emails.py) and reminders.


def _invite(session: CoachingSession, role: str, change: str, now: datetime) -> None:
    draft = invite_emails.invitation(session, role, change, now=now,
                                     reason=session.cancel_reason if change == "cancelled" else "")
    # Outbox kinds keep naming the purpose (a confirmation, an update) for the coach area.
    draft.kind = f"{role}_session_{'confirmed' if change == 'new' else 'update'}"
    outbox.enqueue(draft, lead_id=session.lead_id, session_id=session.id, now=now)


def _queue_reminders(session: CoachingSession, now: datetime) -> None:
    """A reminder to both, REMINDER_HOURS_BEFORE the start; none when that moment has passed
    (the invitation itself has only just gone)."""
    due = session.starts_at - timedelta(hours=float(current_app.config["REMINDER_HOURS_BEFORE"]))
    if due <= now:
        return
    for role in invite_emails.ROLES:
        outbox.enqueue(invite_emails.reminder(session, role), lead_id=session.lead_id,
                       session_id=session.id, due_at=due, now=now)


def _send_session_confirmations(session: CoachingSession, now: datetime) -> None:
    """A time is agreed: a calendar invitation (REQUEST, SEQUENCE 0) to the leader and the
    coach, and their reminders."""
    for role in invite_emails.ROLES:
        _invite(session, role, "new", now)
    _queue_reminders(session, now)


def _send_session_update(session: CoachingSession, kind: str, now: datetime) -> None:
    """A booked session moved ('rescheduled': REQUEST, same UID, higher SEQUENCE) or was
    cancelled ('cancelled': CANCEL). The caller has already raised the SEQUENCE."""
    outbox.cancel_pending(session_id=session.id, kinds=(invite_emails.REMINDER_KIND,))
    change = "cancelled" if kind == "cancelled" else "updated"
    if change == "updated":
        # A new time asks both again: the calendars reset their answer to NEEDS-ACTION too.
        session.leader_partstat = session.coach_partstat = PartStat.NEEDS_ACTION
    # A withdrawn leader gets no more mail, with one exception: the CANCEL for the session
    # they were booked into. They asked to withdraw, and without it the event would stay in
    # their calendar (the invitation put it there); the CANCEL only removes it.
    if change == "cancelled" or session.lead.status != LeadStatus.WITHDRAWN:
        _invite(session, "leader", change, now)
    _invite(session, "coach", change, now)
    if change == "updated":
        _queue_reminders(session, now)


__all__ = [
    "Slot",
    "agree_time",
    "cancel_session",
    "choose_url",
    "local_start",
    "none_suit",
    "propose_times",
    "record_agreed_time",
    "reschedule_session",
]

"""Coaches' hours, and leaders booking, moving and cancelling a free slot themselves.

The slot arithmetic is pure (booking/availability.py); this module reads the rules and busy
times from the database (a fixed number of queries for any number of coaches) and books through
the same paths as a proposed time (scheduling._book, _move_session, cancel_session): the same
invitations, reminders and history.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import delete, select

from .. import calendars
from ..availability import (
    AvailabilityRules,
    ExtraTime,
    Interval,
    Slot,
    TimeRange,
    earliest_start,
    free_slots,
    latest_start,
)
from ..extensions import db
from ..kinds import EventKind
from ..models import (
    Coach,
    CoachAvailability,
    CoachHours,
    CoachingSession,
    Lead,
    LeadStatus,
    SessionFormat,
    SessionStatus,
)
from ..settings import Settings
from ..timefmt import format_range
from .common import DomainError, record_event
from .lifecycle import close_open_proposals, move
from .scheduling import (
    _book,
    _check_leader_can_change,
    _move_session,
    _send_session_confirmations,
)

# Leads that may book a first session themselves.
BOOKABLE = (LeadStatus.NEW, LeadStatus.CONTACTED, LeadStatus.TIMES_PROPOSED)


@dataclass(frozen=True)
class CoachRules:
    coach: Coach
    availability: CoachAvailability
    rules: AvailabilityRules


def rules_for(coach_ids: Sequence[int] | None) -> dict[int, CoachRules]:
    """The rules of these coaches (None: every active coach) who have set any hours. Two
    queries whatever the number of coaches."""
    query = (
        select(CoachAvailability, Coach)
        .join(Coach, Coach.id == CoachAvailability.coach_id)
        .where(Coach.active)
    )
    if coach_ids is not None:
        query = query.where(CoachAvailability.coach_id.in_(coach_ids))
    rows = db.session.execute(query).all()
    found = {a.coach_id: (a, c) for a, c in rows}
    hours: list[CoachHours] = (
        list(db.session.scalars(select(CoachHours).where(CoachHours.coach_id.in_(found))))
        if found
        else []
    )
    weekly: dict[int, dict[int, list[TimeRange]]] = {cid: {} for cid in found}
    off: dict[int, set[date]] = {cid: set() for cid in found}
    extra: dict[int, list[ExtraTime]] = {cid: [] for cid in found}
    for line in hours:
        if line.weekday is not None and line.starts and line.ends:
            weekly[line.coach_id].setdefault(line.weekday, []).append(
                TimeRange(line.starts, line.ends)
            )
        elif line.day is not None and line.starts and line.ends:
            extra[line.coach_id].append(ExtraTime(line.day, TimeRange(line.starts, line.ends)))
        elif line.day is not None:
            off[line.coach_id].add(line.day)
    result = {}
    for cid, (availability, coach) in found.items():
        rules = AvailabilityRules(
            weekly=weekly[cid],
            session_minutes=availability.session_minutes,
            buffer_minutes=availability.buffer_minutes,
            notice_working_days=availability.notice_working_days,
            horizon_days=availability.horizon_days,
            days_off=frozenset(off[cid]),
            extra=tuple(extra[cid]),
        )
        if rules.has_hours:
            result[cid] = CoachRules(coach, availability, rules)
    return result


def busy_intervals(
    coach_ids: Sequence[int], start: datetime, end: datetime, excluding: int | None = None
) -> dict[int, list[Interval]]:
    """Each coach's busy times overlapping [start, end): one query for any number of coaches.

    Their booked sessions (`excluding` one session, the one being moved) and the busy times
    read from their own calendars by `flask calendars sync` (which skips our own sessions'
    entries there, so nothing counts twice). Every caller (the slot page, booking, moving) comes
    through here. Two queries whatever the number of coaches.
    """
    busy: dict[int, list[Interval]] = {cid: [] for cid in coach_ids}
    if not coach_ids:
        return busy
    query = select(
        CoachingSession.coach_id, CoachingSession.starts_at, CoachingSession.ends_at
    ).where(
        CoachingSession.coach_id.in_(coach_ids),
        CoachingSession.status == SessionStatus.BOOKED,
        CoachingSession.starts_at < end,
        CoachingSession.ends_at > start,
    )
    if excluding is not None:
        query = query.where(CoachingSession.id != excluding)
    for coach_id, starts_at, ends_at in db.session.execute(query):
        busy[coach_id].append((starts_at, ends_at))
    for coach_id, intervals in calendars.busy_intervals(coach_ids, start, end).items():
        busy[coach_id].extend(intervals)
    return busy


def free_slots_by_coach(
    coach_ids: Sequence[int] | None,
    now: datetime,
    *,
    settings: Settings,
    excluding_session: int | None = None,
) -> dict[int, tuple[CoachRules, list[Slot]]]:
    """Every coach's free slots from now to their horizon (three queries in all)."""
    found = rules_for(coach_ids)
    if not found:
        return {}
    end = max(latest_start(r.rules, now) for r in found.values()) + timedelta(days=1)
    busy = busy_intervals(list(found), now, end, excluding=excluding_session)
    return {
        cid: (
            r,
            free_slots(
                r.rules,
                busy[cid],
                window_start=now,
                window_end=end,
                now=now,
                zone=settings.zone,
            ),
        )
        for cid, r in found.items()
    }


def merged_slots(by_coach: dict[int, tuple[CoachRules, list[Slot]]]) -> list[Slot]:
    """The distinct free slots of several coaches, in order (a leader sees a time once)."""
    return sorted({slot for _, slots in by_coach.values() for slot in slots})


def _fair_coach(candidates: Sequence[Coach]) -> Coach:
    """Among coaches free at a time, the one given a lead longest ago (as registration does)."""
    return min(
        candidates,
        key=lambda c: (
            c.last_assigned_at is not None,
            c.last_assigned_at or datetime.min.replace(tzinfo=None),
            c.id,
        ),
    )


def _check_leader_can_book(lead: Lead) -> None:
    if lead.status == LeadStatus.WITHDRAWN:
        raise DomainError("You withdrew your interest, so there is nothing to book.")
    if lead.status not in BOOKABLE:
        raise DomainError(
            "Your session is already booked: see the link in your invitation to change it."
        )


def book_free_slot(
    lead: Lead, starts_at: datetime, now: datetime, *, settings: Settings
) -> CoachingSession:
    """The leader books a free slot: their coach's, or (unassigned) the fairest free coach's.

    The slot is checked free again here, inside the booking transaction; the database's
    constraints settle two bookings of one slot at once (the view words the loser's page).
    """
    _check_leader_can_book(lead)
    coach_ids = [lead.assigned_coach_id] if lead.assigned_coach_id is not None else None
    by_coach = free_slots_by_coach(coach_ids, now, settings=settings)
    free = [r for r, slots in by_coach.values() if any(s.starts_at == starts_at for s in slots)]
    if not free:
        raise DomainError("Sorry, that time has just been taken. Please choose another.")
    chosen = free[0] if len(free) == 1 else None
    if chosen is None:
        coach = _fair_coach([r.coach for r in free])
        chosen = next(r for r in free if r.coach.id == coach.id)
    coach, availability = chosen.coach, chosen.availability
    if lead.assigned_coach_id is None:
        lead.assigned_coach = coach
        lead.assigned_coach_id = coach.id
        coach.last_assigned_at = now
        record_event(
            lead,
            EventKind.ASSIGNED,
            f"Assigned to {coach.name} (the leader booked their free time)",
            now=now,
            actor_label=lead.full_name,
            detail={"coach_id": coach.id},
        )
    if close_open_proposals(lead, now=now):
        record_event(
            lead,
            EventKind.PROPOSAL_CLOSED,
            "Open proposal closed (the leader booked a free time)",
            now=now,
            actor_label=lead.full_name,
        )
    ends_at = starts_at + timedelta(minutes=chosen.rules.session_minutes)
    session = _book(
        lead,
        coach,
        starts_at,
        ends_at,
        availability.format,
        availability.join_detail,
        now,
        settings,
    )
    move(
        lead,
        LeadStatus.AGREED,
        now=now,
        actor_label=lead.full_name,
        summary=f"Booked a free time: {format_range(starts_at, ends_at, settings.zone)}",
    )
    _send_session_confirmations(session, now, settings)
    return session


def leader_move_session(
    session: CoachingSession, starts_at: datetime, now: datetime, *, settings: Settings
) -> CoachingSession:
    """The leader moves their session to another of the coach's free slots (same UID,
    SEQUENCE + 1). Refused once the session is inside the coach's notice period."""
    _check_leader_can_change(session, now)
    by_coach = free_slots_by_coach(
        [session.coach_id], now, settings=settings, excluding_session=session.id
    )
    if session.coach_id not in by_coach:
        raise DomainError("Your coach has no free times to move to. Reply to our email instead.")
    rules, slots = by_coach[session.coach_id]
    if not within_notice(session, rules.rules, now, settings):
        raise DomainError(
            "Your session is too soon to move here. Reply to our email and your coach will help."
        )
    if starts_at == session.starts_at:
        raise DomainError("Your session is at that time already. Please choose another.")
    if not any(s.starts_at == starts_at for s in slots):
        raise DomainError("Sorry, that time has just been taken. Please choose another.")
    return _move_session(
        session,
        starts_at,
        starts_at + (session.ends_at - session.starts_at),
        now,
        settings=settings,
        actor_label=session.lead.full_name,
        how="the leader picked a free time",
    )


def within_notice(
    session: CoachingSession, rules: AvailabilityRules, now: datetime, settings: Settings
) -> bool:
    """Whether the session still starts after the coach's minimum notice (so it may move)."""
    return session.starts_at >= earliest_start(rules, now, settings.zone)


# ----- the coach's own rules ------------------------------------------------------------


@dataclass(frozen=True)
class HoursInput:
    session_minutes: int
    buffer_minutes: int
    notice_working_days: int
    horizon_days: int
    format: SessionFormat
    join_detail: str
    weekly: dict[int, list[TimeRange]]
    days_off: list[date]
    extra: list[ExtraTime]


def availability_of(coach: Coach) -> CoachAvailability | None:
    return db.session.get(CoachAvailability, coach.id)


def hours_of(coach: Coach) -> list[CoachHours]:
    return list(
        db.session.scalars(
            select(CoachHours)
            .where(CoachHours.coach_id == coach.id)
            .order_by(CoachHours.weekday, CoachHours.day, CoachHours.starts)
        )
    )


def save_availability(coach: Coach, data: HoursInput, now: datetime) -> CoachAvailability:
    """Replace the coach's hours and settings with these (the form is the whole set)."""
    if data.weekly or data.extra:
        if not " ".join(data.join_detail.split()):
            raise DomainError("Give the joining detail for sessions leaders book themselves.")
    availability = availability_of(coach)
    if availability is None:
        availability = CoachAvailability(coach_id=coach.id)
        db.session.add(availability)
    availability.session_minutes = data.session_minutes
    availability.buffer_minutes = data.buffer_minutes
    availability.notice_working_days = data.notice_working_days
    availability.horizon_days = data.horizon_days
    availability.format = data.format
    availability.join_detail = " ".join(data.join_detail.split())
    availability.updated_at = now
    db.session.execute(delete(CoachHours).where(CoachHours.coach_id == coach.id))
    for weekday, ranges in data.weekly.items():
        for r in ranges:
            db.session.add(
                CoachHours(coach_id=coach.id, weekday=weekday, starts=r.start, ends=r.end)
            )
    for day in sorted(set(data.days_off)):
        db.session.add(CoachHours(coach_id=coach.id, day=day))
    for extra in data.extra:
        db.session.add(
            CoachHours(
                coach_id=coach.id, day=extra.day, starts=extra.range.start, ends=extra.range.end
            )
        )
    db.session.flush()
    return availability


__all__ = [
    "CoachRules",
    "HoursInput",
    "availability_of",
    "book_free_slot",
    "busy_intervals",
    "free_slots_by_coach",
    "hours_of",
    "leader_move_session",
    "merged_slots",
    "rules_for",
    "save_availability",
    "within_notice",
]

"""Leaders booking a free slot themselves (SELF_BOOKING): /book/<token>, and moving their
session to another free slot from their session page.

The link carries a signed token for the purpose "book" (the lead's id). The page lists the
free slots of the lead's coach (or, unassigned, of every active coach with hours), grouped by
day; picking one is a POST that books at once (booking/workflow/self_booking.py), checking again
inside the transaction that the slot is still free. Two leaders taking one slot at once: the
database lets one through (unique index / exclusion constraint, SQLite's write lock), and the
other sees the next free slots.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from flask import Response, abort, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from sqlalchemy.exc import IntegrityError, OperationalError

from .. import links
from ..availability import Slot, group_by_day
from ..database import lost_a_race
from ..extensions import db
from ..invite_emails import calendar_text
from ..kinds import Role
from ..models import Coach, CoachingSession, Lead, LeadStatus
from ..settings import current_now, current_settings
from ..workflow import DomainError
from ..workflow.lifecycle import booked_session
from ..workflow.scheduling import leader_can_change
from ..workflow.self_booking import (
    BOOKABLE,
    book_free_slot,
    free_slots_by_coach,
    leader_move_session,
    merged_slots,
    within_notice,
)

TAKEN = (
    "Sorry, that time was taken a moment ago. Nothing has been booked for you: "
    "please choose another."
)
SHOWN_WHEN_TAKEN = 6


def _require_setting() -> None:
    if not current_settings().self_booking:
        abort(404)


def _picked() -> datetime | None:
    """The slot start from the form: an ISO UTC timestamp, or None when missing or malformed."""
    raw = (request.form.get("starts") or "").strip()
    try:
        moment = datetime.fromisoformat(raw)
        return moment.astimezone(UTC) if moment.tzinfo is not None else None
    except (ValueError, OverflowError):  # not a timestamp, or one at the edge of time
        return None


def _slots_for(lead: Lead) -> tuple[list[Slot], Coach | None]:
    """The free slots a leader can pick, and their coach (None when unassigned)."""
    now = current_now()
    coach_ids = [lead.assigned_coach_id] if lead.assigned_coach_id is not None else None
    by_coach = free_slots_by_coach(coach_ids, now, settings=current_settings())
    return merged_slots(by_coach), lead.assigned_coach


def _minutes(slots: list[Slot]) -> int | None:
    """The session length when every slot shown has the same one (coaches may differ)."""
    lengths = {int((s.ends_at - s.starts_at).total_seconds() // 60) for s in slots}
    return lengths.pop() if len(lengths) == 1 else None


def _render_slots(
    token: str,
    lead: Lead,
    *,
    error: str | None = None,
    status: int = 200,
    after: datetime | None = None,
) -> ResponseReturnValue:
    slots, coach = _slots_for(lead)
    if after is not None:
        # The time just lost: offer the next free ones first.
        slots = [s for s in slots if s.starts_at > after][:SHOWN_WHEN_TAKEN] or slots
    return render_template(
        "public/book.html",
        token=token,
        lead=lead,
        coach=coach,
        days=group_by_day(slots, current_settings().zone),
        minutes=_minutes(slots),
        error=error,
        action=url_for("public.book_pick", token=token),
        withdraw_url=links.withdraw_url(lead),
    ), status


def add_to_calendar(session: CoachingSession) -> dict[str, str]:
    """Google Calendar and Outlook.com "add event" links for the leader's session."""
    settings = current_settings()
    title = f"Coaching session with {session.coach.name} ({settings.firm_name})"
    details = f"Your session: {links.leader_session_url(session)}"
    google = "https://calendar.google.com/calendar/render?" + urlencode(
        {
            "action": "TEMPLATE",
            "text": title,
            "dates": f"{session.starts_at:%Y%m%dT%H%M%SZ}/{session.ends_at:%Y%m%dT%H%M%SZ}",
            "details": details,
        }
    )
    outlook = "https://outlook.live.com/calendar/0/action/compose?" + urlencode(
        {
            "subject": title,
            "startdt": session.starts_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "enddt": session.ends_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "body": details,
        }
    )
    return {"google": google, "outlook": outlook}


def _done_context(session: CoachingSession) -> dict[str, Any]:
    token = links.leader_session_url(session).rsplit("/", 1)[-1]
    return {
        "session": session,
        "calendar_links": add_to_calendar(session),
        "ics_url": url_for("public.leader_session_ics", token=token),
        "session_url": links.leader_session_url(session),
        "withdraw_url": links.withdraw_url(session.lead),
    }


def book(token: str) -> ResponseReturnValue:
    _require_setting()
    lead = links.load_book(token)
    if lead.status == LeadStatus.WITHDRAWN:
        raise links.LinkRefused("used", "You withdrew your interest, so there is nothing to book.")
    session = booked_session(lead)
    if session is not None:
        return render_template("public/book_done.html", **_done_context(session))
    if lead.status not in BOOKABLE:
        raise links.LinkRefused("used", "This request is closed. Please reply to our last email.")
    return _render_slots(token, lead)


def book_pick(token: str) -> ResponseReturnValue:
    _require_setting()
    lead = links.load_book(token, for_update=True)
    if booked_session(lead) is not None or lead.status not in BOOKABLE:
        return redirect(url_for("public.book", token=token))
    starts = _picked()
    if starts is None:
        return _render_slots(token, lead, error="Choose one of the free times.", status=400)
    lead_id = lead.id
    try:
        book_free_slot(lead, starts, current_now(), settings=current_settings())
        db.session.commit()
    except DomainError as problem:
        db.session.rollback()
        return _render_slots(token, lead, error=str(problem), status=409, after=starts)
    except (IntegrityError, OperationalError) as error:
        if not lost_a_race(error):
            raise
        db.session.rollback()
        lead = db.session.get(Lead, lead_id) or abort(404)
        if booked_session(lead) is not None:  # a double click: the first one booked
            return redirect(url_for("public.book", token=token))
        return _render_slots(token, lead, error=TAKEN, status=409, after=starts)
    return redirect(url_for("public.book", token=token))


# ----- the leader's session page: move to another free slot, and the .ics download ----------


def _movable(token: str) -> CoachingSession | ResponseReturnValue:
    session = links.load_leader_session(token, for_update=request.method == "POST")
    if leader_can_change(session, current_now()) is not None:
        return redirect(url_for("public.leader_session", token=token))
    return session


def _render_move(
    token: str, session: CoachingSession, *, error: str | None = None, status: int = 200
) -> ResponseReturnValue:
    now, settings = current_now(), current_settings()
    by_coach = free_slots_by_coach(
        [session.coach_id], now, settings=settings, excluding_session=session.id
    )
    found = by_coach.get(session.coach_id)
    too_soon = found is not None and not within_notice(session, found[0].rules, now, settings)
    # Where it is now is not a choice (its own time is free of it, as it is being moved).
    slots = (
        []
        if found is None or too_soon
        else [s for s in found[1] if s.starts_at != session.starts_at]
    )
    return render_template(
        "public/book.html",
        token=token,
        lead=session.lead,
        coach=session.coach,
        days=group_by_day(slots, settings.zone),
        minutes=_minutes(slots),
        error=error,
        moving=session,
        too_soon=too_soon,
        action=url_for("public.leader_session_move", token=token),
        withdraw_url=links.withdraw_url(session.lead),
    ), status


def leader_session_move(token: str) -> ResponseReturnValue:
    _require_setting()
    session = _movable(token)
    if not isinstance(session, CoachingSession):
        return session
    if request.method == "GET":
        return _render_move(token, session)
    starts = _picked()
    if starts is None:
        return _render_move(token, session, error="Choose one of the free times.", status=400)
    session_id = session.id
    try:
        leader_move_session(session, starts, current_now(), settings=current_settings())
        db.session.commit()
    except DomainError as problem:
        db.session.rollback()
        return _render_move(token, session, error=str(problem), status=409)
    except (IntegrityError, OperationalError) as error:
        if not lost_a_race(error):
            raise
        db.session.rollback()
        session = db.session.get(CoachingSession, session_id) or abort(404)
        return _render_move(token, session, error=TAKEN, status=409)
    return render_template("public/book_done.html", moved=True, **_done_context(session))


def leader_session_ics(token: str) -> ResponseReturnValue:
    """The session as an .ics file: the invitation's calendar object (same UID and SEQUENCE)."""
    _require_setting()
    session = links.load_leader_session(token)
    text = calendar_text(session, Role.LEADER, "new", current_now(), current_settings())
    return Response(
        text,
        mimetype="text/calendar",
        headers={"Content-Disposition": 'attachment; filename="coaching-session.ics"'},
    )

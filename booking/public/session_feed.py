"""The coach's private subscription feed of their booked sessions (an .ics address).

Calendar apps fetch it on their own schedule and show no web page, so a refused address gets a
plain answer: 404 for one that never worked, 410 Gone for one the coach has replaced (calendar
apps stop polling a gone address).
"""

from __future__ import annotations

from datetime import timedelta

from flask import Response
from flask.typing import ResponseReturnValue
from sqlalchemy import select
from sqlalchemy.orm import joinedload

from .. import invites, links
from ..extensions import db
from ..links import LinkRefused
from ..models import CoachingSession, SessionStatus
from ..settings import current_now, current_settings

# Past sessions stay in the feed this long, so last week's sessions do not vanish.
FEED_PAST = timedelta(days=90)


def session_feed(token: str) -> ResponseReturnValue:
    try:
        coach = links.load_session_feed(token)
    except LinkRefused as refusal:
        status = 404 if refusal.reason == "invalid" else 410
        return Response(
            "This calendar address does not work (any more).\n",
            status=status,
            mimetype="text/plain",
        )
    now = current_now()
    sessions = list(
        db.session.scalars(
            select(CoachingSession)
            .options(joinedload(CoachingSession.lead))
            .where(
                CoachingSession.coach_id == coach.id,
                CoachingSession.status == SessionStatus.BOOKED,
                CoachingSession.ends_at >= now - FEED_PAST,
            )
            .order_by(CoachingSession.starts_at)
        )
    )
    settings = current_settings()
    body = invites.build_session_feed(
        sessions,
        calendar_name=f"Coaching sessions ({settings.firm_name})",
        now=now,
        lead_url=links.coach_lead_url,
    )
    response = Response(body, mimetype="text/calendar")
    response.headers["Content-Type"] = "text/calendar; charset=utf-8"
    response.headers["Content-Disposition"] = 'inline; filename="coaching-sessions.ics"'
    return response

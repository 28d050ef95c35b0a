"""A finished coaching journey for page tests: two held sessions, before-ratings, closed, the
follow-up sent (and, if asked, answered)."""

from __future__ import annotations

from datetime import datetime, timedelta

from booking.extensions import db
from booking.models import Coach, FollowUp, Lead, LeadStatus, SessionFormat
from booking.settings import current_settings
from booking.workflow.leads import change_status
from booking.workflow.outcomes import save_follow_up, send_due
from booking.workflow.responses import save_questionnaire
from booking.workflow.scheduling import record_agreed_time

from .coach_helpers import add_lead


def finished_journey(coach: Coach, n: int, now: datetime, answered: bool) -> tuple[Lead, FollowUp]:
    """All in the past of `now`: the follow-up fell due and went a day ago."""
    start = now - timedelta(days=60)
    settings = current_settings()
    lead = add_lead(start, n, full_name=f"Journey Leader {n}")
    for k in range(2):
        at = start + timedelta(days=1 + 7 * k)
        session = record_agreed_time(
            lead,
            coach,
            at,
            60,
            SessionFormat.VIDEO,
            "https://meet.example/j",
            at - timedelta(days=1),
            settings=settings,
        )
        if k == 0:
            save_questionnaire(
                session,
                {"rating_compassionate": "2", "rating_purpose_led": "3", "rating_practical": "2"},
                at - timedelta(hours=2),
                settings=settings,
            )
        change_status(
            lead,
            LeadStatus.HELD,
            coach=coach,
            reason="",
            now=at + timedelta(hours=1),
            settings=settings,
        )
    change_status(
        lead,
        LeadStatus.CLOSED,
        coach=coach,
        reason="",
        now=start + timedelta(days=10),
        settings=settings,
    )
    db.session.flush()
    follow_up = db.session.query(FollowUp).filter_by(lead_id=lead.id).one()
    follow_up.due_at = now - timedelta(days=1)
    send_due(now=now - timedelta(days=1), settings=settings)
    if answered:
        save_follow_up(
            follow_up,
            {"rating_compassionate": "4", "rating_purpose_led": "4", "rating_practical": "3"},
            now=now - timedelta(hours=1),
            settings=settings,
        )
    db.session.commit()
    return lead, follow_up

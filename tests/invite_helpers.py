"""Sessions made straight from the models, for the calendar-invite tests."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from booking.extensions import db
from booking.models import (
    Coach,
    CoachingSession,
    Lead,
    LeadStatus,
    SessionFormat,
)

LONDON = ZoneInfo("Europe/London")


def london(day: date, at: time) -> datetime:
    return datetime.combine(day, at, tzinfo=LONDON).astimezone(UTC)


def make_session(
    *,
    starts_at: datetime | None = None,
    minutes: int = 60,
    lead_name: str = "Siân Ó Briain",
    lead_email: str = "sian.obriain@nhs.example",
    coach_name: str = "Dr Kwame Mensah-Ellis",
    coach_email: str = "kwame@coaching.example",
    format: SessionFormat = SessionFormat.VIDEO,
    join_detail: str = "https://meet.example/room/abc-123",
    sequence: int = 0,
) -> CoachingSession:
    """A booked session between a new lead and a new coach, flushed (it has an id)."""
    now = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
    starts_at = starts_at or datetime(2026, 12, 7, 14, 0, tzinfo=UTC)
    coach = db.session.scalars(db.select(Coach).where(Coach.email == coach_email)).first()
    if coach is None:
        coach = Coach(email=coach_email, name=coach_name, password_hash="x", created_at=now)
        db.session.add(coach)
    lead = Lead(
        created_at=now,
        updated_at=now,
        full_name=lead_name,
        email=lead_email,
        organisation="Northfield Community Trust",
        role="Ward manager",
        preferred_format=format,
        consent_at=now,
        status=LeadStatus.AGREED,
        assigned_coach=coach,
    )
    session = CoachingSession(
        lead=lead,
        coach=coach,
        starts_at=starts_at,
        ends_at=starts_at + timedelta(minutes=minutes),
        format=format,
        join_detail=join_detail,
        uid=f"{uuid.uuid4()}@booking.test",
        sequence=sequence,
        created_at=now,
        updated_at=now,
    )
    db.session.add_all([lead, session])
    db.session.flush()
    return session

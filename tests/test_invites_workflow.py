"""Agreeing, moving and cancelling a session send calendar invitations and keep reminders right."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from icalendar import Calendar
from sqlalchemy import select

from booking import outbox
from booking.extensions import db
from booking.models import (
    Coach,
    Lead,
    LeadStatus,
    OutboxMessage,
    OutboxStatus,
    PartStat,
    SessionFormat,
)
from booking.settings import current_settings
from booking.workflow.responses import record_partstat
from booking.workflow.scheduling import cancel_session, record_agreed_time, reschedule_session

NOW = datetime(2026, 11, 30, 10, 0, tzinfo=UTC)


def lead_and_coach() -> tuple[Lead, Coach]:
    coach = Coach(
        email="kwame@coaching.example",
        name="Dr Kwame Mensah-Ellis",
        password_hash="x",
        created_at=NOW,
    )
    lead = Lead(
        created_at=NOW,
        updated_at=NOW,
        full_name="Siân Ó Briain",
        email="sian.obriain@nhs.example",
        organisation="Northfield Community Trust",
        role="Ward manager",
        preferred_format=SessionFormat.VIDEO,
        consent_at=NOW,
        status=LeadStatus.CONTACTED,
        assigned_coach=coach,
    )
    db.session.add_all([coach, lead])
    db.session.flush()
    return lead, coach


def rows(kind_suffix: str = "", status: OutboxStatus | None = None) -> list[OutboxMessage]:
    query = select(OutboxMessage).order_by(OutboxMessage.id)
    found = list(db.session.scalars(query))
    return [
        r for r in found if r.kind.endswith(kind_suffix) and (status is None or r.status == status)
    ]


def event_of(row: OutboxMessage):
    calendar = Calendar.from_ical(row.calendar)
    assert str(calendar["METHOD"]) == row.calendar_method
    return calendar.walk("VEVENT")[0]


def test_agreeing_sends_requests_and_queues_reminders(app_ctx):
    lead, coach = lead_and_coach()
    start = NOW + timedelta(days=3)
    session = record_agreed_time(
        lead,
        coach,
        start,
        60,
        SessionFormat.VIDEO,
        "https://meet.example/room/1",
        NOW,
        settings=current_settings(),
    )
    db.session.commit()

    invitations = [r for r in rows() if r.calendar]
    assert sorted(r.kind for r in invitations) == [
        "coach_session_confirmed",
        "leader_session_confirmed",
    ]
    for row in invitations:
        assert row.calendar_method == "REQUEST"
        event = event_of(row)
        assert str(event["UID"]) == session.uid and int(event["SEQUENCE"]) == 0
        assert row.sender != row.recipients[0]

    reminders = rows("session_reminder")
    assert sorted(r.recipients[0] for r in reminders) == [coach.email, lead.email]
    assert {r.due_at for r in reminders} == {start - timedelta(hours=24)}
    assert all(r.calendar is None for r in reminders)

    # Delivery sends the invitations now and the reminders only when due.
    report = outbox.deliver_due(now=NOW + timedelta(minutes=1))
    assert len(report.sent) == 2
    assert outbox.deliver_due(now=start - timedelta(hours=25)).sent == []
    assert len(outbox.deliver_due(now=start - timedelta(hours=24)).sent) == 2


def test_rescheduling_updates_the_same_event_and_moves_reminders(app_ctx):
    lead, coach = lead_and_coach()
    session = record_agreed_time(
        lead,
        coach,
        NOW + timedelta(days=3),
        60,
        SessionFormat.PHONE,
        "020 7946 0000",
        NOW,
        settings=current_settings(),
    )
    record_partstat(
        session, "leader", PartStat.ACCEPTED, NOW, source="email link", settings=current_settings()
    )
    db.session.commit()
    new_start = NOW + timedelta(days=5)
    reschedule_session(
        session, coach, new_start, 60, NOW + timedelta(hours=1), settings=current_settings()
    )
    db.session.commit()

    updates = rows("_session_update")
    assert sorted(r.kind for r in updates) == ["coach_session_update", "leader_session_update"]
    for row in updates:
        event = event_of(row)
        assert row.calendar_method == "REQUEST"
        assert str(event["UID"]) == session.uid
        assert int(event["SEQUENCE"]) == 1
        assert event.decoded("DTSTART") == new_start
        assert row.subject.startswith("Updated invitation")
    assert session.leader_partstat == PartStat.NEEDS_ACTION  # asked again for the new time

    old = rows("session_reminder", OutboxStatus.CANCELLED)
    live = rows("session_reminder", OutboxStatus.PENDING)
    assert len(old) == 2 and len(live) == 2
    assert {r.due_at for r in live} == {new_start - timedelta(hours=24)}


def test_cancelling_sends_cancel_and_no_reminder_survives(app_ctx):
    lead, coach = lead_and_coach()
    session = record_agreed_time(
        lead,
        coach,
        NOW + timedelta(days=3),
        60,
        SessionFormat.IN_PERSON,
        "1 High Street, Leeds",
        NOW,
        settings=current_settings(),
    )
    db.session.commit()
    cancel_session(
        session, coach, "Coach unwell", NOW + timedelta(hours=2), settings=current_settings()
    )
    db.session.commit()

    cancels = [r for r in rows("_session_update") if r.calendar]
    assert len(cancels) == 2
    for row in cancels:
        assert row.calendar_method == "CANCEL"
        event = event_of(row)
        assert str(event["STATUS"]) == "CANCELLED"
        assert str(event["UID"]) == session.uid and int(event["SEQUENCE"]) == 1
        assert "Coach unwell" in row.body_text
        assert [a["filename"] for a in json.loads(row.attachments_json)] == ["invite.ics"]
    assert rows("session_reminder", OutboxStatus.PENDING) == []
    assert len(rows("session_reminder", OutboxStatus.CANCELLED)) == 2


def test_a_session_agreed_for_tomorrow_morning_gets_no_late_reminder(app_ctx):
    lead, coach = lead_and_coach()
    record_agreed_time(
        lead,
        coach,
        NOW + timedelta(hours=20),
        60,
        SessionFormat.PHONE,
        "020 7946 0000",
        NOW,
        settings=current_settings(),
    )
    db.session.commit()
    assert rows("session_reminder") == []
    assert len([r for r in rows() if r.calendar]) == 2

"""A leader who withdraws while a session is booked: the calendar entry goes from both calendars.

Withdrawing cancels the lead's older pending mail (acknowledgement, reminders, invitations not
yet sent) and only then queues the METHOD:CANCEL to the coach and the leader, so the CANCELs
are not cancelled along with the rest. Workflow tests (no HTTP), plus one through a real SMTP
server and one through the leader's withdraw link.
"""

from __future__ import annotations

import base64
import json
from datetime import timedelta

from flask import Flask
from icalendar import Calendar
from sqlalchemy import select

from booking import outbox
from booking.extensions import db
from booking.invite_emails import REMINDER_KIND
from booking.links import withdraw_url
from booking.models import (
    CoachingSession,
    Lead,
    LeadStatus,
    OutboxMessage,
    OutboxStatus,
    SessionFormat,
    SessionStatus,
    utcnow,
)
from booking.workflow import withdraw
from booking.workflow.scheduling import record_agreed_time

from .coach_helpers import add_coach, add_lead, fast_passwords  # noqa: F401
from .conftest import hidden_fields


def messages() -> list[OutboxMessage]:
    return list(db.session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))


def booked(now, days: int = 3) -> tuple[Lead, CoachingSession]:
    coach = add_coach(now=now)
    lead = add_lead(now)
    session = record_agreed_time(
        lead,
        coach,
        now + timedelta(days=days),
        60,
        SessionFormat.VIDEO,
        "https://meet.example/room/1",
        now,
    )
    db.session.commit()
    return lead, session


def event_of(row: OutboxMessage):
    calendar = Calendar.from_ical(row.calendar)
    assert str(calendar["METHOD"]) == row.calendar_method
    [event] = calendar.walk("VEVENT")
    return event


def test_withdrawing_sends_both_a_calendar_cancel_that_survives_the_outbox_clear_out(app_ctx, now):
    lead, session = booked(now)
    invitations = {r.recipients[0]: r for r in messages() if r.calendar_method == "REQUEST"}
    assert set(invitations) == {lead.email, session.coach.email}
    uid, sequence = session.uid, session.sequence

    later = now + timedelta(hours=1)
    withdraw(lead, reason="Changed roles", now=later)
    db.session.commit()

    assert lead.status == LeadStatus.WITHDRAWN
    assert session.status == SessionStatus.CANCELLED
    assert session.sequence == sequence + 1
    cancels = [r for r in messages() if r.calendar_method == "CANCEL"]
    assert sorted(r.recipients[0] for r in cancels) == sorted([lead.email, session.coach.email])
    for row in cancels:
        # Queued after cancel_pending(lead_id=...), so still on its way.
        assert row.status == OutboxStatus.PENDING
        assert row.session_id == session.id and row.lead_id == lead.id
        event = event_of(row)
        assert str(event["UID"]) == uid
        assert int(event["SEQUENCE"]) == sequence + 1
        assert str(event["STATUS"]) == "CANCELLED"
        # The invite.ics attachment holds the same bytes as the inline part.
        [attachment] = json.loads(row.attachments_json)
        assert base64.b64decode(attachment["data_b64"]) == row.calendar.encode()


def test_withdrawing_cancels_the_older_mail_and_the_reminders(app_ctx, now):
    lead, session = booked(now)
    before = {r.id: r.kind for r in messages()}
    assert sorted(k for k in before.values() if k == REMINDER_KIND) == [REMINDER_KIND] * 2

    withdraw(lead, reason="", now=now + timedelta(hours=1))
    db.session.commit()
    db.session.expire_all()

    # Everything queued before the withdrawal that had not gone yet (here: all of it, the
    # acknowledgement, the coach's new-lead notice, both invitations, both reminders) is
    # cancelled; what is pending is exactly what the withdrawal itself queued.
    old = [r for r in messages() if r.id in before]
    assert {r.status for r in old} == {OutboxStatus.CANCELLED}
    pending = [
        (r.kind, r.calendar_method, r.recipients)
        for r in messages()
        if r.status == OutboxStatus.PENDING
    ]
    assert sorted(pending, key=str) == sorted(
        [
            ("leader_session_update", "CANCEL", [lead.email]),
            ("coach_session_update", "CANCEL", [session.coach.email]),
            ("coach_leader_withdrawn", None, [session.coach.email]),
        ],
        key=str,
    )

    # And nothing more is ever sent: not at the reminders' due time, not at the session.
    sent = outbox.deliver_due(now=now + timedelta(hours=2)).sent
    assert len(sent) == 3
    for moment in (session.starts_at - timedelta(hours=24), session.starts_at):
        assert outbox.deliver_due(now=moment).sent == []


def test_the_leaders_cancellation_says_it_is_the_last_email_and_has_no_withdraw_link(app_ctx, now):
    lead, session = booked(now)
    withdraw(lead, reason="", now=now + timedelta(hours=1))
    db.session.commit()
    [to_leader] = [
        r for r in messages() if r.calendar_method == "CANCEL" and r.recipients == [lead.email]
    ]
    assert "withdrawn your interest" in to_leader.body_text
    assert "last email" in to_leader.body_text
    assert "/withdraw/" not in to_leader.body_text and "/withdraw/" not in to_leader.body_html
    assert "reply to this email and we will find another time" not in to_leader.body_text
    [notice] = [r for r in messages() if r.kind == "coach_leader_withdrawn"]
    assert "calendar cancellations are on their way" in notice.body_text


def test_a_session_already_started_is_cancelled_without_calendar_mail(app_ctx, now):
    lead, session = booked(now, days=1)
    withdraw(lead, reason="", now=session.starts_at + timedelta(minutes=5))
    db.session.commit()
    assert session.status == SessionStatus.CANCELLED
    assert [r for r in messages() if r.calendar_method == "CANCEL"] == []
    assert [r.kind for r in messages() if r.status == OutboxStatus.PENDING] == [
        "coach_leader_withdrawn"
    ]


def test_withdrawing_without_a_session_sends_the_leader_nothing(app_ctx, now):
    add_coach(now=now)
    lead = add_lead(now)
    withdraw(lead, reason="", now=now)
    db.session.commit()
    assert [
        r for r in messages() if lead.email in r.recipients and r.status == OutboxStatus.PENDING
    ] == []


def test_both_cancellations_arrive_at_a_real_smtp_server(make_app, smtp_server, now):
    app = make_app(**smtp_server.config())
    with app.app_context():
        lead, session = booked(now)
        leader, coach, uid = lead.email, session.coach.email, session.uid
        withdraw(lead, reason="Changed roles", now=now + timedelta(hours=1))
        db.session.commit()
        report = outbox.deliver_due(now=now + timedelta(hours=2))
        assert not report.failed and not report.retrying

    [to_leader] = smtp_server.messages_to(leader)
    coach_mail = smtp_server.messages_to(coach)
    assert len(coach_mail) == 2  # the CANCEL, and the notice with the leader's reason
    [to_coach] = [m for m in coach_mail if m["Subject"].startswith("Cancelled:")]
    for message in (to_leader, to_coach):
        parts = [p for p in message.walk() if p.get_content_type() == "text/calendar"]
        inline = [p for p in parts if p.get_content_disposition() != "attachment"]
        assert [p.get_param("method") for p in parts] == ["CANCEL", "CANCEL"]
        event = Calendar.from_ical(inline[0].get_content()).walk("VEVENT")[0]
        assert str(event["UID"]) == uid and str(event["STATUS"]) == "CANCELLED"


def test_withdrawing_from_the_link_cancels_the_calendar_entry(app: Flask, client):
    with app.app_context():
        lead, session = booked(utcnow())
        path = withdraw_url(lead).removeprefix("http://booking.test")
        session_id = session.id
    confirm = client.get(path)
    assert confirm.status_code == 200
    response = client.post(path, data=hidden_fields(confirm.get_data(as_text=True)))
    assert response.status_code in (200, 302)
    with app.app_context():
        session = db.session.get(CoachingSession, session_id)
        assert session is not None and session.status == SessionStatus.CANCELLED
        cancels = [r for r in messages() if r.calendar_method == "CANCEL"]
        assert {r.status for r in cancels} == {OutboxStatus.PENDING}
        assert len(cancels) == 2

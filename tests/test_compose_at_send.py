"""A registration's two emails are written by the outbox worker when it sends them, not in the
request (emails.COMPOSED_AT_SEND): what arrives is what the builders write from the lead, a
retry sends the very same message, and nothing is ever written from an erased lead."""

from __future__ import annotations

import json
import re
from datetime import timedelta

from sqlalchemy import delete, select

from booking import emails
from booking.extensions import db
from booking.kinds import MailKind
from booking.models import Lead, OutboxMessage, OutboxStatus
from booking.settings import current_settings
from booking.workflow.privacy import erase_lead, export_person

from .coach_helpers import add_coach
from .conftest import submit_registration
from .test_outbox_smtp import COACHES, deliver, register, rows

# A signed link's token carries the moment it was made: compared apart from it.
TOKEN = re.compile(r"/(withdraw|book)/[^\s\"'<>]+")


def _unsigned(text: str) -> str:
    return TOKEN.sub(r"/\1/TOKEN", text)


def test_the_request_queues_recipients_and_subjects_and_the_worker_writes_the_bodies(
    make_app, smtp_server, now
):
    app = make_app(**smtp_server.config(), COACH_NOTIFY_EMAILS=COACHES)
    client = app.test_client()
    assert submit_registration(client, full_name="Siân  O'Brien").status_code == 302
    queued = {row.kind: row for row in rows(app)}
    assert set(queued) == {MailKind.LEADER_ACKNOWLEDGEMENT, MailKind.COACH_NEW_LEAD}
    for row in queued.values():
        assert row.compose_at_send and row.body_text == row.body_html == ""
        assert row.status == OutboxStatus.PENDING
    # Who gets what, and the subject the coach area lists, are there from the start.
    assert queued[MailKind.LEADER_ACKNOWLEDGEMENT].recipients == ["sian.obrien@nhs.example"]
    assert queued[MailKind.COACH_NEW_LEAD].recipients == COACHES
    assert queued[MailKind.COACH_NEW_LEAD].subject == (
        "New request for personal support: Siân O'Brien, Northfield Community Trust"
    )

    assert len(deliver(app).sent) == 2
    with app.app_context():
        settings = current_settings()
        lead = db.session.scalars(select(Lead)).one()
        expected = {
            MailKind.LEADER_ACKNOWLEDGEMENT: emails.leader_acknowledgement(lead, settings=settings),
            MailKind.COACH_NEW_LEAD: emails.coach_new_lead(lead, COACHES, settings=settings),
        }
        for row in db.session.scalars(select(OutboxMessage)):
            draft = expected[MailKind(row.kind)]
            assert not row.compose_at_send and row.status == OutboxStatus.SENT
            # The stored bodies are the builders' own, and so is what arrived.
            assert _unsigned(row.body_text) == _unsigned(draft.text)
            assert _unsigned(row.body_html) == _unsigned(draft.html)
            assert row.subject == draft.subject
            [received] = [r for r in smtp_server.received if set(r.rcpt_tos) == set(row.recipients)]
            text = received.message.get_body(("plain",)).get_content()
            assert text.replace("\r\n", "\n").strip() == row.body_text.strip()
    leader = smtp_server.messages_to("sian.obrien@nhs.example")[0]
    assert "/withdraw/" in leader.get_body(("plain",)).get_content()


def test_a_retry_sends_the_message_written_the_first_time(make_app, smtp_server, now):
    app = make_app(**smtp_server.config(), COACH_NOTIFY_EMAILS=COACHES)
    lead_id = register(app, now)
    smtp_server.responses = ["451 4.3.0 Try again later"]
    assert len(deliver(app, now).retrying) == 1
    [waiting] = [row for row in rows(app) if row.status == OutboxStatus.PENDING]
    # Written at the first attempt and kept: the retry cannot differ, even if the lead changes.
    assert not waiting.compose_at_send and waiting.body_text
    with app.app_context():
        db.session.get(Lead, lead_id).full_name = "Someone Else"
        db.session.commit()
    assert deliver(app, now + timedelta(minutes=5)).sent == [waiting.id]
    [again] = [row for row in rows(app) if row.id == waiting.id]
    assert again.body_text == waiting.body_text and "Someone Else" not in again.body_text
    assert smtp_server.received[-1].message["Message-ID"] == waiting.message_id


def test_nothing_is_written_from_an_erased_lead(make_app, smtp_server, now):
    app = make_app(**smtp_server.config(), COACH_NOTIFY_EMAILS=COACHES)
    lead_id = register(app, now)
    with app.app_context():
        erase_lead(
            db.session.get(Lead, lead_id),
            now=now,
            actor=None,
            by="the operator",
            settings=current_settings(),
        )
        db.session.commit()
    assert not deliver(app, now).sent
    for row in rows(app):
        assert row.status == OutboxStatus.CANCELLED and not row.compose_at_send
        assert row.body_text == row.body_html == "" and row.subject == "(erased)"
    assert smtp_server.received == []


def test_a_row_whose_lead_is_gone_is_cancelled_not_sent(make_app, smtp_server, now):
    """Defence in depth: the worker itself refuses to write a body without a live lead."""
    app = make_app(**smtp_server.config(), COACH_NOTIFY_EMAILS=COACHES)
    lead_id = register(app, now)
    with app.app_context():
        db.session.execute(delete(Lead).where(Lead.id == lead_id))
        db.session.commit()
    report = deliver(app, now)
    assert not report.sent and not report.failed
    for row in rows(app):
        assert row.status == OutboxStatus.CANCELLED and row.body_text == ""
    assert smtp_server.received == []


def test_the_data_export_shows_a_waiting_email_as_it_will_be_sent(make_app, now):
    app = make_app(COACH_NOTIFY_EMAILS=COACHES)
    register(app, now)
    with app.app_context():
        data = export_person("amara.okafor@nhs.example", now=now, settings=current_settings())
    [acknowledgement] = [m for m in data["emails"] if m["kind"] == "leader_acknowledgement"]
    assert acknowledgement["status"] == "pending"
    assert "Amara <b>Okafor</b> & Co" in acknowledgement["body_text"]
    assert "Amara &lt;b&gt;Okafor&lt;/b&gt; &amp; Co" in acknowledgement["body_html"]
    assert json.dumps(data)  # plain JSON


def test_the_acknowledgement_replies_to_the_coach_round_robin_gave_the_lead(
    make_app, smtp_server, now
):
    app = make_app(**smtp_server.config(), COACH_NOTIFY_EMAILS=COACHES)
    with app.app_context():
        add_coach(email="maya@example.org", name="Maya Patel", now=now)
    register(app, now)
    queued = {row.kind: row for row in rows(app)}
    # The worker decides Reply-To when it writes the message, from the lead as it is then.
    assert queued[MailKind.LEADER_ACKNOWLEDGEMENT].reply_to is None
    assert len(deliver(app, now).sent) == 2
    [acknowledgement] = smtp_server.messages_to("amara.okafor@nhs.example")
    assert acknowledgement["Reply-To"] == "Maya Patel <maya@example.org>"
    [to_coach] = smtp_server.messages_to("maya@example.org")
    assert to_coach["Reply-To"] is None
    assert "New request for personal support" in to_coach["Subject"]

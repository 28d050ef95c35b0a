"""The invitation emails as a real SMTP server receives them: the MIME shape iMIP clients need."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.message import EmailMessage

import pytest
from icalendar import Calendar

from booking import outbox
from booking.extensions import db
from booking.invite_emails import invitation
from booking.settings import current_settings

from .invite_helpers import make_session

NOW = datetime(2026, 1, 10, 12, 0, tzinfo=UTC)


@pytest.fixture
def mail_app(make_app, smtp_server):
    app = make_app(**smtp_server.config())
    with app.app_context():
        yield app


def send(session, kind: str) -> None:
    for role in ("leader", "coach"):
        outbox.enqueue(
            invitation(session, role, kind, now=NOW, settings=current_settings()),
            lead_id=session.lead_id,
            session_id=session.id,
            now=NOW,
        )
    db.session.commit()
    report = outbox.deliver_due(now=NOW)
    assert len(report.sent) == 2, report


def structure(message: EmailMessage) -> tuple[EmailMessage, list[EmailMessage]]:
    assert message.get_content_type() == "multipart/mixed"
    top = list(message.iter_parts())
    alternative = top[0]
    assert alternative.get_content_type() == "multipart/alternative"
    return alternative, top[1:]


def check_calendar_email(message: EmailMessage, method: str, with_pdf: bool) -> str:
    alternative, attachments = structure(message)
    alternatives = list(alternative.iter_parts())
    assert [p.get_content_type() for p in alternatives] == [
        "text/plain",
        "text/html",
        "text/calendar",
    ]
    inline = alternatives[-1]
    # The iMIP part: a method parameter, not marked as an attachment.
    assert inline.get_param("method") == method
    assert inline.get_content_charset() == "utf-8"
    assert inline.get_content_disposition() is None and inline.get_filename() is None
    inline_bytes = inline.get_payload(decode=True)
    body = Calendar.from_ical(inline_bytes.decode("utf-8"))
    assert str(body["METHOD"]) == method  # MIME parameter and body agree

    names = [a.get_filename() for a in attachments]
    assert names == (["invite.ics", "reflection-questionnaire.pdf"] if with_pdf else ["invite.ics"])
    ics = attachments[0]
    assert ics.get_content_type() == "text/calendar"
    assert ics.get_param("method") == method
    assert ics.get_content_disposition() == "attachment"
    assert ics.get_payload(decode=True) == inline_bytes
    if with_pdf:
        pdf = attachments[1]
        assert pdf.get_content_type() == "application/pdf"
        assert pdf.get_payload(decode=True).startswith(b"%PDF")
    return inline_bytes.decode("utf-8")


def test_invitations_reach_both_parties_in_imip_shape(mail_app, smtp_server):
    session = make_session()
    send(session, "new")

    assert len(smtp_server.received) == 2
    for got in smtp_server.received:
        # As RFC 6047 writes it, for the inline part and the attachment alike.
        assert got.data.count(b"Content-Type: text/calendar; method=REQUEST; charset=utf-8") == 2
    all_recipients = {r.lower() for got in smtp_server.received for r in got.rcpt_tos}
    assert all_recipients == {"sian.obriain@nhs.example", "kwame@coaching.example"}
    # The organiser's mailbox is never sent its own invitation.
    assert mail_app.config["INVITE_ORGANIZER_EMAIL"] not in all_recipients

    for address in all_recipients:
        (message,) = smtp_server.messages_to(address)
        text = check_calendar_email(message, "REQUEST", with_pdf=True)
        event = Calendar.from_ical(text).walk("VEVENT")[0]
        assert str(event["UID"]) == session.uid
        plain = list(structure(message)[0].iter_parts())[0].get_content()
        assert "14:00–15:00 GMT" in plain
        assert "/rsvp/" in plain
        assert "Monday 7 December 2026" in message["Subject"]

    leader_mail = smtp_server.messages_to("sian.obriain@nhs.example")[0]
    html = list(structure(leader_mail)[0].iter_parts())[1].get_content()
    assert "/questionnaire/" in html and "?answer=accepted" in html


def test_update_and_cancellation_emails(mail_app, smtp_server):
    session = make_session()
    session.starts_at += timedelta(hours=2)
    session.ends_at += timedelta(hours=2)
    session.sequence = 1
    send(session, "updated")
    for got in smtp_server.received:
        text = check_calendar_email(got.message, "REQUEST", with_pdf=True)
        assert int(Calendar.from_ical(text).walk("VEVENT")[0]["SEQUENCE"]) == 1
        assert got.message["Subject"].startswith("Updated invitation")

    smtp_server.received.clear()
    session.sequence = 2
    send(session, "cancelled")
    for got in smtp_server.received:
        text = check_calendar_email(got.message, "CANCEL", with_pdf=False)
        event = Calendar.from_ical(text).walk("VEVENT")[0]
        assert str(event["STATUS"]) == "CANCELLED"
        assert int(event["SEQUENCE"]) == 2
        assert got.message["Subject"].startswith("Cancelled")


def test_leader_text_is_escaped_in_html(mail_app, smtp_server):
    session = make_session(lead_name="<script>alert(1)</script> O'Brien")
    send(session, "new")
    coach_mail = smtp_server.messages_to("kwame@coaching.example")[0]
    html = list(structure(coach_mail)[0].iter_parts())[1].get_content()
    assert "<script>" not in html and "&lt;script&gt;" in html

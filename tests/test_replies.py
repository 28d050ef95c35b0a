"""Calendar replies (METHOD:REPLY) read from raw email, in the shapes real clients send them.

The messages are written by hand after what Outlook / Exchange, Google Calendar and Apple
Calendar are reported to send: Outlook inline, quoted-printable, `MAILTO:` in capitals, mixed
case addresses and (Outlook.com) no ORGANIZER; Google inline base64 plus an `invite.ics`
attachment; Apple an `application/ics` attachment only.
"""

from __future__ import annotations

import base64
import mailbox
import quopri
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from booking import replies
from booking.extensions import db
from booking.invites import InviteError, parse_replies
from booking.models import LeadEvent, OutboxMessage, PartStat, SessionStatus
from booking.settings import current_settings
from booking.workflow.responses import apply_reply

from .invite_helpers import make_session

NOW = datetime(2026, 1, 11, 8, 30, tzinfo=UTC)


def outlook_reply(uid: str, email: str, partstat: str = "ACCEPTED", sequence: int = 0) -> bytes:
    ics = (
        "BEGIN:VCALENDAR\r\n"
        "METHOD:REPLY\r\n"
        "PRODID:Microsoft Exchange Server 2010\r\n"
        "VERSION:2.0\r\n"
        "BEGIN:VEVENT\r\n"
        f"ATTENDEE;PARTSTAT={partstat};CN=Siân Ó Briain:MAILTO:{email}\r\n"
        "COMMENT;LANGUAGE=en-GB:See you then\\, thank you.\r\n"
        "SUMMARY;LANGUAGE=en-GB:Accepted: Coaching session with Dr Kwame Mensah-Elli\r\n"
        " s\r\n"
        "DTSTART:20261207T140000Z\r\n"
        "DTEND:20261207T150000Z\r\n"
        f"UID:{uid}\r\n"
        "CLASS:PUBLIC\r\n"
        "PRIORITY:5\r\n"
        "DTSTAMP:20260111T082210Z\r\n"
        "TRANSP:OPAQUE\r\n"
        "STATUS:CONFIRMED\r\n"
        f"SEQUENCE:{sequence}\r\n"
        "LOCATION;LANGUAGE=en-GB:https://meet.example/room/abc-123\r\n"
        "END:VEVENT\r\n"
        "END:VCALENDAR\r\n"
    )
    body = quopri.encodestring(ics.encode("utf-8")).decode("ascii")
    return (
        f"From: =?utf-8?q?Si=C3=A2n_=C3=93_Briain?= <{email}>\r\n"
        "To: Compassionate Leadership Coaching <coaching@example.org>\r\n"
        "Subject: Accepted: Coaching session\r\n"
        "Message-ID: <outlook-1@nhs.example>\r\n"
        "MIME-Version: 1.0\r\n"
        'Content-Type: multipart/alternative; boundary="_000_outlook_"\r\n'
        "\r\n"
        "--_000_outlook_\r\n"
        'Content-Type: text/plain; charset="utf-8"\r\n'
        "Content-Transfer-Encoding: quoted-printable\r\n"
        "\r\n"
        "See you then, thank you.\r\n"
        "--_000_outlook_\r\n"
        'Content-Type: text/calendar; charset="utf-8"; method=REPLY\r\n'
        "Content-Transfer-Encoding: quoted-printable\r\n"
        "\r\n"
        f"{body}\r\n"
        "--_000_outlook_--\r\n"
    ).encode()


def google_reply(uid: str, email: str, partstat: str = "DECLINED", sequence: int = 0) -> bytes:
    ics = (
        "BEGIN:VCALENDAR\r\n"
        "PRODID:-//Google Inc//Google Calendar 70.9054//EN\r\n"
        "VERSION:2.0\r\n"
        "CALSCALE:GREGORIAN\r\n"
        "METHOD:REPLY\r\n"
        "BEGIN:VEVENT\r\n"
        "DTSTART:20261207T140000Z\r\n"
        "DTEND:20261207T150000Z\r\n"
        "DTSTAMP:20260111T082210Z\r\n"
        "ORGANIZER;CN=Compassionate Leadership Coaching:mailto:coaching@example.org\r\n"
        f"UID:{uid}\r\n"
        "ATTENDEE;CUTYPE=INDIVIDUAL;ROLE=REQ-PARTICIPANT;PARTSTAT="
        f"{partstat};CN=Siân Ó Briain;X-NUM-GUESTS=0:mailto:{email}\r\n"
        f"SEQUENCE:{sequence}\r\n"
        "STATUS:CONFIRMED\r\n"
        "SUMMARY:Coaching session with Dr Kwame Mensah-Ellis\r\n"
        "TRANSP:OPAQUE\r\n"
        "END:VEVENT\r\n"
        "END:VCALENDAR\r\n"
    )
    encoded = base64.encodebytes(ics.encode("utf-8")).decode("ascii")
    return (
        f"From: Siân <{email}>\r\n"
        "To: coaching@example.org\r\n"
        "Subject: Declined: Coaching session\r\n"
        "MIME-Version: 1.0\r\n"
        'Content-Type: multipart/mixed; boundary="000000000000google-mixed"\r\n'
        "\r\n"
        "--000000000000google-mixed\r\n"
        'Content-Type: multipart/alternative; boundary="000000000000google-alt"\r\n'
        "\r\n"
        "--000000000000google-alt\r\n"
        'Content-Type: text/plain; charset="UTF-8"\r\n'
        "\r\n"
        "Siân has declined this invitation.\r\n"
        "--000000000000google-alt\r\n"
        'Content-Type: text/html; charset="UTF-8"\r\n'
        "\r\n"
        "<p>Siân has declined this invitation.</p>\r\n"
        "--000000000000google-alt\r\n"
        'Content-Type: text/calendar; charset="UTF-8"; method=REPLY\r\n'
        "Content-Transfer-Encoding: base64\r\n"
        "\r\n"
        f"{encoded}"
        "--000000000000google-alt--\r\n"
        "--000000000000google-mixed\r\n"
        'Content-Type: application/ics; name="invite.ics"\r\n'
        'Content-Disposition: attachment; filename="invite.ics"\r\n'
        "Content-Transfer-Encoding: base64\r\n"
        "\r\n"
        f"{encoded}"
        "--000000000000google-mixed--\r\n"
    ).encode()


def apple_reply(uid: str, email: str, partstat: str = "TENTATIVE", sequence: int = 0) -> bytes:
    ics = (
        "BEGIN:VCALENDAR\r\n"
        "METHOD:REPLY\r\n"
        "VERSION:2.0\r\n"
        "PRODID:-//Apple Inc.//macOS 15.1//EN\r\n"
        "BEGIN:VEVENT\r\n"
        "ATTENDEE;CN=Dr Kwame Mensah-Ellis;CUTYPE=INDIVIDUAL;"
        f"EMAIL={email};PARTSTAT={partstat}:\r\n"
        f" mailto:{email}\r\n"
        "DTEND:20261207T150000Z\r\n"
        "DTSTAMP:20260111T082210Z\r\n"
        "DTSTART:20261207T140000Z\r\n"
        "ORGANIZER;CN=Compassionate Leadership Coaching:mailto:coaching@example.org\r\n"
        "REQUEST-STATUS:2.0;Success\r\n"
        f"SEQUENCE:{sequence}\r\n"
        "SUMMARY:Coaching session: Siân Ó Briain\r\n"
        f"UID:{uid}\r\n"
        "END:VEVENT\r\n"
        "END:VCALENDAR\r\n"
    )
    encoded = base64.encodebytes(ics.encode("utf-8")).decode("ascii")
    return (
        f"From: Kwame <{email}>\r\n"
        "To: coaching@example.org\r\n"
        "Subject: Invitation: Coaching session (Tentative)\r\n"
        "Mime-Version: 1.0 (Mac OS X Mail 16.0)\r\n"
        'Content-Type: multipart/mixed; boundary="Apple-Mail=_apple"\r\n'
        "\r\n"
        "--Apple-Mail=_apple\r\n"
        "Content-Transfer-Encoding: 7bit\r\n"
        "Content-Type: text/plain; charset=us-ascii\r\n"
        "\r\n"
        "Kwame has tentatively accepted.\r\n"
        "--Apple-Mail=_apple\r\n"
        "Content-Transfer-Encoding: base64\r\n"
        'Content-Disposition: attachment; filename="iCal-20260111-082210.ics"\r\n'
        'Content-Type: application/ics; name="iCal-20260111-082210.ics"\r\n'
        "\r\n"
        f"{encoded}"
        "--Apple-Mail=_apple--\r\n"
    ).encode()


@pytest.fixture
def session(app_ctx):
    made = make_session()
    db.session.commit()
    return made


def refreshed(session):
    db.session.expire_all()
    return session


def kinds_of_events(session) -> list[str]:
    return list(
        db.session.scalars(
            select(LeadEvent.kind)
            .where(LeadEvent.lead_id == session.lead_id)
            .order_by(LeadEvent.id)
        )
    )


def test_outlook_reply_without_organizer_from_a_file(session, tmp_path):
    # Mixed case: the address on file is sian.obriain@nhs.example.
    path = tmp_path / "accepted.eml"
    path.write_bytes(outlook_reply(session.uid, "Sian.OBriain@NHS.Example"))
    report = replies.ingest_file(path, now=NOW)
    assert report.with_calendar == 1 and report.outcomes["applied"] == 1
    assert refreshed(session).leader_partstat == PartStat.ACCEPTED
    assert session.coach_partstat == PartStat.NEEDS_ACTION
    assert kinds_of_events(session) == ["session-answer"]


def test_google_decline_is_recorded_prominently_and_the_coach_told(session):
    report = replies.ingest_message(google_reply(session.uid, "sian.obriain@nhs.example"), now=NOW)
    # The same calendar inline and attached is applied once.
    assert report.outcomes == {"applied": 1}
    assert refreshed(session).leader_partstat == PartStat.DECLINED
    event = db.session.scalars(select(LeadEvent).where(LeadEvent.lead_id == session.lead_id)).one()
    assert event.kind == "session-declined"
    assert event.summary.startswith("Declined:")
    told = db.session.scalars(select(OutboxMessage)).one()
    assert told.kind == "coach_session_declined"
    assert told.recipients == ["kwame@coaching.example"]


def test_apple_reply_from_a_maildir_marks_it_seen_and_leaves_other_mail(session, tmp_path):
    box = mailbox.Maildir(str(tmp_path / "replies"), create=True)
    box.add(mailbox.MaildirMessage(apple_reply(session.uid, "Kwame@Coaching.Example")))
    box.add(
        mailbox.MaildirMessage(
            b"From: someone@nhs.example\r\nSubject: a question\r\n\r\nCan we talk first?\r\n"
        )
    )

    report = replies.ingest_maildir(tmp_path / "replies", now=NOW)
    assert report.messages == 2 and report.with_calendar == 1
    assert refreshed(session).coach_partstat == PartStat.TENTATIVE

    box = mailbox.Maildir(str(tmp_path / "replies"), create=False)
    states = sorted((m.get_subdir(), "S" in m.get_flags()) for m in box)
    assert states == [("cur", True), ("new", False)]  # the person's question stays unread
    again = replies.ingest_maildir(tmp_path / "replies", now=NOW)
    assert again.with_calendar == 0


def test_stdin_through_the_cli(session, app_ctx):
    runner = app_ctx.test_cli_runner()
    result = runner.invoke(
        args=["invites", "ingest"], input=outlook_reply(session.uid, "SIAN.OBRIAIN@NHS.EXAMPLE")
    )
    assert result.exit_code == 0, result.output
    assert "applied 1" in result.output
    assert refreshed(session).leader_partstat == PartStat.ACCEPTED


def test_file_and_maildir_through_the_cli(session, app_ctx, tmp_path):
    path = tmp_path / "reply.eml"
    path.write_bytes(apple_reply(session.uid, "kwame@coaching.example", "ACCEPTED"))
    runner = app_ctx.test_cli_runner()
    result = runner.invoke(args=["invites", "ingest", "--file", str(path)])
    assert result.exit_code == 0, result.output
    assert refreshed(session).coach_partstat == PartStat.ACCEPTED

    mailbox.Maildir(str(tmp_path / "md"), create=True).add(
        outlook_reply(session.uid, "sian.obriain@nhs.example")
    )
    result = runner.invoke(args=["invites", "ingest", "--maildir", str(tmp_path / "md")])
    assert result.exit_code == 0, result.output
    assert refreshed(session).leader_partstat == PartStat.ACCEPTED
    assert (
        "accepted by both"
        in db.session.scalars(select(LeadEvent.summary).order_by(LeadEvent.id.desc())).first()
    )

    both = runner.invoke(args=["invites", "ingest", "--file", str(path), "--imap"])
    assert both.exit_code != 0
    no_imap = runner.invoke(args=["invites", "ingest", "--imap"])
    assert no_imap.exit_code != 0 and "IMAP_HOST" in no_imap.output


def test_stale_reply_is_ignored(session):
    session.sequence = 2
    db.session.commit()
    report = replies.ingest_message(
        outlook_reply(session.uid, "sian.obriain@nhs.example", "DECLINED", sequence=1), now=NOW
    )
    assert report.outcomes == {"stale": 1}
    assert refreshed(session).leader_partstat == PartStat.NEEDS_ACTION
    assert kinds_of_events(session) == []

    current = replies.ingest_message(
        outlook_reply(session.uid, "sian.obriain@nhs.example", "ACCEPTED", sequence=2), now=NOW
    )
    assert current.outcomes == {"applied": 1}


def test_unknown_uid_and_unknown_attendee_are_ignored(session):
    unknown_uid = replies.ingest_message(
        google_reply("not-ours@elsewhere.example", "sian.obriain@nhs.example"), now=NOW
    )
    assert unknown_uid.outcomes == {"unknown-uid": 1}
    stranger = replies.ingest_message(
        google_reply(session.uid, "someone.else@nhs.example"), now=NOW
    )
    assert stranger.outcomes == {"unknown-attendee": 1}
    assert refreshed(session).leader_partstat == PartStat.NEEDS_ACTION
    assert kinds_of_events(session) == []


def test_reply_to_a_cancelled_session_is_ignored(session):
    session.status = SessionStatus.CANCELLED
    db.session.commit()
    report = replies.ingest_message(outlook_reply(session.uid, "sian.obriain@nhs.example"), now=NOW)
    assert report.outcomes == {"not-booked": 1}


def test_the_same_reply_twice_changes_nothing_the_second_time(session):
    raw = outlook_reply(session.uid, "sian.obriain@nhs.example")
    assert replies.ingest_message(raw, now=NOW).outcomes == {"applied": 1}
    assert replies.ingest_message(raw, now=NOW).outcomes == {"unchanged": 1}
    assert kinds_of_events(session) == ["session-answer"]


def test_reply_inside_a_forwarded_message(session):
    inner = apple_reply(session.uid, "kwame@coaching.example", "DECLINED")
    raw = (
        b"From: assistant@coaching.example\r\nTo: coaching@example.org\r\n"
        b"Subject: Fwd: Invitation\r\nMIME-Version: 1.0\r\n"
        b'Content-Type: multipart/mixed; boundary="fwd"\r\n\r\n'
        b"--fwd\r\nContent-Type: text/plain\r\n\r\nForwarding this.\r\n"
        b"--fwd\r\nContent-Type: message/rfc822\r\n\r\n" + inner + b"\r\n--fwd--\r\n"
    )
    assert replies.ingest_message(raw, now=NOW).outcomes == {"applied": 1}
    assert refreshed(session).coach_partstat == PartStat.DECLINED


def test_not_a_reply_and_not_a_calendar(session):
    request_ics = (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:x\r\nMETHOD:REQUEST\r\nBEGIN:VEVENT\r\n"
        f"UID:{session.uid}\r\nDTSTAMP:20260111T082210Z\r\n"
        "ATTENDEE;PARTSTAT=ACCEPTED:mailto:sian.obriain@nhs.example\r\n"
        "END:VEVENT\r\nEND:VCALENDAR\r\n"
    )
    assert parse_replies(request_ics) == []
    with pytest.raises(InviteError):
        parse_replies("this is not a calendar at all")
    broken = (
        b"Subject: x\r\nContent-Type: text/calendar; method=REPLY\r\n\r\ngarbage, not iCalendar\r\n"
    )
    report = replies.ingest_message(broken, now=NOW)
    assert report.errors and not report.outcomes
    truncated = (
        b"Subject: x\r\nContent-Type: text/calendar; method=REPLY\r\n\r\n"
        b"BEGIN:VCALENDAR\r\nMETHOD:REPLY\r\nBEGIN:VEVENT\r\n"
    )
    assert not replies.ingest_message(truncated, now=NOW).outcomes
    assert refreshed(session).leader_partstat == PartStat.NEEDS_ACTION


def test_apply_reply_directly_matches_case_insensitively(session):
    (reply,) = parse_replies(
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:x\r\nMETHOD:REPLY\r\nBEGIN:VEVENT\r\n"
        f"UID:{session.uid}\r\nDTSTAMP:20260111T082210Z\r\nSEQUENCE:0\r\n"
        "ATTENDEE;PARTSTAT=tentative:MAILTO:KWAME@COACHING.EXAMPLE\r\n"
        "END:VEVENT\r\nEND:VCALENDAR\r\n"
    )
    assert reply.attendee_email == "kwame@coaching.example"
    assert reply.partstat == "TENTATIVE"
    assert apply_reply(reply, NOW, settings=current_settings()) == "applied"
    assert session.coach_partstat == PartStat.TENTATIVE

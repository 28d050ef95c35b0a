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
from booking.workflow.responses import apply_reply

from .invite_helpers import make_session

NOW = datetime(2026, 1, 11, 8, 30, tzinfo=UTC)


def outlook_reply(
    uid: str, email: str, partstat: str = "ACCEPTED", sequence: int = 0, sender: str = ""
) -> bytes:
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
        f"From: =?utf-8?q?Si=C3=A2n_=C3=93_Briain?= <{sender or email}>\r\n"
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


def google_reply(
    uid: str, email: str, partstat: str = "DECLINED", sequence: int = 0, sender: str = ""
) -> bytes:
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
        f"From: Siân <{sender or email}>\r\n"
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


def apple_reply(
    uid: str, email: str, partstat: str = "TENTATIVE", sequence: int = 0, sender: str = ""
) -> bytes:
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
        f"From: Kwame <{sender or email}>\r\n"
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


def forwarded(inner: bytes, sender: str) -> bytes:
    return (
        f"From: {sender}\r\nTo: coaching@example.org\r\n".encode()
        + b"Subject: Fwd: Invitation\r\nMIME-Version: 1.0\r\n"
        b'Content-Type: multipart/mixed; boundary="fwd"\r\n\r\n'
        b"--fwd\r\nContent-Type: text/plain\r\n\r\nForwarding this.\r\n"
        b"--fwd\r\nContent-Type: message/rfc822\r\n\r\n" + inner + b"\r\n--fwd--\r\n"
    )


def test_reply_inside_a_forwarded_message(session):
    inner = apple_reply(session.uid, "kwame@coaching.example", "DECLINED")
    # The attendee forwarding their own calendar's reply: the sender is the attendee.
    raw = forwarded(inner, "Kwame <kwame@coaching.example>")
    assert replies.ingest_message(raw, now=NOW).outcomes == {"applied": 1}
    assert refreshed(session).coach_partstat == PartStat.DECLINED


def test_a_reply_forwarded_by_someone_else_is_refused(session):
    # The inner message's From says Kwame, but anyone can write that inside a forward: only
    # the outer message's sender counts, and that is not the attendee.
    inner = apple_reply(session.uid, "kwame@coaching.example", "DECLINED")
    raw = forwarded(inner, "assistant@coaching.example")
    assert replies.ingest_message(raw, now=NOW).outcomes == {"sender-mismatch": 1}
    assert refreshed(session).coach_partstat == PartStat.NEEDS_ACTION
    assert kinds_of_events(session) == []


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
    # Reported once as malformed (and, from a mailbox, marked seen and flagged: see
    # test_refused_messages_in_a_maildir_are_flagged_and_not_read_again), not an error
    # left for every later run to meet again.
    assert report.outcomes == {"malformed": 1} and not report.errors
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
    assert apply_reply(reply, NOW) == "applied"
    assert session.coach_partstat == PartStat.TENTATIVE


# Who may answer, and how much a message may hold (issue 7 items 5 and 7).

LEADER, COACH = "sian.obriain@nhs.example", "kwame@coaching.example"


def with_header(raw: bytes, name: str, value: str) -> bytes:
    """The message with one more header line on top (a Sender, or a second From)."""
    return f"{name}: {value}\r\n".encode() + raw


def reply_ics(
    uid: str,
    attendees: list[tuple[str, str]],
    tail: str = "",
    sequence: int = 0,
    dtstamp: str = "20260111T082210Z",
) -> str:
    """A minimal METHOD:REPLY naming these (address, PARTSTAT) attendees; `tail` goes after the
    attendee lines, inside the event."""
    lines = "".join(
        f"ATTENDEE;PARTSTAT={partstat}:mailto:{email}\r\n" for email, partstat in attendees
    )
    return (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Test//EN\r\nMETHOD:REPLY\r\nBEGIN:VEVENT\r\n"
        f"UID:{uid}\r\nDTSTAMP:{dtstamp}\r\nSEQUENCE:{sequence}\r\n"
        f"{lines}{tail}END:VEVENT\r\nEND:VCALENDAR\r\n"
    )


def calendar_message(sender: str, *calendars: str, padding: bytes = b"") -> bytes:
    """A message from `sender` with each calendar as its own text/calendar part, and a
    text/plain part of `padding` (to make it large)."""
    parts = b"".join(
        b'--cal\r\nContent-Type: text/calendar; charset="utf-8"; method=REPLY\r\n\r\n'
        + text.encode()
        + b"\r\n"
        for text in calendars
    )
    return (
        f"From: {sender}\r\nTo: coaching@example.org\r\nSubject: Reply\r\n".encode()
        + b'MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="cal"\r\n\r\n'
        + b"--cal\r\nContent-Type: text/plain\r\n\r\n"
        + (padding or b"Answered.")
        + b"\r\n"
        + parts
        + b"--cal--\r\n"
    )


def test_a_third_party_cannot_answer_for_the_leader_but_the_leader_can_in_any_case(session, caplog):
    caplog.set_level("INFO")
    forged = google_reply(session.uid, LEADER, "DECLINED", sender="mallory@elsewhere.example")
    report = replies.ingest_message(forged, now=NOW, label="maildir 1700.M1")
    assert report.outcomes == {"sender-mismatch": 1}
    assert refreshed(session).leader_partstat == PartStat.NEEDS_ACTION
    assert kinds_of_events(session) == []
    assert db.session.scalars(select(OutboxMessage)).all() == []  # the coach was not told
    # Logged by message and session, with the reason word; nobody's address.
    logged = caplog.text.lower()
    assert "maildir 1700.m1" in logged and "sender-mismatch" in logged
    assert f"sessions [{session.id}]" in logged
    assert "mallory" not in logged and "obriain" not in logged

    # A second From header does not smuggle the leader in.
    assert replies.ingest_message(with_header(forged, "From", LEADER), now=NOW).outcomes == {
        "sender-mismatch": 1
    }

    own = outlook_reply(session.uid, LEADER, "ACCEPTED", sender="Sian.OBriain@NHS.EXAMPLE")
    assert replies.ingest_message(own, now=NOW).outcomes == {"applied": 1}
    assert refreshed(session).leader_partstat == PartStat.ACCEPTED


def test_a_delegate_may_answer_through_the_sender_header(session):
    # Outlook "on behalf of": From is the attendee, Sender the assistant who pressed Accept.
    on_behalf = with_header(
        outlook_reply(session.uid, LEADER, "TENTATIVE"), "Sender", "PA <pa@nhs.example>"
    )
    assert replies.ingest_message(on_behalf, now=NOW).outcomes == {"applied": 1}
    assert refreshed(session).leader_partstat == PartStat.TENTATIVE

    # A shared mailbox sending for the coach: From the team, Sender the coach's own address.
    team = with_header(
        apple_reply(session.uid, COACH, "ACCEPTED", sender="team@coaching.example"),
        "Sender",
        "MAILTO:Kwame@Coaching.Example",
    )
    assert replies.ingest_message(team, now=NOW).outcomes == {"applied": 1}
    assert refreshed(session).coach_partstat == PartStat.ACCEPTED

    # Neither From nor Sender is the attendee: refused.
    stranger = with_header(
        outlook_reply(session.uid, LEADER, "DECLINED", sender="pa@nhs.example"),
        "Sender",
        "someone.else@nhs.example",
    )
    assert replies.ingest_message(stranger, now=NOW).outcomes == {"sender-mismatch": 1}
    assert refreshed(session).leader_partstat == PartStat.TENTATIVE


def test_one_message_answering_for_both_parties_is_refused(session):
    both = reply_ics(session.uid, [(LEADER, "DECLINED"), (COACH, "DECLINED")])
    report = replies.ingest_message(calendar_message(LEADER, both), now=NOW)
    assert report.outcomes == {"several-attendees": 1}

    # The same spread over two calendar parts.
    split = calendar_message(
        LEADER,
        reply_ics(session.uid, [(LEADER, "DECLINED")]),
        reply_ics(session.uid, [(COACH, "DECLINED")]),
    )
    assert replies.ingest_message(split, now=NOW).outcomes == {"several-attendees": 1}
    assert refreshed(session).leader_partstat == PartStat.NEEDS_ACTION
    assert session.coach_partstat == PartStat.NEEDS_ACTION
    assert kinds_of_events(session) == []

    # A client that repeats the other attendee unanswered (NEEDS-ACTION) answers for one.
    repeated = reply_ics(session.uid, [(LEADER, "ACCEPTED"), (COACH, "NEEDS-ACTION")])
    report = replies.ingest_message(calendar_message(LEADER, repeated), now=NOW)
    assert report.outcomes == {"applied": 1, "ignored": 1}
    assert refreshed(session).leader_partstat == PartStat.ACCEPTED
    assert session.coach_partstat == PartStat.NEEDS_ACTION


def test_too_many_attendees_is_refused_before_the_calendar_is_parsed(session):
    strangers = [(f"guest{n}@elsewhere.example", "NEEDS-ACTION") for n in range(10)]
    # Past the eleventh attendee the calendar is broken: a parser would fail on it.
    ics = reply_ics(session.uid, [(LEADER, "DECLINED"), *strangers], tail="END:VCALENDAR\r\n")
    raw = calendar_message(LEADER, ics)
    assert replies.ingest_message(raw, now=NOW).outcomes == {"too-many-attendees": 1}
    assert refreshed(session).leader_partstat == PartStat.NEEDS_ACTION

    # With room for eleven attendees the parser is reached, and meets the broken part.
    roomy = replies.ReplyLimits(max_attendees=11)
    assert replies.ingest_message(raw, now=NOW, limits=roomy).outcomes == {"malformed": 1}

    # The count is over the whole message, not each part.
    six = [(f"guest{n}@elsewhere.example", "NEEDS-ACTION") for n in range(6)]
    spread = calendar_message(
        LEADER,
        reply_ics(session.uid, [(LEADER, "DECLINED"), *six[:5]]),
        reply_ics(session.uid, six, sequence=1),
    )
    assert replies.ingest_message(spread, now=NOW).outcomes == {"too-many-attendees": 1}
    assert refreshed(session).leader_partstat == PartStat.NEEDS_ACTION


def test_hundreds_of_calendar_parts_are_refused(session):
    parts = [
        reply_ics(session.uid, [(LEADER, "DECLINED")], tail=f"COMMENT:copy {n}\r\n")
        for n in range(300)
    ]
    report = replies.ingest_message(calendar_message(LEADER, *parts), now=NOW)
    assert report.outcomes == {"too-many-parts": 1}
    assert refreshed(session).leader_partstat == PartStat.NEEDS_ACTION


def test_the_size_limit_is_a_setting_and_stdin_is_read_no_further(session, app_ctx, tmp_path):
    raw = outlook_reply(session.uid, LEADER, "DECLINED")
    runner = app_ctx.test_cli_runner()
    app_ctx.config["REPLY_MAX_BYTES"] = len(raw) - 1
    refused = runner.invoke(args=["invites", "ingest"], input=raw)
    assert refused.exit_code == 0, refused.output
    assert "too-large 1" in refused.output and "applied" not in refused.output
    path = tmp_path / "reply.eml"
    path.write_bytes(raw)
    from_file = runner.invoke(args=["invites", "ingest", "--file", str(path)])
    assert "too-large 1" in from_file.output
    assert refreshed(session).leader_partstat == PartStat.NEEDS_ACTION

    app_ctx.config["REPLY_MAX_BYTES"] = len(raw)
    accepted = runner.invoke(args=["invites", "ingest"], input=raw)
    assert "applied 1" in accepted.output, accepted.output
    assert refreshed(session).leader_partstat == PartStat.DECLINED

    app_ctx.config["REPLY_MAX_BYTES"] = 0
    nonsense = runner.invoke(args=["invites", "ingest"], input=raw)
    assert nonsense.exit_code != 0 and "REPLY_MAX_BYTES" in nonsense.output


def test_refused_messages_in_a_maildir_are_flagged_and_not_read_again(session, app_ctx, tmp_path):
    """Default limit (1 MiB): a 2 MB reply is refused by its file size, marked seen and
    flagged by renaming (the file itself untouched), and the next run does not count it."""
    path = tmp_path / "replies"
    box = mailbox.Maildir(str(path), create=True)
    oversized = calendar_message(
        LEADER, reply_ics(session.uid, [(LEADER, "DECLINED")]), padding=b"x" * 2_000_000
    )
    keys = {
        "oversized": box.add(oversized),
        "forged": box.add(google_reply(session.uid, LEADER, sender="mallory@elsewhere.example")),
        "malformed": box.add(
            b"From: sian.obriain@nhs.example\r\n"
            b"Content-Type: text/calendar; method=REPLY\r\n\r\ngarbage, not iCalendar\r\n"
        ),
        "question": box.add(
            b"From: someone@nhs.example\r\nSubject: a question\r\n\r\nCan we talk first?\r\n"
        ),
        "coach": box.add(apple_reply(session.uid, COACH, "ACCEPTED")),
    }
    runner = app_ctx.test_cli_runner()
    first = runner.invoke(args=["invites", "ingest", "--maildir", str(path)])
    assert first.exit_code == 0, first.output
    assert first.output.strip() == (
        "invites: 5 message(s), 3 with calendar data, applied 1, malformed 1, "
        "sender-mismatch 1, too-large 1"
    )
    assert refreshed(session).leader_partstat == PartStat.NEEDS_ACTION
    assert session.coach_partstat == PartStat.ACCEPTED

    box = mailbox.Maildir(str(path), create=False)
    states = {
        name: (box.get_message(key).get_subdir(), box.get_message(key).get_flags())
        for name, key in keys.items()
    }
    assert states == {
        "oversized": ("cur", "FS"),
        "forged": ("cur", "FS"),
        "malformed": ("cur", "FS"),
        "question": ("new", ""),  # a person's mail stays unread
        "coach": ("cur", "S"),
    }
    assert box.get_bytes(keys["oversized"]) == oversized

    second = runner.invoke(args=["invites", "ingest", "--maildir", str(path)])
    assert second.exit_code == 0, second.output
    assert second.output.strip() == "invites: 1 message(s), 0 with calendar data"


def test_a_reply_written_before_the_one_applied_is_stale(session):
    """Mail can arrive out of order: RFC 5546 orders one attendee's replies by SEQUENCE, then
    DTSTAMP, so a decline written before the accept already applied changes nothing."""

    def reply(partstat: str, dtstamp: str, sequence: int = 0) -> bytes:
        ics = reply_ics(session.uid, [(LEADER, partstat)], sequence=sequence, dtstamp=dtstamp)
        return calendar_message(LEADER, ics)

    first = replies.ingest_message(reply("ACCEPTED", "20260111T090500Z"), now=NOW)
    assert first.outcomes == {"applied": 1}
    late = replies.ingest_message(reply("DECLINED", "20260111T090000Z"), now=NOW)
    assert late.outcomes == {"stale": 1}
    assert refreshed(session).leader_partstat == PartStat.ACCEPTED
    assert kinds_of_events(session) == ["session-answer"]

    # A later change of mind applies; so does an answer to a newer SEQUENCE, whatever its clock.
    later = replies.ingest_message(reply("DECLINED", "20260111T091000Z"), now=NOW)
    assert later.outcomes == {"applied": 1}
    session.sequence = 1
    db.session.commit()
    newer = replies.ingest_message(reply("ACCEPTED", "20260111T080000Z", sequence=1), now=NOW)
    assert newer.outcomes == {"applied": 1}
    assert refreshed(session).leader_partstat == PartStat.ACCEPTED


def test_a_message_nested_too_deep_to_walk_does_not_stop_the_run(session, tmp_path):
    """A few hundred KB of nested multiparts is more than the email package can walk; it is
    refused as malformed, and the replies after it in the mailbox are still read."""
    nested = b"From: sian.obriain@nhs.example\r\n"
    for level in range(1100):
        nested += (
            f'Content-Type: multipart/mixed; boundary="b{level}"\r\n\r\n--b{level}\r\n'.encode()
        )
    nested += b"Content-Type: text/calendar; method=REPLY\r\n\r\nBEGIN:VCALENDAR\r\n"
    box = mailbox.Maildir(str(tmp_path / "md"), create=True)
    box.add(nested)
    box.add(apple_reply(session.uid, COACH, "ACCEPTED"))
    report = replies.ingest_maildir(tmp_path / "md", now=NOW)
    assert report.outcomes == {"malformed": 1, "applied": 1}
    assert refreshed(session).coach_partstat == PartStat.ACCEPTED
    again = replies.ingest_maildir(tmp_path / "md", now=NOW)
    assert again.messages == 0

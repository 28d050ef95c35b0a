"""The calendar-invitation path end to end, in a real Chromium with a real SMTP server.

A leader registers; the coach proposes a time; the leader picks it; both invitations arrive;
the leader accepts with the link in their invitation, the coach with a METHOD:REPLY email as
their calendar would send it (read by booking.replies.ingest_message, what `flask invites
ingest` runs); the coach area shows "Accepted by both"; the coach moves the session (both get
an updated REQUEST: same UID, higher SEQUENCE) and then cancels it (both get a CANCEL).
Every calendar is read back from what the SMTP server received, with icalendar.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from email.message import EmailMessage
from zoneinfo import ZoneInfo

import pytest
from icalendar import Calendar, Event

from booking.replies import ingest_message

from .browser import screenshot, serve
from .browser_flows import deliver, link_in, propose, register, sign_in_from_link, text_part
from .coach_helpers import PASSWORD
from .smtp import SMTPTestServer

pytestmark = pytest.mark.browser

LEADER, LEADER_NAME = "amara.okafor@nhs.example", "Amara Okafor"
COACH = "maya@example.org"
ORGANIZER = "coaching@example.org"  # MAIL_DEFAULT_SENDER in tests/conftest.py
LONDON = ZoneInfo("Europe/London")


def new_mail(server: SMTPTestServer, address: str, seen: dict[str, int]) -> list[EmailMessage]:
    """What arrived for `address` since the last call."""
    messages = server.messages_to(address)
    fresh = messages[seen.get(address, 0) :]
    seen[address] = len(messages)
    return fresh


def inline_calendar(message: EmailMessage) -> Calendar:
    """The calendar part an Outlook or Gmail reads: inline, with its iMIP method parameter."""
    [part] = [
        p
        for p in message.walk()
        if p.get_content_type() == "text/calendar" and p.get_content_disposition() != "attachment"
    ]
    calendar = Calendar.from_ical(part.get_content())
    assert part.get_param("method") == str(calendar["METHOD"])
    return calendar


def the_event(message: EmailMessage, method: str) -> object:
    calendar = inline_calendar(message)
    assert str(calendar["METHOD"]) == method
    [event] = calendar.walk("VEVENT")
    return event


def local_start(event) -> datetime:
    start = event["DTSTART"].dt
    assert start.tzinfo is not None and start.utcoffset() == timedelta(0)  # UTC throughout
    return start.astimezone(LONDON)


def reply_from_calendar(invitation: EmailMessage, attendee: str, partstat: str) -> bytes:
    """The METHOD:REPLY a calendar client emails to the organiser when its user accepts:
    the invitation's event with only that attendee, carrying their PARTSTAT (Outlook's shape:
    text and the calendar as alternatives, `method=REPLY` on the part)."""
    request = inline_calendar(invitation)
    calendar = Calendar()
    calendar.add("prodid", "-//Microsoft Corporation//Outlook 16.0 MIMEDIR//EN")
    calendar.add("version", "2.0")
    calendar.add("method", "REPLY")
    [original] = request.walk("VEVENT")
    event = Event()
    for key in ("UID", "SEQUENCE", "DTSTART", "DTEND", "ORGANIZER", "SUMMARY"):
        event.add(key.lower(), original[key])  # as received
    attendees = original.get("ATTENDEE")
    attendees = attendees if isinstance(attendees, list) else [attendees]
    [mine] = [a for a in attendees if str(a).lower() == f"mailto:{attendee}"]
    mine.params["PARTSTAT"] = partstat
    mine.params.pop("RSVP", None)
    event.add("attendee", mine)
    event.add("dtstamp", datetime.now(UTC))
    calendar.add_component(event)

    message = EmailMessage()
    message["From"] = attendee
    message["To"] = ORGANIZER
    message["Subject"] = f"Accepted: {original['SUMMARY']}"
    message.set_content("Accepted.")
    message.add_alternative(
        calendar.to_ical().decode("utf-8"), subtype="calendar", params={"method": "REPLY"}
    )
    return message.as_bytes()


def test_invitations_answers_move_and_cancel(make_app, smtp_server, new_browser_page):
    app = make_app(**smtp_server.config())
    created = app.test_cli_runner().invoke(
        args=["coach", "add", COACH, "--name", "Maya Coach", "--password", PASSWORD]
    )
    assert created.exit_code == 0, created.output
    day = date.today() + timedelta(days=8)
    seen: dict[str, int] = {}

    with serve(app) as url:
        # Registration, a proposal and the leader's pick, as in test_browser_coach_flow.py.
        leader = new_browser_page()
        register(leader, url, LEADER_NAME, LEADER)
        deliver(app)
        new_mail(smtp_server, LEADER, seen)
        [new_lead] = new_mail(smtp_server, COACH, seen)
        coach = new_browser_page()
        sign_in_from_link(coach, link_in(new_lead, r"/coach/leads/\d+"), COACH, LEADER_NAME)
        propose(coach, LEADER_NAME, [(day, "10:00")])
        deliver(app)
        [proposal] = new_mail(smtp_server, LEADER, seen)
        leader.goto(link_in(proposal, r"/choose/\S+"))
        leader.locator("label.choice__label").first.click()
        leader.get_by_role("button", name="Book this time").click()
        leader.get_by_role("heading", name="Your session is booked").wait_for()

        # Both invitations arrive: REQUEST, one UID, SEQUENCE 0, both asked to answer.
        deliver(app)
        [to_leader] = new_mail(smtp_server, LEADER, seen)
        [to_coach] = new_mail(smtp_server, COACH, seen)
        assert ORGANIZER not in [r for m in smtp_server.received for r in m.rcpt_tos]
        events = [the_event(m, "REQUEST") for m in (to_leader, to_coach)]
        uid = str(events[0]["UID"])
        for event in events:
            assert str(event["UID"]) == uid and int(event["SEQUENCE"]) == 0
            assert local_start(event) == datetime(
                day.year, day.month, day.day, 10, 0, tzinfo=LONDON
            )
            attendees = {str(a).lower(): a.params for a in event["ATTENDEE"]}
            assert set(attendees) == {f"mailto:{LEADER}", f"mailto:{COACH}"}
            assert {p["PARTSTAT"] for p in attendees.values()} == {"NEEDS-ACTION"}
            assert str(event["ORGANIZER"]).lower() == f"mailto:{ORGANIZER}"

        # The leader accepts with the link in their invitation: the page asks, the button answers.
        accept = link_in(to_leader, r"/rsvp/\S+")
        assert "answer=accepted" in accept
        leader.goto(accept)
        leader.get_by_role("heading", name="Will you be there?").wait_for()
        leader.get_by_role("button", name="Accept").click()
        leader.get_by_role("heading", name="Thank you: you accepted").wait_for()

        coach.reload()
        session_panel = coach.locator("#sessions ~ .panel").first
        assert f"{LEADER_NAME} (leader) Accepted" in " ".join(session_panel.inner_text().split())
        assert "Accepted by both" not in session_panel.inner_text()

        # The coach accepts in their calendar, which emails a REPLY to the organiser mailbox.
        with app.app_context():
            report = ingest_message(reply_from_calendar(to_coach, COACH, "ACCEPTED"))
        assert dict(report.outcomes) == {"applied": 1}, report

        coach.reload()
        session_panel = coach.locator("#sessions ~ .panel").first
        session_panel.get_by_text("Accepted by both").wait_for()
        assert "Maya Coach (coach) Accepted" in " ".join(session_panel.inner_text().split())
        screenshot(coach, "invite-flow-accepted-by-both")

        # The coach moves the session: both get an updated REQUEST for the same calendar entry.
        new_day = day + timedelta(days=1)
        session_panel.get_by_text("Move this session").click()
        coach.get_by_label("New date").fill(new_day.isoformat())
        coach.get_by_label("New start time").fill("15:30")
        coach.get_by_role("button", name="Move the session").click()
        coach.get_by_text("Session moved.").wait_for()
        # A new time asks both again.
        assert "Accepted by both" not in coach.locator("#sessions ~ .panel").first.inner_text()
        deliver(app)
        for address in (LEADER, COACH):
            [moved] = new_mail(smtp_server, address, seen)
            assert moved["Subject"].startswith("Updated invitation:")
            event = the_event(moved, "REQUEST")
            assert str(event["UID"]) == uid and int(event["SEQUENCE"]) == 1
            assert local_start(event) == datetime(
                new_day.year, new_day.month, new_day.day, 15, 30, tzinfo=LONDON
            )
            assert "15:30" in text_part(moved)

        # The coach cancels: both get a CANCEL that removes the entry.
        coach.locator("#sessions ~ .panel").first.get_by_text("Cancel this session").click()
        coach.get_by_label("Why is it cancelled? (the leader sees this)").fill("Coach unwell")
        coach.get_by_role("button", name="Cancel the session").click()
        coach.get_by_text("Session cancelled.").wait_for()
        assert coach.locator("#lead-status").inner_text() == "Contacted"
        deliver(app)
        for address in (LEADER, COACH):
            [cancelled] = new_mail(smtp_server, address, seen)
            assert cancelled["Subject"].startswith("Cancelled:")
            assert "Coach unwell" in text_part(cancelled)
            event = the_event(cancelled, "CANCEL")
            assert str(event["UID"]) == uid and int(event["SEQUENCE"]) == 2
            assert str(event["STATUS"]) == "CANCELLED"
            assert local_start(event).hour == 15

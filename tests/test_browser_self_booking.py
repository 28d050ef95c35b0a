"""A leader books a free slot from the emailed link, moves it, and sees the add-to-calendar
links, and the coach finds the session in their week, in a real Chromium with a real SMTP
server (SELF_BOOKING on)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from icalendar import Calendar
from sqlalchemy import select

from booking.extensions import db
from booking.models import Coach, CoachingSession, SessionStatus, utcnow
from booking.settings import current_settings

from .browser import serve
from .browser_flows import deliver, link_in, register
from .coach_helpers import PASSWORD, add_coach
from .test_self_booking import give_hours

pytestmark = pytest.mark.browser

LEADER, LEADER_NAME = "amara.okafor@nhs.example", "Amara Okafor"


def calendar_of(message) -> tuple[str, int]:
    [part] = [
        p
        for p in message.walk()
        if p.get_content_type() == "text/calendar" and p.get_content_disposition() != "attachment"
    ]
    [event] = Calendar.from_ical(part.get_payload(decode=True)).walk("VEVENT")
    return str(event["UID"]), int(event["SEQUENCE"])


def test_leader_books_moves_and_adds_to_calendar(make_app, smtp_server, new_browser_page):
    app = make_app(SELF_BOOKING=True, **smtp_server.config())
    with app.app_context():
        coach = add_coach(now=utcnow() - timedelta(days=1))
        give_hours(db.session.get(Coach, coach.id))
    with serve(app) as url:
        leader = new_browser_page()
        register(leader, url, LEADER_NAME, LEADER)
        deliver(app)
        [ack] = smtp_server.messages_to(LEADER)
        leader.goto(link_in(ack, r"/book/\S+"))
        assert leader.get_by_text("Maya Coach").is_visible()
        days = leader.locator(".slot-day")
        assert days.count() > 5
        first = leader.locator("button[name=starts]").first
        chosen = first.get_attribute("value")
        with leader.expect_navigation():
            first.click()
        assert leader.get_by_role("heading", name="Your session is booked").is_visible()
        google = leader.get_by_role("link", name="Add to Google Calendar").get_attribute("href")
        outlook = leader.get_by_role("link", name="Add to Outlook.com").get_attribute("href")
        assert google.startswith("https://calendar.google.com/calendar/render?")
        assert outlook.startswith("https://outlook.live.com/calendar/0/action/compose?")
        assert parse_qs(urlsplit(google).query)["action"] == ["TEMPLATE"]
        with leader.expect_download() as download:
            leader.get_by_role("link", name="Download an .ics file").click()
        ics = Calendar.from_ical(Path(download.value.path()).read_bytes())
        [ics_event] = ics.walk("VEVENT")

        deliver(app)
        [invitation] = [
            m for m in smtp_server.messages_to(LEADER) if m["Subject"].startswith("Invitation")
        ]
        uid, sequence = calendar_of(invitation)
        assert (uid, sequence) == (str(ics_event["UID"]), 0)
        with app.app_context():
            session = db.session.scalar(select(CoachingSession))
            assert session.starts_at.isoformat() == chosen

        # Move it from the session page linked in the invitation.
        leader.goto(link_in(invitation, r"/session/\S+"))
        with leader.expect_navigation():
            leader.get_by_role("link", name="See free times").click()
        assert leader.get_by_role("heading", name="Move your session").is_visible()
        later = leader.locator("button[name=starts]").nth(3)
        new_start = later.get_attribute("value")
        assert new_start != chosen
        with leader.expect_navigation():
            later.click()
        assert leader.get_by_role("heading", name="Your session has moved").is_visible()
        assert leader.get_by_role("link", name="Add to Google Calendar").is_visible()
        deliver(app)
        [update] = [
            m
            for m in smtp_server.messages_to(LEADER)
            if m["Subject"].startswith("Updated invitation")
        ]
        assert calendar_of(update) == (uid, 1)
        with app.app_context():
            session = db.session.scalar(select(CoachingSession))
            assert session.starts_at.isoformat() == new_start
            assert session.status == SessionStatus.BOOKED
            week = session.starts_at.astimezone(current_settings().zone).date().isoformat()

        # The coach, who did nothing, finds it in their week.
        coach_page = new_browser_page()
        coach_page.goto(url + "/coach/sign-in")
        coach_page.get_by_label("Email address").fill("maya@example.org")
        coach_page.get_by_label("Password").fill(PASSWORD)
        coach_page.get_by_role("button", name="Sign in").click()
        coach_page.wait_for_url("**/coach/")
        coach_page.goto(url + f"/coach/?week={week}")
        booked = coach_page.locator(".week-session", has_text=LEADER_NAME)
        assert booked.count() == 1 and booked.is_visible()

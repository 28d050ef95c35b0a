from __future__ import annotations

from datetime import timedelta
from urllib.parse import urlsplit

import pytest

from booking.extensions import db
from booking.links import book_url, leader_session_url
from booking.models import Coach, SessionFormat, utcnow
from booking.settings import current_settings
from booking.workflow.scheduling import record_agreed_time

from .coach_helpers import PASSWORD, add_coach, add_lead
from .test_self_booking import give_hours

OUT = "/work/shots/slots/"


@pytest.fixture
def app(make_app):
    return make_app(SELF_BOOKING=True)


def test_shots(app, live_url, new_browser_page):
    with app.app_context():
        now = utcnow()
        coach = add_coach(now=now)
        give_hours(coach)
        free = add_lead(now, 1, full_name="Siân Ó Briain")
        booked = add_lead(now, 2, full_name="Amara Okafor")
        coach = db.session.get(Coach, coach.id)
        session = record_agreed_time(
            booked,
            coach,
            now + timedelta(days=10),
            60,
            SessionFormat.VIDEO,
            "https://meet.example/abc",
            now,
            settings=current_settings(),
        )
        db.session.commit()
        paths = {
            "slots": urlsplit(book_url(free)).path,
            "booked": urlsplit(book_url(booked)).path,
            "session": urlsplit(leader_session_url(session)).path,
            "move": urlsplit(leader_session_url(session)).path + "/move",
        }
        lead_id = free.id
    page = new_browser_page()
    for name, path in paths.items():
        for w in (320, 1280):
            page.set_viewport_size({"width": w, "height": 900})
            page.goto(live_url + path)
            page.screenshot(path=f"{OUT}{name}-{w}.png", full_page=True)
    page.goto(live_url + "/coach/sign-in")
    page.get_by_label("Email address").fill("maya@example.org")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/coach/**")
    for w in (320, 1280):
        page.set_viewport_size({"width": w, "height": 900})
        page.goto(live_url + "/coach/availability")
        page.screenshot(path=f"{OUT}availability-{w}.png", full_page=True)
        page.goto(live_url + f"/coach/leads/{lead_id}#offer-free-slots")
        page.locator("#offer-free-slots").screenshot(path=f"{OUT}lead-offer-{w}.png")
    page.goto(live_url + "/coach/availability")
    page.get_by_label("Monday").fill("9 till 5")
    page.get_by_role("button", name="Save your hours").click()
    page.wait_for_selector("text=There is a problem")
    page.screenshot(path=f"{OUT}availability-error-1280.png", full_page=True)

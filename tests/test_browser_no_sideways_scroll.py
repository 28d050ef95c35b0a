"""Every leader and coach page fits a 320 px screen (and a 1280 px one) without sideways scrolling.

A page scrolls sideways when `document.documentElement.scrollWidth > window.innerWidth`: a table
wider than the screen, an unbroken long email address, a form control with a fixed width. The
data is chosen to provoke it: a long email address and organisation, a lead with proposals, a
booked session, notes and emails.
"""

from __future__ import annotations

import os
from datetime import date, timedelta
from urllib.parse import urlsplit

import pytest
from sqlalchemy import select

from booking.extensions import db
from booking.links import (
    book_url,
    choose_url,
    follow_up_url,
    leader_session_url,
    password_reset_url,
    questionnaire_url,
    rsvp_url,
    set_password_url,
    withdraw_url,
)
from booking.models import (
    CalendarKind,
    Coach,
    CoachCalendar,
    OutboxMessage,
    OutboxStatus,
    SessionFormat,
    utcnow,
)
from booking.settings import current_settings
from booking.workflow.leads import add_note
from booking.workflow.scheduling import propose_times, record_agreed_time

from .coach_helpers import PASSWORD, add_coach, add_lead, give_profile, needs_sign_in, slot
from .outcomes_helpers import finished_journey
from .test_self_booking import give_hours

pytestmark = pytest.mark.browser
COACH_AREA = ("/coach/leads", "/coach/availability")
SOON = date.today() + timedelta(days=9)
WIDTHS = {"320 px": {"width": 320, "height": 640}, "1280 px": {"width": 1280, "height": 900}}
LONG_EMAIL = "siobhan.featherstonehaugh-wolstenholme@leicestershire-partnership-trust.nhs.example"
LONG_ORGANISATION = "Northamptonshire-Healthcare-Foundation-Trust-Community-Services-Directorate"
SCREENSHOTS = os.environ.get("NARROW_SCREENSHOTS")  # a path prefix, e.g. /tmp/narrow-

# Pages checked after signing in as a coach.


# Pages that need a signed-in coach.
SIGNED_IN_PAGES = ("/coach/leads", "/coach/calendars")


@pytest.fixture
def app(make_app):
    """Self-booking on, so its pages (and its blocks on the lead and session pages) are in."""
    return make_app(SELF_BOOKING=True)


@pytest.fixture
def pages(app, live_url) -> dict[str, str]:
    """Paths to every page, for leads with proposed times, a booked session, notes and emails."""
    with app.app_context():
        now = utcnow()
        coach = add_coach(now=now)
        coach.is_admin = True  # the admin pages too
        give_profile(coach, now=now)  # the choose page shows it
        proposed = add_lead(
            now,
            1,
            full_name="Siân Ó Briain",
            email=LONG_EMAIL,
            organisation=LONG_ORGANISATION,
            help_text="https://intranet.example/" + "a-very-long-path-segment-" * 6,
        )
        proposal = propose_times(
            proposed, coach, [slot(SOON, 10), slot(SOON, 14)], now, settings=current_settings()
        )
        booked = add_lead(now, 2, full_name="Amara Okafor", organisation=LONG_ORGANISATION)
        for n in range(3, 6):
            add_lead(now, n)
        coach = db.session.get(Coach, coach.id)
        session = record_agreed_time(
            booked,
            coach,
            now + timedelta(days=10),
            60,
            SessionFormat.VIDEO,
            "https://meet.example/" + "x" * 90,
            now,
            settings=current_settings(),
        )
        add_note(booked, coach, "Called: " + LONG_EMAIL + " " + "y" * 80, now=now)
        add_note(proposed, coach, "Prefers mornings.", now=now)
        # Of the booked lead's emails: one sent, one that failed with a long server reply.
        sent, failed = db.session.scalars(
            select(OutboxMessage).where(OutboxMessage.lead_id == booked.id).order_by("id")
        ).all()[:2]
        sent.status, sent.sent_at = OutboxStatus.SENT, now
        failed.status = OutboxStatus.FAILED
        failed.last_error = "550 5.1.1 <" + LONG_EMAIL + ">: Recipient address rejected"
        # A calendar that could not be read: the banner on every coach page, the long reason.
        db.session.add(
            CoachCalendar(
                coach_id=coach.id,
                kind=CalendarKind.FEED,
                name="Work (Outlook)",
                url_encrypted="not read by this test",
                created_at=now,
                last_success_at=now - timedelta(days=1),
                failing_since=now - timedelta(hours=3),
                last_error="The calendar server had a problem (HTTP 503). It may be down.",
            )
        )
        give_hours(coach)
        db.session.commit()

        coach = db.session.get(Coach, coach.id)
        coach.is_admin = True  # the reports page is for admins
        journey, _ = finished_journey(coach, 20, now, answered=False)
        _, answered = finished_journey(coach, 21, now, answered=True)
        _, waiting = finished_journey(coach, 22, now, answered=False)
        # A second row on the coaches page (added last: leads go to coaches in turn).
        add_coach("sam@example.org", "Sam Okoye", now=now)

        def path(url: str) -> str:
            return urlsplit(url).path

        return {
            "register": "/",
            "privacy": "/privacy",
            "thank you": "/thank-you",
            "withdraw": path(withdraw_url(booked)),
            "choose a time": path(choose_url(proposal)),
            "answer the invitation": path(rsvp_url(session, "leader")),
            "questionnaire": path(questionnaire_url(session)),
            "your session": path(leader_session_url(session)),
            "book a free time": path(book_url(proposed)),
            "booked": path(book_url(booked)),
            "move to a free time": path(leader_session_url(session)) + "/move",
            "link problem": "/choose/not-a-real-token",
            "not found": "/no-such-page",
            "coach sign-in": "/coach/sign-in",
            "password reset request": "/coach/password-reset",
            "password reset": path(password_reset_url(coach)),
            "coach home": "/coach/",
            "lead list": "/coach/leads",
            "lead list, everyone's, by next session": "/coach/leads?status=&coach=&sort=next",
            "your hours": "/coach/availability",
            "lead page, booked": f"/coach/leads/{booked.id}",
            "lead page, proposed": f"/coach/leads/{proposed.id}",
            "erase confirmation": f"/coach/leads/{booked.id}/erase",
            "set password": path(set_password_url(coach)),
            "your profile": "/coach/profile",
            "change your password": "/coach/password",
            "coaches (admin)": "/coach/admin/coaches",
            "add a coach (admin)": "/coach/admin/coaches/new",
            "email preferences": "/coach/account/notifications",
            "lead page, journey": f"/coach/leads/{journey.id}",
            "reports": "/coach/reports",
            "follow-up": path(follow_up_url(waiting)),
            "follow-up, before and after": path(follow_up_url(answered)),
            "my calendars, one failing": "/coach/calendars",
        }


def _overflow_at_each_width(page, name: str) -> list[str]:
    """The widths at which the page as loaded scrolls sideways (resized in place)."""
    found = []
    for width, viewport in WIDTHS.items():
        page.set_viewport_size(viewport)
        scroll, inner = page.evaluate(
            "() => [document.documentElement.scrollWidth, window.innerWidth]"
        )
        if scroll > inner:
            found.append(f"{name} at {width}: {scroll} px wide in a {inner} px window")
        if SCREENSHOTS and name.startswith(("lead", "reports", "follow-up")):
            slug = name.replace(" ", "-").replace(",", "")
            page.screenshot(path=f"{SCREENSHOTS}{slug}-{viewport['width']}.png", full_page=True)
    return found


def test_no_page_scrolls_sideways(new_browser_page, live_url, pages):
    page = new_browser_page(viewport=WIDTHS["320 px"])
    problems: list[str] = []
    checked = 0
    for name, path in pages.items():
        if needs_sign_in(path):
            continue
        page.goto(live_url + path)
        problems += _overflow_at_each_width(page, name)
        checked += 1

    # The registration form with every error showing.
    page.goto(live_url + "/")
    page.get_by_role("button", name="Register my interest").click()
    page.wait_for_selector("text=There is a problem")
    problems += _overflow_at_each_width(page, "register, with errors")
    checked += 1

    page.goto(live_url + "/coach/sign-in")
    page.get_by_label("Email address").fill("maya@example.org")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/coach/")
    for name, path in pages.items():
        if needs_sign_in(path):
            page.goto(live_url + path)
            problems += _overflow_at_each_width(page, name)
            checked += 1

    assert checked == len(pages) + 1
    assert problems == [], "\n".join(problems)


def test_the_check_sees_a_wide_page(new_browser_page, live_url):
    """The measurement is live: a page made wider than the window is reported."""
    page = new_browser_page(viewport=WIDTHS["320 px"])
    page.goto(live_url + "/privacy")
    assert _overflow_at_each_width(page, "privacy") == []
    page.evaluate("""() => {
        const wide = document.createElement('div');
        wide.style.width = '2000px';
        wide.style.height = '10px';
        document.querySelector('main').append(wide);
    }""")
    found = _overflow_at_each_width(page, "privacy")
    assert [p.split(":")[0] for p in found] == ["privacy at 320 px", "privacy at 1280 px"], found

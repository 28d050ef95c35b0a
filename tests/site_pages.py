"""Every page a leader or coach reaches, with data that stretches it, for the browser checks that
walk them all, in one walk (test_browser_every_page.py): axe-core
(test_browser_accessibility.py) and sideways scrolling at 320 px
(test_browser_no_sideways_scroll.py). A new page goes into
`site_pages` once and both see it.

The data is chosen to provoke problems: a long email address and organisation, a lead with
proposals, a booked session, notes, a sent and a failed email, a calendar that cannot be read,
a finished coaching journey with its follow-up, self-booking pages (the modules that use this
turn SELF_BOOKING on in their `app` fixture).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from typing import Any
from urllib.parse import urlsplit

import pytest
from flask import Flask
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

SOON = date.today() + timedelta(days=9)
LONG_EMAIL = "siobhan.featherstonehaugh-wolstenholme@leicestershire-partnership-trust.nhs.example"
LONG_ORGANISATION = "Northamptonshire-Healthcare-Foundation-Trust-Community-Services-Directorate"


@pytest.fixture
def site_pages(app: Flask, live_url: str) -> dict[str, str]:
    """Name -> path of every page: public ones first, then the signed-in coach's (the coach is
    an admin with a profile, so the admin pages and the profile on leaders' pages are in)."""
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


def walk_every_page(
    page: Any, live_url: str, pages: dict[str, str], check: Callable[[str], None]
) -> list[str]:
    """Load every page in `page` (one browser context) and call `check(name)` on each as
    loaded: the public pages, the registration form with every error showing, then the
    coach's pages after signing in as the coach `site_pages` made. Returns the names checked."""
    checked = []
    for name, path in pages.items():
        if not needs_sign_in(path):
            page.goto(live_url + path)
            check(name)
            checked.append(name)

    page.goto(live_url + "/")
    page.get_by_role("button", name="Register my interest").click()
    page.wait_for_selector("text=There is a problem")
    check("register, with errors")
    checked.append("register, with errors")

    page.goto(live_url + "/coach/sign-in")
    page.get_by_label("Email address").fill("maya@example.org")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/coach/")
    for name, path in pages.items():
        if needs_sign_in(path):
            page.goto(live_url + path)
            check(name)
            checked.append(name)
    return checked

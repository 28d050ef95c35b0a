"""Every page a leader or coach reaches, with data that stretches it, for the browser checks that
walk them all: axe-core (test_accessibility.py) and sideways scrolling at 320 px
(test_browser_no_sideways_scroll.py). A new page goes into `site_pages` once and both see it.

The data is chosen to provoke problems: a long email address and organisation, a lead with
proposals, a booked session, notes, a sent and a failed email.
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
    choose_url,
    leader_session_url,
    password_reset_url,
    questionnaire_url,
    rsvp_url,
    withdraw_url,
)
from booking.models import Coach, OutboxMessage, OutboxStatus, SessionFormat, utcnow
from booking.settings import current_settings
from booking.workflow.leads import add_note
from booking.workflow.scheduling import propose_times, record_agreed_time

from .coach_helpers import PASSWORD, add_coach, add_lead, slot

SOON = date.today() + timedelta(days=9)
LONG_EMAIL = "siobhan.featherstonehaugh-wolstenholme@leicestershire-partnership-trust.nhs.example"
LONG_ORGANISATION = "Northamptonshire-Healthcare-Foundation-Trust-Community-Services-Directorate"
COACH_AREA = "/coach/leads"


@pytest.fixture
def site_pages(app: Flask, live_url: str) -> dict[str, str]:
    """Name -> path of every page: public ones first, then the signed-in coach's (paths under
    /coach/leads), for leads with proposed times, a booked session, notes and emails."""
    with app.app_context():
        now = utcnow()
        coach = add_coach(now=now)
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
        db.session.commit()

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
            "link problem": "/choose/not-a-real-token",
            "not found": "/no-such-page",
            "coach sign-in": "/coach/sign-in",
            "password reset request": "/coach/password-reset",
            "password reset": path(password_reset_url(coach)),
            "lead list": COACH_AREA,
            "lead page, booked": f"{COACH_AREA}/{booked.id}",
            "lead page, proposed": f"{COACH_AREA}/{proposed.id}",
            "erase confirmation": f"{COACH_AREA}/{booked.id}/erase",
        }


def walk_every_page(
    page: Any, live_url: str, pages: dict[str, str], check: Callable[[str], None]
) -> list[str]:
    """Load every page in `page` (one browser context) and call `check(name)` on each as
    loaded: the public pages, the registration form with every error showing, then the
    coach's pages after signing in as the coach `site_pages` made. Returns the names checked."""
    checked = []
    for name, path in pages.items():
        if not path.startswith(COACH_AREA):
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
    page.wait_for_url(f"**{COACH_AREA}**")
    for name, path in pages.items():
        if path.startswith(COACH_AREA):
            page.goto(live_url + path)
            check(name)
            checked.append(name)
    return checked

"""Every page a leader or coach reaches, checked with axe-core in a real Chromium.

axe finds what a machine can (labels, names, contrast, landmarks, ARIA misuse); it does not
replace trying the pages with a screen reader. Moderate, serious and critical findings fail.
"""

from __future__ import annotations

from datetime import date, timedelta
from urllib.parse import urlsplit

import pytest

from booking.extensions import db
from booking.links import (
    book_url,
    choose_url,
    follow_up_url,
    leader_session_url,
    questionnaire_url,
    rsvp_url,
    set_password_url,
    withdraw_url,
)
from booking.models import CalendarKind, Coach, CoachCalendar, SessionFormat, utcnow
from booking.settings import current_settings
from booking.workflow.scheduling import propose_times, record_agreed_time

from .coach_helpers import PASSWORD, add_coach, add_lead, give_profile, needs_sign_in, slot  # noqa: F401
from .outcomes_helpers import finished_journey
from .test_self_booking import give_hours

pytestmark = pytest.mark.browser
COACH_AREA = ("/coach/leads", "/coach/availability")
SOON = date.today() + timedelta(days=9)
BLOCKING = {"moderate", "serious", "critical"}

# Pages checked after signing in as a coach.


# Pages that need a signed-in coach.
SIGNED_IN_PAGES = ("/coach/leads", "/coach/calendars")


@pytest.fixture
def app(make_app):
    """Self-booking on, so its pages (and its blocks on the lead and session pages) are in."""
    return make_app(SELF_BOOKING=True)


@pytest.fixture
def pages(app, live_url) -> dict[str, str]:
    """Paths to every page worth checking, for a lead with proposed times and one with a
    booked session."""
    with app.app_context():
        now = utcnow()
        coach = add_coach(now=now)
        coach.is_admin = True  # the admin pages too
        give_profile(coach, now=now)  # the choose page shows it
        proposed = add_lead(now, 1, full_name="Siân Ó Briain")
        proposal = propose_times(
            proposed, coach, [slot(SOON, 10), slot(SOON, 14)], now, settings=current_settings()
        )
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
            "coach sign-in": "/coach/sign-in",
            "not found": "/no-such-page",
            "coach home": "/coach/",
            "lead list": "/coach/leads",
            "your hours": "/coach/availability",
            "lead page": f"/coach/leads/{booked.id}",
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


def _problems(page) -> list[str]:
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page)
    return [
        f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes']][:3]}"
        for v in results.response["violations"]
        if v.get("impact") in BLOCKING
    ]


PHONE, DESKTOP = {"width": 390, "height": 844}, {"width": 1280, "height": 900}
WIDTHS = {"phone": PHONE, "desktop": DESKTOP}


def _problems_at_each_width(page) -> dict[str, list[str]]:
    """axe once per width on the page as loaded: resized in place, not loaded again."""
    found = {}
    for width, viewport in WIDTHS.items():
        page.set_viewport_size(viewport)
        found[width] = _problems(page)
    return found


def test_no_accessibility_problems_on_any_page(new_browser_page, live_url, pages):
    """Every page at a phone's width and a desktop's, in one browser context."""
    page = new_browser_page(viewport=PHONE)
    found: dict[str, dict[str, list[str]]] = {}
    public = {k: v for k, v in pages.items() if not needs_sign_in(v)}
    for name, path in public.items():
        page.goto(live_url + path)
        found[name] = _problems_at_each_width(page)

    # The form with every error showing.
    page.goto(live_url + "/")
    page.get_by_role("button", name="Register my interest").click()
    page.wait_for_selector("text=There is a problem")
    found["register, with errors"] = _problems_at_each_width(page)

    page.goto(live_url + "/coach/sign-in")
    page.get_by_label("Email address").fill("maya@example.org")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/coach/**")
    for name, path in pages.items():
        if needs_sign_in(path):
            page.goto(live_url + path)
            found[name] = _problems_at_each_width(page)

    assert len(found) == len(pages) + 1
    problems = {
        f"{name} ({width})": listed
        for name, by_width in found.items()
        for width, listed in by_width.items()
        if listed
    }
    assert problems == {}


def test_the_check_finds_a_real_problem(new_browser_page, live_url):
    """The harness is live: an unlabelled field and a nameless button are reported."""
    page = new_browser_page()
    page.goto(live_url + "/")
    page.evaluate("""() => {
        const form = document.querySelector('form.interest-form');
        form.insertAdjacentHTML('afterbegin', '<input type="text" id="x"><button></button>');
    }""")
    problems = _problems(page)
    assert any(p.startswith("label") for p in problems), problems
    assert any(p.startswith("button-name") for p in problems), problems

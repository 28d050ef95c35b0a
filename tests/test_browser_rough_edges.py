"""Rough edges that only a real browser shows (issue 8, items 13 and 14): touch targets the size
GOV.UK asks for, the character count, and a lead page short enough to work in."""

from __future__ import annotations

import os
from datetime import timedelta

import pytest

from booking.extensions import db
from booking.models import Coach, SessionFormat, utcnow
from booking.settings import current_settings
from booking.timefmt import to_local
from booking.workflow.leads import add_note
from booking.workflow.scheduling import cancel_session, propose_times, record_agreed_time

from .coach_helpers import PASSWORD, add_coach, add_lead, slot

pytestmark = pytest.mark.browser
PHONE = {"width": 320, "height": 640}
DESKTOP = {"width": 1280, "height": 900}


def test_radios_and_checkboxes_have_44_px_touch_targets_at_320_px(new_browser_page, live_url):
    page = new_browser_page(viewport=PHONE)
    page.goto(live_url + "/")
    options = page.locator(".choice")
    count = options.count()
    assert count >= 6  # four dimensions, three formats, the consent box
    small = []
    for i in range(count):
        option = options.nth(i)
        control = option.locator("input").bounding_box()
        label = option.locator("label").bounding_box()
        assert control and label
        if control["width"] < 44 or control["height"] < 44:
            small.append(f"option {i} input {control['width']}x{control['height']}")
        if label["height"] < 44:
            small.append(f"option {i} label {label['width']}x{label['height']}")
    assert small == []
    # The label is part of the target: pressing its far end chooses the option.
    label = page.locator("label[for='preferred_format-1']")
    label.scroll_into_view_if_needed()
    box = label.bounding_box()
    assert box
    page.mouse.click(box["x"] + box["width"] - 4, box["y"] + box["height"] / 2)
    assert page.locator("#preferred_format-1").is_checked()


def test_character_count_counts_down_in_a_live_region(new_browser_page, live_url):
    page = new_browser_page(viewport=PHONE)
    page.goto(live_url + "/")
    box = page.locator("#help_text")
    status = page.locator("#help_text ~ .character-count__status")
    assert status.get_attribute("aria-live") == "polite"
    assert status.inner_text() == "You have 2,000 characters remaining"
    # With the count showing, the box takes any length: too much is counted, not cut off.
    assert box.get_attribute("maxlength") is None
    box.fill("Leading a team through a hard winter.")
    assert status.inner_text() == "You have 1,963 characters remaining"
    box.fill("x" * 2003)
    assert status.inner_text() == "You have 3 characters too many"
    assert box.input_value() == "x" * 2003


@pytest.fixture
def long_lead(app) -> int:
    """A lead worked for weeks and now waiting for the leader: proposals sent again and again,
    a session booked and cancelled, notes, many emails, a long history."""
    with app.app_context():
        now = utcnow()
        settings = current_settings()
        coach = add_coach(now=now)
        lead = add_lead(now, help_text="Leading a team through a hard winter. " * 4)

        def propose(week: int) -> None:
            start = to_local(now + timedelta(days=7 + week), settings.zone)
            propose_times(
                lead,
                db.session.get(Coach, coach.id),
                [slot(start.date(), 9 + n) for n in range(3)],
                now,
                settings=settings,
            )
            db.session.commit()

        for week in range(3):
            propose(week)
        session = record_agreed_time(
            lead,
            db.session.get(Coach, coach.id),
            now + timedelta(days=20),
            60,
            SessionFormat.VIDEO,
            "https://meet.example/abc",
            now,
            settings=settings,
        )
        cancel_session(session, coach, "The coach is unwell", now, settings=settings)
        for week in range(3, 6):
            propose(week)
        for n in range(6):
            add_note(lead, coach, f"Called, no answer ({n}).", now=now)
        db.session.commit()
        return lead.id


def test_lead_page_with_a_long_history_is_short_at_1280_px(new_browser_page, live_url, long_lead):
    page = new_browser_page(viewport=DESKTOP)
    page.goto(live_url + "/coach/sign-in")
    page.get_by_label("Email address").fill("maya@example.org")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/coach/")
    page.goto(f"{live_url}/coach/leads/{long_lead}")
    height = page.evaluate("() => document.documentElement.scrollHeight")
    if os.environ.get("LEAD_PAGE_SCREENSHOT"):
        page.screenshot(path=os.environ["LEAD_PAGE_SCREENSHOT"], full_page=True)
    # Before folding, this lead's page was 9,110 px long; now it is under a third of that.
    assert height < 3000, f"the lead page is {height} px long"
    # Folded, not gone: the history opens with one press.
    history = page.locator("#history + details")
    assert not history.evaluate("d => d.open")
    history.locator("summary").click()
    assert page.locator("table.history").is_visible()
    assert page.evaluate("() => document.documentElement.scrollHeight") > height

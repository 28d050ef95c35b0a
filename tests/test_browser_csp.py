"""The Content-Security-Policy in a real Chromium: no page has anything the policy blocks, and the
error summary's script (now a static file) still runs (issue 7, item 4)."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from booking.extensions import db
from booking.models import utcnow

from .coach_helpers import PASSWORD, add_coach, add_lead

pytestmark = pytest.mark.browser


def test_no_page_breaks_the_policy(app, browser_page, live_url):
    with app.app_context():
        now = utcnow()
        add_coach(now=now)
        lead_id = add_lead(now, 1).id
        db.session.commit()
    page = browser_page
    refused: list[str] = []
    page.on(
        "console",
        lambda message: (
            refused.append(message.text) if "Content Security Policy" in message.text else None
        ),
    )
    page.on("pageerror", lambda error: refused.append(str(error)))

    for path in ("/", "/privacy", "/thank-you", "/no-such-page", "/coach/sign-in"):
        page.goto(live_url + path)
        assert page.evaluate("document.readyState") == "complete"

    page.goto(live_url + "/")
    page.get_by_role("button", name="Register my interest").click()
    page.locator(".error-summary").wait_for()
    # The script from booking/static/error-summary.js ran: the summary has focus ...
    expect(page.locator(".error-summary")).to_be_focused(timeout=30_000)
    # ... and a link in it moves focus to its field.
    page.locator(".error-summary").get_by_role("link").first.click()
    expect(page.get_by_label("Full name")).to_be_focused(timeout=30_000)

    page.goto(live_url + "/coach/sign-in")
    page.get_by_label("Email address").fill("maya@example.org")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/coach/")
    page.goto(live_url + f"/coach/leads/{lead_id}")
    assert page.get_by_role("heading", level=1).is_visible()

    assert refused == []

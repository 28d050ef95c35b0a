"""A person registering in a real Chromium: by labels, with mistakes, on a desktop and a phone,
and with JavaScript off."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from booking.extensions import db
from booking.models import Lead

from .browser import screenshot
from .conftest import count_rows

pytestmark = pytest.mark.browser


def no_horizontal_scroll(page) -> bool:
    return bool(page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"))


def test_register_with_mistakes_then_correct_them(app, browser_page, live_url):
    page = browser_page
    page.goto(live_url + "/")
    assert page.get_by_role("heading", level=1).inner_text().startswith("Compassionate leadership")

    page.get_by_label("Full name").fill("Siân O'Brien-Smith")
    page.get_by_label("Work email address").fill("sian.obrien@nhs")  # no top-level domain
    page.get_by_label("Phone number (optional)").fill("07911 123456")
    page.get_by_label("Organisation").fill("Northfield Community Trust")
    # Job title left empty; no format chosen; consent not ticked.
    page.get_by_label("Purpose-led").check()
    page.get_by_label("What would you like help with? (optional)").fill(
        "Two teams are merging.\nHow do I keep everyone with me?"
    )
    page.get_by_role("button", name="Register my interest").click()

    summary = page.locator(".error-summary")
    summary.wait_for()
    assert summary.get_by_role("heading").inner_text() == "There is a problem"
    # The summary has focus, so a screen reader announces it first (error-summary.js focuses it,
    # possibly a moment after it shows: wait for that rather than look once). Playwright's own
    # assertion polls without eval(), which the page's CSP refuses (a string given to
    # wait_for_function is evaluated with eval once its first look fails).
    expect(summary).to_be_focused()
    links = summary.get_by_role("link")
    assert links.all_inner_texts() == [
        "Enter an email address in the correct format, like name@nhs.net",
        "Enter your job title or role",
        "Select how you would prefer to meet",
        "Tick the box to agree that we may contact you about this request",
    ]
    # Everything typed is still there.
    assert page.get_by_label("Full name").input_value() == "Siân O'Brien-Smith"
    assert page.get_by_label("Work email address").input_value() == "sian.obrien@nhs"
    assert page.get_by_label("Purpose-led").is_checked()
    assert (
        page.get_by_label("What would you like help with? (optional)").input_value()
        == "Two teams are merging.\nHow do I keep everyone with me?"
    )
    assert not page.get_by_label("I agree to be contacted about this request").is_checked()
    screenshot(page, "registration-errors")

    # Following a summary link takes the person to the field, ready to type.
    summary.get_by_role("link", name="Enter your job title or role").click()
    assert page.url.endswith("#role")
    assert page.evaluate("document.activeElement.id") == "role"
    page.keyboard.type("Ward manager")
    assert page.get_by_label("Job title or role").input_value() == "Ward manager"

    summary.get_by_role("link", name="Select how you would prefer to meet").click()
    assert page.evaluate("document.activeElement.name") == "preferred_format"

    page.get_by_label("Work email address").fill("sian.obrien@nhs.example")
    page.get_by_label("Video call").check()
    page.get_by_label("I agree to be contacted about this request").check()
    page.get_by_role("button", name="Register my interest").click()

    # (the browser keeps the form's #register across the redirect; harmless)
    page.wait_for_url(re.compile(r"/thank-you(#register)?$"))
    assert page.get_by_role("heading", level=1).inner_text() == "Thank you – we have your request"
    # The address is shown masked (the cookie holds no personal data), enough to spot a typo.
    assert "s•••n@nhs.example" in page.content()
    assert "sian.obrien@nhs.example" not in page.content()

    with app.app_context():
        lead = db.session.scalars(select(Lead)).one()
        assert (lead.full_name, lead.role, lead.phone) == (
            "Siân O'Brien-Smith",
            "Ward manager",
            "+447911123456",
        )
    # Back and refresh do not make a second lead.
    page.go_back()
    assert count_rows(app, Lead) == 1


def test_the_honeypot_is_invisible_to_people(browser_page, live_url):
    browser_page.goto(live_url + "/")
    trap = browser_page.get_by_label("Leave this field empty")
    # Off-screen (not display:none, which some bots skip), out of the tab order, hidden from AT.
    assert trap.evaluate("e => e.getBoundingClientRect().right <= 0")
    assert trap.get_attribute("tabindex") == "-1"
    assert browser_page.locator(".trap").get_attribute("aria-hidden") == "true"


@pytest.mark.parametrize("width,height", [(390, 844), (320, 640), (1280, 900)])
def test_page_fits_the_screen_with_and_without_errors(new_browser_page, live_url, width, height):
    page = new_browser_page(
        viewport={"width": width, "height": height}, is_mobile=width < 500, has_touch=width < 500
    )
    page.goto(live_url + "/")
    assert no_horizontal_scroll(page)
    screenshot(page, f"registration-form-{width}")

    # Long unbroken input and every error shown at once must not push the page sideways.
    page.get_by_label("Work email address").fill("a-very-long-address-" * 5 + "@nhs.example")
    page.get_by_role("button", name="Register my interest").click()
    page.locator(".error-summary").wait_for()
    # The page with the errors is there before its stylesheet is (revalidated: a 304); sizes
    # measured before it has loaded are the unstyled page's (a 21 px button on a busy machine).
    page.wait_for_load_state("load")
    assert no_horizontal_scroll(page)
    screenshot(page, f"registration-errors-{width}")

    # Tap targets on a phone: the submit button and the checkboxes are comfortably big.
    button = page.get_by_role("button", name="Register my interest").bounding_box()
    assert button and button["height"] >= 40
    box = page.get_by_label("I agree to be contacted about this request").bounding_box()
    assert box and box["width"] >= 24 and box["height"] >= 24


def test_registering_works_with_javascript_off(app, new_browser_page, live_url):
    page = new_browser_page(java_script_enabled=False, viewport={"width": 320, "height": 800})
    page.goto(live_url + "/")
    page.get_by_role("button", name="Register my interest").click()
    # Without JavaScript the server's error summary still lists every problem as links.
    summary = page.locator(".error-summary")
    assert "Enter your full name" in summary.inner_text()
    page.get_by_label("Full name").fill("Siân O'Brien-Smith")
    page.get_by_label("Work email address").fill("sian.obrien@nhs.example")
    page.get_by_label("Phone number (optional)").fill("07700 900 982")
    page.get_by_label("Organisation").fill("Northfield Community Trust")
    page.get_by_label("Job title or role").fill("Ward manager")
    page.get_by_label("Compassionate", exact=True).check()
    page.get_by_label("Video call").check()
    page.get_by_label("I agree to be contacted about this request").check()
    page.get_by_role("button", name="Register my interest").click()
    assert page.get_by_role("heading", level=1).inner_text().startswith("Thank you")
    with app.app_context():
        assert db.session.query(Lead).filter_by(email="sian.obrien@nhs.example").count() == 1

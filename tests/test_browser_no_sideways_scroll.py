"""Every leader and coach page fits a 320 px screen (and a 1280 px one) without sideways scrolling.

A page scrolls sideways when `document.documentElement.scrollWidth > window.innerWidth`: a table
wider than the screen, an unbroken long email address, a form control with a fixed width. The
data is chosen to provoke it: a long email address and organisation, a lead with proposals, a
booked session, notes and emails.
"""

from __future__ import annotations

import os

import pytest

from .site_pages import walk_every_page

pytestmark = pytest.mark.browser
WIDTHS = {"320 px": {"width": 320, "height": 640}, "1280 px": {"width": 1280, "height": 900}}
SCREENSHOTS = os.environ.get("NARROW_SCREENSHOTS")  # a path prefix, e.g. /tmp/narrow-


@pytest.fixture
def app(make_app):
    """Self-booking on, so its pages (and its blocks on the lead and session pages) are in."""
    return make_app(SELF_BOOKING=True)


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
        if SCREENSHOTS:  # every page at both widths, to look at
            slug = "".join(c if c.isalnum() else "-" for c in name)
            page.screenshot(path=f"{SCREENSHOTS}{slug}-{viewport['width']}.png", full_page=True)
    return found


def test_no_page_scrolls_sideways(new_browser_page, live_url, site_pages):
    page = new_browser_page(viewport=WIDTHS["320 px"])
    problems: list[str] = []

    def check(name: str) -> None:
        problems.extend(_overflow_at_each_width(page, name))

    checked = walk_every_page(page, live_url, site_pages, check)
    assert len(checked) == len(site_pages) + 1
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

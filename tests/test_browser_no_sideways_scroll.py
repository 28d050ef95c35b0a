"""Every leader and coach page fits a 320 px screen (and a 1280 px one) without sideways scrolling.

A page scrolls sideways when `document.documentElement.scrollWidth > window.innerWidth`: a table
wider than the screen, an unbroken long email address, a form control with a fixed width. The
data is chosen to provoke it: a long email address and organisation, a lead with proposals, a
booked session, notes and emails. Every page is measured by the one walk of all pages
(test_browser_every_page.py); here, the measurement and a test that it is live.
"""

from __future__ import annotations

import os

import pytest

pytestmark = pytest.mark.browser
WIDTHS = {"320 px": {"width": 320, "height": 640}, "1280 px": {"width": 1280, "height": 900}}
SCREENSHOTS = os.environ.get("NARROW_SCREENSHOTS")  # a path prefix, e.g. /tmp/narrow-


def sideways_overflow(page, name: str, width: str) -> str | None:
    """Resize the page as loaded to one of WIDTHS (in place, not loaded again) and say whether
    it scrolls sideways there."""
    viewport = WIDTHS[width]
    page.set_viewport_size(viewport)
    scroll, inner = page.evaluate("() => [document.documentElement.scrollWidth, window.innerWidth]")
    if SCREENSHOTS:  # every page at both widths, to look at
        slug = "".join(c if c.isalnum() else "-" for c in name)
        page.screenshot(path=f"{SCREENSHOTS}{slug}-{viewport['width']}.png", full_page=True)
    if scroll > inner:
        return f"{name} at {width}: {scroll} px wide in a {inner} px window"
    return None


def _overflow_at_each_width(page, name: str) -> list[str]:
    found = [sideways_overflow(page, name, width) for width in WIDTHS]
    return [problem for problem in found if problem]


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

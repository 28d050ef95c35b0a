"""Every page a leader or coach reaches (`site_pages`), walked once in one Chromium context and
checked as loaded: axe-core at a phone's width and a desktop's
(test_browser_accessibility.py), and no sideways scrolling at 320 px and 1280 px
(test_browser_no_sideways_scroll.py).

One walk for both checks: loading the pages, with the data that stretches them, was most of the
time of each when they walked separately.
"""

from __future__ import annotations

import pytest

from .site_pages import walk_every_page
from .test_browser_accessibility import DESKTOP, PHONE, axe_problems
from .test_browser_no_sideways_scroll import WIDTHS, sideways_overflow

pytestmark = pytest.mark.browser


@pytest.fixture
def app(make_app):
    """Self-booking on, so its pages (and its blocks on the lead and session pages) are in."""
    return make_app(SELF_BOOKING=True)


def test_every_page_passes_axe_and_never_scrolls_sideways(new_browser_page, live_url, site_pages):
    page = new_browser_page(viewport=WIDTHS["320 px"])
    axe_found: dict[str, list[str]] = {}
    sideways: list[str | None] = []

    def check(name: str) -> None:
        # Each page is loaded at 320 px (the width left by the page before), then resized.
        sideways.append(sideways_overflow(page, name, "320 px"))
        page.set_viewport_size(PHONE)
        axe_found[f"{name} (phone)"] = axe_problems(page)
        sideways.append(sideways_overflow(page, name, "1280 px"))
        assert page.viewport_size == DESKTOP
        axe_found[f"{name} (desktop)"] = axe_problems(page)
        page.set_viewport_size(WIDTHS["320 px"])

    checked = walk_every_page(page, live_url, site_pages, check)
    assert len(checked) == len(site_pages) + 1 == len(axe_found) // 2
    assert [problem for problem in sideways if problem] == []
    assert {name: listed for name, listed in axe_found.items() if listed} == {}

"""Every page a leader or coach reaches, checked with axe-core in a real Chromium.

axe finds what a machine can (labels, names, contrast, landmarks, ARIA misuse); it does not
replace trying the pages with a screen reader. Moderate, serious and critical findings fail.
"""

from __future__ import annotations

import pytest

from .site_pages import walk_every_page

pytestmark = pytest.mark.browser
BLOCKING = {"moderate", "serious", "critical"}


@pytest.fixture
def app(make_app):
    """Self-booking on, so its pages (and its blocks on the lead and session pages) are in."""
    return make_app(SELF_BOOKING=True)


def _problems(page) -> list[str]:
    from axe_playwright_python.base import AXE_SCRIPT

    # axe-core (570 kB) is put into each loaded page once, not again for each run on it.
    if not page.evaluate("() => typeof window.axe === 'object'"):
        page.evaluate(AXE_SCRIPT)
    # Only what is reported comes back: axe's whole result (every rule that passed or did not
    # apply, with its nodes) is most of a page's check time when sent through Playwright.
    violations = page.evaluate(
        """options => axe.run(document, options).then(results => results.violations.map(
            v => ({id: v.id, impact: v.impact, help: v.help,
                   targets: v.nodes.slice(0, 3).map(node => node.target)})))""",
        {"resultTypes": ["violations"]},
    )
    return [
        f"{v['id']} ({v['impact']}): {v['help']} at {v['targets']}"
        for v in violations
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


def test_no_accessibility_problems_on_any_page(new_browser_page, live_url, site_pages):
    """Every page at a phone's width and a desktop's, in one browser context."""
    page = new_browser_page(viewport=PHONE)
    found: dict[str, dict[str, list[str]]] = {}

    def check(name: str) -> None:
        found[name] = _problems_at_each_width(page)

    checked = walk_every_page(page, live_url, site_pages, check)
    assert len(checked) == len(site_pages) + 1 == len(found)
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

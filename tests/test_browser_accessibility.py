"""The axe-core check in a real Chromium, and a test that it is live. Every page a leader or coach
reaches is checked with it at a phone's width and a desktop's by the one walk of all pages
(test_browser_every_page.py).

axe finds what a machine can (labels, names, contrast, landmarks, ARIA misuse); it does not
replace trying the pages with a screen reader. Moderate, serious and critical findings fail.
"""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.browser
BLOCKING = {"moderate", "serious", "critical"}


def axe_problems(page) -> list[str]:
    """What axe reports on the page as it is now, moderate or worse, one line each."""
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


def test_the_check_finds_a_real_problem(new_browser_page, live_url):
    """The harness is live: an unlabelled field and a nameless button are reported."""
    page = new_browser_page()
    page.goto(live_url + "/")
    page.evaluate("""() => {
        const form = document.querySelector('form.interest-form');
        form.insertAdjacentHTML('afterbegin', '<input type="text" id="x"><button></button>');
    }""")
    problems = axe_problems(page)
    assert any(p.startswith("label") for p in problems), problems
    assert any(p.startswith("button-name") for p in problems), problems

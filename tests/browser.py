"""Driving a real Chromium (Debian's /usr/bin/chromium) through Playwright against the app served
on a free loopback port. Reusable by any test module:

    @pytest.mark.browser
    def test_something(browser_page, live_url):
        browser_page.goto(live_url + "/")
        browser_page.get_by_label("Full name").fill("Amara Okafor")

Fixtures (imported into conftest.py so every module sees them):
- `browser`: one headless Chromium for the whole session (starting it is the slow part; conftest
  runs the browser tests last, so it starts once and the other tests never wait on it);
- `browser_page`: a fresh context and page per test (no cookies carried over), 1280x900;
- `new_browser_page(**context_options)`: more pages, e.g. a phone viewport;
- `live_url`: the `app` fixture served in a thread, its BASE_URL set to match (so links in
  emails point at it);
- `serve(app)`: the same as a context manager, for an app built with `make_app(...)`.

`screenshot(page, name)` saves a full-page screenshot into $TEST_SCREENSHOTS when that is set
(to look at what the tests saw), and costs nothing otherwise.

Without Chromium the browser tests are skipped with the reason; with REQUIRE_BROWSER=1 (as in
.ci/run) they fail instead.

Waits are Playwright's auto-waiting and `wait_for`/`expect` on a condition, never sleeps, with a
30-second limit (BROWSER_TIMEOUT_MS): a loaded machine slows Chromium down by seconds.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from werkzeug.serving import make_server

from booking.settings import update_settings

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
BROWSER_TIMEOUT_MS = 30_000
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


# Screenshots of what the browser tests saw, for a person to look at: only when asked for
# (`TEST_SCREENSHOTS=/some/dir`), since a full-page capture costs about half a second.
SCREENSHOT_DIR = os.environ.get("TEST_SCREENSHOTS")


def screenshot(page: Any, name: str) -> None:
    """Save a full-page screenshot as TEST_SCREENSHOTS/<name>.png, if that is set."""
    if SCREENSHOT_DIR:
        Path(SCREENSHOT_DIR).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(SCREENSHOT_DIR) / f"{name}.png"), full_page=True)


def _unavailable(reason: str) -> None:
    if os.environ.get("REQUIRE_BROWSER") == "1":
        pytest.fail(f"REQUIRE_BROWSER=1 but the browser cannot run: {reason}")
    pytest.skip(f"browser tests need Chromium: {reason}")


@contextmanager
def serve(app: Flask) -> Iterator[str]:
    """Serve `app` on a free loopback port in a thread; yields its base URL."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    url = f"http://127.0.0.1:{server.server_port}"
    app.config["BASE_URL"] = url
    update_settings(app, base_url=url)
    thread = threading.Thread(target=server.serve_forever, name="live-server", daemon=True)
    thread.start()
    try:
        yield url
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=30)


@contextmanager
def chromium(headless: bool = True) -> Iterator[Any]:
    """A Playwright Browser on Debian's Chromium; skips (or fails) when it cannot start."""
    if not Path(CHROMIUM).is_file():
        _unavailable(f"{CHROMIUM} not found (apt-get install chromium)")
    try:
        from playwright.sync_api import Error as PlaywrightError
        from playwright.sync_api import sync_playwright
    except ImportError as error:  # pragma: no cover - playwright is a test dependency
        _unavailable(f"playwright is not installed ({error})")
    from playwright.sync_api import expect

    expect.set_options(timeout=BROWSER_TIMEOUT_MS)
    with sync_playwright() as playwright:
        try:
            browser = playwright.chromium.launch(
                executable_path=CHROMIUM,
                headless=headless,
                args=CHROMIUM_ARGS,
                timeout=BROWSER_TIMEOUT_MS * 2,
            )
        except PlaywrightError as error:
            _unavailable(f"{CHROMIUM} did not start: {str(error).splitlines()[0]}")
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    with chromium() as launched:
        yield launched


@pytest.fixture
def new_browser_page(browser: Any) -> Iterator[Callable[..., Any]]:
    contexts: list[Any] = []

    def factory(**context_options: Any) -> Any:
        context_options.setdefault("viewport", {"width": 1280, "height": 900})
        context_options.setdefault("locale", "en-GB")
        context = browser.new_context(**context_options)
        context.set_default_timeout(BROWSER_TIMEOUT_MS)
        context.set_default_navigation_timeout(BROWSER_TIMEOUT_MS)
        contexts.append(context)
        return context.new_page()

    yield factory
    for context in contexts:
        context.close()


@pytest.fixture
def browser_page(new_browser_page: Callable[..., Any]) -> Any:
    return new_browser_page()


@pytest.fixture
def live_url(app: Flask) -> Iterator[str]:
    with serve(app) as url:
        yield url

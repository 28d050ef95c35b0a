"""Steps people take in the browser tests, shared by the end-to-end modules: delivering the
outbox to the test SMTP server, reading what it received, registering, signing a coach in and
proposing times from the lead's page."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import date
from email.message import EmailMessage
from typing import Any

from flask import Flask

from booking import outbox

from .coach_helpers import PASSWORD


def deliver(app: Flask) -> None:
    """Send everything due now to the app's MAIL_SERVER (the test SMTP server)."""
    with app.app_context():
        report = outbox.deliver_due()
        assert not report.failed and not report.retrying, report


def text_part(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain",))
    return str(part.get_content()) if part is not None else ""


def link_in(message: EmailMessage, path_pattern: str) -> str:
    """The first link in the message's text whose path matches, e.g. r"/choose/\\S+"."""
    match = re.search(rf"(http://\S+{path_pattern})", text_part(message))
    assert match, f"no link matching {path_pattern!r} in {message['Subject']!r}"
    return match[1]


def register(page: Any, url: str, name: str, email: str) -> None:
    """A leader fills the interest form in, by its labels, and sends it."""
    page.goto(url + "/")
    page.get_by_label("Full name").fill(name)
    page.get_by_label("Work email address").fill(email)
    page.get_by_label("Organisation").fill("Riverside Hospitals")
    page.get_by_label("Job title or role").fill("Director of Nursing")
    page.get_by_label("Compassionate", exact=True).check()
    page.get_by_label("Video call").check()
    page.get_by_label("I agree to be contacted about this request").check()
    with page.expect_navigation():
        page.get_by_role("button", name="Register my interest").click()
    assert "/thank-you" in page.url


def sign_in_from_link(page: Any, link: str, email: str, heading: str) -> None:
    """A coach follows a link to the coach area, is sent to sign in (a page that shows nothing
    of the lead), and lands on the page whose heading is `heading` (the leader's name)."""
    page.goto(link)
    assert "/coach/sign-in" in page.url
    assert heading not in page.content()
    page.get_by_label("Email address").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("heading", name=heading).wait_for()


def propose(
    page: Any,
    leader_name: str,
    times: Sequence[tuple[date, str]],
    detail: str = "https://meet.example/maya",
) -> None:
    """On the lead's page, the coach proposes these (date, "HH:MM") times."""
    for n, (day, start) in enumerate(times, start=1):
        if n == 3:  # times 3 to 5 are folded away until asked for
            page.get_by_text("Offer more times").click()
        page.get_by_label(f"Date for time {n}", exact=True).fill(day.isoformat())
        page.get_by_label(f"Start time for time {n}", exact=True).fill(start)
        page.get_by_label(f"Joining link, number to call or address for time {n}", exact=True).fill(
            detail
        )
    page.get_by_role("button", name=f"Send these times to {leader_name}").click()
    count = len(times)
    page.get_by_text(f"{count} time{'s' if count != 1 else ''} sent to {leader_name}.").wait_for()

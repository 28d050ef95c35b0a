"""A whole journey in a real Chromium: the leader rates themselves before the first session, the
coach marks it held, books and holds a second, closes the journey; `flask outcomes send-due`
sends the follow-up; the leader answers it and sees before and after; an admin sees the change
in the report (five leaders, so nothing is suppressed)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import pytest
from sqlalchemy import select

from booking import links
from booking.extensions import db
from booking.kinds import MailKind
from booking.models import Coach, OutboxMessage, SessionFormat
from booking.settings import current_settings, set_clock
from booking.workflow.scheduling import record_agreed_time

from .coach_helpers import PASSWORD, add_coach, add_lead
from .outcomes_helpers import finished_journey

pytestmark = pytest.mark.browser


def test_a_journey_from_before_to_after(app, live_url, new_browser_page):
    real = datetime.now(UTC) + timedelta(days=45)
    final = real.replace(day=15, hour=12, minute=0, second=0, microsecond=0)
    base = final - timedelta(days=40)
    clock = [base]
    set_clock(app, lambda: clock[0])
    with app.app_context():
        coach = add_coach(now=base)
        coach.is_admin = True
        db.session.commit()
        for n in range(1, 5):  # four leaders whose follow-ups were answered the same month
            finished_journey(coach, n, final, answered=True)
        lead = add_lead(base, 50, full_name="Amara Okafor")
        first = record_agreed_time(
            lead,
            db.session.get(Coach, coach.id),
            base + timedelta(days=2),
            60,
            SessionFormat.VIDEO,
            "https://meet.example/a",
            base,
            settings=current_settings(),
        )
        db.session.commit()
        lead_id = lead.id
        reflection = urlsplit(links.questionnaire_url(first)).path

    # Before: the leader rates themselves 2, 3 and 1.
    leader = new_browser_page()
    leader.goto(live_url + reflection)
    for qid, value in (
        ("rating_compassionate", 2),
        ("rating_purpose_led", 3),
        ("rating_practical", 1),
    ):
        leader.check(f'input[name="{qid}"][value="{value}"]')
    leader.get_by_role("button", name="Save my answers").click()
    leader.wait_for_selector("text=Your answers are saved")

    coach_page = new_browser_page()
    coach_page.goto(live_url + "/coach/sign-in")
    coach_page.get_by_label("Email address").fill("maya@example.org")
    coach_page.get_by_label("Password").fill(PASSWORD)
    coach_page.get_by_role("button", name="Sign in").click()
    coach_page.wait_for_url("**/coach/**")
    lead_page = f"{live_url}/coach/leads/{lead_id}"

    # The first session has taken place: mark it held, book the second.
    clock[0] = base + timedelta(days=2, hours=2)
    coach_page.goto(lead_page)
    coach_page.locator("form[id^=mark-held] button").click()
    assert coach_page.locator("#lead-status").inner_text() == "Held"
    coach_page.get_by_text("Record a time agreed by phone or email").click()
    second = (base + timedelta(days=5)).date().isoformat()
    coach_page.fill("#agreed-day", second)
    coach_page.fill("#agreed-start", "10:00")
    coach_page.fill("#agreed-detail", "https://meet.example/b")
    coach_page.get_by_role("button", name="Book this time").click()
    assert coach_page.locator("#lead-status").inner_text() == "Agreed"

    # The second too; then the journey closes.
    clock[0] = base + timedelta(days=5, hours=12)
    coach_page.goto(lead_page)
    coach_page.locator("form[id^=mark-held] button").click()
    assert "Session 2:" in coach_page.locator("#journey ~ ol.journey").inner_text()
    coach_page.locator("#close-journey button").click()
    assert coach_page.locator("#lead-status").inner_text() == "Closed"
    assert "Due" in coach_page.locator("#follow-up-state").inner_text()

    # Weeks later the scheduled command sends the follow-up.
    clock[0] = final
    result = app.test_cli_runner().invoke(args=["outcomes", "send-due"])
    assert "1 follow-up(s)" in result.output, result.output
    with app.app_context():
        [mail] = db.session.scalars(
            select(OutboxMessage).where(
                OutboxMessage.kind == MailKind.LEADER_FOLLOW_UP, OutboxMessage.lead_id == lead_id
            )
        ).all()
    url = re.search(r"https?://\S+/follow-up/\S+", mail.body_text).group(0)

    # After: 4, 4, 3; the leader sees before and after.
    leader.goto(live_url + urlsplit(url).path)
    for qid, value in (
        ("rating_compassionate", 4),
        ("rating_purpose_led", 4),
        ("rating_practical", 3),
    ):
        leader.check(f'input[name="{qid}"][value="{value}"]')
    leader.get_by_role("button", name="Save and see my before and after").click()
    leader.wait_for_selector("text=Your before and after")
    table = leader.locator("table.before-after__table").inner_text()
    assert re.search(r"Compassionate\s+2\s+4\s+\+2", table), table
    assert leader.locator("img.before-after__chart").evaluate("i => i.naturalWidth > 0")

    # The admin's report: five leaders' changes this month, none suppressed.
    coach_page.goto(live_url + "/coach/reports")
    row = coach_page.locator("#table-outcomes tr", has_text=final.strftime("%Y-%m"))
    cells = row.locator("td").all_inner_texts()
    # Compassionate: four leaders 2 → 4 and this one 2 → 4: +2.0 over 5.
    assert cells[1:3] == ["2.0", "5"], cells

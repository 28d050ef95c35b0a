"""The whole path in a real Chromium, with a real SMTP server: a leader registers, a coach signs
in and proposes three times, the leader opens the link from the email the server received and
picks one, and both confirmations arrive."""

from __future__ import annotations

import re
from datetime import date, timedelta

import pytest
from sqlalchemy import select

from booking.extensions import db
from booking.models import CoachingSession, Lead, LeadStatus

from .browser import screenshot, serve
from .browser_flows import deliver, link_in, propose, register, sign_in_from_link, text_part
from .coach_helpers import PASSWORD

pytestmark = pytest.mark.browser

LEADER = "amara.okafor@nhs.example"
COACH = "maya@example.org"


def test_register_propose_choose_confirm(make_app, smtp_server, new_browser_page):
    app = make_app(**smtp_server.config())
    runner = app.test_cli_runner()
    created = runner.invoke(
        args=["coach", "add", COACH, "--name", "Maya Coach", "--password", PASSWORD]
    )
    assert created.exit_code == 0, created.output
    day = date.today() + timedelta(days=8)
    days = [day, day + timedelta(days=1), day + timedelta(days=2)]

    with serve(app) as url:
        # The leader registers.
        leader = new_browser_page()
        register(leader, url, "Amara Okafor", LEADER)
        deliver(app)
        assert smtp_server.messages_to(LEADER), "no acknowledgement"
        [new_lead] = smtp_server.messages_to(COACH)

        # The coach follows the link in her email, signs in (the sign-in page shows nothing of
        # the lead), and proposes three times.
        coach = new_browser_page()
        sign_in_from_link(coach, link_in(new_lead, r"/coach/leads/\d+"), COACH, "Amara Okafor")
        propose(coach, "Amara Okafor", list(zip(days, ["09:00", "11:30", "14:00"], strict=True)))
        assert coach.locator("#lead-status").inner_text() == "Times proposed"
        deliver(app)

        # The leader opens the link in the email the SMTP server received, and picks one.
        proposal_mail = [
            m
            for m in smtp_server.messages_to(LEADER)
            if m["Subject"] == "Times for your first coaching session"
        ]
        assert len(proposal_mail) == 1
        body = text_part(proposal_mail[0])
        assert "/withdraw/" in body
        leader.goto(link_in(proposal_mail[0], r"/choose/\S+"))
        wanted = f"{days[1]:%A} {days[1].day} {days[1]:%B %Y}, 11:30–12:30"
        options = leader.locator("label.choice__label").all_inner_texts()
        assert len(options) == 3
        assert any(o.startswith(wanted) for o in options), options
        leader.get_by_label(re.compile("^" + re.escape(wanted))).check()
        screenshot(leader, "coach-flow-choose")
        leader.get_by_role("button", name="Book this time").click()
        leader.get_by_role("heading", name="Your session is booked").wait_for()
        assert wanted in leader.content()

        with app.app_context():
            lead = db.session.scalars(select(Lead)).one()
            assert lead.status == LeadStatus.AGREED
            session = db.session.scalars(select(CoachingSession)).one()
            assert session.starts_at.isoformat().startswith(days[1].isoformat())

        # Both confirmations arrive.
        before_leader = len(smtp_server.messages_to(LEADER))
        before_coach = len(smtp_server.messages_to(COACH))
        deliver(app)
        leader_new = smtp_server.messages_to(LEADER)[before_leader:]
        coach_new = smtp_server.messages_to(COACH)[before_coach:]
        assert len(leader_new) == 1 and len(coach_new) == 1
        for message in leader_new + coach_new:
            assert wanted in text_part(message)
        assert "/withdraw/" in text_part(leader_new[0])

        # The coach sees it on the lead's page.
        coach.reload()
        assert coach.locator("#lead-status").inner_text() == "Agreed"
        assert wanted in coach.locator("#sessions ~ .panel").first.inner_text()

"""One of each row a signed link can name, with a real link for each purpose: for the tests that
reach every page class with valid tokens (test_security_headers.py, test_hostile_input.py)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta

from flask import Flask
from sqlalchemy import select

from booking.extensions import db
from booking.links import make_token, password_reset_token
from booking.models import OutboxMessage, utcnow
from booking.settings import current_settings
from booking.workflow.scheduling import propose_times

from .coach_helpers import add_coach, add_lead, slot
from .invite_helpers import make_session


@dataclass(frozen=True)
class LinkedRows:
    coach_id: int  # maya@example.org, the coach the tests sign in as; the lead is hers
    lead_id: int  # with an open proposal of one time
    session_id: int  # a booked session (another lead's)
    choose: str  # the "choose a time" token, as emailed to the leader
    withdraw: str
    leader_session: str
    rsvp: str  # the leader's
    questionnaire: str
    password_reset: str  # a second coach's, so following it never touches the signed-in one


def linked_rows(app: Flask) -> LinkedRows:
    with app.app_context():
        now = utcnow()
        coach = add_coach(now=now)
        other = add_coach("resets@example.org", "Reset Coach", now=now)
        lead = add_lead(now, 1)
        lead.assigned_coach = coach
        propose_times(
            lead,
            coach,
            [slot(date.today() + timedelta(days=9), 10)],
            now,
            settings=current_settings(),
        )
        session = make_session()
        db.session.commit()
        body = db.session.scalars(
            select(OutboxMessage.body_text).where(OutboxMessage.kind == "leader_proposed_times")
        ).one()
        choose = re.search(r"http://booking\.test/choose/(\S+)", body)
        assert choose, body
        return LinkedRows(
            coach_id=coach.id,
            lead_id=lead.id,
            session_id=session.id,
            choose=choose[1],
            withdraw=make_token("withdraw", {"lead": lead.id}),
            leader_session=make_token("leader-session", {"session": session.id}),
            rsvp=make_token("rsvp", {"session": session.id, "role": "leader"}),
            questionnaire=make_token("questionnaire", {"session": session.id}),
            password_reset=password_reset_token(other),
        )

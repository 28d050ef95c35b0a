"""A leader with a full history (two leads, notes, proposals, a booked session, questionnaire
answers, mail sent and queued), and a search of every text column for what identifies them."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import String, Text, func, select

from booking import outbox
from booking.extensions import db
from booking.models import Coach, CoachingSession, Lead, LeadStatus, SessionFormat
from booking.workflow.leads import add_note, change_status
from booking.workflow.responses import save_questionnaire
from booking.workflow.scheduling import agree_time, none_suit, propose_times

from .coach_helpers import add_coach, add_lead, slot

NAME = "Siân O'Brien-Smith"
EMAIL = "sian.obrien@nhs.example"
PHONE = "+447911123456"
HELP = "Leading a team through a hard winter at Quillfield ward."
AVAILABILITY = "Tuesday mornings before the huddle"
OLD_REASON = "Wants mentoring in Leeds rather than coaching"
NOTE = "She mentioned her manager Dr Zephyrine Quartermaine"
NONE_SUIT = "Only Thursdays after my night shift ends"
ANSWER = "My team trusts me more since the Wexcombe audit"
REPEAT_ROLE = "Matron for the Pemberley unit"

# What must not be found anywhere after erasure (case-insensitive). "brien" catches the name
# in any escaping (O'Brien, O&#39;Brien) and the email's local part; "siân" the first name.
NEEDLES = [
    "siân",
    "brien",
    "7911123456",
    "quillfield",
    "before the huddle",
    "mentoring in leeds",
    "zephyrine",
    "night shift",
    "wexcombe",
    "pemberley",
    "northfield community trust",
]


@dataclass
class Person:
    coach: Coach
    old: Lead
    lead: Lead
    session: CoachingSession


def build_person(now: datetime) -> Person:
    """Everything a leader can leave behind. `now` is 2026-11-30 10:00 UTC (the fixture)."""
    coach = add_coach(now=now - timedelta(days=40))
    details = dict(
        full_name=NAME,
        phone=PHONE,
        organisation="Northfield Community Trust",
        help_text=HELP,
        availability=AVAILABILITY,
    )
    # An earlier request, closed, with the address in other capitals.
    old = add_lead(now - timedelta(days=40), n=1, email=EMAIL.upper(), **details)
    change_status(
        old, LeadStatus.NOT_SUITABLE, coach=coach, reason=OLD_REASON, now=now - timedelta(days=39)
    )
    db.session.commit()

    lead = add_lead(now - timedelta(days=3), n=2, email=EMAIL, **details)
    add_lead(now - timedelta(days=2), n=3, email=EMAIL, **{**details, "role": REPEAT_ROLE})
    add_note(lead, coach, NOTE, now=now - timedelta(days=2))
    first = propose_times(lead, coach, [slot(date(2026, 12, 8), 10)], now - timedelta(days=2))
    none_suit(first, NONE_SUIT, now - timedelta(days=2))
    second = propose_times(
        lead,
        coach,
        [slot(date(2026, 12, 10), 11, format=SessionFormat.PHONE, detail=PHONE)],
        now - timedelta(days=1),
    )
    db.session.commit()
    # Some of the mail goes out; reminders and later mail stay queued.
    outbox.deliver_due(now=now - timedelta(days=1))
    session = agree_time(second.times[0], now - timedelta(hours=20))
    save_questionnaire(session, {"approach": ANSWER}, now - timedelta(hours=2))
    db.session.commit()
    return Person(coach=coach, old=old, lead=lead, session=session)


def text_hits(needles: list[str]) -> list[tuple[str, str, str]]:
    """(table, column, needle) for every text column of every table holding a needle; email
    attachments are decoded first (the calendar is in there, base64)."""
    hits = []
    for table in db.metadata.sorted_tables:
        for column in table.columns:
            if not isinstance(column.type, String | Text):
                continue
            for needle in needles:
                found = db.session.execute(
                    select(func.count())
                    .select_from(table)
                    .where(func.lower(column).contains(needle.lower(), autoescape=True))
                ).scalar()
                if found:
                    hits.append((table.name, column.name, needle))
    messages = db.metadata.tables["outbox_message"]
    for attachments, calendar in db.session.execute(
        select(messages.c.attachments_json, messages.c.calendar)
    ):
        texts = [
            base64.b64decode(a["data_b64"]).decode("utf-8", "replace")
            for a in json.loads(attachments)
        ]
        for text in [*texts, calendar or ""]:
            # iCalendar folds long lines ("\r\n "), which could split a name in two.
            unfolded = text.replace("\r\n ", "").replace("\\,", ",").lower()
            hits += [("outbox_message", "calendar (unfolded)", n) for n in needles if n in unfolded]
    return hits

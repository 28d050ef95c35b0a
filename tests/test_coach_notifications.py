"""Telling the right coach at the right time (issue 8 section 2): which coach is told of each
event, immediate emails or a daily digest (`flask coach digest`, idempotent per day and safe
against a crash), and Reply-To the leader's coach on the leader's emails, read from what a real
SMTP server received."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import getaddresses

import pytest
from flask import Flask
from icalendar import Calendar
from sqlalchemy import select

from booking import outbox
from booking.extensions import db
from booking.kinds import MailKind
from booking.models import (
    Coach,
    CoachDigest,
    CoachingSession,
    CoachNotice,
    Lead,
    OutboxMessage,
    PartStat,
    Proposal,
    ProposalStatus,
    SessionFormat,
)
from booking.settings import current_settings, set_clock
from booking.workflow import withdraw
from booking.workflow.leads import assign
from booking.workflow.notices import queue_digest
from booking.workflow.responses import record_partstat
from booking.workflow.scheduling import (
    leader_cancel_session,
    leader_request_new_time,
    none_suit,
    propose_times,
    record_agreed_time,
)

from .coach_helpers import add_coach, add_lead, slot

# Everything a coach is told by, one email each (the calendar CANCEL is the coach's own copy).
COACH_NOTICE_KINDS = {
    MailKind.COACH_NEW_LEAD,
    MailKind.COACH_REPEAT_REGISTRATION,
    MailKind.COACH_LEAD_ASSIGNED,
    MailKind.COACH_NEW_TIME_REQUESTED,
    MailKind.COACH_NONE_SUIT,
    MailKind.COACH_SESSION_DECLINED,
    MailKind.COACH_SESSION_CANCELLED,
    MailKind.COACH_LEADER_WITHDRAWN,
}


def _rows(kinds: set[MailKind] | None = None, after: int = 0) -> list[OutboxMessage]:
    query = select(OutboxMessage).where(OutboxMessage.id > after).order_by(OutboxMessage.id)
    return [r for r in db.session.scalars(query) if kinds is None or r.kind in kinds]


def _last_id() -> int:
    return max((r.id for r in _rows()), default=0)


def _told(after: int) -> list[tuple[str, list[str]]]:
    """(kind, recipients) of each coach notification queued since row `after`."""
    return [(r.kind, r.recipients) for r in _rows(COACH_NOTICE_KINDS, after)]


def _two_coaches(now: datetime) -> tuple[Coach, Coach]:
    maya = add_coach("maya@example.org", "Maya Patel", now=now)
    sam = add_coach("sam@example.org", "Sam Okafor", now=now)
    return maya, sam


def _booked(now: datetime, coach: Coach, n: int = 1) -> tuple[Lead, CoachingSession]:
    lead = add_lead(now, n)
    if lead.assigned_coach_id != coach.id:
        assign(lead, coach, actor=coach, now=now, settings=current_settings())
    session = record_agreed_time(
        lead,
        coach,
        now + timedelta(days=3, hours=n),
        60,
        SessionFormat.VIDEO,
        "https://meet.example/room/1",
        now,
        settings=current_settings(),
    )
    db.session.commit()
    return lead, session


# ----- who is told of what -----------------------------------------------------------------


def test_a_lead_handed_on_is_emailed_to_the_new_coach_only(app_ctx, now):
    maya, sam = _two_coaches(now)
    lead = add_lead(now)
    assert lead.assigned_coach_id == maya.id  # round-robin
    mark = _last_id()
    assign(lead, sam, actor=maya, now=now, settings=current_settings())
    db.session.commit()
    [row] = _rows({MailKind.COACH_LEAD_ASSIGNED}, mark)
    assert row.recipients == ["sam@example.org"]
    assert row.subject.startswith("Maya Patel handed you a lead: Leader 1")
    assert f"/coach/leads/{lead.id}" in row.body_text

    # Taking a lead yourself tells nobody.
    mark = _last_id()
    assign(lead, maya, actor=maya, now=now, settings=current_settings())
    db.session.commit()
    assert _told(mark) == []


def test_a_new_lead_assigned_by_round_robin_goes_to_its_coach(app_ctx, now):
    _two_coaches(now)
    add_lead(now, 1)
    add_lead(now, 2)
    assert [(k, to) for k, to in _told(0)] == [
        (MailKind.COACH_NEW_LEAD, ["maya@example.org"]),
        (MailKind.COACH_NEW_LEAD, ["sam@example.org"]),
    ]


def test_an_unassigned_new_lead_still_goes_to_every_coach(make_app, now):
    app = make_app(ROUND_ROBIN_ASSIGNMENT=False)
    with app.app_context():
        _two_coaches(now)
        lead = add_lead(now)
        assert lead.assigned_coach is None
        assert _told(0) == [(MailKind.COACH_NEW_LEAD, ["maya@example.org", "sam@example.org"])]
        mark = _last_id()
        withdraw(lead, reason="", now=now, settings=current_settings())
        db.session.commit()
        assert _told(mark) == [
            (MailKind.COACH_LEADER_WITHDRAWN, ["maya@example.org", "sam@example.org"])
        ]


def test_an_unassigned_lead_goes_to_coach_notify_emails_when_set(make_app, now):
    app = make_app(ROUND_ROBIN_ASSIGNMENT=False, COACH_NOTIFY_EMAILS=["team@example.org"])
    with app.app_context():
        _two_coaches(now)
        add_lead(now)
        assert _told(0) == [(MailKind.COACH_NEW_LEAD, ["team@example.org"])]


def lead_proposals(lead: Lead) -> list[Proposal]:
    return list(db.session.scalars(select(Proposal).where(Proposal.lead_id == lead.id)))


def _ask_new_time(lead: Lead, session: CoachingSession, now: datetime) -> None:
    leader_request_new_time(session, "Mornings suit me better", now, settings=current_settings())


def _offer_new_times(lead: Lead, session: CoachingSession, now: datetime) -> None:
    propose_times(
        lead,
        session.coach,
        [slot((now + timedelta(days=5)).date(), 10)],
        now,
        settings=current_settings(),
    )
    db.session.commit()


def _none_suit(lead: Lead, session: CoachingSession, now: datetime) -> None:
    [proposal] = [p for p in lead_proposals(lead) if p.status == ProposalStatus.OPEN]
    none_suit(proposal, "Not mornings after all", now, settings=current_settings())


def _decline(lead: Lead, session: CoachingSession, now: datetime) -> None:
    record_partstat(
        session, "leader", PartStat.DECLINED, now, source="email", settings=current_settings()
    )


def _cancel(lead: Lead, session: CoachingSession, now: datetime) -> None:
    leader_cancel_session(session, "A clash at work", now, settings=current_settings())


def _withdraw(lead: Lead, session: CoachingSession, now: datetime) -> None:
    withdraw(lead, reason="Found support elsewhere", now=now, settings=current_settings())


# event -> the email the assigned coach gets (None: the calendar CANCEL is the notice)
EVENTS = {
    "asks for a new time": (_ask_new_time, MailKind.COACH_NEW_TIME_REQUESTED),
    "says none suit": (_none_suit, MailKind.COACH_NONE_SUIT),  # after _offer_new_times
    "declines": (_decline, MailKind.COACH_SESSION_DECLINED),
    "cancels": (_cancel, None),
    "withdraws": (_withdraw, MailKind.COACH_LEADER_WITHDRAWN),
}


@pytest.mark.parametrize("event", list(EVENTS))
def test_each_leader_event_is_emailed_to_the_leads_coach_only(app_ctx, now, event):
    act, kind = EVENTS[event]
    maya, sam = _two_coaches(now)
    lead, session = _booked(now, sam)
    if act is _none_suit:
        _offer_new_times(lead, session, now)
    mark = _last_id()
    act(lead, session, now)
    db.session.commit()
    told = _told(mark)
    if kind is None:
        # The session's coach is told by their calendar's CANCEL, and nobody else is told.
        assert told == []
        cancels = _rows({MailKind.COACH_SESSION_UPDATE}, mark)
        assert [r.recipients for r in cancels] == [["sam@example.org"]]
    else:
        assert told == [(kind, ["sam@example.org"])]


@pytest.mark.parametrize("event", list(EVENTS))
def test_the_coach_now_assigned_is_told_rather_than_the_sessions_coach(app_ctx, now, event):
    """Maya booked the session, then handed the lead to Sam: Sam is the one told."""
    act, kind = EVENTS[event]
    maya, sam = _two_coaches(now)
    lead, session = _booked(now, maya)
    if act is _none_suit:
        _offer_new_times(lead, session, now)  # Maya offered new times before handing it on
    assign(lead, sam, actor=maya, now=now, settings=current_settings())
    db.session.commit()
    mark = _last_id()
    act(lead, session, now)
    db.session.commit()
    expected = kind or MailKind.COACH_SESSION_CANCELLED
    assert _told(mark) == [(expected, ["sam@example.org"])]


@pytest.mark.parametrize(
    ("act", "kind"),
    [(_decline, MailKind.COACH_SESSION_DECLINED), (_cancel, MailKind.COACH_SESSION_CANCELLED)],
)
def test_a_coach_who_left_is_replaced_by_the_usual_recipients(app_ctx, now, act, kind):
    maya, sam = _two_coaches(now)
    lead, session = _booked(now, maya)
    maya.active = False
    db.session.commit()
    mark = _last_id()
    act(lead, session, now)
    db.session.commit()
    assert _told(mark) == [(kind, ["sam@example.org"])]


# ----- the daily digest ------------------------------------------------------------------


def _digest(app: Flask, at: datetime) -> str:
    set_clock(app, lambda: at)
    result = app.test_cli_runner().invoke(args=["coach", "digest"])
    assert result.exit_code == 0, result.output
    return result.output


def _digests() -> list[OutboxMessage]:
    return _rows({MailKind.COACH_DIGEST})


def test_a_digest_coach_gets_no_email_per_event_but_one_digest(app, app_ctx, now):
    maya, sam = _two_coaches(now)
    lead, session = _booked(now, sam)
    other, _ = _booked(now, sam, n=2)
    sam.email_digest = True
    db.session.commit()
    mark = _last_id()
    _ask_new_time(lead, session, now)
    _decline(lead, session, now + timedelta(minutes=5))
    assign(other, maya, actor=sam, now=now, settings=current_settings())  # Maya: immediate
    db.session.commit()
    assert _told(mark) == [(MailKind.COACH_LEAD_ASSIGNED, ["maya@example.org"])]
    notices = db.session.scalars(select(CoachNotice).order_by(CoachNotice.id)).all()
    assert [(n.coach_id, n.kind) for n in notices] == [
        (sam.id, "new-time-requested"),
        (sam.id, "declined"),
    ]
    # No copy of the leader's name in the notices: the digest reads it from the lead.
    assert all("Leader 1" not in n.summary for n in notices)

    assert "1 digest queued" in _digest(app, now + timedelta(days=1))
    [digest] = _digests()
    assert digest.recipients == ["sam@example.org"]
    assert digest.subject == "Your leads: 2 updates (Tuesday 1 December)"
    assert "Leader 1 (Riverside Hospitals)" in digest.body_text
    assert "Asked for a different time" in digest.body_text
    assert "Declined the session" in digest.body_text
    assert f'href="http://booking.test/coach/leads/{lead.id}"' in digest.body_html
    assert "Leader 2" not in digest.body_text  # nothing happened on it for Sam


def test_the_digest_runs_once_a_day_and_lists_each_event_once(app, app_ctx, now):
    _, sam = _two_coaches(now)
    lead, session = _booked(now, sam)
    sam.email_digest = True
    db.session.commit()
    _ask_new_time(lead, session, now)
    db.session.commit()
    morning = datetime(2026, 12, 1, 7, 30, tzinfo=UTC)
    _digest(app, morning)
    assert len(_digests()) == 1

    # Run twice the same day: nothing new, even with a new event in between.
    assert "0 digests queued" in _digest(app, morning)
    _decline(lead, session, morning + timedelta(hours=1))
    db.session.commit()
    assert "0 digests queued" in _digest(app, morning + timedelta(hours=2))
    assert len(_digests()) == 1

    # The next day: only what happened since.
    _digest(app, morning + timedelta(days=1))
    first, second = _digests()
    assert "Declined the session" in second.body_text
    assert "Asked for a different time" not in second.body_text
    assert "1 update" in second.subject

    # Nothing waiting: no empty digest.
    _digest(app, morning + timedelta(days=2))
    assert len(_digests()) == 2


def test_a_deactivated_coach_gets_no_digest_until_reactivated(app, app_ctx, now):
    _, sam = _two_coaches(now)
    lead, session = _booked(now, sam)
    sam.email_digest = True
    db.session.commit()
    _ask_new_time(lead, session, now)
    sam.active = False
    db.session.commit()
    _digest(app, now + timedelta(days=1))
    assert _digests() == []
    sam.active = True
    db.session.commit()
    _digest(app, now + timedelta(days=2))
    assert [r.recipients for r in _digests()] == [["sam@example.org"]]


def test_a_crash_before_the_commit_sends_nothing_twice_and_loses_nothing(app, app_ctx, now):
    """The digest row, its outbox row and the notices' marks are one transaction."""
    _, sam = _two_coaches(now)
    lead, session = _booked(now, sam)
    sam.email_digest = True
    db.session.commit()
    _ask_new_time(lead, session, now)
    db.session.commit()
    morning = datetime(2026, 12, 1, 7, 30, tzinfo=UTC)

    digest = queue_digest(sam, now=morning, settings=current_settings())
    assert digest is not None
    db.session.rollback()  # the process died before committing
    assert _digests() == [] and db.session.scalars(select(CoachDigest)).all() == []
    assert db.session.scalars(select(CoachNotice.digest_id)).all() == [None]

    _digest(app, morning)
    _digest(app, morning + timedelta(minutes=1))  # a retry after a crash past the commit
    [row] = _digests()
    assert "Asked for a different time" in row.body_text
    [marked] = db.session.scalars(select(CoachNotice)).all()
    [kept] = db.session.scalars(select(CoachDigest)).all()
    assert marked.digest_id == kept.id and kept.outbox_message_id == row.id


def test_a_second_digest_for_the_same_day_is_refused_by_the_database(app_ctx, now):
    """Two runs at once: the unique (coach, day) row lets one through."""
    from sqlalchemy.exc import IntegrityError

    _, sam = _two_coaches(now)
    db.session.add(CoachDigest(coach_id=sam.id, day=now.date(), created_at=now))
    db.session.commit()
    db.session.add(CoachDigest(coach_id=sam.id, day=now.date(), created_at=now))
    with pytest.raises(IntegrityError):
        db.session.commit()
    db.session.rollback()


def test_the_digest_arrives_through_smtp_with_links_to_each_lead(make_app, smtp_server, now):
    app = make_app(**smtp_server.config())
    with app.app_context():
        _, sam = _two_coaches(now)
        lead, session = _booked(now, sam)
        sam.email_digest = True
        db.session.commit()
        _cancel(lead, session, now)
        db.session.commit()
        lead_id = lead.id
        _digest(app, now + timedelta(days=1))
        outbox.deliver_due(now=now + timedelta(days=1))
    [received] = [r for r in smtp_server.received if "Your leads" in r.message["Subject"]]
    assert received.rcpt_tos == ["sam@example.org"]
    html = received.message.get_body(("html",)).get_content()
    assert f"http://booking.test/coach/leads/{lead_id}" in html
    assert "Cancelled the session on" in html


# ----- Reply-To the coach on the leader's emails -----------------------------------------


def _reply_to(received) -> list[tuple[str, str]]:
    return getaddresses(received.message.get_all("Reply-To") or [])


def test_leader_emails_carry_reply_to_their_coach(make_app, smtp_server, now):
    app = make_app(**smtp_server.config())
    with app.app_context():
        _, sam = _two_coaches(now)
        _booked(now, sam)  # round-robin gave it to Maya; Sam took it and booked it
        outbox.deliver_due(now=now)
    by_subject = {r.message["Subject"]: r for r in smtp_server.received}
    to_leader = [r for r in smtp_server.received if r.rcpt_tos == ["leader1@nhs.example"]]
    assert len(to_leader) >= 2  # the acknowledgement and the invitation
    for received in to_leader:
        assert received.message["From"].addresses[0].addr_spec == "coaching@example.org"
        # The acknowledgement too: it is written when it is sent (emails.COMPOSED_AT_SEND), by
        # when Sam had taken the lead over from Maya, so a reply reaches the coach who has it.
        assert _reply_to(received) == [("Sam Okafor", "sam@example.org")]
    # The invitation too: its calendar answers still go to the ORGANIZER, the service.
    calendars = [
        part.get_content()
        for r in to_leader
        for part in r.message.walk()
        if part.get_content_type() == "text/calendar"
    ]
    assert calendars
    for text in calendars:
        [event] = Calendar.from_ical(text).walk("VEVENT")
        organizer = str(event["ORGANIZER"]).lower()
        assert organizer.startswith("mailto:") and "sam@example.org" not in organizer
    # Mail to coaches has no Reply-To.
    for subject, received in by_subject.items():
        if received.rcpt_tos != ["leader1@nhs.example"]:
            assert received.message["Reply-To"] is None, subject


def test_an_unassigned_leaders_email_has_no_reply_to(make_app, smtp_server, now):
    app = make_app(ROUND_ROBIN_ASSIGNMENT=False, **smtp_server.config())
    with app.app_context():
        _two_coaches(now)
        add_lead(now)
        outbox.deliver_due(now=now)
    [ack] = [r for r in smtp_server.received if r.rcpt_tos == ["leader1@nhs.example"]]
    assert ack.message["Reply-To"] is None


def test_a_coach_name_with_accents_and_commas_survives_the_header(make_app, smtp_server, now):
    app = make_app(**smtp_server.config())
    with app.app_context():
        add_coach("zoe@example.org", "Zoë O'Brien, PhD", now=now)
        add_lead(now)
        outbox.deliver_due(now=now)
    [ack] = [r for r in smtp_server.received if r.rcpt_tos == ["leader1@nhs.example"]]
    [(name, address)] = [(a.display_name, a.addr_spec) for a in ack.message["Reply-To"].addresses]
    assert (name, address) == ("Zoë O'Brien, PhD", "zoe@example.org")

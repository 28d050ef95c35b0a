"""The leader's own changes to a booked session, from the link in their invitation: cancel it, or
ask for a different time; the coach offers new times for that session and the leader's pick
moves it (the same calendar entry), never booking a second one.

Workflow tests without HTTP, page tests through the test client (GET changes nothing, each
action is a POST, bad links refused with no personal data), and what a real SMTP server
received, parsed with icalendar.
"""

from __future__ import annotations

import re
import time
from datetime import date, datetime, timedelta

import pytest
from icalendar import Calendar
from itsdangerous import URLSafeTimedSerializer
from itsdangerous.timed import TimestampSigner
from sqlalchemy import func, select
from werkzeug.datastructures import MultiDict

from booking import outbox
from booking.extensions import db
from booking.invite_emails import REMINDER_KIND
from booking.links import leader_session_url, make_token, read_token, rsvp_url
from booking.models import (
    Coach,
    CoachingSession,
    Lead,
    LeadEvent,
    LeadStatus,
    OutboxMessage,
    OutboxStatus,
    Proposal,
    ProposalStatus,
    SessionFormat,
    SessionStatus,
    utcnow,
)
from booking.public.forms import SuitableTimesForm
from booking.timefmt import to_local
from booking.workflow import DomainError
from booking.workflow.leads import change_status
from booking.workflow.scheduling import (
    agree_time,
    cancel_session,
    leader_cancel_session,
    leader_request_new_time,
    none_suit,
    open_new_time_request,
    propose_times,
    record_agreed_time,
    reschedule_session,
)

from .coach_helpers import add_coach, add_lead, fast_passwords, post, sign_in, slot  # noqa: F401
from .conftest import hidden_fields, parse


def booked(
    now: datetime, days: int = 3, n: int = 1, coach: Coach | None = None
) -> tuple[Lead, CoachingSession]:
    """A lead with a session booked `days` ahead with the coach (made when not given)."""
    coach = coach or add_coach(now=now)
    lead = add_lead(now, n)
    session = record_agreed_time(
        lead,
        coach,
        now + timedelta(days=days),
        60,
        SessionFormat.VIDEO,
        "https://meet.example/room/1",
        now,
    )
    db.session.commit()
    return lead, session


def rows(**where: object) -> list[OutboxMessage]:
    found = db.session.scalars(select(OutboxMessage).order_by(OutboxMessage.id))
    return [r for r in found if all(getattr(r, k) == v for k, v in where.items())]


def event_of(row: OutboxMessage):
    calendar = Calendar.from_ical(row.calendar)
    assert str(calendar["METHOD"]) == row.calendar_method
    [event] = calendar.walk("VEVENT")
    return event


def count(model) -> int:
    return int(db.session.scalar(select(func.count()).select_from(model)))


def local_slot(moment: datetime, minutes: int = 60):
    """A proposed time at this instant, typed as the coach would (local date and time)."""
    local = to_local(moment)
    return slot(local.date(), local.hour, local.minute, minutes=minutes)


# ----- the leader cancels ----------------------------------------------------------------


def test_leader_cancel_sends_cancel_to_both_frees_the_slot_and_stops_reminders(app_ctx, now):
    lead, session = booked(now)
    uid, sequence, coach = session.uid, session.sequence, session.coach
    assert len(rows(kind=REMINDER_KIND, status=OutboxStatus.PENDING)) == 2

    leader_cancel_session(session, "  A clash with a board meeting ", now + timedelta(hours=1))
    db.session.commit()

    assert session.status == SessionStatus.CANCELLED
    assert session.sequence == sequence + 1
    assert lead.status == LeadStatus.CONTACTED
    cancels = rows(calendar_method="CANCEL")
    assert sorted(r.recipients[0] for r in cancels) == sorted([lead.email, coach.email])
    for row in cancels:
        event = event_of(row)
        assert str(event["UID"]) == uid
        assert int(event["SEQUENCE"]) == sequence + 1
        assert str(event["STATUS"]) == "CANCELLED"
        assert "A clash with a board meeting" in row.body_text
    assert rows(kind=REMINDER_KIND, status=OutboxStatus.PENDING) == []
    assert len(rows(kind=REMINDER_KIND, status=OutboxStatus.CANCELLED)) == 2

    # The history says the leader did it (no coach as the actor).
    cancelled = db.session.scalars(
        select(LeadEvent).where(LeadEvent.kind == "session-cancelled")
    ).one()
    assert cancelled.actor_coach_id is None and cancelled.actor_label == lead.full_name

    # The slot is free again: another leader can be booked into exactly that time.
    other = add_lead(now, 2)
    again = record_agreed_time(
        other,
        coach,
        session.starts_at,
        60,
        SessionFormat.VIDEO,
        "https://meet.example/room/2",
        now + timedelta(hours=2),
    )
    db.session.commit()
    assert again.starts_at == session.starts_at and again.id != session.id


def test_a_reason_is_optional(app_ctx, now):
    lead, session = booked(now)
    leader_cancel_session(session, "", now)
    db.session.commit()
    assert session.cancel_reason == f"Cancelled by {lead.full_name}"


def test_refused_moves_raise_and_change_nothing(app_ctx, now):
    lead, session = booked(now, days=1)
    # A session that has started (or is past) cannot be cancelled or moved by the leader.
    for action in (
        lambda: leader_cancel_session(session, "", session.starts_at),
        lambda: leader_request_new_time(
            session, "Later please", session.starts_at + timedelta(hours=2)
        ),
    ):
        with pytest.raises(DomainError, match="already started"):
            action()
    # A blank note is an input check, made once by the page's form (public/forms.py).
    blank = SuitableTimesForm(formdata=MultiDict({"note": "   "}))
    assert not blank.validate()
    assert blank.first_error() == "Tell your coach which days and times would suit you."
    assert session.status == SessionStatus.BOOKED

    leader_cancel_session(session, "", now)
    db.session.commit()
    for action in (
        lambda: leader_cancel_session(session, "", now),
        lambda: leader_request_new_time(session, "Another time", now),
    ):
        with pytest.raises(DomainError, match="cancelled"):
            action()

    lead2, held = booked(now, days=1, n=2, coach=session.coach)
    change_status(
        lead2,
        LeadStatus.HELD,
        coach=held.coach,
        reason="",
        now=held.starts_at + timedelta(minutes=5),
    )
    with pytest.raises(DomainError, match="taken place"):
        leader_cancel_session(held, "", held.starts_at - timedelta(hours=1))


# ----- the leader asks for a different time ------------------------------------------------


def test_asking_for_a_new_time_tells_the_coach_and_keeps_the_session(app_ctx, now):
    lead, session = booked(now)
    before = rows()
    assert leader_request_new_time(session, "Thursday afternoons\nnext week", now) is True
    db.session.commit()

    assert session.status == SessionStatus.BOOKED and lead.status == LeadStatus.AGREED
    event = open_new_time_request(lead)
    assert event is not None and event.kind == "new-time-requested"
    assert event.actor_label == lead.full_name and event.actor_coach_id is None
    assert event.detail["reason"] == "Thursday afternoons\nnext week"
    [mail] = [r for r in rows() if r not in before]
    assert mail.kind == "coach_new_time_requested"
    assert mail.recipients == [session.coach.email]
    assert "Thursday afternoons" in mail.body_text
    assert f"http://booking.test/coach/leads/{lead.id}" in mail.body_text
    assert f"/coach/leads/{lead.id}" in mail.body_html

    # The same request again (a double click) records nothing more.
    assert leader_request_new_time(session, "Thursday afternoons\nnext week", now) is False
    db.session.commit()
    assert len(rows()) == len(before) + 1


def test_a_request_goes_to_the_coaches_when_the_coach_has_left(app_ctx, now):
    lead, session = booked(now)
    add_coach("sam@example.org", "Sam Coach", now=now)
    session.coach.active = False
    db.session.commit()
    leader_request_new_time(session, "Mornings", now)
    db.session.commit()
    [mail] = rows(kind="coach_new_time_requested")
    assert mail.recipients == ["sam@example.org"]


# ----- new times for the booked session ------------------------------------------------------


def test_picking_from_new_times_moves_the_same_session(app_ctx, now):
    lead, session = booked(now)
    uid, coach = session.uid, session.coach
    leader_request_new_time(session, "Next week instead", now)
    db.session.commit()

    later = now + timedelta(hours=1)
    new_start = now + timedelta(days=8)
    proposal = propose_times(
        lead, coach, [local_slot(new_start), local_slot(new_start + timedelta(days=1))], later
    )
    db.session.commit()
    assert proposal.moves_session_id == session.id
    assert lead.status == LeadStatus.AGREED  # stays agreed while the offer is open
    assert open_new_time_request(lead) is None  # answered by the offer
    [offer] = rows(kind="leader_proposed_times")
    assert offer.subject == "New times for your coaching session"
    assert "new times for it" in offer.body_text
    assert "stays booked at its current time until you choose" in offer.body_text

    before = {r.id for r in rows()}
    moved = agree_time(proposal.times[0], later + timedelta(minutes=5))
    db.session.commit()

    assert moved.id == session.id and count(CoachingSession) == 1
    assert session.status == SessionStatus.BOOKED and lead.status == LeadStatus.AGREED
    assert session.starts_at == new_start and session.sequence == 1
    assert proposal.status == ProposalStatus.CHOSEN
    updates = [r for r in rows() if r.id not in before and r.calendar]
    assert sorted(r.recipients[0] for r in updates) == sorted([lead.email, coach.email])
    for row in updates:
        assert row.calendar_method == "REQUEST"
        assert row.subject.startswith("Updated invitation")
        event = event_of(row)
        assert str(event["UID"]) == uid and int(event["SEQUENCE"]) == 1
        assert event.decoded("DTSTART") == new_start
    live = rows(kind=REMINDER_KIND, status=OutboxStatus.PENDING)
    assert {r.due_at for r in live} == {new_start - timedelta(hours=24)} and len(live) == 2
    moved_event = db.session.scalars(
        select(LeadEvent).where(LeadEvent.kind == "session-moved")
    ).one()
    assert moved_event.actor_label == lead.full_name


def test_new_times_may_overlap_the_session_being_moved(app_ctx, now):
    lead, session = booked(now)
    half_hour_later = session.starts_at + timedelta(minutes=30)
    proposal = propose_times(lead, session.coach, [local_slot(half_hour_later)], now)
    moved = agree_time(proposal.times[0], now)
    db.session.commit()
    assert moved.id == session.id and session.starts_at == half_hour_later


def test_new_times_still_clash_with_the_coachs_other_sessions(app_ctx, now):
    lead, session = booked(now)
    _, other = booked(now, days=5, n=2, coach=session.coach)
    with pytest.raises(DomainError, match="clashes"):
        propose_times(lead, session.coach, [local_slot(other.starts_at)], now)


def test_none_suit_keeps_the_session_and_tells_the_coach(app_ctx, now):
    lead, session = booked(now)
    proposal = propose_times(lead, session.coach, [local_slot(now + timedelta(days=6))], now)
    db.session.commit()
    none_suit(proposal, "Only Fridays, sorry", now + timedelta(hours=1))
    db.session.commit()

    assert session.status == SessionStatus.BOOKED and session.sequence == 0
    assert lead.status == LeadStatus.AGREED
    assert proposal.status == ProposalStatus.NONE_SUIT
    [mail] = rows(kind="coach_none_suit")
    assert "stays booked" in mail.subject and "Only Fridays" in mail.body_text
    reopened = open_new_time_request(lead)
    assert reopened is not None and reopened.kind == "move-none-suit"


def test_offers_to_move_close_when_the_session_moves_or_is_cancelled(app_ctx, now):
    lead, session = booked(now)
    proposal = propose_times(lead, session.coach, [local_slot(now + timedelta(days=6))], now)
    db.session.commit()
    reschedule_session(session, session.coach, now + timedelta(days=4), 60, now)
    db.session.commit()
    assert proposal.status == ProposalStatus.CLOSED
    with pytest.raises(DomainError, match="no longer open"):
        agree_time(proposal.times[0], now)

    proposal = propose_times(lead, session.coach, [local_slot(now + timedelta(days=6))], now)
    cancel_session(session, session.coach, "Coach unwell", now)
    db.session.commit()
    assert proposal.status == ProposalStatus.CLOSED
    assert count(CoachingSession) == 1


def test_only_the_sessions_coach_offers_new_times_for_it(app_ctx, now):
    lead, session = booked(now)
    other = add_coach("sam@example.org", "Sam Coach", now=now)
    lead.assigned_coach = other
    with pytest.raises(DomainError, match="only they can"):
        propose_times(lead, other, [local_slot(now + timedelta(days=6))], now)


# ----- the pages -----------------------------------------------------------------------------


@pytest.fixture
def live(app_ctx):
    """A session booked five days from the real now (pages use the clock)."""
    now = utcnow()
    lead, session = booked(now, days=5)
    return lead, session


def path_of(url: str) -> str:
    return url.removeprefix("http://booking.test")


def snapshot() -> tuple:
    db.session.expire_all()
    return (
        count(CoachingSession),
        count(LeadEvent),
        count(OutboxMessage),
        count(Proposal),
        sorted(
            (s.id, s.status.value, s.sequence) for s in db.session.scalars(select(CoachingSession))
        ),
    )


def sessions_linked(text: str) -> set[int]:
    """The session ids of every working /session/ link in the text. The token is compared by
    what it says, not letter for letter: it carries the second it was signed."""
    found = set()
    for token in re.findall(r"/session/([A-Za-z0-9_.-]+)", text):
        found.add(read_token("leader-session", token)["session"])
    return found


def test_the_link_is_in_the_leaders_emails_and_on_the_rsvp_page(live, client):
    lead, session = live
    [to_leader] = rows(kind="leader_session_confirmed")
    [to_coach] = rows(kind="coach_session_confirmed")
    assert sessions_linked(to_leader.body_text) == {session.id}
    assert sessions_linked(to_leader.body_html) == {session.id}
    assert sessions_linked(to_leader.calendar.replace("\r\n ", "")) == {session.id}
    assert "/session/" not in to_coach.body_text and "/session/" not in to_coach.body_html
    reminder = [r for r in rows(kind=REMINDER_KIND) if r.recipients == [lead.email]][0]
    assert sessions_linked(reminder.body_text) == {session.id}

    leader_rsvp = client.get(path_of(rsvp_url(session, "leader"))).get_data(as_text=True)
    assert sessions_linked(leader_rsvp) == {session.id}
    coach_rsvp = client.get(path_of(rsvp_url(session, "coach"))).get_data(as_text=True)
    assert "/session/" not in coach_rsvp


def test_opening_the_pages_changes_nothing(live, client):
    lead, session = live
    before = snapshot()
    path = path_of(leader_session_url(session))
    page = client.get(path)
    assert page.status_code == 200
    text = parse(page).text
    local = to_local(session.starts_at)
    assert f"{local:%H:%M}" in text and local.tzname() in text
    assert "https://meet.example/room/1" in text and session.coach.name in text
    assert "Ask for a different time" in text and "Cancel this session" in text
    confirm = client.get(path + "/cancel")
    assert confirm.status_code == 200
    assert "Yes, cancel the session" in confirm.get_data(as_text=True)
    assert snapshot() == before


def test_asking_for_a_new_time_from_the_page(live, client):
    lead, session = live
    path = path_of(leader_session_url(session))
    form = hidden_fields(client.get(path).get_data(as_text=True))
    before = snapshot()
    empty = client.post(path + "/new-time", data={**form, "note": "  "})
    assert empty.status_code == 400 and "which days and times" in empty.get_data(as_text=True)
    assert snapshot() == before

    done = client.post(path + "/new-time", data={**form, "note": "Mornings next week"})
    assert done.status_code == 200 and "We have told your coach" in parse(done).text
    db.session.expire_all()
    assert session.status == SessionStatus.BOOKED
    assert [r.kind for r in rows(kind="coach_new_time_requested")] == ["coach_new_time_requested"]
    # The page now says the request is with the coach; a second click adds nothing.
    assert "You asked for a different time" in parse(client.get(path)).text
    client.post(path + "/new-time", data={**form, "note": "Mornings next week"})
    assert len(rows(kind="coach_new_time_requested")) == 1


def test_cancelling_from_the_page_and_a_double_click(live, client):
    lead, session = live
    path = path_of(leader_session_url(session))
    form = hidden_fields(client.get(path + "/cancel").get_data(as_text=True))
    assert client.post(path + "/cancel", data={"reason": "x"}).status_code == 400  # no CSRF
    done = client.post(path + "/cancel", data={**form, "reason": "Away that week"})
    assert done.status_code == 200 and "Your session is cancelled" in parse(done).text
    after_first = snapshot()
    db.session.expire_all()
    assert session.status == SessionStatus.CANCELLED
    assert len(rows(calendar_method="CANCEL")) == 2

    again = client.post(path + "/cancel", data={**form, "reason": "Away that week"})
    assert again.status_code == 409 and "This session was cancelled" in parse(again).text
    assert snapshot() == after_first
    page = client.get(path)
    assert page.status_code == 200 and "This session was cancelled" in parse(page).text
    assert "Away that week" in parse(page).text


def test_stale_links_say_what_happened(live, client):
    lead, session = live
    path = path_of(leader_session_url(session))
    form = hidden_fields(client.get(path).get_data(as_text=True))
    session.starts_at = utcnow() - timedelta(minutes=10)
    db.session.commit()
    before = snapshot()
    assert "already started" in parse(client.get(path)).text
    refused = client.post(path + "/cancel", data=form)
    assert refused.status_code == 409 and "already started" in parse(refused).text
    assert snapshot() == before

    session.status = SessionStatus.HELD
    db.session.commit()
    assert "has taken place" in parse(client.get(path)).text


@pytest.mark.parametrize("kind", ["tampered", "expired", "rsvp", "choose-time", "questionnaire"])
def test_bad_links_are_refused_without_personal_data(live, client, app, kind):
    lead, session = live
    good = path_of(leader_session_url(session))
    if kind == "tampered":
        path = good[:-3] + ("aaa" if not good.endswith("aaa") else "bbb")
    elif kind == "expired":

        class LongAgoSigner(TimestampSigner):
            def get_timestamp(self) -> int:
                return int(time.time()) - 400 * 24 * 3600

        old = URLSafeTimedSerializer(
            app.config["SECRET_KEY"], salt="booking.leader-session", signer=LongAgoSigner
        )
        path = f"/session/{old.dumps({'session': session.id})}"
    else:
        # A token made for another purpose, with the same payload, is not accepted here.
        path = f"/session/{make_token(kind, {'session': session.id, 'role': 'leader'})}"
    form = hidden_fields(client.get(good).get_data(as_text=True))
    before = snapshot()
    for response in (
        client.get(path),
        client.get(path + "/cancel"),
        client.post(path + "/cancel", data=form),
        client.post(path + "/new-time", data={**form, "note": "Later"}),
    ):
        assert response.status_code == (410 if kind == "expired" else 404)
        html = response.get_data(as_text=True)
        assert ("This link has expired" if kind == "expired" else "This link is not valid") in html
        for private in (lead.full_name, lead.email, session.coach.name, "meet.example"):
            assert private not in html
    assert snapshot() == before


def test_choosing_new_times_from_the_emailed_link_moves_the_session(live, client):
    lead, session = live
    uid = session.uid
    start = utcnow() + timedelta(days=9)
    proposal = propose_times(lead, session.coach, [local_slot(start)], utcnow())
    db.session.commit()
    mail = rows(kind="leader_proposed_times")[-1]
    choose = re.search(r"http://booking\.test(/choose/\S+)", mail.body_text)[1]
    page = client.get(choose)
    assert "Choose a new time for your session" in parse(page).text
    form = hidden_fields(page.get_data(as_text=True))
    picked = client.post(choose, data={**form, "time": str(proposal.times[0].id)})
    assert picked.status_code == 302
    done = client.get(choose)
    assert "Your session has moved" in parse(done).text
    db.session.expire_all()
    assert count(CoachingSession) == 1
    assert session.uid == uid and session.sequence == 1
    assert session.starts_at == proposal.times[0].starts_at


def test_coach_sees_the_request_and_proposes_new_times_for_the_session(app, client):
    # No app context held around the requests here: signing in renews the session, and
    # Flask-WTF caches the CSRF token on the app context's `g`.
    with app.app_context():
        lead, session = booked(utcnow(), days=5)
        leader_request_new_time(session, "Could we do Wednesday instead?", utcnow())
        db.session.commit()
        lead_id, session_id = lead.id, session.id
    sign_in(client)
    page = f"/coach/leads/{lead_id}"
    view = parse(client.get(page))
    assert view.by_id("new-time-banner") is not None
    assert "The leader asked for a different time" in view.text
    assert "Could we do Wednesday instead?" in view.text
    assert "Asked for a different time for the session on" in view.text  # in the history
    assert "Propose new times for this session" in view.text

    with app.app_context():
        day: date = to_local(utcnow() + timedelta(days=10)).date()
    sent = post(
        client,
        f"{page}/propose",
        {
            "propose-slots-0-day": day.isoformat(),
            "propose-slots-0-start": "10:00",
            "propose-slots-0-duration": "60",
            "propose-slots-0-format": "video",
            "propose-slots-0-detail": "https://meet.example/room/1",
            **{
                f"propose-slots-{i}-{k}": v
                for i in range(1, 5)
                for k, v in (("duration", "60"), ("format", "video"))
            },
        },
        page=page,
    )
    assert sent.status_code == 302, parse(sent).text[:600]
    after = parse(client.get(page))
    assert after.by_id("new-time-banner") is None
    assert "1 new time sent to" in after.text
    with app.app_context():
        proposal = db.session.scalars(select(Proposal)).one()
        assert proposal.moves_session_id == session_id
        assert db.session.get(Lead, lead_id).status == LeadStatus.AGREED


# ----- through a real SMTP server -------------------------------------------------------------


@pytest.fixture
def mail_app(make_app, smtp_server):
    app = make_app(**smtp_server.config())
    with app.app_context():
        yield app


def calendar_part(message):
    alternative = next(message.iter_parts())
    inline = list(alternative.iter_parts())[-1]
    assert inline.get_content_type() == "text/calendar"
    body = Calendar.from_ical(inline.get_payload(decode=True).decode("utf-8"))
    return inline.get_param("method"), body


def test_what_reaches_the_mail_server(mail_app, smtp_server):
    now = utcnow()
    lead, session = booked(now, days=5)
    uid = session.uid
    outbox.deliver_due(now=now)
    smtp_server.received.clear()

    # New times for the session, picked: both get an updated REQUEST for the same event.
    proposal = propose_times(lead, session.coach, [local_slot(now + timedelta(days=7))], now)
    db.session.commit()
    agree_time(proposal.times[0], now)
    db.session.commit()
    outbox.deliver_due(now=now)
    for address in (lead.email, session.coach.email):
        [update] = [
            m
            for m in smtp_server.messages_to(address)
            if m["Subject"].startswith("Updated invitation")
        ]
        method, body = calendar_part(update)
        [event] = body.walk("VEVENT")
        assert method == "REQUEST" == str(body["METHOD"])
        assert str(event["UID"]) == uid and int(event["SEQUENCE"]) == 1
        assert update["Subject"].startswith("Updated invitation")
    smtp_server.received.clear()

    # The leader cancels: both get a CANCEL, in the body and the MIME parameter.
    leader_cancel_session(session, "Off sick", now)
    db.session.commit()
    report = outbox.deliver_due(now=now)
    assert len(report.sent) == 2
    for address in (lead.email, session.coach.email):
        [cancel] = smtp_server.messages_to(address)
        method, body = calendar_part(cancel)
        [event] = body.walk("VEVENT")
        assert method == "CANCEL" == str(body["METHOD"])
        assert str(event["STATUS"]) == "CANCELLED"
        assert str(event["UID"]) == uid and int(event["SEQUENCE"]) == 2

"""Leaders booking a free slot themselves (SELF_BOOKING), the coach's hours page, moving and
cancelling from the session page, and the add-to-calendar links. Page tests with the test
client; invitations read back from the real SMTP server in tests/smtp.py."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from icalendar import Calendar
from sqlalchemy import event, select

from booking import outbox
from booking.availability import ExtraTime, TimeRange
from booking.extensions import db
from booking.links import book_url, leader_session_url, load_book
from booking.models import (
    BusyTime,
    CalendarKind,
    Coach,
    CoachAvailability,
    CoachCalendar,
    CoachHours,
    CoachingSession,
    Lead,
    LeadStatus,
    OutboxMessage,
    Proposal,
    ProposalStatus,
    SessionFormat,
    SessionStatus,
)
from booking.settings import current_settings, set_clock
from booking.workflow.scheduling import Slot as Offered
from booking.workflow.scheduling import propose_times, record_agreed_time
from booking.workflow.self_booking import HoursInput, save_availability

from .coach_helpers import add_coach, add_lead, csrf_token, sign_in
from .conftest import hidden_fields, parse

# Monday 7 December 2026, 08:00 in London (GMT).
NOW = datetime(2026, 12, 7, 8, 0, tzinfo=UTC)
WEEKDAYS = {d: [TimeRange(time(9), time(12))] for d in range(5)}


def hours(coach: Coach, **changes) -> None:
    values = dict(
        session_minutes=60,
        buffer_minutes=0,
        notice_working_days=1,
        horizon_days=14,
        format=SessionFormat.VIDEO,
        join_detail="https://meet.example/maya",
        weekly=WEEKDAYS,
        days_off=[],
        extra=[],
    )
    values.update(changes)
    save_availability(coach, HoursInput(**values), NOW)
    db.session.commit()


def give_hours(coach: Coach) -> None:
    """Weekday hours in two ranges, six weeks ahead: for the browser tests' pages."""
    hours(
        coach,
        weekly={d: [TimeRange(time(9), time(12)), TimeRange(time(13), time(17))] for d in range(5)},
        horizon_days=42,
        buffer_minutes=15,
    )


@pytest.fixture
def on(make_app, smtp_server):
    app = make_app(SELF_BOOKING=True, **smtp_server.config())
    set_clock(app, lambda: NOW)
    return app


def path_of(url: str) -> str:
    return urlsplit(url).path


def slot_values(html: str) -> list[str]:
    return re.findall(r'name="starts" value="([^"]+)"', html)


def pick(client, path: str, starts: str):
    data = {**hidden_fields(client.get(path).get_data(as_text=True)), "starts": starts}
    return client.post(path, data=data)


def make_lead(app, coach_email: str | None = "maya@example.org", n: int = 1) -> int:
    with app.app_context():
        lead = add_lead(NOW, n, email=f"leader{n}@nhs.example", full_name=f"Leader Number{n}")
        if coach_email is not None:
            coach = db.session.scalar(select(Coach).where(Coach.email == coach_email))
            lead.assigned_coach = coach
        else:
            lead.assigned_coach = None
            lead.assigned_coach_id = None
        db.session.commit()
        return lead.id


def setup_coach(app, email: str = "maya@example.org", name: str = "Maya Coach", **changes):
    with app.app_context():
        coach = add_coach(email, name, now=NOW - timedelta(days=30))
        hours(coach, **changes)
        return coach.id


def book_link_for(app, url: str) -> int:
    """The lead a /book/ link is for (tokens carry a timestamp: compare what they say)."""
    with app.app_context():
        return load_book(path_of(url).rsplit("/", 1)[1]).id


def book_path(app, lead_id: int) -> str:
    with app.app_context():
        return path_of(book_url(db.session.get(Lead, lead_id)))


# ----- setting off: today's flow ---------------------------------------------------------


def test_setting_off_keeps_todays_flow(make_app, now):
    app = make_app()
    with app.app_context():
        coach = add_coach(now=now)
        hours(coach)
        lead = add_lead(now)
        ack = db.session.scalar(
            select(OutboxMessage).where(OutboxMessage.kind == "leader_acknowledgement")
        )
        assert "/book/" not in ack.body_text and "/book/" not in ack.body_html
        path = path_of(book_url(lead))
        lead_page = f"/coach/leads/{lead.id}"
        other = add_lead(now, 2)
        session = record_agreed_time(
            other,
            db.session.get(Coach, coach.id),
            now + timedelta(days=5),
            60,
            SessionFormat.VIDEO,
            "https://meet.example/abc",
            now,
            settings=current_settings(),
        )
        db.session.commit()
        session_path = path_of(leader_session_url(session))
    client = app.test_client()
    assert client.get(path).status_code == 404
    session_page = client.get(session_path).get_data(as_text=True)
    assert "/move" not in session_page and "calendar.ics" not in session_page
    assert client.get(f"{session_path}/move").status_code == 404
    assert client.get(f"{session_path}/calendar.ics").status_code == 404
    sign_in(client)
    page = client.get(lead_page).get_data(as_text=True)
    assert "offer-free-slots" not in page and 'id="propose"' in page


def test_acknowledgement_links_to_the_slot_page_when_on(on, smtp_server):
    setup_coach(on)
    lead_id = make_lead(on)
    with on.app_context():
        outbox.deliver_due(now=NOW)
    [ack] = smtp_server.messages_to("leader1@nhs.example")
    text = ack.get_body(preferencelist=("plain",)).get_content()
    link = re.search(r"http://\S+/book/\S+", text)
    assert link, text
    assert book_link_for(on, link[0]) == lead_id


# ----- the slot page and booking ---------------------------------------------------------


def test_slot_page_lists_the_coachs_free_slots_by_day(on):
    coach_id = setup_coach(on, days_off=[date(2026, 12, 9)])
    lead_id = make_lead(on)
    with on.app_context():  # another leader's session on Tuesday 10:00
        other = make_lead(on, n=2)
        db.session.add(
            CoachingSession(
                lead_id=other,
                coach_id=coach_id,
                starts_at=datetime(2026, 12, 8, 10, tzinfo=UTC),
                ends_at=datetime(2026, 12, 8, 11, tzinfo=UTC),
                format=SessionFormat.VIDEO,
                uid="x@test",
            )
        )
        db.session.commit()
    with on.app_context():
        coach = db.session.get(Coach, coach_id)
        coach.shown_name, coach.bio = "Maya P.", "Twenty years leading NHS teams."
        db.session.commit()
    page = parse(on.test_client().get(book_path(on, lead_id)))
    # The coach's profile, as leaders see it on every page that names their coach.
    assert "Your coach Maya P." in page.text and "Twenty years leading NHS teams." in page.text
    html = on.test_client().get(book_path(on, lead_id)).get_data(as_text=True)
    values = slot_values(html)
    # Notice: one working day from Monday 08:00 → Tuesday 08:00; Tuesday 10:00 is taken;
    # Wednesday is a day off; the horizon is two weeks.
    assert values[:3] == [
        "2026-12-08T09:00:00+00:00",
        "2026-12-08T11:00:00+00:00",
        "2026-12-10T09:00:00+00:00",
    ]
    assert not any(v.startswith("2026-12-09") for v in values)
    assert max(values) < "2026-12-21T08:00"
    assert "Tuesday 8 December 2026" in page.text and "Thursday 10 December 2026" in page.text


def test_busy_times_from_the_coachs_own_calendar_take_slots_out(on):
    """What `flask calendars sync` read from the coach's calendar (a meeting on Tuesday
    10:30-11:15) removes every slot it touches, on the page and when booking."""
    coach_id = setup_coach(on)
    lead_id = make_lead(on)
    with on.app_context():
        calendar = CoachCalendar(
            coach_id=coach_id,
            kind=CalendarKind.FEED,
            name="Work",
            url_encrypted="not read by this test",
            created_at=NOW,
        )
        db.session.add(calendar)
        db.session.flush()
        db.session.add(
            BusyTime(
                coach_id=coach_id,
                calendar_id=calendar.id,
                starts_at=datetime(2026, 12, 8, 10, 30, tzinfo=UTC),
                ends_at=datetime(2026, 12, 8, 11, 15, tzinfo=UTC),
            )
        )
        db.session.commit()
    client = on.test_client()
    path = book_path(on, lead_id)
    values = slot_values(client.get(path).get_data(as_text=True))
    assert values[:2] == ["2026-12-08T09:00:00+00:00", "2026-12-09T09:00:00+00:00"]
    refused = pick(client, path, "2026-12-08T10:00:00+00:00")
    assert refused.status_code in (400, 409)
    with on.app_context():
        assert db.session.scalars(select(CoachingSession)).first() is None


def test_picking_a_slot_books_it_and_sends_the_invitations(on, smtp_server):
    setup_coach(on)
    lead_id = make_lead(on)
    client = on.test_client()
    path = book_path(on, lead_id)
    response = pick(client, path, "2026-12-08T11:00:00+00:00")
    assert response.status_code == 302
    done = parse(client.get(path))
    assert "Your session is booked" in done.text
    with on.app_context():
        session = db.session.scalar(select(CoachingSession))
        lead = db.session.get(Lead, lead_id)
        assert lead.status == LeadStatus.AGREED
        assert session.starts_at == datetime(2026, 12, 8, 11, tzinfo=UTC)
        assert session.ends_at == datetime(2026, 12, 8, 12, tzinfo=UTC)
        assert session.join_detail == "https://meet.example/maya"
        uid = session.uid
        outbox.deliver_due(now=NOW)
    for address in ("leader1@nhs.example", "maya@example.org"):
        invitations = [
            m for m in smtp_server.messages_to(address) if m["Subject"].startswith("Invitation")
        ]
        assert len(invitations) == 1, address
        calendar = next(p for p in invitations[0].walk() if p.get_content_type() == "text/calendar")
        [vevent] = Calendar.from_ical(calendar.get_payload(decode=True)).walk("VEVENT")
        assert str(vevent["UID"]) == uid
    # The slot has gone for everyone else.
    other = make_lead(on, n=2)
    assert "2026-12-08T11:00:00+00:00" not in slot_values(
        on.test_client().get(book_path(on, other)).get_data(as_text=True)
    )


def test_booked_page_has_add_to_calendar_links_and_an_ics(on):
    setup_coach(on)
    lead_id = make_lead(on)
    client = on.test_client()
    path = book_path(on, lead_id)
    pick(client, path, "2026-12-08T09:00:00+00:00")
    html = client.get(path).get_data(as_text=True)
    google = re.search(r'href="(https://calendar.google.com/calendar/render\?[^"]+)"', html)
    outlook = re.search(r'href="(https://outlook.live.com/calendar/0/action/compose\?[^"]+)"', html)
    assert google and outlook
    g = parse_qs(urlsplit(google[1].replace("&amp;", "&")).query)
    assert g["action"] == ["TEMPLATE"]
    assert g["dates"] == ["20261208T090000Z/20261208T100000Z"]
    assert "Maya Coach" in g["text"][0] and "/session/" in g["details"][0]
    o = parse_qs(urlsplit(outlook[1].replace("&amp;", "&")).query)
    assert o["startdt"] == ["2026-12-08T09:00:00Z"] and o["enddt"] == ["2026-12-08T10:00:00Z"]
    ics_path = re.search(r'href="(/session/[^"]+/calendar.ics)"', html)[1]
    response = client.get(ics_path)
    assert response.status_code == 200 and response.mimetype == "text/calendar"
    [vevent] = Calendar.from_ical(response.data).walk("VEVENT")
    with on.app_context():
        assert str(vevent["UID"]) == db.session.scalar(select(CoachingSession.uid))
    assert vevent.decoded("DTSTART") == datetime(2026, 12, 8, 9, tzinfo=UTC)


def test_a_slot_no_longer_free_is_refused_with_the_next_ones(on):
    setup_coach(on)
    first, second = make_lead(on, n=1), make_lead(on, n=2)
    client_a, client_b = on.test_client(), on.test_client()
    path_a, path_b = book_path(on, first), book_path(on, second)
    data_b = {**hidden_fields(client_b.get(path_b).get_data(as_text=True))}
    assert pick(client_a, path_a, "2026-12-08T10:00:00+00:00").status_code == 302
    refused = client_b.post(path_b, data={**data_b, "starts": "2026-12-08T10:00:00+00:00"})
    assert refused.status_code == 409
    assert "just been taken" in parse(refused).text
    assert slot_values(refused.get_data(as_text=True))[0] == "2026-12-08T11:00:00+00:00"
    # Off the grid, inside the notice, garbage: refused in words, nothing booked.
    for bad in (
        "2026-12-08T10:30:00+00:00",
        "2026-12-07T15:00:00+00:00",
        "soon",
        "",
        "2026-12-08T10:00:00",  # no zone
        "0001-01-01T00:00:00+01:00",  # out of range once in UTC
        "9999-12-31T23:59:59-23:59",
    ):
        response = client_b.post(path_b, data={**data_b, "starts": bad})
        assert response.status_code in (400, 409), bad
        assert "There is a problem" in parse(response).text
    with on.app_context():
        assert db.session.scalars(select(CoachingSession)).all().__len__() == 1


def test_unassigned_lead_books_the_fairest_free_coach(on):
    maya = setup_coach(on)
    ali = setup_coach(
        on, "ali@example.org", "Ali Coach", weekly={1: [TimeRange(time(9), time(10))]}
    )
    lead_id = make_lead(on, coach_email=None)
    with on.app_context():
        db.session.get(Coach, maya).last_assigned_at = NOW - timedelta(days=1)
        db.session.get(Coach, ali).last_assigned_at = NOW - timedelta(days=2)
        db.session.commit()
    client = on.test_client()
    path = book_path(on, lead_id)
    page = parse(client.get(path))
    assert "the coach who is free then will be your coach" in page.text
    # Both are free Tuesday 09:00: Ali was given a lead longest ago.
    assert pick(client, path, "2026-12-08T09:00:00+00:00").status_code == 302
    with on.app_context():
        lead = db.session.get(Lead, lead_id)
        assert lead.assigned_coach_id == ali
        assert db.session.get(Coach, ali).last_assigned_at == NOW
    # Tuesday 11:00 only Maya has.
    other = make_lead(on, coach_email=None, n=2)
    client = on.test_client()
    assert pick(client, book_path(on, other), "2026-12-08T11:00:00+00:00").status_code == 302
    with on.app_context():
        assert db.session.get(Lead, other).assigned_coach_id == maya


def test_slot_page_queries_are_bounded_whatever_the_number_of_coaches(on):
    def statements(coaches: int) -> int:
        with on.app_context():
            have = db.session.scalar(select(db.func.count()).select_from(Coach))
        for i in range(have, coaches):
            setup_coach(on, f"coach{i}@example.org", f"Coach {i}")
        lead_id = make_lead(on, coach_email=None, n=100 + coaches)
        path = book_path(on, lead_id)
        client = on.test_client()
        client.get(path)
        with on.app_context():
            engine = db.engine
        seen: list[str] = []

        def count(*args) -> None:
            seen.append(args[2])

        event.listen(engine, "before_cursor_execute", count)
        try:
            assert client.get(path).status_code == 200
        finally:
            event.remove(engine, "before_cursor_execute", count)
        return len(seen)

    one, five = statements(1), statements(5)
    assert one == five, (one, five)
    assert five <= 8


# ----- the coach's hours page ------------------------------------------------------------


def test_coach_sets_hours_on_the_availability_page(on):
    with on.app_context():
        add_coach(now=NOW)
    client = on.test_client()
    sign_in(client)
    page = client.get("/coach/availability")
    assert page.status_code == 200 and "Your hours" in parse(page).text
    form = {
        "csrf_token": csrf_token(client, "/coach/availability"),
        "monday": "09:00-12:30, 14:00-17:00",
        "tuesday": "",
        "wednesday": "10:00-11:00",
        "session_minutes": "45",
        "buffer_minutes": "15",
        "notice_working_days": "2",
        "horizon_days": "28",
        "format": "phone",
        "join_detail": "07700 900123",
        "days_off": "2026-12-24\n2026-12-25",
        "extra": "2026-12-19 10:00-12:00",
    }
    response = client.post("/coach/availability", data=form)
    assert response.status_code == 302
    with on.app_context():
        availability = db.session.scalar(select(CoachAvailability))
        assert (availability.session_minutes, availability.buffer_minutes) == (45, 15)
        assert (availability.notice_working_days, availability.horizon_days) == (2, 28)
        assert availability.format == SessionFormat.PHONE
        lines = {
            (h.weekday, h.day, h.starts, h.ends) for h in db.session.scalars(select(CoachHours))
        }
        assert lines == {
            (0, None, time(9), time(12, 30)),
            (0, None, time(14), time(17)),
            (2, None, time(10), time(11)),
            (None, date(2026, 12, 24), None, None),
            (None, date(2026, 12, 25), None, None),
            (None, date(2026, 12, 19), time(10), time(12)),
        }
    again = client.get("/coach/availability").get_data(as_text=True)
    assert 'value="09:00-12:30, 14:00-17:00"' in again and "2026-12-19 10:00-12:00" in again


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("monday", "9 till 5", "Write each range as start-end"),
        ("monday", "12:00-09:00", "ends before it starts"),
        ("days_off", "24/12/2026", "is not a date like 2026-12-24"),
        ("extra", "2026-12-19", "give a time range after 2026-12-19"),
        ("session_minutes", "", "Enter the session length in minutes"),
        ("join_detail", "", "Enter the joining link, phone number or address"),
    ],
)
def test_hours_page_errors_follow_the_govuk_pattern(on, field, value, message):
    with on.app_context():
        add_coach(now=NOW)
    client = on.test_client()
    sign_in(client)
    form = {
        "csrf_token": csrf_token(client, "/coach/availability"),
        "monday": "09:00-12:00",
        "session_minutes": "60",
        "buffer_minutes": "15",
        "notice_working_days": "1",
        "horizon_days": "42",
        "format": "video",
        "join_detail": "https://meet.example/maya",
        field: value,
    }
    response = client.post("/coach/availability", data=form)
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    page = parse(response)
    assert "There is a problem" in page.text and message in page.text
    assert f'href="#{field}"' in html and f'id="{field}-error"' in html
    if value:
        assert value.split("\n")[0] in html  # the value is kept
    with on.app_context():
        assert db.session.scalar(select(CoachAvailability)) is None


def test_coach_emails_the_leader_a_link_to_pick_any_free_slot(on, smtp_server):
    setup_coach(on)
    lead_id = make_lead(on)
    client = on.test_client()
    sign_in(client)
    page = f"/coach/leads/{lead_id}"
    assert "Let the leader pick any free time" in parse(client.get(page)).text
    response = client.post(
        f"/coach/leads/{lead_id}/offer-free-slots", data={"csrf_token": csrf_token(client, page)}
    )
    assert response.status_code == 302
    with on.app_context():
        outbox.deliver_due(now=NOW)
    [mail] = [
        m
        for m in smtp_server.messages_to("leader1@nhs.example")
        if m["Subject"] == "Choose a time for your coaching session"
    ]
    text = mail.get_body(preferencelist=("plain",)).get_content()
    assert book_link_for(on, re.search(r"http://\S+/book/\S+", text)[0]) == lead_id


# ----- moving and cancelling from the session page ----------------------------------------


def booked_session(app, client, lead_id: int, starts: str) -> str:
    assert pick(client, book_path(app, lead_id), starts).status_code == 302
    with app.app_context():
        session = db.session.scalar(
            select(CoachingSession).where(CoachingSession.lead_id == lead_id)
        )
        return path_of(leader_session_url(session))


def test_leader_moves_the_session_to_another_free_slot(on, smtp_server):
    setup_coach(on)
    lead_id = make_lead(on)
    client = on.test_client()
    session_path = booked_session(on, client, lead_id, "2026-12-10T09:00:00+00:00")
    page = client.get(session_path).get_data(as_text=True)
    assert f"{session_path}/move" in page
    move_page = client.get(f"{session_path}/move").get_data(as_text=True)
    values = slot_values(move_page)
    assert "2026-12-10T09:00:00+00:00" not in values  # where it is now is not a choice
    response = pick(client, f"{session_path}/move", "2026-12-11T10:00:00+00:00")
    assert response.status_code == 200 and "Your session has moved" in parse(response).text
    with on.app_context():
        session = db.session.scalar(select(CoachingSession))
        assert session.starts_at == datetime(2026, 12, 11, 10, tzinfo=UTC)
        assert session.sequence == 1 and session.status == SessionStatus.BOOKED
        uid = session.uid
        outbox.deliver_due(now=NOW)
    [update] = [
        m
        for m in smtp_server.messages_to("leader1@nhs.example")
        if m["Subject"].startswith("Updated invitation")
    ]
    part = next(p for p in update.walk() if p.get_content_type() == "text/calendar")
    [vevent] = Calendar.from_ical(part.get_payload(decode=True)).walk("VEVENT")
    assert str(vevent["UID"]) == uid and int(vevent["SEQUENCE"]) == 1


def test_moving_inside_the_notice_period_is_refused(on):
    setup_coach(on)
    lead_id = make_lead(on)
    client = on.test_client()
    session_path = booked_session(on, client, lead_id, "2026-12-08T09:00:00+00:00")
    # Monday 10:00: Tuesday 09:00 is less than one working day away.
    set_clock(on, lambda: NOW + timedelta(hours=2))
    page = parse(client.get(f"{session_path}/move"))
    assert "too soon to move here" in page.text
    # A page with no times has no form: the token comes from the session page's own forms.
    data = {**hidden_fields(client.get(session_path).get_data(as_text=True))}
    response = client.post(
        f"{session_path}/move", data={**data, "starts": "2026-12-11T10:00:00+00:00"}
    )
    assert response.status_code == 409 and "too soon to move" in parse(response).text
    with on.app_context():
        assert db.session.scalar(select(CoachingSession.starts_at)) == datetime(
            2026, 12, 8, 9, tzinfo=UTC
        )


def test_leader_cancels_and_the_slot_is_free_again(on, smtp_server):
    setup_coach(on)
    lead_id = make_lead(on)
    client = on.test_client()
    session_path = booked_session(on, client, lead_id, "2026-12-08T09:00:00+00:00")
    cancel = f"{session_path}/cancel"
    data = hidden_fields(client.get(cancel).get_data(as_text=True))
    assert client.post(cancel, data={**data, "reason": "Clash"}).status_code == 200
    with on.app_context():
        session = db.session.scalar(select(CoachingSession))
        assert session.status == SessionStatus.CANCELLED and session.sequence == 1
        outbox.deliver_due(now=NOW)
    assert any(
        m["Subject"].startswith("Cancelled") for m in smtp_server.messages_to("maya@example.org")
    )
    other = make_lead(on, n=2)
    assert "2026-12-08T09:00:00+00:00" in slot_values(
        on.test_client().get(book_path(on, other)).get_data(as_text=True)
    )


def test_extra_time_on_a_weekend_is_bookable(on):
    setup_coach(on, extra=[ExtraTime(date(2026, 12, 12), TimeRange(time(10), time(11)))])
    lead_id = make_lead(on)
    assert "2026-12-12T10:00:00+00:00" in slot_values(
        on.test_client().get(book_path(on, lead_id)).get_data(as_text=True)
    )


def test_booking_closes_the_coachs_open_proposal(on):
    coach_id = setup_coach(on)
    lead_id = make_lead(on)
    with on.app_context():
        lead, coach = db.session.get(Lead, lead_id), db.session.get(Coach, coach_id)
        proposal = propose_times(
            lead,
            coach,
            [Offered(date(2026, 12, 15), time(14), SessionFormat.VIDEO, "https://meet.example/m")],
            NOW,
            settings=current_settings(),
        )
        db.session.commit()
        proposal_id = proposal.id
    assert (
        pick(on.test_client(), book_path(on, lead_id), "2026-12-08T09:00:00+00:00").status_code
        == 302
    )
    with on.app_context():
        assert db.session.get(Proposal, proposal_id).status == ProposalStatus.CLOSED
        assert db.session.get(Lead, lead_id).status == LeadStatus.AGREED

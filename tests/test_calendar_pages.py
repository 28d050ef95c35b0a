"""The coach's calendars page: connecting (with and without the key), the failing-calendar
banner, removing, and the private subscription feed of their sessions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import vobject
from icalendar import Calendar
from sqlalchemy import text

from booking.extensions import db
from booking.models import CalendarKind, CoachCalendar
from booking.settings import set_clock

from .calendar_helpers import SECRET_KEY, feed_server
from .coach_helpers import add_coach, post, sign_in
from .conftest import parse

NOW = datetime(2027, 3, 1, 9, 0, tzinfo=UTC)


def _signed_in(app):
    set_clock(app, lambda: NOW)
    with app.app_context():
        coach_id = add_coach(now=NOW).id
    client = app.test_client()
    sign_in(client)
    return client, coach_id


def test_connecting_a_feed_stores_it_encrypted_and_never_shows_it(make_app):
    app = make_app(CALENDAR_SECRET_KEY=SECRET_KEY)
    client, coach_id = _signed_in(app)
    secret = "https://outlook.office365.com/owa/calendar/abc/secret-7f3e9/calendar.ics"
    response = post(
        client,
        "/coach/calendars",
        {"kind": "feed", "name": "Work", "url": secret},
        page="/coach/calendars",
    )
    assert response.status_code == 302
    page = client.get("/coach/calendars").get_data(as_text=True)
    assert "Work" in page and "is connected" in page
    assert "secret-7f3e9" not in page
    with app.app_context():
        raw = db.session.execute(text("select url_encrypted from coach_calendar")).scalar_one()
        assert "secret-7f3e9" not in raw
        row = db.session.scalars(db.select(CoachCalendar)).one()
        assert row.coach_id == coach_id and row.kind == CalendarKind.FEED


def test_a_calendar_is_refused_without_the_key_with_a_clear_message(make_app):
    app = make_app()
    client, _ = _signed_in(app)
    assert "no\nCALENDAR_SECRET_KEY" in client.get("/coach/calendars").get_data(as_text=True)
    response = post(
        client,
        "/coach/calendars",
        {"kind": "feed", "name": "Work", "url": "https://calendar.example/x.ics"},
        page="/coach/calendars",
    )
    assert response.status_code == 409
    assert "CALENDAR_SECRET_KEY" in parse(response).text
    with app.app_context():
        assert db.session.query(CoachCalendar).count() == 0


def test_bad_input_gets_errors_linked_to_the_fields(make_app):
    app = make_app(CALENDAR_SECRET_KEY=SECRET_KEY)
    client, _ = _signed_in(app)
    response = post(
        client,
        "/coach/calendars",
        {"kind": "caldav", "name": "", "url": "ftp://x"},
        page="/coach/calendars",
    )
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    for anchor in ("#name", "#url", "#username", "#password"):
        assert f'href="{anchor}"' in page
    assert "starts with https://" in page


def test_a_failing_feed_shows_the_banner_with_when_and_why(make_app):
    app = make_app(CALENDAR_SECRET_KEY=SECRET_KEY)
    client, _ = _signed_in(app)
    with feed_server() as feed:
        post(
            client,
            "/coach/calendars",
            {"kind": "feed", "name": "Work", "url": feed.url},
            page="/coach/calendars",
        )
        runner = app.test_cli_runner()
        result = runner.invoke(args=["calendars", "sync"])
        assert result.exit_code == 0, result.output
        assert "1 read, 0 could not be read" in result.output
        assert "could not be read" not in client.get("/coach/leads").get_data(as_text=True)

        set_clock(app, lambda: NOW + timedelta(hours=2))
        feed.status = 503
        result = runner.invoke(args=["calendars", "sync"])
        assert "0 read, 1 could not be read" in result.output
        assert "secret-abc123" not in result.output, "the secret address is never printed"
    banner = parse(client.get("/coach/leads")).text
    assert "Your calendar ‘Work’ could not be read" in banner
    assert "HTTP 503" in banner
    assert "Mon 1 Mar 2027" in banner or "1 Mar" in banner


def _book_session(app, coach_id: int):
    from booking.models import Coach, Lead, SessionFormat
    from booking.settings import current_settings
    from booking.workflow.scheduling import record_agreed_time

    from .coach_helpers import add_lead

    with app.app_context():
        lead = add_lead(NOW, full_name="Amara Okafor", organisation="Riverside Hospitals")
        lead = db.session.get(Lead, lead.id)
        coach = db.session.get(Coach, coach_id)
        session = record_agreed_time(
            lead,
            coach,
            datetime(2027, 3, 10, 10, tzinfo=UTC),
            60,
            SessionFormat.VIDEO,
            "https://meet.example/abc",
            NOW,
            settings=current_settings(),
        )
        db.session.commit()
        return session.uid


def test_the_subscription_feed_lists_sessions_and_a_replaced_address_is_gone(make_app):
    app = make_app()
    client, coach_id = _signed_in(app)
    uid = _book_session(app, coach_id)
    page = parse(client.get("/coach/calendars"))
    feed_url = page.by_id("feed-url")["attrs"]["value"]
    path = feed_url.removeprefix("http://booking.test")

    response = client.get(path)
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/calendar")
    body = response.get_data(as_text=True)
    event = Calendar.from_ical(body).walk("VEVENT")[0]
    assert str(event["UID"]) == uid
    assert "Amara" in str(event["SUMMARY"]) and "Riverside Hospitals" in str(event["SUMMARY"])
    assert "Okafor" not in body and "leader1@nhs.example" not in body
    assert vobject.readOne(body, validate=True).vevent.uid.value == uid

    post(client, "/coach/calendars/feed/replace", {}, page="/coach/calendars")
    assert client.get(path).status_code == 410
    new_url = parse(client.get("/coach/calendars")).by_id("feed-url")["attrs"]["value"]
    assert new_url != feed_url
    assert client.get(new_url.removeprefix("http://booking.test")).status_code == 200
    assert client.get("/calendar-feed/not-a-token.ics").status_code == 404


def test_the_feed_address_never_reaches_a_log_line(app):
    from booking.log_privacy import RequestLineFilter

    clean = RequestLineFilter(app.url_map).clean_target
    token = "eyJjb2FjaCI6MSwidiI6MX0.aw3Krg.B2v7DfyJpxhMiit1uz2W-qLYlRA"
    assert clean(f"/calendar-feed/{token}.ics") == "/calendar-feed/<token>.ics"


def test_production_refuses_to_start_with_calendars_and_no_key(make_app):
    import pytest

    from booking.config import ConfigError

    production = dict(
        APP_ENV="production",
        SECRET_KEY="a-long-random-production-secret-for-this-test",
        PRIVACY_CONTROLLER_NAME="Firm Ltd",
        PRIVACY_CONTROLLER_CONTACT="privacy@example.org",
    )
    assert make_app(**production)  # no calendars yet: no key needed
    app = make_app(CALENDAR_SECRET_KEY=SECRET_KEY)
    client, _ = _signed_in(app)
    post(
        client,
        "/coach/calendars",
        {"kind": "feed", "name": "Work", "url": "https://calendar.example/x.ics"},
        page="/coach/calendars",
    )
    with pytest.raises(ConfigError, match="CALENDAR_SECRET_KEY"):
        make_app(**production)
    assert make_app(**production, CALENDAR_SECRET_KEY=SECRET_KEY)


def test_removing_a_calendar_drops_it_and_its_busy_times_and_only_ones_own(make_app):
    from booking.models import BusyTime

    app = make_app(CALENDAR_SECRET_KEY=SECRET_KEY)
    client, coach_id = _signed_in(app)
    with app.app_context():
        from booking.calendars import connect_calendar
        from booking.settings import current_settings

        other = add_coach("ade@example.org", "Ade Coach", now=NOW)
        theirs = connect_calendar(
            other.id,
            kind=CalendarKind.FEED,
            name="Ade's",
            url="https://calendar.example/ade.ics",
            now=NOW,
            settings=current_settings(),
        )
        mine = connect_calendar(
            coach_id,
            kind=CalendarKind.FEED,
            name="Mine",
            url="https://calendar.example/mine.ics",
            now=NOW,
            settings=current_settings(),
        )
        db.session.add(
            BusyTime(
                coach_id=coach_id,
                calendar_id=mine.id,
                starts_at=NOW,
                ends_at=NOW + timedelta(hours=1),
            )
        )
        db.session.commit()
        theirs_id, mine_id = theirs.id, mine.id
    page = "/coach/calendars"
    assert post(client, f"/coach/calendars/{theirs_id}/remove", {}, page=page).status_code == 404
    assert post(client, f"/coach/calendars/{mine_id}/remove", {}, page=page).status_code == 302
    with app.app_context():
        assert [c.id for c in db.session.scalars(db.select(CoachCalendar))] == [theirs_id]
        assert db.session.query(BusyTime).count() == 0

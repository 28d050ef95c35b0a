"""Busy times read from a coach's own calendar: what counts as busy, the feed over a real HTTP
server, a feed that breaks keeping its last good busy times, secrets encrypted at rest."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text

from booking.calendars import (
    CalendarKeyMissing,
    busy_from_icalendar,
    busy_intervals,
    connect_calendar,
    sync_all,
)
from booking.extensions import db
from booking.models import BusyTime, CalendarKind, CoachCalendar
from booking.settings import current_settings

from .calendar_helpers import (
    EXPECTED_BUSY,
    OUR_SESSION_UID,
    SECRET_KEY,
    SYNC_NOW,
    feed_server,
    feed_text,
)
from .coach_helpers import add_coach

HORIZON_END = SYNC_NOW + timedelta(days=42)


@pytest.fixture
def calendar_app(make_app):
    app = make_app(CALENDAR_SECRET_KEY=SECRET_KEY)
    with app.app_context():
        yield app


def _connect_feed(coach_id: int, url: str) -> CoachCalendar:
    calendar = connect_calendar(
        coach_id,
        kind=CalendarKind.FEED,
        name="Work (Outlook)",
        url=url,
        now=SYNC_NOW,
        settings=current_settings(),
    )
    db.session.commit()
    return calendar


def test_busy_times_of_a_calendar_as_apps_write_it(calendar_app):
    from zoneinfo import ZoneInfo

    busy = busy_from_icalendar(
        [feed_text().encode()],
        SYNC_NOW,
        HORIZON_END,
        ZoneInfo("Europe/London"),
        skip_uids=frozenset({OUR_SESSION_UID}),
    )
    assert busy == EXPECTED_BUSY


def test_our_own_session_counts_unless_skipped(calendar_app):
    from zoneinfo import ZoneInfo

    busy = busy_from_icalendar(
        [feed_text().encode()], SYNC_NOW, HORIZON_END, ZoneInfo("Europe/London")
    )
    ours = (datetime(2027, 3, 5, 9, tzinfo=UTC), datetime(2027, 3, 5, 10, tzinfo=UTC))
    assert ours in busy and ours not in EXPECTED_BUSY


def test_busy_times_are_clipped_to_the_horizon(calendar_app):
    from zoneinfo import ZoneInfo

    start = datetime(2027, 3, 12, 12, tzinfo=UTC)
    busy = busy_from_icalendar(
        [feed_text().encode()], start, datetime(2027, 3, 25, tzinfo=UTC), ZoneInfo("Europe/London")
    )
    assert busy[0] == (start, datetime(2027, 3, 13, tzinfo=UTC))
    assert busy[-1] == (
        datetime(2027, 3, 24, 14, tzinfo=UTC),
        datetime(2027, 3, 24, 15, tzinfo=UTC),
    )


def test_feed_sync_then_a_broken_feed_keeps_the_last_good_busy_times(calendar_app):
    coach = add_coach(now=SYNC_NOW)
    other = add_coach("ade@example.org", "Ade Coach", now=SYNC_NOW)
    with feed_server() as feed:
        calendar = _connect_feed(coach.id, feed.url)
        results = sync_all(now=SYNC_NOW, settings=current_settings())
        assert [r.ok for r in results] == [True]
        assert feed.paths == ["/secret-abc123/calendar.ics"]
        # Our own sessions are not counted twice: there is none with that UID yet here, so the
        # calendar's copy of it counts.
        got = busy_intervals([coach.id, other.id], SYNC_NOW, HORIZON_END)
        assert got[other.id] == []
        ours = (datetime(2027, 3, 5, 9, tzinfo=UTC), datetime(2027, 3, 5, 10, tzinfo=UTC))
        assert sorted(EXPECTED_BUSY + [ours]) == got[coach.id]
        good = got[coach.id]

        later = SYNC_NOW + timedelta(hours=1)
        feed.status = 500
        feed.body = b"Internal Server Error"
        [result] = sync_all(now=later, settings=current_settings())
        assert not result.ok
        db.session.refresh(calendar)
        assert calendar.failing_since == later
        assert calendar.last_success_at == SYNC_NOW
        assert "HTTP 500" in calendar.last_error
        assert busy_intervals([coach.id], SYNC_NOW, HORIZON_END)[coach.id] == good

        feed.status = 200
        feed.body = b"<html><body>Sign in to Outlook</body></html>"
        [result] = sync_all(now=later + timedelta(hours=1), settings=current_settings())
        assert not result.ok and "not valid iCalendar" in result.error
        db.session.refresh(calendar)
        assert calendar.failing_since == later, "failing since the first failure"
        assert busy_intervals([coach.id], SYNC_NOW, HORIZON_END)[coach.id] == good

        feed.body = feed_text().encode()
        [result] = sync_all(now=later + timedelta(hours=2), settings=current_settings())
        assert result.ok
        db.session.refresh(calendar)
        assert calendar.failing_since is None and calendar.last_error == ""


def test_busy_intervals_is_one_query_whatever_the_number_of_coaches(calendar_app):
    from sqlalchemy import event

    coaches = [add_coach(f"c{n}@example.org", f"Coach {n}", now=SYNC_NOW) for n in range(5)]
    for coach in coaches:
        calendar = _connect_feed(coach.id, "https://calendar.example/feed.ics")
        db.session.add(
            BusyTime(
                coach_id=coach.id,
                calendar_id=calendar.id,
                starts_at=SYNC_NOW + timedelta(days=coach.id),
                ends_at=SYNC_NOW + timedelta(days=coach.id, hours=1),
            )
        )
    db.session.commit()
    ids = [c.id for c in coaches]
    seen: list[str] = []

    def count(*args: object) -> None:
        seen.append(str(args[2]))

    event.listen(db.engine, "before_cursor_execute", count)
    try:
        got = busy_intervals(ids, SYNC_NOW, HORIZON_END)
    finally:
        event.remove(db.engine, "before_cursor_execute", count)
    assert len([s for s in seen if s.lstrip().upper().startswith("SELECT")]) == 1
    assert all(len(got[i]) == 1 for i in ids)
    assert got[ids[0]][0][0] == SYNC_NOW + timedelta(days=ids[0])


def test_secrets_are_encrypted_at_rest(calendar_app):
    coach = add_coach(now=SYNC_NOW)
    connect_calendar(
        coach.id,
        kind=CalendarKind.CALDAV,
        name="Nextcloud",
        url="https://cloud.example/remote.php/dav/calendars/maya/personal/",
        username="maya",
        password="app-password-s3cret",
        now=SYNC_NOW,
        settings=current_settings(),
    )
    db.session.commit()
    row = db.session.execute(
        text("select url_encrypted, password_encrypted, username from coach_calendar")
    ).one()
    assert "cloud.example" not in row[0] and "s3cret" not in row[1]
    assert row[0].startswith("gAAAA") and row[1].startswith("gAAAA")  # Fernet tokens
    assert row[2] == "maya"


def test_no_calendar_is_saved_without_the_key(app_ctx):
    coach = add_coach(now=SYNC_NOW)
    with pytest.raises(CalendarKeyMissing, match="CALENDAR_SECRET_KEY"):
        _connect_feed(coach.id, "https://calendar.example/feed.ics")
    db.session.rollback()
    assert db.session.query(CoachCalendar).count() == 0


def test_a_custom_vtimezone_and_an_unknown_tzid(calendar_app):
    """Outlook sends its own VTIMEZONE under names like 'Customized Time Zone'; a TZID no one
    defines is read in the firm's zone (as a floating time)."""
    from zoneinfo import ZoneInfo

    events = """\
BEGIN:VTIMEZONE
TZID:Customized Time Zone
BEGIN:STANDARD
DTSTART:16010101T020000
TZOFFSETFROM:+0100
TZOFFSETTO:+0000
RRULE:FREQ=YEARLY;BYDAY=-1SU;BYMONTH=10
END:STANDARD
BEGIN:DAYLIGHT
DTSTART:16010101T010000
TZOFFSETFROM:+0000
TZOFFSETTO:+0100
RRULE:FREQ=YEARLY;BYDAY=-1SU;BYMONTH=3
END:DAYLIGHT
END:VTIMEZONE
BEGIN:VEVENT
UID:custom@example.org
DTSTAMP:20270101T000000Z
DTSTART;TZID=Customized Time Zone:20270405T090000
DTEND;TZID=Customized Time Zone:20270405T093000
END:VEVENT
BEGIN:VEVENT
UID:unknown@example.org
DTSTAMP:20270101T000000Z
DTSTART;TZID=Somewhere/Odd:20270406T090000
DTEND;TZID=Somewhere/Odd:20270406T093000
END:VEVENT
BEGIN:VEVENT
UID:floating@example.org
DTSTAMP:20270101T000000Z
DTSTART:20270302T090000
DURATION:PT45M
END:VEVENT
"""
    busy = busy_from_icalendar(
        [feed_text(events).encode()], SYNC_NOW, HORIZON_END, ZoneInfo("Europe/London")
    )
    assert busy == [
        (datetime(2027, 3, 2, 9, tzinfo=UTC), datetime(2027, 3, 2, 9, 45, tzinfo=UTC)),
        (datetime(2027, 4, 5, 8, tzinfo=UTC), datetime(2027, 4, 5, 8, 30, tzinfo=UTC)),
        (datetime(2027, 4, 6, 8, tzinfo=UTC), datetime(2027, 4, 6, 8, 30, tzinfo=UTC)),
    ]


def test_an_oversized_feed_is_refused_and_keeps_nothing_new(make_app):
    app = make_app(CALENDAR_SECRET_KEY=SECRET_KEY, CALENDAR_MAX_BYTES=1000)
    with app.app_context(), feed_server() as feed:
        coach = add_coach(now=SYNC_NOW)
        _connect_feed(coach.id, feed.url)
        [result] = sync_all(now=SYNC_NOW, settings=current_settings())
        assert not result.ok and "larger than 1 KB" in result.error
        assert busy_intervals([coach.id], SYNC_NOW, HORIZON_END)[coach.id] == []


def test_a_silent_calendar_server_times_out_in_plain_words(make_app):
    import socket

    app = make_app(CALENDAR_SECRET_KEY=SECRET_KEY, CALENDAR_TIMEOUT_SECONDS=0.5)
    with socket.socket() as silent, app.app_context():
        silent.bind(("127.0.0.1", 0))
        silent.listen(1)  # accepts the connection, never answers
        coach = add_coach(now=SYNC_NOW)
        _connect_feed(coach.id, f"http://127.0.0.1:{silent.getsockname()[1]}/cal.ics")
        [result] = sync_all(now=SYNC_NOW, settings=current_settings())
        assert not result.ok
        assert result.error == "The calendar server took too long to answer."

"""Busy times read from a coach's CalDAV calendar on a real Radicale server (time-range REPORT)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from booking.calendars import busy_intervals, connect_calendar, sync_all
from booking.extensions import db
from booking.models import CalendarKind, CoachCalendar
from booking.settings import current_settings

from .calendar_helpers import EXPECTED_BUSY, SECRET_KEY, SYNC_NOW, objects_by_uid
from .coach_helpers import add_coach
from .test_caldav import radicale_url  # noqa: F401 - the real Radicale server fixture

caldav = pytest.importorskip("caldav")


def test_sync_reads_exactly_the_busy_times_of_a_caldav_calendar(make_app, radicale_url, request):  # noqa: F811
    client = caldav.DAVClient(url=radicale_url, username="maya", password="unused")
    store = client.principal().make_calendar(name=f"Work {request.node.name}")
    for text in objects_by_uid():
        store.save_event(text)

    app = make_app(CALENDAR_SECRET_KEY=SECRET_KEY)
    with app.app_context():
        coach = add_coach(now=SYNC_NOW)
        connect_calendar(
            coach.id,
            kind=CalendarKind.CALDAV,
            name="Work",
            url=str(store.url),
            username="maya",
            password="app-password",
            now=SYNC_NOW,
            settings=current_settings(),
        )
        db.session.commit()
        [result] = sync_all(now=SYNC_NOW, settings=current_settings())
        assert result.ok, result.error
        got = busy_intervals([coach.id], SYNC_NOW, SYNC_NOW + timedelta(days=42))[coach.id]
        from datetime import UTC, datetime

        ours = (datetime(2027, 3, 5, 9, tzinfo=UTC), datetime(2027, 3, 5, 10, tzinfo=UTC))
        assert got == sorted(EXPECTED_BUSY + [ours])


def test_a_caldav_address_that_is_not_a_calendar_is_reported(make_app, radicale_url):  # noqa: F811
    app = make_app(CALENDAR_SECRET_KEY=SECRET_KEY)
    with app.app_context():
        coach = add_coach(now=SYNC_NOW)
        calendar = connect_calendar(
            coach.id,
            kind=CalendarKind.CALDAV,
            name="Typo",
            url=radicale_url + "maya/no-such-calendar/",
            username="maya",
            password="app-password",
            now=SYNC_NOW,
            settings=current_settings(),
        )
        db.session.commit()
        [result] = sync_all(now=SYNC_NOW, settings=current_settings())
        assert not result.ok
        row = db.session.get(CoachCalendar, calendar.id)
        assert row is not None and row.failing_since == SYNC_NOW
        assert row.last_error, "a reason in plain words"

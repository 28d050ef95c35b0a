"""Busy times read from a coach's CalDAV calendar on a real Radicale server (time-range REPORT)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

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


def _session_entries(store) -> list:
    from icalendar import Calendar

    found = store.search(
        start=datetime(2027, 3, 1, tzinfo=UTC), end=datetime(2027, 4, 30, tzinfo=UTC), event=True
    )
    return [Calendar.from_ical(item.data).walk("VEVENT")[0] for item in found]


def test_a_booked_session_appears_moves_and_disappears_in_the_coachs_caldav_calendar(
    make_app,
    radicale_url,  # noqa: F811
    request,
):
    from booking.calendar_writes import push_due
    from booking.models import CalendarWrite, Coach, Lead, SessionFormat
    from booking.workflow.scheduling import (
        cancel_session,
        record_agreed_time,
        reschedule_session,
    )

    from .coach_helpers import add_lead

    client = caldav.DAVClient(url=radicale_url, username="maya", password="unused")
    store = client.principal().make_calendar(name=f"Sessions {request.node.name}")
    app = make_app(CALENDAR_SECRET_KEY=SECRET_KEY)
    with app.app_context():
        settings = current_settings()
        coach_id = add_coach(now=SYNC_NOW).id
        connect_calendar(
            coach_id,
            kind=CalendarKind.CALDAV,
            name="Work",
            url=str(store.url),
            username="maya",
            password="app-password",
            add_sessions=True,
            now=SYNC_NOW,
            settings=settings,
        )
        db.session.commit()
        lead_id = add_lead(SYNC_NOW, full_name="Amara Okafor").id
        start = datetime(2027, 3, 10, 10, tzinfo=UTC)
        session = record_agreed_time(
            db.session.get(Lead, lead_id),
            db.session.get(Coach, coach_id),
            start,
            60,
            SessionFormat.VIDEO,
            "https://meet.example/abc",
            SYNC_NOW,
            settings=settings,
        )
        db.session.commit()
        uid = session.uid
        assert _session_entries(store) == [], "nothing is written inside the request"

        assert push_due(now=SYNC_NOW, settings=settings).done == 1
        [entry] = _session_entries(store)
        assert str(entry["UID"]) == uid
        assert entry.decoded("DTSTART") == start

        # Our own session is not counted twice as a busy time: it is booked here already.
        [result] = sync_all(now=SYNC_NOW, settings=settings)
        assert result.ok and result.busy_count == 0

        moved = start + timedelta(days=1, hours=2)
        reschedule_session(
            session, db.session.get(Coach, coach_id), moved, 60, SYNC_NOW, settings=settings
        )
        db.session.commit()
        assert push_due(now=SYNC_NOW, settings=settings).done == 1
        [entry] = _session_entries(store)
        assert str(entry["UID"]) == uid, "moved in place, not added again"
        assert entry.decoded("DTSTART") == moved

        cancel_session(
            session, db.session.get(Coach, coach_id), "Coach unwell", SYNC_NOW, settings=settings
        )
        db.session.commit()
        assert push_due(now=SYNC_NOW, settings=settings).done == 1
        assert _session_entries(store) == []
        statuses = db.session.scalars(db.select(CalendarWrite.status)).all()
        assert statuses == ["done", "done", "done"]


def test_a_failed_calendar_write_is_retried_later(make_app):
    from booking.calendar_writes import push_due
    from booking.models import CalendarWrite, Coach, Lead, SessionFormat
    from booking.workflow.scheduling import record_agreed_time

    from .calendar_helpers import feed_server
    from .coach_helpers import add_lead

    app = make_app(CALENDAR_SECRET_KEY=SECRET_KEY)
    with app.app_context(), feed_server() as broken:
        broken.status = 503
        settings = current_settings()
        coach_id = add_coach(now=SYNC_NOW).id
        connect_calendar(
            coach_id,
            kind=CalendarKind.CALDAV,
            name="Work",
            url=broken.url,
            username="maya",
            password="app-password",
            add_sessions=True,
            now=SYNC_NOW,
            settings=settings,
        )
        db.session.commit()
        lead_id = add_lead(SYNC_NOW).id
        record_agreed_time(
            db.session.get(Lead, lead_id),
            db.session.get(Coach, coach_id),
            datetime(2027, 3, 10, 10, tzinfo=UTC),
            60,
            SessionFormat.VIDEO,
            "https://meet.example/abc",
            SYNC_NOW,
            settings=settings,
        )
        db.session.commit()
        report = push_due(now=SYNC_NOW, settings=settings)
        assert (report.done, report.retrying) == (0, 1)
        write = db.session.scalars(db.select(CalendarWrite)).one()
        assert write.status == "pending" and write.attempts == 1
        assert write.due_at > SYNC_NOW and "HTTP 50" in write.last_error  # REPORT: 501
        assert push_due(now=SYNC_NOW, settings=settings).retrying == 0, "not due yet"


def test_erasing_a_leader_removes_their_session_from_the_coachs_caldav_calendar(
    make_app,
    radicale_url,  # noqa: F811
    request,
):
    from booking.calendar_writes import push_due
    from booking.models import Coach, Lead, SessionFormat
    from booking.workflow.privacy import erase_person
    from booking.workflow.scheduling import record_agreed_time

    from .coach_helpers import add_lead

    client = caldav.DAVClient(url=radicale_url, username="maya", password="unused")
    store = client.principal().make_calendar(name=f"Sessions {request.node.name}")
    app = make_app(CALENDAR_SECRET_KEY=SECRET_KEY)
    with app.app_context():
        settings = current_settings()
        coach_id = add_coach(now=SYNC_NOW).id
        connect_calendar(
            coach_id,
            kind=CalendarKind.CALDAV,
            name="Work",
            url=str(store.url),
            username="maya",
            password="app-password",
            add_sessions=True,
            now=SYNC_NOW,
            settings=settings,
        )
        db.session.commit()
        lead_id = add_lead(SYNC_NOW, full_name="Amara Okafor", email="amara@nhs.example").id
        record_agreed_time(
            db.session.get(Lead, lead_id),
            db.session.get(Coach, coach_id),
            datetime(2027, 3, 10, 10, tzinfo=UTC),
            60,
            SessionFormat.VIDEO,
            "https://meet.example/abc",
            SYNC_NOW,
            settings=settings,
        )
        db.session.commit()
        push_due(now=SYNC_NOW, settings=settings)
        assert len(_session_entries(store)) == 1

        erase_person("amara@nhs.example", now=SYNC_NOW, settings=settings)
        db.session.commit()
        push_due(now=SYNC_NOW, settings=settings)
        assert _session_entries(store) == []

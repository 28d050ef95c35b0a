"""Invitations filed into a real CalDAV store (Radicale on loopback) the way a calendar client does:
an update replaces the event, it never adds a second one; a cancellation names the same event."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from icalendar import Calendar

from booking.invite_emails import invitation
from booking.settings import current_settings

from .invite_helpers import make_session

NOW = datetime(2026, 1, 10, 12, 0, tzinfo=UTC)

caldav = pytest.importorskip("caldav")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def radicale_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    folder = tmp_path_factory.mktemp("radicale")
    port = _free_port()
    config = folder / "config"
    config.write_text(
        "[server]\n"
        f"hosts = 127.0.0.1:{port}\n"
        "[auth]\n"
        "type = none\n"
        "[storage]\n"
        f"filesystem_folder = {folder / 'collections'}\n"
        "[logging]\n"
        "level = warning\n"
    )
    log_path = folder / "radicale.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "radicale", "--config", str(config)],
            stdout=subprocess.DEVNULL,
            stderr=log,
        )
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                pytest.fail("Radicale exited: " + log_path.read_text())
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                    break
            except OSError:
                if time.monotonic() > deadline:
                    pytest.fail("Radicale did not start listening")
                time.sleep(0.05)
        yield f"http://127.0.0.1:{port}/"
    finally:
        process.terminate()
        process.wait(timeout=10)


def file_into(calendar, itip_text: str) -> None:
    # increase_seqno=False: the caldav library otherwise bumps SEQUENCE as an organiser would;
    # an attendee's client files the organiser's object as it came.
    calendar.save_event(as_filed(itip_text), increase_seqno=False)


def as_filed(itip_text: str) -> str:
    """What a calendar client stores: the object without METHOD (CalDAV forbids it, RFC 4791)."""
    calendar = Calendar.from_ical(itip_text)
    del calendar["METHOD"]
    return calendar.to_ical().decode("utf-8")


def stored_events(calendar, around: datetime) -> list[Calendar]:
    found = calendar.search(
        start=around - timedelta(days=30), end=around + timedelta(days=30), event=True
    )
    return [Calendar.from_ical(item.data) for item in found]


def start_of(stored: Calendar) -> datetime:
    return stored.walk("VEVENT")[0].decoded("DTSTART")


def test_request_update_and_cancel_in_a_caldav_calendar(app_ctx, radicale_url, request):
    client = caldav.DAVClient(url=radicale_url, username="sian", password="unused")
    calendar = client.principal().make_calendar(name=f"Sessions {request.node.name}")

    session = make_session()
    first_start = session.starts_at
    file_into(
        calendar,
        invitation(session, "leader", "new", now=NOW, settings=current_settings()).calendar,
    )
    events = stored_events(calendar, first_start)
    assert len(events) == 1
    assert start_of(events[0]) == first_start

    # The coach moves it a day on: same UID, higher SEQUENCE.
    session.starts_at += timedelta(days=1)
    session.ends_at += timedelta(days=1)
    session.sequence += 1
    update = invitation(session, "leader", "updated", now=NOW, settings=current_settings()).calendar
    file_into(calendar, update)
    events = stored_events(calendar, first_start)
    assert len(events) == 1, "the update must replace the event, not add a second one"
    assert start_of(events[0]) == session.starts_at
    stored = calendar.event_by_uid(session.uid)
    assert int(Calendar.from_ical(stored.data).walk("VEVENT")[0]["SEQUENCE"]) == 1

    # The cancellation names the same event at the same times...
    session.sequence += 1
    cancel = Calendar.from_ical(
        invitation(session, "leader", "cancelled", now=NOW, settings=current_settings()).calendar
    )
    cancelled = cancel.walk("VEVENT")[0]
    current = Calendar.from_ical(stored.data).walk("VEVENT")[0]
    assert str(cancelled["UID"]) == str(current["UID"])
    assert cancelled.decoded("DTSTART") == current.decoded("DTSTART")
    assert cancelled.decoded("DTEND") == current.decoded("DTEND")
    assert int(cancelled["SEQUENCE"]) > int(current["SEQUENCE"])

    # ...and a client that files it keeps one entry, now cancelled, or removes it.
    file_into(calendar, cancel.to_ical().decode("utf-8"))
    events = stored_events(calendar, first_start)
    assert len(events) == 1
    assert str(events[0].walk("VEVENT")[0]["STATUS"]) == "CANCELLED"
    calendar.event_by_uid(session.uid).delete()
    assert stored_events(calendar, first_start) == []


def test_both_parties_can_file_the_same_event(app_ctx, radicale_url, request):
    """The leader's and the coach's copies share a UID; each lands once in its own calendar."""
    client = caldav.DAVClient(url=radicale_url, username="kwame", password="unused")
    principal = client.principal()
    session = make_session()
    for role in ("leader", "coach"):
        calendar = principal.make_calendar(name=f"{role} {request.node.name}")
        file_into(
            calendar,
            invitation(session, role, "new", now=NOW, settings=current_settings()).calendar,
        )
        events = stored_events(calendar, session.starts_at)
        assert len(events) == 1
        assert str(events[0].walk("VEVENT")[0]["UID"]) == session.uid

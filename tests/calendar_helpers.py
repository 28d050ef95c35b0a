"""A coach's own calendar as calendar apps write it, the busy times it must give, and small
real servers (a feed over http.server) for the sync tests."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from cryptography.fernet import Fernet
from icalendar import Calendar

# One key for every test app that connects calendars.
SECRET_KEY = Fernet.generate_key().decode("ascii")

# The sync runs at this moment; the horizon (42 days) ends on 2027-04-12 00:00 UTC.
SYNC_NOW = datetime(2027, 3, 1, 0, 0, tzinfo=UTC)
OUR_SESSION_UID = "session-77@booking.test"

_EVENTS = """\
BEGIN:VEVENT
UID:weekly-team@example.org
DTSTAMP:20270101T000000Z
SUMMARY:Weekly team meeting
DTSTART;TZID=Europe/London:20270302T100000
DTEND;TZID=Europe/London:20270302T110000
RRULE:FREQ=WEEKLY;COUNT=6
EXDATE;TZID=Europe/London:20270316T100000
END:VEVENT
BEGIN:VEVENT
UID:weekly-team@example.org
DTSTAMP:20270101T000000Z
SUMMARY:Weekly team meeting (moved)
RECURRENCE-ID;TZID=Europe/London:20270323T100000
DTSTART;TZID=Europe/London:20270324T140000
DTEND;TZID=Europe/London:20270324T150000
END:VEVENT
BEGIN:VEVENT
UID:away-day@example.org
DTSTAMP:20270101T000000Z
SUMMARY:Away day
DTSTART;VALUE=DATE:20270312
DTEND;VALUE=DATE:20270313
END:VEVENT
BEGIN:VEVENT
UID:training@example.org
DTSTAMP:20270101T000000Z
SUMMARY:Training day in summer time
DTSTART;VALUE=DATE:20270409
END:VEVENT
BEGIN:VEVENT
UID:holiday@example.org
DTSTAMP:20270101T000000Z
SUMMARY:Bank holiday (shown free)
DTSTART;VALUE=DATE:20270319
DTEND;VALUE=DATE:20270320
TRANSP:TRANSPARENT
END:VEVENT
BEGIN:VEVENT
UID:cancelled@example.org
DTSTAMP:20270101T000000Z
SUMMARY:Cancelled lunch
DTSTART;TZID=Europe/London:20270310T120000
DTEND;TZID=Europe/London:20270310T130000
STATUS:CANCELLED
END:VEVENT
BEGIN:VEVENT
UID:night-shift@example.org
DTSTAMP:20270101T000000Z
SUMMARY:Across the clock change
DTSTART;TZID=Europe/London:20270328T003000
DTEND;TZID=Europe/London:20270328T033000
END:VEVENT
BEGIN:VEVENT
UID:outlook@example.org
DTSTAMP:20270101T000000Z
SUMMARY:From Outlook, Windows zone name
DTSTART;TZID=GMT Standard Time:20270401T090000
DTEND;TZID=GMT Standard Time:20270401T100000
END:VEVENT
BEGIN:VEVENT
UID:session-77@booking.test
DTSTAMP:20270101T000000Z
SUMMARY:Coaching session (booked through the service)
DTSTART:20270305T090000Z
DTEND:20270305T100000Z
END:VEVENT
"""


def _utc(text: str) -> datetime:
    return datetime.strptime(text, "%Y%m%dT%H%M").replace(tzinfo=UTC)


# Exactly what the calendar above makes busy, in UTC.
EXPECTED_BUSY = [
    (_utc(a), _utc(b))
    for a, b in [
        ("20270302T1000", "20270302T1100"),  # weekly, GMT
        ("20270309T1000", "20270309T1100"),
        # 16 March: EXDATE. 23 March: moved to the 24th at 14:00.
        ("20270312T0000", "20270313T0000"),  # all day, GMT
        ("20270324T1400", "20270324T1500"),  # the moved instance
        ("20270328T0030", "20270328T0230"),  # 00:30 GMT to 03:30 BST: two hours
        ("20270330T0900", "20270330T1000"),  # weekly, now 10:00 BST
        ("20270401T0800", "20270401T0900"),  # Windows "GMT Standard Time" in summer
        ("20270406T0900", "20270406T1000"),
        ("20270408T2300", "20270409T2300"),  # all day in summer: the local day
    ]
]


def feed_text(events: str = _EVENTS) -> str:
    text = "BEGIN:VCALENDAR\nVERSION:2.0\nPRODID:-//Test//Coach calendar//EN\n" + events
    return (text + "END:VCALENDAR\n").replace("\n", "\r\n")


def objects_by_uid() -> list[str]:
    """The calendar split into one object per UID (with its Europe/London VTIMEZONE), as a
    CalDAV store holds it."""
    calendar = Calendar.from_ical(feed_text())
    objects: dict[str, Calendar] = {}
    for event in calendar.walk("VEVENT"):
        uid = str(event["UID"])
        if uid not in objects:
            one = Calendar()
            one.add("prodid", "-//Test//Coach calendar//EN")
            one.add("version", "2.0")
            objects[uid] = one
        objects[uid].add_component(event)
    texts = []
    for one in objects.values():
        one.add_missing_timezones()
        texts.append(one.to_ical().decode("utf-8"))
    return texts


@dataclass
class FeedServer:
    """A real HTTP server on loopback answering every GET with `status` and `body`."""

    status: int = 200
    body: bytes = b""
    content_type: str = "text/calendar; charset=utf-8"
    paths: list[str] = field(default_factory=list)
    url: str = ""


@contextmanager
def feed_server() -> Iterator[FeedServer]:
    state = FeedServer(body=feed_text().encode("utf-8"))

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's name
            state.paths.append(self.path)
            self.send_response(state.status)
            self.send_header("Content-Type", state.content_type)
            self.send_header("Content-Length", str(len(state.body)))
            self.end_headers()
            self.wfile.write(state.body)

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}/secret-abc123/calendar.ics"
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=30)

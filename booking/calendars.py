"""Coaches' own calendars: connecting them, reading their busy times, and the busy-time query.

A coach connects CalDAV collections (URL, user name, app password) or read-only iCalendar feeds
(the "secret address" Outlook and Google publish). The addresses and passwords are secrets: they
are stored encrypted with CALENDAR_SECRET_KEY (a Fernet key) and never shown back or logged.

`flask calendars sync` (booking/cli.py) calls `sync_all`: each calendar's busy times for the
booking horizon replace that calendar's previous ones in one transaction. A calendar that cannot
be read keeps its last good busy times and records since when and why (in plain words), which
the coach area shows as a banner. `busy_intervals` is what the slot computation reads.

Reading busy times gets right what calendar schedulers are reported to miss: recurring events
with their exceptions (EXDATE, RECURRENCE-ID moves) through `recurring-ical-events` (Cal.com
#7796), all-day events (busy for the firm's whole local day), clock changes (each occurrence is
resolved in its own zone, then turned into UTC), TRANSP:TRANSPARENT and STATUS:CANCELLED events
ignored (Nextcloud Appointments #669), Outlook's Windows zone names (icalendar maps them), and
floating or unknown-zone times read in the firm's zone. Our own sessions (same UID as the
invitation) are skipped: they are booked here already.
"""

from __future__ import annotations

import base64
import logging
import time
import urllib.error
import urllib.request
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit, urlunsplit
from zoneinfo import ZoneInfo

import recurring_ical_events
from cryptography.fernet import Fernet, InvalidToken
from icalendar import Calendar
from sqlalchemy import delete, select
from sqlalchemy.exc import SQLAlchemyError

from .extensions import db
from .models import BusyTime, CalendarKind, CoachCalendar, CoachingSession
from .settings import Settings

log = logging.getLogger(__name__)

Interval = tuple[datetime, datetime]

KEY_MISSING = (
    "Calendars cannot be connected yet: the service has no CALENDAR_SECRET_KEY to protect "
    "their addresses and passwords. Ask whoever runs the service to set it."
)
USER_AGENT = "booking-calendar-sync/1"
CALDAV_NS = "urn:ietf:params:xml:ns:caldav"


class CalendarKeyMissing(RuntimeError):
    """No CALENDAR_SECRET_KEY (or an unusable one): nothing can be stored or read."""


class CalendarUnreadable(Exception):
    """A calendar that could not be read; the message says why, in plain words."""


# ----- secrets -----------------------------------------------------------------------------


def _fernet(settings: Settings) -> Fernet:
    key = (settings.calendar_secret_key or "").strip()
    if not key:
        raise CalendarKeyMissing(KEY_MISSING)
    try:
        return Fernet(key.encode("ascii"))
    except (ValueError, UnicodeEncodeError) as error:
        raise CalendarKeyMissing(
            "CALENDAR_SECRET_KEY is not a Fernet key (32 bytes, URL-safe base64)."
        ) from error


def encrypt_secret(text: str, settings: Settings) -> str:
    return _fernet(settings).encrypt(text.encode("utf-8")).decode("ascii")


def decrypt_secret(token: str, settings: Settings) -> str:
    if not token:
        return ""
    try:
        return _fernet(settings).decrypt(token.encode("ascii")).decode("utf-8")
    except InvalidToken as error:
        raise CalendarKeyMissing(
            "A calendar's stored secret cannot be read with this CALENDAR_SECRET_KEY "
            "(was the key changed?)."
        ) from error


def check_secret_key(settings: Settings) -> None:
    """Production start-up: refuse to run with calendars connected and no usable key."""
    try:
        has_calendars = db.session.execute(select(CoachCalendar.id).limit(1)).first() is not None
    except SQLAlchemyError:
        db.session.rollback()
        return  # no table yet (before `db upgrade`) or no database: nothing to protect
    if has_calendars:
        _fernet(settings)


# ----- connecting --------------------------------------------------------------------------


def normalise_url(url: str) -> str:
    """http(s) only; webcal:// (what "subscribe" links use) is https://."""
    url = url.strip()
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme in ("webcal", "webcals"):
        parts = parts._replace(scheme="https")
    elif scheme not in ("http", "https"):
        raise ValueError("Enter an address that starts with https://, http:// or webcal://")
    if not parts.hostname:
        raise ValueError("Enter a full address, like https://calendar.example.com/…")
    return urlunsplit(parts)


def connect_calendar(
    coach_id: int,
    *,
    kind: CalendarKind,
    name: str,
    url: str,
    username: str = "",
    password: str = "",
    add_sessions: bool = False,
    now: datetime,
    settings: Settings,
) -> CoachCalendar:
    """A new calendar for the coach (not committed). Raises CalendarKeyMissing without a key."""
    _fernet(settings)  # refuse before anything else
    calendar = CoachCalendar(
        coach_id=coach_id,
        kind=kind,
        name=name.strip(),
        url_encrypted=encrypt_secret(normalise_url(url), settings),
        username=username.strip() if kind == CalendarKind.CALDAV else "",
        password_encrypted=(
            encrypt_secret(password, settings) if kind == CalendarKind.CALDAV and password else ""
        ),
        add_sessions=bool(add_sessions and kind == CalendarKind.CALDAV),
        created_at=now,
        last_error="",
    )
    db.session.add(calendar)
    db.session.flush()
    return calendar


def coach_calendars(coach_id: int) -> list[CoachCalendar]:
    return list(
        db.session.scalars(
            select(CoachCalendar)
            .where(CoachCalendar.coach_id == coach_id)
            .order_by(CoachCalendar.id)
        )
    )


def failing_calendars(coach_id: int) -> list[CoachCalendar]:
    return [c for c in coach_calendars(coach_id) if c.failing_since is not None]


# ----- reading over HTTP -------------------------------------------------------------------


@dataclass(frozen=True)
class Fetch:
    timeout: float
    max_bytes: int


def _request(
    url: str,
    *,
    method: str = "GET",
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
    username: str = "",
    password: str = "",
) -> urllib.request.Request:
    all_headers = {"User-Agent": USER_AGENT, **(headers or {})}
    if username or password:
        pair = f"{username}:{password}".encode()
        all_headers["Authorization"] = "Basic " + base64.b64encode(pair).decode("ascii")
    return urllib.request.Request(url, data=body, headers=all_headers, method=method)


def _read(request: urllib.request.Request, fetch: Fetch) -> tuple[int, bytes]:
    """(status, body) within the timeout (per read, and four times it in all) and size cap."""
    deadline = time.monotonic() + 4 * fetch.timeout
    try:
        with urllib.request.urlopen(request, timeout=fetch.timeout) as response:  # noqa: S310
            chunks: list[bytes] = []
            size = 0
            while True:
                chunk = response.read(64 * 1024)
                if not chunk:
                    break
                size += len(chunk)
                if size > fetch.max_bytes:
                    raise CalendarUnreadable(
                        f"The calendar is larger than {_size(fetch.max_bytes)}, "
                        "the most the service reads."
                    )
                if time.monotonic() > deadline:
                    raise CalendarUnreadable("The calendar server took too long to answer.")
                chunks.append(chunk)
            return int(response.status), b"".join(chunks)
    except urllib.error.HTTPError as error:
        error.close()
        raise CalendarUnreadable(_http_words(error.code)) from None
    except TimeoutError:
        raise CalendarUnreadable("The calendar server took too long to answer.") from None
    except urllib.error.URLError as error:
        if isinstance(error.reason, TimeoutError):
            raise CalendarUnreadable("The calendar server took too long to answer.") from None
        raise CalendarUnreadable(
            "The calendar server could not be reached (is the address right?)."
        ) from None
    except (OSError, ValueError):
        raise CalendarUnreadable("The connection to the calendar server failed.") from None


def caldav_report(
    url: str, query: bytes, *, username: str, password: str, fetch: Fetch
) -> tuple[int, bytes]:
    """A CalDAV REPORT on a collection (Depth 1): (status, body), as `_read` bounds them."""
    request = _request(
        url,
        method="REPORT",
        body=query,
        headers={"Depth": "1", "Content-Type": "application/xml; charset=utf-8"},
        username=username,
        password=password,
    )
    return _read(request, fetch)


def _size(octets: int) -> str:
    if octets >= 1024 * 1024:
        return f"{octets / (1024 * 1024):g} MB"
    return f"{max(1, octets // 1024)} KB"


def _http_words(code: int) -> str:
    if code in (401, 403):
        return (
            f"The calendar server refused the user name or password (HTTP {code}). "
            "Check them, or make a new app password."
        )
    if code in (404, 410):
        return f"The calendar was not found at that address (HTTP {code}). Has it moved?"
    if code >= 500:
        return f"The calendar server had a problem (HTTP {code}). It may be down for a while."
    return f"The calendar server refused the request (HTTP {code})."


def fetch_feed(url: str, fetch: Fetch) -> list[bytes]:
    _, body = _read(_request(url, headers={"Accept": "text/calendar"}), fetch)
    return [body]


def _ical_stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def fetch_caldav(
    url: str, username: str, password: str, start: datetime, end: datetime, fetch: Fetch
) -> list[bytes]:
    """The events of a CalDAV collection overlapping [start, end) (RFC 4791 calendar-query)."""
    query = (
        '<?xml version="1.0" encoding="utf-8"?>'
        f'<C:calendar-query xmlns:D="DAV:" xmlns:C="{CALDAV_NS}">'
        "<D:prop><C:calendar-data/></D:prop>"
        '<C:filter><C:comp-filter name="VCALENDAR"><C:comp-filter name="VEVENT">'
        f'<C:time-range start="{_ical_stamp(start)}" end="{_ical_stamp(end)}"/>'
        "</C:comp-filter></C:comp-filter></C:filter>"
        "</C:calendar-query>"
    ).encode()
    status, body = caldav_report(url, query, username=username, password=password, fetch=fetch)
    if status != 207:
        raise CalendarUnreadable(
            f"The address does not look like a CalDAV calendar (HTTP {status}, expected 207)."
        )
    try:
        root = ET.fromstring(body)
    except ET.ParseError:
        raise CalendarUnreadable("The calendar server's answer could not be read.") from None
    return [
        (element.text or "").encode("utf-8")
        for element in root.iter(f"{{{CALDAV_NS}}}calendar-data")
        if (element.text or "").strip()
    ]


# ----- busy times from iCalendar -----------------------------------------------------------


def _as_utc(value: date | datetime, zone: ZoneInfo) -> datetime:
    if isinstance(value, datetime):
        # A floating time, or one whose TZID no one knows, is read in the firm's zone.
        aware = value if value.tzinfo is not None else value.replace(tzinfo=zone)
        return aware.astimezone(UTC)
    # A date: the firm's local midnight, whatever the offset that day.
    return datetime(value.year, value.month, value.day, tzinfo=zone).astimezone(UTC)


def _occurrence_interval(event: Any, zone: ZoneInfo) -> Interval | None:
    if str(event.get("TRANSP", "OPAQUE")).upper() == "TRANSPARENT":
        return None
    if str(event.get("STATUS", "")).upper() == "CANCELLED":
        return None
    if "DTSTART" not in event:
        return None
    start = event.decoded("DTSTART")
    if "DTEND" in event:
        end = event.decoded("DTEND")
    elif "DURATION" in event:
        end = start + event.decoded("DURATION")
    elif isinstance(start, datetime):
        end = start  # no length: takes no time (RFC 5545 3.6.1)
    else:
        end = start + timedelta(days=1)
    if isinstance(start, datetime) != isinstance(end, datetime):
        return None  # mixed date and time: malformed
    # All-day (dates): from the local midnight of the first day to the one after the last.
    begins, ends = _as_utc(start, zone), _as_utc(end, zone)
    if ends <= begins:
        return None
    return begins, ends


def busy_from_icalendar(
    objects: Iterable[bytes],
    start: datetime,
    end: datetime,
    zone: ZoneInfo,
    skip_uids: frozenset[str] = frozenset(),
) -> list[Interval]:
    """Busy intervals (UTC, clipped to [start, end), sorted, without duplicates)."""
    found: set[Interval] = set()
    for data in objects:
        try:
            calendar = Calendar.from_ical(data)
        except Exception:  # noqa: BLE001 - icalendar raises many kinds on bad input
            raise CalendarUnreadable(
                "The calendar's contents are not valid iCalendar (is the address an .ics feed?)."
            ) from None
        if getattr(calendar, "name", "") != "VCALENDAR":
            raise CalendarUnreadable("The calendar's contents are not valid iCalendar.")
        try:
            # Widen by a day: an all-day event's local day starts before its UTC date does.
            occurrences = recurring_ical_events.of(calendar, skip_bad_series=True).between(
                start - timedelta(days=1), end + timedelta(days=1)
            )
            for occurrence in occurrences:
                if str(occurrence.get("UID", "")) in skip_uids:
                    continue
                interval = _occurrence_interval(occurrence, zone)
                if interval is None:
                    continue
                begins, ends = max(interval[0], start), min(interval[1], end)
                if begins < ends:
                    found.add((begins, ends))
        except CalendarUnreadable:
            raise
        except Exception:  # noqa: BLE001 - a broken rule or date in the data
            raise CalendarUnreadable(
                "An event in the calendar could not be read (a broken date or repeat rule)."
            ) from None
    return sorted(found)


# ----- syncing -----------------------------------------------------------------------------


@dataclass(frozen=True)
class SyncResult:
    calendar_id: int
    ok: bool
    busy_count: int
    error: str = ""


def _our_uids(coach_id: int) -> frozenset[str]:
    return frozenset(
        db.session.scalars(select(CoachingSession.uid).where(CoachingSession.coach_id == coach_id))
    )


def read_busy(calendar: CoachCalendar, *, now: datetime, settings: Settings) -> list[Interval]:
    """The calendar's busy times over the horizon; raises CalendarUnreadable."""
    start = now.astimezone(UTC)
    end = start + timedelta(days=settings.calendar_horizon_days)
    fetch = Fetch(settings.calendar_timeout_seconds, settings.calendar_max_bytes)
    url = decrypt_secret(calendar.url_encrypted, settings)
    if calendar.kind == CalendarKind.CALDAV:
        password = decrypt_secret(calendar.password_encrypted, settings)
        objects = fetch_caldav(url, calendar.username, password, start, end, fetch)
    else:
        objects = fetch_feed(url, fetch)
    return busy_from_icalendar(
        objects, start, end, settings.zone, skip_uids=_our_uids(calendar.coach_id)
    )


def sync_calendar(calendar: CoachCalendar, *, now: datetime, settings: Settings) -> SyncResult:
    """Replace the calendar's busy times, or record why they could not be read (not committed).

    The caller commits once per calendar, so the old busy times and the new ones are never
    both, or neither, visible.
    """
    try:
        busy = read_busy(calendar, now=now, settings=settings)
    except CalendarUnreadable as problem:
        if calendar.failing_since is None:
            calendar.failing_since = now
        calendar.last_error = str(problem)
        log.warning("calendar %s could not be read: %s", calendar.id, problem)
        return SyncResult(calendar.id, False, 0, str(problem))
    db.session.execute(delete(BusyTime).where(BusyTime.calendar_id == calendar.id))
    db.session.add_all(
        BusyTime(
            coach_id=calendar.coach_id, calendar_id=calendar.id, starts_at=begins, ends_at=ends
        )
        for begins, ends in busy
    )
    calendar.last_success_at = now
    calendar.failing_since = None
    calendar.last_error = ""
    return SyncResult(calendar.id, True, len(busy))


def sync_all(*, now: datetime, settings: Settings) -> list[SyncResult]:
    """Every calendar, each in its own transaction (committed here: this is the worker)."""
    _fernet(settings)
    ids = list(db.session.scalars(select(CoachCalendar.id).order_by(CoachCalendar.id)))
    results = []
    for calendar_id in ids:
        calendar = db.session.get(CoachCalendar, calendar_id)
        if calendar is None:
            continue  # removed meanwhile
        results.append(sync_calendar(calendar, now=now, settings=settings))
        db.session.commit()
    return results


# ----- the read side for slots -------------------------------------------------------------


def busy_intervals(
    coach_ids: Sequence[int], start: datetime, end: datetime
) -> dict[int, list[Interval]]:
    """Each coach's busy times from their own calendars overlapping [start, end), sorted,
    in one query whatever the number of coaches. Coaches without any map to []."""
    result: dict[int, list[Interval]] = {coach_id: [] for coach_id in coach_ids}
    if not result:
        return result
    rows = db.session.execute(
        select(BusyTime.coach_id, BusyTime.starts_at, BusyTime.ends_at)
        .where(
            BusyTime.coach_id.in_(list(result)),
            BusyTime.starts_at < end,
            BusyTime.ends_at > start,
        )
        .order_by(BusyTime.coach_id, BusyTime.starts_at, BusyTime.ends_at)
    )
    for coach_id, begins, ends in rows:
        result[coach_id].append((begins, ends))
    return result

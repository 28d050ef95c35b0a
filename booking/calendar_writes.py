"""Booked sessions written into the coach's own CalDAV calendar ("add my sessions here").

Why a small queue table (`calendar_write`) and not new outbox kinds: an outbox row is an email
(sender, recipients, subject, Message-ID, SMTP outcomes), and the outbox's delivery, fencing
and "outcome unknown" rules are about SMTP. A calendar write is an idempotent HTTP PUT or
DELETE of one UID, so it needs far less: queued in the workflow's transaction (like mail),
done by `flask calendars push` outside any web request, retried with backoff on failure.

The entry has the invitation's UID, so the invitation the coach's mail client files and this
entry are one event, not two: a CalDAV store holds one object per UID in a collection, so the
worker first looks the UID up and overwrites the object wherever it is stored.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import quote, urljoin

from icalendar import Calendar
from sqlalchemy import select

from .calendars import (
    CALDAV_NS,
    CalendarKeyMissing,
    CalendarUnreadable,
    Fetch,
    _read,
    _request,
    caldav_report,
    decrypt_secret,
)
from .extensions import db
from .kinds import Role
from .models import (
    CalendarKind,
    CalendarWrite,
    CoachCalendar,
    CoachingSession,
    SessionStatus,
)
from .settings import Settings

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 8
BACKOFF_BASE = timedelta(seconds=60)
BACKOFF_CAP = timedelta(hours=1)


def queue_session_write(session: CoachingSession, action: str, now: datetime) -> None:
    """Queue the session's entry (put: booked or moved; delete: cancelled) for every CalDAV
    calendar of its coach marked "add my sessions here". In the caller's transaction."""
    calendars = db.session.scalars(
        select(CoachCalendar.id).where(
            CoachCalendar.coach_id == session.coach_id,
            CoachCalendar.kind == CalendarKind.CALDAV,
            CoachCalendar.add_sessions.is_(True),
        )
    ).all()
    for calendar_id in calendars:
        db.session.add(
            CalendarWrite(
                calendar_id=calendar_id,
                session_id=session.id,
                uid=session.uid,
                action=action,
                status="pending",
                attempts=0,
                due_at=now,
                created_at=now,
                last_error="",
            )
        )


def _stored_object(session: CoachingSession, now: datetime, settings: Settings) -> bytes:
    """The coach's invitation as a calendar client files it: without METHOD (RFC 4791)."""
    from .invite_emails import calendar_text

    text = calendar_text(session, Role.COACH, "new", now, settings)
    calendar = Calendar.from_ical(text)
    del calendar["METHOD"]
    return bytes(calendar.to_ical())


def _find_href(url: str, username: str, password: str, uid: str, fetch: Fetch) -> str | None:
    """Where the collection stores the object with this UID, if anywhere."""
    import xml.etree.ElementTree as ET
    from xml.sax.saxutils import escape

    query = (
        '<?xml version="1.0" encoding="utf-8"?>'
        f'<C:calendar-query xmlns:D="DAV:" xmlns:C="{CALDAV_NS}">'
        "<D:prop><D:getetag/></D:prop>"
        '<C:filter><C:comp-filter name="VCALENDAR"><C:comp-filter name="VEVENT">'
        '<C:prop-filter name="UID">'
        f'<C:text-match collation="i;octet">{escape(uid)}</C:text-match>'
        "</C:prop-filter></C:comp-filter></C:comp-filter></C:filter>"
        "</C:calendar-query>"
    ).encode()
    _, body = caldav_report(url, query, username=username, password=password, fetch=fetch)
    try:
        root = ET.fromstring(body)
    except ET.ParseError:
        raise CalendarUnreadable("The calendar server's answer could not be read.") from None
    for href in root.iter("{DAV:}href"):
        if href.text and href.text.strip().rstrip("/") != urljoin(url, ".").rstrip("/"):
            path = href.text.strip()
            if path.endswith(".ics") or not path.endswith("/"):
                return urljoin(url, path)
    return None


@dataclass
class PushReport:
    done: int = 0
    retrying: int = 0
    failed: int = 0

    def __str__(self) -> str:
        return f"{self.done} written, {self.retrying} to retry, {self.failed} given up"


def _perform(write: CalendarWrite, now: datetime, settings: Settings) -> None:
    calendar = db.session.get(CoachCalendar, write.calendar_id)
    if calendar is None:
        return
    fetch = Fetch(settings.calendar_timeout_seconds, settings.calendar_max_bytes)
    url = decrypt_secret(calendar.url_encrypted, settings)
    if not url.endswith("/"):
        url += "/"
    password = decrypt_secret(calendar.password_encrypted, settings)
    session = db.session.get(CoachingSession, write.session_id) if write.session_id else None
    href = _find_href(url, calendar.username, password, write.uid, fetch)
    if write.action == "put":
        if session is None or session.status != SessionStatus.BOOKED:
            return  # cancelled or erased meanwhile: the queued delete (if any) follows
        target = href or urljoin(url, quote(f"{uuid.uuid5(uuid.NAMESPACE_URL, write.uid)}.ics"))
        body = _stored_object(session, now, settings)
        _read(
            _request(
                target,
                method="PUT",
                body=body,
                headers={"Content-Type": "text/calendar; charset=utf-8"},
                username=calendar.username,
                password=password,
            ),
            fetch,
        )
    elif href is not None:
        _read(
            _request(href, method="DELETE", username=calendar.username, password=password),
            fetch,
        )


def push_due(*, now: datetime, settings: Settings, limit: int = 200) -> PushReport:
    """Do the due writes, oldest first, each in its own transaction (commits: the worker)."""
    report = PushReport()
    for _ in range(limit):
        write = db.session.scalars(
            select(CalendarWrite)
            .where(CalendarWrite.status == "pending", CalendarWrite.due_at <= now)
            .order_by(CalendarWrite.id)
            .limit(1)
            .with_for_update(skip_locked=True)
        ).first()
        if write is None:
            break
        write.attempts += 1
        try:
            _perform(write, now, settings)
        except (CalendarUnreadable, CalendarKeyMissing) as problem:
            write.last_error = str(problem)
            if write.attempts >= MAX_ATTEMPTS:
                write.status = "failed"
                report.failed += 1
            else:
                delay = min(BACKOFF_BASE * 2 ** (write.attempts - 1), BACKOFF_CAP)
                write.due_at = now + delay
                report.retrying += 1
            log.warning(
                "calendar write %s failed (attempt %s): %s", write.id, write.attempts, problem
            )
        else:
            write.status = "done"
            write.done_at = now
            write.last_error = ""
            report.done += 1
        db.session.commit()
    return report

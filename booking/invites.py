"""iCalendar for coaching sessions: building REQUEST and CANCEL, parsing REPLY. Nothing else.

The standards: RFC 5545 (iCalendar), RFC 5546 (iTIP: REQUEST / CANCEL / REPLY) and RFC 6047
(iMIP: the email side, which lives in mailer.py and invite_emails.py). The icalendar library
does the CRLF line endings, the 75-octet folding (never inside a UTF-8 character) and the TEXT
escaping of backslash, semicolon, comma and newline.

Time zone: every time here is UTC (``DTSTART:20260330T080000Z``), with no VTIMEZONE at all.
A session is one event that never recurs, so a fixed instant says everything; each client
shows it in its own user's zone. A TZID would need a VTIMEZONE, and clients are reported to
disagree about those (Outlook misreads the RDATE-only ones icalendar generates, iCalcreator
#86/#106), while every client reads UTC the same way, whatever TIMEZONE the firm configures.
The emails state the local time with its zone ("09:00 BST") for people.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from icalendar import Alarm, Calendar, Event, vCalAddress, vText

from .models import CoachingSession, SessionFormat

log = logging.getLogger(__name__)

PRODID = "-//Compassionate Leadership Coaching//Booking service//EN"
# A display alarm shortly before the session; the email reminder comes a day earlier.
ALARM_BEFORE = timedelta(minutes=30)
REPLY_PARTSTATS = frozenset({"NEEDS-ACTION", "ACCEPTED", "TENTATIVE", "DECLINED"})


class InviteError(ValueError):
    """Calendar data that cannot be built or read."""


@dataclass(frozen=True)
class Reply:
    """One attendee's answer from a METHOD:REPLY calendar."""

    uid: str
    attendee_email: str
    partstat: str
    sequence: int
    # When the attendee's client made the reply (UTC); None when missing or unreadable.
    dtstamp: datetime | None = None


def _utc(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        raise InviteError("naive datetime in a calendar")
    return moment.astimezone(UTC)


def _param_text(value: str) -> str:
    # Parameter values cannot hold a double quote or a line break (RFC 5545 3.1); RFC 6868's
    # caret escapes are not read by every client, so keep names plain.
    return " ".join(value.replace('"', "'").split())


def _address(email: str, name: str, **params: str) -> vCalAddress:
    # A bare mailto: URI with the name in CN: Gmail shows no RSVP buttons for anything else.
    address = vCalAddress(f"mailto:{email.strip()}")
    address.params["CN"] = _param_text(name)
    for key, value in params.items():
        address.params[key.upper().replace("_", "-")] = value
    return address


def normalise_address(address: Any) -> str:
    """An email address as compared with another: stripped, without `mailto:`, lower-case.

    Calendar addresses (`MAILTO:Sian@NHS.Example`) and email header addresses both go through
    this one function, so a REPLY's attendee and the message's sender compare alike.
    """
    text = str(address).strip()
    if text.lower().startswith("mailto:"):
        text = text[len("mailto:") :]
    return text.strip().lower()


def count_attendees(ics_text: str, limit: int) -> int:
    """How many ATTENDEE properties the text holds, counting no further than limit + 1.

    A plain scan of the content lines, before any real parsing, so a calendar with thousands
    of attendees is refused after reading only as far as its (limit + 1)th one.
    """
    count = 0
    for line in ics_text.splitlines():
        if line[:1] in (" ", "\t"):
            continue  # a folded continuation of the line before
        name = line.split(":", 1)[0].split(";", 1)[0].strip().upper()
        if name == "ATTENDEE":
            count += 1
            if count > limit:
                break
    return count


def default_summary(session: CoachingSession) -> str:
    return f"Coaching session: {session.lead.full_name} with {session.coach.name}"


def _where(session: CoachingSession, url: str | None) -> tuple[str | None, str | None]:
    """(LOCATION, URL) for the session's format."""
    detail = (session.join_detail or "").strip()
    if session.format == SessionFormat.VIDEO:
        link = detail if detail.lower().startswith(("https://", "http://")) else None
        # Outlook and Google show LOCATION prominently and make a link in it clickable.
        return (detail or "Video call"), (link or url)
    if session.format == SessionFormat.PHONE:
        return (f"Phone call: {detail}" if detail else "Phone call"), url
    return (detail or None), url


def _calendar(method: str) -> Calendar:
    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", method)
    return calendar


def _event(
    session: CoachingSession,
    *,
    organizer_name: str,
    organizer_email: str,
    now: datetime,
    description: str,
    url: str | None,
    summary: str | None,
    status: str,
    rsvp: bool,
) -> Event:
    organizer = organizer_email.strip().lower()
    attendees = [
        (session.lead.email, session.lead.full_name),
        (session.coach.email, session.coach.name),
    ]
    if organizer in {email.strip().lower() for email, _ in attendees}:
        # The organiser never attends: an attendee who is also the organiser gets no
        # Accept/Decline and some clients drop the event from their calendar.
        raise InviteError("the invitation's organiser must be the service mailbox, not a party")

    event = Event()
    event.add("uid", session.uid)
    event.add("dtstamp", _utc(now))
    event.add("dtstart", _utc(session.starts_at))
    event.add("dtend", _utc(session.ends_at))
    event.add("sequence", int(session.sequence))
    event.add("status", status)
    event.add("summary", summary or default_summary(session))
    event.add("description", description)
    location, link = _where(session, url)
    if location:
        event.add("location", location)
    if link:
        event.add("url", link)
    event.add("transp", "OPAQUE")
    event.add("class", "PRIVATE")
    event.add("organizer", _address(organizer_email, organizer_name))
    for email, name in attendees:
        # RSVP=TRUE: Apple Calendar shows no Accept/Decline without it (nextcloud #24467).
        # A cancellation asks for no answer.
        answer = {"partstat": "NEEDS-ACTION", "rsvp": "TRUE"} if rsvp else {}
        event.add(
            "attendee",
            _address(email, name, cutype="INDIVIDUAL", role="REQ-PARTICIPANT", **answer),
        )
    return event


def _serialise(calendar: Calendar) -> str:
    return calendar.to_ical().decode("utf-8")


def build_request(
    session: CoachingSession,
    organizer_name: str,
    organizer_email: str,
    now: datetime,
    description: str,
    url: str | None = None,
    *,
    summary: str | None = None,
) -> str:
    """METHOD:REQUEST for a new or changed session (the caller raises SEQUENCE on a change)."""
    event = _event(
        session,
        organizer_name=organizer_name,
        organizer_email=organizer_email,
        now=now,
        description=description,
        url=url,
        summary=summary,
        status="CONFIRMED",
        rsvp=True,
    )
    alarm = Alarm()
    alarm.add("action", "DISPLAY")
    alarm.add("description", vText(summary or default_summary(session)))
    alarm.add("trigger", -ALARM_BEFORE)
    event.add_component(alarm)
    calendar = _calendar("REQUEST")
    calendar.add_component(event)
    return _serialise(calendar)


def build_cancel(
    session: CoachingSession,
    organizer_name: str,
    organizer_email: str,
    now: datetime,
    description: str,
    url: str | None = None,
    *,
    summary: str | None = None,
) -> str:
    """METHOD:CANCEL with STATUS:CANCELLED: the same UID, a SEQUENCE higher than the last REQUEST.

    Cancelling as a REQUEST with STATUS:CANCELLED leaves the event in Gmail (cal.com #29706).
    """
    event = _event(
        session,
        organizer_name=organizer_name,
        organizer_email=organizer_email,
        now=now,
        description=description,
        url=url,
        summary=summary,
        status="CANCELLED",
        rsvp=False,
    )
    calendar = _calendar("CANCEL")
    calendar.add_component(event)
    return _serialise(calendar)


def _stamp(event: Any) -> datetime | None:
    try:
        moment = event.decoded("dtstamp")
    except (KeyError, ValueError, TypeError):
        return None
    if not isinstance(moment, datetime) or moment.tzinfo is None:
        return None
    return moment.astimezone(UTC)


def parse_replies(ics_text: str | bytes) -> list[Reply]:
    """Every attendee answer in a METHOD:REPLY calendar (one object or several in a row).

    Clients differ: Outlook.com may leave out ORGANIZER and writes ``MAILTO:`` in capitals,
    addresses come in any case. Calendars whose METHOD is not REPLY (a forwarded REQUEST, a
    COUNTER) carry no answer and give an empty list. Unreadable data raises InviteError.
    """
    if isinstance(ics_text, bytes):
        ics_text = ics_text.decode("utf-8", errors="replace")
    try:
        calendars = Calendar.from_ical(ics_text, multiple=True)
    except (ValueError, IndexError, KeyError, TypeError, RecursionError) as error:
        raise InviteError(f"not iCalendar data: {error}") from error

    replies: list[Reply] = []
    for calendar in calendars:
        method = str(calendar.get("method", "")).strip().upper()
        if method != "REPLY":
            log.info("calendar with METHOD %r is not a reply; ignored", method or None)
            continue
        for event in calendar.walk("VEVENT"):
            uid = str(event.get("uid", "")).strip()
            if not uid:
                log.warning("reply without a UID; ignored")
                continue
            try:
                sequence = int(event.get("sequence", 0))
            except (TypeError, ValueError):
                sequence = 0
            dtstamp = _stamp(event)
            attendees = event.get("attendee", [])
            if not isinstance(attendees, list):
                attendees = [attendees]
            for attendee in attendees:
                email = normalise_address(attendee)
                params = getattr(attendee, "params", {})
                partstat = str(params.get("PARTSTAT", "NEEDS-ACTION")).upper()
                if not email or partstat not in REPLY_PARTSTATS:
                    # No address in the log: it is personal data (and here unchecked input).
                    log.info("reply attendee with PARTSTAT %r ignored", partstat[:40])
                    continue
                replies.append(
                    Reply(
                        uid=uid,
                        attendee_email=email,
                        partstat=partstat,
                        sequence=sequence,
                        dtstamp=dtstamp,
                    )
                )
    return replies


__all__ = [
    "ALARM_BEFORE",
    "PRODID",
    "InviteError",
    "Reply",
    "build_cancel",
    "build_request",
    "count_attendees",
    "default_summary",
    "normalise_address",
    "parse_replies",
]


def build_session_feed(
    sessions: list[CoachingSession], *, calendar_name: str, now: datetime, lead_url: Any
) -> str:
    """A coach's subscription feed: one event per booked session, with the invitation's UID.

    No ORGANIZER or ATTENDEE (a subscribed calendar cannot answer), and of the leader only what
    the coach needs to recognise the session: first name and organisation.
    """
    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("x-wr-calname", calendar_name)
    for session in sessions:
        lead = session.lead
        first = (lead.full_name or "").split()[0] if (lead.full_name or "").split() else ""
        who = ", ".join(part for part in (first, lead.organisation or "") if part)
        event = Event()
        event.add("uid", session.uid)
        event.add("dtstamp", _utc(now))
        event.add("dtstart", _utc(session.starts_at))
        event.add("dtend", _utc(session.ends_at))
        event.add("sequence", int(session.sequence))
        event.add("status", "CONFIRMED")
        event.add("summary", f"Coaching session: {who}" if who else "Coaching session")
        location, link = _where(session, lead_url(lead.id))
        if location:
            event.add("location", location)
        if link:
            event.add("url", link)
        event.add("transp", "OPAQUE")
        event.add("class", "PRIVATE")
        calendar.add_component(event)
    return _serialise(calendar)

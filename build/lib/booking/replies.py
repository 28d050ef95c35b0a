"""Reading calendar replies (METHOD:REPLY) out of raw email: a file, stdin, a Maildir or IMAP.

Clients send them to the ORGANIZER address (the service mailbox) in different shapes: Outlook
inline as `text/calendar; method=REPLY` inside multipart/alternative, Google with an
`invite.ics` attachment as well, Apple as an `application/ics` attachment, often base64 or
quoted-printable, sometimes inside a forwarded message. Every calendar part is read.

Each message is applied and committed on its own, and only then marked seen (Maildir: moved
to cur/ with the S flag; IMAP: \\Seen), so a crash never loses or half-applies one. Messages
with no calendar data are left unseen for a person to read.
"""

from __future__ import annotations

import imaplib
import logging
import mailbox
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from email import message_from_bytes, policy
from email.message import Message
from pathlib import Path
from typing import Any

from .extensions import db
from .invites import InviteError, Reply, parse_replies
from .models import utcnow
from .workflow.responses import apply_reply

log = logging.getLogger(__name__)

CALENDAR_TYPES = frozenset({"text/calendar", "application/ics", "text/x-vcalendar"})


@dataclass
class IngestReport:
    messages: int = 0
    with_calendar: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)
    errors: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        parts = [f"{self.messages} message(s), {self.with_calendar} with calendar data"]
        parts += [f"{outcome} {count}" for outcome, count in sorted(self.outcomes.items())]
        if self.errors:
            parts.append(f"errors {len(self.errors)}")
        return ", ".join(parts)

    def add(self, other: IngestReport) -> None:
        self.messages += other.messages
        self.with_calendar += other.with_calendar
        self.outcomes.update(other.outcomes)
        self.errors.extend(other.errors)


def _is_calendar(part: Message) -> bool:
    if part.get_content_type() in CALENDAR_TYPES:
        return True
    filename = (part.get_filename() or "").lower()
    # Some clients label the attachment application/octet-stream.
    return filename.endswith((".ics", ".ical", ".icalendar", ".vcs"))


def calendar_texts(message: Message) -> list[str]:
    """The decoded text of every calendar part, inline or attached, at any depth; duplicates
    (the same calendar inline and as an attachment) once."""
    texts: list[str] = []
    for part in message.walk():
        if part.is_multipart() or not _is_calendar(part):
            continue
        payload = part.get_payload(decode=True)  # undoes base64 / quoted-printable
        if not isinstance(payload, bytes) or not payload.strip():
            continue
        charset = part.get_content_charset() or "utf-8"
        try:
            text = payload.decode(charset)
        except (LookupError, UnicodeDecodeError):
            text = payload.decode("utf-8", errors="replace")
        if text not in texts:
            texts.append(text)
    return texts


def replies_in(raw: bytes) -> list[Reply]:
    message = message_from_bytes(raw, policy=policy.compat32)
    replies: list[Reply] = []
    for text in calendar_texts(message):
        for reply in parse_replies(text):
            if reply not in replies:
                replies.append(reply)
    return replies


def ingest_message(raw: bytes, now: datetime | None = None, label: str = "message") -> IngestReport:
    """Apply every reply in one raw RFC 5322 message and commit."""
    report = IngestReport(messages=1)
    message = message_from_bytes(raw, policy=policy.compat32)
    texts = calendar_texts(message)
    if not texts:
        log.info("%s: no calendar data", label)
        return report
    report.with_calendar = 1
    now = now or utcnow()
    try:
        for text in texts:
            for reply in parse_replies(text):
                outcome = apply_reply(reply, now)
                report.outcomes[outcome] += 1
                log.info(
                    "%s: reply from %s for %s (%s, SEQUENCE %s): %s",
                    label,
                    reply.attendee_email,
                    reply.uid,
                    reply.partstat,
                    reply.sequence,
                    outcome,
                )
        db.session.commit()
    except InviteError as error:
        db.session.rollback()
        report.errors.append(f"{label}: {error}")
        log.warning("%s: unreadable calendar data: %s", label, error)
    return report


def ingest_file(path: str | Path, now: datetime | None = None) -> IngestReport:
    return ingest_message(Path(path).read_bytes(), now, label=str(path))


def ingest_maildir(path: str | Path, now: datetime | None = None) -> IngestReport:
    """Every message not yet seen in the Maildir; processed ones are moved to cur/ as seen."""
    box = mailbox.Maildir(str(path), factory=None, create=False)
    report = IngestReport()
    for key in sorted(box.keys()):
        message = box.get_message(key)
        if "S" in message.get_flags():
            continue
        result = ingest_message(message.as_bytes(), now, label=f"maildir {key}")
        report.add(result)
        if result.with_calendar and not result.errors:
            message.set_subdir("cur")
            message.add_flag("S")
            box[key] = message
    return report


def _imap_connect(config: dict[str, Any]) -> imaplib.IMAP4:
    host = config.get("IMAP_HOST")
    if not host:
        raise RuntimeError(
            "IMAP_HOST is not set: set IMAP_HOST, IMAP_USERNAME and "
            "IMAP_PASSWORD (and IMAP_PORT, IMAP_SSL, IMAP_FOLDER if needed)"
        )
    port = int(config.get("IMAP_PORT") or (993 if config.get("IMAP_SSL", True) else 143))
    timeout = float(config.get("MAIL_TIMEOUT") or 30)
    connection: imaplib.IMAP4
    if config.get("IMAP_SSL", True):
        connection = imaplib.IMAP4_SSL(host, port, timeout=timeout)
    else:
        connection = imaplib.IMAP4(host, port, timeout=timeout)
    if config.get("IMAP_USERNAME"):
        try:
            connection.login(config["IMAP_USERNAME"], config.get("IMAP_PASSWORD") or "")
        except imaplib.IMAP4.error:
            connection.shutdown()
            raise
    return connection


def ingest_imap(config: dict[str, Any], now: datetime | None = None) -> IngestReport:
    """Unseen messages in IMAP_FOLDER. Reading uses BODY.PEEK so nothing is marked seen until
    its replies are committed; messages without calendar data stay unseen."""
    report = IngestReport()
    connection = _imap_connect(config)
    try:
        status, _ = connection.select(config.get("IMAP_FOLDER") or "INBOX")
        if status != "OK":
            raise RuntimeError(f"cannot open IMAP folder {config.get('IMAP_FOLDER')!r}")
        status, data = connection.uid("SEARCH", "UNSEEN")
        uids = data[0].split() if status == "OK" and data and data[0] else []
        for uid in uids:
            status, fetched = connection.uid("FETCH", uid, "(BODY.PEEK[])")
            raw = next((item[1] for item in fetched or [] if isinstance(item, tuple)), None)
            if status != "OK" or not isinstance(raw, bytes):
                report.errors.append(f"imap {uid.decode()}: could not fetch")
                continue
            result = ingest_message(raw, now, label=f"imap {uid.decode()}")
            report.add(result)
            if result.with_calendar and not result.errors:
                connection.uid("STORE", uid, "+FLAGS", "(\\Seen)")
    finally:
        try:
            connection.logout()
        except (imaplib.IMAP4.error, OSError):
            pass
    return report


__all__ = [
    "IngestReport",
    "calendar_texts",
    "ingest_file",
    "ingest_imap",
    "ingest_maildir",
    "ingest_message",
    "replies_in",
]

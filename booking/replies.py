"""Reading calendar replies (METHOD:REPLY) out of raw email: a file, stdin, a Maildir or IMAP.

Clients send them to the ORGANIZER address (the service mailbox) in different shapes: Outlook
inline as `text/calendar; method=REPLY` inside multipart/alternative, Google with an
`invite.ics` attachment as well, Apple as an `application/ics` attachment, often base64 or
quoted-printable, sometimes inside a forwarded message. Every calendar part is read.

What is accepted. A message answers for one attendee, and only its sender may answer: the
attendee must be the From address, or the Sender address (a delegate's mailbox, Outlook's
"on behalf of"). A message answering for several attendees, or for someone who did not send
it, is refused whole. Limits keep a hostile or broken message from costing minutes and
hundreds of megabytes: its size (REPLY_MAX_BYTES, checked before the body is read: stat on
a Maildir file, RFC822.SIZE on IMAP), its calendar parts (MAX_CALENDAR_PARTS) and its
attendees (REPLY_MAX_ATTENDEES, counted before the calendar is parsed).

Each message is applied and committed on its own, and only then marked seen (Maildir: moved
to cur/ with the S flag; IMAP: \\Seen), so a crash never loses or half-applies one. A message
refused for one of the reasons above (or whose calendar is unreadable) is marked seen and
flagged (Maildir F, IMAP \\Flagged) for a person to look at, so no run reads it again.
Messages with no calendar data are left unseen for a person to read. The logs name messages
by Maildir key or IMAP UID and sessions by id, never by anyone's address.
"""

from __future__ import annotations

import enum
import imaplib
import logging
import mailbox
import os
import re
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from email import message_from_bytes, policy
from email.message import Message
from email.utils import getaddresses
from pathlib import Path
from typing import Any, BinaryIO

from sqlalchemy import select

from .extensions import db
from .invites import InviteError, Reply, count_attendees, normalise_address, parse_replies
from .models import CoachingSession, utcnow
from .workflow.responses import apply_reply

log = logging.getLogger(__name__)

CALENDAR_TYPES = frozenset({"text/calendar", "application/ics", "text/x-vcalendar"})

# Real replies are a few KB; Apple's, with attachments, tens of KB.
DEFAULT_MAX_BYTES = 1024 * 1024
# A REPLY carries one attendee (RFC 5546); some clients repeat the others unanswered.
DEFAULT_MAX_ATTENDEES = 10
# Distinct calendar parts in one message: one, or two (Google: inline and attached, the same
# text, read once); a forwarded message adds one. More is not a calendar client's reply.
MAX_CALENDAR_PARTS = 10

# Why a whole message was refused (counted in the report under these words).
TOO_LARGE = "too-large"
TOO_MANY_PARTS = "too-many-parts"
TOO_MANY_ATTENDEES = "too-many-attendees"
MALFORMED = "malformed"
SEVERAL_ATTENDEES = "several-attendees"
SENDER_MISMATCH = "sender-mismatch"
# An attendee line with PARTSTAT=NEEDS-ACTION answers nothing.
NOT_AN_ANSWER = "ignored"

_IMAP_SIZE_BATCH = 200


@dataclass(frozen=True)
class ReplyLimits:
    """How much one message may hold before it is refused unread (settings REPLY_MAX_*)."""

    max_bytes: int = DEFAULT_MAX_BYTES
    max_attendees: int = DEFAULT_MAX_ATTENDEES
    max_calendar_parts: int = MAX_CALENDAR_PARTS

    def __post_init__(self) -> None:
        if min(self.max_bytes, self.max_attendees, self.max_calendar_parts) < 1:
            raise ValueError("REPLY_MAX_BYTES and REPLY_MAX_ATTENDEES must be at least 1")

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> ReplyLimits:
        def setting(name: str, default: int) -> int:
            value = config.get(name)
            return default if value is None or value == "" else int(value)

        return cls(
            max_bytes=setting("REPLY_MAX_BYTES", DEFAULT_MAX_BYTES),
            max_attendees=setting("REPLY_MAX_ATTENDEES", DEFAULT_MAX_ATTENDEES),
        )


class Disposition(enum.Enum):
    """What the mailbox should do with a message once it has been read."""

    LEAVE = "leave"  # no calendar data (a person writing) or not read: stays unseen
    SEEN = "seen"  # replies applied (or found stale, unknown...): marked seen
    FLAGGED = "flagged"  # refused: marked seen and flagged for a person


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


class _Refused(Exception):
    def __init__(self, reason: str, replies: Iterable[Reply] = ()) -> None:
        super().__init__(reason)
        self.reason = reason
        self.replies = list(replies)


def _is_calendar(part: Message) -> bool:
    if part.get_content_type() in CALENDAR_TYPES:
        return True
    filename = (part.get_filename() or "").lower()
    # Some clients label the attachment application/octet-stream.
    return filename.endswith((".ics", ".ical", ".icalendar", ".vcs"))


def calendar_texts(message: Message, limit: int | None = None) -> list[str]:
    """The decoded text of every calendar part, inline or attached, at any depth; duplicates
    (the same calendar inline and as an attachment) once. More than `limit` distinct parts
    refuses the message (the rest are not decoded)."""
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
            if limit is not None and len(texts) > limit:
                raise _Refused(TOO_MANY_PARTS)
    return texts


def _read_replies(texts: list[str], limits: ReplyLimits) -> list[Reply]:
    """Every reply in the calendar texts, distinct; refuses too many attendees before parsing."""
    attendees = 0
    for text in texts:
        attendees += count_attendees(text, limits.max_attendees - attendees)
        if attendees > limits.max_attendees:
            raise _Refused(TOO_MANY_ATTENDEES)
    replies: list[Reply] = []
    for text in texts:
        try:
            found = parse_replies(text)
        except InviteError as error:
            log.info("unreadable calendar data: %s", str(error)[:200])
            raise _Refused(MALFORMED) from error
        replies += [reply for reply in found if reply not in replies]
    return replies


def _single_address(message: Message, header: str) -> str | None:
    """The one address in the header, normalised; None if absent, repeated or several.

    A message with two From headers, or a From with several authors, says nothing certain
    about who sent it (RFC 5322 wants a Sender then, which is read instead).
    """
    values = message.get_all(header) or []
    if len(values) != 1:
        return None
    addresses = [normalise_address(a) for _, a in getaddresses([str(values[0])]) if a.strip()]
    return addresses[0] if len(addresses) == 1 and "@" in addresses[0] else None


def sender_addresses(message: Message) -> set[str]:
    """Who may answer in this message: the From address, and the Sender address (a delegate
    sending "on behalf of" the attendee's mailbox), normalised like calendar addresses."""
    found = (_single_address(message, "From"), _single_address(message, "Sender"))
    return {address for address in found if address}


def _session_ids(replies: Iterable[Reply]) -> list[int]:
    uids = sorted({reply.uid for reply in replies})
    if not uids:
        return []
    return list(
        db.session.scalars(
            select(CoachingSession.id)
            .where(CoachingSession.uid.in_(uids))
            .order_by(CoachingSession.id)
        )
    )


def _read_message(raw: bytes, limits: ReplyLimits, report: IngestReport) -> list[Reply] | None:
    """The answers the message may give, or None when it has no calendar data. Raises
    _Refused for a message refused whole. Parsing only: nothing here touches the session."""
    if len(raw) > limits.max_bytes:
        raise _Refused(TOO_LARGE)
    try:
        message = message_from_bytes(raw, policy=policy.compat32)
        texts = calendar_texts(message, limits.max_calendar_parts)
    except _Refused:
        report.with_calendar = 1
        raise
    except (RecursionError, ValueError, LookupError, TypeError) as error:
        # A MIME tree the email package cannot walk: nothing a later run would read better.
        log.info("unreadable MIME structure: %s", type(error).__name__)
        raise _Refused(MALFORMED) from error
    if not texts:
        return None
    report.with_calendar = 1
    replies = _read_replies(texts, limits)

    answers = [reply for reply in replies if reply.partstat != "NEEDS-ACTION"]
    attendees = {reply.attendee_email for reply in answers}
    if len(attendees) > 1:
        raise _Refused(SEVERAL_ATTENDEES, answers)
    if attendees and not attendees <= sender_addresses(message):
        raise _Refused(SENDER_MISMATCH, answers)
    if len(answers) < len(replies):
        report.outcomes[NOT_AN_ANSWER] += len(replies) - len(answers)
    return answers


def _ingest(
    raw: bytes, now: datetime | None, label: str, limits: ReplyLimits
) -> tuple[IngestReport, Disposition]:
    report = IngestReport(messages=1)
    try:
        answers = _read_message(raw, limits, report)
    except _Refused as refusal:
        report.outcomes[refusal.reason] += 1
        log.warning(
            "%s: refused (%s); sessions %s",
            label,
            refusal.reason,
            _session_ids(refusal.replies) or "unknown",
        )
        return report, Disposition.FLAGGED
    if answers is None:
        log.info("%s: no calendar data", label)
        return report, Disposition.LEAVE
    now = now or utcnow()
    for reply in answers:
        outcome = apply_reply(reply, now)
        report.outcomes[outcome] += 1
        log.info(
            "%s: calendar reply (%s, SEQUENCE %s): %s",
            label,
            reply.partstat,
            reply.sequence,
            outcome,
        )
    db.session.commit()
    return report, Disposition.SEEN


def ingest_message(
    raw: bytes,
    now: datetime | None = None,
    label: str = "message",
    limits: ReplyLimits | None = None,
) -> IngestReport:
    """Apply the reply in one raw RFC 5322 message and commit (see the module's docstring for
    what is accepted)."""
    return _ingest(raw, now, label, limits or ReplyLimits())[0]


def _too_large(label: str, size: int) -> IngestReport:
    log.warning("%s: refused (%s, %s bytes)", label, TOO_LARGE, size)
    return IngestReport(messages=1, outcomes=Counter({TOO_LARGE: 1}))


def ingest_stream(
    stream: BinaryIO,
    now: datetime | None = None,
    label: str = "stdin",
    limits: ReplyLimits | None = None,
) -> IngestReport:
    """One message from a stream (standard input, as a mail server's pipe delivers it), read
    no further than the size limit. The rest of an oversized message is read and dropped, a
    chunk at a time, so the delivering mail server sees success and does not retry it."""
    limits = limits or ReplyLimits()
    raw = stream.read(limits.max_bytes + 1)
    if len(raw) <= limits.max_bytes:
        return ingest_message(raw, now, label, limits)
    size = len(raw)
    while chunk := stream.read(64 * 1024):
        size += len(chunk)
    return _too_large(label, size)


def ingest_file(
    path: str | Path, now: datetime | None = None, limits: ReplyLimits | None = None
) -> IngestReport:
    limits = limits or ReplyLimits()
    path = Path(path)
    size = path.stat().st_size
    if size > limits.max_bytes:
        return _too_large(str(path), size)
    with path.open("rb") as file:
        return ingest_stream(file, now, str(path), limits)


def _maildir_entries(root: Path) -> list[tuple[str, Path, str]]:
    """(key, path, flags) of every message in new/ and cur/, by key."""
    if not (root / "new").is_dir() or not (root / "cur").is_dir():
        raise RuntimeError(f"{root} is not a Maildir (it needs new/ and cur/ folders)")
    entries = []
    for subdir in ("new", "cur"):
        with os.scandir(root / subdir) as listing:
            for entry in listing:
                if entry.name.startswith(".") or not entry.is_file():
                    continue
                key, _, info = entry.name.partition(mailbox.Maildir.colon)
                flags = info[2:] if info.startswith("2,") else ""
                entries.append((key, Path(entry.path), flags))
    return sorted(entries)


def _maildir_mark(root: Path, key: str, path: Path, flags: str, disposition: Disposition) -> None:
    """Move the message to cur/ with S (and F), by renaming: the Maildir way, and the file
    (perhaps a very large one) is never rewritten."""
    add = {"S", "F"} if disposition == Disposition.FLAGGED else {"S"}
    info = "".join(sorted(set(flags) | add))
    os.rename(path, root / "cur" / f"{key}{mailbox.Maildir.colon}2,{info}")


def ingest_maildir(
    path: str | Path, now: datetime | None = None, limits: ReplyLimits | None = None
) -> IngestReport:
    """Every message not yet seen in the Maildir; processed ones are moved to cur/ as seen.

    An oversized message is refused by its file size, unread, and marked seen and flagged."""
    limits = limits or ReplyLimits()
    root = Path(path)
    report = IngestReport()
    for key, file_path, flags in _maildir_entries(root):
        if "S" in flags:
            continue
        label = f"maildir {key}"
        try:
            size = file_path.stat().st_size
            if size > limits.max_bytes:
                result, disposition = _too_large(label, size), Disposition.FLAGGED
            else:
                with file_path.open("rb") as file:
                    raw = file.read(limits.max_bytes + 1)
                result, disposition = _ingest(raw, now, label, limits)
        except FileNotFoundError:
            continue  # taken away meanwhile (another reader, a person's mail client)
        report.add(result)
        if disposition != Disposition.LEAVE:
            _maildir_mark(root, key, file_path, flags, disposition)
    return report


def _imap_connect(config: Mapping[str, Any]) -> imaplib.IMAP4:
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


_FETCH_UID = re.compile(rb"\bUID (\d+)", re.IGNORECASE)
_FETCH_SIZE = re.compile(rb"\bRFC822\.SIZE (\d+)", re.IGNORECASE)


def _imap_sizes(connection: imaplib.IMAP4, uids: list[bytes]) -> dict[bytes, int]:
    """RFC822.SIZE of each message: asked before any body is fetched."""
    sizes: dict[bytes, int] = {}
    for start in range(0, len(uids), _IMAP_SIZE_BATCH):
        batch = b",".join(uids[start : start + _IMAP_SIZE_BATCH]).decode()
        status, data = connection.uid("FETCH", batch, "(RFC822.SIZE)")
        if status != "OK":
            continue
        for item in data or []:
            line = item[0] if isinstance(item, tuple) else item
            if not isinstance(line, bytes):
                continue
            uid, size = _FETCH_UID.search(line), _FETCH_SIZE.search(line)
            if uid and size:
                sizes[uid.group(1)] = int(size.group(1))
    return sizes


def ingest_imap(config: Mapping[str, Any], now: datetime | None = None) -> IngestReport:
    """Unseen messages in IMAP_FOLDER. Each message's size is asked first and an oversized
    body is never downloaded (it is marked \\Seen and \\Flagged); the others are read with
    BODY.PEEK, so nothing is marked seen until its replies are committed; messages without
    calendar data stay unseen."""
    limits = ReplyLimits.from_config(config)
    report = IngestReport()
    connection = _imap_connect(config)
    try:
        status, _ = connection.select(config.get("IMAP_FOLDER") or "INBOX")
        if status != "OK":
            raise RuntimeError(f"cannot open IMAP folder {config.get('IMAP_FOLDER')!r}")
        status, data = connection.uid("SEARCH", "UNSEEN")
        uids = data[0].split() if status == "OK" and data and data[0] else []
        sizes = _imap_sizes(connection, uids)
        for uid in uids:
            label = f"imap {uid.decode()}"
            size = sizes.get(uid)
            if size is None:
                report.errors.append(f"{label}: could not read its size")
                continue
            if size > limits.max_bytes:
                result, disposition = _too_large(label, size), Disposition.FLAGGED
            else:
                # A partial fetch: even a server that misstated the size sends no more.
                status, fetched = connection.uid(
                    "FETCH", uid, f"(BODY.PEEK[]<0.{limits.max_bytes + 1}>)"
                )
                raw = next((item[1] for item in fetched or [] if isinstance(item, tuple)), None)
                if status != "OK" or not isinstance(raw, bytes):
                    report.errors.append(f"{label}: could not fetch")
                    continue
                result, disposition = _ingest(raw, now, label, limits)
            report.add(result)
            if disposition == Disposition.FLAGGED:
                connection.uid("STORE", uid, "+FLAGS", "(\\Seen \\Flagged)")
            elif disposition == Disposition.SEEN:
                connection.uid("STORE", uid, "+FLAGS", "(\\Seen)")
    finally:
        try:
            connection.logout()
        except (imaplib.IMAP4.error, OSError):
            pass
    return report


__all__ = [
    "DEFAULT_MAX_ATTENDEES",
    "DEFAULT_MAX_BYTES",
    "MAX_CALENDAR_PARTS",
    "IngestReport",
    "ReplyLimits",
    "calendar_texts",
    "ingest_file",
    "ingest_imap",
    "ingest_maildir",
    "ingest_message",
    "ingest_stream",
    "sender_addresses",
]

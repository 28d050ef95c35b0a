"""The outbox: emails are rows written in the caller's transaction and sent later, never in a
web request.

Delivery hands each message to the SMTP server once. Workers claim a few rows at a time under a
lease with a fresh claim token, and write to a row (or send it) only while the token is still
theirs, so a row taken over by another worker is never sent twice. Failures before the message
was complete are retried with exponential backoff and jitter, and a permanent (5xx) refusal stops
at once. The one case that can give a second copy: the reply to the end of DATA was lost. That
message is marked "outcome unknown" and tried exactly once more, much later, with the same
Message-ID (so a receiver can recognise the copy); never a third time by itself.
"""

from __future__ import annotations

import base64
import json
import logging
import random
import secrets
import signal
import smtplib
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.utils import make_msgid
from pathlib import Path
from typing import Any

from flask import current_app
from sqlalchemy import and_, or_, select, update

from .emails import MailDraft, coach_address, composed_at_send
from .extensions import db
from .log_privacy import redact
from .mailer import OutcomeUnknown, SMTPSession, SMTPSettings, build_message, capture_to_file
from .models import Lead, OutboxMessage, OutboxStatus, utcnow
from .settings import Settings, current_settings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DeliverySettings:
    """What delivery needs to know, passed in (see `from_config`) rather than looked up."""

    smtp: SMTPSettings | None  # None: no MAIL_SERVER, write .eml files to `capture_dir`
    capture_dir: Path
    max_attempts: int = 8
    backoff_base: float = 30.0
    backoff_cap: float = 3600.0
    # A claim on rows waiting to be sent; a worker that died releases them when it runs out.
    lease: timedelta = timedelta(minutes=5)
    claim_batch: int = 5
    unknown_retry_after: timedelta = timedelta(hours=1)
    poll_seconds: float = 5.0
    # What composing a registration's emails at send needs (links, the firm's name); None: the
    # app's own settings.
    mail: Settings | None = None

    def mail_settings(self) -> Settings:
        return self.mail if self.mail is not None else current_settings()

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> DeliverySettings:
        return cls(
            smtp=SMTPSettings.from_config(config),
            capture_dir=Path(config["MAIL_CAPTURE_DIR"]),
            max_attempts=int(config["OUTBOX_MAX_ATTEMPTS"]),
            backoff_base=float(config["OUTBOX_BACKOFF_BASE_SECONDS"]),
            backoff_cap=float(config["OUTBOX_BACKOFF_CAP_SECONDS"]),
            lease=timedelta(seconds=float(config["OUTBOX_LEASE_SECONDS"])),
            claim_batch=max(1, int(config["OUTBOX_CLAIM_BATCH"])),
            unknown_retry_after=timedelta(seconds=float(config["OUTBOX_UNKNOWN_RETRY_SECONDS"])),
            poll_seconds=float(config["OUTBOX_POLL_SECONDS"]),
        )

    def send_lease(self, recipients: int) -> timedelta:
        """How long a row is held from just before its send: the longest the send can take
        (connecting, each command, and the reply to DATA, each with its timeout), and the
        lease again on top for recording the outcome. Another worker may take the row over
        only after that, so it cannot send while this one still might."""
        if self.smtp is None:
            return self.lease
        commands = 8 + recipients  # connect, EHLO, STARTTLS, login, MAIL, RCPT each, DATA, body
        return self.lease + timedelta(seconds=self.smtp.timeout * commands + self.smtp.data_timeout)


def _settings(settings: DeliverySettings | None) -> DeliverySettings:
    return settings if settings is not None else DeliverySettings.from_config(current_app.config)


def _subject(value: str) -> str:
    """A subject as stored and sent: one line (nothing typed by a leader reaches a header
    unflattened), at most 300 characters."""
    return " ".join(value.split())[:300]


def _leaders_coach(draft: MailDraft, lead_id: int | None) -> str | None:
    """Mail to the leader of an assigned lead carries Reply-To their coach, so a reply reaches
    a person rather than the service's mailbox. Decided here, once, so no leader email (the
    acknowledgement, times, invitations, reminders, and any added later) can miss it.

    Calendar invitations too: a calendar client sends its METHOD:REPLY to the ORGANIZER in the
    calendar data (RFC 6047), not to Reply-To, so answers still reach the service.
    """
    if lead_id is None:
        return None
    lead = db.session.get(Lead, lead_id)
    if lead is None or lead.assigned_coach is None or not lead.assigned_coach.active:
        return None
    to_leader = any(address.strip().lower() == lead.email.strip().lower() for address in draft.to)
    return coach_address(lead.assigned_coach) if to_leader else None


def enqueue(
    draft: MailDraft,
    *,
    lead_id: int | None = None,
    session_id: int | None = None,
    due_at: datetime | None = None,
    now: datetime | None = None,
) -> OutboxMessage:
    """Add the draft to the current transaction; it is sent only if the transaction commits."""
    row = OutboxMessage(**_row_values(draft, lead_id, session_id, due_at, now or utcnow()))
    db.session.add(row)
    return row


def new_rows(
    drafts: list[tuple[MailDraft, int | None]], *, now: datetime | None = None
) -> list[dict[str, Any]]:
    """(draft, lead id) pairs as plain outbox rows, for the caller to insert with others
    (`database.insert_together`), with no ORM objects: for a hot path whose caller needs no rows
    back (the registration). The same rows as `enqueue` would add; sent only if the
    transaction commits."""
    at = now or utcnow()
    return [_row_values(draft, lead_id, None, None, at) for draft, lead_id in drafts]


def _row_values(
    draft: MailDraft,
    lead_id: int | None,
    session_id: int | None,
    due_at: datetime | None,
    now: datetime,
) -> dict[str, Any]:
    sender = current_app.config["MAIL_DEFAULT_SENDER"]
    # (Mail composed at send gets its Reply-To then, from the lead as it is then.)
    reply_to = draft.reply_to or (None if draft.compose_at_send else _leaders_coach(draft, lead_id))
    domain = sender.rsplit("@", 1)[-1].strip(">").strip() or "localhost"
    return dict(
        created_at=now,
        due_at=due_at or now,
        kind=draft.kind,
        lead_id=lead_id,
        session_id=session_id,
        message_id=make_msgid(domain=domain),
        sender=sender,
        recipients_json=json.dumps(draft.to),
        subject=_subject(draft.subject),
        body_text=draft.text,
        body_html=draft.html,
        calendar=draft.calendar,
        calendar_method=draft.calendar_method,
        reply_to=reply_to,
        attachments_json=json.dumps(
            [
                {
                    "filename": a.filename,
                    "content_type": a.content_type,
                    "data_b64": base64.b64encode(a.data).decode("ascii"),
                }
                for a in draft.attachments
            ]
        ),
        status=OutboxStatus.PENDING,
        attempts=0,
        last_error="",
        unknown_outcomes=0,
        compose_at_send=draft.compose_at_send,
    )


def cancel_pending(
    *,
    lead_id: int | None = None,
    session_id: int | None = None,
    kinds: tuple[str, ...] | None = None,
) -> int:
    """Cancel queued mail for a lead or session (a withdrawal, a moved or cancelled session).

    That includes an email whose outcome was unknown and that waits for its one more send: it
    is not sent again (it keeps its `unknown_outcomes`, so it is still shown as maybe arrived).
    """
    stmt = update(OutboxMessage).where(
        or_(
            OutboxMessage.status == OutboxStatus.PENDING,
            (OutboxMessage.status == OutboxStatus.UNKNOWN) & (OutboxMessage.unknown_outcomes == 1),
        )
    )
    if lead_id is not None:
        stmt = stmt.where(OutboxMessage.lead_id == lead_id)
    if session_id is not None:
        stmt = stmt.where(OutboxMessage.session_id == session_id)
    if kinds:
        stmt = stmt.where(OutboxMessage.kind.in_(kinds))
    result = db.session.execute(
        stmt.values(status=OutboxStatus.CANCELLED), execution_options={"synchronize_session": False}
    )
    return int(getattr(result, "rowcount", 0) or 0)


def requeue(
    ids: list[int] | None = None,
    now: datetime | None = None,
    *,
    include_unknown: bool = False,
) -> int:
    """Put failed messages back in the queue (all of them, or those ids), due now.

    For after the operator has fixed the cause (a mailbox that was full, a bad address mended
    in the database). Each keeps its Message-ID, so a copy that did arrive is recognised.
    With `include_unknown`, messages whose outcome is unknown are queued too (only ever by id:
    they may have arrived, so sending again is a person's decision). If such a send is again
    left unknown, it is not retried by itself.
    """
    statuses = [OutboxStatus.FAILED]
    if include_unknown:
        if ids is None:
            raise ValueError("messages whose outcome is unknown are queued again only by id")
        statuses.append(OutboxStatus.UNKNOWN)
    stmt = update(OutboxMessage).where(OutboxMessage.status.in_(statuses))
    if ids is not None:
        stmt = stmt.where(OutboxMessage.id.in_(ids))
    result = db.session.execute(
        stmt.values(
            status=OutboxStatus.PENDING,
            due_at=now or utcnow(),
            attempts=0,
            lease_until=None,
            claim_token=None,
        ),
        execution_options={"synchronize_session": False},
    )
    return int(getattr(result, "rowcount", 0) or 0)


def backoff_delay(
    attempts: int, settings: DeliverySettings, rng: random.Random | None = None
) -> float:
    """Seconds to wait after the n-th failed attempt: exponential, capped, with full jitter."""
    ceiling = min(settings.backoff_cap, settings.backoff_base * (2 ** max(0, attempts - 1)))
    return (rng or random).uniform(ceiling / 2, ceiling)


@dataclass
class DeliveryReport:
    sent: list[int] = field(default_factory=list)
    retrying: list[int] = field(default_factory=list)
    failed: list[int] = field(default_factory=list)
    # Handed over, but the server's answer was lost: see OutboxStatus.UNKNOWN.
    unknown: list[int] = field(default_factory=list)
    # Claimed by this worker, then taken over by another (its lease ran out): left alone.
    skipped: list[int] = field(default_factory=list)

    @property
    def handled(self) -> int:
        return sum(map(len, (self.sent, self.retrying, self.failed, self.unknown, self.skipped)))

    def __str__(self) -> str:
        text = (
            f"sent {len(self.sent)}, retrying {len(self.retrying)}, failed {len(self.failed)}, "
            f"outcome unknown {len(self.unknown)}"
        )
        return text + (f", taken over {len(self.skipped)}" if self.skipped else "")


@dataclass(frozen=True)
class Claim:
    """Rows one worker holds for a lease; `token` is its proof, written to each row."""

    token: str
    ids: list[int]


_WAITING = (OutboxStatus.PENDING, OutboxStatus.UNKNOWN)


def _due(now: datetime) -> Any:
    not_held = or_(OutboxMessage.lease_until.is_(None), OutboxMessage.lease_until <= now)
    return and_(
        OutboxMessage.due_at <= now,
        not_held,
        or_(
            OutboxMessage.status == OutboxStatus.PENDING,
            # The one late retry after an unknown outcome; after a second, never by itself.
            (OutboxMessage.status == OutboxStatus.UNKNOWN) & (OutboxMessage.unknown_outcomes == 1),
        ),
    )


def claim_due(now: datetime, limit: int, settings: DeliverySettings) -> Claim:
    """Hold up to `limit` due rows for a lease under a fresh token, in a short transaction.

    A claimed row keeps its status (pending, or unknown awaiting its retry) until its send
    begins; it turns to "sending" only then (see `deliver_claimed`).
    """
    token = secrets.token_hex(16)
    _give_up_on_abandoned_sends(now, settings)
    query = select(OutboxMessage.id).where(_due(now)).order_by(OutboxMessage.due_at).limit(limit)
    if db.engine.dialect.name == "postgresql":
        # Several workers: each takes rows no other worker holds, without waiting.
        query = query.with_for_update(skip_locked=True)
    ids = list(db.session.scalars(query))
    if ids:
        db.session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id.in_(ids), _due(now))
            .values(lease_until=now + settings.lease, claim_token=token),
            execution_options={"synchronize_session": False},
        )
    db.session.commit()
    return Claim(token, ids)


def _give_up_on_abandoned_sends(now: datetime, settings: DeliverySettings) -> None:
    """A row still "sending" after its send lease ran out: its worker stopped mid-send, maybe
    after the server had the message. Sending it again at once could make a second copy, so
    it is treated as an unknown outcome (retried once, later, if it was the first)."""
    abandoned = (OutboxMessage.status == OutboxStatus.SENDING) & (OutboxMessage.lease_until <= now)
    ids = list(db.session.scalars(select(OutboxMessage.id).where(abandoned)))
    for row_id in ids:
        result = db.session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id == row_id, abandoned)
            .values(
                status=OutboxStatus.UNKNOWN,
                unknown_outcomes=OutboxMessage.unknown_outcomes + 1,
                attempts=OutboxMessage.attempts + 1,
                due_at=now + settings.unknown_retry_after,
                lease_until=None,
                claim_token=None,
                last_error="Outcome unknown: the worker sending it stopped before recording "
                "whether the server took it",
            ),
            execution_options={"synchronize_session": False},
        )
        if getattr(result, "rowcount", 0):
            log.warning("outbox %s: its worker stopped mid-send; outcome unknown", row_id)


class _Courier:
    """The SMTP connection for one round: opened when first needed, reopened after it broke.
    Once the server cannot be reached, the rest of the round is not tried (see deliver_due)."""

    def __init__(self, settings: SMTPSettings) -> None:
        self.settings = settings
        self.session: SMTPSession | None = None
        self.unreachable: Exception | None = None

    def connect(self) -> SMTPSession:
        if self.session is not None and not self.session.usable:
            self.close()
        if self.session is None:
            session = SMTPSession(self.settings)
            try:
                session.open()
            except (smtplib.SMTPException, OSError) as error:
                self.unreachable = error
                raise
            self.session = session
        return self.session

    def close(self) -> None:
        if self.session is not None:
            self.session.close()
            self.session = None


def _is_permanent(error: Exception) -> bool:
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _ in error.recipients.values()]
        return bool(codes) and all(500 <= code < 600 for code in codes)
    if isinstance(error, smtplib.SMTPResponseException):
        return 500 <= error.smtp_code < 600
    return False


def _error_text(error: Exception) -> str:
    return f"{type(error).__name__}: {error}"[:2000]


class _Fenced:
    """Writes to one claimed row, each only while the row is still ours (its claim token)."""

    def __init__(self, row: OutboxMessage, token: str) -> None:
        self.row_id = row.id
        self.kind = row.kind
        self.attempts = row.attempts
        self.unknown_outcomes = row.unknown_outcomes
        self.token = token

    def write(self, *statuses: OutboxStatus, **values: Any) -> bool:
        """One short transaction; False (and nothing written) if the row is no longer ours."""
        result = db.session.execute(
            update(OutboxMessage)
            .where(
                OutboxMessage.id == self.row_id,
                OutboxMessage.claim_token == self.token,
                OutboxMessage.status.in_(statuses),
            )
            .values(**values),
            execution_options={"synchronize_session": False},
        )
        db.session.commit()
        return bool(getattr(result, "rowcount", 0))

    def finish(self, **values: Any) -> bool:
        done = self.write(OutboxStatus.SENDING, lease_until=None, claim_token=None, **values)
        if not done:
            log.error(
                "outbox %s (%s): taken over by another worker while being sent; "
                "its outcome here was not recorded: %s",
                self.row_id,
                self.kind,
                sorted(values),
            )
        return done


def _record_failure(
    fence: _Fenced,
    error: Exception,
    now: datetime,
    settings: DeliverySettings,
    report: DeliveryReport,
    *,
    permanent: bool | None = None,
) -> None:
    """A failure before the message was complete: the server does not have it, so it is safe
    to try again. `permanent` overrides what the error says: None means ask `_is_permanent`."""
    attempts = fence.attempts + 1
    last_error = _error_text(error)
    if permanent is None:
        permanent = _is_permanent(error)
    if permanent or attempts >= settings.max_attempts:
        if fence.finish(status=OutboxStatus.FAILED, attempts=attempts, last_error=last_error):
            report.failed.append(fence.row_id)
            log.error(
                "outbox %s (%s) failed for good: %s", fence.row_id, fence.kind, redact(last_error)
            )
        return
    due_at = now + timedelta(seconds=backoff_delay(attempts, settings))
    if fence.finish(
        status=OutboxStatus.PENDING, attempts=attempts, last_error=last_error, due_at=due_at
    ):
        report.retrying.append(fence.row_id)
        log.warning(
            "outbox %s (%s) will retry at %s: %s",
            fence.row_id,
            fence.kind,
            due_at.isoformat(),
            redact(last_error),
        )


def _record_unknown(
    fence: _Fenced,
    error: OutcomeUnknown,
    now: datetime,
    settings: DeliverySettings,
    report: DeliveryReport,
) -> None:
    unknown_outcomes = fence.unknown_outcomes + 1
    values: dict[str, Any] = dict(
        status=OutboxStatus.UNKNOWN,
        attempts=fence.attempts + 1,
        unknown_outcomes=unknown_outcomes,
        last_error=f"Outcome unknown: {error}"[:2000],
    )
    if unknown_outcomes == 1:
        values["due_at"] = now + settings.unknown_retry_after
    if not fence.finish(**values):
        return
    report.unknown.append(fence.row_id)
    if unknown_outcomes == 1:
        log.warning(
            "outbox %s (%s): outcome unknown (%s); it may have arrived. Trying once more, "
            "with the same Message-ID, at %s",
            fence.row_id,
            fence.kind,
            redact(str(error)),
            values["due_at"].isoformat(),
        )
    else:
        log.error(
            "outbox %s (%s): outcome unknown again (%s); not sent again. "
            "See `flask outbox status`.",
            fence.row_id,
            fence.kind,
            redact(str(error)),
        )


def _deliver_one(
    row_id: int,
    token: str,
    clock: Callable[[], datetime],
    settings: DeliverySettings,
    courier: _Courier | None,
    report: DeliveryReport,
) -> None:
    row = db.session.get(OutboxMessage, row_id, populate_existing=True)
    if row is None:
        return
    fence = _Fenced(row, token)
    body = _compose(row, settings) if row.compose_at_send else {}
    if body is None:
        # Its lead is gone or erased: nothing may be written from it.
        fence.write(*_WAITING, status=OutboxStatus.CANCELLED, lease_until=None, claim_token=None)
        log.info("outbox %s (%s): its lead was erased; cancelled", row_id, fence.kind)
        return
    # Still ours? Then it is "sending" from now, held long enough for the send to finish (with
    # the body written just now, kept for any retry).
    if not fence.write(
        *_WAITING,
        status=OutboxStatus.SENDING,
        lease_until=clock() + settings.send_lease(len(row.recipients)),
        **body,
    ):
        report.skipped.append(row_id)
        log.info("outbox %s (%s): taken over by another worker; left alone", row_id, fence.kind)
        return
    if body:
        row = db.session.get(OutboxMessage, row_id, populate_existing=True) or row
    try:
        message = build_message(row)
        # No transaction stays open while the server takes its time (up to MAIL_DATA_TIMEOUT):
        # on SQLite it would hold the write lock, on PostgreSQL a connection idle in transaction.
        db.session.commit()
        if courier is None:
            path = capture_to_file(row, message, settings.capture_dir)
            log.info(
                # Ids only: subjects name leaders, recipients are their addresses.
                "mail captured (no MAIL_SERVER): outbox %s (%s) -> %s",
                row.id,
                row.kind,
                path,
            )
        else:
            if courier.unreachable is not None:
                _record_failure(
                    fence, courier.unreachable, clock(), settings, report, permanent=False
                )
                return
            try:
                session = courier.connect()
            except (smtplib.SMTPException, OSError) as error:
                # About the server, not the message: always retried, even a 5xx greeting.
                _record_failure(fence, error, clock(), settings, report, permanent=False)
                return
            try:
                session.send(message)
            finally:
                if not session.usable:
                    courier.close()
    except OutcomeUnknown as error:
        _record_unknown(fence, error, clock(), settings, report)
    except (smtplib.SMTPException, OSError) as error:
        _record_failure(fence, error, clock(), settings, report)
    except Exception as error:
        # A message that cannot be built or is refused before sending (a header with a line
        # break, say) will not get better by retrying; it must not stop the round either, or
        # it would block every message behind it on each run.
        log.exception("outbox %s (%s) cannot be sent", row_id, fence.kind)
        _record_failure(fence, error, clock(), settings, report, permanent=True)
    else:
        if fence.finish(status=OutboxStatus.SENT, sent_at=utcnow(), attempts=fence.attempts + 1):
            report.sent.append(row_id)


def _written_from_lead(row: OutboxMessage, settings: Settings) -> MailDraft | None:
    """The whole message of a row queued to be composed at send (emails.COMPOSED_AT_SEND),
    written from its lead now; None when the lead is gone or erased."""
    lead = db.session.get(Lead, row.lead_id) if row.lead_id is not None else None
    if lead is None or lead.erased_at is not None:
        return None
    return composed_at_send(row.kind, lead, row.recipients, settings=settings)


def _compose(row: OutboxMessage, settings: DeliverySettings) -> dict[str, Any] | None:
    """The columns `_written_from_lead` fills in, to be kept with the row; None when the lead
    is gone or erased."""
    draft = _written_from_lead(row, settings.mail_settings())
    if draft is None:
        return None
    return dict(
        subject=_subject(draft.subject),
        body_text=draft.text,
        body_html=draft.html,
        reply_to=row.reply_to or _leaders_coach(draft, row.lead_id),
        compose_at_send=False,
    )


def bodies(row: OutboxMessage, settings: Settings) -> tuple[str, str]:
    """A row's text and HTML bodies, as they are or will be sent (for the data export)."""
    if not row.compose_at_send:
        return row.body_text, row.body_html
    draft = _written_from_lead(row, settings)
    return (draft.text, draft.html) if draft is not None else ("", "")


def _clock(now: datetime | None) -> Callable[[], datetime]:
    """A fixed `now` (tests, replays) or the real time, read afresh at each step."""
    if now is None:
        return utcnow
    return lambda: now


def deliver_claimed(
    claim: Claim,
    now: datetime | None = None,
    settings: DeliverySettings | None = None,
    report: DeliveryReport | None = None,
    courier: _Courier | None = None,
) -> DeliveryReport:
    """Send the rows of one claim, skipping any that another worker has taken over since."""
    settings = _settings(settings)
    report = report if report is not None else DeliveryReport()
    clock = _clock(now)
    own_courier = courier is None and settings.smtp is not None
    if own_courier and settings.smtp is not None:
        courier = _Courier(settings.smtp)
    try:
        for row_id in claim.ids:
            _deliver_one(row_id, claim.token, clock, settings, courier, report)
    finally:
        if own_courier and courier is not None:
            courier.close()
    return report


def deliver_due(
    now: datetime | None = None, limit: int = 50, settings: DeliverySettings | None = None
) -> DeliveryReport:
    """Send up to `limit` due messages, claiming a few at a time. Safe to run in several
    processes at once."""
    settings = _settings(settings)
    clock = _clock(now)
    report = DeliveryReport()
    courier = _Courier(settings.smtp) if settings.smtp is not None else None
    try:
        while report.handled < limit:
            # Once the server could not be reached, the rest waits for a later round: a silent
            # server costs one MAIL_TIMEOUT per round, not one per message.
            if courier is not None and courier.unreachable is not None:
                break
            claim = claim_due(clock(), min(settings.claim_batch, limit - report.handled), settings)
            if not claim.ids:
                break
            deliver_claimed(claim, now, settings, report, courier)
    finally:
        if courier is not None:
            courier.close()
    return report


def work(
    settings: DeliverySettings | None = None,
    poll_seconds: float | None = None,
    max_loops: int | None = None,
) -> None:
    """Deliver forever (or `max_loops` times), sleeping between empty rounds."""
    settings = _settings(settings)
    poll = float(poll_seconds if poll_seconds is not None else settings.poll_seconds)
    stopping = threading.Event()
    previous = None
    if threading.current_thread() is threading.main_thread():
        # systemd (and a deploy) stops a worker with SIGTERM: finish the round being delivered,
        # so no message is cut off mid-send and left "outcome unknown", then leave.
        previous = signal.signal(signal.SIGTERM, lambda signum, frame: stopping.set())
    try:
        _work_until(stopping, settings, poll, max_loops)
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


def _work_until(
    stopping: threading.Event, settings: DeliverySettings, poll: float, max_loops: int | None
) -> None:
    loops = 0
    while (max_loops is None or loops < max_loops) and not stopping.is_set():
        loops += 1
        try:
            report = deliver_due(settings=settings)
        except Exception:  # a database hiccup must not end the worker
            log.exception("outbox round failed; trying again shortly")
            db.session.rollback()
            report = DeliveryReport()
        if report.handled:
            log.info("outbox: %s", report)
        else:
            stopping.wait(poll)

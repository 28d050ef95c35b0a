"""The outbox: emails are rows written in the caller's transaction and sent later, never in a
web request. Delivery retries with exponential backoff and jitter, keeps one Message-ID for
every attempt, and gives up at once on a permanent (5xx) refusal.
"""

from __future__ import annotations

import base64
import json
import logging
import random
import smtplib
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.utils import make_msgid

from flask import current_app
from sqlalchemy import or_, select, update

from .emails import MailDraft
from .extensions import db
from .mailer import build_message, capture_to_file, open_connection, smtp_configured
from .models import OutboxMessage, OutboxStatus, utcnow

log = logging.getLogger(__name__)

# A claimed row is left alone by other workers for this long; a worker that died mid-send
# releases its rows when the lease runs out. Far longer than one SMTP exchange can take.
LEASE = timedelta(minutes=5)


def _one_line(value: str) -> str:
    return " ".join(value.split())


def enqueue(
    draft: MailDraft,
    *,
    lead_id: int | None = None,
    session_id: int | None = None,
    due_at: datetime | None = None,
    now: datetime | None = None,
) -> OutboxMessage:
    """Add the draft to the current transaction; it is sent only if the transaction commits."""
    now = now or utcnow()
    sender = current_app.config["MAIL_DEFAULT_SENDER"]
    domain = sender.rsplit("@", 1)[-1].strip(">").strip() or "localhost"
    row = OutboxMessage(
        created_at=now,
        due_at=due_at or now,
        kind=draft.kind,
        lead_id=lead_id,
        session_id=session_id,
        message_id=make_msgid(domain=domain),
        sender=sender,
        recipients_json=json.dumps(draft.to),
        # Nothing typed by a leader reaches a header unflattened.
        subject=_one_line(draft.subject)[:300],
        body_text=draft.text,
        body_html=draft.html,
        calendar=draft.calendar,
        calendar_method=draft.calendar_method,
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
    )
    db.session.add(row)
    return row


def cancel_pending(
    *,
    lead_id: int | None = None,
    session_id: int | None = None,
    kinds: tuple[str, ...] | None = None,
) -> int:
    """Cancel queued mail for a lead or session (a withdrawal, a moved or cancelled session)."""
    stmt = update(OutboxMessage).where(OutboxMessage.status == OutboxStatus.PENDING)
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


def retry_failed(ids: list[int] | None = None, now: datetime | None = None) -> int:
    """Put failed messages back in the queue (all of them, or those ids), due now.

    For after the operator has fixed the cause (a mailbox that was full, a bad address mended
    in the database). Each keeps its Message-ID, so a copy that did arrive is recognised.
    """
    stmt = update(OutboxMessage).where(OutboxMessage.status == OutboxStatus.FAILED)
    if ids is not None:
        stmt = stmt.where(OutboxMessage.id.in_(ids))
    result = db.session.execute(
        stmt.values(
            status=OutboxStatus.PENDING, due_at=now or utcnow(), attempts=0, lease_until=None
        ),
        execution_options={"synchronize_session": False},
    )
    return int(getattr(result, "rowcount", 0) or 0)


def backoff_delay(attempts: int, rng: random.Random | None = None) -> float:
    """Seconds to wait after the n-th failed attempt: exponential, capped, with full jitter."""
    base = float(current_app.config["OUTBOX_BACKOFF_BASE_SECONDS"])
    cap = float(current_app.config["OUTBOX_BACKOFF_CAP_SECONDS"])
    ceiling = min(cap, base * (2 ** max(0, attempts - 1)))
    return (rng or random).uniform(ceiling / 2, ceiling)


@dataclass
class DeliveryReport:
    sent: list[int] = field(default_factory=list)
    retrying: list[int] = field(default_factory=list)
    failed: list[int] = field(default_factory=list)

    def __str__(self) -> str:
        return f"sent {len(self.sent)}, retrying {len(self.retrying)}, failed {len(self.failed)}"


def _claim_due(now: datetime, limit: int) -> list[int]:
    """Mark up to `limit` due rows as ours for a lease, in a short transaction of its own."""
    due = or_(
        (OutboxMessage.status == OutboxStatus.PENDING) & (OutboxMessage.due_at <= now),
        # A worker that died mid-send: its lease has run out.
        (OutboxMessage.status == OutboxStatus.SENDING) & (OutboxMessage.lease_until <= now),
    )
    query = select(OutboxMessage.id).where(due).order_by(OutboxMessage.due_at).limit(limit)
    if db.engine.dialect.name == "postgresql":
        # Several workers: each takes rows no other worker holds, without waiting.
        query = query.with_for_update(skip_locked=True)
    ids = list(db.session.scalars(query))
    if ids:
        db.session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id.in_(ids))
            .values(status=OutboxStatus.SENDING, lease_until=now + LEASE),
            execution_options={"synchronize_session": False},
        )
    db.session.commit()
    return ids


def _is_permanent(error: Exception) -> bool:
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _ in error.recipients.values()]
        return bool(codes) and all(500 <= code < 600 for code in codes)
    if isinstance(error, smtplib.SMTPResponseException):
        return 500 <= error.smtp_code < 600
    return False


def _record_failure(
    row: OutboxMessage,
    error: Exception,
    now: datetime,
    report: DeliveryReport,
    *,
    permanent: bool | None = None,
) -> None:
    """`permanent` overrides what the error says: None means ask `_is_permanent`."""
    row.attempts += 1
    row.last_error = f"{type(error).__name__}: {error}"[:2000]
    row.lease_until = None
    if permanent is None:
        permanent = _is_permanent(error)
    if permanent or row.attempts >= int(current_app.config["OUTBOX_MAX_ATTEMPTS"]):
        row.status = OutboxStatus.FAILED
        report.failed.append(row.id)
        log.error("outbox %s (%s) failed for good: %s", row.id, row.kind, row.last_error)
    else:
        row.status = OutboxStatus.PENDING
        row.due_at = now + timedelta(seconds=backoff_delay(row.attempts))
        report.retrying.append(row.id)
        log.warning(
            "outbox %s (%s) will retry at %s: %s",
            row.id,
            row.kind,
            row.due_at.isoformat(),
            row.last_error,
        )


def deliver_due(now: datetime | None = None, limit: int = 50) -> DeliveryReport:
    """Send what is due once. Safe to run in several processes at the same time."""
    now = now or utcnow()
    report = DeliveryReport()
    ids = _claim_due(now, limit)
    if not ids:
        return report

    connection = None
    # Once the server could not be reached (refused, timed out, a 4xx/5xx greeting or login),
    # the rest of this round is put back for later without trying: a silent server then costs
    # one MAIL_TIMEOUT per round, not one per message. Such failures are about the server, not
    # the message, so they are always retried, even with a 5xx code (say, a bad password).
    unreachable: Exception | None = None
    try:
        for row_id in ids:
            row = db.session.get(OutboxMessage, row_id)
            if row is None or row.status != OutboxStatus.SENDING:
                continue
            try:
                message = build_message(row)
                if smtp_configured():
                    if unreachable is not None:
                        _record_failure(row, unreachable, now, report, permanent=False)
                        db.session.commit()
                        continue
                    if connection is None:
                        try:
                            connection = open_connection()
                            connection.__enter__()
                        except (smtplib.SMTPException, OSError) as error:
                            connection = None
                            unreachable = error
                            _record_failure(row, error, now, report, permanent=False)
                            db.session.commit()
                            continue
                    connection.send(message)
                else:
                    path = capture_to_file(row, message)
                    log.info(
                        "mail captured (no MAIL_SERVER): %s to %s -> %s",
                        row.subject,
                        ", ".join(row.recipients),
                        path,
                    )
            except (smtplib.SMTPException, OSError) as error:
                _record_failure(row, error, now, report)
                refused_this_one = isinstance(error, smtplib.SMTPRecipientsRefused) or (
                    isinstance(error, smtplib.SMTPResponseException) and error.smtp_code != 421
                )
                if not refused_this_one:
                    # The connection itself is gone (421 closes it too): open a new one.
                    _close_quietly(connection)
                    connection = None
            except Exception as error:
                # A message that cannot be built or is refused before sending (Flask-Mail's
                # BadHeaderError, say) will not get better by retrying; it must not stop the
                # round either, or it would block every message behind it on each run.
                log.exception("outbox %s (%s) cannot be sent", row.id, row.kind)
                _record_failure(row, error, now, report, permanent=True)
            else:
                row.status = OutboxStatus.SENT
                row.sent_at = utcnow()
                row.attempts += 1
                row.lease_until = None
                report.sent.append(row.id)
            # Each row's outcome is its own short transaction: a crash later loses nothing.
            db.session.commit()
    finally:
        _close_quietly(connection)
    return report


def _close_quietly(connection: object | None) -> None:
    if connection is None:
        return
    try:
        connection.__exit__(None, None, None)  # type: ignore[attr-defined]
    except (smtplib.SMTPException, OSError):
        pass


def work(poll_seconds: float | None = None, max_loops: int | None = None) -> None:
    """Deliver forever (or `max_loops` times), sleeping between empty rounds."""
    poll = float(
        poll_seconds if poll_seconds is not None else current_app.config["OUTBOX_POLL_SECONDS"]
    )
    loops = 0
    while max_loops is None or loops < max_loops:
        loops += 1
        try:
            report = deliver_due()
        except Exception:  # a database hiccup must not end the worker
            log.exception("outbox round failed; trying again shortly")
            db.session.rollback()
            report = DeliveryReport()
        if report.sent or report.retrying or report.failed:
            log.info("outbox: %s", report)
        else:
            time.sleep(poll)

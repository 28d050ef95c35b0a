"""Turning a stored outbox row into a real email and handing it to SMTP (or a file in dev)."""

from __future__ import annotations

import base64
import json
import re
import smtplib
import time
from collections.abc import Mapping
from dataclasses import dataclass
from email.mime.base import MIMEBase
from pathlib import Path
from typing import Any

from flask_mail import BadHeaderError, Message, sanitize_address

from .extensions import mail
from .models import OutboxMessage


class InviteMessage(Message):
    """A Flask-Mail message whose text/calendar alternative carries the iMIP `method` parameter.

    Flask-Mail builds `text/calendar; charset="utf-8"` with no `method`; Outlook and Gmail
    only treat the part as an invitation (with Accept/Decline) when `method` is present
    and equal to the body's METHOD (RFC 6047 section 2.4).
    """

    calendar_method: str | None = None

    def _message(self) -> MIMEBase:
        msg = super()._message()
        if self.subject:
            # Flask-Mail pre-encodes a non-ASCII subject with the legacy email.header API, which
            # can fold inside a word: clients then show "Compa ssionate". Storing the plain text
            # lets the SMTP policy encode and fold it correctly (RFC 2047).
            msg.replace_header("Subject", self.subject)
        if self.calendar_method:
            # One spelling for the inline part and the invite.ics attachment alike, as RFC 6047
            # writes it (set_param would give `charset="utf-8"; method="REQUEST"`).
            content_type = f"text/calendar; method={self.calendar_method}; charset=utf-8"
            for part in msg.walk():
                if part.get_content_type() == "text/calendar":
                    part.replace_header("Content-Type", content_type)
        return msg


@dataclass(frozen=True)
class SMTPSettings:
    """Where and how to hand mail over; built from the MAIL_* settings."""

    server: str
    port: int = 25
    use_tls: bool = False
    use_ssl: bool = False
    username: str | None = None
    password: str | None = None
    # Connecting and every command but one: a silent server must not hang a worker.
    timeout: float = 10.0
    # The reply to the end of DATA: the server may check the whole message first, and RFC 5321
    # section 4.5.3.2 gives it 10 minutes. Giving up sooner is how slow servers got duplicates.
    data_timeout: float = 600.0

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> SMTPSettings | None:
        """None when no MAIL_SERVER is set (development: mail is written to files)."""
        if not config.get("MAIL_SERVER"):
            return None
        return cls(
            server=str(config["MAIL_SERVER"]),
            port=int(config["MAIL_PORT"]),
            use_tls=bool(config["MAIL_USE_TLS"]),
            use_ssl=bool(config["MAIL_USE_SSL"]),
            username=config.get("MAIL_USERNAME"),
            password=config.get("MAIL_PASSWORD"),
            timeout=float(config["MAIL_TIMEOUT"]),
            data_timeout=float(config["MAIL_DATA_TIMEOUT"]),
        )


class OutcomeUnknown(Exception):
    """The whole message went to the server (DATA ended with its final ".") but no reply came:
    the connection broke or timed out. The server may have taken it, so it may arrive."""


class SMTPSession:
    """One SMTP connection, driving MAIL, RCPT and DATA itself (not smtplib's sendmail) so that
    a failure is known to be before the message was complete (safe to send again) or after
    (`OutcomeUnknown`)."""

    def __init__(self, settings: SMTPSettings) -> None:
        self.settings = settings
        self.host: smtplib.SMTP | None = None

    def open(self) -> None:
        settings = self.settings
        host: smtplib.SMTP
        if settings.use_ssl:
            host = smtplib.SMTP_SSL(settings.server, settings.port, timeout=settings.timeout)
        else:
            host = smtplib.SMTP(settings.server, settings.port, timeout=settings.timeout)
        try:
            if settings.use_tls:
                host.starttls()
            if settings.username and settings.password:
                host.login(settings.username, settings.password)
        except BaseException:
            host.close()
            raise
        self.host = host

    @property
    def usable(self) -> bool:
        return self.host is not None and self.host.sock is not None

    def close(self) -> None:
        host, self.host = self.host, None
        if host is None:
            return
        try:
            if host.sock is not None:
                host.quit()
        except (smtplib.SMTPException, OSError):
            pass
        finally:
            host.close()

    def send(self, message: InviteMessage) -> None:
        """Hand one message over. Raises `OutcomeUnknown` if the reply to its end was lost; any
        other error means the server did not take it (the connection may be gone: see `usable`).
        """
        if not message.send_to:
            raise ValueError("the message has no recipients")
        if message.has_bad_headers():
            raise BadHeaderError
        if message.date is None:
            message.date = time.time()
        data = message.as_bytes()
        sender = sanitize_address(message.sender)
        recipients = [sanitize_address(address) for address in message.send_to]
        host = self.host
        if host is None:
            raise smtplib.SMTPServerDisconnected("not connected")

        host.ehlo_or_helo_if_needed()
        options = list(message.mail_options)
        if host.does_esmtp and host.has_extn("size"):
            options.append(f"size={len(data)}")
        code, reply = host.mail(sender, options)
        if code != 250:
            self._after_refusal(code)
            raise smtplib.SMTPSenderRefused(code, reply, sender)
        refused: dict[str, tuple[int, bytes]] = {}
        for recipient in recipients:
            code, reply = host.rcpt(recipient, list(message.rcpt_options))
            if code not in (250, 251):
                refused[recipient] = (code, reply)
                if code == 421:
                    self._after_refusal(code)
                    raise smtplib.SMTPRecipientsRefused(refused)
        if len(refused) == len(recipients):
            self._after_refusal(0)
            raise smtplib.SMTPRecipientsRefused(refused)
        # Some recipients refused and some not: the message goes to those who were accepted,
        # as smtplib's sendmail does.
        self._data(host, data)

    def _data(self, host: smtplib.SMTP, data: bytes) -> None:
        code, reply = host.docmd("DATA")
        if code != 354:
            self._after_refusal(code)
            raise smtplib.SMTPDataError(code, reply)
        payload = re.sub(rb"(?m)^\.", b"..", data)  # dot-stuffing (RFC 5321 4.5.2)
        if not payload.endswith(b"\r\n"):
            payload += b"\r\n"
        # If this fails the server never saw the final "." and must discard what it has.
        host.send(payload + b".\r\n")
        # From here on the server has the whole message.
        if host.sock is not None:
            host.sock.settimeout(self.settings.data_timeout)
        try:
            code, reply = host.getreply()
        except (smtplib.SMTPServerDisconnected, OSError) as error:
            host.close()
            raise OutcomeUnknown(
                f"no reply after the message was sent ({type(error).__name__}: {error})"
            ) from error
        finally:
            if host.sock is not None:
                host.sock.settimeout(self.settings.timeout)
        if code != 250:
            self._after_refusal(code)
            raise smtplib.SMTPDataError(code, reply)

    def _after_refusal(self, code: int) -> None:
        """Leave the connection ready for the next message, or closed after a 421."""
        if self.host is None:
            return
        if code == 421:
            self.host.close()
            return
        try:
            self.host.rset()
        except (smtplib.SMTPException, OSError):
            self.host.close()


def build_message(row: OutboxMessage) -> InviteMessage:
    alts: dict[str, str] = {}
    if row.body_html:
        alts["html"] = row.body_html
    if row.calendar:
        # Last alternative: Gmail updates events in place only when the calendar part is last.
        alts["calendar"] = row.calendar
    message = InviteMessage(
        subject=row.subject,
        sender=row.sender,
        recipients=list[str | tuple[str, str]](row.recipients),
        body=row.body_text,
        reply_to=row.reply_to,
    )
    # Set after construction: Message.__init__ applies its `html=None` default through a setter
    # that pops "html" from `alts`, which silently dropped every HTML part.
    message.alts = alts
    message.msgId = row.message_id
    message.calendar_method = row.calendar_method
    for item in json.loads(row.attachments_json or "[]"):
        message.attach(
            filename=item["filename"],
            content_type=item["content_type"],
            data=base64.b64decode(item["data_b64"]),
        )
    return message


def capture_to_file(row: OutboxMessage, message: InviteMessage, folder: Path) -> Path:
    """Development mode: write the email where a person can open it."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{row.id:06d}-{row.kind}.eml"
    path.write_bytes(message.as_bytes())
    return path


__all__ = [
    "InviteMessage",
    "OutcomeUnknown",
    "SMTPSession",
    "SMTPSettings",
    "build_message",
    "capture_to_file",
    "mail",
]

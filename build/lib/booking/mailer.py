"""Turning a stored outbox row into a real email and handing it to SMTP (or a file in dev)."""

from __future__ import annotations

import base64
import json
import smtplib
from email.mime.base import MIMEBase
from pathlib import Path

from flask import current_app
from flask_mail import Connection, Message

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


class TimeoutConnection(Connection):
    """Flask-Mail's connection, with a socket timeout so a silent server cannot hang a worker."""

    def configure_host(self) -> smtplib.SMTP | smtplib.SMTP_SSL:
        timeout = float(current_app.config["MAIL_TIMEOUT"])
        host: smtplib.SMTP | smtplib.SMTP_SSL
        if self.mail.use_ssl:
            host = smtplib.SMTP_SSL(self.mail.server, self.mail.port, timeout=timeout)
        else:
            host = smtplib.SMTP(self.mail.server, self.mail.port, timeout=timeout)
        if self.mail.use_tls:
            host.starttls()
        if self.mail.username and self.mail.password:
            host.login(self.mail.username, self.mail.password)
        return host


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


def smtp_configured() -> bool:
    return bool(current_app.config.get("MAIL_SERVER"))


def open_connection() -> TimeoutConnection:
    state = current_app.extensions["mail"]
    return TimeoutConnection(state)


def capture_to_file(row: OutboxMessage, message: InviteMessage) -> Path:
    """Development mode: write the email where a person can open it."""
    folder = Path(current_app.config["MAIL_CAPTURE_DIR"])
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{row.id:06d}-{row.kind}.eml"
    path.write_bytes(message.as_bytes())
    return path


__all__ = ["InviteMessage", "build_message", "capture_to_file", "mail", "open_connection"]

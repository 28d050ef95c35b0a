"""A real SMTP server on loopback (aiosmtpd) that records what it received.

`responses` scripts the reply to each DATA command in turn (e.g. ["451 4.3.0 try later"]);
once it runs out every message is accepted. `SilentServer` accepts connections and never answers.

A slow or broken server, for the outcome of a send: `data_reply_delay` makes the server take
that many seconds to answer the end of DATA (it has the message by then, as a real server that
checks it first), and `drop_after_data` makes it close the connection without answering, after
it has the message, that many times.
"""

from __future__ import annotations

import asyncio
import socket
import threading
from dataclasses import dataclass
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    data: bytes

    @property
    def message(self) -> EmailMessage:
        return message_from_bytes(self.data, policy=policy.default)  # type: ignore[return-value]


class _Handler:
    def __init__(self, server: SMTPTestServer) -> None:
        self.server = server

    async def handle_DATA(self, smtp: Any, session: Any, envelope: Any) -> str:
        with self.server.lock:
            if self.server.responses:
                return self.server.responses.pop(0)
            self.server.received.append(
                Received(envelope.mail_from, list(envelope.rcpt_tos), bytes(envelope.content))
            )
            drop = self.server.drop_after_data > 0
            if drop:
                self.server.drop_after_data -= 1
            delay = self.server.data_reply_delay
        if drop:
            # The message is here; the answer never leaves.
            smtp.transport.abort()
            return "250 OK"
        if delay:
            await asyncio.sleep(delay)
        return "250 OK"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class SMTPTestServer:
    def __init__(self) -> None:
        self.port = free_port()
        self.received: list[Received] = []
        self.responses: list[str] = []
        self.data_reply_delay = 0.0
        self.drop_after_data = 0
        self.lock = threading.Lock()
        self.controller: Controller | None = None

    def start(self) -> None:
        # ready_timeout: aiosmtpd's 5-second default is not enough on a loaded machine.
        self.controller = Controller(
            _Handler(self), hostname="127.0.0.1", port=self.port, ready_timeout=30.0
        )
        self.controller.start()

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None

    def config(self) -> dict[str, Any]:
        return {"MAIL_SERVER": "127.0.0.1", "MAIL_PORT": self.port}

    def message_ids(self) -> list[str]:
        """The Message-ID of each message received, in order (a copy appears twice)."""
        with self.lock:
            return [str(r.message["Message-ID"]) for r in self.received]

    def messages_to(self, address: str) -> list[EmailMessage]:
        return [
            r.message for r in self.received if address.lower() in [a.lower() for a in r.rcpt_tos]
        ]


class SilentServer:
    """Accepts TCP connections and never says a word: a hung mail server."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(5)
        self.port = int(self.sock.getsockname()[1])

    def close(self) -> None:
        self.sock.close()

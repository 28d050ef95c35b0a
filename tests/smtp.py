"""A real SMTP server on loopback (aiosmtpd) that records what it received.

`responses` scripts the reply to each DATA command in turn (e.g. ["451 4.3.0 try later"]);
once it runs out every message is accepted. `silent=True` accepts connections and never answers.
"""

from __future__ import annotations

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

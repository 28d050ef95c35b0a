"""`invites ingest --imap` against a real IMAP server on loopback (pymap, in-memory backend)."""

from __future__ import annotations

import imaplib
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from booking.extensions import db
from booking.models import CoachingSession, PartStat

from .invite_helpers import make_session
from .smtp import free_port
from .test_replies import (
    LEADER,
    apple_reply,
    calendar_message,
    google_reply,
    outlook_reply,
    refreshed,
    reply_ics,
)

PYMAP = Path(sys.executable).with_name("pymap")
USER, PASSWORD = "demouser", "demopass"
QUESTION = b"From: someone@nhs.example\r\nSubject: a question\r\n\r\nCan we talk first?\r\n"


@pytest.fixture
def booked(app_ctx) -> CoachingSession:
    made = make_session()
    db.session.commit()
    return made


@pytest.fixture(scope="module")
def imap_server(tmp_path_factory) -> Iterator[int]:
    """One pymap for the module (each test compares with what the mailbox held before it)."""
    tmp_path = tmp_path_factory.mktemp("pymap")
    if not PYMAP.exists():
        pytest.skip(f"pymap not installed next to {sys.executable}")
    port = free_port()
    log = (tmp_path / "pymap.log").open("w")
    process = subprocess.Popen(
        [
            str(PYMAP),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--no-tls",
            "--no-service",
            "managesieve",
            "--no-service",
            "admin",
            "dict",
            "--demo-data",
            "--demo-user",
            USER,
            "--demo-password",
            PASSWORD,
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                imaplib.IMAP4("127.0.0.1", port, timeout=1).logout()
                break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    pytest.fail("pymap did not start:\n" + (tmp_path / "pymap.log").read_text())
                time.sleep(0.1)
        yield port
    finally:
        process.terminate()
        process.wait(timeout=10)
        log.close()


def _mailbox(port: int) -> imaplib.IMAP4:
    connection = imaplib.IMAP4("127.0.0.1", port, timeout=30)
    connection.login(USER, PASSWORD)
    connection.select("INBOX")
    return connection


def _append(port: int, *messages: bytes) -> None:
    connection = _mailbox(port)
    for raw in messages:
        status, _ = connection.append("INBOX", None, None, raw)
        assert status == "OK"
    connection.logout()


def _unseen(port: int) -> set[bytes]:
    connection = _mailbox(port)
    _, data = connection.uid("SEARCH", "UNSEEN")
    connection.logout()
    return set(data[0].split()) if data and data[0] else set()


def _configure(app, port: int) -> None:
    app.config.update(
        IMAP_HOST="127.0.0.1",
        IMAP_PORT=port,
        IMAP_SSL=False,
        IMAP_USERNAME=USER,
        IMAP_PASSWORD=PASSWORD,
        IMAP_FOLDER="INBOX",
    )


def test_replies_in_the_mailbox_are_applied_and_marked_seen(app_ctx, booked, imap_server):
    _configure(app_ctx, imap_server)
    before = _unseen(imap_server)  # the demo mailbox's own unread mail
    _append(
        imap_server,
        outlook_reply(booked.uid, "Sian.OBriain@NHS.Example"),
        QUESTION,
        apple_reply(booked.uid, "kwame@coaching.example", "ACCEPTED"),
    )
    added = _unseen(imap_server) - before
    assert len(added) == 3

    result = app_ctx.test_cli_runner().invoke(args=["invites", "ingest", "--imap"])
    assert result.exit_code == 0, result.output
    assert refreshed(booked).leader_partstat == PartStat.ACCEPTED
    assert booked.coach_partstat == PartStat.ACCEPTED

    still_unread = _unseen(imap_server)
    # The two replies are seen now; the person's question and the older mail stay unread.
    assert len(added & still_unread) == 1
    assert before <= still_unread

    # Seen replies are not read again.
    again = app_ctx.test_cli_runner().invoke(args=["invites", "ingest", "--imap"])
    assert again.exit_code == 0, again.output
    assert _unseen(imap_server) == still_unread


def test_a_wrong_imap_password_is_a_clear_error(app_ctx, booked, imap_server):
    _configure(app_ctx, imap_server)
    app_ctx.config["IMAP_PASSWORD"] = "not the password"
    result = app_ctx.test_cli_runner().invoke(args=["invites", "ingest", "--imap"])
    assert result.exit_code != 0
    assert "the IMAP server refused" in result.output


class RecordingRelay:
    """A TCP relay on loopback between the IMAP client and the server that keeps every byte
    each side sent: what was asked for, and what crossed the wire."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.from_client = bytearray()
        self.from_server = bytearray()
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []
        self._start(self._accept)

    def _start(self, target, *args) -> None:
        thread = threading.Thread(target=target, args=args, daemon=True)
        self._threads.append(thread)
        thread.start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return  # closed
            server = socket.create_connection(("127.0.0.1", self.target_port), timeout=30)
            self._start(self._pipe, client, server, self.from_client)
            self._start(self._pipe, server, client, self.from_server)

    def _pipe(self, source: socket.socket, sink: socket.socket, record: bytearray) -> None:
        try:
            while data := source.recv(65536):
                with self._lock:
                    record.extend(data)
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for end in (source, sink):
                try:
                    end.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                end.close()

    def close(self) -> None:
        # shutdown wakes the thread blocked in accept(); close alone leaves it waiting, and the
        # join below waited its full 30 s.
        try:
            self.listener.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.listener.close()
        for thread in self._threads:
            thread.join(timeout=30)


def _flags(port: int, uid: bytes) -> bytes:
    connection = _mailbox(port)
    _, data = connection.uid("FETCH", uid, "(FLAGS)")
    connection.logout()
    return b" ".join(item for item in data if isinstance(item, bytes))


def test_refused_messages_are_flagged_and_an_oversized_body_never_downloaded(
    app_ctx, booked, imap_server
):
    marker = b"OVERSIZED-BODY-MARKER"
    oversized = calendar_message(
        LEADER,
        reply_ics(booked.uid, [(LEADER, "DECLINED")]),
        padding=(marker + b"\r\n") * 2000,  # about 44 KB
    )
    before = _unseen(imap_server)
    _append(imap_server, oversized)
    (big_uid,) = _unseen(imap_server) - before
    _append(imap_server, google_reply(booked.uid, LEADER, sender="mallory@elsewhere.example"))
    (forged_uid,) = _unseen(imap_server) - before - {big_uid}
    _append(imap_server, apple_reply(booked.uid, "kwame@coaching.example", "ACCEPTED"))

    relay = RecordingRelay(imap_server)
    try:
        _configure(app_ctx, relay.port)
        app_ctx.config["REPLY_MAX_BYTES"] = 16 * 1024
        runner = app_ctx.test_cli_runner()
        first = runner.invoke(args=["invites", "ingest", "--imap"])
        assert first.exit_code == 0, first.output
        assert "applied 1, sender-mismatch 1, too-large 1" in first.output
        assert refreshed(booked).leader_partstat == PartStat.NEEDS_ACTION
        assert booked.coach_partstat == PartStat.ACCEPTED

        # Its size was asked; its body was never asked for and never crossed the wire.
        asked = bytes(relay.from_client)
        assert b"RFC822.SIZE" in asked
        assert b"FETCH " + big_uid + b" (BODY" not in asked
        assert marker not in bytes(relay.from_server)

        for uid in (big_uid, forged_uid):
            flags = _flags(imap_server, uid)
            assert b"\\Seen" in flags and b"\\Flagged" in flags, flags

        second = runner.invoke(args=["invites", "ingest", "--imap"])
        assert second.exit_code == 0, second.output
        assert "with calendar data" in second.output
        assert "too-large" not in second.output and "sender-mismatch" not in second.output
        assert marker not in bytes(relay.from_server)
    finally:
        relay.close()

"""`invites ingest --imap` against a real IMAP server on loopback (pymap, in-memory backend)."""

from __future__ import annotations

import imaplib
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from booking.extensions import db
from booking.models import CoachingSession, PartStat

from .invite_helpers import make_session
from .smtp import free_port
from .test_replies import apple_reply, outlook_reply, refreshed

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

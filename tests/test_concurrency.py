"""Real concurrency: gunicorn with two worker processes on the test database, and several outbox
workers at once against a real SMTP server."""

from __future__ import annotations

import http.client
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.parse
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from booking import outbox
from booking.extensions import db
from booking.models import (
    Dimension,
    FormReceipt,
    Lead,
    OutboxMessage,
    OutboxStatus,
    SessionFormat,
)
from booking.settings import current_settings
from booking.workflow import Registration, register_interest

from .conftest import USING_POSTGRES, count_rows, hidden_fields, valid_registration
from .smtp import free_port

ROOT = Path(__file__).resolve().parent.parent
GUNICORN = Path(sys.executable).with_name("gunicorn")


@pytest.fixture
def gunicorn_env() -> dict[str, str]:
    """Extra environment for the gunicorn server; a test parametrizes it to change settings."""
    return {}


@pytest.fixture
def gunicorn_server(
    database_url: str, tmp_path: Path, gunicorn_env: dict[str, str]
) -> Iterator[tuple[str, int]]:
    """The real app under gunicorn, two worker processes, on a free loopback port."""
    if not GUNICORN.exists():
        pytest.skip(f"gunicorn not installed next to {sys.executable}")
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "SECRET_KEY": "concurrency-test-secret",
        "APP_ENV": "development",
        "FORM_MIN_SECONDS": "0",
        "COACH_NOTIFY_EMAILS": "coaches@example.org",
        "MAIL_SERVER": "",
        "MAIL_CAPTURE_DIR": str(tmp_path / "mail"),
        "BASE_URL": f"http://127.0.0.1:{port}",
        # Limits are per process with the memory store; keep them out of the way here.
        "RATELIMIT_REGISTER_PER_ADDRESS": "1000 per hour",
        "RATELIMIT_REGISTER_PER_EMAIL": "1000 per hour",
        **gunicorn_env,
    }
    log = (tmp_path / "gunicorn.log").open("w")
    process = subprocess.Popen(
        [
            str(GUNICORN),
            "-w",
            "2",
            "-b",
            f"127.0.0.1:{port}",
            "--graceful-timeout",
            "2",
            "wsgi:app",
        ],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            try:
                connection.request("GET", "/healthz")
                if connection.getresponse().status == 200:
                    break
            except OSError:
                pass
            finally:
                connection.close()
            if process.poll() is not None or time.monotonic() > deadline:
                log.flush()
                pytest.fail("gunicorn did not start:\n" + (tmp_path / "gunicorn.log").read_text())
            time.sleep(0.1)
        yield "127.0.0.1", port
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()
    server_log = (tmp_path / "gunicorn.log").read_text()
    assert "Traceback" not in server_log, server_log


def get_form(host: str, port: int) -> tuple[str, dict[str, str]]:
    """GET the form as a browser would: (Cookie header, hidden fields)."""
    connection = http.client.HTTPConnection(host, port, timeout=30)
    connection.request("GET", "/")
    response = connection.getresponse()
    html = response.read().decode()
    cookies = [c.split(";", 1)[0] for c in response.headers.get_all("Set-Cookie") or []]
    connection.close()
    return "; ".join(cookies), hidden_fields(html)


def post_all_at_once(host: str, port: int, requests: list[tuple[str, bytes]]) -> list[int]:
    """POST each (cookie, body) from its own thread, released together."""
    barrier = threading.Barrier(len(requests))
    statuses: list[int] = [0] * len(requests)

    def send(index: int, cookie: str, body: bytes) -> None:
        connection = http.client.HTTPConnection(host, port, timeout=30)
        connection.connect()
        barrier.wait()
        connection.request(
            "POST",
            "/",
            body=body,
            headers={"Content-Type": "application/x-www-form-urlencoded", "Cookie": cookie},
        )
        statuses[index] = connection.getresponse().status
        connection.close()

    threads = [
        threading.Thread(target=send, args=(i, cookie, body))
        for i, (cookie, body) in enumerate(requests)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return statuses


@pytest.mark.slow
def test_concurrent_submissions_through_two_gunicorn_workers(gunicorn_server, make_app):
    """Ten identical POSTs at once make one lead; then ten different registrations at once are
    all kept. One server for both: starting gunicorn is most of the time of either."""
    host, port = gunicorn_server
    app = make_app()

    cookie, fields = get_form(host, port)
    body = urllib.parse.urlencode({**fields, **valid_registration()}, doseq=True).encode()
    statuses = post_all_at_once(host, port, [(cookie, body)] * 10)

    assert all(status in (200, 302, 303) for status in statuses), statuses
    assert count_rows(app, Lead) == 1
    assert count_rows(app, FormReceipt) == 1
    assert count_rows(app, OutboxMessage) == 2  # one acknowledgement, one coach notification

    requests = []
    for n in range(10):
        cookie, fields = get_form(host, port)
        data = {**fields, **valid_registration(email=f"leader{n}@nhs.example")}
        requests.append((cookie, urllib.parse.urlencode(data, doseq=True).encode()))
    statuses = post_all_at_once(host, port, requests)

    assert all(status in (200, 302, 303) for status in statuses), statuses
    with app.app_context():
        emails = sorted(db.session.scalars(select(Lead.email)))
    others = [f"leader{n}@nhs.example" for n in range(10)]
    assert emails == sorted([valid_registration()["email"], *others])
    assert count_rows(app, OutboxMessage) == 2 + 20


def register_leaders(app, count: int, now) -> None:
    """`count` different leaders register (each queues an acknowledgement and a coach notice)."""
    with app.app_context():
        for n in range(count):
            register_interest(
                Registration(
                    full_name=f"Leader {n}",
                    email=f"leader{n}@nhs.example",
                    organisation="Trust",
                    role="Manager",
                    preferred_format=SessionFormat.VIDEO,
                    dimensions=[Dimension.PRACTICAL],
                    consent=True,
                ),
                form_token=f"token-{n}",
                now=now,
                settings=current_settings(),
            )
        db.session.commit()


@pytest.mark.slow
@pytest.mark.postgres
@pytest.mark.skipif(
    not USING_POSTGRES,
    reason="several outbox workers at once is a PostgreSQL deployment "
    "(FOR UPDATE SKIP LOCKED); set TEST_DATABASE_URL to run it",
)
def test_several_outbox_workers_never_send_one_email_twice(make_app, smtp_server, now):
    app = make_app(**smtp_server.config(), COACH_NOTIFY_EMAILS=["coaches@example.org"])
    register_leaders(app, 30, now)
    with app.app_context():
        expected = set(db.session.scalars(select(OutboxMessage.message_id)))
    assert len(expected) == 60

    errors: list[BaseException] = []
    start = threading.Barrier(4)

    def worker() -> None:
        try:
            with app.app_context():
                start.wait()
                while True:
                    report = outbox.deliver_due(now=now, limit=3)
                    if not (report.sent or report.retrying or report.failed):
                        break
                db.session.remove()
        except BaseException as error:  # reported below, with the test's own assertion
            errors.append(error)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert not errors, errors
    per_message_id = Counter(r.message["Message-ID"] for r in smtp_server.received)
    assert set(per_message_id) == expected
    assert max(per_message_id.values()) == 1, per_message_id.most_common(3)
    with app.app_context():
        statuses = set(db.session.scalars(select(OutboxMessage.status)))
    assert statuses == {OutboxStatus.SENT}


@pytest.mark.slow
@pytest.mark.postgres
@pytest.mark.skipif(not USING_POSTGRES, reason="needs TEST_DATABASE_URL (PostgreSQL)")
def test_outbox_deliver_commands_in_parallel_processes(
    make_app, smtp_server, now, database_url, tmp_path
):
    """The operator's way: several `flask outbox deliver` processes at the same moment."""
    app = make_app(**smtp_server.config(), COACH_NOTIFY_EMAILS=["coaches@example.org"])
    register_leaders(app, 10, now)
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "MAIL_SERVER": "127.0.0.1",
        "MAIL_PORT": str(smtp_server.port),
        "SECRET_KEY": "x",
        "FLASK_APP": "wsgi",
    }
    flask = Path(sys.executable).with_name("flask")
    processes = [
        subprocess.Popen(
            [str(flask), "outbox", "deliver", "--limit", "4"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        for _ in range(3)
    ]
    outputs = [p.communicate(timeout=60)[0].decode() for p in processes]
    assert all(p.returncode == 0 for p in processes), outputs
    # Whatever is left (3 x 4 < 20) goes in one more run; nothing is sent twice.
    with app.app_context():
        outbox.deliver_due(now=now)
    per_message_id = Counter(r.message["Message-ID"] for r in smtp_server.received)
    assert len(per_message_id) == 20 and max(per_message_id.values()) == 1


def _redis_or_skip() -> None:
    import redis

    try:
        redis.Redis(host="127.0.0.1", port=6379, socket_connect_timeout=1).ping()
    except redis.exceptions.ConnectionError as error:
        pytest.skip(f"no Redis on 127.0.0.1:6379 ({error})")


@pytest.mark.parametrize(
    "gunicorn_env",
    [
        {
            "RATELIMIT_STORAGE_URI": "redis://127.0.0.1:6379/0",
            # A prefix of its own, so runs never see each other's counts.
            "RATELIMIT_KEY_PREFIX": f"booking-test-{os.getpid()}-{time.time_ns()}",
            "RATELIMIT_REGISTER_PER_ADDRESS": "2 per hour",
        }
    ],
)
def test_rate_limit_holds_across_two_workers_with_redis(gunicorn_server, gunicorn_env, app):
    """With the memory store each worker would count alone (up to 4 of these would pass)."""
    _redis_or_skip()
    host, port = gunicorn_server
    statuses = []
    for n in range(6):
        cookie, fields = get_form(host, port)
        fields.update(valid_registration(email=f"person{n}@nhs.example"))
        body = urllib.parse.urlencode(fields, doseq=True).encode()
        connection = http.client.HTTPConnection(host, port, timeout=30)
        connection.request(
            "POST",
            "/",
            body=body,
            headers={"Content-Type": "application/x-www-form-urlencoded", "Cookie": cookie},
        )
        statuses.append(connection.getresponse().status)
        connection.close()
    assert sorted(statuses) == [302, 302, 429, 429, 429, 429]
    assert count_rows(app, Lead) == 2


@pytest.mark.slow
def test_two_worker_processes_outlasting_their_lease_send_each_message_once(
    make_app, smtp_server, database_url, tmp_path
):
    """A slow server makes one worker's batch outlast its lease, so the other takes the rest
    over while the first still holds them in memory: the claim token keeps each message to
    one send (before it, both workers sent the overlap). Meaningful on SQLite too: there the
    write lock, not SKIP LOCKED, keeps two claims apart, and the token does the rest."""
    from booking.models import utcnow

    app = make_app(**smtp_server.config(), COACH_NOTIFY_EMAILS=["coaches@example.org"])
    # 24 messages: about 5 s of replies for one worker, five times its claim's lease (a busy
    # machine only stretches the batch further past the lease).
    smtp_server.data_reply_delay = 0.2
    env = {
        **os.environ,
        "PYTHONUNBUFFERED": "1",
        "DATABASE_URL": database_url,
        "MAIL_SERVER": "127.0.0.1",
        "MAIL_PORT": str(smtp_server.port),
        "MAIL_DATA_TIMEOUT": "30",
        "SECRET_KEY": "x",
        "FLASK_APP": "wsgi",
        "OUTBOX_LEASE_SECONDS": "1",
        # Whoever claims first takes the whole queue, so the batch surely outlasts the lease.
        "OUTBOX_CLAIM_BATCH": "50",
    }
    flask = Path(sys.executable).with_name("flask")
    logs = [tmp_path / f"worker{n}.log" for n in range(2)]
    files = [path.open("w") for path in logs]
    workers = [
        subprocess.Popen(
            [str(flask), "outbox", "work", "--poll", "0.2"],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        for log in files
    ]
    statuses: Counter[OutboxStatus] = Counter()
    try:
        # Both workers polling before there is anything to send.
        deadline = time.monotonic() + 60
        while not all("outbox worker started" in path.read_text() for path in logs):
            assert time.monotonic() < deadline, [path.read_text() for path in logs]
            assert all(w.poll() is None for w in workers), [p.read_text() for p in logs]
            time.sleep(0.1)
        register_leaders(app, 12, utcnow())
        with app.app_context():
            expected = set(db.session.scalars(select(OutboxMessage.message_id)))
            db.session.remove()
        assert len(expected) == 24

        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            with app.app_context():
                statuses = Counter(db.session.scalars(select(OutboxMessage.status)))
                db.session.remove()
            if statuses == Counter({OutboxStatus.SENT: 24}):
                break
            assert all(w.poll() is None for w in workers), [p.read_text() for p in logs]
            time.sleep(0.2)
    finally:
        # SIGTERM, as systemd stops a worker (it finishes the round it is sending, then leaves).
        # Not SIGINT: a test run started in the background (`make test &`, CI, a script) hands
        # its children SIGINT ignored, and then each worker sat out the 30 s below.
        for process in workers:
            process.send_signal(signal.SIGTERM)
        for process in workers:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        for log in files:
            log.close()
    output = "\n".join(path.read_text() for path in logs)
    assert statuses == Counter({OutboxStatus.SENT: 24}), (statuses, output)
    per_message_id = Counter(smtp_server.message_ids())
    assert set(per_message_id) == expected
    assert max(per_message_id.values()) == 1, (per_message_id.most_common(3), output)
    # The race really happened: a worker found rows it had claimed taken over, and left them.
    assert "taken over by another worker; left alone" in output, output
    assert "Traceback" not in output, output

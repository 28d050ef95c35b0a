"""Production, scaled out: nginx in front of two gunicorn instances on PostgreSQL and Redis, two
outbox workers, a real SMTP server, and a few hundred registrations from many client addresses.

It uses the files an operator copies: deploy/nginx/booking.conf (with its example addresses
swapped for free loopback ports and a self-signed certificate) and deploy/gunicorn.conf.py.

While the registrations come in:
1. a rolling deploy: the instances and workers start on the release *before* the newest
   migration (from git history), the newest migration is applied under load, the workers move to
   the current code, then each instance is reloaded onto it in turn — no request may fail;
2. a crash: one instance is killed outright (SIGKILL) and started again. Only requests already
   handed to it can fail (502), so at most one per client thread.
Then: every registration that reached its confirmation page is stored exactly once, every
email is delivered exactly once, the per-address limit held across both instances (Redis), and
the workers stop cleanly on SIGTERM.

Runs in the PostgreSQL run only (`make test-postgres`), as it needs PostgreSQL anyway.
"""

from __future__ import annotations

import http.client
import itertools
import os
import shutil
import signal
import ssl
import subprocess
import sys
import tarfile
import threading
import time
import urllib.parse
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from .conftest import (
    SERVER_TIMEOUT,
    TEST_DATABASE_URL,
    USING_POSTGRES,
    hidden_fields,
    valid_registration,
)
from .smtp import SMTPTestServer, free_port

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
CLIENT_THREADS = 6
PER_ADDRESS_LIMIT = 8

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not USING_POSTGRES, reason="runs in the PostgreSQL run (PostgreSQL, Redis and nginx)"
    ),
]


def _require(condition: bool, what: str) -> None:
    if not condition:
        if os.environ.get("REQUIRE_POSTGRES"):
            pytest.fail(f"the scale-out test needs {what}")
        pytest.skip(f"needs {what}")


def _redis_answers() -> bool:
    import redis

    try:
        return bool(redis.Redis(host="127.0.0.1", port=6379, socket_timeout=2).ping())
    except redis.RedisError:
        return False


# ----- the release before the newest migration ----------------------------------------------


def _previous_release(into: Path) -> Path | None:
    """The code as it was just before the newest migration was added, from git history."""
    from alembic.script import ScriptDirectory

    scripts = ScriptDirectory(str(ROOT / "migrations"))
    head = scripts.get_revision(scripts.get_current_head())
    assert head is not None
    newest = Path(head.path).relative_to(ROOT)
    try:
        added = subprocess.run(
            ["git", "log", "--diff-filter=A", "--format=%H", "-1", "--", str(newest)],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        archive = subprocess.run(
            ["git", "archive", f"{added}^", "booking", "templates", "migrations", "wsgi.py"],
            cwd=ROOT,
            capture_output=True,
            check=True,
        ).stdout
    except (OSError, subprocess.CalledProcessError):
        return None
    if not added:
        return None
    into.mkdir()
    archive_path = into / "release.tar"
    archive_path.write_bytes(archive)
    with tarfile.open(archive_path) as tar:
        tar.extractall(into, filter="data")
    return into


# ----- processes ----------------------------------------------------------------------------


@dataclass
class Stack:
    tmp: Path
    env: dict[str, str]
    ports: tuple[int, int]
    nginx_port: int
    logs: list[Path] = field(default_factory=list)
    instances: dict[int, subprocess.Popen[bytes]] = field(default_factory=dict)
    workers: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def _spawn(self, name: str, args: list[str], code: Path) -> subprocess.Popen[bytes]:
        log = self.tmp / f"{name}-{len(self.logs)}.log"
        self.logs.append(log)
        with log.open("wb") as output:
            return subprocess.Popen(
                args,
                cwd=code,
                env={**self.env, "PYTHONPATH": str(code), "PYTHONUNBUFFERED": "1"},
                stdout=output,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: a kill takes its workers too
            )

    def tails(self) -> str:
        return "\n".join(
            f"--- {log.name}\n" + "\n".join(log.read_text(errors="replace").splitlines()[-15:])
            for log in self.logs
        )

    @property
    def release(self) -> Path:
        """What the web instances import, as an operator would lay it out: a symlink to the
        release being served, switched at a deploy (then each instance is reloaded)."""
        return self.tmp / "release"

    def switch_release(self, code: Path) -> None:
        staged = self.tmp / "release.new"
        staged.symlink_to(code)
        staged.replace(self.release)

    def start_instance(self, index: int) -> None:
        port = self.ports[index]
        log = self.tmp / f"web{index}-{len(self.logs)}.log"
        self.logs.append(log)
        with log.open("wb") as output:
            self.instances[index] = subprocess.Popen(
                [
                    str(BIN / "gunicorn"),
                    "-c",
                    str(ROOT / "deploy" / "gunicorn.conf.py"),
                    "--bind",
                    f"127.0.0.1:{port}",
                    "booking:create_app()",
                ],
                # Not inside the release: gunicorn puts its working directory first on the
                # import path, resolved, which would pin the release it started with.
                cwd=self.tmp,
                env={**self.env, "PYTHONPATH": str(self.release)},
                stdout=output,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: a kill takes its workers too
            )
        _wait_until(lambda: _status("127.0.0.1", port, "/healthz") == 200, f"instance {port}")

    def reload_instance(self, index: int) -> None:
        """`systemctl reload`: SIGHUP makes gunicorn start new workers (importing the release
        anew) and retire the old ones after their requests; its socket stays open throughout."""
        master = self.instances[index].pid
        before = _children(master)
        os.kill(master, signal.SIGHUP)
        _wait_until(
            lambda: (now := _children(master)) and not (now & before), f"instance {index} reload"
        )

    def stop_instance(self, index: int, sig: int = signal.SIGTERM) -> int:
        process = self.instances.pop(index)
        os.killpg(process.pid, sig)
        return process.wait(timeout=SERVER_TIMEOUT * 2)

    def start_worker(self, code: Path) -> None:
        """An outbox worker, once it is running (a loaded machine takes seconds to import)."""
        process = self._spawn(
            "outbox",
            [str(BIN / "flask"), "--app", "wsgi", "outbox", "work", "--poll", "0.5"],
            code,
        )
        log = self.logs[-1]
        _wait_until(lambda: "outbox worker started" in log.read_text(), "an outbox worker")
        self.workers.append(process)

    def start_workers(self, code: Path) -> None:
        for _ in range(2):
            self.start_worker(code)

    def stop_workers(self) -> list[int]:
        codes = []
        for process in self.workers:
            process.send_signal(signal.SIGTERM)
        for process in self.workers:
            codes.append(process.wait(timeout=SERVER_TIMEOUT * 2))
        self.workers.clear()
        return codes

    def replace_worker(self, code: Path) -> int:
        """SIGTERM the oldest worker (it finishes the round it is sending) and start another."""
        process = self.workers.pop(0)
        process.send_signal(signal.SIGTERM)
        exit_code = process.wait(timeout=SERVER_TIMEOUT * 2)
        self.start_worker(code)
        return exit_code

    def unsent(self) -> int:
        engine = create_engine(self.env["DATABASE_URL"])
        try:
            with engine.connect() as connection:
                return connection.execute(
                    text(
                        "SELECT count(*) FROM outbox_message "
                        "WHERE status IN ('pending', 'sending', 'unknown')"
                    )
                ).scalar_one()
        finally:
            engine.dispose()

    def wait_for_outbox(self) -> None:
        deadline = time.monotonic() + SERVER_TIMEOUT * 6
        while self.unsent():
            if time.monotonic() > deadline:
                pytest.fail("the outbox did not empty:\n" + self.tails())
            time.sleep(0.5)

    def flask(self, code: Path, *args: str) -> None:
        subprocess.run(
            [str(BIN / "flask"), "--app", "wsgi", *args],
            cwd=code,
            env={**self.env, "PYTHONPATH": str(code)},
            check=True,
            capture_output=True,
            timeout=SERVER_TIMEOUT * 4,
        )


def _children(pid: int) -> set[int]:
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    return {int(child) for child in children}


def _status(host: str, port: int, path: str) -> int:
    connection = http.client.HTTPConnection(host, port, timeout=5)
    try:
        connection.request("GET", path)
        return connection.getresponse().status
    except OSError:
        return 0
    finally:
        connection.close()


def _wait_until(condition, what: str, timeout: float = SERVER_TIMEOUT * 2) -> None:  # noqa: ANN001
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.1)


def _nginx_config(tmp: Path, ports: tuple[int, int], listen: int) -> Path:
    subprocess.run(
        [
            "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
            "-subj", "/CN=support.example.org",
            "-keyout", str(tmp / "key.pem"), "-out", str(tmp / "cert.pem"),
        ],
        check=True,
        capture_output=True,
    )  # fmt: skip
    site = (ROOT / "deploy" / "nginx" / "booking.conf").read_text()
    for example, real in {
        "127.0.0.1:8001": f"127.0.0.1:{ports[0]}",
        "127.0.0.1:8002": f"127.0.0.1:{ports[1]}",
        "listen 443 ssl http2;": f"listen 127.0.0.1:{listen} ssl http2;",
        "listen [::]:443 ssl http2;": "",
        "listen 80;": f"listen 127.0.0.1:{free_port()};",
        "listen [::]:80;": "",
        "/etc/letsencrypt/live/support.example.org/fullchain.pem": str(tmp / "cert.pem"),
        "/etc/letsencrypt/live/support.example.org/privkey.pem": str(tmp / "key.pem"),
        "/opt/booking/static/": str(ROOT / "booking" / "static") + "/",
    }.items():
        assert example in site, f"deploy/nginx/booking.conf no longer has {example!r}"
        site = site.replace(example, real)
    (tmp / "site.conf").write_text(site)
    main = tmp / "nginx.conf"
    main.write_text(
        f"""
pid {tmp}/nginx.pid;
error_log {tmp}/nginx-error.log warn;
worker_processes 1;
events {{ worker_connections 256; }}
http {{
    include /etc/nginx/mime.types;
    client_body_temp_path {tmp}/body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;
    include {tmp}/site.conf;
}}
"""
    )
    return main


# ----- a leader registering, from an address of their own ------------------------------------


@dataclass
class Tally:
    confirmed: list[str] = field(default_factory=list)
    statuses: Counter[int] = field(default_factory=Counter)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, status: int, email: str | None = None) -> None:
        with self.lock:
            self.statuses[status] += 1
            if email is not None:
                self.confirmed.append(email)

    @property
    def server_errors(self) -> int:
        with self.lock:
            return sum(n for status, n in self.statuses.items() if status >= 500 or status == 0)


TLS = ssl.create_default_context()
TLS.check_hostname = False
TLS.verify_mode = ssl.CERT_NONE


def register(port: int, source: str, email: str) -> int:
    """GET the form, POST it, follow the redirect to the confirmation page. The final status:
    200 only when the confirmation page was reached."""
    try:
        connection = http.client.HTTPSConnection(
            "127.0.0.1", port, timeout=SERVER_TIMEOUT * 2, source_address=(source, 0), context=TLS
        )
        connection.request("GET", "/", headers={"Host": "support.example.org"})
        response = connection.getresponse()
        form = response.read().decode()
        connection.close()
        if response.status != 200:
            return response.status
        cookie = "; ".join(c.split(";", 1)[0] for c in response.headers.get_all("Set-Cookie") or [])
        body = urllib.parse.urlencode(
            {**hidden_fields(form), **valid_registration(email=email)}, doseq=True
        ).encode()
        connection = http.client.HTTPSConnection(
            "127.0.0.1", port, timeout=SERVER_TIMEOUT * 2, source_address=(source, 0), context=TLS
        )
        connection.request(
            "POST",
            "/",
            body=body,
            headers={
                "Host": "support.example.org",
                "Cookie": cookie,
                "Content-Type": "application/x-www-form-urlencoded",
            },
        )
        response = connection.getresponse()
        response.read()
        connection.close()
        location = response.headers.get("Location", "")
        if response.status not in (302, 303) or not location.endswith("/thank-you"):
            return response.status
        cookie = "; ".join(
            [cookie, *(c.split(";", 1)[0] for c in response.headers.get_all("Set-Cookie") or [])]
        )
        connection = http.client.HTTPSConnection(
            "127.0.0.1", port, timeout=SERVER_TIMEOUT * 2, source_address=(source, 0), context=TLS
        )
        connection.request(
            "GET", "/thank-you", headers={"Host": "support.example.org", "Cookie": cookie}
        )
        response = connection.getresponse()
        page = response.read().decode()
        connection.close()
        if response.status == 200 and "Thank you" not in page:
            return 299  # a 200 that is not the confirmation page
        return response.status
    except OSError:
        return 0


class Load:
    """Client threads registering leaders until stopped, each from rotating client addresses."""

    def __init__(self, port: int, tally: Tally, counter: Iterator[int]) -> None:
        self.port = port
        self.tally = tally
        self.stopping = threading.Event()
        self.counter = counter
        self.threads = [threading.Thread(target=self._run) for _ in range(CLIENT_THREADS)]

    def _run(self) -> None:
        while not self.stopping.is_set():
            n = next(self.counter)
            source = f"127.0.{1 + n // 200}.{2 + n % 200}"
            email = f"leader{n}@trust{n % 7}.example"
            status = register(self.port, source, email)
            self.tally.record(status, email if status == 200 else None)

    def __enter__(self) -> Load:
        for thread in self.threads:
            thread.start()
        return self

    def wait_for(self, confirmed: int) -> None:
        _wait_until(
            lambda: len(self.tally.confirmed) >= confirmed,
            f"{confirmed} confirmed registrations",
            timeout=SERVER_TIMEOUT * 8,
        )

    def __exit__(self, *exc: object) -> None:
        self.stopping.set()
        for thread in self.threads:
            thread.join(timeout=SERVER_TIMEOUT * 4)


# ----- the test ----------------------------------------------------------------------------


@pytest.fixture
def scale_out_database() -> Iterator[str]:
    name = f"scaleout_{uuid.uuid4().hex[:8]}"
    admin = create_engine(TEST_DATABASE_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(TEST_DATABASE_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def test_two_instances_behind_nginx_lose_nothing(tmp_path: Path, scale_out_database: str) -> None:
    _require(Path(NGINX).exists(), "nginx (Debian package nginx-light)")
    _require(_redis_answers(), "Redis on 127.0.0.1:6379")
    _require(shutil.which("openssl") is not None, "openssl")

    smtp = SMTPTestServer()
    smtp.start()
    ports = (free_port(), free_port())
    nginx_port = free_port()
    stack = Stack(
        tmp=tmp_path,
        ports=ports,
        nginx_port=nginx_port,
        env={
            **os.environ,
            "APP_ENV": "development",
            "DATABASE_URL": scale_out_database,
            "SECRET_KEY": "scale-out-test-secret",
            "BASE_URL": "https://support.example.org",
            "TRUSTED_PROXY_HOPS": "1",
            "RATELIMIT_STORAGE_URI": "redis://127.0.0.1:6379",
            "RATELIMIT_KEY_PREFIX": f"scaleout-{uuid.uuid4().hex[:8]}",
            "RATELIMIT_REGISTER_PER_ADDRESS": f"{PER_ADDRESS_LIMIT} per hour",
            "FORM_MIN_SECONDS": "0",
            "COACH_NOTIFY_EMAILS": "coaches@example.org",
            "MAIL_SERVER": "127.0.0.1",
            "MAIL_PORT": str(smtp.port),
            "MAIL_CAPTURE_DIR": "",
            "WEB_CONCURRENCY": "2",
            "GUNICORN_GRACEFUL_TIMEOUT": "30",
        },
    )
    current = ROOT
    previous = _previous_release(tmp_path / "previous") or current
    nginx = None
    try:
        # The database as the previous release left it; that release serves and sends.
        if previous is not current:
            stack.flask(previous, "db", "upgrade")
        else:
            stack.flask(current, "db", "upgrade")
        stack.switch_release(previous)
        stack.start_instance(0)
        stack.start_instance(1)
        stack.start_workers(previous)
        config = _nginx_config(tmp_path, ports, nginx_port)
        nginx = subprocess.Popen([NGINX, "-c", str(config), "-g", "daemon off;"])
        _wait_until(
            lambda: register(nginx_port, "127.0.9.1", "warm-up@trust.example") == 200, "nginx"
        )

        tally = Tally()
        counter = itertools.count()
        with Load(nginx_port, tally, counter) as load:
            # 1. A rolling deploy under load: migrate, switch the release, reload each instance.
            # The workers move first (README: a worker of the new release sends what either
            # release queues; one of the old might not, e.g. mail it should compose itself).
            load.wait_for(30)
            stack.flask(current, "db", "upgrade")
            load.wait_for(40)
            stack.stop_workers()  # each finishes the message in hand
            stack.start_workers(current)
            load.wait_for(55)
            stack.switch_release(current)
            stack.reload_instance(0)
            load.wait_for(70)
            stack.reload_instance(1)
            load.wait_for(90)
        deploy_errors = tally.server_errors

        with Load(nginx_port, tally, counter) as load:
            # 2. A crash: the first instance is killed outright, then comes back; meanwhile an
            # outbox worker is stopped (SIGTERM) and replaced while mail is flowing.
            load.wait_for(110)
            stack.stop_instance(0, signal.SIGKILL)
            load.wait_for(140)
            replaced_worker_exit = stack.replace_worker(current)
            stack.start_instance(0)
            load.wait_for(200)
        crash_errors = tally.server_errors - deploy_errors

        # The per-address limit holds across both instances (the store is Redis).
        limited = [
            register(nginx_port, "127.0.200.7", f"same-desk{n}@trust.example")
            for n in range(PER_ADDRESS_LIMIT + 3)
        ]

        stack.wait_for_outbox()
        engine = create_engine(scale_out_database)
        with engine.connect() as connection:
            per_email = dict(
                connection.execute(text("SELECT email, count(*) FROM lead GROUP BY email")).all()
            )
            sent = connection.execute(
                text("SELECT count(*) FROM outbox_message WHERE status = 'sent'")
            ).scalar_one()
            statuses = dict(
                connection.execute(
                    text("SELECT status, count(*) FROM outbox_message GROUP BY status")
                ).all()
            )
        engine.dispose()
        worker_exits = stack.stop_workers()
    finally:
        if nginx is not None:
            nginx.terminate()
            nginx.wait(timeout=SERVER_TIMEOUT)
        for index in list(stack.instances):
            stack.stop_instance(index)
        for process in stack.workers:
            process.kill()
        smtp.stop()

    report = f"statuses {dict(tally.statuses)}; outbox {statuses}"
    # No request failed during the rolling deploy (migration applied under load included) ...
    assert deploy_errors == 0, report
    # ... and the crash cost at most the requests in flight on the killed instance.
    assert crash_errors <= CLIENT_THREADS, report
    # Every registration that reached its confirmation page is stored, once; none twice.
    assert len(tally.confirmed) >= 200
    assert all(per_email.get(email) == 1 for email in tally.confirmed), report
    assert max(per_email.values()) == 1
    # Every email delivered exactly once: no copies, nothing left unsent or failed.
    ids = smtp.message_ids()
    assert len(ids) == len(set(ids)) == sent, report
    assert set(statuses) == {"sent"}, report
    assert len(smtp.messages_to(tally.confirmed[0])) == 1
    # Every one with its body written (whichever release queued it).
    for received in smtp.received:
        assert received.message.get_body(("plain",)).get_content().strip(), received.message

    # The per-address limit counted across both instances.
    assert limited == [200] * PER_ADDRESS_LIMIT + [429] * 3, limited
    assert replaced_worker_exit == 0, stack.tails()
    assert worker_exits == [0, 0]
    for log in stack.logs:
        assert "Traceback" not in log.read_text(errors="replace"), log.read_text()

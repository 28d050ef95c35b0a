"""The database goes away and comes back.

While it is down, pages answer 503 with Retry-After and a page that says nothing was saved (a
form's answers come back in a "send it again" form); /readyz says "database unavailable" and
/healthz stays 200. When it comes back, the very first request works: the pool pings a
connection before handing it out (pool_pre_ping) instead of failing on one that died idle.

The outage is real: a PostgreSQL cluster of this test's own (initdb into a temporary directory,
on a free port), stopped with `pg_ctl stop -m immediate` and started again.
"""

from __future__ import annotations

import glob
import logging
import os
import shutil
import sqlite3
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from sqlalchemy.exc import DisconnectionError, IntegrityError, OperationalError

from booking import create_app
from booking.database import database_trouble, lost_a_race
from booking.extensions import db
from booking.models import utcnow

from .coach_helpers import (  # noqa: F401
    PASSWORD,
    add_coach,
    add_lead,
    csrf_token,
    fast_passwords,
    sign_in,
)
from .conftest import _migrate, base_config, hidden_fields, parse, valid_registration
from .smtp import free_port

UNREACHABLE = "we can't reach our database"

# ----- what an error means: no database needed -----------------------------------------------


def _wrapped(original: Exception, kind=OperationalError):  # type: ignore[no-untyped-def]
    return kind("SELECT 1", {}, original)


@pytest.mark.parametrize(
    ("error", "trouble", "lost_race"),
    [
        (_wrapped(psycopg.OperationalError("connection refused")), "unavailable", False),
        (_wrapped(psycopg.errors.AdminShutdown()), "unavailable", False),
        (_wrapped(psycopg.errors.CannotConnectNow()), "unavailable", False),
        (_wrapped(psycopg.errors.ConnectionFailure()), "unavailable", False),
        (DisconnectionError("pool"), "unavailable", False),
        (_wrapped(psycopg.errors.DeadlockDetected()), "busy", True),
        (_wrapped(psycopg.errors.SerializationFailure()), "busy", True),
        (_wrapped(psycopg.errors.QueryCanceled()), None, False),
        (_wrapped(sqlite3.OperationalError("database is locked")), "busy", False),
        (_wrapped(sqlite3.OperationalError("unable to open database file")), "unavailable", False),
        (_wrapped(sqlite3.OperationalError("no such table: lead")), None, False),
        (_wrapped(psycopg.errors.ExclusionViolation(), IntegrityError), None, True),
        (_wrapped(sqlite3.IntegrityError("UNIQUE constraint failed"), IntegrityError), None, True),
    ],
    ids=lambda value: (
        getattr(getattr(value, "orig", None), "__class__", type(value)).__name__
        if isinstance(value, Exception)
        else str(value)
    ),
)
def test_what_a_database_error_means(error, trouble, lost_race):
    assert database_trouble(error) == trouble
    if not isinstance(error, DisconnectionError):
        assert lost_a_race(error) is lost_race


# ----- SQLite: a database file that cannot be opened -------------------------------------------


def test_an_unopenable_sqlite_database_is_a_503_not_a_500(tmp_path):
    config = base_config(f"sqlite:///{tmp_path / 'missing-dir' / 'booking.sqlite3'}", tmp_path)
    client = create_app(config).test_client()
    page = client.get("/")
    assert page.status_code == 503 and page.headers["Retry-After"]
    assert UNREACHABLE in parse(page).text
    assert client.get("/readyz").status_code == 503
    assert client.get("/healthz").status_code == 200


def test_ready_and_live_when_the_database_is_up(client):
    ready = client.get("/readyz")
    assert ready.status_code == 200 and ready.get_json() == {"status": "ready"}
    assert client.get("/healthz").get_json() == {"status": "ok"}


# ----- PostgreSQL: a cluster of our own, stopped and started -----------------------------------


class Cluster:
    """A throwaway PostgreSQL cluster, run as the postgres user when we are root."""

    def __init__(self, bindir: Path, root: Path, port: int) -> None:
        self.bindir, self.root, self.port = bindir, root, port
        self.data = root / "data"
        self.url = f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres"

    def command(self, tool: str, *args: str) -> list[str]:
        command = [str(self.bindir / tool), *args]
        if os.geteuid() == 0:  # initdb and postgres refuse to run as root
            command = ["runuser", "-u", "postgres", "--", *command]
        return command

    def run(self, tool: str, *args: str) -> None:
        result = subprocess.run(
            self.command(tool, *args), capture_output=True, text=True, timeout=180
        )
        assert result.returncode == 0, f"{tool} failed:\n{result.stdout}\n{result.stderr}"

    def init(self) -> None:
        self.run("initdb", "-D", str(self.data), "-U", "postgres", "-A", "trust", "--no-sync")

    def start(self) -> None:
        options = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off"
        log = str(self.root / "log")
        # -w: returns once the server accepts connections (or fails after -t seconds).
        self.run(
            "pg_ctl", "-D", str(self.data), "-o", options, "-l", log, "-w", "-t", "120", "start"
        )

    def stop(self) -> None:
        self.run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "-t", "120", "stop")

    def cleanup(self) -> None:
        if (self.data / "postmaster.pid").exists():
            stop = self.command("pg_ctl", "-D", str(self.data), "-m", "immediate", "stop")
            subprocess.run(stop, capture_output=True, timeout=120)
        shutil.rmtree(self.root, ignore_errors=True)


def _initdb_bindir() -> Path | None:
    found = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"),
        key=lambda path: int(Path(path).parent.parent.name.split(".")[0]),
    )
    return Path(found[-1]).parent if found else None


@pytest.fixture
def own_postgres() -> Iterator[Cluster]:
    bindir = _initdb_bindir()
    if bindir is None:
        reason = "initdb not found under /usr/lib/postgresql/*/bin/ (install PostgreSQL)"
        if os.environ.get("REQUIRE_POSTGRES"):
            pytest.fail(reason)
        pytest.skip(reason)
    # Not pytest's tmp_path: that is private to root, and the server runs as postgres.
    root = Path(tempfile.mkdtemp(prefix="booking-pg-"))
    if os.geteuid() == 0:
        shutil.chown(root, "postgres", "postgres")
    cluster = Cluster(bindir, root, free_port())
    try:
        cluster.init()
        cluster.start()
        yield cluster
    finally:
        cluster.cleanup()


def _assert_unavailable(response) -> str:  # type: ignore[no-untyped-def]
    assert response.status_code == 503, response.get_data(as_text=True)[:500]
    assert int(response.headers["Retry-After"]) > 0
    return parse(response).text


@pytest.fixture
def migrated(own_postgres: Cluster, tmp_path: Path) -> Cluster:
    # In a fixture: Alembic's logging setup would otherwise unhook caplog mid-test.
    _migrate(own_postgres.url, tmp_path)
    return own_postgres


@pytest.mark.slow
@pytest.mark.postgres
def test_pages_say_503_while_the_database_is_down_and_work_at_once_after(
    migrated: Cluster, tmp_path: Path, caplog: pytest.LogCaptureFixture
):
    own_postgres = migrated
    app = create_app(base_config(own_postgres.url, tmp_path))
    with app.app_context():
        add_coach(now=utcnow())
        lead_id = add_lead(utcnow(), 1).id
    coach = app.test_client()
    assert sign_in(coach).status_code == 302
    coach_page = f"/coach/leads/{lead_id}"
    leader = app.test_client()
    assert coach.get(coach_page).status_code == 200
    form = hidden_fields(leader.get("/").get_data(as_text=True))
    other_coach = app.test_client()
    sign_in_token = csrf_token(other_coach)

    # 1. A restart nobody saw: the pool's idle connections all died. The first request after
    #    must not be the one that finds out.
    own_postgres.stop()
    own_postgres.start()
    assert coach.get(coach_page).status_code == 200

    # 2. An outage.
    own_postgres.stop()
    caplog.clear()
    assert UNREACHABLE in _assert_unavailable(leader.get("/"))

    typed = valid_registration(full_name="Outage Tester", email="outage.tester@nhs.example")
    refused = leader.post("/", data={**form, **typed})
    text = _assert_unavailable(refused)
    assert UNREACHABLE in text and "Your form was NOT sent" in text
    assert "Nothing you typed has been saved" in text
    resend = parse(refused)
    kept = {e["attrs"]["name"]: e["attrs"]["value"] for e in resend.all("input", type="hidden")}
    assert kept["full_name"] == "Outage Tester" and kept["form_token"] == form["form_token"]
    assert refused.headers["Cache-Control"] == "no-store"

    assert UNREACHABLE in _assert_unavailable(coach.get(coach_page))
    signing_in = other_coach.post(
        "/coach/sign-in",
        data={"csrf_token": sign_in_token, "email": "maya@example.org", "password": PASSWORD},
    )
    assert "Your form was NOT sent" in _assert_unavailable(signing_in)
    # A form with a password is not offered back: the password never goes into a page.
    assert PASSWORD not in signing_in.get_data(as_text=True)
    assert not parse(signing_in).all("form")

    ready = app.test_client().get("/readyz")
    assert ready.status_code == 503 and ready.get_json() == {"status": "database unavailable"}
    assert int(ready.headers["Retry-After"]) > 0
    assert app.test_client().get("/healthz").status_code == 200

    # One line for each request that got the 503 page (not /readyz), and nothing personal.
    logged = [r for r in caplog.records if "database unavailable" in r.getMessage()]
    assert len(logged) == 4, caplog.text
    assert "Outage" not in caplog.text and "outage.tester" not in caplog.text
    assert all(r.levelno == logging.WARNING for r in logged)

    # 3. Back again: the very first request works, and so does sending the form again.
    own_postgres.start()
    assert coach.get(coach_page).status_code == 200
    again = leader.post("/", data=kept)
    assert again.status_code == 302
    assert app.test_client().get("/readyz").status_code == 200
    with app.app_context():
        db.session.remove()
        db.engine.dispose()

"""SQLite: a transaction waits its turn for the write lock (booking/database.py), takes it soon
after it is freed, and gives up after the busy timeout with "database is locked" (a 503 "busy"
page in a request), never sooner."""

from __future__ import annotations

import sqlite3
import threading
import time

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import OperationalError

from booking import database
from booking.database import configure_engine, database_trouble

from .conftest import USING_POSTGRES

pytestmark = pytest.mark.skipif(USING_POSTGRES, reason="SQLite's write lock")


@pytest.fixture
def engine(tmp_path):
    engine = create_engine(f"sqlite:///{tmp_path / 'lock.sqlite3'}")
    configure_engine(engine)
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE t (n INTEGER)"))
    yield engine
    engine.dispose()


def _hold_lock(path: str, seconds: float, taken: threading.Event) -> None:
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    taken.set()
    time.sleep(seconds)
    other.execute("COMMIT")
    other.close()


def test_a_writer_waits_for_the_lock_and_takes_it_once_freed(engine):
    taken = threading.Event()
    holder = threading.Thread(target=_hold_lock, args=(engine.url.database, 0.3, taken))
    holder.start()
    assert taken.wait(30)
    started = time.monotonic()
    with engine.begin() as connection:
        connection.execute(text("INSERT INTO t VALUES (1)"))
    waited = time.monotonic() - started
    holder.join()
    assert waited >= 0.2  # it did wait for the other writer
    with engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM t")).scalar() == 1
        # The busy timeout is back for the statements of every transaction.
        busy = connection.exec_driver_sql("PRAGMA busy_timeout").scalar()
    assert busy == database.SQLITE_BUSY_TIMEOUT_MS


def test_a_writer_gives_up_after_the_busy_timeout(engine, monkeypatch):
    monkeypatch.setattr(database, "SQLITE_BUSY_TIMEOUT_MS", 200)
    taken = threading.Event()
    holder = threading.Thread(target=_hold_lock, args=(engine.url.database, 2.0, taken))
    holder.start()
    assert taken.wait(30)
    started = time.monotonic()
    with pytest.raises(OperationalError) as refused, engine.begin() as connection:
        connection.execute(text("INSERT INTO t VALUES (1)"))
    assert time.monotonic() - started >= 0.2
    holder.join()
    assert database_trouble(refused.value) == "busy"

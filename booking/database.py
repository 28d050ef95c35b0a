"""Database engine settings that make SQLite behave under a multi-process web server, and what
a database error means for the person waiting (a lost race, busy, unavailable)."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable, Sequence
from functools import lru_cache
from typing import Any

from sqlalchemy import Insert, Table, bindparam, event, insert, select, union_all
from sqlalchemy.engine import Engine
from sqlalchemy.exc import (
    DBAPIError,
    DisconnectionError,
    IntegrityError,
    InterfaceError,
    OperationalError,
)
from sqlalchemy.orm import Session, scoped_session

SQLITE_BUSY_TIMEOUT_MS = 15_000
# How often a transaction waiting for SQLite's write lock tries again at first, and at most
# (see configure_engine).
WRITE_LOCK_POLL_SECONDS = 0.0005
WRITE_LOCK_POLL_MAX_SECONDS = 0.005


class DatabaseUnavailable(RuntimeError):
    """A page found the database unreachable before doing anything (see `ping`): a 503."""


def configure_engine(engine: Engine) -> None:
    if engine.dialect.name != "sqlite":
        return

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take transaction control from the sqlite3 module so we can say BEGIN IMMEDIATE.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        # A deferred transaction that reads and then writes cannot wait for the write lock:
        # SQLite fails it at once with "database is locked" (the busy timeout does not apply
        # to an upgrade from a stale snapshot). Taking the write lock at BEGIN makes every
        # transaction wait its turn for up to the busy timeout instead. Writers are few and
        # short here, and WAL readers on other connections are never blocked.
        #
        # The wait for the lock is ours, not SQLite's busy handler's: that one sleeps 1, 2, 5,
        # 10, 15, 20, 25 ms... between tries, so under steady writes a waiting process mostly
        # sleeps through the moments the lock is free, and two web workers wrote no faster
        # than one. Trying again every WRITE_LOCK_POLL_SECONDS takes the lock soon after it is
        # freed. Statements inside the transaction keep the busy timeout.
        raw = connection.connection.dbapi_connection
        raw.execute("PRAGMA busy_timeout=0")
        try:
            deadline = time.monotonic() + SQLITE_BUSY_TIMEOUT_MS / 1000
            pause = WRITE_LOCK_POLL_SECONDS
            while True:
                try:
                    connection.exec_driver_sql("BEGIN IMMEDIATE")
                    return
                except OperationalError as error:
                    if not _locked(error) or time.monotonic() >= deadline:
                        raise
                time.sleep(pause)
                # A lock held for long (a migration, a big purge) is not spun on: the pause
                # grows to WRITE_LOCK_POLL_MAX_SECONDS after the first few tries.
                pause = min(pause * 1.2, WRITE_LOCK_POLL_MAX_SECONDS)
        finally:
            raw.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")


def _locked(error: OperationalError) -> bool:
    message = str(error.orig).lower()
    return "locked" in message or "busy" in message


# SQLite's full-text (trigram) index of the lead search columns (migration 0017); not a model.
SQLITE_SEARCH_TABLE = "lead_search"


def belongs_on(dialect_name: str) -> Callable[[Any, str | None, str, bool, Any], bool]:
    """Alembic `include_object` hook: leave out schema items marked for another database.

    An index declared with `info={"only_on": "postgresql"}` (and `ddl_if`) exists only there;
    without this, autogenerate and the drift test would report it missing on SQLite.
    """

    def include_object(
        obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any
    ) -> bool:
        if reflected and type_ == "table" and (name or "").startswith(SQLITE_SEARCH_TABLE):
            return False  # the FTS5 index and its shadow tables: made by migration 0017
        only_on = getattr(obj, "info", {}).get("only_on") if not reflected else None
        return only_on is None or only_on == dialect_name

    return include_object


# PostgreSQL's "deadlock detected" and "could not serialize": two writers collided and the
# database chose this one to fail. Two conflicting inserts into an exclusion constraint can end
# this way instead of with an exclusion violation (each waits for the other's row).
_LOST_RACE_SQLSTATES = {"40P01", "40001"}


def lost_a_race(error: DBAPIError) -> bool:
    """Was this write refused because a concurrent one won (a unique or exclusion violation, a
    deadlock or serialization failure)? Then the caller can say "taken" rather than fail."""
    if isinstance(error, IntegrityError):
        return True
    return getattr(error.orig, "sqlstate", None) in _LOST_RACE_SQLSTATES


# PostgreSQL SQLSTATEs that mean "the database cannot serve us now": the connection-exception
# class (08...), the server shutting down or starting up, too many connections.
_UNAVAILABLE_SQLSTATES = {"57P01", "57P02", "57P03", "53300"}


def database_trouble(error: BaseException) -> str | None:
    """What a database error means for the person waiting: "busy" (two writers collided or
    SQLite waited out its lock: try again in seconds), "unavailable" (the database cannot be
    reached: refused, dropped, shutting down), or None (a bug; let it be a 500)."""
    if isinstance(error, DisconnectionError):
        return "unavailable"
    if not isinstance(error, OperationalError | InterfaceError):
        return None
    if error.connection_invalidated:
        return "unavailable"
    original = error.orig
    if isinstance(original, sqlite3.Error):
        message = str(original).lower()
        if "locked" in message or "busy" in message:
            return "busy"
        if "unable to open" in message or "disk i/o" in message:
            return "unavailable"
        return None
    sqlstate = getattr(original, "sqlstate", None)
    if sqlstate in _LOST_RACE_SQLSTATES:
        return "busy"
    # psycopg's own failures (connection refused, server closed the connection, the connection
    # is closed) carry no SQLSTATE: nothing came from a server.
    if sqlstate is None or sqlstate.startswith("08") or sqlstate in _UNAVAILABLE_SQLSTATES:
        return "unavailable"
    return None


Rows = list[dict[str, Any]]


def insert_together(
    session: Session | scoped_session[Any], batches: Sequence[tuple[Table, Rows]]
) -> None:
    """Insert each batch's rows into its table, in this order, in the session's transaction.

    On PostgreSQL as one statement, each earlier table's INSERT a CTE of the last one's (`WITH
    rows_0 AS (INSERT …), rows_1 AS (INSERT …) INSERT …`): one round trip instead of one per
    table. Foreign keys are checked at the end of that statement, so a batch may refer to rows
    inserted before it in the same call. Elsewhere (SQLite, in process, where a statement costs
    no round trip) one INSERT per table. The same rows either way; every row of a batch has the
    same columns, and they are all the columns it needs (the models' Python-side defaults are
    not applied to the tables inside the statement)."""
    batches = [(table, rows) for table, rows in batches if rows]
    if session.get_bind().dialect.name != "postgresql" or len(batches) < 2:
        for table, rows in batches:
            session.execute(_plain_insert(table), rows)
        return
    shape = tuple((table, len(rows), tuple(rows[0])) for table, rows in batches)
    params = {}
    for b, (_table, rows) in enumerate(batches):
        for i, row in enumerate(rows):
            params.update({f"r{b}_{i}_{column}": value for column, value in row.items()})
    session.execute(_inserts_as_one(shape), params)


@lru_cache(maxsize=32)
def _plain_insert(table: Table) -> Insert:
    return insert(table)


@lru_cache(maxsize=32)
def _inserts_as_one(shape: tuple[tuple[Table, int, tuple[str, ...]], ...]) -> Insert:
    """The statement for `insert_together`, built once for each shape (tables, how many rows,
    which columns): building a statement costs more than running this one. Several rows are
    `INSERT … SELECT … UNION ALL SELECT …`, not a multi-row VALUES, which SQLAlchemy would
    compile again on every call (it cannot cache that form)."""

    def inserting(b: int, table: Table, count: int, columns: tuple[str, ...]) -> Insert:
        def row(i: int) -> list[Any]:
            return [bindparam(f"r{b}_{i}_{c}", type_=table.c[c].type) for c in columns]

        if count == 1:
            return insert(table).values(dict(zip(columns, row(0), strict=True)))
        rows = union_all(*(select(*row(i)) for i in range(count)))
        return insert(table).from_select(list(columns), rows, include_defaults=False)

    *earlier, (last, count, columns) = shape
    statement = inserting(len(earlier), last, count, columns)
    for b, (table, n, cols) in enumerate(earlier):
        statement = statement.add_cte(inserting(b, table, n, cols).cte(f"rows_{b}"))
    return statement


def ping(engine: Engine, timeout_seconds: float = 2.0) -> bool:
    """Can the database answer `SELECT 1` within about `timeout_seconds`? For readiness checks.

    A raw DBAPI connection from the pool (pre-ping and the connect timeout apply), so SQLite's
    BEGIN IMMEDIATE hook never takes the write lock for a probe.
    """
    try:
        connection = engine.raw_connection()
    except Exception:  # the pool's checkout raises the driver's own errors, unwrapped
        return False
    try:
        cursor = connection.cursor()
        if engine.dialect.name == "postgresql":
            # Only this probe's transaction (rolled back below), never the pooled connection.
            cursor.execute(f"SET LOCAL statement_timeout = {max(1, int(timeout_seconds * 1000))}")
        cursor.execute("SELECT 1")
        cursor.fetchall()
        cursor.close()
        connection.rollback()
        return True
    except Exception:  # any failure of the probe means "not ready"; the pool drops the connection
        connection.invalidate()
        return False
    finally:
        connection.close()

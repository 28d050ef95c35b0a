"""Database engine settings that make SQLite behave under a multi-process web server."""

from __future__ import annotations

from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine

SQLITE_BUSY_TIMEOUT_MS = 15_000


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
        connection.exec_driver_sql("BEGIN IMMEDIATE")


def belongs_on(dialect_name: str):  # type: ignore[no-untyped-def]
    """Alembic `include_object` hook: leave out schema items marked for another database.

    An index declared with `info={"only_on": "postgresql"}` (and `ddl_if`) exists only there;
    without this, autogenerate and the drift test would report it missing on SQLite.
    """

    def include_object(
        obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any
    ) -> bool:
        only_on = getattr(obj, "info", {}).get("only_on") if not reflected else None
        return only_on is None or only_on == dialect_name

    return include_object

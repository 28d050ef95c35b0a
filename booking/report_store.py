"""The reports' finished months, counted once a day instead of on every request.

A report covers 12 months. Counting them all reads a year of leads and sessions (about a
second at 100,000 leads); counting the current month alone reads a few thousand rows. So the
monthly tables are put together from a snapshot of the 11 finished months (`ReportSnapshot`, one
row per table and organisation) and the current month counted live.

A snapshot is used on the local day it was counted and for the months it covers; otherwise
the first request (or the nightly `flask reports refresh`) counts the finished months again and
stores them. Figures for an earlier month can still move (a lead registered in October first
contacted today, a session marked held late, an erasure): they show on the next day's count,
or at once after "Recount now" on the page (`forget_all`). The page says when the earlier
months were counted.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, time
from typing import Any

from sqlalchemy import delete, select

from . import reports
from .extensions import db
from .models import ReportSnapshot
from .reports import Cell, ReportFilters, ReportTable, Suppressed
from .settings import Settings


@dataclass
class CountedTables:
    tables: list[ReportTable]
    # When the finished months shown were counted (the oldest snapshot used); None when every
    # figure was counted in this request.
    earlier_months_counted_at: datetime | None


def report_tables(filters: ReportFilters, *, now: datetime, settings: Settings) -> CountedTables:
    """Every table of the reports page. May add snapshots to the session: the caller commits
    (`commit_snapshots`)."""
    tables: list[ReportTable] = []
    counted: list[datetime] = []
    for key in reports.TABLE_KEYS:
        found, at = report_table(key, filters, now=now, settings=settings)
        if found is not None:
            tables.append(found)
        if at is not None:
            counted.append(at)
    return CountedTables(tables, min(counted) if counted else None)


def report_table(
    key: str, filters: ReportFilters, *, now: datetime, settings: Settings
) -> tuple[ReportTable | None, datetime | None]:
    """One table by its key, with when its finished months were counted (None: just now or
    not a monthly table)."""
    if key not in reports.MONTHLY_KEYS:
        return reports.table(key, filters, now=now, settings=settings), None
    months = reports.report_months(now)
    finished, current = months[:-1], months[-1:]
    earlier, counted_at = _finished_rows(key, filters, finished, now=now, settings=settings)
    table = reports.table(key, filters, now=now, settings=settings, months=current)
    assert table is not None
    rows = earlier + table.rows
    if key == "sessions-per-coach":  # a row per coach and month: by coach, then month
        rows.sort(key=lambda row: (str(row[0]).casefold(), str(row[0]), str(row[1])))
    table.rows = rows
    return table, counted_at


def _finished_rows(
    key: str, filters: ReportFilters, months: list[str], *, now: datetime, settings: Settings
) -> tuple[list[list[Cell]], datetime | None]:
    snapshot = db.session.scalars(
        select(ReportSnapshot).where(
            ReportSnapshot.organisation == filters.organisation,
            ReportSnapshot.table_key == key,
        )
    ).first()
    if snapshot is not None and _still_good(snapshot, months, now, settings):
        return _decode(snapshot.rows_json), snapshot.computed_at
    counted = reports.table(key, filters, now=now, settings=settings, months=months)
    assert counted is not None
    if snapshot is not None:
        db.session.delete(snapshot)
        db.session.flush()
    db.session.add(
        ReportSnapshot(
            organisation=filters.organisation,
            table_key=key,
            first_month=months[0],
            last_month=months[-1],
            computed_at=now,
            rows_json=_encode(counted.rows),
        )
    )
    return counted.rows, None


def _still_good(snapshot: ReportSnapshot, months: list[str], now: datetime, s: Settings) -> bool:
    """Counted today (the firm's local day) over exactly these months."""
    midnight = datetime.combine(now.astimezone(s.zone).date(), time(0), tzinfo=s.zone)
    return (
        snapshot.first_month == months[0]
        and snapshot.last_month == months[-1]
        and snapshot.computed_at >= midnight
    )


def forget_all() -> int:
    """Drop every snapshot ("Recount now"): the next request counts the finished months
    again. Returns how many were dropped."""
    result = db.session.execute(delete(ReportSnapshot))
    return int(getattr(result, "rowcount", 0) or 0)


def refresh_all(*, now: datetime, settings: Settings) -> int:
    """Count the finished months again for every organisation and the whole firm (the nightly
    `flask reports refresh`), committing one organisation at a time. Returns how many
    organisations (the whole firm included) were counted."""
    forget_all()
    db.session.commit()
    names = ["", *reports.organisations()]
    for name in names:
        report_tables(ReportFilters(organisation=name), now=now, settings=settings)
        db.session.commit()
    return len(names)


def _encode(rows: list[list[Cell]]) -> str:
    def cell(value: Cell) -> Any:
        return {"suppressed": True} if isinstance(value, Suppressed) else value

    return json.dumps([[cell(v) for v in row] for row in rows], separators=(",", ":"))


def _decode(text: str) -> list[list[Cell]]:
    def cell(value: Any) -> Cell:
        return Suppressed() if isinstance(value, dict) else value

    return [[cell(v) for v in row] for row in json.loads(text)]

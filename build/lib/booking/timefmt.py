"""Showing and reading times in the firm's time zone (TIMEZONE, default Europe/London)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

from flask import current_app


def local_zone() -> ZoneInfo:
    return ZoneInfo(current_app.config["TIMEZONE"])


def to_local(moment: datetime) -> datetime:
    return moment.astimezone(local_zone())


def local_to_utc(day: date, start: time, zone: ZoneInfo | None = None) -> datetime:
    """A wall-clock time in the firm's zone to UTC.

    A time that does not exist (inside the spring-forward gap) raises ValueError;
    an ambiguous one (the autumn repeat) is read as its first occurrence.
    """
    zone = zone or local_zone()
    naive = datetime.combine(day, start)
    aware = naive.replace(tzinfo=zone, fold=0)
    # Round-trip through UTC: a wall time in the gap comes back different.
    if aware.astimezone(UTC).astimezone(zone).replace(tzinfo=None) != naive:
        raise ValueError(f"{naive:%H:%M} on {day:%d %B %Y} does not exist: the clocks go forward")
    return aware.astimezone(UTC)


def format_local(moment: datetime, with_day: bool = True) -> str:
    """'Monday 30 March 2026, 14:00 BST'."""
    local = to_local(moment)
    zone_name = local.tzname() or ""
    if with_day:
        return f"{local:%A} {local.day} {local:%B %Y}, {local:%H:%M} {zone_name}".strip()
    return f"{local:%H:%M} {zone_name}".strip()


def format_range(starts: datetime, ends: datetime) -> str:
    """'Monday 30 March 2026, 14:00–15:00 BST'."""
    start, end = to_local(starts), to_local(ends)
    return f"{start:%A} {start.day} {start:%B %Y}, {start:%H:%M}–{end:%H:%M} {end.tzname()}"

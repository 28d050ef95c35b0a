"""Showing and reading times in the firm's time zone (the TIMEZONE setting, default
Europe/London). Pure functions: the zone is passed in (`Settings.zone`)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo


def to_local(moment: datetime, zone: ZoneInfo) -> datetime:
    return moment.astimezone(zone)


def local_to_utc(day: date, start: time, zone: ZoneInfo) -> datetime:
    """A wall-clock time in the firm's zone to UTC.

    A time that does not exist (inside the spring-forward gap) raises ValueError;
    an ambiguous one (the autumn repeat) is read as its first occurrence.
    """
    naive = datetime.combine(day, start)
    aware = naive.replace(tzinfo=zone, fold=0)
    # Round-trip through UTC: a wall time in the gap comes back different.
    if aware.astimezone(UTC).astimezone(zone).replace(tzinfo=None) != naive:
        raise ValueError(f"{naive:%H:%M} on {day:%d %B %Y} does not exist: the clocks go forward")
    return aware.astimezone(UTC)


def format_local(moment: datetime, zone: ZoneInfo, with_day: bool = True) -> str:
    """'Monday 30 March 2026, 14:00 BST'."""
    local = to_local(moment, zone)
    zone_name = local.tzname() or ""
    if with_day:
        return f"{local:%A} {local.day} {local:%B %Y}, {local:%H:%M} {zone_name}".strip()
    return f"{local:%H:%M} {zone_name}".strip()


def format_range(starts: datetime, ends: datetime, zone: ZoneInfo) -> str:
    """'Monday 30 March 2026, 14:00–15:00 BST'."""
    start, end = to_local(starts, zone), to_local(ends, zone)
    return f"{start:%A} {start.day} {start:%B %Y}, {start:%H:%M}–{end:%H:%M} {end.tzname()}"


def time_ago(moment: datetime, now: datetime) -> str:
    """'3 days ago', for lists where the exact time is in a tooltip."""
    seconds = max(0, int((now - moment).total_seconds()))
    for size, unit in ((86400 * 7, "week"), (86400, "day"), (3600, "hour"), (60, "minute")):
        if seconds >= size:
            n = seconds // size
            return f"{n} {unit}{'s' if n != 1 else ''} ago"
    return "just now"

"""When a coach can be booked: the free slots from their rules and their busy times.

Pure: rules, busy intervals (aware datetimes, any zone), a window, `now` and the firm's zone in;
free slots (UTC) out. No database, no app. The rules are local wall-clock times in the firm's
zone, so a 09:00 start is 09:00 in London on both sides of a clock change: each day's ranges are
placed on that day's own UTC offset.

How a day's slots are laid out: each working range (weekly hours for that weekday, unless the
day is a day off, plus any one-off extra times on that date; overlapping ranges merged) is cut
into sessions from its start, one session length plus the buffer apart. A slot is free when it
fits inside the range and neither it nor its buffer (either side) touches a busy interval, it
starts no earlier than the minimum notice (counted in working days, Monday to Friday) and no
later than the horizon.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

DEFAULT_SESSION_MINUTES = 60
DEFAULT_BUFFER_MINUTES = 15
DEFAULT_NOTICE_WORKING_DAYS = 1
DEFAULT_HORIZON_DAYS = 42


@dataclass(frozen=True, order=True)
class TimeRange:
    """A local wall-clock range within one day (end after start; 24:00 is written 00:00 next day
    and is not supported: a range ends by 23:59)."""

    start: time
    end: time

    def __post_init__(self) -> None:
        if self.end <= self.start:
            raise ValueError("a time range must end after it starts")


@dataclass(frozen=True)
class ExtraTime:
    """A one-off working range on a date (on top of the weekly hours, even on a day off)."""

    day: date
    range: TimeRange


@dataclass(frozen=True)
class AvailabilityRules:
    # Monday=0 … Sunday=6 → that weekday's working ranges (local time).
    weekly: Mapping[int, Sequence[TimeRange]] = field(default_factory=dict)
    session_minutes: int = DEFAULT_SESSION_MINUTES
    buffer_minutes: int = DEFAULT_BUFFER_MINUTES
    notice_working_days: int = DEFAULT_NOTICE_WORKING_DAYS
    horizon_days: int = DEFAULT_HORIZON_DAYS
    days_off: frozenset[date] = frozenset()
    extra: Sequence[ExtraTime] = ()

    @property
    def has_hours(self) -> bool:
        return any(self.weekly.values()) or bool(self.extra)


@dataclass(frozen=True, order=True)
class Slot:
    starts_at: datetime
    ends_at: datetime


Interval = tuple[datetime, datetime]


def add_working_days(moment: datetime, working_days: int, zone: ZoneInfo) -> datetime:
    """The same local time of day `working_days` working days (Mon–Fri) later.

    Friday 15:00 + 1 → Monday 15:00; Saturday 10:00 + 1 → Monday 10:00; + 0 → `moment`.
    """
    if working_days <= 0:
        return moment
    local = moment.astimezone(zone)
    day = local.date()
    counted = 0
    while counted < working_days:
        day += timedelta(days=1)
        if day.weekday() < 5:
            counted += 1
    return datetime.combine(day, local.time().replace(tzinfo=None), tzinfo=zone)


def earliest_start(rules: AvailabilityRules, now: datetime, zone: ZoneInfo) -> datetime:
    return add_working_days(now, rules.notice_working_days, zone).astimezone(UTC)


def latest_start(rules: AvailabilityRules, now: datetime) -> datetime:
    return (now + timedelta(days=rules.horizon_days)).astimezone(UTC)


def merge_intervals(intervals: Iterable[Interval], pad: timedelta = timedelta(0)) -> list[Interval]:
    """Sorted, non-overlapping UTC intervals, each widened by `pad` on both sides."""
    widened = sorted(
        (start.astimezone(UTC) - pad, end.astimezone(UTC) + pad)
        for start, end in intervals
        if end > start  # an empty or inverted interval blocks nothing, buffer or not
    )
    merged: list[Interval] = []
    for start, end in widened:
        if merged and start <= merged[-1][1]:
            if end > merged[-1][1]:
                merged[-1] = (merged[-1][0], end)
        else:
            merged.append((start, end))
    return merged


def _day_ranges(
    rules: AvailabilityRules, day: date, extras: Mapping[date, list[TimeRange]]
) -> list[TimeRange]:
    ranges = [] if day in rules.days_off else list(rules.weekly.get(day.weekday(), ()))
    ranges.extend(extras.get(day, ()))
    ranges.sort()
    merged: list[TimeRange] = []
    for r in ranges:
        if merged and r.start <= merged[-1].end:
            if r.end > merged[-1].end:
                merged[-1] = TimeRange(merged[-1].start, r.end)
        else:
            merged.append(r)
    return merged


def _utc(day: date, at: time, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, at, tzinfo=zone).astimezone(UTC)


def free_slots(
    rules: AvailabilityRules,
    busy: Iterable[Interval],
    *,
    window_start: datetime,
    window_end: datetime,
    now: datetime,
    zone: ZoneInfo,
) -> list[Slot]:
    """The free slots starting in [window_start, window_end), in order, as UTC datetimes.

    `busy` may overlap, be unsorted and be in any zone (the coach's booked sessions and, once
    connected, their own calendar's busy times). The buffer is kept on both sides of each busy
    interval as well as between the slots themselves.
    """
    if rules.session_minutes <= 0:
        return []
    length = timedelta(minutes=rules.session_minutes)
    buffer = timedelta(minutes=max(rules.buffer_minutes, 0))
    step = length + buffer
    first = max(window_start.astimezone(UTC), earliest_start(rules, now, zone))
    last = min(window_end.astimezone(UTC), latest_start(rules, now))
    if last <= first:
        return []
    blocked = merge_intervals(busy, pad=buffer)
    blocked_ends = [end for _, end in blocked]
    extras: dict[date, list[TimeRange]] = {}
    for extra in rules.extra:
        extras.setdefault(extra.day, []).append(extra.range)

    slots: list[Slot] = []
    # One day either side: a UTC window edge can fall on the neighbouring local date.
    day = first.astimezone(zone).date() - timedelta(days=1)
    last_day = last.astimezone(zone).date() + timedelta(days=1)
    while day <= last_day:
        for working in _day_ranges(rules, day, extras):
            start, range_end = _utc(day, working.start, zone), _utc(day, working.end, zone)
            while start + length <= range_end:
                end = start + length
                if start >= last:
                    break
                if start >= first:
                    # The first blocked interval ending after this start; free if it begins
                    # at or after this end (intervals are merged, so later ones begin later).
                    i = bisect_right(blocked_ends, start)
                    if i == len(blocked) or blocked[i][0] >= end:
                        slots.append(Slot(start, end))
                start += step
        day += timedelta(days=1)
    return slots


def is_free(
    rules: AvailabilityRules,
    busy: Iterable[Interval],
    starts_at: datetime,
    *,
    now: datetime,
    zone: ZoneInfo,
) -> bool:
    """Whether a slot starting at `starts_at` is one of the free slots now."""
    starts_at = starts_at.astimezone(UTC)
    found = free_slots(
        rules,
        busy,
        window_start=starts_at,
        window_end=starts_at + timedelta(minutes=1),
        now=now,
        zone=zone,
    )
    return any(slot.starts_at == starts_at for slot in found)


def group_by_day(slots: Iterable[Slot], zone: ZoneInfo) -> list[tuple[date, list[Slot]]]:
    """Slots grouped by their local date, in order."""
    days: dict[date, list[Slot]] = {}
    for slot in slots:
        days.setdefault(slot.starts_at.astimezone(zone).date(), []).append(slot)
    return list(days.items())


__all__ = [
    "AvailabilityRules",
    "ExtraTime",
    "Slot",
    "TimeRange",
    "add_working_days",
    "free_slots",
    "group_by_day",
    "is_free",
    "merge_intervals",
]

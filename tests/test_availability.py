"""Free-slot computation, without HTTP or a database (booking/availability.py)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from booking.availability import (
    AvailabilityRules,
    ExtraTime,
    Slot,
    TimeRange,
    add_working_days,
    free_slots,
    group_by_day,
    is_free,
    merge_intervals,
)

LONDON = ZoneInfo("Europe/London")


def local(y: int, m: int, d: int, hh: int, mm: int = 0) -> datetime:
    return datetime(y, m, d, hh, mm, tzinfo=LONDON)


def r(a: str, b: str) -> TimeRange:
    return TimeRange(time.fromisoformat(a), time.fromisoformat(b))


WEEKDAYS_9_TO_12 = {d: [r("09:00", "12:00")] for d in range(5)}


def starts(slots: list[Slot]) -> list[str]:
    return [s.starts_at.astimezone(LONDON).strftime("%a %d %H:%M") for s in slots]


def compute(rules: AvailabilityRules, busy=(), *, now: datetime, days: int = 7) -> list[Slot]:
    return free_slots(
        rules,
        busy,
        window_start=now,
        window_end=now + timedelta(days=days),
        now=now,
        zone=LONDON,
    )


# Monday 2026-12-07 08:00 London (GMT).
MONDAY = local(2026, 12, 7, 8)
NO_NOTICE = dict(notice_working_days=0)


def test_working_hours_cut_into_sessions_with_buffer_between() -> None:
    rules = AvailabilityRules(
        weekly={0: [r("09:00", "12:00")]}, session_minutes=45, buffer_minutes=15, **NO_NOTICE
    )
    slots = compute(rules, now=MONDAY, days=1)
    assert starts(slots) == ["Mon 07 09:00", "Mon 07 10:00", "Mon 07 11:00"]
    assert all(s.ends_at - s.starts_at == timedelta(minutes=45) for s in slots)
    assert all(s.starts_at.tzinfo == UTC for s in slots)


def test_several_ranges_a_day_and_a_session_must_fit_the_range() -> None:
    rules = AvailabilityRules(
        weekly={0: [r("14:00", "15:30"), r("09:00", "10:30")]},
        session_minutes=60,
        buffer_minutes=0,
        **NO_NOTICE,
    )
    assert starts(compute(rules, now=MONDAY, days=1)) == [
        "Mon 07 09:00",
        "Mon 07 14:00",
    ]


def test_overlapping_ranges_are_merged() -> None:
    rules = AvailabilityRules(
        weekly={0: [r("09:00", "10:30"), r("10:00", "12:00")]},
        session_minutes=60,
        buffer_minutes=0,
        **NO_NOTICE,
    )
    assert starts(compute(rules, now=MONDAY, days=1)) == [
        "Mon 07 09:00",
        "Mon 07 10:00",
        "Mon 07 11:00",
    ]


def test_busy_time_removes_slots_and_keeps_the_buffer_around_it() -> None:
    rules = AvailabilityRules(
        weekly={0: [r("09:00", "13:00")]}, session_minutes=45, buffer_minutes=15, **NO_NOTICE
    )
    # Busy 10:50–11:00: the 10:00 slot ends 10:45, but its buffer runs to 11:00 → taken; the
    # 11:00 slot would start inside the busy time's own buffer → taken.
    busy = [(local(2026, 12, 7, 10, 50), local(2026, 12, 7, 11))]
    assert starts(compute(rules, busy, now=MONDAY, days=1)) == ["Mon 07 09:00", "Mon 07 12:00"]
    # Busy ending exactly one buffer before a slot leaves that slot free.
    busy = [(local(2026, 12, 7, 10, 30), local(2026, 12, 7, 10, 45))]
    assert starts(compute(rules, busy, now=MONDAY, days=1)) == [
        "Mon 07 09:00",
        "Mon 07 11:00",
        "Mon 07 12:00",
    ]
    busy = [(local(2026, 12, 7, 9, 45), local(2026, 12, 7, 9, 45))]  # empty interval: ignored
    assert len(compute(rules, busy, now=MONDAY, days=1)) == 4


def test_overlapping_and_unsorted_busy_intervals() -> None:
    rules = AvailabilityRules(
        weekly={0: [r("09:00", "17:00")]}, session_minutes=60, buffer_minutes=0, **NO_NOTICE
    )
    busy = [
        (local(2026, 12, 7, 13), local(2026, 12, 7, 14)),
        (local(2026, 12, 7, 9, 30), local(2026, 12, 7, 11)),
        (local(2026, 12, 7, 10), local(2026, 12, 7, 12)),  # overlaps the one before
        (local(2026, 12, 7, 10, 15), local(2026, 12, 7, 10, 20)),  # inside both
        (datetime(2026, 12, 7, 15, 0, tzinfo=UTC), datetime(2026, 12, 7, 15, 1, tzinfo=UTC)),
    ]
    assert starts(compute(rules, busy, now=MONDAY, days=1)) == [
        "Mon 07 12:00",
        "Mon 07 14:00",
        "Mon 07 16:00",
    ]
    assert merge_intervals(busy[1:3]) == [
        (datetime(2026, 12, 7, 9, 30, tzinfo=UTC), datetime(2026, 12, 7, 12, tzinfo=UTC))
    ]


def test_minimum_notice_counts_working_days() -> None:
    rules = AvailabilityRules(
        weekly={d: [r("09:00", "17:00")] for d in range(7)}, session_minutes=60, buffer_minutes=0
    )
    friday_3pm = local(2026, 12, 11, 15)
    # One working day after Friday 15:00 is Monday 15:00: nothing at the weekend.
    slots = compute(rules, now=friday_3pm, days=4)
    assert starts(slots)[0] == "Mon 14 15:00"
    assert add_working_days(friday_3pm, 1, LONDON) == local(2026, 12, 14, 15)
    assert add_working_days(local(2026, 12, 12, 10), 1, LONDON) == local(2026, 12, 14, 10)
    assert add_working_days(friday_3pm, 2, LONDON) == local(2026, 12, 15, 15)
    # Monday 08:00 + 1 → Tuesday 08:00: the Tuesday 09:00 slot is the first.
    assert starts(compute(rules, now=MONDAY))[0] == "Tue 08 09:00"


def test_horizon_stops_the_slots() -> None:
    rules = AvailabilityRules(
        weekly=WEEKDAYS_9_TO_12, session_minutes=60, buffer_minutes=0, horizon_days=3, **NO_NOTICE
    )
    slots = compute(rules, now=MONDAY, days=30)
    assert starts(slots)[-1] == "Wed 09 11:00"
    default = AvailabilityRules(weekly=WEEKDAYS_9_TO_12)
    many = compute(default, now=MONDAY, days=100)
    assert many[-1].starts_at <= MONDAY + timedelta(weeks=6)
    assert many[-1].starts_at > MONDAY + timedelta(weeks=6) - timedelta(days=3)


def test_days_off_and_extra_times() -> None:
    rules = AvailabilityRules(
        weekly=WEEKDAYS_9_TO_12,
        session_minutes=60,
        buffer_minutes=0,
        days_off=frozenset({date(2026, 12, 8)}),
        extra=(
            ExtraTime(date(2026, 12, 9), r("18:00", "19:00")),
            ExtraTime(date(2026, 12, 12), r("10:00", "12:00")),  # a Saturday
        ),
        **NO_NOTICE,
    )
    got = starts(compute(rules, now=MONDAY))
    assert not [s for s in got if s.startswith("Tue")]
    assert "Wed 09 18:00" in got
    assert [s for s in got if s.startswith("Sat")] == ["Sat 12 10:00", "Sat 12 11:00"]


@pytest.mark.parametrize(
    ("monday", "before_offset", "after_offset"),
    [
        (date(2027, 3, 22), 0, 1),  # clocks go forward Sunday 2027-03-28
        (date(2027, 10, 25), 1, 0),  # clocks go back Sunday 2027-10-31
    ],
)
def test_clock_change_weeks_keep_local_wall_clock(
    monday: date, before_offset: int, after_offset: int
) -> None:
    rules = AvailabilityRules(
        weekly={d: [r("09:00", "10:00")] for d in range(7)}, session_minutes=60, **NO_NOTICE
    )
    now = datetime.combine(monday, time(0), tzinfo=LONDON)
    slots = compute(rules, now=now, days=14)
    assert len(slots) == 14
    assert {s.starts_at.astimezone(LONDON).time() for s in slots} == {time(9)}
    utc_hours = [s.starts_at.hour for s in slots]
    assert utc_hours[:6] == [9 - before_offset] * 6  # Monday–Saturday before the change
    assert utc_hours[6:] == [9 - after_offset] * 8  # from the Sunday of the change on
    assert all(s.ends_at - s.starts_at == timedelta(hours=1) for s in slots)


def test_busy_time_across_a_clock_change_is_matched_in_utc() -> None:
    rules = AvailabilityRules(
        weekly={d: [r("09:00", "10:00")] for d in range(7)}, session_minutes=60, **NO_NOTICE
    )
    now = local(2027, 3, 26, 0)
    # A busy event written in UTC at 08:00 on the Monday after the change is 09:00 BST.
    busy = [(datetime(2027, 3, 29, 8, tzinfo=UTC), datetime(2027, 3, 29, 9, tzinfo=UTC))]
    got = starts(compute(rules, busy, now=now, days=5))
    assert "Mon 29 09:00" not in got
    assert "Sun 28 09:00" in got and "Tue 30 09:00" in got


def test_window_limits_and_is_free() -> None:
    rules = AvailabilityRules(
        weekly=WEEKDAYS_9_TO_12, session_minutes=60, buffer_minutes=0, **NO_NOTICE
    )
    wednesday = local(2026, 12, 9, 0)
    slots = free_slots(
        rules,
        [],
        window_start=wednesday,
        window_end=wednesday + timedelta(days=1),
        now=MONDAY,
        zone=LONDON,
    )
    assert starts(slots) == ["Wed 09 09:00", "Wed 09 10:00", "Wed 09 11:00"]
    assert is_free(rules, [], local(2026, 12, 9, 10), now=MONDAY, zone=LONDON)
    assert not is_free(
        rules, [], local(2026, 12, 9, 10, 30), now=MONDAY, zone=LONDON
    )  # off the grid
    busy = [(local(2026, 12, 9, 10, 30), local(2026, 12, 9, 11))]
    assert not is_free(rules, busy, local(2026, 12, 9, 10), now=MONDAY, zone=LONDON)
    assert [d for d, _ in group_by_day(slots, LONDON)] == [date(2026, 12, 9)]


def test_no_hours_no_slots_and_bad_ranges_refused() -> None:
    assert compute(AvailabilityRules(), now=MONDAY) == []
    assert not AvailabilityRules().has_hours
    with pytest.raises(ValueError):
        r("10:00", "09:00")


def test_a_whole_day_busy_blocks_that_day_only() -> None:
    """An all-day event from the coach's calendar arrives as local midnight to midnight."""
    rules = AvailabilityRules(
        weekly=WEEKDAYS_9_TO_12, session_minutes=60, buffer_minutes=15, **NO_NOTICE
    )
    busy = [(local(2026, 12, 8, 0), local(2026, 12, 9, 0))]
    got = starts(compute(rules, busy, now=MONDAY, days=3))
    assert not [s for s in got if s.startswith("Tue")]
    assert "Mon 07 09:00" in got and "Wed 09 09:00" in got


def test_a_busy_time_in_summer_blocks_by_its_utc_instant() -> None:
    """10:00 BST is 09:00 UTC: a busy time given in UTC blocks the 10:00 local slot."""
    rules = AvailabilityRules(
        weekly={d: [r("09:00", "12:00")] for d in range(5)},
        session_minutes=60,
        buffer_minutes=0,
        **NO_NOTICE,
    )
    now = local(2027, 6, 7, 7)
    busy = [(datetime(2027, 6, 7, 9, tzinfo=UTC), datetime(2027, 6, 7, 10, tzinfo=UTC))]
    assert starts(compute(rules, busy, now=now, days=1)) == ["Mon 07 09:00", "Mon 07 11:00"]

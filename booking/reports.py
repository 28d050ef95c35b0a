"""The firm's reports (read side): registrations per week, time to first contact against the
promise, the funnel, sessions per coach and outcomes per dimension, by month, optionally for one
organisation. Aggregates are computed in SQL (indexes from migration 0014) except the working-day
count of the contact promise, which walks one narrow row per lead of the period.

Suppression: the reports go to NHS bodies, so no figure about fewer than 5 leaders is shown
(counts 1–4, and means or shares over fewer than 5, read "fewer than 5"). A count of 0 is shown.
"""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from statistics import median
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import and_, case, func, literal_column, select
from sqlalchemy.orm import aliased

from .extensions import db
from .models import (
    DIMENSION_LABELS,
    RATED_DIMENSIONS,
    Coach,
    CoachingSession,
    Lead,
    LeadStatus,
    RatingKind,
    SelfRating,
    SessionStatus,
)
from .settings import Settings
from .workflow.leads import contact_due_by

MIN_LEADERS = 5
SUPPRESSED = "fewer than 5"
MONTHS = 12
WEEKS = 12


class Suppressed:
    """A figure withheld because it is about fewer than MIN_LEADERS leaders."""

    def __str__(self) -> str:
        return SUPPRESSED

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Suppressed) or other == SUPPRESSED

    def __hash__(self) -> int:
        return hash(SUPPRESSED)


Cell = int | float | str | Suppressed | None


def count_cell(n: int) -> int | Suppressed:
    return Suppressed() if 0 < n < MIN_LEADERS else n


def over(n: int, value: float | None, digits: int = 1) -> float | Suppressed | None:
    """A mean or share computed over n leaders: withheld below MIN_LEADERS."""
    if n < MIN_LEADERS:
        return Suppressed()
    return None if value is None else round(value, digits)


@dataclass
class ReportTable:
    key: str
    title: str
    columns: list[str]
    rows: list[list[Cell]] = field(default_factory=list)
    # (series name, column index) drawn in the chart, with the first column as labels.
    chart_columns: list[int] = field(default_factory=list)
    # Shorter x-axis labels for the chart than the first column's values (None: those).
    labels: list[str] | None = None

    def chart_labels(self) -> list[str]:
        if self.labels is not None:
            return self.labels
        return [month_label(str(row[0])) if _is_month(row[0]) else str(row[0]) for row in self.rows]

    def series(self) -> list[tuple[str, list[float | None]]]:
        found = []
        for index in self.chart_columns:
            values: list[float | None] = []
            for row in self.rows:
                value = row[index]
                values.append(float(value) if isinstance(value, int | float) else None)
            found.append((self.columns[index], values))
        return found


@dataclass(frozen=True)
class ReportFilters:
    organisation: str = ""

    def where(self, stmt: Any) -> Any:
        if self.organisation:
            return stmt.where(Lead.organisation == self.organisation)
        return stmt


def _month(column: Any) -> Any:
    """'YYYY-MM' of a UTC timestamp, on SQLite or PostgreSQL."""
    if db.engine.dialect.name == "postgresql":
        return func.to_char(func.timezone("UTC", column), literal_column("'YYYY-MM'"))
    return func.strftime("%Y-%m", column)


def _week(column: Any) -> Any:
    """The Monday (YYYY-MM-DD) of a UTC timestamp's week."""
    if db.engine.dialect.name == "postgresql":
        return func.to_char(
            func.date_trunc("week", func.timezone("UTC", column)), literal_column("'YYYY-MM-DD'")
        )
    return func.date(column, "weekday 0", "-6 days")


def _month_starts(now: datetime) -> list[str]:
    year, month = now.year, now.month
    found = []
    for _ in range(MONTHS):
        found.append(f"{year:04d}-{month:02d}")
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)
    return list(reversed(found))


def _month_start(month: str) -> datetime:
    """The first instant (UTC) of a 'YYYY-MM' month."""
    return datetime(int(month[:4]), int(month[5:7]), 1, tzinfo=UTC)


def _after(month: str) -> str:
    year, number = int(month[:4]), int(month[5:7])
    return f"{year + number // 12:04d}-{number % 12 + 1:02d}"


def _window(now: datetime, months: Sequence[str] | None) -> tuple[list[str], datetime, datetime]:
    """The months a table covers (default: the report's 12, up to now's), with the first
    instant of the first and of the month after the last: [start, end) bounds every query, so
    a table of finished months reads only those (see report_store)."""
    found = list(months) if months is not None else _month_starts(now)
    return found, _month_start(found[0]), _month_start(_after(found[-1]))


def registrations_per_week(filters: ReportFilters, *, now: datetime) -> ReportTable:
    monday = (now - timedelta(days=now.weekday())).date()
    weeks = [monday - timedelta(weeks=n) for n in range(WEEKS - 1, -1, -1)]
    start = datetime.combine(weeks[0], datetime.min.time(), tzinfo=now.tzinfo)
    week = _week(Lead.created_at).label("week")
    stmt = filters.where(select(week, func.count()).where(Lead.created_at >= start).group_by(week))
    counts = {str(w): int(n) for w, n in db.session.execute(stmt)}
    table = ReportTable(
        "registrations", "Registrations per week", ["Week starting", "Registrations"], [], [1]
    )
    for w in weeks:
        table.rows.append([w.isoformat(), count_cell(counts.get(w.isoformat(), 0))])
    table.labels = [f"{w:%-d %b}" for w in weeks]
    return table


def working_days_between(start: datetime, end: datetime, settings: Settings) -> int:
    """Whole working days (Mon–Fri) after the day of `start` up to and including the day of
    `end`, in the firm's zone: contacted the same day is 0, the next working day 1."""
    return _working_days(
        start.astimezone(settings.zone).date(), end.astimezone(settings.zone).date()
    )


@lru_cache(maxsize=65536)
def _working_days(first: date, last: date) -> int:
    # numpy-free busday count: whole weeks at five days each, then the rest day by day.
    if last <= first:
        return 0
    weeks, rest = divmod((last - first).days, 7)
    days, day = weeks * 5, first + timedelta(weeks=weeks)
    while day < last:
        day += timedelta(days=1)
        if day.weekday() < 5:
            days += 1
    return days


def _offset_segments(zone: ZoneInfo, start: datetime, end: datetime) -> list[tuple[datetime, int]]:
    """[(until, offset minutes)] covering start..end: the zone's UTC offset changes (clock
    changes) found day by day, then to the minute by bisection."""

    def offset(moment: datetime) -> int:
        delta = moment.astimezone(zone).utcoffset()
        return int(delta.total_seconds() // 60) if delta else 0

    segments: list[tuple[datetime, int]] = []
    day = start.replace(hour=0, minute=0, second=0, microsecond=0)
    current = offset(day)
    while day < end:
        following = day + timedelta(days=1)
        if offset(following) != current:
            lo, hi = day, following  # offset(lo) == current != offset(hi)
            while hi - lo > timedelta(minutes=1):
                mid = lo + (hi - lo) / 2
                lo, hi = (mid, hi) if offset(mid) == current else (lo, mid)
            segments.append((hi, current))
            current = offset(hi)
        day = following
    segments.append((datetime.max.replace(tzinfo=UTC), current))
    return segments


def _local_date(column: Any, settings: Settings, start: datetime, end: datetime) -> Any:
    """'YYYY-MM-DD' of a timestamp in the firm's zone. PostgreSQL knows zones; SQLite does
    not, so there the zone's offsets over start..end become a CASE on the UTC value."""
    if db.engine.dialect.name == "postgresql":
        return func.to_char(
            func.timezone(settings.timezone, column), literal_column("'YYYY-MM-DD'")
        )
    whens = [
        (column < until, func.date(column, f"{minutes:+d} minutes"))
        for until, minutes in _offset_segments(settings.zone, start, end)
    ]
    return case(*whens)


def first_contact(
    filters: ReportFilters,
    *,
    now: datetime,
    settings: Settings,
    months: Sequence[str] | None = None,
) -> ReportTable:
    """Grouped in SQL by (month, local day registered, local day contacted): the promise and
    the working days depend on those days only, so Python sees a few hundred groups, not
    every lead."""
    months, start, end = _window(now, months)
    month = _month(Lead.created_at).label("month")
    created = _local_date(Lead.created_at, settings, start - timedelta(days=1), now).label("c")
    contacted = _local_date(
        Lead.first_contacted_at, settings, start - timedelta(days=1), now + timedelta(days=1)
    ).label("f")
    stmt = filters.where(
        select(month, created, contacted, func.count())
        .where(Lead.created_at >= start, Lead.created_at < end)
        .group_by(month, created, contacted)
    )
    days = settings.contact_promise_working_days
    by_month: dict[str, list[tuple[date, date | None, int]]] = defaultdict(list)
    for m, c, f, n in db.session.execute(stmt):
        by_month[str(m)].append(
            (date.fromisoformat(str(c)), date.fromisoformat(str(f)) if f else None, int(n))
        )
    table = ReportTable(
        "first-contact",
        f"Time to first contact (promise: {days} working days)",
        [
            "Month registered",
            "Registered",
            "Contacted",
            "Contacted within the promise (%)",
            "Median working days to contact",
        ],
        [],
        [3],
    )
    for m in months:
        groups = by_month.get(m, [])
        registered = sum(n for _, _, n in groups)
        contacted_groups = [(c, f, n) for c, f, n in groups if f is not None]
        contacted_count = sum(n for _, _, n in contacted_groups)
        within = sum(n for c, f, n in contacted_groups if f < _promised_day(c, days, settings.zone))
        waits = sorted((_working_days(c, f), n) for c, f, n in contacted_groups)
        table.rows.append(
            [
                m,
                count_cell(registered),
                count_cell(contacted_count),
                over(
                    contacted_count,
                    100 * within / contacted_count if contacted_count else None,
                    0,
                ),
                over(contacted_count, _weighted_median(waits)),
            ]
        )
    return table


@lru_cache(maxsize=4096)
def _promised_day(registered: date, working_days: int, zone: ZoneInfo) -> date:
    """The first local day that is too late: contact on an earlier day kept the promise."""
    noon = datetime.combine(registered, time(12), tzinfo=zone)
    return contact_due_by(noon, working_days, zone).date()


def _weighted_median(values: list[tuple[int, int]]) -> float | None:
    """The median of sorted (value, how many) pairs."""
    total = sum(n for _, n in values)
    if not total:
        return None
    expanded: list[int] = []
    for value, n in values:  # a few hundred groups at most; counts are small per group
        expanded.extend([value] * n)
    return float(median(expanded))


def funnel(
    filters: ReportFilters, *, now: datetime, months: Sequence[str] | None = None
) -> ReportTable:
    months, start, end = _window(now, months)
    # Each lead's sessions summed up once (by lead, only the leads of these months: the
    # current month alone reads a few thousand), then joined: a correlated EXISTS per lead was
    # 5–10× slower at 100,000 leads.
    in_window = filters.where(
        select(Lead.id).where(Lead.created_at >= start, Lead.created_at < end)
    )
    per_lead = (
        select(
            CoachingSession.lead_id.label("lead_id"),
            func.max(case((CoachingSession.status == SessionStatus.HELD, 1), else_=0)).label(
                "held"
            ),
        )
        .where(
            CoachingSession.status.in_((SessionStatus.BOOKED, SessionStatus.HELD)),
            CoachingSession.lead_id.in_(in_window),
        )
        .group_by(CoachingSession.lead_id)
        .subquery()
    )
    month = _month(Lead.created_at).label("month")
    stmt = filters.where(
        select(
            month,
            func.count(),
            func.count(per_lead.c.lead_id),
            func.coalesce(func.sum(per_lead.c.held), 0),
            func.sum(case((Lead.status == LeadStatus.CLOSED, 1), else_=0)),
        )
        .select_from(Lead)
        .outerjoin(per_lead, per_lead.c.lead_id == Lead.id)
        .where(Lead.created_at >= start, Lead.created_at < end)
        .group_by(month)
    )
    found = {str(m): [int(x or 0) for x in rest] for m, *rest in db.session.execute(stmt)}
    table = ReportTable(
        "funnel",
        "From registration to a closed journey (by month registered)",
        ["Month registered", "Registered", "Agreed a session", "Held a session", "Closed"],
        [],
        [1, 2, 3, 4],
    )
    for m in months:
        counts = found.get(m, [0, 0, 0, 0])
        table.rows.append([m, *(count_cell(n) for n in counts)])
    return table


def sessions_per_coach(
    filters: ReportFilters, *, now: datetime, months: Sequence[str] | None = None
) -> ReportTable:
    _months, start, end = _window(now, months)
    month = _month(CoachingSession.starts_at).label("month")
    stmt = (
        select(
            Coach.name,
            month,
            func.count(),
            func.count(func.distinct(CoachingSession.lead_id)),
        )
        .join(Coach, Coach.id == CoachingSession.coach_id)
        .where(
            CoachingSession.status == SessionStatus.HELD,
            CoachingSession.starts_at >= start,
            CoachingSession.starts_at < end,
        )
        .group_by(Coach.id, Coach.name, month)
        .order_by(Coach.name, month)
    )
    if filters.organisation:  # only then is the lead's row needed
        stmt = filters.where(stmt.join(Lead, Lead.id == CoachingSession.lead_id))
    table = ReportTable(
        "sessions-per-coach",
        "Sessions held per coach",
        ["Coach", "Month", "Sessions held", "Leaders"],
        [],
        [],
    )
    for name, m, sessions, leaders in db.session.execute(stmt):
        suppressed = leaders < MIN_LEADERS
        table.rows.append(
            [
                name,
                str(m),
                Suppressed() if suppressed else int(sessions),
                count_cell(int(leaders)),
            ]
        )
    return table


def outcomes(
    filters: ReportFilters, *, now: datetime, months: Sequence[str] | None = None
) -> ReportTable:
    """Mean change (after − before) per dimension and month the follow-up was answered, over
    the leaders who rated that dimension both times."""
    months, start, end = _window(now, months)
    before, after = aliased(SelfRating), aliased(SelfRating)
    month = _month(after.created_at).label("month")
    stmt = filters.where(
        select(
            month,
            after.dimension,
            func.count(),
            func.avg(after.value - before.value),
            func.avg(before.value),
            func.avg(after.value),
        )
        .select_from(after)
        .join(
            before,
            and_(
                before.lead_id == after.lead_id,
                before.dimension == after.dimension,
                before.kind == RatingKind.BEFORE,
            ),
        )
        .join(Lead, Lead.id == after.lead_id)
        .where(after.kind == RatingKind.AFTER, after.created_at >= start, after.created_at < end)
        .group_by(month, after.dimension)
    )
    found = {(str(m), d): (int(n), ch, b, a) for m, d, n, ch, b, a in db.session.execute(stmt)}
    columns = ["Month answered"]
    for d in RATED_DIMENSIONS:
        label = DIMENSION_LABELS[d]
        columns += [f"{label}: mean change", f"{label}: leaders"]
    table = ReportTable(
        "outcomes",
        "Outcomes: mean change in self-rating (after − before)",
        columns,
        [],
        [1, 3, 5],
    )
    for m in months:
        row: list[Cell] = [m]
        for d in RATED_DIMENSIONS:
            n, change, _b, _a = found.get((m, d), (0, None, None, None))
            row += [over(n, float(change) if change is not None else None, 2), count_cell(n)]
        table.rows.append(row)
    return table


def organisations() -> list[str]:
    """Organisations with at least MIN_LEADERS leads: a filter for a smaller one would
    single people out."""
    stmt = (
        select(Lead.organisation)
        # (erasure blanks the organisation: erased leads drop out here, and the query reads
        # only the (organisation, created_at) index)
        .where(Lead.organisation != "")
        .group_by(Lead.organisation)
        .having(func.count() >= MIN_LEADERS)
        .order_by(Lead.organisation)
    )
    return [str(o) for o in db.session.scalars(stmt)]


TABLE_KEYS = ("registrations", "first-contact", "funnel", "sessions-per-coach", "outcomes")
# The tables counted by month (the registrations are by week, and cheap: always counted live).
MONTHLY_KEYS = ("first-contact", "funnel", "sessions-per-coach", "outcomes")


def table(
    key: str,
    filters: ReportFilters,
    *,
    now: datetime,
    settings: Settings,
    months: Sequence[str] | None = None,
) -> ReportTable | None:
    """One report by its key (the CSV of one table computes only that one), over `months`
    (default: the 12 up to now's; monthly tables only)."""
    if key == "registrations":
        return registrations_per_week(filters, now=now)
    if key == "first-contact":
        return first_contact(filters, now=now, settings=settings, months=months)
    if key == "funnel":
        return funnel(filters, now=now, months=months)
    if key == "sessions-per-coach":
        return sessions_per_coach(filters, now=now, months=months)
    if key == "outcomes":
        return outcomes(filters, now=now, months=months)
    return None


def report_months(now: datetime) -> list[str]:
    """The report's 12 months ('YYYY-MM', oldest first), the last one now's."""
    return _month_starts(now)


# ----- CSV ----------------------------------------------------------------------------------

_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def csv_safe(value: Any) -> str:
    """A cell a spreadsheet will not run: text starting with =, +, -, @, a tab or a carriage
    return gets a leading apostrophe (OWASP's advice for CSV injection). Numbers stay numbers."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int | float):
        return str(value)
    text = str(value)
    return "'" + text if text.startswith(_FORMULA_STARTS) else text


def to_csv(columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([csv_safe(c) for c in columns])
    for row in rows:
        writer.writerow([csv_safe(v) for v in row])
    return out.getvalue()


LEAD_COLUMNS = [
    "id",
    "registered",
    "full_name",
    "email",
    "phone",
    "organisation",
    "role",
    "dimensions",
    "status",
    "first_contacted",
    "coach",
]


def lead_rows(filters: ReportFilters, settings: Settings) -> Iterable[list[Any]]:
    """Every lead whose data has not been erased, for the firm's CRM (streamed; plain columns,
    not ORM objects: 100,000 leads)."""
    stmt = filters.where(
        select(
            Lead.id,
            Lead.created_at,
            Lead.full_name,
            Lead.email,
            Lead.phone,
            Lead.organisation,
            Lead.role,
            Lead.dimensions,
            Lead.status,
            Lead.first_contacted_at,
            Coach.name,
        )
        .outerjoin(Coach, Coach.id == Lead.assigned_coach_id)
        .where(Lead.erased_at.is_(None))
        .order_by(Lead.id)
    ).execution_options(yield_per=2000)
    zone = settings.zone
    labels = {d.value: DIMENSION_LABELS[d] for d in DIMENSION_LABELS}

    def when(moment: datetime | None) -> str:
        return moment.astimezone(zone).isoformat(timespec="minutes") if moment else ""

    for row in db.session.execute(stmt):
        (lead_id, created, name, email, phone, org, role, dims, status, contacted, coach) = row
        yield [
            lead_id,
            when(created),
            name,
            email,
            phone or "",
            org,
            role,
            ", ".join(labels.get(d, d) for d in (dims or "").split(",") if d),
            LeadStatus(status).label,
            when(contacted),
            coach or "",
        ]


def month_label(month: str) -> str:
    """'2026-03' → 'Mar 2026' (chart axes)."""
    return date(int(month[:4]), int(month[5:7]), 1).strftime("%b %Y")


def _is_month(value: object) -> bool:
    text = str(value)
    return len(text) == 7 and text[4] == "-" and text[:4].isdigit() and text[5:].isdigit()


__all__ = [
    "MIN_LEADERS",
    "SUPPRESSED",
    "ReportFilters",
    "ReportTable",
    "Suppressed",
    "csv_safe",
    "first_contact",
    "funnel",
    "lead_rows",
    "organisations",
    "outcomes",
    "registrations_per_week",
    "sessions_per_coach",
    "to_csv",
    "working_days_between",
]

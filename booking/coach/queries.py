"""The coach area's read side: the lead list and its filters, and what a lead's page shows.

Plain functions that read the database and return what the templates need. No request, no
flash, no writes: the views parse the request, call these, and render.
"""

from __future__ import annotations

import enum
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from sqlalchemy import (
    Integer,
    Row,
    Select,
    case,
    exists,
    func,
    literal,
    literal_column,
    or_,
    select,
    table,
    text,
    type_coerce,
    union_all,
)
from sqlalchemy.orm import aliased, contains_eager, selectinload

from ..database import SQLITE_SEARCH_TABLE
from ..extensions import db
from ..inputs import parse_id
from ..kinds import EventKind, Role
from ..limits import SEARCH_MAX
from ..models import (
    Coach,
    CoachingSession,
    Dimension,
    Lead,
    LeadCount,
    LeadEvent,
    LeadStatus,
    OutboxMessage,
    OutboxStatus,
    PartStat,
    Proposal,
    ProposalStatus,
    QuestionnaireResponse,
    SessionStatus,
    UTCDateTime,
)
from ..questionnaire import (
    AnsweredQuestion,
    Questionnaire,
    QuestionnaireError,
    answered_questions,
    load_questionnaire,
)
from ..references import reference_lead_id
from ..settings import Settings
from ..timefmt import format_local, time_ago
from ..workflow.leads import contact_due_by, is_overdue
from ..workflow.lifecycle import booked_session, coach_moves
from ..workflow.outcomes import sessions_used
from ..workflow.responses import (
    accepted_by_both,
    declined_roles,
    partstat_of,
    party_name,
    questionnaire_responses,
)
from ..workflow.scheduling import NewTimeRequest, open_new_time_request

log = logging.getLogger(__name__)

PER_PAGE = 50


# ----- the list ---------------------------------------------------------------------------

OPEN_STATUSES = [s for s in LeadStatus if s.is_open]

# Each column the list sorts by, and the direction a first click on its header sorts in.
SORTS = {"registered": "desc", "activity": "desc", "next": "asc"}
# The filter fields: a request with none of them is the default view ("my open leads"); the
# form always sends them all, so there an empty value means "any".
FILTER_KEYS = ("status", "coach", "dimension", "q")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# A lead with no booked session sorts after every session whichever way "next session" runs.
_NO_SESSION_ASC = datetime(9999, 12, 31, tzinfo=UTC)
_NO_SESSION_DESC = datetime(1900, 1, 1, tzinfo=UTC)
_CURSOR = re.compile(r"(-?\d{1,18})_(\d{1,10})")


@dataclass(frozen=True)
class Cursor:
    """Where a page of the list starts or ends: the sort key of a row and its id (the tie-break),
    as `<microseconds since 1970>_<id>` in the URL."""

    key: datetime
    id: int

    def __str__(self) -> str:
        return f"{(self.key - _EPOCH) // timedelta(microseconds=1)}_{self.id}"

    @classmethod
    def parse(cls, raw: Any) -> Cursor | None:
        match = _CURSOR.fullmatch(raw) if isinstance(raw, str) else None
        lead_id = parse_id(match.group(2)) if match else None
        if match is None or lead_id is None:
            return None
        try:
            key = _EPOCH + timedelta(microseconds=int(match.group(1)))
        except OverflowError:
            return None
        if not _NO_SESSION_DESC <= key <= _NO_SESSION_ASC:
            return None
        return cls(key, lead_id)


@dataclass(frozen=True)
class LeadFilters:
    status: str = ""
    coach: str = ""
    dimension: str = ""
    q: str = ""
    sort: str = "registered"
    dir: str = "desc"
    # Keyset pagination: the rows after (or before) this one, in the sort order.
    after: Cursor | None = None
    before: Cursor | None = None

    @classmethod
    def from_args(cls, args: Any) -> LeadFilters:
        if not any(key in args for key in FILTER_KEYS):
            status, coach = "open", "me"  # the default view: my open leads
        else:
            status, coach = args.get("status", ""), args.get("coach", "")
        if status not in {s.value for s in LeadStatus} | {"open"}:
            status = ""
        if not (coach in ("me", "none") or parse_id(coach)):
            coach = ""
        dimension = args.get("dimension", "")
        if dimension not in {d.value for d in Dimension}:
            dimension = ""
        sort = args.get("sort", "")
        sort = sort if sort in SORTS else "registered"
        direction = args.get("dir", "")
        direction = direction if direction in ("asc", "desc") else SORTS[sort]
        after = Cursor.parse(args.get("after"))
        return cls(
            status=status,
            coach=coach,
            dimension=dimension,
            q=" ".join(args.get("q", "").split())[:SEARCH_MAX],
            sort=sort,
            dir=direction,
            after=after,
            before=None if after else Cursor.parse(args.get("before")),
        )

    @property
    def is_default_view(self) -> bool:
        return (self.status, self.coach, self.dimension, self.q) == ("open", "me", "", "")

    def args(self, **changes: Any) -> dict[str, Any]:
        """The query string for this view with `changes`; the first page unless a cursor is
        given. Status and coach are always there (even empty, meaning "any"), so a link never
        falls back to the default view by accident."""
        values: dict[str, Any] = {
            "status": self.status,
            "coach": self.coach,
            "dimension": self.dimension,
            "q": self.q,
            "sort": self.sort,
            "dir": self.dir,
        }
        values.update(changes)
        if values["dir"] == SORTS[values["sort"]]:
            del values["dir"]
        if values["sort"] == "registered":
            del values["sort"]
        return {
            k: str(v)
            for k, v in values.items()
            if v is not None and (v != "" or k in FILTER_KEYS[:2])
        }

    def sort_args(self, column: str) -> dict[str, Any]:
        """The link on a column's header: sort by it, or turn it round if it is the sort."""
        if self.sort == column:
            return self.args(dir="asc" if self.dir == "desc" else "desc")
        return self.args(sort=column, dir=SORTS[column])

    def aria_sort(self, column: str) -> str:
        if self.sort != column:
            return "none"
        return "ascending" if self.dir == "asc" else "descending"

    @property
    def filtered(self) -> bool:
        return bool(self.status or self.coach or self.dimension or self.q)


def _like(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


# Shorter searches cannot use a trigram index (SQLite's or PostgreSQL's): they scan.
TRIGRAM = 3


def _sqlite_search(q: str) -> Select[Any]:
    """Ids of leads whose name, email or organisation contains `q` (SQLite's FTS5 index)."""
    phrase = '"' + q.replace('"', '""') + '"'  # one quoted phrase: a plain substring match
    return (
        select(literal_column("rowid", Integer))
        .select_from(table(SQLITE_SEARCH_TABLE))
        .where(literal_column(SQLITE_SEARCH_TABLE).op("MATCH")(phrase))
    )


def _is_sqlite() -> bool:
    return db.session.get_bind().dialect.name == "sqlite"


# Dimensions are stored as a comma-separated list of fixed values, none part of another, so a
# plain substring match finds one exactly. PostgreSQL estimates a LIKE on the column itself
# from its statistics (a handful of distinct lists); wrapped in commas it guessed 1 row in
# 10,000 where half the leads matched, and sorted all of a coach's leads (35 ms at 100,000).
assert not any(a != b and a.value in b.value for a in Dimension for b in Dimension)


def _has_dimension(column: Any, dimension: str) -> Any:
    return column.like(f"%{dimension}%")


def _unindexed(column: Any) -> Any:
    """`column` as SQLite's planner sees no index for: unary + is a no-op on the value."""
    return type_coerce(literal_column(f"+{column.table.name}.{column.name}"), column.type)


def _conditions(
    filters: LeadFilters, me: Coach, *, with_status: bool = True, by_index: bool = True
) -> list[Any]:
    """The WHERE clauses of the filters. Each narrows along an index (created_at,
    (status, created_at), (assigned_coach_id, created_at) and their updated_at twins), unless
    `by_index` is False and the database is SQLite: then the status and coach are checked on
    each row of whatever walk the query's order asks for."""
    status, coach = Lead.status, Lead.assigned_coach_id
    if not by_index and _is_sqlite():
        status, coach = _unindexed(status), _unindexed(coach)
    found: list[Any] = []
    if with_status and filters.status == "open":
        found.append(status.in_(OPEN_STATUSES))
    elif with_status and filters.status:
        found.append(status == LeadStatus(filters.status))
    if filters.coach == "me":
        found.append(coach == me.id)
    elif filters.coach == "none":
        found.append(coach.is_(None))
    elif filters.coach:
        found.append(coach == int(filters.coach))
    if filters.dimension:
        found.append(_has_dimension(Lead.dimensions, filters.dimension))
    quoted = reference_lead_id(filters.q) if filters.q else None
    if quoted is not None:
        # A reference number the leader quoted ("PS-000123"): that lead.
        found.append(Lead.id == quoted)
    elif filters.q:
        pattern = _like(filters.q)
        columns = (Lead.full_name, Lead.email, Lead.organisation)
        if _is_sqlite() and len(filters.q) >= TRIGRAM:
            # The FTS5 trigram index (migration 0017) finds substrings of 3+ characters,
            # ignoring case, in all three columns at once.
            found.append(Lead.id.in_(_sqlite_search(filters.q)))
        elif _is_sqlite():
            # SQLite's LIKE ignores ASCII case already (as its lower() does); ILIKE would call
            # lower() on every column of every row, three times slower.
            found.append(or_(*(c.like(pattern, escape="\\") for c in columns)))
        else:
            found.append(or_(*(c.ilike(pattern, escape="\\") for c in columns)))
    return found


_Q = TypeVar("_Q", bound=Select[Any, Any])


def _after(key: Any, lead_id: Any, cursor: Cursor, descending: bool) -> Any:
    """Rows after `cursor` in the (key, id) order. The redundant bound on the key alone lets
    the database start its index walk at the cursor instead of filtering its way there."""
    bound = literal(cursor.key, UTCDateTime())
    if descending:
        return (key <= bound) & or_(key < bound, lead_id < cursor.id)
    return (key >= bound) & or_(key > bound, lead_id > cursor.id)


def _ordered(query: _Q, key: Any, lead_id: Any, descending: bool) -> _Q:
    if descending:
        return query.order_by(key.desc(), lead_id.desc())
    return query.order_by(key.asc(), lead_id.asc())


def _by_next_session(
    filters: LeadFilters, me: Coach, cursor: Cursor | None, descending: bool, limit: int
) -> Select[Lead, datetime]:
    """The list by next session: the first `limit` leads with a booked session, walking the
    session index in time order, and the first `limit` leads without one (they sort after
    every session, by id), merged. Joining every lead to its session and sorting the lot
    grew with the table (50 ms at 100,000 leads)."""
    none = _NO_SESSION_ASC if filters.dir == "asc" else _NO_SESSION_DESC
    conditions = _conditions(filters, me)
    starts, lead_id = CoachingSession.starts_at, CoachingSession.lead_id
    booked = (
        select(lead_id.label("lead_id"), starts.label("key"))
        .join(Lead, Lead.id == lead_id)
        .where(CoachingSession.status == SessionStatus.BOOKED, *conditions)
    )
    if cursor is not None:
        booked = booked.where(_after(starts, lead_id, cursor, descending))
    parts: list[Select[int, datetime]] = [
        _ordered(booked, starts, lead_id, descending).limit(limit)
    ]
    # A lead without a booked session sorts as if its session were at `none`: after the cursor
    # if `none` is, or by id if the cursor is one of them. SQLite would read every lead of the
    # filter from a (status, ...) or (coach, ...) index and sort them by id (150 ms for the
    # open leads at 100,000); walking the table in id order stops after `limit` matches.
    # (coach, status) is in id order already.
    if cursor is None or cursor.key == none or (cursor.key > none) == descending:
        single_status = filters.status not in ("", "open")
        rest = select(Lead.id.label("lead_id"), literal(none, UTCDateTime()).label("key")).where(
            *_conditions(filters, me, by_index=bool(filters.coach and single_status)),
            ~exists().where(
                CoachingSession.lead_id == Lead.id,
                CoachingSession.status == SessionStatus.BOOKED,
            ),
        )
        if cursor is not None and cursor.key == none:
            rest = rest.where(Lead.id < cursor.id if descending else Lead.id > cursor.id)
        by_id = Lead.id.desc() if descending else Lead.id.asc()
        parts.append(rest.order_by(by_id).limit(limit))
    merged = union_all(*(select(part.subquery()) for part in parts)).subquery()
    query = select(Lead, merged.c.key).join(merged, merged.c.lead_id == Lead.id)
    return _ordered(query, merged.c.key, Lead.id, descending)


def lead_query(filters: LeadFilters, me: Coach, limit: int) -> Select[Lead, datetime]:
    """The first `limit` leads of the list in its sort order, each with its sort key; the
    page starts after (or ends before) the cursor, found by comparing (key, id) rather than by
    skipping rows, so the 500th page costs what the first does. The coach comes joined, so
    there are no N+1 queries."""
    descending = filters.dir == "desc"
    cursor = filters.after or filters.before
    if filters.before is not None:
        descending = not descending  # read backwards from the cursor, then turn the page round
    if filters.sort == "next":
        return _by_next_session(filters, me, cursor, descending, limit).limit(limit)
    key = Lead.updated_at if filters.sort == "activity" else Lead.created_at
    query = select(Lead, key).where(*_conditions(filters, me))
    order_key: Any = key
    if filters.sort == "registered" and filters.q and _is_sqlite():
        # A substring search cannot use an index. Walking the created_at index row by row to
        # find a few matches is ~6x slower in SQLite (200 ms at 100,000 leads, no match) than
        # scanning the table and sorting the matches; unary + is a no-op that keeps the
        # planner off the index.
        order_key = literal_column("+lead.created_at")
    if cursor is not None:
        query = query.where(_after(order_key, Lead.id, cursor, descending))
    return _ordered(query, order_key, Lead.id, descending).limit(limit)


@dataclass(frozen=True)
class WaitingOn:
    """Whose move it is on a lead, and why: "coach", "leader" or "" (nobody's)."""

    who: str
    why: str


def waiting_on(
    lead: Lead,
    session: CoachingSession | None,
    latest_proposal: Proposal | None,
    now: datetime,
) -> WaitingOn:
    status = lead.status
    if status == LeadStatus.NEW:
        return WaitingOn("coach", "New lead: make contact")
    if status == LeadStatus.CONTACTED:
        if latest_proposal is not None and latest_proposal.status == ProposalStatus.NONE_SUIT:
            return WaitingOn("coach", "None of the times suit")
        return WaitingOn("coach", "Propose times")
    if status == LeadStatus.TIMES_PROPOSED:
        return WaitingOn("leader", "Times proposed, not yet chosen")
    if status == LeadStatus.AGREED and session is not None:
        if session.new_time_requested_at is not None:
            return WaitingOn("coach", "Asked for a new time")
        if declined_roles(session):
            return WaitingOn("coach", "Declined: move or cancel the session")
        if session.starts_at <= now:
            return WaitingOn("coach", "Session started: mark it held")
        if (
            latest_proposal is not None
            and latest_proposal.status == ProposalStatus.OPEN
            and latest_proposal.moves_session_id == session.id
        ):
            return WaitingOn("leader", "New times proposed, not yet chosen")
        if session.leader_partstat == PartStat.NEEDS_ACTION:
            return WaitingOn("leader", "Invitation not answered")
        return WaitingOn("", "Booked")
    if status == LeadStatus.HELD:
        return WaitingOn("coach", "Session held: close the lead when done")
    return WaitingOn("", "Closed")


@dataclass(frozen=True)
class LeadRow:
    lead: Lead
    ago: str
    overdue: bool
    due_by: datetime
    session: CoachingSession | None
    # The next session, short: "Thu 1 Apr, 11:00 BST" (the year when not this one).
    session_when: str
    activity_ago: str
    waiting: WaitingOn
    cursor: Cursor


@dataclass(frozen=True)
class LeadList:
    """One page of the lead list."""

    items: list[LeadRow]
    has_next: bool
    has_prev: bool
    # Leads on this page whose booked session someone has declined.
    declined: set[int]
    coaches: list[Coach]
    # How many leads each status has under the other filters ("open" and "" too).
    counts: dict[str, int]

    @property
    def first(self) -> Cursor | None:
        return self.items[0].cursor if self.items else None

    @property
    def last(self) -> Cursor | None:
        return self.items[-1].cursor if self.items else None


def _counted(filters: LeadFilters, me: Coach) -> Select[LeadStatus, int]:
    """Leads per status under the coach and dimension filters, from lead_count (kept by
    triggers, migration 0018): a sum over at most statuses x coaches x dimension sets rows,
    however many leads there are."""
    where: list[Any] = []
    if filters.coach == "me":
        where.append(LeadCount.coach_id == me.id)
    elif filters.coach == "none":
        where.append(LeadCount.coach_id == 0)
    elif filters.coach:
        where.append(LeadCount.coach_id == int(filters.coach))
    if filters.dimension:
        where.append(_has_dimension(LeadCount.dimensions, filters.dimension))
    return select(LeadCount.status, func.sum(LeadCount.n)).where(*where).group_by(LeadCount.status)


def status_counts(filters: LeadFilters, me: Coach) -> dict[str, int]:
    """Leads per status under every filter but the status: one GROUP BY, of the counts table
    unless there is a search (a search's matches are counted where they are found)."""
    if not filters.q:
        return _by_status(db.session.execute(_counted(filters, me)).all())
    query = (
        select(Lead.status, func.count())
        .where(*_conditions(filters, me, with_status=False))
        .group_by(Lead.status)
    )
    if not _is_sqlite():
        # PostgreSQL prices ILIKE as cheap and reads every lead to count a search's matches
        # (~300 ms at 100,000 leads) instead of taking them from the trigram indexes (~20 ms).
        # Only for this query: the setting is put back before anything else runs.
        db.session.execute(text("SET LOCAL enable_seqscan = off"))
        try:
            rows = db.session.execute(query).all()
        finally:
            db.session.execute(text("SET LOCAL enable_seqscan = on"))
    else:
        rows = db.session.execute(query).all()
    return _by_status(rows)


def _by_status(rows: Sequence[Row[LeadStatus, int]]) -> dict[str, int]:
    counts = {status.value: 0 for status in LeadStatus}
    counts.update({LeadStatus(status).value: int(n or 0) for status, n in rows})
    counts["open"] = sum(counts[s.value] for s in OPEN_STATUSES)
    counts[""] = sum(counts[s.value] for s in LeadStatus)
    return counts


def _latest_proposals(lead_ids: list[int]) -> dict[int, Proposal]:
    if not lead_ids:
        return {}
    newest = (
        select(func.max(Proposal.id))
        .where(Proposal.lead_id.in_(lead_ids))
        .group_by(Proposal.lead_id)
        .scalar_subquery()
    )
    return {
        p.lead_id: p for p in db.session.scalars(select(Proposal).where(Proposal.id.in_(newest)))
    }


def _booked_sessions(lead_ids: list[int]) -> dict[int, CoachingSession]:
    if not lead_ids:
        return {}
    return {
        s.lead_id: s
        for s in db.session.scalars(
            select(CoachingSession).where(
                CoachingSession.lead_id.in_(lead_ids),
                CoachingSession.status == SessionStatus.BOOKED,
            )
        )
    }


def _short_when(session: CoachingSession | None, now: datetime, zone: ZoneInfo) -> str:
    if session is None:
        return ""
    local = session.starts_at.astimezone(zone)
    year = "" if local.year == now.astimezone(zone).year else f" {local.year}"
    return f"{local:%a} {local.day} {local:%b}{year}, {local:%H:%M} {local.tzname()}"


def lead_list(filters: LeadFilters, me: Coach, *, now: datetime, settings: Settings) -> LeadList:
    """A page of the list in a fixed number of queries, however many leads there are."""
    rows = list(db.session.execute(lead_query(filters, me, PER_PAGE + 1)))
    more = len(rows) > PER_PAGE
    rows = rows[:PER_PAGE]
    if filters.before is not None:
        rows.reverse()
        has_prev, has_next = more, True
    else:
        has_prev, has_next = filters.after is not None, more
    ids = [lead.id for lead, _ in rows]
    sessions = _booked_sessions(ids)
    proposals = _latest_proposals(ids)
    days, zone = settings.contact_promise_working_days, settings.zone
    items = [
        LeadRow(
            lead=lead,
            ago=time_ago(lead.created_at, now),
            overdue=is_overdue(lead, now, days, zone),
            due_by=contact_due_by(lead.created_at, days, zone),
            session=sessions.get(lead.id),
            session_when=_short_when(sessions.get(lead.id), now, zone),
            activity_ago=time_ago(lead.updated_at, now),
            waiting=waiting_on(lead, sessions.get(lead.id), proposals.get(lead.id), now),
            cursor=Cursor(key, lead.id),
        )
        for lead, key in rows
    ]
    return LeadList(
        items=items,
        has_next=has_next,
        has_prev=has_prev,
        declined={s.lead_id for s in sessions.values() if declined_roles(s)},
        coaches=list(db.session.scalars(select(Coach).order_by(Coach.name))),
        counts=status_counts(filters, me),
    )


# ----- a lead's page ----------------------------------------------------------------------


def session_answers(session: CoachingSession) -> dict[str, Any]:
    """Each party's answer to the invitation, as the session panel shows it."""
    return {
        "parties": [(role, party_name(session, role), partstat_of(session, role)) for role in Role],
        "accepted_by_both": accepted_by_both(session),
        "declined": declined_roles(session),
    }


def reflections(
    sessions: list[CoachingSession], settings: Settings
) -> tuple[list[dict[str, Any]], str | None]:
    """The leader's questionnaire answers per session (newest session first), worded as the
    questionnaire file words them; and a problem with that file, if any."""
    responses = questionnaire_responses(sessions)
    if not responses:
        return [], None
    questionnaire: Questionnaire | None = None
    problem: str | None = None
    try:
        questionnaire = load_questionnaire(settings.questionnaire_path)
    except QuestionnaireError as error:
        # A broken file must not hide the lead's page; the answers still show, by question id.
        log.error("questionnaire file unreadable on a lead's page: %s", error)
        problem = str(error)
    found = []
    for session in sessions:
        response = responses.get(session.id)
        if response is None:
            continue
        rows = (
            answered_questions(questionnaire, response.answers)
            if questionnaire
            else [AnsweredQuestion(qid, "text", str(v)) for qid, v in response.answers.items()]
        )
        found.append({"session": session, "updated_at": response.updated_at, "rows": rows})
    return found, problem


@dataclass
class LeadPage:
    """Everything a lead's page shows apart from its forms (the views build those)."""

    lead: Lead
    now: datetime
    ago: str
    overdue: bool
    due_by: datetime
    moves: list[LeadStatus]
    proposals: list[Proposal]
    sessions: list[CoachingSession]
    answers: dict[int, dict[str, Any]]
    # (session, role, name) for each party who declined a booked session.
    declined: list[tuple[CoachingSession, Role, str]]
    reflections: list[dict[str, Any]]
    reflection_problem: str | None
    # Active coaches, for handing the lead on.
    coaches: list[Coach]
    emails: list[OutboxMessage]
    failed_emails: list[OutboxMessage]
    can_schedule: bool
    # An "Agreed" lead's booked session, which can be offered new times.
    moving: CoachingSession | None
    # The leader's open request to move that session.
    time_request: NewTimeRequest | None
    # Proposed times the leader (or a coach) turned into a session: highlighted on the page.
    chosen_time_ids: set[int]
    # How each cancelled session came to be cancelled, in words (session id → words).
    cancellations: dict[int, str]
    # Proposing times is the next thing to do: the form starts unfolded.
    propose_next: bool

    def context(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.__dataclass_fields__}


def lead_page(lead: Lead, *, now: datetime, settings: Settings) -> LeadPage:
    proposals = list(
        db.session.scalars(
            select(Proposal)
            .where(Proposal.lead_id == lead.id)
            .options(selectinload(Proposal.times))
            .order_by(Proposal.created_at.desc(), Proposal.id.desc())
        )
    )
    sessions = list(
        db.session.scalars(
            select(CoachingSession)
            .where(CoachingSession.lead_id == lead.id)
            .order_by(CoachingSession.starts_at.desc())
        )
    )
    coaches = list(db.session.scalars(select(Coach).where(Coach.active).order_by(Coach.name)))
    emails = list(
        db.session.scalars(
            select(OutboxMessage)
            .where(OutboxMessage.lead_id == lead.id)
            .order_by(OutboxMessage.created_at.desc(), OutboxMessage.id.desc())
        )
    )
    found, problem = reflections(sessions, settings)
    days, zone = settings.contact_promise_working_days, settings.zone
    moving = booked_session(lead) if lead.status == LeadStatus.AGREED else None
    return LeadPage(
        lead=lead,
        now=now,
        ago=time_ago(lead.created_at, now),
        overdue=is_overdue(lead, now, days, zone),
        due_by=contact_due_by(lead.created_at, days, zone),
        moves=coach_moves(lead.status),
        proposals=proposals,
        sessions=sessions,
        answers={s.id: session_answers(s) for s in sessions},
        declined=[(s, role, party_name(s, role)) for s in sessions for role in declined_roles(s)],
        reflections=found,
        reflection_problem=problem,
        coaches=coaches,
        emails=emails,
        failed_emails=[m for m in emails if m.status == OutboxStatus.FAILED],
        can_schedule=lead.status
        in (LeadStatus.NEW, LeadStatus.CONTACTED, LeadStatus.TIMES_PROPOSED)
        # The next session of a journey, while it has room for one.
        or (lead.status == LeadStatus.HELD and sessions_used(lead) < settings.journey_max_sessions),
        moving=moving,
        time_request=_time_request(moving, proposals),
        chosen_time_ids={s.proposed_time_id for s in sessions if s.proposed_time_id},
        cancellations=cancellation_words(lead, sessions),
        propose_next=lead.status in (LeadStatus.NEW, LeadStatus.CONTACTED)
        and not any(p.status == ProposalStatus.OPEN for p in proposals),
    )


def cancellation_words(lead: Lead, sessions: list[CoachingSession]) -> dict[int, str]:
    """Who cancelled each cancelled session and why, worded by what happened ("Sian cancelled
    it: “…”"), not the stored reason ("Cancelled by Sian: …"), which is for the calendars."""
    words: dict[int, str] = {}
    for event in lead.events:
        if event.kind != EventKind.SESSION_CANCELLED:
            continue
        session_id = int(event.detail.get("session_id") or 0)
        who = event.actor.name if event.actor else event.actor_label
        if event.detail.get("by") == "leader":
            said = str(event.detail.get("leader_words") or "")
            words[session_id] = f"{who} (the leader) cancelled it" + (
                f": “{said}”" if said else ", giving no reason"
            )
        elif "reason" in event.detail:
            words[session_id] = f"{who} cancelled it: “{event.detail['reason']}”"
    for session in sessions:
        if session.status == SessionStatus.CANCELLED and session.id not in words:
            if lead.status == LeadStatus.WITHDRAWN and not lead.erased_at:
                words[session.id] = f"{lead.full_name} (the leader) withdrew their interest"
            else:
                words[session.id] = session.cancel_reason
    return words


def _time_request(
    session: CoachingSession | None, proposals: list[Proposal]
) -> NewTimeRequest | None:
    request = open_new_time_request(session)
    if request is None:
        return None
    # Reopened by "none of the new times suit" when that answer is what set it.
    none_suit = any(
        p.moves_session_id == request.session.id
        and p.status == ProposalStatus.NONE_SUIT
        and p.responded_at is not None
        and p.responded_at >= request.at
        for p in proposals
    )
    return replace(request, none_suit=none_suit)


def coach_accounts() -> list[Coach]:
    """Every coach account for the admin's list: active ones first, then by name."""
    return list(
        db.session.scalars(select(Coach).order_by(Coach.active.desc(), Coach.name, Coach.id))
    )


# ----- the coach's home page: what needs them, and their week --------------------------------

# At most this many items of each kind of "needs you" (the oldest first); the rest are counted
# as "more" and the list or the lead pages have them all.
NEEDS_CAP = 25


class NeedKind(enum.StrEnum):
    OVERDUE = "overdue"
    NEW_TIME = "new-time"
    NONE_SUIT = "none-suit"
    DECLINED = "declined"
    NOT_HELD = "not-held"
    EMAIL = "email"


NEED_HEADINGS = {
    NeedKind.OVERDUE: "New leads not contacted in time",
    NeedKind.NEW_TIME: "Leaders who asked for a new time",
    NeedKind.NONE_SUIT: "Leaders who said none of the times suit",
    NeedKind.DECLINED: "Declined invitations",
    NeedKind.NOT_HELD: "Sessions that started and are not marked held",
    NeedKind.EMAIL: "Emails that may not have arrived",
}


@dataclass(frozen=True)
class NeedItem:
    kind: NeedKind
    lead: Lead
    # Why it is here, and since when.
    why: str
    since: datetime
    # What to do, and where on the lead's page to do it.
    action: str
    anchor: str = ""


@dataclass(frozen=True)
class NeedGroup:
    kind: NeedKind
    heading: str
    items: list[NeedItem]
    more: bool


@dataclass(frozen=True)
class WeekSession:
    session: CoachingSession
    reflection_in: bool
    # "09:00–10:00 BST"
    times: str


@dataclass(frozen=True)
class WeekDay:
    day: date
    sessions: list[WeekSession]


@dataclass(frozen=True)
class HomeOptions:
    """What the home page shows, from its URL: whose leads, and which week."""

    scope_all: bool
    week: date  # the Monday

    @classmethod
    def from_args(cls, args: Any, me: Coach, *, now: datetime, settings: Settings) -> HomeOptions:
        try:
            day = date.fromisoformat(args.get("week", ""))
        except ValueError:
            day = now.astimezone(settings.zone).date()
        if not date(2000, 1, 1) <= day <= date(2200, 1, 1):
            day = now.astimezone(settings.zone).date()
        return cls(
            scope_all=me.is_admin and args.get("scope") == "all",
            week=day - timedelta(days=day.weekday()),
        )

    @property
    def prev_week(self) -> date:
        return self.week - timedelta(days=7)

    @property
    def next_week(self) -> date:
        return self.week + timedelta(days=7)

    def args(self, **changes: Any) -> dict[str, str]:
        values: dict[str, Any] = {"scope": "all" if self.scope_all else "", "week": self.week}
        values.update(changes)
        return {k: str(v) for k, v in values.items() if v}


@dataclass
class HomePage:
    options: HomeOptions
    needs: list[NeedGroup]
    week: list[WeekDay]
    this_week: date
    today: date

    def context(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.__dataclass_fields__}


def _scope(me: Coach, scope_all: bool) -> list[Any]:
    if scope_all:
        return []
    return [or_(Lead.assigned_coach_id == me.id, Lead.assigned_coach_id.is_(None))]


def _capped(kind: NeedKind, items: list[NeedItem]) -> NeedGroup:
    return NeedGroup(kind, NEED_HEADINGS[kind], items[:NEEDS_CAP], len(items) > NEEDS_CAP)


def _overdue(scope: list[Any], now: datetime, settings: Settings) -> list[NeedItem]:
    days, zone = settings.contact_promise_working_days, settings.zone
    # The promise ends at least `days` whole days after registering, so only leads older than
    # that can be overdue; the exact working-day rule is checked on those. Oldest first, and
    # the overdue ones are the oldest, so the cap cannot cut one off before a younger one.
    leads = db.session.scalars(
        select(Lead)
        .where(
            *scope,
            Lead.status == LeadStatus.NEW,
            Lead.first_contacted_at.is_(None),
            Lead.created_at <= now - timedelta(days=days),
        )
        .order_by(Lead.created_at, Lead.id)
        .limit(NEEDS_CAP + 1)
    )
    return [
        NeedItem(
            NeedKind.OVERDUE,
            lead,
            why=f"Registered {time_ago(lead.created_at, now)}; promised contact within "
            f"{days} working days",
            since=contact_due_by(lead.created_at, days, zone),
            action="Contact them",
            anchor="#status",
        )
        for lead in leads
        if is_overdue(lead, now, days, zone)
    ]


def _sessions_needing(scope: list[Any], *where: Any) -> Select[CoachingSession]:
    return (
        select(CoachingSession)
        .join(Lead, CoachingSession.lead_id == Lead.id)
        .where(*scope, CoachingSession.status == SessionStatus.BOOKED, *where)
        .options(contains_eager(CoachingSession.lead))
        .limit(NEEDS_CAP + 1)
    )


def _new_time_requests(scope: list[Any]) -> list[NeedItem]:
    # The request is open again when the leader said none of the new times suit: say which.
    none_suit = (
        exists()
        .where(
            Proposal.moves_session_id == CoachingSession.id,
            Proposal.status == ProposalStatus.NONE_SUIT,
            Proposal.responded_at >= CoachingSession.new_time_requested_at,
        )
        .correlate(CoachingSession)
    )
    sessions = _sessions_needing(scope, CoachingSession.new_time_requested_at.is_not(None))
    query = sessions.add_columns(none_suit).order_by(
        CoachingSession.new_time_requested_at, CoachingSession.id
    )
    items = []
    for session, after_new_times in db.session.execute(query):
        assert session.new_time_requested_at is not None
        why = (
            "None of the new times you offered suit"
            if after_new_times
            else "Asked for a different time for their booked session"
        )
        if session.new_time_request_note:
            why += f": “{session.new_time_request_note}”"
        items.append(
            NeedItem(
                NeedKind.NEW_TIME,
                session.lead,
                why=why,
                since=session.new_time_requested_at,
                action="Move the session or offer new times",
                anchor=f"#session-{session.id}",
            )
        )
    return items


def _none_suit(scope: list[Any]) -> list[NeedItem]:
    newer = aliased(Proposal)
    query = (
        select(Proposal)
        .join(Lead, Proposal.lead_id == Lead.id)
        .where(
            *scope,
            Lead.status == LeadStatus.CONTACTED,
            Proposal.status == ProposalStatus.NONE_SUIT,
            Proposal.moves_session_id.is_(None),
            ~exists().where(newer.lead_id == Proposal.lead_id, newer.id > Proposal.id),
        )
        .options(contains_eager(Proposal.lead))
        .order_by(Proposal.responded_at, Proposal.id)
        .limit(NEEDS_CAP + 1)
    )
    items = []
    for proposal in db.session.scalars(query):
        why = "None of the times you proposed suit"
        if proposal.leader_note:
            why += f": “{proposal.leader_note}”"
        items.append(
            NeedItem(
                NeedKind.NONE_SUIT,
                proposal.lead,
                why=why,
                since=proposal.responded_at or proposal.created_at,
                action="Propose new times",
                anchor="#propose",
            )
        )
    return items


def _declined(scope: list[Any], zone: ZoneInfo) -> list[NeedItem]:
    declined_at = (
        select(func.max(LeadEvent.at))
        .where(
            LeadEvent.lead_id == CoachingSession.lead_id,
            LeadEvent.kind == EventKind.SESSION_DECLINED,
        )
        .correlate(CoachingSession)
        .scalar_subquery()
    )
    sessions = _sessions_needing(
        scope,
        or_(
            CoachingSession.leader_partstat == PartStat.DECLINED,
            CoachingSession.coach_partstat == PartStat.DECLINED,
        ),
    )
    query = sessions.add_columns(declined_at).order_by(
        CoachingSession.starts_at, CoachingSession.id
    )
    items = []
    for session, at in db.session.execute(query):
        who = " and ".join(
            "the leader" if role == Role.LEADER else "you" for role in declined_roles(session)
        )
        items.append(
            NeedItem(
                NeedKind.DECLINED,
                session.lead,
                why=f"Declined by {who}: the session on "
                f"{format_local(session.starts_at, zone)} is still booked",
                since=at or session.updated_at,
                action="Move or cancel the session",
                anchor=f"#session-{session.id}",
            )
        )
    return items


def _not_held(scope: list[Any], now: datetime) -> list[NeedItem]:
    query = _sessions_needing(scope, CoachingSession.starts_at <= now).order_by(
        CoachingSession.starts_at, CoachingSession.id
    )
    return [
        NeedItem(
            NeedKind.NOT_HELD,
            session.lead,
            why="The session has started and is not marked as held",
            since=session.starts_at,
            action="Mark it held (or cancel it)",
            anchor="#status",
        )
        for session in db.session.scalars(query)
    ]


def _failed_emails(scope: list[Any]) -> list[NeedItem]:
    # An email that failed (or whose outcome is unknown) needs the coach until they record
    # anything on the lead afterwards: a note of how they reached the leader, a status change.
    since = case(
        (OutboxMessage.status == OutboxStatus.FAILED, OutboxMessage.due_at),
        else_=OutboxMessage.created_at,
    )
    acted = exists().where(
        LeadEvent.lead_id == OutboxMessage.lead_id,
        LeadEvent.actor_coach_id.is_not(None),
        LeadEvent.at > since,
    )
    query = (
        select(OutboxMessage, Lead, since)
        .join(Lead, OutboxMessage.lead_id == Lead.id)
        .where(
            *scope,
            OutboxMessage.status.in_([OutboxStatus.FAILED, OutboxStatus.UNKNOWN]),
            ~acted,
        )
        .order_by(since, OutboxMessage.id)
        .limit(NEEDS_CAP + 1)
    )
    items = []
    for message, lead, at in db.session.execute(query):
        what = (
            "could not be delivered"
            if message.status == OutboxStatus.FAILED
            else "may not have arrived (the mail server's answer was lost)"
        )
        items.append(
            NeedItem(
                NeedKind.EMAIL,
                lead,
                why=f"The email “{message.subject}” to {', '.join(message.recipients)} {what}",
                since=at,
                action="Reach them another way, then add a note",
                anchor=f"#email-{message.id}",
            )
        )
    return items


def week_sessions(coach: Coach, monday: date, settings: Settings) -> list[WeekDay]:
    """The coach's booked and held sessions from Monday to Sunday (local days), in one query."""
    zone = settings.zone
    start = datetime.combine(monday, time(0), tzinfo=zone)
    end = datetime.combine(monday + timedelta(days=7), time(0), tzinfo=zone)
    reflection = (
        exists()
        .where(QuestionnaireResponse.session_id == CoachingSession.id)
        .correlate(CoachingSession)
    )
    query = (
        select(CoachingSession, reflection)
        .join(Lead, CoachingSession.lead_id == Lead.id)
        .where(
            CoachingSession.coach_id == coach.id,
            CoachingSession.status.in_([SessionStatus.BOOKED, SessionStatus.HELD]),
            CoachingSession.starts_at >= start,
            CoachingSession.starts_at < end,
        )
        .options(contains_eager(CoachingSession.lead))
        .order_by(CoachingSession.starts_at, CoachingSession.id)
    )
    by_day: dict[date, list[WeekSession]] = {monday + timedelta(days=i): [] for i in range(7)}
    for session, reflection_in in db.session.execute(query):
        start, end = session.starts_at.astimezone(zone), session.ends_at.astimezone(zone)
        by_day[start.date()].append(
            WeekSession(session, bool(reflection_in), f"{start:%H:%M}–{end:%H:%M} {end.tzname()}")
        )
    return [WeekDay(day, sessions) for day, sessions in by_day.items()]


def home_page(me: Coach, options: HomeOptions, *, now: datetime, settings: Settings) -> HomePage:
    """Everything the home page shows, in a fixed number of queries (one per kind of item,
    one for the week) whatever the number of leads."""
    scope = _scope(me, options.scope_all)
    groups = [
        _capped(NeedKind.OVERDUE, _overdue(scope, now, settings)),
        _capped(NeedKind.NEW_TIME, _new_time_requests(scope)),
        _capped(NeedKind.NONE_SUIT, _none_suit(scope)),
        _capped(NeedKind.DECLINED, _declined(scope, settings.zone)),
        _capped(NeedKind.NOT_HELD, _not_held(scope, now)),
        _capped(NeedKind.EMAIL, _failed_emails(scope)),
    ]
    today = now.astimezone(settings.zone).date()
    return HomePage(
        options=options,
        needs=[group for group in groups if group.items],
        week=week_sessions(me, options.week, settings),
        this_week=today - timedelta(days=today.weekday()),
        today=today,
    )

"""The coach area's read side: the lead list and its filters, and what a lead's page shows.

Plain functions that read the database and return what the templates need. No request, no
flash, no writes: the views parse the request, call these, and render.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sqlalchemy import Select, literal_column, or_, select
from sqlalchemy.orm import selectinload

from ..extensions import db
from ..inputs import parse_id
from ..kinds import Role
from ..limits import SEARCH_MAX
from ..models import (
    Coach,
    CoachingSession,
    Dimension,
    Lead,
    LeadStatus,
    OutboxMessage,
    OutboxStatus,
    Proposal,
    ProposalStatus,
)
from ..questionnaire import (
    AnsweredQuestion,
    Questionnaire,
    QuestionnaireError,
    answered_questions,
    load_questionnaire,
)
from ..settings import Settings
from ..timefmt import time_ago
from ..workflow.leads import contact_due_by, is_overdue
from ..workflow.lifecycle import booked_session, coach_moves
from ..workflow.outcomes import sessions_used
from ..workflow.responses import (
    accepted_by_both,
    declined_lead_ids,
    declined_roles,
    partstat_of,
    party_name,
    questionnaire_responses,
)
from ..workflow.scheduling import NewTimeRequest, open_new_time_request

log = logging.getLogger(__name__)

PER_PAGE = 50


# ----- the list ---------------------------------------------------------------------------


@dataclass(frozen=True)
class LeadFilters:
    status: str = ""
    coach: str = ""
    dimension: str = ""
    q: str = ""
    page: int = 1

    @classmethod
    def from_args(cls, args: Any) -> LeadFilters:
        status = args.get("status", "")
        if status not in {s.value for s in LeadStatus} | {"open"}:
            status = ""
        coach = args.get("coach", "")
        if not (coach in ("me", "none") or parse_id(coach)):
            coach = ""
        dimension = args.get("dimension", "")
        if dimension not in {d.value for d in Dimension}:
            dimension = ""
        page = args.get("page", "1")
        return cls(
            status=status,
            coach=coach,
            dimension=dimension,
            q=" ".join(args.get("q", "").split())[:SEARCH_MAX],
            page=min(parse_id(page) or 1, 10_000),
        )

    def args(self, **changes: Any) -> dict[str, Any]:
        values = {
            "status": self.status,
            "coach": self.coach,
            "dimension": self.dimension,
            "q": self.q,
            "page": self.page,
        }
        values.update(changes)
        return {k: v for k, v in values.items() if v and not (k == "page" and v == 1)}


def _like(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def lead_query(filters: LeadFilters, me: Coach) -> Select[Lead]:
    """Newest first. Each filter narrows along an index (created_at, (status, created_at),
    (assigned_coach_id, created_at)); the coach comes joined, so there are no N+1 queries."""
    query = select(Lead)
    if filters.status == "open":
        query = query.where(
            Lead.status.not_in(
                [
                    LeadStatus.CLOSED,
                    LeadStatus.WITHDRAWN,
                    LeadStatus.NOT_SUITABLE,
                    LeadStatus.NO_RESPONSE,
                ]
            )
        )
    elif filters.status:
        query = query.where(Lead.status == LeadStatus(filters.status))
    if filters.coach == "me":
        query = query.where(Lead.assigned_coach_id == me.id)
    elif filters.coach == "none":
        query = query.where(Lead.assigned_coach_id.is_(None))
    elif filters.coach:
        query = query.where(Lead.assigned_coach_id == int(filters.coach))
    if filters.dimension:
        # Stored as a comma-separated list of fixed values.
        query = query.where(("," + Lead.dimensions + ",").like(f"%,{filters.dimension},%"))
    newest_first = Lead.created_at.desc()
    if filters.q:
        pattern = _like(filters.q)
        columns = (Lead.full_name, Lead.email, Lead.organisation)
        if db.session.get_bind().dialect.name == "sqlite":
            # SQLite's LIKE ignores ASCII case already (as its lower() does); ILIKE would call
            # lower() on every column of every row, three times slower.
            query = query.where(or_(*(c.like(pattern, escape="\\") for c in columns)))
            # A substring search cannot use an index. Walking the created_at index row by row
            # to find a few matches is ~6x slower in SQLite (200 ms at 100,000 leads, no match)
            # than scanning the table and sorting the matches; unary + is a no-op that keeps
            # the planner off the index.
            newest_first = literal_column("+lead.created_at").desc()
        else:
            query = query.where(or_(*(c.ilike(pattern, escape="\\") for c in columns)))
    return query.order_by(newest_first, Lead.id.desc())


@dataclass(frozen=True)
class LeadRow:
    lead: Lead
    ago: str
    overdue: bool
    due_by: datetime


@dataclass(frozen=True)
class LeadList:
    """One page of the lead list."""

    items: list[LeadRow]
    has_next: bool
    # Leads on this page whose booked session someone has declined.
    declined: set[int]
    coaches: list[Coach]


def lead_list(filters: LeadFilters, me: Coach, *, now: datetime, settings: Settings) -> LeadList:
    query = lead_query(filters, me).limit(PER_PAGE + 1).offset((filters.page - 1) * PER_PAGE)
    rows = list(db.session.scalars(query).unique())
    has_next = len(rows) > PER_PAGE
    rows = rows[:PER_PAGE]
    days, zone = settings.contact_promise_working_days, settings.zone
    items = [
        LeadRow(
            lead=lead,
            ago=time_ago(lead.created_at, now),
            overdue=is_overdue(lead, now, days, zone),
            due_by=contact_due_by(lead.created_at, days, zone),
        )
        for lead in rows
    ]
    return LeadList(
        items=items,
        has_next=has_next,
        declined=declined_lead_ids([lead.id for lead in rows]),
        coaches=list(db.session.scalars(select(Coach).order_by(Coach.name))),
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
    )


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

"""Coach area: the lead list, a lead's page and the coach's actions on it.

Views are thin: parse the form, call the workflow, commit, redirect. A move the workflow
refuses comes back as a DomainError and is shown on the lead's page with a 409.
Signing in, timeouts and the sign-in requirement for every page are in `auth.py`.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import literal_column, or_, select
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import selectinload
from wtforms import SelectChoice

from ..database import lost_a_race
from ..extensions import db
from ..inputs import parse_id
from ..models import (
    DIMENSION_LABELS,
    Coach,
    CoachingSession,
    Dimension,
    Lead,
    LeadStatus,
    OutboxMessage,
    OutboxStatus,
    Proposal,
    SessionFormat,
    utcnow,
)
from ..questionnaire import (
    AnsweredQuestion,
    Questionnaire,
    QuestionnaireError,
    answered_questions,
    load_questionnaire,
)
from ..timefmt import local_zone
from ..workflow import DomainError
from ..workflow.leads import (
    add_note,
    assign,
    booked_session,
    change_status,
    coach_moves,
    contact_due_by,
    is_overdue,
    time_ago,
)
from ..workflow.privacy import erase_person, erasure_plan, export_person
from ..workflow.responses import (
    ANSWER_WORDS,
    ROLES,
    accepted_by_both,
    declined_lead_ids,
    declined_roles,
    partstat_of,
    party_name,
    questionnaire_responses,
)
from ..workflow.scheduling import (
    Slot,
    cancel_session,
    local_start,
    open_new_time_request,
    propose_times,
    record_agreed_time,
    reschedule_session,
)
from .forms import (
    AgreedTimeForm,
    AssignForm,
    CancelForm,
    NoteForm,
    ProposeForm,
    RescheduleForm,
    StatusForm,
)

log = logging.getLogger(__name__)


PER_PAGE = 50
SLOT_TAKEN = (
    "That time was booked for another session a moment ago. Nothing was changed: "
    "choose another time."
)


def _me() -> Coach:
    return current_user._get_current_object()  # type: ignore[no-any-return]


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
            q=" ".join(args.get("q", "").split())[:100],
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


def lead_query(filters: LeadFilters, me: Coach) -> Any:
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


def leads():  # type: ignore[no-untyped-def]
    filters = LeadFilters.from_args(request.args)
    query = lead_query(filters, _me()).limit(PER_PAGE + 1).offset((filters.page - 1) * PER_PAGE)
    rows = list(db.session.scalars(query).unique())
    has_next = len(rows) > PER_PAGE
    rows = rows[:PER_PAGE]
    now = utcnow()
    zone = local_zone()
    days = int(current_app.config["CONTACT_PROMISE_WORKING_DAYS"])
    items = [
        {
            "lead": lead,
            "ago": time_ago(lead.created_at, now),
            "overdue": is_overdue(lead, now, days, zone),
            "due_by": contact_due_by(lead.created_at, days, zone),
        }
        for lead in rows
    ]
    coaches = list(db.session.scalars(select(Coach).order_by(Coach.name)))
    declined = declined_lead_ids([lead.id for lead in rows])
    return render_template(
        "coach/leads.html",
        items=items,
        declined=declined,
        filters=filters,
        has_next=has_next,
        coaches=coaches,
        statuses=list(LeadStatus),
        dimensions=DIMENSION_LABELS,
        promise_days=days,
    )


# ----- a lead's page ----------------------------------------------------------------------


def _lead_or_404(lead_id: int) -> Lead:
    lead = db.session.get(Lead, lead_id)
    if lead is None:
        abort(404)
    return lead


def _propose_form(lead: Lead, form: ProposeForm | None = None) -> ProposeForm:
    if form is None:
        form = ProposeForm(prefix="propose", formdata=None)
        for slot in form.slots:
            slot.format.data = lead.preferred_format.value
    return form


def _assign_form(lead: Lead, coaches: list[Coach]) -> AssignForm:
    form = AssignForm(prefix="assign", formdata=None)
    form.coach_id.choices = [
        SelectChoice(str(c.id), c.name) for c in coaches if c.id != lead.assigned_coach_id
    ]
    return form


def _answers(session: CoachingSession) -> dict[str, Any]:
    """Each party's answer to the invitation, as the session panel shows it."""
    return {
        "parties": [
            (role, party_name(session, role), partstat_of(session, role)) for role in ROLES
        ],
        "accepted_by_both": accepted_by_both(session),
        "declined": declined_roles(session),
    }


def _reflections(sessions: list[CoachingSession]) -> tuple[list[dict[str, Any]], str | None]:
    """The leader's questionnaire answers per session (newest session first), worded as the
    questionnaire file words them; and a problem with that file, if any."""
    responses = questionnaire_responses(sessions)
    if not responses:
        return [], None
    questionnaire: Questionnaire | None = None
    problem: str | None = None
    try:
        questionnaire = load_questionnaire()
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


def _render_lead(lead_id: int, status: int = 200, error: str | None = None, **forms: Any):  # type: ignore[no-untyped-def]
    lead = _lead_or_404(lead_id)
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
    reflections, reflection_problem = _reflections(sessions)
    now = utcnow()
    days = int(current_app.config["CONTACT_PROMISE_WORKING_DAYS"])
    # An "Agreed" lead's booked session can be offered new times (the leader asked to move it).
    moving = booked_session(lead) if lead.status == LeadStatus.AGREED else None
    agreed_form = forms.pop("agreed_form", None) or AgreedTimeForm(prefix="agreed", formdata=None)
    if not agreed_form.format.data:
        agreed_form.format.data = lead.preferred_format.value
    body = render_template(
        "coach/lead_detail.html",
        lead=lead,
        me=_me(),
        error=error,
        now=now,
        ago=time_ago(lead.created_at, now),
        overdue=is_overdue(lead, now, days, local_zone()),
        due_by=contact_due_by(lead.created_at, days, local_zone()),
        moves=coach_moves(lead.status),
        proposals=proposals,
        sessions=sessions,
        answers={s.id: _answers(s) for s in sessions},
        declined=[(s, role, party_name(s, role)) for s in sessions for role in declined_roles(s)],
        answer_words=ANSWER_WORDS,
        reflections=reflections,
        reflection_problem=reflection_problem,
        coaches=coaches,
        emails=emails,
        failed_emails=[m for m in emails if m.status == OutboxStatus.FAILED],
        note_form=forms.pop("note_form", None) or NoteForm(prefix="note", formdata=None),
        status_form=forms.pop("status_form", None) or StatusForm(prefix="status", formdata=None),
        assign_form=_assign_form(lead, coaches),
        propose_form=_propose_form(lead, forms.pop("propose_form", None)),
        agreed_form=agreed_form,
        reschedule_forms=forms.pop("reschedule_forms", {}),
        cancel_forms=forms.pop("cancel_forms", {}),
        can_schedule=lead.status
        in (LeadStatus.NEW, LeadStatus.CONTACTED, LeadStatus.TIMES_PROPOSED),
        moving=moving,
        time_request=open_new_time_request(lead),
    )
    return body, status


def lead_detail(lead_id: int):  # type: ignore[no-untyped-def]
    return _render_lead(lead_id)


def _act(lead_id: int, action: Callable[[], str], anchor: str = "", **forms: Any):  # type: ignore[no-untyped-def]
    """Run a workflow step, commit, and come back to the lead's page (or say what was wrong)."""
    try:
        message = action()
        db.session.commit()
    except DomainError as error:
        db.session.rollback()
        return _render_lead(lead_id, 409, error=str(error), **forms)
    except (IntegrityError, OperationalError) as error:
        # Another request booked the same or an overlapping time between our check and our
        # write. (Any other database failure is not ours to word.)
        if not lost_a_race(error):
            raise
        db.session.rollback()
        return _render_lead(lead_id, 409, error=SLOT_TAKEN, **forms)
    flash(message, "success")
    return redirect(url_for("coach.lead_detail", lead_id=lead_id) + anchor)


def _form_problem(lead_id: int, form: Any, key: str):  # type: ignore[no-untyped-def]
    return _render_lead(
        lead_id,
        400,
        error="Check the form: "
        + "; ".join(str(message) for messages in _all_errors(form) for message in messages),
        **{key: form},
    )


def _all_errors(form: Any) -> list[list[str]]:
    found: list[list[str]] = []
    errors = form.errors
    stack: list[Any] = [errors]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, list) and all(isinstance(x, str) for x in item):
            found.append(item)
        elif isinstance(item, list):
            stack.extend(item)
    return found


def lead_status(lead_id: int):  # type: ignore[no-untyped-def]
    lead = _lead_or_404(lead_id)
    form = StatusForm(prefix="status")
    if not form.validate():
        return _form_problem(lead_id, form, "status_form")
    to = LeadStatus(form.to.data)

    def action() -> str:
        change_status(lead, to, coach=_me(), reason=form.reason.data or "", now=utcnow())
        return f"Moved to “{to.label}”."

    return _act(lead_id, action, "#status", status_form=form)


def lead_assign(lead_id: int):  # type: ignore[no-untyped-def]
    lead = _lead_or_404(lead_id)
    me = _me()
    if request.form.get("take"):
        target: Coach | None = me
    else:
        raw = request.form.get("assign-coach_id", "")
        coach_id = parse_id(raw)
        target = db.session.get(Coach, coach_id) if coach_id else None
        if target is None:
            return _render_lead(lead_id, 400, error="Choose the coach to hand this lead on to.")

    def action() -> str:
        assert target is not None
        assign(lead, target, actor=me, now=utcnow())
        return "You have taken this lead." if target.id == me.id else f"Handed on to {target.name}."

    return _act(lead_id, action, "#assignment")


def lead_note(lead_id: int):  # type: ignore[no-untyped-def]
    lead = _lead_or_404(lead_id)
    form = NoteForm(prefix="note")
    if not form.validate():
        return _form_problem(lead_id, form, "note_form")

    def action() -> str:
        add_note(lead, _me(), form.body.data or "", now=utcnow())
        return "Note added."

    return _act(lead_id, action, "#notes", note_form=form)


def lead_propose(lead_id: int):  # type: ignore[no-untyped-def]
    lead = _lead_or_404(lead_id)
    form = ProposeForm(prefix="propose")
    if not form.validate():
        return _form_problem(lead_id, form, "propose_form")
    slots: list[Slot] = []
    for number, entry in enumerate(form.slots, start=1):
        slot = entry.form
        if slot.is_blank:
            continue
        if slot.day.data is None or slot.start.data is None:
            return _render_lead(
                lead_id,
                400,
                propose_form=form,
                error=f"Time {number}: enter both the date and the start time.",
            )
        slots.append(
            Slot(
                day=slot.day.data,
                start=slot.start.data,
                format=SessionFormat(slot.format.data),
                detail=slot.detail.data or "",
                duration_minutes=int(slot.duration.data or 60),
            )
        )
    if not slots:
        return _render_lead(
            lead_id, 400, propose_form=form, error="Enter at least one time to propose."
        )

    def action() -> str:
        proposal = propose_times(lead, _me(), slots, utcnow())
        count = len(proposal.times)
        new = "new " if proposal.moves_session_id is not None else ""
        return f"{count} {new}time{'s' if count != 1 else ''} sent to {lead.full_name}."

    return _act(lead_id, action, "#proposals", propose_form=form)


def lead_record_agreed(lead_id: int):  # type: ignore[no-untyped-def]
    lead = _lead_or_404(lead_id)
    form = AgreedTimeForm(prefix="agreed")
    if not form.validate():
        return _form_problem(lead_id, form, "agreed_form")

    def action() -> str:
        assert form.day.data is not None and form.start.data is not None
        record_agreed_time(
            lead,
            _me(),
            local_start(form.day.data, form.start.data),
            int(form.duration.data or 60),
            SessionFormat(form.format.data),
            form.detail.data or "",
            utcnow(),
        )
        return "Session booked. Confirmations are on their way to the leader and to you."

    return _act(lead_id, action, "#sessions", agreed_form=form)


def _session_or_404(session_id: int) -> CoachingSession:
    session = db.session.get(CoachingSession, session_id)
    if session is None:
        abort(404)
    return session


def session_reschedule(session_id: int):  # type: ignore[no-untyped-def]
    session = _session_or_404(session_id)
    lead_id = session.lead_id
    form = RescheduleForm(prefix=f"move-{session_id}")
    if not form.validate():
        return _render_lead(
            lead_id,
            400,
            error="Check the new time: " + "; ".join(m for ms in _all_errors(form) for m in ms),
            reschedule_forms={session_id: form},
        )

    def action() -> str:
        assert form.day.data is not None and form.start.data is not None
        reschedule_session(
            session,
            _me(),
            local_start(form.day.data, form.start.data),
            int(form.duration.data or 60),
            utcnow(),
        )
        return "Session moved. The leader and the coach are told."

    return _act(lead_id, action, "#sessions", reschedule_forms={session_id: form})


def session_cancel(session_id: int):  # type: ignore[no-untyped-def]
    session = _session_or_404(session_id)
    lead_id = session.lead_id
    form = CancelForm(prefix=f"cancel-{session_id}")
    if not form.validate():
        return _render_lead(
            lead_id, 400, error="Say why the session is cancelled.", cancel_forms={session_id: form}
        )

    def action() -> str:
        cancel_session(session, _me(), form.reason.data or "", utcnow())
        return "Session cancelled. The leader and the coach are told."

    return _act(lead_id, action, "#sessions", cancel_forms={session_id: form})


# ----- the leader's data rights: a copy of their data, and erasure (workflow/privacy.py) ---

ALREADY_ERASED = "This leader's personal data has already been erased."


def lead_export(lead_id: int):  # type: ignore[no-untyped-def]
    """Everything held about the lead's person (every lead with their email), as a download."""
    lead = _lead_or_404(lead_id)
    if lead.erased_at is not None:
        return _render_lead(lead_id, 409, error=ALREADY_ERASED)
    data = export_person(lead.email, now=utcnow())
    log.info("lead %s: personal data exported by coach %s", lead.id, _me().id)
    response = current_app.response_class(
        json.dumps(data, indent=2, ensure_ascii=False), mimetype="application/json"
    )
    response.headers["Content-Disposition"] = (
        f'attachment; filename="personal-data-lead-{lead.id}.json"'
    )
    response.headers["Cache-Control"] = "no-store"
    return response


def lead_erase(lead_id: int):  # type: ignore[no-untyped-def]
    """GET: what erasing will do; POST (CSRF-checked like every coach form): do it."""
    lead = _lead_or_404(lead_id)
    if lead.erased_at is not None:
        return _render_lead(lead_id, 409, error=ALREADY_ERASED)
    if request.method == "GET":
        plan = erasure_plan(lead.email, now=utcnow())
        return render_template("coach/lead_erase.html", lead=lead, plan=plan)
    me = _me()

    def action() -> str:
        report = erase_person(lead.email, now=utcnow(), actor=me, by=me.name)
        log.info("leads %s: personal data erased by coach %s", report.lead_ids, me.id)
        count = len(report.lead_ids)
        return f"Personal data erased from {count} lead{'s' if count != 1 else ''}."

    return _act(lead_id, action, "#personal-data")

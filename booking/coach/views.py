"""Coach area: the home page, the lead list, a lead's page and the coach's actions on it.

Views are thin: parse the form, call the workflow, commit, redirect. A move the workflow
refuses comes back as a DomainError and is shown on the lead's page with a 409.
Signing in, timeouts and the sign-in requirement for every page are in `auth.py`.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user
from sqlalchemy.exc import IntegrityError, OperationalError
from wtforms import SelectChoice

from ..database import lost_a_race
from ..extensions import db
from ..form_errors import error_rows
from ..inputs import parse_id
from ..models import (
    DIMENSION_LABELS,
    Coach,
    CoachingSession,
    Lead,
    LeadStatus,
    SessionFormat,
    SessionStatus,
)
from ..settings import current_now, current_settings
from ..workflow import DomainError
from ..workflow.common import FieldProblems
from ..workflow.leads import add_note, assign, change_status, email_leader
from ..workflow.notices import set_email_digest
from ..workflow.outcomes import save_session_note
from ..workflow.privacy import erase_person, erasure_plan, export_person
from ..workflow.responses import ANSWER_WORDS
from ..workflow.scheduling import (
    Slot,
    cancel_session,
    local_start,
    propose_times,
    record_agreed_time,
    reschedule_session,
)
from .forms import (
    AgreedTimeForm,
    AssignForm,
    CancelForm,
    EmailPreferencesForm,
    LeaderMessageForm,
    NoteForm,
    ProposeForm,
    RescheduleForm,
    SessionNoteForm,
    StatusForm,
)
from .journey import journey_context
from .queries import HomeOptions, LeadFilters, home_page, lead_list, lead_page

log = logging.getLogger(__name__)


SLOT_TAKEN = (
    "That time was booked for another session a moment ago. Nothing was changed: "
    "choose another time."
)


def _me() -> Coach:
    coach: Coach = current_user._get_current_object()
    return coach


# ----- the list ---------------------------------------------------------------------------


def home() -> ResponseReturnValue:
    settings, now = current_settings(), current_now()
    options = HomeOptions.from_args(request.args, _me(), now=now, settings=settings)
    page = home_page(_me(), options, now=now, settings=settings)
    return render_template(
        "coach/home.html", **page.context(), me=_me(), now=now, answer_words=ANSWER_WORDS
    )


def leads() -> ResponseReturnValue:
    filters = LeadFilters.from_args(request.args)
    settings = current_settings()
    page = lead_list(filters, _me(), now=current_now(), settings=settings)
    return render_template(
        "coach/leads.html",
        page=page,
        items=page.items,
        declined=page.declined,
        filters=filters,
        coaches=page.coaches,
        statuses=list(LeadStatus),
        dimensions=DIMENSION_LABELS,
        promise_days=settings.contact_promise_working_days,
        answer_words=ANSWER_WORDS,
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


def _session_forms(
    sessions: list[CoachingSession],
    reschedule_forms: dict[int, RescheduleForm],
    cancel_forms: dict[int, CancelForm],
) -> None:
    """A move and a cancel form for each booked session; the one sent back keeps its input."""
    for s in sessions:
        if s.status != SessionStatus.BOOKED:
            continue
        if s.id not in reschedule_forms:
            form = RescheduleForm(prefix=f"move-{s.id}", formdata=None)
            form.duration.data = int((s.ends_at - s.starts_at).total_seconds() // 60)
            reschedule_forms[s.id] = form
        if s.id not in cancel_forms:
            cancel_forms[s.id] = CancelForm(prefix=f"cancel-{s.id}", formdata=None)


def _render_lead(
    lead_id: int, status: int = 200, error: str | None = None, **forms: Any
) -> ResponseReturnValue:
    lead = _lead_or_404(lead_id)
    page = lead_page(lead, now=current_now(), settings=current_settings())
    # The form sent back with problems (at most one) heads the page's error summary.
    sent_back = [
        form
        for value in forms.values()
        for form in (value.values() if isinstance(value, dict) else [value])
        if error_rows(form)
    ]
    agreed_form = forms.pop("agreed_form", None) or AgreedTimeForm(prefix="agreed", formdata=None)
    if not agreed_form.format.data:
        agreed_form.format.data = lead.preferred_format.value
    status_form = forms.pop("status_form", None) or StatusForm(prefix="status", formdata=None)
    status_form.to.choices = [SelectChoice(s.value, s.label) for s in page.moves]
    reschedule_forms = forms.pop("reschedule_forms", {})
    cancel_forms = forms.pop("cancel_forms", {})
    _session_forms(page.sessions, reschedule_forms, cancel_forms)
    body = render_template(
        "coach/lead_detail.html",
        **page.context(),
        me=_me(),
        error=error,
        summary_rows=error_rows(*sent_back),
        answer_words=ANSWER_WORDS,
        note_form=forms.pop("note_form", None) or NoteForm(prefix="note", formdata=None),
        status_form=status_form,
        assign_form=_assign_form(lead, page.coaches),
        propose_form=_propose_form(lead, forms.pop("propose_form", None)),
        agreed_form=agreed_form,
        reschedule_forms=reschedule_forms,
        cancel_forms=cancel_forms,
        message_form=forms.pop("message_form", None)
        or LeaderMessageForm(prefix="message", formdata=None),
        **journey_context(lead, forms.pop("note_forms", None)),
    )
    return body, status


def lead_detail(lead_id: int) -> ResponseReturnValue:
    return _render_lead(lead_id)


def _act(
    lead_id: int,
    action: Callable[[], str],
    anchor: str = "",
    mark: Callable[[FieldProblems], None] | None = None,
    **forms: Any,
) -> ResponseReturnValue:
    """Run a workflow step, commit, and come back to the lead's page (or say what was wrong:
    problems the workflow ties to fields are marked there by `mark`)."""
    try:
        message = action()
        db.session.commit()
    except FieldProblems as problems:
        db.session.rollback()
        if mark is None:
            return _render_lead(lead_id, 409, error=str(problems), **forms)
        mark(problems)
        return _render_lead(lead_id, 409, **forms)
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


def _form_problem(lead_id: int, form: Any, key: str) -> ResponseReturnValue:
    """The lead's page with the form sent back: each problem in the summary and at its field."""
    return _render_lead(lead_id, 400, **{key: form})


def lead_status(lead_id: int) -> ResponseReturnValue:
    lead = _lead_or_404(lead_id)
    form = StatusForm(prefix="status")
    if not form.validate():
        return _form_problem(lead_id, form, "status_form")
    to = LeadStatus(form.to.data)

    def action() -> str:
        change_status(
            lead,
            to,
            coach=_me(),
            reason=form.reason.data or "",
            now=current_now(),
            settings=current_settings(),
        )
        return f"Moved to “{to.label}”."

    return _act(lead_id, action, "#status", status_form=form)


def lead_assign(lead_id: int) -> ResponseReturnValue:
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
        assign(lead, target, actor=me, now=current_now(), settings=current_settings())
        return "You have taken this lead." if target.id == me.id else f"Handed on to {target.name}."

    return _act(lead_id, action, "#assignment")


def lead_message(lead_id: int) -> ResponseReturnValue:
    """Email the leader from the lead's page (GOV.UK errors: summary, field, values kept)."""
    lead = _lead_or_404(lead_id)
    form = LeaderMessageForm(prefix="message")
    if not form.validate():
        return _render_lead(lead_id, 400, message_form=form)

    def action() -> str:
        email_leader(
            lead,
            _me(),
            form.subject.data or "",
            form.body.data or "",
            now=current_now(),
            settings=current_settings(),
        )
        return f"Your message to {lead.full_name} is on its way. Replies come to you."

    return _act(lead_id, action, "#emails", message_form=form)


def notification_settings() -> ResponseReturnValue:
    """The coach's email preferences: immediate emails or one daily digest."""
    me = _me()
    form = EmailPreferencesForm()
    if request.method == "GET":
        form.mode.data = "digest" if me.email_digest else "immediate"
        return render_template("coach/notification_settings.html", form=form)
    if not form.validate():
        return render_template("coach/notification_settings.html", form=form), 400
    set_email_digest(me, form.mode.data == "digest")
    db.session.commit()
    flash(
        "Saved: you will get one email a day listing what happened on your leads."
        if me.email_digest
        else "Saved: you will get an email each time something happens on your leads.",
        "success",
    )
    return redirect(url_for("coach.notification_settings"))


def lead_note(lead_id: int) -> ResponseReturnValue:
    lead = _lead_or_404(lead_id)
    form = NoteForm(prefix="note")
    if not form.validate():
        return _form_problem(lead_id, form, "note_form")

    def action() -> str:
        add_note(lead, _me(), form.body.data or "", now=current_now())
        return "Note added."

    return _act(lead_id, action, "#notes", note_form=form)


def _time_label(number: int, message: str) -> str:
    """ "Time 2: give the joining link…": which of the times a problem is about."""
    if message.startswith(f"Time {number}"):
        return message
    return f"Time {number}: {message[:1].lower()}{message[1:]}"


def lead_propose(lead_id: int) -> ResponseReturnValue:
    """Every problem with every time is reported at once, each at its field, naming the time;
    the workflow's own checks (a clash, a time past, a length) come back the same way."""
    lead = _lead_or_404(lead_id)
    form = ProposeForm(prefix="propose")
    form.validate()
    slots: list[Slot] = []
    entries = [entry.form for entry in form.slots]
    for entry in entries:
        if entry.is_blank:
            continue
        if entry.day.data is None and not entry.day.errors:
            entry.day.errors = [*entry.day.errors, "Enter the date"]
        if entry.start.data is None and not entry.start.errors:
            entry.start.errors = [*entry.start.errors, "Enter the start time"]
    for number, entry in enumerate(entries, start=1):
        for field in entry:
            field.errors = [_time_label(number, str(message)) for message in field.errors]
    if all(entry.is_blank for entry in entries):
        entries[0].day.errors = ["Enter at least one time to propose"]
    if error_rows(form):
        return _form_problem(lead_id, form, "propose_form")
    # The workflow numbers the times it is given; remember which row each one came from.
    rows: list[int] = []
    for index, entry in enumerate(entries):
        if entry.is_blank:
            continue
        assert entry.day.data is not None and entry.start.data is not None
        rows.append(index)
        slots.append(
            Slot(
                day=entry.day.data,
                start=entry.start.data,
                format=SessionFormat(entry.format.data),
                detail=entry.detail.data or "",
                duration_minutes=int(entry.duration.data or 60),
            )
        )

    def action() -> str:
        proposal = propose_times(lead, _me(), slots, current_now(), settings=current_settings())
        count = len(proposal.times)
        new = "new " if proposal.moves_session_id is not None else ""
        return f"{count} {new}time{'s' if count != 1 else ''} sent to {lead.full_name}."

    def mark(problems: FieldProblems) -> None:
        for problem in problems.problems:
            row = rows[problem.entry or 0]
            field = entries[row][problem.field]
            message = problem.message
            if len(rows) != len(entries) and message.startswith(f"Time {(problem.entry or 0) + 1}"):
                # The workflow counted only the filled-in rows: name the row as the page does.
                message = f"Time {row + 1}" + message[len(f"Time {(problem.entry or 0) + 1}") :]
            field.errors = [*field.errors, message]

    return _act(lead_id, action, "#proposals", mark=mark, propose_form=form)


def lead_record_agreed(lead_id: int) -> ResponseReturnValue:
    lead = _lead_or_404(lead_id)
    form = AgreedTimeForm(prefix="agreed")
    if not form.validate():
        return _form_problem(lead_id, form, "agreed_form")

    def action() -> str:
        assert form.day.data is not None and form.start.data is not None
        record_agreed_time(
            lead,
            _me(),
            local_start(form.day.data, form.start.data, current_settings()),
            int(form.duration.data or 60),
            SessionFormat(form.format.data),
            form.detail.data or "",
            current_now(),
            settings=current_settings(),
        )
        return "Session booked. Confirmations are on their way to the leader and to you."

    return _act(lead_id, action, "#sessions", agreed_form=form)


def _session_or_404(session_id: int) -> CoachingSession:
    session = db.session.get(CoachingSession, session_id)
    if session is None:
        abort(404)
    return session


def session_reschedule(session_id: int) -> ResponseReturnValue:
    session = _session_or_404(session_id)
    lead_id = session.lead_id
    form = RescheduleForm(prefix=f"move-{session_id}")
    if not form.validate():
        return _render_lead(lead_id, 400, reschedule_forms={session_id: form})

    def action() -> str:
        assert form.day.data is not None and form.start.data is not None
        reschedule_session(
            session,
            _me(),
            local_start(form.day.data, form.start.data, current_settings()),
            int(form.duration.data or 60),
            current_now(),
            settings=current_settings(),
        )
        return "Session moved. The leader and the coach are told."

    return _act(lead_id, action, "#sessions", reschedule_forms={session_id: form})


def session_cancel(session_id: int) -> ResponseReturnValue:
    session = _session_or_404(session_id)
    lead_id = session.lead_id
    form = CancelForm(prefix=f"cancel-{session_id}")
    if not form.validate():
        return _render_lead(lead_id, 400, cancel_forms={session_id: form})

    def action() -> str:
        cancel_session(
            session, _me(), form.reason.data or "", current_now(), settings=current_settings()
        )
        return "Session cancelled. The leader and the coach are told."

    return _act(lead_id, action, "#sessions", cancel_forms={session_id: form})


# ----- the leader's data rights: a copy of their data, and erasure (workflow/privacy.py) ---

ALREADY_ERASED = "This leader's personal data has already been erased."


def lead_export(lead_id: int) -> ResponseReturnValue:
    """Everything held about the lead's person (every lead with their email), as a download."""
    lead = _lead_or_404(lead_id)
    if lead.erased_at is not None:
        return _render_lead(lead_id, 409, error=ALREADY_ERASED)
    data = export_person(lead.email, now=current_now(), settings=current_settings())
    log.info("lead %s: personal data exported by coach %s", lead.id, _me().id)
    response = current_app.response_class(
        json.dumps(data, indent=2, ensure_ascii=False), mimetype="application/json"
    )
    response.headers["Content-Disposition"] = (
        f'attachment; filename="personal-data-lead-{lead.id}.json"'
    )
    response.headers["Cache-Control"] = "no-store"
    return response


def lead_erase(lead_id: int) -> ResponseReturnValue:
    """GET: what erasing will do; POST (CSRF-checked like every coach form): do it."""
    lead = _lead_or_404(lead_id)
    if lead.erased_at is not None:
        return _render_lead(lead_id, 409, error=ALREADY_ERASED)
    if request.method == "GET":
        plan = erasure_plan(lead.email, now=current_now())
        return render_template("coach/lead_erase.html", lead=lead, plan=plan)
    me = _me()

    def action() -> str:
        report = erase_person(
            lead.email, now=current_now(), actor=me, by=me.name, settings=current_settings()
        )
        log.info("leads %s: personal data erased by coach %s", report.lead_ids, me.id)
        count = len(report.lead_ids)
        return f"Personal data erased from {count} lead{'s' if count != 1 else ''}."

    return _act(lead_id, action, "#personal-data")


def session_notes(session_id: int) -> ResponseReturnValue:
    """A held session's private notes and agreed actions (the journey section)."""
    session = _session_or_404(session_id)
    form = SessionNoteForm(prefix=f"snote-{session_id}")
    if not form.validate():
        errors = "; ".join(m for ms in form.errors.values() for m in ms if isinstance(m, str))
        return _render_lead(
            session.lead_id, 400, error=f"Check the notes: {errors}", note_forms={session_id: form}
        )

    def action() -> str:
        save_session_note(
            session,
            _me(),
            form.notes.data or "",
            form.actions.data or "",
            send_actions=bool(form.send_actions.data),
            now=current_now(),
            settings=current_settings(),
        )
        db.session.flush()
        if form.send_actions.data:
            return "Notes saved; the agreed actions are on their way to the leader."
        return "Notes saved."

    return _act(session.lead_id, action, f"#journey-session-{session_id}", note_forms={})

"""The leader's own page for a booked session (/session/<token>): ask for a different time, or
cancel, the way the scheduling products' "reschedule / cancel" links work, without an account.

The link carries a signed, expiring token for the purpose "leader-session" whose payload is the
session's id only. Opening a page changes nothing (mail scanners open links in emails); each
action is a POST from a page that says what it will do. A link to a session that can no longer
be changed (cancelled, held, started, the leader withdrew) shows a page saying what happened.
"""

from __future__ import annotations

from typing import Any

from flask import render_template, request
from flask.typing import ResponseReturnValue
from sqlalchemy.exc import IntegrityError

from .. import links
from ..extensions import db
from ..invite_emails import join_text
from ..kinds import Role
from ..models import CoachingSession, SessionFormat
from ..settings import current_now, current_settings
from ..workflow import DomainError
from ..workflow.lifecycle import open_proposals
from ..workflow.scheduling import (
    leader_can_change,
    leader_cancel_session,
    leader_cancelled_with,
    leader_request_new_time,
    open_new_time_request,
    proposal_open,
)
from .forms import CancelSessionForm, SuitableTimesForm


def _context(token: str, session: CoachingSession) -> dict[str, Any]:
    lead = session.lead
    offer = next(
        (p for p in open_proposals(lead) if p.moves_session_id == session.id and proposal_open(p)),
        None,
    )
    return {
        "token": token,
        "session": session,
        "join": join_text(session),
        "join_link": session.join_detail
        if session.format == SessionFormat.VIDEO
        and session.join_detail.lower().startswith(("https://", "http://"))
        else None,
        "request": open_new_time_request(session),
        "offer_url": links.choose_url(offer) if offer is not None else None,
        "rsvp_url": links.rsvp_url(session, Role.LEADER),
        "questionnaire_url": links.questionnaire_url(session),
        "withdraw_url": links.withdraw_url(lead),
    }


def _closed(session: CoachingSession, reason: str) -> ResponseReturnValue:
    own_words = leader_cancelled_with(session) if reason == "cancelled" else None
    return render_template(
        "public/leader_session_closed.html", session=session, reason=reason, own_words=own_words
    ), (409 if request.method == "POST" else 200)


def _session_or_page(token: str) -> CoachingSession | ResponseReturnValue:
    """The session when the leader can still change it, else the page that says why."""
    session = links.load_leader_session(token, for_update=request.method == "POST")
    reason = leader_can_change(session, current_now())
    if reason is not None:
        return _closed(session, reason)
    return session


def leader_session(token: str) -> ResponseReturnValue:
    session = _session_or_page(token)
    if not isinstance(session, CoachingSession):
        return session
    return render_template(
        "public/leader_session.html",
        error=None,
        note_form=SuitableTimesForm(formdata=None),
        **_context(token, session),
    )


def leader_session_new_time(token: str) -> ResponseReturnValue:
    session = _session_or_page(token)
    if not isinstance(session, CoachingSession):
        return session
    form = SuitableTimesForm()
    note = form.note.data or ""
    if not form.validate():
        return render_template(
            "public/leader_session.html", error=None, note_form=form, **_context(token, session)
        ), 400
    try:
        leader_request_new_time(session, note, current_now(), settings=current_settings())
        db.session.commit()
    except DomainError as problem:
        db.session.rollback()
        return render_template(
            "public/leader_session.html",
            error=str(problem),
            note_form=form,
            **_context(token, session),
        ), 409
    return render_template(
        "public/leader_session_done.html", done="requested", **_context(token, session)
    )


def leader_session_cancel(token: str) -> ResponseReturnValue:
    session = _session_or_page(token)
    if not isinstance(session, CoachingSession):
        return session
    if request.method == "GET":
        # The confirmation: nothing is cancelled until the button on this page is pressed.
        return render_template(
            "public/leader_session_cancel.html",
            error=None,
            form=CancelSessionForm(formdata=None),
            **_context(token, session),
        )
    form = CancelSessionForm()
    reason = form.reason.data or ""
    if not form.validate():
        return render_template(
            "public/leader_session_cancel.html", error=None, form=form, **_context(token, session)
        ), 400
    try:
        leader_cancel_session(session, reason, current_now(), settings=current_settings())
        db.session.commit()
    except (DomainError, IntegrityError) as problem:
        db.session.rollback()
        return render_template(
            "public/leader_session_cancel.html",
            form=form,
            error=str(problem)
            if isinstance(problem, DomainError)
            else "Something changed at the same moment. Please try again.",
            **_context(token, session),
        ), 409
    return render_template(
        "public/leader_session_done.html",
        done="cancelled",
        session=session,
        withdraw_url=links.withdraw_url(session.lead),
        token=token,
    )

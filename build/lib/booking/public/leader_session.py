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
from sqlalchemy.exc import IntegrityError

from ..extensions import db
from ..invite_emails import join_text, questionnaire_url, rsvp_url
from ..models import CoachingSession, SessionFormat, utcnow
from ..tokens import TokenError, read_token
from ..workflow import DomainError
from ..workflow.leads import open_proposals
from ..workflow.registration import withdraw_url
from ..workflow.scheduling import (
    choose_url,
    leader_can_change,
    leader_cancel_session,
    leader_request_new_time,
    open_new_time_request,
    proposal_open,
)
from .views import bp

MAX_NOTE = 2000


def _load(token: str, *, for_update: bool = False) -> tuple[CoachingSession | None, str | None]:
    try:
        payload = read_token("leader-session", token)
    except TokenError as error:
        return None, error.reason
    if not isinstance(payload, dict) or not isinstance(payload.get("session"), int):
        return None, "invalid"
    # A POST locks the row (PostgreSQL) so two clicks at once act once; SQLite's writes are
    # serialised already (BEGIN IMMEDIATE).
    session = db.session.get(CoachingSession, payload["session"], with_for_update=for_update)
    return (session, None) if session is not None else (None, "invalid")


def _problem(reason: str | None):  # type: ignore[no-untyped-def]
    # Ids only in the link, and nothing about anyone on this page.
    reason = reason or "invalid"
    status = 410 if reason == "expired" else 404
    return render_template("public/link_problem.html", reason=reason), status


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
        "request": open_new_time_request(lead),
        "offer_url": choose_url(offer) if offer is not None else None,
        "rsvp_url": rsvp_url(session, "leader"),
        "questionnaire_url": questionnaire_url(session),
        "withdraw_url": withdraw_url(lead),
    }


def _closed(session: CoachingSession, reason: str):  # type: ignore[no-untyped-def]
    return render_template("public/leader_session_closed.html", session=session, reason=reason), (
        409 if request.method == "POST" else 200
    )


def _session_or_page(token: str):  # type: ignore[no-untyped-def]
    """(the session, None) when the leader can still change it, else (None, a page)."""
    session, problem = _load(token, for_update=request.method == "POST")
    if session is None:
        return None, _problem(problem)
    reason = leader_can_change(session, utcnow())
    if reason is not None:
        return None, _closed(session, reason)
    return session, None


@bp.get("/session/<token>", endpoint="leader_session")
def leader_session(token: str):  # type: ignore[no-untyped-def]
    session, page = _session_or_page(token)
    if session is None:
        return page
    return render_template(
        "public/leader_session.html", error=None, note="", **_context(token, session)
    )


@bp.post("/session/<token>/new-time", endpoint="leader_session_new_time")
def leader_session_new_time(token: str):  # type: ignore[no-untyped-def]
    session, page = _session_or_page(token)
    if session is None:
        return page
    note = (request.form.get("note") or "").strip()
    error = None
    if not note:
        error = "Tell your coach which days and times would suit you."
    elif len(note) > MAX_NOTE:
        error = "Keep your note to 2,000 characters."
    if error:
        return render_template(
            "public/leader_session.html", error=error, note=note, **_context(token, session)
        ), 400
    try:
        leader_request_new_time(session, note, utcnow())
        db.session.commit()
    except DomainError as problem:
        db.session.rollback()
        return render_template(
            "public/leader_session.html", error=str(problem), note=note, **_context(token, session)
        ), 409
    return render_template(
        "public/leader_session_done.html", done="requested", **_context(token, session)
    )


@bp.route("/session/<token>/cancel", methods=["GET", "POST"], endpoint="leader_session_cancel")
def leader_session_cancel(token: str):  # type: ignore[no-untyped-def]
    session, page = _session_or_page(token)
    if session is None:
        return page
    if request.method == "GET":
        # The confirmation: nothing is cancelled until the button on this page is pressed.
        return render_template(
            "public/leader_session_cancel.html", error=None, reason="", **_context(token, session)
        )
    reason = (request.form.get("reason") or "").strip()
    if len(reason) > MAX_NOTE:
        return render_template(
            "public/leader_session_cancel.html",
            reason=reason,
            error="Keep your reason to 2,000 characters.",
            **_context(token, session),
        ), 400
    try:
        leader_cancel_session(session, reason, utcnow())
        db.session.commit()
    except (DomainError, IntegrityError) as problem:
        db.session.rollback()
        return render_template(
            "public/leader_session_cancel.html",
            reason=reason,
            error=str(problem)
            if isinstance(problem, DomainError)
            else "Something changed at the same moment. Please try again.",
            **_context(token, session),
        ), 409
    return render_template(
        "public/leader_session_done.html",
        done="cancelled",
        session=session,
        withdraw_url=withdraw_url(session.lead),
        token=token,
    )

"""The leader's link to the proposed times: view them, pick one, or say none suit.

No account: the link carries a signed, expiring token for the purpose "choose-time" whose payload
is the proposal's id only. Viewing changes nothing; choosing is a POST. A link that cannot be
used any more shows a friendly page that says what happened.
"""

from __future__ import annotations

from flask import redirect, render_template, request, url_for
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from ..extensions import db
from ..invite_emails import leader_session_url
from ..models import (
    CoachingSession,
    LeadStatus,
    Proposal,
    ProposalStatus,
    ProposedTime,
    SessionStatus,
    utcnow,
)
from ..tokens import TokenError, read_token
from ..workflow import DomainError
from ..workflow.registration import withdraw_url
from ..workflow.scheduling import agree_time, none_suit, proposal_open
from .views import bp

TAKEN = (
    "Sorry, that time was taken a moment ago. Nothing has been booked for you: "
    "please choose another time, or tell us none of them suit."
)


def _proposal_from_token(token: str) -> tuple[Proposal | None, str | None]:
    try:
        payload = read_token("choose-time", token)
    except TokenError as error:
        return None, error.reason
    if not isinstance(payload, int):
        return None, "invalid"
    proposal = db.session.get(Proposal, payload)
    return (proposal, None) if proposal is not None else (None, "invalid")


def _problem(reason: str, detail: str | None = None):  # type: ignore[no-untyped-def]
    status = {"expired": 410, "used": 409}.get(reason, 404)
    return render_template("public/link_problem.html", reason=reason, detail=detail), status


def _chosen_session(proposal: Proposal) -> CoachingSession | None:
    ids = [t.id for t in proposal.times]
    if not ids:
        return None
    return db.session.scalars(
        select(CoachingSession)
        .where(CoachingSession.proposed_time_id.in_(ids))
        .order_by(CoachingSession.id.desc())
        .limit(1)
    ).first()


def _closed_page(proposal: Proposal):  # type: ignore[no-untyped-def]
    """What to show for a proposal that is no longer open: say what happened."""
    lead = proposal.lead
    if proposal.status == ProposalStatus.CHOSEN:
        session = _chosen_session(proposal)
        if session is not None and session.status == SessionStatus.BOOKED:
            return render_template(
                "public/choose_done.html",
                session=session,
                moved=proposal.moves_session_id is not None,
                session_url=leader_session_url(session),
                withdraw_url=withdraw_url(lead),
            )
        return _problem(
            "used",
            "You chose a time from this list already. That session has "
            "since changed: see our latest email.",
        )
    if lead.status == LeadStatus.WITHDRAWN:
        return _problem(
            "used",
            "You withdrew your interest, so these times are closed. "
            "There is nothing more you need to do.",
        )
    if proposal.status == ProposalStatus.NONE_SUIT:
        return render_template(
            "public/choose_none_suit_sent.html", kept=proposal.moves_session
        ), 200
    return _problem(
        "used",
        "These times have been replaced or closed. Please use the link in our most recent email.",
    )


def _open_proposal(token: str):  # type: ignore[no-untyped-def]
    """(the proposal, None) when the link's times can still be chosen, else (None, a page)."""
    proposal, problem = _proposal_from_token(token)
    if proposal is None:
        return None, _problem(problem or "invalid")
    if not proposal_open(proposal):
        return None, _closed_page(proposal)
    return proposal, None


def _render_choices(
    token: str, proposal: Proposal, error: str | None = None, status: int = 200, note: str = ""
):  # type: ignore[no-untyped-def]
    now = utcnow()
    times = [t for t in proposal.times if t.starts_at > now]
    return render_template(
        "public/choose.html",
        token=token,
        proposal=proposal,
        times=times,
        error=error,
        note=note,
        withdraw_url=withdraw_url(proposal.lead),
    ), status


@bp.get("/choose/<token>", endpoint="choose_time")
def choose_time(token: str):  # type: ignore[no-untyped-def]
    proposal, refusal = _open_proposal(token)
    if proposal is None:
        return refusal
    return _render_choices(token, proposal)


@bp.post("/choose/<token>", endpoint="choose_time_pick")
def choose_time_pick(token: str):  # type: ignore[no-untyped-def]
    # A double click lands on the closed page once the first click has booked.
    proposal, refusal = _open_proposal(token)
    if proposal is None:
        return refusal
    raw = request.form.get("time", "")
    picked = db.session.get(ProposedTime, int(raw)) if raw.isdigit() else None
    if picked is None or picked.proposal_id != proposal.id:
        # Not one of this link's times (another leader's, or made up): nothing is shown or done.
        return _render_choices(token, proposal, "Choose one of the times below.", 400)
    proposal_id = proposal.id
    try:
        agree_time(picked, utcnow())
        db.session.commit()
    except DomainError as error:
        db.session.rollback()
        return _render_choices(token, proposal, str(error), 409)
    except IntegrityError:
        # Two picks at once: the database let only one through. Which one won?
        db.session.rollback()
        proposal = db.session.get(Proposal, proposal_id)
        assert proposal is not None
        if proposal.status == ProposalStatus.OPEN:
            return _render_choices(token, proposal, TAKEN, 409)
        return _closed_page(proposal)
    return redirect(url_for("public.choose_time", token=token))


@bp.post("/choose/<token>/none-suit", endpoint="choose_time_none_suit")
def choose_time_none_suit(token: str):  # type: ignore[no-untyped-def]
    proposal, refusal = _open_proposal(token)
    if proposal is None:
        return refusal
    note = (request.form.get("note") or "").strip()
    if not note:
        return _render_choices(
            token, proposal, "Tell your coach which days and times would suit you.", 400
        )
    if len(note) > 2000:
        return _render_choices(
            token, proposal, "Keep your note to 2,000 characters.", 400, note=note
        )
    try:
        none_suit(proposal, note, utcnow())
        db.session.commit()
    except DomainError as error:
        db.session.rollback()
        return _render_choices(token, proposal, str(error), 409, note=note)
    return redirect(url_for("public.choose_time", token=token))

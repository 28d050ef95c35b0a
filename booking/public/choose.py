"""The leader's link to the proposed times: view them, pick one, or say none suit.

No account: the link carries a signed, expiring token for the purpose "choose-time" whose payload
is the proposal's id only. Viewing changes nothing; choosing is a POST. A link that cannot be
used any more shows a friendly page that says what happened.
"""

from __future__ import annotations

from flask import redirect, render_template, url_for
from flask.typing import ResponseReturnValue
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError, OperationalError

from .. import links
from ..database import lost_a_race
from ..extensions import db
from ..links import LinkRefused
from ..models import (
    CoachingSession,
    LeadStatus,
    Proposal,
    ProposalStatus,
    ProposedTime,
    SessionStatus,
)
from ..settings import current_now, current_settings
from ..workflow import DomainError
from ..workflow.scheduling import (
    agree_time,
    leader_asked_for_new_times,
    none_suit,
    proposal_open,
)
from .forms import ChooseTimeForm, LinkPageForm, SuitableTimesForm

TAKEN = (
    "Sorry, that time was taken a moment ago. Nothing has been booked for you: "
    "please choose another time, or tell us none of them suit."
)


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


def _closed_page(proposal: Proposal) -> ResponseReturnValue:
    """What to show for a proposal that is no longer open: say what happened (a page, or the
    standard refusal for a link already used or replaced)."""
    lead = proposal.lead
    if proposal.status == ProposalStatus.CHOSEN:
        session = _chosen_session(proposal)
        if session is not None and session.status == SessionStatus.BOOKED:
            return render_template(
                "public/choose_done.html",
                session=session,
                moved=proposal.moves_session_id is not None,
                session_url=links.leader_session_url(session),
                withdraw_url=links.withdraw_url(lead),
            )
        raise LinkRefused(
            "used",
            "You chose a time from this list already. That session has "
            "since changed: see our latest email.",
        )
    if lead.status == LeadStatus.WITHDRAWN:
        raise LinkRefused(
            "used",
            "You withdrew your interest, so these times are closed. "
            "There is nothing more you need to do.",
        )
    if proposal.status == ProposalStatus.NONE_SUIT:
        return render_template(
            "public/choose_none_suit_sent.html", kept=proposal.moves_session
        ), 200
    raise LinkRefused(
        "replaced",
        "These times have been replaced or closed. Please use the link in our most recent email.",
    )


def _open_proposal(token: str) -> Proposal | ResponseReturnValue:
    """The proposal when the link's times can still be chosen, else the page that says why."""
    proposal = links.load_choose(token)
    if not proposal_open(proposal):
        return _closed_page(proposal)
    return proposal


def _render_choices(
    token: str,
    proposal: Proposal,
    error: str | None = None,
    status: int = 200,
    *,
    time_form: LinkPageForm | None = None,
    note_form: SuitableTimesForm | None = None,
) -> ResponseReturnValue:
    """The times to choose from; a form sent back with problems is shown with them marked."""
    now = current_now()
    times = [t for t in proposal.times if t.starts_at > now]
    return render_template(
        "public/choose.html",
        token=token,
        proposal=proposal,
        leader_asked=leader_asked_for_new_times(proposal),
        times=times,
        error=error,
        time_form=time_form,
        note_form=note_form or SuitableTimesForm(formdata=None),
        withdraw_url=links.withdraw_url(proposal.lead),
    ), status


def choose_time(token: str) -> ResponseReturnValue:
    proposal = _open_proposal(token)
    if not isinstance(proposal, Proposal):
        return proposal
    return _render_choices(token, proposal)


def choose_time_pick(token: str) -> ResponseReturnValue:
    # A double click lands on the closed page once the first click has booked.
    proposal = _open_proposal(token)
    if not isinstance(proposal, Proposal):
        return proposal
    form = ChooseTimeForm(time_ids=[t.id for t in proposal.times])
    if not form.validate():
        return _render_choices(token, proposal, None, 400, time_form=form)
    picked = db.session.get(ProposedTime, form.time_id)
    assert picked is not None
    proposal_id = proposal.id
    try:
        agree_time(picked, current_now(), settings=current_settings())
        db.session.commit()
    except DomainError as error:
        db.session.rollback()
        return _render_choices(token, proposal, str(error), 409)
    except (IntegrityError, OperationalError) as error:
        # Two picks at once (of one time, or of overlapping times of one coach): the database
        # let only one through. Which one won? (Any other database failure is not ours to word.)
        if not lost_a_race(error):
            raise
        db.session.rollback()
        current = db.session.get(Proposal, proposal_id)
        assert current is not None
        if current.status == ProposalStatus.OPEN:
            return _render_choices(token, current, TAKEN, 409)
        return _closed_page(current)
    return redirect(url_for("public.choose_time", token=token))


def choose_time_none_suit(token: str) -> ResponseReturnValue:
    proposal = _open_proposal(token)
    if not isinstance(proposal, Proposal):
        return proposal
    form = SuitableTimesForm()
    note = form.note.data or ""
    if not form.validate():
        return _render_choices(token, proposal, None, 400, note_form=form)
    try:
        none_suit(proposal, note, current_now(), settings=current_settings())
        db.session.commit()
    except DomainError as error:
        db.session.rollback()
        return _render_choices(token, proposal, str(error), 409, note_form=form)
    return redirect(url_for("public.choose_time", token=token))

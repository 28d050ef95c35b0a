"""The links in an invitation: answering it (/rsvp/...) and the reflection (/questionnaire/...).

No account: each link carries a signed, purpose-specific, expiring token with ids only.
Opening a link changes nothing, because mail scanners (Safe Links and the like) open links in
emails; an answer is a POST from the page.
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
from ..models import PartStat, SessionStatus
from ..questionnaire import check_answers, load_questionnaire
from ..settings import current_now, current_settings
from ..workflow import DomainError
from ..workflow.responses import (
    ANSWER_WORDS,
    partstat_of,
    party_name,
    questionnaire_open,
    questionnaire_response,
    record_partstat,
    save_questionnaire,
)
from .forms import RSVP_ANSWERS, RsvpForm, questionnaire_form, rsvp_answer

ANSWERS = RSVP_ANSWERS  # in the order of the page's buttons
ANSWER_BUTTONS = {
    PartStat.ACCEPTED: "Accept",
    PartStat.TENTATIVE: "Maybe (tentative)",
    PartStat.DECLINED: "Decline",
}


def rsvp(token: str) -> ResponseReturnValue:
    link = links.load_rsvp(token)
    session, role = link.session, Role(link.role)
    context: dict[str, Any] = {
        "session": session,
        "role": role,
        "name": party_name(session, role),
        "join": join_text(session),
        "current": partstat_of(session, role),
        "answer_words": ANSWER_WORDS,
        "buttons": ANSWER_BUTTONS,
        "answers": ANSWERS,
        # The leader's page to ask for a different time or cancel.
        "session_url": links.leader_session_url(session) if role == Role.LEADER else None,
    }
    now = current_now()
    if session.status != SessionStatus.BOOKED:
        return render_template("public/rsvp_closed.html", reason="cancelled", **context), (
            409 if request.method == "POST" else 200
        )
    if session.ends_at <= now:
        return render_template("public/rsvp_closed.html", reason="past", **context), (
            409 if request.method == "POST" else 200
        )

    if request.method == "POST":
        form = RsvpForm()
        if not form.validate():
            return render_template(
                "public/rsvp.html", suggested=None, error=None, form=form, **context
            ), 400
        answer = form.chosen
        try:
            record_partstat(
                session, role, answer, now, source="email link", settings=current_settings()
            )
            db.session.commit()
        except DomainError as error:
            db.session.rollback()
            return render_template(
                "public/rsvp.html", suggested=None, error=str(error), form=None, **context
            ), 409
        context["current"] = answer
        return render_template("public/rsvp_done.html", **context)

    # GET: show the question; the link's ?answer= only pre-selects the main button.
    suggested = rsvp_answer(request.args.get("answer"))
    return render_template(
        "public/rsvp.html", suggested=suggested, error=None, form=None, **context
    )


def questionnaire(token: str) -> ResponseReturnValue:
    session = links.load_questionnaire(token)
    q = load_questionnaire(current_settings().questionnaire_path)
    now = current_now()
    if not questionnaire_open(session, now):
        return render_template("public/questionnaire_closed.html", session=session), (
            409 if request.method == "POST" else 200
        )

    existing = questionnaire_response(session)
    saved_answers = existing.answers if existing else {}
    if request.method == "GET":
        form = questionnaire_form(
            q, data={k: str(v) for k, v in saved_answers.items()}, formdata=None
        )
        return render_template(
            "public/questionnaire.html", form=form, q=q, session=session, saved=existing is not None
        )

    form = questionnaire_form(q)
    form.validate()
    check = check_answers(q, request.form)
    for qid, message in check.errors.items():
        form[qid].errors = [message]
    if form.errors or not check.ok:
        return render_template(
            "public/questionnaire.html", form=form, q=q, session=session, saved=existing is not None
        ), 400
    for attempt in range(2):
        try:
            save_questionnaire(session, check.answers, now, settings=current_settings())
            db.session.commit()
            break
        except IntegrityError:
            # The same form sent twice at once: the other request created the row; update it.
            db.session.rollback()
            if attempt:
                raise
        except DomainError:
            db.session.rollback()
            return render_template("public/questionnaire_closed.html", session=session), 409
    return render_template("public/questionnaire_saved.html", session=session, token=token)

"""The links in an invitation: answering it (/rsvp/...) and the reflection (/questionnaire/...).

No account: each link carries a signed, purpose-specific, expiring token with ids only.
Opening a link changes nothing, because mail scanners (Safe Links and the like) open links in
emails; an answer is a POST from the page.
"""

from __future__ import annotations

from typing import Any

from flask import render_template, request
from flask_wtf import FlaskForm
from sqlalchemy.exc import IntegrityError
from wtforms import RadioField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import Optional

from ..extensions import db
from ..invite_emails import join_text, leader_session_url
from ..models import CoachingSession, PartStat, SessionStatus, utcnow
from ..questionnaire import Questionnaire, check_answers, load_questionnaire
from ..tokens import TokenError, read_token
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
from .views import bp

ANSWERS = (PartStat.ACCEPTED, PartStat.TENTATIVE, PartStat.DECLINED)
ANSWER_BUTTONS = {
    PartStat.ACCEPTED: "Accept",
    PartStat.TENTATIVE: "Maybe (tentative)",
    PartStat.DECLINED: "Decline",
}


def _session_from(
    purpose: str, token: str
) -> tuple[CoachingSession | None, dict[str, Any], str | None]:
    try:
        payload = read_token(purpose, token)
    except TokenError as error:
        return None, {}, error.reason
    if not isinstance(payload, dict):
        return None, {}, "invalid"
    try:
        session = db.session.get(CoachingSession, int(payload.get("session", 0)))
    except (TypeError, ValueError):
        session = None
    return (session, payload, None) if session is not None else (None, {}, "invalid")


def _problem(reason: str | None):
    return render_template("public/link_problem.html", reason=reason or "invalid"), 404


def _chosen_answer(value: str | None) -> PartStat | None:
    value = (value or "").strip().upper()
    return next((a for a in ANSWERS if a.value == value), None)


@bp.route("/rsvp/<token>", methods=["GET", "POST"])
def rsvp(token: str):
    session, payload, problem = _session_from("rsvp", token)
    role = payload.get("role")
    if session is None or role not in ("leader", "coach"):
        return _problem(problem)
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
        "session_url": leader_session_url(session) if role == "leader" else None,
    }
    now = utcnow()
    if session.status != SessionStatus.BOOKED:
        return render_template("public/rsvp_closed.html", reason="cancelled", **context), (
            409 if request.method == "POST" else 200
        )
    if session.ends_at <= now:
        return render_template("public/rsvp_closed.html", reason="past", **context), (
            409 if request.method == "POST" else 200
        )

    if request.method == "POST":
        answer = _chosen_answer(request.form.get("answer"))
        if answer is None:
            return render_template(
                "public/rsvp.html",
                suggested=None,
                error="Choose accept, maybe or decline.",
                **context,
            ), 400
        try:
            record_partstat(session, role, answer, now, source="email link")
            db.session.commit()
        except DomainError as error:
            db.session.rollback()
            return render_template(
                "public/rsvp.html", suggested=None, error=str(error), **context
            ), 409
        context["current"] = answer
        return render_template("public/rsvp_done.html", **context)

    # GET: show the question; the link's ?answer= only pre-selects the main button.
    suggested = _chosen_answer(request.args.get("answer"))
    return render_template("public/rsvp.html", suggested=suggested, error=None, **context)


def questionnaire_form(questionnaire: Questionnaire, **kwargs: Any) -> FlaskForm:
    """A form built from the questions the firm wrote (the file, not the template, owns them)."""

    class ReflectionForm(FlaskForm):
        def error_fields(self) -> list[tuple[str, str, str]]:
            rows = []
            for field in self:
                if field.errors and field.name != "csrf_token":
                    anchor = f"{field.id}-0" if field.type == "RadioField" else field.id
                    rows.append((anchor, str(field.label.text), str(field.errors[0])))
            return rows

    scale = questionnaire.scale
    for question in questionnaire.questions:
        if question.kind == "rating":
            choices = []
            for value in scale:
                label = str(value)
                if value == scale[0] and questionnaire.low_label:
                    label += f" – {questionnaire.low_label}"
                if value == scale[-1] and questionnaire.high_label:
                    label += f" – {questionnaire.high_label}"
                choices.append(SelectChoice(str(value), label))
            field: Any = RadioField(
                question.label, choices=choices, validators=[Optional()], validate_choice=False
            )
        else:
            field = TextAreaField(question.label, validators=[Optional()])
        setattr(ReflectionForm, question.id, field)
    return ReflectionForm(**kwargs)


@bp.route("/questionnaire/<token>", methods=["GET", "POST"])
def questionnaire(token: str):
    session, _, problem = _session_from("questionnaire", token)
    if session is None:
        return _problem(problem)
    q = load_questionnaire()
    now = utcnow()
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
            save_questionnaire(session, check.answers, now)
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

"""The follow-up questionnaire after a coaching journey (/follow-up/<token>): the leader rates
themselves again on the three dimensions, then sees before and after side by side.

Opening the link changes nothing; answering is a POST. The token names the follow-up only.
"""

from __future__ import annotations

from dataclasses import replace

from flask import render_template, request
from flask.typing import ResponseReturnValue

from .. import links
from ..coach.journey import before_after_view
from ..extensions import db
from ..questionnaire import check_answers, load_questionnaire
from ..settings import current_now, current_settings
from ..workflow import DomainError
from ..workflow.outcomes import before_after, follow_up_open, save_follow_up
from .forms import questionnaire_form


def follow_up(token: str) -> ResponseReturnValue:
    record = links.load_follow_up(token)
    settings = current_settings()
    full = load_questionnaire(settings.questionnaire_path)
    q = replace(full, questions=full.ratings)  # the ratings only, worded as before
    if not follow_up_open(record):
        return render_template("public/follow_up_closed.html"), (
            409 if request.method == "POST" else 200
        )
    ratings = before_after(record.lead)
    if request.method == "GET":
        if record.answered_at is not None and not request.args.get("change"):
            return _chart_page(record, token)
        saved = {
            question.id: str(ratings.after[d])
            for d in ratings.after
            if ratings.after[d] is not None and (question := q.rating_question(d.value)) is not None
        }
        form = questionnaire_form(q, data=saved, formdata=None)
        return render_template("public/follow_up.html", form=form, q=q, before=ratings)

    form = questionnaire_form(q)
    form.validate()
    check = check_answers(q, request.form)
    for qid, message in check.errors.items():
        form[qid].errors = [message]
    if form.errors or not check.ok:
        return render_template("public/follow_up.html", form=form, q=q, before=ratings), 400
    try:
        save_follow_up(record, check.answers, now=current_now(), settings=settings)
        db.session.commit()
    except DomainError:
        db.session.rollback()
        return render_template("public/follow_up_closed.html"), 409
    return _chart_page(record, token, just_saved=True)


def _chart_page(record: object, token: str, just_saved: bool = False) -> ResponseReturnValue:
    from ..models import FollowUp

    assert isinstance(record, FollowUp)
    chart = before_after_view(before_after(record.lead), current_settings())
    return render_template(
        "public/follow_up_chart.html", chart=chart, token=token, just_saved=just_saved
    )

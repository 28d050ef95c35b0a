"""The coach's own hours (/coach/availability), and offering a leader any free slot.

Thin views: the form parses, the workflow (booking/workflow/self_booking.py) saves and books.
"""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user

from .. import emails, outbox
from ..extensions import db
from ..kinds import EventKind
from ..models import Coach, Lead
from ..settings import current_now, current_settings
from ..workflow import DomainError
from ..workflow.common import record_event
from ..workflow.self_booking import (
    BOOKABLE,
    HoursInput,
    availability_of,
    hours_of,
    save_availability,
)
from .forms import WEEKDAY_NAMES, AvailabilityForm


def _me() -> Coach:
    coach: Coach = current_user._get_current_object()
    return coach


def _filled_form(coach: Coach) -> AvailabilityForm:
    form = AvailabilityForm(formdata=None)
    availability = availability_of(coach)
    if availability is None:
        return form
    form.session_minutes.data = availability.session_minutes
    form.buffer_minutes.data = availability.buffer_minutes
    form.notice_working_days.data = availability.notice_working_days
    form.horizon_days.data = availability.horizon_days
    form.format.data = availability.format.value
    form.join_detail.data = availability.join_detail
    weekly: dict[int, list[str]] = {}
    off, extra = [], []
    for line in hours_of(coach):
        if line.weekday is not None and line.starts and line.ends:
            weekly.setdefault(line.weekday, []).append(f"{line.starts:%H:%M}-{line.ends:%H:%M}")
        elif line.day is not None and line.starts and line.ends:
            extra.append(f"{line.day.isoformat()} {line.starts:%H:%M}-{line.ends:%H:%M}")
        elif line.day is not None:
            off.append(line.day.isoformat())
    for index, name in enumerate(WEEKDAY_NAMES):
        form[name].data = ", ".join(weekly.get(index, []))
    form.days_off.data = "\n".join(off)
    form.extra.data = "\n".join(extra)
    return form


def availability() -> ResponseReturnValue:
    coach = _me()
    return render_template(
        "coach/availability.html", form=_filled_form(coach), weekdays=WEEKDAY_NAMES, error=None
    )


def availability_save() -> ResponseReturnValue:
    from ..models import SessionFormat

    coach = _me()
    form = AvailabilityForm()
    if not form.validate():
        return render_template(
            "coach/availability.html", form=form, weekdays=WEEKDAY_NAMES, error=None
        ), 400
    data = HoursInput(
        session_minutes=int(form.session_minutes.data or 0),
        buffer_minutes=int(form.buffer_minutes.data or 0),
        notice_working_days=int(form.notice_working_days.data or 0),
        horizon_days=int(form.horizon_days.data or 0),
        format=SessionFormat(form.format.data),
        join_detail=form.join_detail.data or "",
        weekly=form.weekly,
        days_off=form.off_days,
        extra=form.extra_times,
    )
    try:
        save_availability(coach, data, current_now())
        db.session.commit()
    except DomainError as problem:
        db.session.rollback()
        return render_template(
            "coach/availability.html", form=form, weekdays=WEEKDAY_NAMES, error=str(problem)
        ), 409
    flash("Your hours are saved.")
    return redirect(url_for("coach.availability"))


def lead_offer_free_slots(lead_id: int) -> ResponseReturnValue:
    """Email the leader the link to book any free slot themselves."""
    settings, now = current_settings(), current_now()
    if not settings.self_booking:
        abort(404)
    lead = db.session.get(Lead, lead_id) or abort(404)
    if lead.status not in BOOKABLE:
        flash(f"This lead is “{lead.status.label}”, so there is no time to pick.", "error")
        return redirect(url_for("coach.lead_detail", lead_id=lead.id))
    coach = _me()
    outbox.enqueue(emails.leader_book_link(lead, settings=settings), lead_id=lead.id, now=now)
    record_event(
        lead,
        EventKind.FREE_SLOTS_OFFERED,
        "Sent the leader a link to pick any free time",
        now=now,
        actor=coach,
    )
    db.session.commit()
    flash(f"{lead.full_name} has been sent a link to pick any free time.")
    return redirect(url_for("coach.lead_detail", lead_id=lead.id))

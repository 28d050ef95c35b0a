"""The coach's own calendars page: connect and remove calendars, the subscription feed address.

Thin views: parse the form, call booking.calendars, commit, redirect. The stored addresses and
passwords are never put on a page.
"""

from __future__ import annotations

import logging

from flask import abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user
from sqlalchemy.exc import SQLAlchemyError

from .. import links
from ..calendars import (
    CalendarKeyMissing,
    coach_calendars,
    connect_calendar,
    failing_calendars,
)
from ..extensions import db
from ..form_errors import error_rows
from ..models import CalendarKind, Coach, CoachCalendar
from ..settings import current_now, current_settings
from .forms import CalendarForm

log = logging.getLogger(__name__)


def _me() -> Coach:
    coach: Coach = current_user._get_current_object()
    return coach


def failing_calendars_banner() -> dict[str, object]:
    """The coach's calendars that could not be read at the last sync, for the banner."""
    if not current_user.is_authenticated:
        return {"failing_calendars": []}
    try:
        return {"failing_calendars": failing_calendars(_me().id)}
    except SQLAlchemyError:
        # The database is unavailable: the error page that says so must still render.
        return {"failing_calendars": []}


def _render(
    form: CalendarForm, *, error: str | None = None, status: int = 200
) -> ResponseReturnValue:
    me = _me()
    settings = current_settings()
    page = render_template(
        "coach/calendars.html",
        form=form,
        rows=error_rows(form),
        error=error,
        calendars=coach_calendars(me.id),
        feed_url=links.session_feed_url(me),
        key_configured=bool(settings.calendar_secret_key),
        horizon_days=settings.calendar_horizon_days,
    )
    return page, status


def calendars() -> ResponseReturnValue:
    form = CalendarForm()
    if request.method == "GET":
        if not form.kind.data:
            form.kind.data = "feed"
        return _render(form)
    if not form.validate_on_submit():
        return _render(form, status=400)
    try:
        calendar = connect_calendar(
            _me().id,
            kind=CalendarKind(form.kind.data),
            name=form.name.data or "",
            url=form.url.data or "",
            username=form.username.data or "",
            password=form.password.data or "",
            add_sessions=bool(form.add_sessions.data),
            now=current_now(),
            settings=current_settings(),
        )
    except CalendarKeyMissing as problem:
        db.session.rollback()
        return _render(form, error=str(problem), status=409)
    db.session.commit()
    log.info("coach %s connected calendar %s", calendar.coach_id, calendar.id)
    flash(
        f"‘{calendar.name}’ is connected. Its busy times are read at the next calendar sync "
        "(usually within the hour)."
    )
    return redirect(url_for("coach.calendars"))


def calendar_remove(calendar_id: int) -> ResponseReturnValue:
    calendar = db.session.get(CoachCalendar, calendar_id)
    if calendar is None or calendar.coach_id != _me().id:
        abort(404)
    name = calendar.name
    db.session.delete(calendar)
    db.session.commit()
    flash(f"‘{name}’ is no longer connected; its busy times are gone.")
    return redirect(url_for("coach.calendars"))


def session_feed_replace() -> ResponseReturnValue:
    me = _me()
    me.session_feed_version += 1
    db.session.commit()
    flash(
        "You have a new calendar address. The old one no longer works: subscribe again with "
        "the new one."
    )
    return redirect(url_for("coach.calendars") + "#session-feed")

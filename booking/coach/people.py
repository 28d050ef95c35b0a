"""People in the coach area: an admin's pages for coach accounts (every one admin_required),
and every coach's own password and profile.

Thin views: parse the form, call booking/workflow/coaches.py, commit, redirect. A form with
problems comes back with the GOV.UK error summary (each row linked to its field) and what was
typed kept; a move the workflow refuses (the last admin, deactivating yourself) is shown on
the page with a 409.
"""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, session, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user

from ..extensions import db
from ..models import Coach
from ..passwords import fingerprint
from ..settings import current_now, current_settings
from ..workflow import DomainError
from ..workflow.accounts import SignInThrottled
from ..workflow.coaches import (
    change_password,
    deactivate,
    invite_coach,
    reactivate,
    send_set_password_link,
    set_admin,
    update_profile,
)
from .auth import admin_required
from .forms import AddCoachForm, ChangePasswordForm, ProfileForm
from .queries import coach_accounts


def _me() -> Coach:
    coach: Coach = current_user._get_current_object()
    return coach


def _coach_or_404(coach_id: int) -> Coach:
    coach = db.session.get(Coach, coach_id)
    if coach is None:
        abort(404)
    return coach


# ----- an admin's pages -------------------------------------------------------------------


def _coach_list(error: str | None = None, status: int = 200) -> ResponseReturnValue:
    return render_template(
        "coach/admin_coaches.html", coaches=coach_accounts(), me=_me(), error=error
    ), status


@admin_required
def coaches() -> ResponseReturnValue:
    return _coach_list()


@admin_required
def coach_add() -> ResponseReturnValue:
    form = AddCoachForm()
    if request.method == "GET":
        form.role.data = "coach"
        return render_template("coach/admin_coach_add.html", form=form)
    if not form.validate():
        return render_template("coach/admin_coach_add.html", form=form), 400
    try:
        coach = invite_coach(
            form.email.data or "",
            form.name.data or "",
            make_admin=form.role.data == "admin",
            actor=_me(),
            now=current_now(),
            settings=current_settings(),
        )
    except DomainError as error:
        db.session.rollback()
        # create_coach's refusals are all about the address (not deliverable, already taken)
        # once the form has checked the name.
        form.add_error("email", str(error).rstrip("."))
        return render_template("coach/admin_coach_add.html", form=form), 400
    db.session.commit()
    flash(
        f"{coach.name} has been added. We have emailed them a link to choose a password.",
        "success",
    )
    return redirect(url_for("coach.admin_coaches"))


def _admin_act(coach_id: int, action: str) -> ResponseReturnValue:
    coach = _coach_or_404(coach_id)
    me, now = _me(), current_now()
    try:
        if action == "deactivate":
            deactivate(coach, actor=me, now=now)
            message = f"{coach.name} has been deactivated and signed out everywhere."
        elif action == "reactivate":
            reactivate(coach, actor=me, now=now)
            message = f"{coach.name} has been reactivated and can sign in again."
        elif action == "send-link":
            send_set_password_link(coach, actor=me, now=now, settings=current_settings())
            message = f"We have emailed {coach.name} a new link to choose a password."
        else:
            make_admin = request.form.get("admin") == "1"
            set_admin(coach, make_admin, actor=me, now=now)
            message = (
                f"{coach.name} is now an admin."
                if make_admin
                else f"{coach.name} is no longer an admin."
            )
        db.session.commit()
    except DomainError as error:
        db.session.rollback()
        return _coach_list(str(error), 409)
    flash(message, "success")
    if not me.is_admin:  # they took their own admin role away
        return redirect(url_for("coach.leads"))
    return redirect(url_for("coach.admin_coaches") + f"#coach-{coach.id}")


@admin_required
def coach_deactivate(coach_id: int) -> ResponseReturnValue:
    return _admin_act(coach_id, "deactivate")


@admin_required
def coach_reactivate(coach_id: int) -> ResponseReturnValue:
    return _admin_act(coach_id, "reactivate")


@admin_required
def coach_send_link(coach_id: int) -> ResponseReturnValue:
    return _admin_act(coach_id, "send-link")


@admin_required
def coach_role(coach_id: int) -> ResponseReturnValue:
    return _admin_act(coach_id, "role")


# ----- every coach: their password and their profile --------------------------------------


def password_change() -> ResponseReturnValue:
    form = ChangePasswordForm()
    if request.method == "GET":
        return render_template("coach/password_change.html", form=form)
    if not form.validate():
        return render_template("coach/password_change.html", form=form), 400
    me = _me()
    try:
        change_password(
            me,
            form.current.data or "",
            form.password.data or "",
            keep_sign_in=session.get("sign_in"),
            address=request.remote_addr or "",
            now=current_now(),
            settings=current_settings(),
        )
    except SignInThrottled as throttled:
        db.session.rollback()
        minutes = (throttled.retry_after + 59) // 60
        wait = f"{minutes} minute{'s' if minutes != 1 else ''}"
        form.add_error("current", f"Too many wrong passwords. Wait {wait}, then try again")
        return render_template("coach/password_change.html", form=form), 429
    except DomainError as error:
        # A wrong current password is remembered (it counts towards the limit); a new
        # password the rules refuse changes nothing (set_password raised before any change).
        db.session.commit()
        field = "current" if "current" in str(error) else "password"
        form.add_error(field, str(error).rstrip("."))
        return render_template("coach/password_change.html", form=form), 400
    db.session.commit()
    # This browser stays signed in: its session now carries the new password's fingerprint.
    session["pw"] = fingerprint(me.password_hash)
    flash("Your password has been changed. You have been signed out everywhere else.", "success")
    return redirect(url_for("coach.profile"))


def profile() -> ResponseReturnValue:
    me = _me()
    form = ProfileForm()
    if request.method == "GET":
        form.shown_name.data = me.display_name
        form.bio.data = me.bio
        return render_template("coach/profile.html", form=form, me=me)
    if not form.validate():
        return render_template("coach/profile.html", form=form, me=me), 400
    try:
        update_profile(
            me,
            shown_name=form.shown_name.data or "",
            bio=form.bio.data or "",
            photo=form.prepared_photo,
            remove_photo=bool(form.remove_photo.data),
            now=current_now(),
        )
    except DomainError as error:
        db.session.rollback()
        form.add_error("shown_name" if "name" in str(error) else "bio", str(error))
        return render_template("coach/profile.html", form=form, me=me), 400
    db.session.commit()
    flash("Your profile has been saved. This is how leaders see it.", "success")
    return redirect(url_for("coach.profile"))

"""Signing in and out of the coach area, session timeouts, and password resets.

Routes here live on the coach blueprint (`views.bp`); `register_blueprints` imports this module.
"""

from __future__ import annotations

import time
from urllib.parse import urlsplit

from flask import (
    current_app,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_login import current_user, login_user, logout_user

from ..extensions import db, limiter, login_manager
from ..models import Coach, utcnow
from ..passwords import fingerprint
from ..tokens import TokenError
from ..workflow import DomainError
from ..workflow.accounts import (
    SignInThrottled,
    authenticate,
    coach_for_reset_token,
    end_sign_in,
    request_password_reset,
    reset_password,
    sign_in_is_live,
    start_sign_in,
)
from .forms import NewPasswordForm, PasswordResetRequestForm, SignInForm
from .views import bp

# Reachable without signing in; everything else under /coach/ needs a signed-in coach.
OPEN_ENDPOINTS = frozenset(
    {"coach.sign_in", "coach.password_reset_request", "coach.password_reset"}
)
SIGNED_OUT_MESSAGE = "Sign in to use the coach area."


@bp.record_once
def _configure_login(state) -> None:  # type: ignore[no-untyped-def]
    login_manager.login_view = "coach.sign_in"
    login_manager.login_message = SIGNED_OUT_MESSAGE
    login_manager.login_message_category = "info"


@login_manager.user_loader
def load_coach(coach_id: str) -> Coach | None:
    coach = db.session.get(Coach, int(coach_id)) if coach_id.isdigit() else None
    return coach if coach is not None and coach.active else None


def _end_session() -> None:
    logout_user()
    session.clear()


def _safe_next(target: str | None) -> str | None:
    """Only a path inside the coach area: never another site (no open redirect)."""
    if not target:
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or "\\" in target or not parts.path.startswith("/coach/"):
        return None
    return target


def _sign_in_redirect():  # type: ignore[no-untyped-def]
    next_path = request.full_path.rstrip("?") if request.method == "GET" else None
    return redirect(url_for("coach.sign_in", next=next_path))


@bp.before_request
def require_signed_in_coach():  # type: ignore[no-untyped-def]
    if request.endpoint in OPEN_ENDPOINTS:
        return None
    if not current_user.is_authenticated:
        # No personal data for anyone not signed in: straight to the sign-in page.
        flash(SIGNED_OUT_MESSAGE, "info")
        return _sign_in_redirect()
    now = time.time()
    idle = float(current_app.config["SESSION_IDLE_MINUTES"]) * 60
    absolute = float(current_app.config["SESSION_ABSOLUTE_HOURS"]) * 3600
    reason = None
    if now - float(session.get("last_seen", 0)) > idle:
        reason = "You were signed out because the coach area was not used for a while."
    elif now - float(session.get("signed_in_at", 0)) > absolute:
        reason = "You were signed out because you signed in a long time ago."
    elif session.get("pw") != fingerprint(current_user.password_hash):
        # The password changed (a reset): every older session ends.
        reason = "You were signed out because your password changed."
    elif not sign_in_is_live(current_user, session.get("sign_in")):
        # Signed out (this cookie is a copy kept from before), or ended by a password reset.
        reason = "You were signed out."
    if reason:
        _end_session()
        flash(reason + " Sign in again to carry on.", "info")
        return _sign_in_redirect()
    session["last_seen"] = now
    return None


@bp.after_request
def no_caching(response):  # type: ignore[no-untyped-def]
    # Coach pages carry leaders' personal data: never keep them in a browser or proxy cache.
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.route("/sign-in", methods=["GET", "POST"])
def sign_in():  # type: ignore[no-untyped-def]
    form = SignInForm()
    if request.method == "GET":
        if current_user.is_authenticated:
            return redirect(url_for("coach.leads"))
        form.next.data = _safe_next(request.args.get("next")) or ""
        return render_template("coach/sign_in.html", form=form, error=None)
    if not form.validate():
        return render_template("coach/sign_in.html", form=form, error=None), 400

    try:
        coach = authenticate(
            form.email.data or "",
            form.password.data or "",
            address=request.remote_addr or "",
            now=utcnow(),
        )
    except SignInThrottled as throttled:
        db.session.rollback()
        response = current_app.make_response(
            (
                render_template(
                    "coach/sign_in_refused.html",
                    locked=throttled.locked,
                    seconds=throttled.retry_after,
                    minutes=(throttled.retry_after + 59) // 60,
                ),
                429,
            )
        )
        response.headers["Retry-After"] = str(throttled.retry_after)
        return response
    except DomainError as error:
        db.session.commit()  # the failure is remembered for throttling
        form.password.data = ""
        return render_template("coach/sign_in.html", form=form, error=str(error)), 400

    key = start_sign_in(coach, now=utcnow())
    db.session.commit()
    # A new session at sign-in: nothing from before (a planted session id, an old CSRF token)
    # carries over.
    next_path = _safe_next(form.next.data)
    session.clear()
    login_user(coach)
    session["signed_in_at"] = session["last_seen"] = time.time()
    session["pw"] = fingerprint(coach.password_hash)
    session["sign_in"] = key
    return redirect(next_path or url_for("coach.leads"))


@bp.post("/sign-out")
def sign_out():  # type: ignore[no-untyped-def]
    end_sign_in(session.get("sign_in"), now=utcnow())
    db.session.commit()
    _end_session()
    flash("You have signed out.", "info")
    return redirect(url_for("coach.sign_in"))


def _reset_limit() -> str:
    return str(current_app.config.get("RATELIMIT_PASSWORD_RESET", "5 per hour"))


@bp.route("/password-reset", methods=["GET", "POST"], endpoint="password_reset_request")
@limiter.limit(_reset_limit, methods=["POST"])
def password_reset_request():  # type: ignore[no-untyped-def]
    form = PasswordResetRequestForm()
    if request.method == "GET":
        return render_template("coach/password_reset_request.html", form=form, sent=False)
    if not form.validate():
        return render_template("coach/password_reset_request.html", form=form, sent=False), 400
    request_password_reset(form.email.data or "", now=utcnow())
    db.session.commit()
    # The same answer whether or not the address has an account.
    return render_template("coach/password_reset_request.html", form=form, sent=True)


def _link_problem(reason: str):  # type: ignore[no-untyped-def]
    status = {"expired": 410, "used": 409}.get(reason, 404)
    detail = "This password reset link has been used already. Ask for a new one if you need it."
    return render_template("public/link_problem.html", reason=reason, detail=detail), status


@bp.route("/password-reset/<token>", methods=["GET", "POST"], endpoint="password_reset")
def password_reset(token: str):  # type: ignore[no-untyped-def]
    try:
        coach_for_reset_token(token)
    except TokenError as error:
        return _link_problem(error.reason)
    form = NewPasswordForm()
    if request.method == "GET":
        return render_template("coach/password_reset.html", form=form, error=None)
    if not form.validate():
        return render_template("coach/password_reset.html", form=form, error=None), 400
    try:
        reset_password(token, form.password.data or "", now=utcnow())
    except TokenError as error:
        db.session.rollback()
        return _link_problem(error.reason)
    except DomainError as error:
        db.session.rollback()
        return render_template("coach/password_reset.html", form=form, error=str(error)), 400
    db.session.commit()
    _end_session()
    flash("Your password has been changed. Sign in with your new password.", "info")
    return redirect(url_for("coach.sign_in"))

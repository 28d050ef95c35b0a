"""Signing in and out of the coach area, session timeouts, and password resets.

Their URLs, and the hooks below, are registered on the coach blueprint in `blueprint.py`.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from typing import ParamSpec
from urllib.parse import urlsplit

from flask import (
    Response,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask.blueprints import BlueprintSetupState
from flask.typing import ResponseReturnValue
from flask_login import current_user, login_user, logout_user

from .. import links
from ..extensions import db, limiter, login_manager
from ..limits import PHOTO_UPLOAD_MAX_BYTES
from ..models import Coach
from ..passwords import fingerprint
from ..settings import current_now, current_settings
from ..workflow import DomainError
from ..workflow.accounts import (
    SignInThrottled,
    authenticate,
    end_sign_in,
    request_password_reset,
    reset_password,
    sign_in_is_live,
    start_sign_in,
)
from .forms import NewPasswordForm, PasswordResetRequestForm, SetPasswordForm, SignInForm

# Reachable without signing in; everything else under /coach/ needs a signed-in coach.
OPEN_ENDPOINTS = frozenset(
    {
        "coach.sign_in",
        "coach.password_reset_request",
        "coach.password_reset",
        "coach.set_password",
    }
)
SIGNED_OUT_MESSAGE = "Sign in to use the coach area."

P = ParamSpec("P")


def configure_login(state: BlueprintSetupState) -> None:
    """Flask-Login's settings and its user loader, once, when the coach blueprint is registered."""
    login_manager.login_view = "coach.sign_in"
    login_manager.login_message = SIGNED_OUT_MESSAGE
    login_manager.login_message_category = "info"
    login_manager.user_loader(load_coach)


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


def _sign_in_redirect() -> ResponseReturnValue:
    next_path = request.full_path.rstrip("?") if request.method == "GET" else None
    return redirect(url_for("coach.sign_in", next=next_path))


def require_signed_in_coach() -> ResponseReturnValue | None:
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


def admin_required(view: Callable[P, ResponseReturnValue]) -> Callable[P, ResponseReturnValue]:
    """For admin-only pages: any other signed-in coach gets 403 (signing in is checked first,
    by `require_signed_in_coach`, for the whole blueprint)."""

    @functools.wraps(view)
    def checked(*args: P.args, **kwargs: P.kwargs) -> ResponseReturnValue:
        if not current_user.is_authenticated or not current_user.is_admin:
            abort(403)
        return view(*args, **kwargs)

    return checked


def no_caching(response: Response) -> Response:
    # Coach pages carry leaders' personal data: never keep them in a browser or proxy cache.
    response.headers["Cache-Control"] = "no-store"
    return response


def sign_in() -> ResponseReturnValue:
    form = SignInForm()
    if request.method == "GET":
        if current_user.is_authenticated:
            return redirect(url_for("coach.home"))
        form.next.data = _safe_next(request.args.get("next")) or ""
        return render_template("coach/sign_in.html", form=form, error=None)
    if not form.validate():
        return render_template("coach/sign_in.html", form=form, error=None), 400

    try:
        coach = authenticate(
            form.email.data or "",
            form.password.data or "",
            address=request.remote_addr or "",
            settings=current_settings(),
            now=current_now(),
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

    key = start_sign_in(coach, now=current_now())
    db.session.commit()
    # A new session at sign-in: nothing from before (a planted session id, an old CSRF token)
    # carries over.
    next_path = _safe_next(form.next.data)
    session.clear()
    login_user(coach)
    session["signed_in_at"] = session["last_seen"] = time.time()
    session["pw"] = fingerprint(coach.password_hash)
    session["sign_in"] = key
    return redirect(next_path or url_for("coach.home"))


def sign_out() -> ResponseReturnValue:
    end_sign_in(session.get("sign_in"), now=current_now())
    db.session.commit()
    _end_session()
    flash("You have signed out.", "info")
    return redirect(url_for("coach.sign_in"))


def _reset_limit() -> str:
    return str(current_app.config.get("RATELIMIT_PASSWORD_RESET", "5 per hour"))


@limiter.limit(_reset_limit, methods=["POST"])
def password_reset_request() -> ResponseReturnValue:
    form = PasswordResetRequestForm()
    if request.method == "GET":
        return render_template("coach/password_reset_request.html", form=form, sent=False)
    if not form.validate():
        return render_template("coach/password_reset_request.html", form=form, sent=False), 400
    request_password_reset(form.email.data or "", now=current_now(), settings=current_settings())
    db.session.commit()
    # The same answer whether or not the address has an account.
    return render_template("coach/password_reset_request.html", form=form, sent=True)


def password_reset(token: str) -> ResponseReturnValue:
    coach = links.load_password_reset(token)
    form = NewPasswordForm()
    if request.method == "GET":
        return render_template("coach/password_reset.html", form=form, error=None)
    if not form.validate():
        return render_template("coach/password_reset.html", form=form, error=None), 400
    try:
        reset_password(
            coach, form.password.data or "", now=current_now(), settings=current_settings()
        )
    except DomainError as error:
        db.session.rollback()
        return render_template("coach/password_reset.html", form=form, error=str(error)), 400
    db.session.commit()
    _end_session()
    flash("Your password has been changed. Sign in with your new password.", "info")
    return redirect(url_for("coach.sign_in"))


def set_password(token: str) -> ResponseReturnValue:
    """A coach an admin added chooses their first password (links.load_set_password)."""
    coach = links.load_set_password(token)
    form = SetPasswordForm()
    if request.method == "GET":
        return render_template("coach/set_password.html", form=form, coach=coach)
    if not form.validate():
        return render_template("coach/set_password.html", form=form, coach=coach), 400
    try:
        reset_password(
            coach, form.password.data or "", now=current_now(), settings=current_settings()
        )
    except DomainError as error:
        db.session.rollback()
        form.password.errors = [*form.password.errors, str(error).rstrip(".")]
        return render_template("coach/set_password.html", form=form, coach=coach), 400
    db.session.commit()
    _end_session()
    flash("Your password has been set. Sign in with your email address and new password.", "info")
    return redirect(url_for("coach.sign_in"))


def allow_photo_uploads() -> None:
    """The profile page takes a photo of a few MB; every other request keeps the small
    MAX_CONTENT_LENGTH. Runs before the form is parsed (CSRF reads it in a before_request), and
    only for a signed-in coach, so no one else can make the server read a large body."""
    if request.endpoint == "coach.profile" and request.method == "POST":
        if current_user.is_authenticated:
            request.max_content_length = PHOTO_UPLOAD_MAX_BYTES + 64 * 1024

"""Public pages: the interest form, its confirmation, the privacy notice, withdrawing."""

from __future__ import annotations

import secrets
import time
from pathlib import Path

from flask import (
    Blueprint,
    current_app,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from markupsafe import Markup, escape
from sqlalchemy.exc import IntegrityError

from ..extensions import csrf, db, limiter
from ..models import Dimension, Lead, SessionFormat, utcnow
from ..tokens import TokenError, make_token, read_token
from ..validators import normalise_email, strip_control_characters
from ..workflow import DomainError, Registration, register_interest, withdraw
from .forms import InterestForm

bp = Blueprint("public", __name__)


def _new_form_token() -> str:
    return make_token("register-form", {"n": secrets.token_urlsafe(18), "t": time.time()})


def _looks_automated(form: InterestForm) -> tuple[bool, str | None]:
    """(is a bot, the one-time nonce). Bots get a normal-looking success and nothing is kept."""
    if form.website.data:
        return True, None
    try:
        payload = read_token("register-form", form.form_token.data or "")
    except TokenError:
        return True, None
    if time.time() - float(payload.get("t", 0)) < current_app.config["FORM_MIN_SECONDS"]:
        return True, None
    return False, str(payload["n"])


def _email_rate_key() -> str:
    try:
        return "email:" + normalise_email(request.form.get("email", ""))[:254].lower()
    except Exception:  # an unparseable address is limited by client address alone
        return "email:invalid"


def _register_limit() -> str:
    return str(current_app.config["RATELIMIT_REGISTER_PER_ADDRESS"])


def _email_limit() -> str:
    return str(current_app.config["RATELIMIT_REGISTER_PER_EMAIL"])


@bp.route("/", methods=["GET", "POST"])
@csrf.exempt  # the form checks its own CSRF token so an expired one keeps what was typed
@limiter.limit(_register_limit, methods=["POST"])
@limiter.limit(_email_limit, methods=["POST"], key_func=_email_rate_key)
def register():
    form = InterestForm()
    if request.method == "GET":
        form.form_token.data = _new_form_token()
        return render_template("public/register.html", form=form)

    if not form.form_token.data:
        form.form_token.data = _new_form_token()
    if not form.validate():
        status = 400
        return render_template(
            "public/register.html",
            form=form,
            csrf_failed=bool(form.csrf_token.errors) if hasattr(form, "csrf_token") else False,
        ), status

    automated, nonce = _looks_automated(form)
    if automated or nonce is None:
        current_app.logger.info("registration dropped by spam trap from %s", request.remote_addr)
        return redirect(url_for("public.thank_you"))

    data = Registration(
        full_name=form.full_name.data,
        email=form.email.data,
        phone=form.phone.data or None,
        organisation=form.organisation.data,
        role=form.role.data,
        dimensions=[Dimension(v) for v in form.dimensions.data],
        help_text=form.help_text.data or "",
        preferred_format=SessionFormat(form.preferred_format.data),
        availability=form.availability.data or "",
        consent=bool(form.consent.data),
    )
    try:
        register_interest(data, form_token=nonce, now=utcnow())
        db.session.commit()
    except IntegrityError:
        # The same form arrived twice at once; the other request stored it.
        db.session.rollback()
    except DomainError as error:
        db.session.rollback()
        form.consent.errors = [str(error)]
        return render_template("public/register.html", form=form), 400
    session["registered_email"] = data.email
    return redirect(url_for("public.thank_you"))


@bp.get("/thank-you")
def thank_you():
    return render_template("public/thank_you.html", email=session.get("registered_email"))


def _privacy_text() -> str | None:
    configured = current_app.config.get("PRIVACY_NOTICE_FILE")
    path = Path(configured) if configured else Path(current_app.instance_path) / "privacy.txt"
    return path.read_text(encoding="utf-8") if path.is_file() else None


@bp.get("/privacy")
def privacy():
    text = _privacy_text()
    paragraphs = None
    if text is not None:
        paragraphs = [
            Markup("<br>").join(escape(line) for line in block.splitlines())
            for block in text.split("\n\n")
            if block.strip()
        ]
    return render_template("public/privacy.html", paragraphs=paragraphs)


def _lead_from_withdraw_token(token: str) -> tuple[Lead | None, str | None]:
    try:
        payload = read_token("withdraw", token)
    except TokenError as error:
        return None, error.reason
    lead = db.session.get(Lead, int(payload.get("lead", 0)))
    return (lead, None) if lead is not None else (None, "invalid")


@bp.route("/withdraw/<token>", methods=["GET", "POST"], endpoint="withdraw")
def withdraw_interest(token: str):
    lead, problem = _lead_from_withdraw_token(token)
    if lead is None:
        return render_template("public/link_problem.html", reason=problem), 404
    if request.method == "POST":
        reason = (strip_control_characters(request.form.get("reason")) or "")[:2000]
        try:
            withdraw(lead, reason=reason, now=utcnow())
            db.session.commit()
        except DomainError as error:
            db.session.rollback()
            return render_template("public/withdraw.html", lead=lead, error=str(error)), 409
        return render_template("public/withdrawn.html")
    return render_template("public/withdraw.html", lead=lead, error=None)


@bp.get("/healthz")
def healthz():
    return {"status": "ok"}

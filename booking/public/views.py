"""Public pages: the interest form, its confirmation, the privacy notice, withdrawing."""

from __future__ import annotations

import secrets
import time
from datetime import timedelta
from pathlib import Path

from email_validator import EmailNotValidError
from flask import (
    Flask,
    Response,
    current_app,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask.typing import ResponseReturnValue
from flask_wtf.csrf import generate_csrf
from markupsafe import Markup, escape
from sqlalchemy.exc import IntegrityError

from .. import links
from ..database import DatabaseUnavailable, ping
from ..extensions import csrf, db, limiter
from ..limits import EMAIL_MAX
from ..links import LinkRefused, make_token, read_token
from ..models import Dimension, FormReceipt, Lead, LeadStatus, SessionFormat
from ..references import lead_reference
from ..settings import current_now, current_settings
from ..validators import normalise_email
from ..workflow import DomainError, Registration, register_interest, withdraw
from ..workflow.registration import withdrew_after_journey
from .forms import InterestForm, WithdrawForm


def _new_form_token() -> str:
    return make_token("register-form", {"n": secrets.token_urlsafe(18), "t": time.time()})


# Stand-ins for the blank form page's two tokens: plain letters, so escaping leaves them as they
# are and each appears exactly once on the page.
_CSRF_SLOT = "csrftokenslotf3c9a1e7"
_FORM_TOKEN_SLOT = "formtokenslot8d2b6c40"
_BLANK_PAGES = "booking.blank_form_page"


def blank_form_page(app: Flask) -> str:
    """The registration form as first served (GET), with fresh tokens.

    Everything on it but its two tokens (the CSRF token and the signed, timed form token) is
    the same for every visitor: the fields are empty and carry no errors. So the template is
    rendered once per process with stand-ins for the tokens, and each request gets a copy with
    its own tokens put in: the same HTML as rendering it afresh (tests/test_registration_cost.py
    compares the two), without most of the form-page's time (rendering ten WTForms fields).
    Rendered afresh whenever templates may change under a running server (debug, auto-reload).
    """
    pages: dict[str, str] = app.extensions.setdefault(_BLANK_PAGES, {})
    key = request.script_root  # url_for's links start with it
    page = pages.get(key)
    if page is None or app.jinja_env.auto_reload:
        page = pages[key] = render_blank_form(_CSRF_SLOT, _FORM_TOKEN_SLOT)
    if _CSRF_SLOT in page:
        page = page.replace(_CSRF_SLOT, str(escape(generate_csrf())), 1)
    return page.replace(_FORM_TOKEN_SLOT, str(escape(_new_form_token())), 1)


def render_blank_form(csrf_token: str, form_token: str) -> str:
    """The blank form page rendered afresh, with these tokens."""
    form = InterestForm()
    form.form_token.data = form_token
    if hasattr(form, "csrf_token"):  # absent with CSRF protection off
        form.csrf_token.current_token = csrf_token
    return render_template("public/register.html", form=form)


class _TooFast(Exception):
    """A real form, honestly filled in, sent sooner than FORM_MIN_SECONDS (autofill does that)."""


def _looks_automated(form: InterestForm) -> tuple[bool, str | None]:
    """(is a bot, the one-time nonce). Bots get a normal-looking success and nothing is kept.

    Raises _TooFast for a form with an intact, signed token and an empty honeypot that came
    back too soon: a person using autofill looks like that, so they are asked to send it again
    rather than shown a confirmation for something that was thrown away."""
    if form.website.data:
        return True, None
    try:
        payload = read_token("register-form", form.form_token.data or "")
    except LinkRefused:
        return True, None
    if time.time() - float(payload.get("t", 0)) < current_app.config["FORM_MIN_SECONDS"]:
        raise _TooFast
    return False, str(payload["n"])


def _refused_with_field_errors() -> bool:
    """Whether this submission will be sent back with field errors (worked out once a request).

    A field error always beats a 429: such a form is never counted by, nor refused by, the
    per-email limit. That also keeps every unparseable address out of one shared bucket, where
    five typos anywhere would have held up every later leader who mistyped theirs. It is still
    counted by the per-address limit like any other post.
    """
    if request.method != "POST":
        return True
    return not _posted_form()[1]


def _posted_form() -> tuple[InterestForm, bool]:
    """The posted interest form and whether it is valid, worked out once a request: the
    limiter's exemption check runs before the view, and both need it."""
    if "interest_form" not in g:
        g.interest_form = InterestForm()
        g.interest_form_valid = g.interest_form.validate()
    return g.interest_form, bool(g.interest_form_valid)


def _email_rate_key() -> str:
    # Only reached for a form without field errors, whose address the form has normalised
    # already; should it not parse, the client's own bucket, never one shared by everybody.
    form, valid = _posted_form()
    if valid and form.email.data:
        return "email:" + str(form.email.data)[:EMAIL_MAX].lower()
    try:
        return "email:" + normalise_email(request.form.get("email", ""))[:EMAIL_MAX].lower()
    except EmailNotValidError:
        return f"email-unparsed:{request.remote_addr}"


def _counts_against_email_limit(response: Response) -> bool:
    return response.status_code < 400


def _register_limit() -> str:
    return str(current_app.config["RATELIMIT_REGISTER_PER_ADDRESS"])


def _email_limit() -> str:
    return str(current_app.config["RATELIMIT_REGISTER_PER_EMAIL"])


@csrf.exempt  # the form checks its own CSRF token so an expired one keeps what was typed
@limiter.limit(_register_limit, methods=["POST"])
@limiter.limit(
    _email_limit,
    methods=["POST"],
    key_func=_email_rate_key,
    exempt_when=_refused_with_field_errors,
    deduct_when=_counts_against_email_limit,
)
def register() -> ResponseReturnValue:
    if request.method == "GET":
        # Offer the form only when what is typed into it can be kept.
        if not ping(db.engine, timeout_seconds=2.0):
            raise DatabaseUnavailable("registration form")
        return blank_form_page(current_app)

    form, valid = _posted_form()
    if not form.form_token.data:
        form.form_token.data = _new_form_token()
    if not valid:
        status = 400
        return render_template(
            "public/register.html",
            form=form,
            csrf_failed=bool(form.csrf_token.errors) if hasattr(form, "csrf_token") else False,
        ), status

    try:
        automated, nonce = _looks_automated(form)
    except _TooFast:
        form.form_token.data = _new_form_token()
        return render_template("public/register.html", form=form, too_fast=True), 400
    if automated or nonce is None:
        current_app.logger.info("registration dropped by spam trap")
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
        register_interest(data, form_token=nonce, now=current_now(), settings=current_settings())
        db.session.commit()
    except IntegrityError:
        # The same form arrived twice at once; the other request stored it.
        db.session.rollback()
    except DomainError as error:
        db.session.rollback()
        form.consent.errors = [str(error)]
        return render_template("public/register.html", form=form), 400
    # Flask's session cookie is signed, not encrypted: anyone who sees it can read it. It holds
    # the form's random one-time token, never the address; the page looks the lead up.
    session["registration"] = nonce
    return redirect(url_for("public.thank_you"))


# The confirmation shows the address (masked) only this soon after registering.
THANK_YOU_SHOWS_EMAIL_FOR = timedelta(hours=1)


def mask_email(address: str) -> str:
    """s•••n@nhs.example: enough for the leader to spot a mistyped address, not to read it."""
    local, _, domain = address.rpartition("@")
    shown = local[0] + "•••" + (local[-1] if len(local) > 2 else "") if local else "•••"
    return f"{shown}@{domain}"


def thank_you() -> ResponseReturnValue:
    masked = reference = None
    receipt = db.session.get(FormReceipt, str(session.get("registration") or ""))
    if receipt is not None and current_now() - receipt.created_at < THANK_YOU_SHOWS_EMAIL_FOR:
        lead = db.session.get(Lead, receipt.lead_id)
        if lead is not None and lead.erased_at is None:
            masked = mask_email(lead.email)
            reference = lead_reference(lead.id)
    return render_template("public/thank_you.html", masked_email=masked, reference=reference)


def _privacy_text() -> str | None:
    configured = current_app.config.get("PRIVACY_NOTICE_FILE")
    path = Path(configured) if configured else Path(current_app.instance_path) / "privacy.txt"
    return path.read_text(encoding="utf-8") if path.is_file() else None


# What the registration form collects and why, field by field (the notice lists these; a test
# checks every field of InterestForm is here, so a new field cannot go unmentioned).
COLLECTED: dict[str, tuple[str, str]] = {
    "full_name": ("Your full name", "so your coach knows who they are talking to"),
    "email": (
        "Your work email address",
        "to reply to your request and send session times, invitations and reminders",
    ),
    "phone": ("Your phone number, if you give it", "so your coach can call you if you prefer"),
    "organisation": ("Your organisation", "to understand the setting you lead in"),
    "role": ("Your job title or role", "to understand what your role asks of you"),
    "dimensions": (
        "The kinds of support you would like",
        "to match you with the right coaching and to count, without names, what is asked for",
    ),
    "help_text": (
        "What you would like help with, if you tell us",
        "so your coach can prepare for your first conversation",
    ),
    "preferred_format": ("How you would prefer to meet", "to arrange your sessions"),
    "availability": ("When you are usually free, if you tell us", "to propose times that suit"),
    "consent": (
        "That you agreed to be contacted, and when",
        "to show that you asked us to contact you",
    ),
}

DEFAULT_LAWFUL_BASIS = (
    "You asked us to contact you, and ticked the box to agree to it: we rely on your consent "
    "(UK GDPR Article 6(1)(a)) to contact you about your request, and on our legitimate "
    "interests (Article 6(1)(f)) in keeping a record of the request and any sessions, so we "
    "can arrange them, keep our promises to you and count, without names, how the service is "
    "used. There is no obligation: you can withdraw at any time."
)


def _notice_settings() -> dict[str, object]:
    """The notice's facts from the settings; development falls back to the firm's name and
    sending address (production refuses to start without the controller's, see config.py)."""
    from email.utils import parseaddr

    config = current_app.config
    return {
        "controller": (config.get("PRIVACY_CONTROLLER_NAME") or "").strip() or config["FIRM_NAME"],
        "contact": (config.get("PRIVACY_CONTROLLER_CONTACT") or "").strip()
        or parseaddr(config["MAIL_DEFAULT_SENDER"])[1],
        "dpo": (config.get("PRIVACY_DPO_CONTACT") or "").strip(),
        "lawful_basis": (config.get("PRIVACY_LAWFUL_BASIS") or "").strip() or DEFAULT_LAWFUL_BASIS,
        "retention_days": int(config["RETENTION_DAYS"]),
        "collected": list(COLLECTED.values()),
    }


def privacy() -> ResponseReturnValue:
    text = _privacy_text()
    paragraphs = None
    if text is not None:
        paragraphs = [
            Markup("<br>").join(escape(line) for line in block.splitlines())
            for block in text.split("\n\n")
            if block.strip()
        ]
    return render_template("public/privacy.html", paragraphs=paragraphs, **_notice_settings())


def withdraw_interest(token: str) -> ResponseReturnValue:
    lead = links.load_withdraw(token)
    form = WithdrawForm()
    if request.method == "POST":
        if not form.validate():
            return render_template("public/withdraw.html", lead=lead, error=None, form=form), 400
        try:
            withdraw(
                lead,
                reason=form.reason.data or "",
                now=current_now(),
                settings=current_settings(),
            )
            db.session.commit()
        except DomainError as error:
            db.session.rollback()
            return render_template(
                "public/withdraw.html", lead=lead, error=str(error), form=form
            ), 409
        return render_template("public/withdrawn.html")
    if lead.status == LeadStatus.WITHDRAWN or withdrew_after_journey(lead):
        # Opened again after withdrawing: the outcome, not a button that would do nothing.
        return render_template("public/withdrawn.html")
    return render_template("public/withdraw.html", lead=lead, error=None, form=form)


def healthz() -> ResponseReturnValue:
    # Liveness: the process answers. Never touches the database, so an outage there does not
    # get healthy web processes restarted.
    return {"status": "ok"}


def readyz() -> ResponseReturnValue:
    # Readiness: can this process serve pages that need the database right now?
    if ping(db.engine, timeout_seconds=2.0):
        return {"status": "ready"}
    return (
        {"status": "database unavailable"},
        503,
        {"Retry-After": "30", "Cache-Control": "no-store"},
    )

"""Register-for-personal-support service: app factory."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from flask import Flask, g, render_template, request
from flask.typing import ResponseReturnValue
from flask_limiter.errors import RateLimitExceeded
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import DisconnectionError, InterfaceError, OperationalError
from werkzeug.exceptions import HTTPException

from . import settings
from .assets import register_asset_versions
from .cli import register as register_cli
from .coach import blueprint as coach
from .config import load_config
from .database import DatabaseUnavailable, configure_engine, database_trouble
from .extensions import csrf, db, limiter, login_manager, mail, migrate
from .inputs import register_input_handling
from .links import LinkRefused, refusal_page
from .models import DIMENSION_LABELS, FORMAT_LABELS
from .public import blueprint as public
from .security import register_security
from .timefmt import format_local, format_range, to_local
from .validators import display_phone, phone_link


def _data_folder(name: str) -> Path:
    """`templates/` or `migrations/`: inside the installed package (the wheel maps the top-level
    folders to booking/templates and booking/migrations), else the checkout's top level."""
    package = Path(__file__).resolve().parent
    installed = package / name
    return installed if installed.is_dir() else package.parent / name


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    app = Flask(
        __name__,
        instance_relative_config=True,
        template_folder=str(_data_folder("templates")),
        static_folder="static",
    )
    app.config.update(load_config(app.instance_path, test_config))
    settings.init_app(app)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    register_security(app)
    register_input_handling(app)
    register_extensions(app)
    check_calendar_key(app)
    register_blueprints(app)
    register_log_privacy(app)
    register_errorhandlers(app)
    register_commands(app)
    register_template_helpers(app)
    register_asset_versions(app)
    return app


def register_extensions(app: Flask) -> None:
    Path(app.instance_path).mkdir(parents=True, exist_ok=True)
    db.init_app(app)
    migrate.init_app(app, db, directory=str(_data_folder("migrations")), render_as_batch=True)
    mail.init_app(app)
    csrf.init_app(app)
    login_manager.init_app(app)
    limiter.init_app(app)
    with app.app_context():
        configure_engine(db.engine)


def check_calendar_key(app: Flask) -> None:
    """Production refuses to start when coaches' calendars exist but their key is missing."""
    if app.config["APP_ENV"] != "production":
        return
    from .calendars import CalendarKeyMissing, check_secret_key
    from .config import ConfigError

    with app.app_context():
        try:
            check_secret_key(settings.current_settings())
        except CalendarKeyMissing as problem:
            # The app is never returned: close its connections here, not at garbage collection.
            db.session.remove()
            db.engine.dispose()
            raise ConfigError(
                f"APP_ENV=production and coaches have connected calendars, but: {problem} "
                "Set CALENDAR_SECRET_KEY to the key they were saved with."
            ) from None


def register_blueprints(app: Flask) -> None:
    # Every URL of each area is listed in its blueprint.py.
    app.register_blueprint(public.bp)
    app.register_blueprint(coach.bp)


def register_log_privacy(app: Flask) -> None:
    from .log_privacy import install

    install(app)


def _retry_after_text() -> tuple[str, int | None]:
    import time

    current = limiter.current_limit
    if current is None:
        return "in a little while", None
    seconds = max(1, int(current.reset_at - time.time()))
    minutes = (seconds + 59) // 60
    when = (
        f"in {minutes} minute{'s' if minutes != 1 else ''}"
        if seconds >= 60
        else f"in {seconds} seconds"
    )
    return when, seconds


def register_errorhandlers(app: Flask) -> None:
    @app.errorhandler(RateLimitExceeded)
    def too_many(error: RateLimitExceeded) -> ResponseReturnValue:
        when, seconds = _retry_after_text()
        response = app.make_response((render_template("errors/429.html", when=when), 429))
        if seconds:
            response.headers["Retry-After"] = str(seconds)
        return response

    @app.errorhandler(LinkRefused)
    def link_refused(error: LinkRefused) -> ResponseReturnValue:
        # The same page and status for the same cause, whichever link it was (links.py).
        db.session.rollback()
        return refusal_page(error)

    @app.errorhandler(CSRFError)
    def csrf_error(error: CSRFError) -> ResponseReturnValue:
        return render_template("errors/400.html", csrf=True), 400

    @app.errorhandler(OperationalError)
    @app.errorhandler(InterfaceError)
    @app.errorhandler(DisconnectionError)
    @app.errorhandler(DatabaseUnavailable)
    def database_trouble_page(error: Exception) -> ResponseReturnValue:
        # SQLite waited out its busy timeout, two writers collided, or the database cannot be
        # reached: say so plainly (503 + Retry-After) rather than fail with a 500.
        try:
            db.session.rollback()
        except Exception:  # the connection is gone; the pool replaces it
            pass
        reason = "unavailable" if isinstance(error, DatabaseUnavailable) else None
        reason = reason or database_trouble(error)
        if reason is None:
            raise error
        return _database_trouble_response(app, reason, error)

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException) -> ResponseReturnValue:
        code = error.code or 500
        template = (
            f"errors/{code}.html" if code in {400, 403, 404, 405, 413} else "errors/generic.html"
        )
        return render_template(template, error=error), code

    @app.errorhandler(500)
    def server_error(error: Exception) -> ResponseReturnValue:
        return render_template("errors/generic.html", error=None), 500


def _database_trouble_response(app: Flask, reason: str, error: Exception) -> ResponseReturnValue:
    """The 503 page. Logged once, without personal data: the URL rule (not the path, which may
    hold a link's token) and the error's class, never its text (that carries SQL parameters)."""
    rule = request.url_rule.rule if request.url_rule else "(no route)"
    cause = type(getattr(error, "orig", None) or error).__name__
    app.logger.warning("database %s on %s %s (%s)", reason, request.method, rule, cause)
    # Render as nobody: Flask-Login's template context would otherwise load the signed-in coach
    # from the database that just failed. (`g._login_user` is where Flask-Login 0.6 keeps it.)
    g._login_user = login_manager.anonymous_user()
    sent = request.method not in ("GET", "HEAD")
    fields = list(request.form.items(multi=True)) if sent else []
    # What was typed comes back as a "send it again" form, unless it held a password.
    resend = None if any("password" in name for name, _ in fields) else fields
    response = app.make_response(
        (render_template("errors/503.html", reason=reason, sent=sent, resend=resend), 503)
    )
    response.headers["Retry-After"] = "5" if reason == "busy" else "30"
    response.headers["Cache-Control"] = "no-store"
    return response


def register_commands(app: Flask) -> None:
    register_cli(app)


def register_template_helpers(app: Flask) -> None:
    from datetime import datetime

    from . import limits
    from .form_errors import error_rows
    from .references import lead_reference

    zone = app.extensions[settings.SETTINGS_KEY].zone

    def local_time(moment: datetime, with_day: bool = True) -> str:
        return format_local(moment, zone, with_day)

    def local_range(starts: datetime, ends: datetime) -> str:
        return format_range(starts, ends, zone)

    app.jinja_env.globals.update(
        DIMENSION_LABELS=DIMENSION_LABELS,
        FORMAT_LABELS=FORMAT_LABELS,
        firm_name=app.config["FIRM_NAME"],
        limits=limits,
        error_rows=error_rows,
    )
    app.jinja_env.filters["local_time"] = local_time
    app.jinja_env.filters["local_range"] = local_range
    # The slot pages: a day heading ("Monday 7 December 2026") and a bare local "09:00".
    app.jinja_env.filters["local_day"] = lambda m: (
        f"{to_local(m, zone):%A} {to_local(m, zone).day} {to_local(m, zone):%B %Y}"
    )
    app.jinja_env.filters["local_clock"] = lambda m: f"{to_local(m, zone):%H:%M}"
    app.jinja_env.filters["phone"] = display_phone
    app.jinja_env.filters["reference"] = lead_reference
    app.jinja_env.filters["phone_link"] = phone_link

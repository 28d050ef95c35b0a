"""Register-for-personal-support service: app factory."""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, render_template, request
from flask_limiter.errors import RateLimitExceeded
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import OperationalError
from werkzeug.exceptions import HTTPException

from .config import load_config
from .extensions import csrf, db, limiter, login_manager, mail, migrate


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    app = Flask(
        __name__,
        instance_relative_config=True,
        template_folder="../templates",
        static_folder="static",
    )
    app.config.update(load_config(app.instance_path, test_config))
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    register_extensions(app)
    register_blueprints(app)
    register_errorhandlers(app)
    register_commands(app)
    register_template_helpers(app)
    return app


def register_extensions(app: Flask) -> None:
    from pathlib import Path

    from .database import configure_engine

    Path(app.instance_path).mkdir(parents=True, exist_ok=True)
    db.init_app(app)
    migrate.init_app(
        app, db, directory=str(Path(app.root_path).parent / "migrations"), render_as_batch=True
    )
    mail.init_app(app)
    csrf.init_app(app)
    login_manager.init_app(app)
    limiter.init_app(app)
    with app.app_context():
        configure_engine(db.engine)


def register_blueprints(app: Flask) -> None:
    from .coach import auth as _coach_auth  # noqa: F401  (sign-in routes on coach_bp)
    from .coach.views import bp as coach_bp
    from .public import choose as _choose  # noqa: F401  (the leader's time-choosing links)
    from .public import invite_links  # noqa: F401  (adds the invitation links to public_bp)
    from .public import leader_session as _leader_session  # noqa: F401  (reschedule / cancel)
    from .public.views import bp as public_bp

    app.register_blueprint(public_bp)
    app.register_blueprint(coach_bp)


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
    def too_many(error: RateLimitExceeded):
        when, seconds = _retry_after_text()
        response = app.make_response((render_template("errors/429.html", when=when), 429))
        if seconds:
            response.headers["Retry-After"] = str(seconds)
        return response

    @app.errorhandler(CSRFError)
    def csrf_error(error: CSRFError):
        return render_template("errors/400.html", csrf=True), 400

    @app.errorhandler(OperationalError)
    def database_busy(error: OperationalError):
        # SQLite waited out its busy timeout: say so plainly rather than fail with a 500.
        db.session.rollback()
        if "locked" in str(error).lower() or "busy" in str(error).lower():
            app.logger.warning("database busy on %s %s", request.method, request.path)
            response = app.make_response((render_template("errors/503.html"), 503))
            response.headers["Retry-After"] = "5"
            return response
        raise error

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException):
        code = error.code or 500
        template = (
            f"errors/{code}.html" if code in {400, 403, 404, 405, 413} else "errors/generic.html"
        )
        return render_template(template, error=error), code

    @app.errorhandler(500)
    def server_error(error: Exception):
        return render_template("errors/generic.html", error=None), 500


def register_commands(app: Flask) -> None:
    from .cli import register

    register(app)


def register_template_helpers(app: Flask) -> None:
    from .models import DIMENSION_LABELS, FORMAT_LABELS
    from .timefmt import format_local, format_range

    app.jinja_env.globals.update(
        DIMENSION_LABELS=DIMENSION_LABELS,
        FORMAT_LABELS=FORMAT_LABELS,
        firm_name=app.config["FIRM_NAME"],
    )
    app.jinja_env.filters["local_time"] = format_local
    app.jinja_env.filters["local_range"] = format_range

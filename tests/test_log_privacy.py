"""No email address, name or link token in the logs: the service's own lines, and the request
lines web servers write (werkzeug's, through a real dev server here; gunicorn's access log)."""

from __future__ import annotations

import http.cookiejar
import logging
import urllib.error
import urllib.parse
import urllib.request

from sqlalchemy import select

from booking import outbox
from booking.extensions import db
from booking.links import withdraw_url
from booking.log_privacy import RequestLineFilter, redact
from booking.models import Lead

from .browser import serve
from .conftest import hidden_fields, valid_registration

NAME = valid_registration()["full_name"]
EMAIL = valid_registration()["email"]


def _everything_logged(caplog) -> str:
    lines = []
    for record in caplog.records:
        lines.append(record.getMessage())
        if record.exc_info:
            lines.append(logging.Formatter().formatException(record.exc_info))
    return "\n".join(lines)


def test_a_registration_a_link_visit_and_a_coach_search_leave_no_personal_data_in_the_logs(
    make_app, caplog
):
    app = make_app(COACH_NOTIFY_EMAILS=["coaches@coaching.example"])
    caplog.set_level(logging.INFO)
    opener = urllib.request.build_opener(
        urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar())
    )
    with serve(app) as url:
        # Register through the real form.
        form = opener.open(url + "/", timeout=30).read().decode()
        data = {**hidden_fields(form), **valid_registration()}
        body = urllib.parse.urlencode(data, doseq=True).encode()
        assert opener.open(url + "/", data=body, timeout=30).status == 200  # after the redirect
        with app.app_context():
            lead = db.session.scalars(select(Lead)).one()
            link = withdraw_url(lead)
            # The acknowledgement and the coaches' notice are "sent" (captured to files).
            assert len(outbox.deliver_due().sent) == 2
        token = link.rsplit("/", 1)[1]
        assert len(token) > 20
        # The leader opens the link in their email.
        assert opener.open(link, timeout=30).status == 200
        # A coach searches for the leader by name (not signed in here: the search URL is in
        # the request line all the same, and again in the sign-in page's `next`).
        search = url + "/coach/leads?" + urllib.parse.urlencode({"q": NAME, "status": "open"})
        assert opener.open(search, timeout=30).status == 200

    logged = _everything_logged(caplog)
    werkzeug = [r.getMessage() for r in caplog.records if r.name == "werkzeug"]
    # The request lines were logged, and cleaned.
    assert any("GET /withdraw/<token> HTTP/1.1" in line for line in werkzeug), werkzeug
    assert any("GET /coach/leads?q=…&status=open HTTP/1.1" in line for line in werkzeug)
    assert any("GET /coach/sign-in?next=… HTTP/1.1" in line for line in werkzeug)
    assert any("outbox" in r.getMessage() and r.name == "booking.outbox" for r in caplog.records)
    for secret in (token, EMAIL, "sian.obrien", "Siân", "Si%C3%A2n", "Si%25C3%25A2n", "brien"):
        assert secret.lower() not in logged.lower(), secret


def _filtered(app, logger_name: str, message: str, *args: object) -> str:
    """Log through the named logger and return what reached the handlers."""
    seen: list[str] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            seen.append(record.getMessage())

    logger = logging.getLogger(logger_name)
    handler = Keep()
    logger.addHandler(handler)
    old_level = logger.level
    logger.setLevel(logging.INFO)
    try:
        logger.info(message, *args)
    finally:
        logger.removeHandler(handler)
        logger.setLevel(old_level)
    return seen[0]


def test_gunicorns_access_log_and_flasks_exception_line_are_cleaned(app):
    token = "eyJsZWFkIjoxfQ.ZmFrZS1zaWduYXR1cmUtaGVyZQ"
    atoms = {"h": "10.0.0.1", "r": f"GET /rsvp/{token}?answer=accepted HTTP/1.1", "s": "200"}
    line = _filtered(app, "gunicorn.access", '%(h)s "%(r)s" %(s)s', atoms)
    assert line == '10.0.0.1 "GET /rsvp/<token>?answer=accepted HTTP/1.1" 200'

    line = _filtered(app, app.logger.name, f"Exception on /choose/{token}/none-suit [POST]")
    assert line == "Exception on /choose/<token>/none-suit [POST]"


def test_the_filter_keeps_ids_and_static_files_and_hides_unmatched_tokens(app):
    clean = RequestLineFilter(app.url_map).clean_target
    assert clean("/coach/leads/12?page=2") == "/coach/leads/12?page=2"
    assert clean("/static/site.css") == "/static/site.css"
    assert clean("/coach/leads?q=Amara+Okafor&coach=me") == "/coach/leads?q=…&coach=me"
    assert clean("/no-such-page/eyJzZXNzaW9uIjo0fQ.c2lnbmF0dXJl") == "/no-such-page/<redacted>"
    assert clean("/session/eyJzZXNzaW9uIjo0fQ.c2lnbmF0dXJl/cancel", "POST") == (
        "/session/<token>/cancel"
    )


def test_smtp_errors_are_logged_without_addresses():
    error = "SMTPRecipientsRefused: {'amara.okafor@nhs.example': (550, b'No such user')}"
    assert redact(error) == "SMTPRecipientsRefused: {'<address>': (550, b'No such user')}"


def test_an_address_in_an_exception_never_reaches_the_log(app, caplog):
    """The safety net on the package's loggers: message and traceback are redacted."""
    caplog.set_level(logging.INFO)
    log = logging.getLogger("booking.replies")  # a module imported only by a command
    try:
        raise ValueError("refused: amara.okafor@nhs.example")
    except ValueError:
        log.exception("sending to %s failed", "amara.okafor@nhs.example")
    (record,) = [r for r in caplog.records if r.name == "booking.replies"]
    assert record.getMessage() == "sending to <address> failed"
    assert "ValueError: refused: <address>" in (record.exc_text or "")
    assert "amara" not in caplog.text


def test_a_database_error_logged_as_flask_does_carries_none_of_the_values(app, caplog):
    """SQLAlchemy puts a statement's values in its error text unless told not to, and
    PostgreSQL adds the failing row in a DETAIL line; the traceback Flask logs has neither."""
    from sqlalchemy.exc import IntegrityError

    from booking.models import SessionFormat, utcnow

    caplog.set_level(logging.INFO)
    with app.app_context():
        db.session.add(
            Lead(
                email="amara.okafor@nhs.example",
                full_name=None,  # NOT NULL: the insert fails
                organisation="Riverside Mercy Trust",
                role="Matron of Quillbrook",
                preferred_format=SessionFormat.VIDEO,
                consent_at=utcnow(),
            )
        )
        try:
            db.session.flush()
        except IntegrityError:
            # What Flask does with an unhandled exception in a request.
            app.logger.exception("Exception on /coach/leads/1/notes [POST]")
        else:  # pragma: no cover - the insert must fail
            raise AssertionError("the insert should have failed")
        finally:
            db.session.rollback()
    assert "IntegrityError" in caplog.text and "INSERT INTO lead" in caplog.text
    for value in ("amara.okafor", "Riverside Mercy", "Quillbrook"):
        assert value not in caplog.text, value

"""Keeping personal data and link tokens out of log lines.

The service's own log calls name rows by id, never by email, name or note. What they cannot
control is the request line a web server logs (werkzeug's dev server, gunicorn's access log)
and Flask's "Exception on <path>" line: a leader's link carries a signed token in its path,
and the coach's lead search carries a name in its query string. `RequestLineFilter` rewrites
those lines before any handler sees them:

- a path that matches a route with a text argument (a token) becomes the route's pattern,
  e.g. ``/choose/<token>``; integer ids (``/coach/leads/12``) and static files stay readable;
  a path that matches no route has any long token-like segment replaced by ``<redacted>``;
- a query string keeps its keys, and the values only of a few harmless filters (status,
  coach, dimension, page, answer, sort, dir, week, scope): ``/coach/leads?q=…&status=open``.
"""

from __future__ import annotations

import logging
import re
from typing import TYPE_CHECKING
from urllib.parse import parse_qsl

from werkzeug.exceptions import HTTPException
from werkzeug.routing import Map

if TYPE_CHECKING:
    from flask import Flask

# The usual address characters; quotes and braces are left out, as they wrap addresses in
# error texts ("{'x@y': (550, ...)}").
EMAIL_ADDRESS = re.compile(r"[\w.!#$%&*+/=?^~-]+@[\w-]+(?:\.[\w-]+)+")
# "GET /path?query HTTP/1.1" (werkzeug, gunicorn) and "Exception on /path [GET]" (Flask).
# The method may follow an ANSI colour code ("\x1b[32mGET"), which werkzeug adds on a terminal.
REQUEST_LINE = re.compile(
    r"(?<![A-Z])(?P<method>[A-Z]{3,7}) (?P<target>/\S*)(?P<tail> HTTP/\d(?:\.\d)?)"
)
EXCEPTION_LINE = re.compile(r"(?P<head>Exception on )(?P<target>/\S*) \[(?P<method>[A-Z]+)\]")
LONG_SEGMENT = re.compile(r"[A-Za-z0-9_.~=-]{20,}")
SAFE_QUERY_KEYS = frozenset(
    {"status", "coach", "dimension", "page", "answer", "sort", "dir", "week", "scope"}
)
LOGGERS = ("werkzeug", "gunicorn.access")


# PostgreSQL explains a failed constraint with the row's values ("DETAIL:  Failing row
# contains (…, amara@nhs.example, …)"), and SQLAlchemy's hide_parameters cannot hide that.
DATABASE_DETAIL = re.compile(r"(?m)^DETAIL:.*$")


def redact(text: str) -> str:
    """Email addresses in free text (an SMTP error, say) replaced by <address>, and a database
    error's DETAIL line (the values of the failing row) hidden."""
    text = EMAIL_ADDRESS.sub("<address>", text or "")
    return DATABASE_DETAIL.sub("DETAIL: (hidden: it may hold personal data)", text)


class RequestLineFilter(logging.Filter):
    """Rewrites request targets in log records; never drops a record."""

    def __init__(self, url_map: Map) -> None:
        super().__init__("booking-request-lines")
        self.url_map = url_map

    def clean_target(self, target: str, method: str = "GET") -> str:
        path, _, query = target.partition("?")
        path = self._clean_path(path, method)
        if not query:
            return path
        kept = [
            f"{key}={value if key in SAFE_QUERY_KEYS else '…'}"
            for key, value in parse_qsl(query, keep_blank_values=True)
        ]
        return f"{path}?{'&'.join(kept)}" if kept else path

    def _clean_path(self, path: str, method: str) -> str:
        adapter = self.url_map.bind("localhost")
        try:
            rule, arguments = adapter.match(path, method=method, return_rule=True)
        except HTTPException:
            # No route (a 404, a method not allowed, a redirect): hide anything token-like.
            return LONG_SEGMENT.sub("<redacted>", path)
        if rule.endpoint == "static" or all(isinstance(v, int) for v in arguments.values()):
            return path
        return rule.rule

    def _rewrite(self, message: str) -> str:
        message = REQUEST_LINE.sub(
            lambda m: f"{m['method']} {self.clean_target(m['target'], m['method'])}{m['tail']}",
            message,
        )
        return EXCEPTION_LINE.sub(
            lambda m: f"{m['head']}{self.clean_target(m['target'], m['method'])} [{m['method']}]",
            message,
        )

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except (TypeError, ValueError):  # a malformed record: leave it to logging's own handling
            return True
        cleaned = self._rewrite(message)
        if cleaned != message:
            record.msg, record.args = cleaned, ()
        return True


class AddressRedactingFilter(logging.Filter):
    """A safety net on the service's own loggers: an email address that still reaches a log
    line or a traceback (an SMTP error, an exception's text) is replaced by <address>, and a
    database error's DETAIL line is hidden (see `redact`)."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except (TypeError, ValueError):
            return True
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, ()
        if record.exc_info and not record.exc_text:
            # The formatter uses exc_text when it is set, instead of formatting exc_info again.
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
        return True


# Modules that log, some imported only when a command runs (replies): named here so their
# loggers get the filter before they first log.
MODULE_LOGGERS = (
    "booking.coach.views",
    "booking.invites",
    "booking.outbox",
    "booking.replies",
    "booking.workflow.registration",
    "booking.workflow.responses",
)


def _package_loggers(app: Flask) -> list[logging.Logger]:
    """The app's logger and every `booking.*` module logger (a logger's filters do not apply
    to records from its children, so each gets its own)."""
    prefix = f"{app.logger.name}."
    names = {name for name in logging.root.manager.loggerDict if name.startswith(prefix)}
    names.update(MODULE_LOGGERS)
    return [app.logger, *(logging.getLogger(name) for name in sorted(names))]


def _replace_filter(logger: logging.Logger, new: logging.Filter) -> None:
    for old in [f for f in logger.filters if type(f) is type(new)]:
        logger.removeFilter(old)
    logger.addFilter(new)


def install(app: Flask) -> None:
    """Attach the request-line filter to the web servers' loggers and to the app's own (Flask
    logs unhandled exceptions there), and the address filter to every logger of the package.
    Replaces the filters of an app made earlier in this process. Call after the blueprints
    are registered, so every module's logger exists."""
    request_filter = RequestLineFilter(app.url_map)
    for logger in (*(logging.getLogger(name) for name in LOGGERS), app.logger):
        _replace_filter(logger, request_filter)
    addresses = AddressRedactingFilter("booking-addresses")
    for logger in _package_loggers(app):
        _replace_filter(logger, addresses)

"""Request input made safe once, for every route, before any view sees it.

- Text: C0 control characters (NUL above all: PostgreSQL refuses it in text, which surfaced as
  a 500) are dropped from every query-string and form value and name. Tab, CR and LF stay for
  multi-line fields; one-line fields refuse line breaks in their own validators.
- Ids: `<int:...>` in a URL matches only numbers the database's integer columns can hold, so
  /coach/leads/9999999999999999999999999 is a 404 rather than an overflow; `parse_id` does the
  same for ids in forms and query strings.
- HEAD is answered exactly as GET (RFC 9110), body left off: views that branch on
  `request.method == "GET"` would otherwise treat a HEAD as a form submission.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from flask import Flask, Request
from werkzeug.datastructures import ImmutableMultiDict, MultiDict
from werkzeug.routing import IntegerConverter

from .validators import strip_control_characters

# Our ids are INTEGER columns: 32-bit signed on PostgreSQL.
MAX_DATABASE_ID = 2**31 - 1


def parse_id(raw: Any) -> int | None:
    """A row id typed into a form or a query string, or None when it cannot be one."""
    if not isinstance(raw, str) or not (raw.isascii() and raw.isdigit()) or len(raw) > 10:
        return None
    value = int(raw)
    return value if 0 < value <= MAX_DATABASE_ID else None


class DatabaseIdConverter(IntegerConverter):
    """`<int:...>` bounded to what an INTEGER column holds: anything bigger is simply no match."""

    def __init__(self, map: Any, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("max", MAX_DATABASE_ID)
        super().__init__(map, *args, **kwargs)


def _clean(value: Any) -> Any:
    if isinstance(value, str):
        return strip_control_characters(value)
    return value


def _clean_items(mapping: Any) -> Iterable[tuple[Any, Any]]:
    if mapping is None:
        return []
    if isinstance(mapping, MultiDict):
        items: Iterable[tuple[Any, Any]] = mapping.items(multi=True)
    elif isinstance(mapping, dict):
        items = mapping.items()
    else:
        items = mapping
    return [(_clean(key), _clean(value)) for key, value in items]


class CleanMultiDict(ImmutableMultiDict):
    """Query-string and form values with control characters dropped (files are untouched)."""

    def __init__(self, mapping: Any = None) -> None:
        super().__init__(_clean_items(mapping))


class CleanRequest(Request):
    parameter_storage_class = CleanMultiDict


class HeadAsGet:
    """WSGI middleware: a HEAD request runs as a GET; the body is dropped on the way out."""

    def __init__(self, app: Any) -> None:
        self.app = app

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        if environ.get("REQUEST_METHOD") != "HEAD":
            return self.app(environ, start_response)
        body = self.app({**environ, "REQUEST_METHOD": "GET"}, start_response)
        if hasattr(body, "close"):
            body.close()
        return []


def register_input_handling(app: Flask) -> None:
    """Call before the blueprints are registered: URL rules pick up the converter when added."""
    app.request_class = CleanRequest
    app.url_map.converters["int"] = DatabaseIdConverter
    app.wsgi_app = HeadAsGet(app.wsgi_app)  # type: ignore[method-assign]

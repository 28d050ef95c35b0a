"""What every response says to the browser about safety, and which proxy in front is trusted.

- Security headers on every response: a strict Content-Security-Policy (scripts and styles only
  from our own static files, so an injected <script> or style attribute does nothing), no MIME
  sniffing, no Referer (links carry tokens), no framing, and HSTS in production.
- `Cache-Control: no-store` on every page except the few that show nothing personal and carry
  no token (the registration form, the privacy notice, static files): token pages and coach
  pages must not linger in a browser's or a proxy's cache.
- TRUSTED_PROXY_HOPS: how many reverse proxies in front of us to believe about the client's
  address, scheme and host (Werkzeug's ProxyFix). 0, the default, believes none: a client's own
  X-Forwarded-For is ignored, so it cannot dodge the rate limits or sign-in throttling.
"""

from __future__ import annotations

from flask import Flask, Response, request
from werkzeug.middleware.proxy_fix import ProxyFix

from .config import ConfigError

CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "frame-ancestors 'none'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
    ]
)
HSTS = "max-age=31536000"

# Pages that may be cached: nothing personal on them and no token in their address. Every other
# response (token pages, coach pages, a form sent back with what was typed, errors) is no-store.
# A coach's photo is meant for leaders and its address changes with it (public/coach_photo.py).
CACHEABLE_ENDPOINTS = frozenset(
    {"static", "public.register", "public.privacy", "public.coach_photo"}
)


def register_security(app: Flask) -> None:
    hops = app.config.get("TRUSTED_PROXY_HOPS", 0)
    if not isinstance(hops, int) or hops < 0:
        raise ConfigError(
            f"TRUSTED_PROXY_HOPS={hops!r} must be 0 (no proxy) or the number of reverse "
            "proxies in front of the app, e.g. 1 for nginx"
        )
    if hops:
        app.wsgi_app = ProxyFix(  # type: ignore[method-assign]
            app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops
        )

    production = app.config.get("APP_ENV") == "production"

    @app.after_request
    def security_headers(response: Response) -> Response:
        headers = response.headers
        headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
        headers["X-Content-Type-Options"] = "nosniff"
        headers["Referrer-Policy"] = "no-referrer"
        headers["X-Frame-Options"] = "DENY"
        if production:
            headers["Strict-Transport-Security"] = HSTS
        if not _may_be_cached(response):
            headers["Cache-Control"] = "no-store"
        return response


def _may_be_cached(response: Response) -> bool:
    return (
        request.method in {"GET", "HEAD"}
        and request.endpoint in CACHEABLE_ENDPOINTS
        and response.status_code < 300
    )

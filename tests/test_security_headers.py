"""Security headers and caching on every kind of page (issue 7, item 4).

One representative URL per page class; each is fetched for real (valid tokens, a signed-in
coach), and its headers and HTML are checked: the CSP, no inline script or style that the CSP
would block, and `no-store` wherever there is personal data or a token.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import pytest

from booking.security import CONTENT_SECURITY_POLICY

from .coach_helpers import csrf_token, sign_in
from .conftest import hidden_fields, valid_registration
from .linked_rows import linked_rows

EXPECTED_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "frame-ancestors 'none'; object-src 'none'; base-uri 'none'; form-action 'self'"
)


@dataclass
class Site:
    urls: dict[str, str]


@pytest.fixture
def site(app) -> Site:
    rows = linked_rows(app)
    session = f"/session/{rows.leader_session}"
    lead = f"/coach/leads/{rows.lead_id}"
    return Site(
        {
            "withdraw": f"/withdraw/{rows.withdraw}",
            "choose": f"/choose/{rows.choose}",
            "session": session,
            "session cancel": f"{session}/cancel",
            "rsvp": f"/rsvp/{rows.rsvp}",
            "questionnaire": f"/questionnaire/{rows.questionnaire}",
            "password reset": f"/coach/password-reset/{rows.password_reset}",
            "lead detail": lead,
            "lead export": f"{lead}/export",
            "lead erase": f"{lead}/erase",
        }
    )


# (page class, how to fetch it, may it be cached)
PAGES = [
    ("register", "GET /", True),
    ("register sent back with errors", "POST /", False),
    ("privacy", "GET /privacy", True),
    ("thank-you", "GET /thank-you", False),
    ("withdraw", "GET withdraw", False),
    ("choose", "GET choose", False),
    ("leader session", "GET session", False),
    ("leader session cancel", "GET session cancel", False),
    ("rsvp", "GET rsvp", False),
    ("questionnaire", "GET questionnaire", False),
    ("password reset link", "GET password reset", False),
    ("password reset request", "GET /coach/password-reset", False),
    ("coach sign-in", "GET /coach/sign-in", False),
    ("coach leads", "GET signed-in /coach/leads", False),
    ("coach lead detail", "GET signed-in lead detail", False),
    ("coach lead export", "GET signed-in lead export", False),
    ("coach lead erase", "GET signed-in lead erase", False),
    ("bad link", "GET /withdraw/not-a-token", False),
    ("not found", "GET /no-such-page", False),
    ("method not allowed", "PUT /privacy", False),
    ("health check", "GET /healthz", False),
    ("readiness check", "GET /readyz", False),
    ("static css", "GET /static/site.css", True),
    ("static js", "GET /static/error-summary.js", True),
]


def fetch(client, site: Site, how: str):
    method, _, target = how.partition(" ")
    if target.startswith("signed-in "):
        target = target.removeprefix("signed-in ")
        assert sign_in(client).status_code == 302
    path = site.urls.get(target, target)
    if method == "POST" and path == "/":
        fields = hidden_fields(client.get("/").get_data(as_text=True))
        return client.post("/", data={**fields, **valid_registration(full_name="")})
    return client.open(path, method=method)


@pytest.mark.parametrize(("page", "how", "cacheable"), PAGES, ids=[p[0] for p in PAGES])
def test_every_page_class_carries_the_security_headers(client, site, page, how, cacheable):
    response = fetch(client, site, how)
    response.close()  # a static file is streamed from an open file
    assert response.status_code < 500
    headers = response.headers
    assert headers["Content-Security-Policy"] == EXPECTED_CSP == CONTENT_SECURITY_POLICY
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Referrer-Policy"] == "no-referrer"
    assert headers["X-Frame-Options"] == "DENY"
    assert "Strict-Transport-Security" not in headers  # development
    cache = headers.get("Cache-Control", "")
    if cacheable:
        assert "no-store" not in cache, cache
    else:
        assert cache == "no-store", (page, cache)
    if response.mimetype == "text/html":
        assert_nothing_inline(response.get_data(as_text=True))


def assert_nothing_inline(html: str) -> None:
    """No markup the CSP would block: every script from a file, no style element or attribute,
    no inline event handler or javascript: URL."""
    for tag in re.findall(r"<script\b[^>]*>", html, re.I):
        assert re.search(r'\ssrc="/static/', tag), tag
    assert not re.search(r"<script\b[^>]*>\s*[^<\s]", html), "inline script body"
    assert not re.search(r"<style\b", html, re.I)
    assert not re.search(r"<[^>]+\sstyle\s*=", html, re.I)
    assert not re.search(r"<[^>]+\son[a-z]+\s*=", html, re.I)
    assert "javascript:" not in html.lower()


def test_an_error_summary_loads_its_script_from_a_file(client):
    fields = hidden_fields(client.get("/").get_data(as_text=True))
    html = client.post("/", data={**fields, **valid_registration(email="")}).get_data(as_text=True)
    assert 'data-module="error-summary"' in html
    assert re.search(
        r'<script src="/static/error-summary\.js\?v=[0-9a-f]{12}" defer></script>', html
    )
    with client.get("/static/error-summary.js") as script:
        script.direct_passthrough = False
        text = script.get_data(as_text=True)
    assert script.status_code == 200
    assert "javascript" in script.mimetype
    assert "[data-module='error-summary']" in text


def test_static_urls_carry_a_hash_of_the_file(app, client):
    """nginx caches /static/ for a year (deploy/nginx/booking.conf): a changed file must get a
    new URL, so the URL carries the first 12 hex digits of the file's SHA-256."""
    import hashlib
    from pathlib import Path

    def digest(name: str) -> str:
        return hashlib.sha256((Path(app.static_folder) / name).read_bytes()).hexdigest()[:12]

    html = client.get("/").get_data(as_text=True)
    assert f'href="/static/site.css?v={digest("site.css")}"' in html
    page = client.post("/", data={**hidden_fields(html), **valid_registration(email="")})
    assert f'src="/static/error-summary.js?v={digest("error-summary.js")}"' in page.get_data(
        as_text=True
    )


def test_hsts_only_in_production(make_app):
    development = make_app().test_client().get("/privacy")
    assert "Strict-Transport-Security" not in development.headers
    production = make_app(
        APP_ENV="production",
        PRIVACY_CONTROLLER_NAME="Compassionate Leadership Coaching Ltd",
        PRIVACY_CONTROLLER_CONTACT="privacy@example.org",
    ).test_client()
    for path in ("/", "/privacy", "/no-such-page", "/static/site.css"):
        with production.get(path) as response:
            assert response.headers["Strict-Transport-Security"] == "max-age=31536000"


def test_a_post_on_a_coach_form_is_no_store_too(client, site):
    assert sign_in(client).status_code == 302
    response = client.post(
        site.urls["lead detail"] + "/notes",
        data={"csrf_token": csrf_token(client, site.urls["lead detail"]), "body": ""},
    )
    assert response.status_code in {302, 400}
    assert response.headers["Cache-Control"] == "no-store"

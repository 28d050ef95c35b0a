"""Every route, every method, hostile input: never a 5xx (issue 7, item 6).

The sweep walks `app.url_map` itself, so a route added later is swept too. Each route is called
with real, valid tokens and ids (so the view's own parsing is reached, not just the link check)
and with hostile ones, with every known field and query parameter set to a NUL byte, a control
character, a 25-digit number, an over-long string and so on. Run it on PostgreSQL as well
(TEST_DATABASE_URL): PostgreSQL refuses NUL in text and integers past 2**31, where SQLite does not.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from flask import Flask
from flask_wtf import FlaskForm
from sqlalchemy import delete
from wtforms.fields.core import UnboundField

from booking.coach import forms as coach_forms
from booking.extensions import db
from booking.models import LoginFailure
from booking.public import forms as public_forms
from booking.questionnaire import load_questionnaire

from .coach_helpers import add_coach, sign_in
from .conftest import hidden_fields, valid_registration
from .linked_rows import linked_rows

HUGE = "9999999999999999999999999"
HOSTILE_VALUES = [
    "a\x00b",  # PostgreSQL: "A string literal cannot contain NUL (0x00) characters"
    "\x00",
    "line\x01\x1b[31m\x7fend",
    HUGE,
    "-1",
    "²",  # str.isdigit() says yes, int() says no
    "x" * 1_000,  # over every field's limit; 5,000 in each field would be a 413 for the body
    "' OR 1=1; --",
    "\u202egnp.exe",
]
QUERY_PARAMETERS = ["q", "page", "coach", "status", "dimension", "answer", "next", "per_page"]
# Fields read straight from request.form by views (the rest come from the form classes).
RAW_FIELDS = ["time", "note", "reason", "take", "assign-coach_id", "answer", "body"]


def form_field_names() -> list[str]:
    names = set(RAW_FIELDS)
    for module in (public_forms, coach_forms):
        for form in vars(module).values():
            if isinstance(form, type) and issubclass(form, FlaskForm):
                for attr, value in vars(form).items():
                    if isinstance(value, UnboundField):
                        names.update({attr, f"{attr}-0", f"assign-{attr}"})
    names.update(q.id for q in load_questionnaire().questions)
    names.discard("csrf_token")
    return sorted(names)


def _world(app: Flask) -> dict[str, dict[str, list[Any]]]:
    """For each URL argument name: valid values (real rows, real tokens) per endpoint."""
    rows = linked_rows(app)
    return {
        "public.choose_time": {"token": [rows.choose]},
        "public.choose_time_pick": {"token": [rows.choose]},
        "public.choose_time_none_suit": {"token": [rows.choose]},
        "public.withdraw": {"token": [rows.withdraw]},
        "public.leader_session": {"token": [rows.leader_session]},
        "public.leader_session_cancel": {"token": [rows.leader_session]},
        "public.leader_session_new_time": {"token": [rows.leader_session]},
        "public.rsvp": {"token": [rows.rsvp]},
        "public.questionnaire": {"token": [rows.questionnaire]},
        "coach.password_reset": {"token": [rows.password_reset]},
        "*": {"lead_id": [rows.lead_id], "session_id": [rows.session_id], "filename": ["site.css"]},
    }


def _path_variants(rule, valid: dict[str, list[Any]]) -> list[dict[str, Any]]:
    """One set of real arguments, then each argument in turn replaced by hostile ones."""
    real = {arg: (valid.get(arg) or ["x"])[0] for arg in rule.arguments}
    variants = [real]
    for arg in rule.arguments:
        converter = rule._converters[arg]
        bad = (
            [int(HUGE), 2**31, 2**63, 0]
            if type(converter).__name__.lower().startswith(("int", "id"))
            else ["a\x00b", "x" * 3_000, "..%2f..%2fetc%2fpasswd", HUGE]
        )
        variants += [{**real, arg: value} for value in bad]
    return variants


def _build(app: Flask, rule, values: dict[str, Any]) -> str:
    # Built by hand: url_for would refuse an int past the converter's bounds.
    path = rule.rule
    for arg, value in values.items():
        path = re.sub(rf"<(?:[^:<>]+:)?{re.escape(arg)}>", str(value).replace("\x00", "%00"), path)
    return path


class _CSRFTokens:
    """A CSRF token for a client, as a browser has it: from the last page it loaded, fetched
    again only when the secret it is made from has changed in the client's session (signed in
    or out, a new session), so every POST carries a token valid for the session it is sent in.
    (Keyed on that secret, not the whole cookie: the cookie changes whenever the session does,
    a flashed message say, and a page fetched for each such POST was ~8% of the sweep.)"""

    def __init__(self, app: Flask) -> None:
        self.cookie_name = app.config["SESSION_COOKIE_NAME"]
        self.field = app.config.get("WTF_CSRF_FIELD_NAME", "csrf_token")
        self.serializer = app.session_interface.get_signing_serializer(app)
        self.known: dict[int, tuple[str | None, str]] = {}

    def _secret(self, client) -> str | None:
        cookie = client.get_cookie(self.cookie_name)
        return self.serializer.loads(cookie.value).get(self.field) if cookie else None

    def __call__(self, client) -> str:
        known = self.known.get(id(client))
        if known and known[0] is not None and known[0] == self._secret(client):
            return known[1]
        for path in ("/coach/sign-in", "/coach/leads"):
            page = client.get(path).get_data(as_text=True)
            match = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page)
            if match:
                self.known[id(client)] = (self._secret(client), match[1])
                return match[1]
        raise AssertionError("no page with a CSRF token")


NO_LIMITS = {
    "RATELIMIT_REGISTER_PER_ADDRESS": "100000 per hour",
    "RATELIMIT_REGISTER_PER_EMAIL": "100000 per hour",
    "RATELIMIT_PASSWORD_RESET": "100000 per hour",
    # A server error is answered with the 500 page (as in production), so one run lists them all.
    "PROPAGATE_EXCEPTIONS": False,
}


@pytest.mark.slow
def test_no_route_answers_hostile_input_with_a_5xx(make_app):
    app = make_app(**NO_LIMITS)
    world = _world(app)
    fields = form_field_names()
    failures: list[str] = []
    requests = 0

    csrf = _CSRFTokens(app)
    coach = app.test_client()
    coach.environ_base["REMOTE_ADDR"] = "192.0.2.1"
    assert sign_in(coach).status_code == 302
    stranger = app.test_client()
    stranger.environ_base["REMOTE_ADDR"] = "192.0.2.2"

    # Routes that end something (the lead, the coach's session) last, so the others still
    # reach their views with a live lead and a signed-in coach.
    last = {"coach.lead_erase", "coach.sign_out"}
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: (r.endpoint in last, r.rule)):
        valid = {**world["*"], **world.get(rule.endpoint, {})}
        open_to_all = not rule.rule.startswith("/coach/") or rule.endpoint in {
            "coach.sign_in",
            "coach.password_reset_request",
            "coach.password_reset",
        }
        for n, path_values in enumerate(_path_variants(rule, valid)):
            path = _build(app, rule, path_values)
            # The real path gets every hostile value; a hostile path is refused before the
            # fields are read, so two values are enough there.
            values = HOSTILE_VALUES if n == 0 else HOSTILE_VALUES[:1] + [HUGE]
            for method in sorted(rule.methods & {"GET", "HEAD", "POST"}):
                for value in values:
                    client = stranger if open_to_all else coach
                    query = {name: value for name in QUERY_PARAMETERS}
                    data = None
                    if method == "POST":
                        data = {name: value for name in fields}
                        data["csrf_token"] = csrf(client)
                        if rule.endpoint == "public.register":
                            page = client.get("/").get_data(as_text=True)
                            data = {
                                **valid_registration(),
                                **data,
                                "form_token": hidden_fields(page)["form_token"],
                                "csrf_token": hidden_fields(page)["csrf_token"],
                            }
                    response = client.open(path, method=method, query_string=query, data=data)
                    if method == "POST" and response.status_code == 400:
                        # Every POST carries a valid token: the view, not the CSRF check, decides.
                        assert "The page you sent from had expired" not in response.get_data(
                            as_text=True
                        ), (method, path)
                    response.close()
                    requests += 1
                    if response.status_code >= 500:
                        failures.append(
                            f"{response.status_code} {method} {path[:80]} {value!r:.40}"
                        )
                    if rule.endpoint == "coach.sign_out" and (
                        coach.get("/coach/leads").status_code == 302
                    ):
                        # The sweep's hostile "current password"s count as failed sign-ins
                        # (the password page throttles guessing); forget them, then sign in
                        # again for the routes after this one.
                        with app.app_context():
                            db.session.execute(delete(LoginFailure))
                            db.session.commit()
                        assert sign_in(coach).status_code == 302
    assert requests > 300
    assert not failures, "\n".join(failures)


def test_head_answers_like_get_on_every_page(make_app):
    app = make_app(**NO_LIMITS)
    world = _world(app)
    client = app.test_client()
    assert sign_in(client).status_code == 302
    checked = 0
    for rule in app.url_map.iter_rules():
        if "GET" not in rule.methods or rule.endpoint == "coach.password_reset":
            continue
        valid = {**world["*"], **world.get(rule.endpoint, {})}
        path = _build(app, rule, _path_variants(rule, valid)[0])
        with client.get(path) as got, client.head(path) as head:
            assert head.status_code == got.status_code, (path, head.status_code, got.status_code)
            assert head.get_data() == b""
            assert head.headers.get("Content-Type") == got.headers.get("Content-Type")
        checked += 1
    assert checked >= 15


def test_head_on_the_registration_page_is_a_200_not_a_400(client):
    response = client.head("/")
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/html")


@pytest.mark.parametrize(
    "path",
    [
        "/coach/leads/9999999999999999999999999",
        "/coach/leads/2147483648",
        "/coach/leads?page=9999999999999999999999999",
        "/coach/leads?coach=9999999999999999999999999",
        "/coach/leads?page=²",
        "/coach/leads?q=a%00b",
        "/coach/leads?status=%00&dimension=%00",
    ],
)
def test_a_coach_url_with_a_huge_id_or_a_nul_is_a_clear_4xx_or_a_page(app, client, now, path):
    with app.app_context():
        add_coach(now=now)
    assert sign_in(client).status_code == 302
    response = client.get(path)
    assert response.status_code in {200, 400, 404}, response.status_code


def test_a_nul_in_a_sign_in_email_is_refused_as_a_wrong_sign_in(app, client):
    page = client.get("/coach/sign-in").get_data(as_text=True)
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page)[1]
    response = client.post(
        "/coach/sign-in",
        data={"csrf_token": token, "email": "maya@example.org\x00", "password": "whatever1"},
    )
    assert response.status_code == 400

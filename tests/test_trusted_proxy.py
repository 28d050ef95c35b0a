"""TRUSTED_PROXY_HOPS: whose word about the client's address we take (issue 7, item 3)."""

from __future__ import annotations

import pytest
from flask import request
from sqlalchemy import select

from booking.config import ConfigError
from booking.extensions import db
from booking.models import Lead, LoginFailure

from .coach_helpers import csrf_token, fast_passwords  # noqa: F401
from .conftest import count_rows, submit_registration

ONE_PER_HOUR = {"RATELIMIT_REGISTER_PER_ADDRESS": "1 per hour"}


def client_saying(app, forwarded_for: str, remote_addr: str = "10.0.0.5"):
    """A test client whose requests arrive from `remote_addr` carrying this X-Forwarded-For."""
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = remote_addr
    client.environ_base["HTTP_X_FORWARDED_FOR"] = forwarded_for
    return client


def test_without_a_trusted_proxy_a_spoofed_forwarded_for_does_not_dodge_the_limit(make_app):
    app = make_app(**ONE_PER_HOUR)
    assert app.config["TRUSTED_PROXY_HOPS"] == 0  # the default
    first = client_saying(app, "198.51.100.1")
    second = client_saying(app, "198.51.100.2")
    assert submit_registration(first, email="one@nhs.example").status_code == 302
    # Both really come from 10.0.0.5: one bucket, whatever they claim.
    assert submit_registration(second, email="two@nhs.example").status_code == 429
    assert count_rows(app, Lead) == 1


def test_behind_one_trusted_proxy_clients_are_told_apart(make_app):
    app = make_app(TRUSTED_PROXY_HOPS=1, **ONE_PER_HOUR)
    first = client_saying(app, "198.51.100.1")
    second = client_saying(app, "198.51.100.2")
    assert submit_registration(first, email="one@nhs.example").status_code == 302
    assert submit_registration(second, email="two@nhs.example").status_code == 302
    assert submit_registration(first, email="three@nhs.example").status_code == 429
    assert count_rows(app, Lead) == 2


def test_only_the_proxys_own_hop_is_believed(make_app):
    # A client writes its own X-Forwarded-For; nginx appends the address it really saw.
    app = make_app(TRUSTED_PROXY_HOPS=1, **ONE_PER_HOUR)
    first = client_saying(app, "203.0.113.66, 198.51.100.7")
    second = client_saying(app, "203.0.113.77, 198.51.100.7")
    assert submit_registration(first, email="one@nhs.example").status_code == 302
    assert submit_registration(second, email="two@nhs.example").status_code == 429


@pytest.mark.parametrize(
    ("hops", "forwarded_for", "expected"),
    [
        (0, "203.0.113.66", "10.0.0.5"),
        (1, "203.0.113.66", "203.0.113.66"),
        (1, "203.0.113.66, 198.51.100.7", "198.51.100.7"),
        (2, "203.0.113.66, 198.51.100.7", "203.0.113.66"),
    ],
)
def test_sign_in_throttling_counts_the_address_a_trusted_proxy_gives(
    make_app, hops, forwarded_for, expected
):
    app = make_app(TRUSTED_PROXY_HOPS=hops)
    client = client_saying(app, forwarded_for)
    response = client.post(
        "/coach/sign-in",
        data={"csrf_token": csrf_token(client), "email": "no@example.org", "password": "wrong one"},
    )
    assert response.status_code == 400
    with app.app_context():
        assert db.session.scalars(select(LoginFailure.address)).all() == [expected]


def test_scheme_and_host_come_from_the_trusted_proxy_only(make_app):
    seen: list[tuple[str, str]] = []

    def add_probe(app):
        @app.get("/_probe")
        def probe():
            seen.append((request.scheme, request.host))
            return "ok"

    headers = {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "coaching.example"}
    untrusted = make_app()
    add_probe(untrusted)
    untrusted.test_client().get("/_probe", headers=headers)
    trusted = make_app(TRUSTED_PROXY_HOPS=1)
    add_probe(trusted)
    trusted.test_client().get("/_probe", headers=headers)
    assert seen == [("http", "localhost"), ("https", "coaching.example")]


@pytest.mark.parametrize("value", [-1, "1"])
def test_a_nonsense_hop_count_is_refused_at_start(make_app, value):
    with pytest.raises(ConfigError, match="TRUSTED_PROXY_HOPS"):
        make_app(TRUSTED_PROXY_HOPS=value)


def test_the_hop_count_is_read_from_the_environment(make_app, monkeypatch):
    monkeypatch.setenv("TRUSTED_PROXY_HOPS", "2")
    assert make_app().config["TRUSTED_PROXY_HOPS"] == 2

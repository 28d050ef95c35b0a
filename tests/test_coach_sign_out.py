"""Signing out ends the session on the server too: a copy of the old cookie stops working."""

from __future__ import annotations

from booking.extensions import db
from booking.links import password_reset_token
from booking.models import CoachSignIn, utcnow

from .coach_helpers import add_coach, fast_passwords, post, sign_in  # noqa: F401


def _session_cookie(client) -> str:
    cookie = client.get_cookie("session")
    assert cookie is not None
    return cookie.value


def test_a_copied_session_cookie_is_refused_after_sign_out(app):
    with app.app_context():
        add_coach(now=utcnow())
    client = app.test_client()
    assert sign_in(client).status_code == 302
    assert client.get("/coach/").status_code == 200
    stolen = _session_cookie(client)

    post(client, "/coach/sign-out", {})
    replay = app.test_client()
    replay.set_cookie("session", stolen)
    response = replay.get("/coach/")
    assert response.status_code == 302
    assert "/coach/sign-in" in response.headers["Location"]


def test_signing_out_in_one_browser_leaves_the_others_signed_in(app):
    with app.app_context():
        add_coach(now=utcnow())
    laptop, phone = app.test_client(), app.test_client()
    assert sign_in(laptop).status_code == 302
    assert sign_in(phone).status_code == 302
    post(laptop, "/coach/sign-out", {})
    assert laptop.get("/coach/").status_code == 302
    assert phone.get("/coach/").status_code == 200


def test_a_password_reset_ends_every_sign_in(app):
    with app.app_context():
        coach = add_coach(now=utcnow())
        token = password_reset_token(coach)
        db.session.remove()
    phone = app.test_client()
    assert sign_in(phone).status_code == 302
    browser = app.test_client()
    page = f"/coach/password-reset/{token}"
    response = post(
        browser,
        page,
        {"password": "a brand new passphrase", "confirm": "a brand new passphrase"},
        page=page,
    )
    assert response.status_code == 302  # changed; off to sign in with the new password
    # The phone's session ends by the sign-in record even with the password check removed.
    with app.app_context():
        assert all(row.ended_at for row in db.session.scalars(db.select(CoachSignIn)))
    assert phone.get("/coach/").status_code == 302

"""The privacy notice built from the operator's settings, and the confirmation page that keeps
the leader's address out of the session cookie."""

from __future__ import annotations

import json
from datetime import timedelta

from sqlalchemy import update

from booking.extensions import db
from booking.models import FormReceipt, utcnow
from booking.public.forms import InterestForm
from booking.public.views import COLLECTED

from .conftest import parse, submit_registration, valid_registration

SETTINGS = {
    "PRIVACY_CONTROLLER_NAME": "Compassionate Leadership Coaching Ltd",
    "PRIVACY_CONTROLLER_CONTACT": "privacy@coaching.example",
    "PRIVACY_DPO_CONTACT": "Dana Protector, dpo@coaching.example",
    "RETENTION_DAYS": 180,
}


def _text(page, element_id: str) -> str:
    element = page.by_id(element_id)
    assert element is not None, f"no #{element_id}"
    return " ".join("".join(element["text"]).split())


def test_the_notice_is_built_from_the_settings(make_app):
    app = make_app(**SETTINGS)
    response = app.test_client().get("/privacy")
    assert response.status_code == 200
    page = parse(response)
    text = page.text
    assert _text(page, "controller-name") == SETTINGS["PRIVACY_CONTROLLER_NAME"]
    assert _text(page, "controller-contact") == SETTINGS["PRIVACY_CONTROLLER_CONTACT"]
    assert _text(page, "dpo-contact") == SETTINGS["PRIVACY_DPO_CONTACT"]
    assert _text(page, "retention-days") == "180 days"
    # What is collected, field by field, and why.
    for what, why in COLLECTED.values():
        assert what in text and why in text
    # The lawful basis (the default wording), who sees the data, and the rights.
    assert "consent (UK GDPR Article 6(1)(a))" in text
    assert "legitimate interests (Article 6(1)(f))" in text
    assert "coaches" in text and "email provider" in text and "processor" in text
    for right in ("access", "rectification", "erasure", "restriction", "objection", "portability"):
        assert f"{right} –" in text
    assert f"contact {SETTINGS['PRIVACY_CONTROLLER_NAME']} at privacy@coaching.example" in text
    assert "withdraw at any time" in text
    # How to complain to the regulator.
    assert "Information Commissioner's Office (ICO)" in text and "0303 123 1113" in text
    assert page.all("a", href="https://ico.org.uk/make-a-complaint/")


def test_every_registration_field_is_in_the_notice(app):
    with app.test_request_context():
        fields = {field.name for field in InterestForm()}
    assert fields - {"csrf_token", "website", "form_token"} == set(COLLECTED)


def test_the_operator_can_word_the_lawful_basis(make_app):
    app = make_app(**SETTINGS, PRIVACY_LAWFUL_BASIS="We rely on your consent alone.")
    text = parse(app.test_client().get("/privacy")).text
    assert "We rely on your consent alone." in text and "Article 6(1)(f)" not in text


def test_development_falls_back_to_the_firm_and_its_sending_address(app, client):
    page = parse(client.get("/privacy"))
    assert _text(page, "controller-name") == app.config["FIRM_NAME"]
    assert _text(page, "controller-contact") == "coaching@example.org"
    assert page.by_id("dpo-contact") is None  # no DPO named: no DPO line
    assert _text(page, "retention-days") == "365 days"


# ----- the confirmation page -------------------------------------------------------------


def _session_cookie(app, client) -> dict:
    cookie = client.get_cookie(app.config.get("SESSION_COOKIE_NAME", "session"))
    assert cookie is not None
    serializer = app.session_interface.get_signing_serializer(app)  # type: ignore[attr-defined]
    return dict(serializer.loads(cookie.value))


def test_thank_you_keeps_the_address_out_of_the_cookie_and_shows_it_masked(app, client):
    email = valid_registration()["email"]
    response = submit_registration(client)
    assert response.status_code == 302
    # Flask's session cookie is signed but readable by anyone who sees it.
    contents = json.dumps(_session_cookie(app, client), ensure_ascii=False).lower()
    assert email not in contents and "obrien" not in contents and "siân" not in contents

    text = parse(client.get("/thank-you")).text
    assert "We have sent a confirmation to s•••n@nhs.example" in text
    assert email not in text


def test_thank_you_shows_no_address_an_hour_later(app, client):
    submit_registration(client)
    with app.app_context():
        db.session.execute(update(FormReceipt).values(created_at=utcnow() - timedelta(hours=2)))
        db.session.commit()
    text = parse(client.get("/thank-you")).text
    assert "We have sent a confirmation to the email address you gave." in text
    assert "@" not in text.replace("coaching@", "")


def test_thank_you_without_registering_shows_no_address(client):
    text = parse(client.get("/thank-you")).text
    assert "the email address you gave" in text

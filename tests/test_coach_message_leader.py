"""Emailing the leader from the lead's page, and the coach's email preferences page: page tests
through the test client, delivery read from what a real SMTP server received."""

from __future__ import annotations

from flask import Flask
from flask.testing import FlaskClient

from booking import outbox
from booking.extensions import db
from booking.limits import SUBJECT_MAX, TEXT_MAX
from booking.models import Coach, Lead, utcnow
from booking.settings import current_settings
from booking.workflow import withdraw
from booking.workflow.privacy import erase_lead

from .coach_helpers import add_coach, add_lead, post, sign_in
from .conftest import parse


def _setup(app: Flask) -> tuple[FlaskClient, int]:
    """Maya is the lead's coach (round-robin); Sam signs in and writes."""
    with app.app_context():
        now = utcnow()
        add_coach("maya@example.org", "Maya Patel", now=now)
        add_coach("sam@example.org", "Sam Okafor", now=now)
        lead_id = add_lead(now, 1, full_name="Amara Okoye", email="amara@nhs.example").id
    client = app.test_client()
    assert sign_in(client, "sam@example.org").status_code == 302
    return client, lead_id


def _send(client: FlaskClient, lead_id: int, **data: str):
    return post(
        client,
        f"/coach/leads/{lead_id}/message",
        {f"message-{k}": v for k, v in data.items()},
        page=f"/coach/leads/{lead_id}",
    )


def test_a_message_reaches_the_leader_with_reply_to_the_coach(make_app, smtp_server):
    app = make_app(**smtp_server.config())
    client, lead_id = _setup(app)
    response = _send(
        client, lead_id, subject="After our call", body="Thank you for today.\nSpeak soon."
    )
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"/coach/leads/{lead_id}#emails")
    page = parse(client.get(f"/coach/leads/{lead_id}"))
    assert "Your message to Amara Okoye is on its way" in page.text
    assert "Sam Okafor Emailed the leader: “After our call”" in page.text  # the history

    with app.app_context():
        outbox.deliver_due()
        db.session.remove()
    [received] = [r for r in smtp_server.received if r.message["Subject"] == "After our call"]
    assert received.rcpt_tos == ["amara@nhs.example"]
    message = received.message
    assert message["From"].addresses[0].addr_spec == "coaching@example.org"
    # The coach who wrote, not the lead's assigned coach (Maya).
    [reply_to] = message["Reply-To"].addresses
    assert (reply_to.display_name, reply_to.addr_spec) == ("Sam Okafor", "sam@example.org")
    text = message.get_body(("plain",)).get_content().replace("\r\n", "\n")
    assert "Dear Amara Okoye" in text and "Thank you for today.\nSpeak soon." in text

    # Shown among the lead's emails with its delivery.
    page = parse(client.get(f"/coach/leads/{lead_id}"))
    [row] = [
        "".join(r["text"])
        for r in page.all("tr")
        if r["attrs"].get("id", "").startswith("email-") and "After our call" in "".join(r["text"])
    ]
    assert "Sent" in row and "amara@nhs.example" in row


def test_the_subject_is_optional(make_app):
    app = make_app()
    client, lead_id = _setup(app)
    assert _send(client, lead_id, subject="  ", body="Hello").status_code == 302
    body = client.get(f"/coach/leads/{lead_id}").get_data(as_text=True)
    assert "A message from your coach" in body


def _errors(response) -> tuple[list[str], dict]:
    page = parse(response)
    summary = page.by_id("error-summary-title")
    assert summary is not None
    links = [
        a["attrs"]["href"]
        for a in page.all("a")
        if a["attrs"].get("href", "").startswith("#message-")
    ]
    return links, page


def test_an_empty_message_is_refused_in_the_govuk_pattern(make_app):
    app = make_app()
    client, lead_id = _setup(app)
    response = _send(client, lead_id, subject="Kept subject", body="   ")
    assert response.status_code == 400
    links, page = _errors(response)
    assert links == ["#message-body"]
    error = page.by_id("message-body-error")
    assert error is not None and "Write the message to the leader" in "".join(error["text"])
    assert page.value("Subject (optional)") == "Kept subject"  # values kept
    assert 'aria-invalid="true"' in response.get_data(as_text=True)
    with app.app_context():
        assert "Emailed the leader" not in {e.summary for e in db.session.get(Lead, lead_id).events}


def test_a_too_long_message_and_subject_are_refused_and_kept(make_app):
    app = make_app()
    client, lead_id = _setup(app)
    long_body = "x" * (TEXT_MAX + 1)
    response = _send(client, lead_id, subject="s" * (SUBJECT_MAX + 1), body=long_body)
    assert response.status_code == 400
    links, page = _errors(response)
    assert links == ["#message-subject", "#message-body"]
    assert "Keep the message to 2,000 characters" in page.text
    assert "Keep the subject to 150 characters" in page.text
    assert long_body in response.get_data(as_text=True)


def test_a_withdrawn_or_erased_leader_cannot_be_emailed(make_app):
    app = make_app()
    client, lead_id = _setup(app)
    with app.app_context():
        lead = db.session.get(Lead, lead_id)
        withdraw(lead, reason="", now=utcnow(), settings=current_settings())
        db.session.commit()
    page = parse(client.get(f"/coach/leads/{lead_id}"))
    assert page.by_id("message-refused") is not None
    assert "Message" not in [text for text, _ in page.labels]
    response = _send(client, lead_id, body="Are you sure?")
    assert response.status_code == 409
    assert "withdrew their interest, so they cannot be emailed" in parse(response).text

    with app.app_context():
        now = utcnow()
        other = add_lead(now, 2, email="ben@nhs.example")
        other_id = other.id
        coach = db.session.scalars(db.select(Coach).filter_by(email="sam@example.org")).one()
        erase_lead(other, now=now, actor=coach, by="Sam Okafor", settings=current_settings())
        db.session.commit()
    assert (
        "personal data was erased, so they cannot be emailed"
        in parse(client.get(f"/coach/leads/{other_id}")).text
    )
    response = _send(client, other_id, body="Hello")
    assert response.status_code == 409
    assert "personal data was erased, so they cannot be emailed" in parse(response).text


# ----- email preferences --------------------------------------------------------------------


def test_a_coach_chooses_a_daily_digest_and_back(make_app):
    app = make_app()
    client, _ = _setup(app)
    page = parse(client.get("/coach/account/notifications"))
    assert page.checked("An email each time something happens")
    assert not page.checked("One email a day listing what happened (a daily digest)")

    response = post(client, "/coach/account/notifications", {"mode": "digest"})
    assert response.status_code == 302
    page = parse(client.get("/coach/account/notifications"))
    assert "one email a day" in page.text
    assert page.checked("One email a day listing what happened (a daily digest)")
    with app.app_context():
        sam = db.session.scalars(db.select(Coach).filter_by(email="sam@example.org")).one()
        maya = db.session.scalars(db.select(Coach).filter_by(email="maya@example.org")).one()
        assert sam.email_digest and not maya.email_digest  # only their own

    assert post(client, "/coach/account/notifications", {"mode": "immediate"}).status_code == 302
    with app.app_context():
        sam = db.session.scalars(db.select(Coach).filter_by(email="sam@example.org")).one()
        assert not sam.email_digest


def test_the_preferences_form_says_what_is_missing(make_app):
    app = make_app()
    client, _ = _setup(app)
    for data in ({}, {"mode": "weekly"}):
        response = post(client, "/coach/account/notifications", data)
        assert response.status_code == 400
        page = parse(response)
        assert page.by_id("error-summary-title") is not None
        assert any(a["attrs"].get("href") == "#mode-0" for a in page.all("a"))


def test_the_preferences_page_needs_a_signed_in_coach(make_app):
    app = make_app()
    response = app.test_client().get("/coach/account/notifications")
    assert response.status_code == 302 and "/coach/sign-in" in response.headers["Location"]

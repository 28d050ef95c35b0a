"""The lead's page shows every email the lead caused and whether it arrived; a failure is loud."""

from __future__ import annotations

from booking import outbox
from booking.extensions import db
from booking.models import utcnow

from .coach_helpers import add_coach, add_lead, fast_passwords, sign_in  # noqa: F401
from .conftest import parse


def _setup(make_app, smtp_server):
    app = make_app(**smtp_server.config())
    with app.app_context():
        now = utcnow()
        add_coach(now=now)
        lead_id = add_lead(now, 1, email="amara@nhs.example").id
    client = app.test_client()
    assert sign_in(client).status_code == 302
    return app, client, lead_id


def _deliver(app) -> None:
    with app.app_context():
        outbox.deliver_due()
        db.session.remove()


def test_sent_emails_are_listed_with_their_delivery(make_app, smtp_server):
    app, client, lead_id = _setup(make_app, smtp_server)
    page = parse(client.get(f"/coach/leads/{lead_id}"))
    assert page.by_id("emails") is not None
    body = client.get(f"/coach/leads/{lead_id}").get_data(as_text=True)
    assert "We have your request for personal support" in body
    assert "Sending" in body and "Not delivered" not in body
    assert "An email could not be delivered" not in body

    _deliver(app)
    body = client.get(f"/coach/leads/{lead_id}").get_data(as_text=True)
    assert body.count("tag tag--ok") >= 2  # the acknowledgement and the coaches' notification
    assert "Sending" not in body


def test_a_refused_email_is_shown_prominently_with_the_servers_answer(make_app, smtp_server):
    app, client, lead_id = _setup(make_app, smtp_server)
    smtp_server.responses = ["550 5.1.1 amara@nhs.example: no such mailbox"]
    _deliver(app)
    body = client.get(f"/coach/leads/{lead_id}").get_data(as_text=True)
    assert "An email could not be delivered" in body
    assert "no such mailbox" in body
    assert "Not delivered" in body


def test_a_temporary_failure_shows_the_next_try(make_app, smtp_server):
    app, client, lead_id = _setup(make_app, smtp_server)
    smtp_server.responses = ["451 4.3.0 try again later"]
    _deliver(app)
    body = client.get(f"/coach/leads/{lead_id}").get_data(as_text=True)
    assert "Retrying" in body and "after 1 attempt;" in body
    assert "An email could not be delivered" not in body


def test_an_email_whose_outcome_is_unknown_says_so(make_app, smtp_server):
    """The server hung up after taking the message: the page must not claim either way."""
    app, client, lead_id = _setup(make_app, smtp_server)
    smtp_server.drop_after_data = 1
    _deliver(app)
    page = parse(client.get(f"/coach/leads/{lead_id}"))
    assert "Outcome unknown" in page.text
    assert "may have received it" in page.text and "sent once more" in page.text
    assert "Not delivered" not in page.text


def test_an_unknown_outcome_no_longer_needed_still_says_it_may_have_arrived(make_app, smtp_server):
    from booking.models import Lead
    from booking.workflow import withdraw

    app, client, lead_id = _setup(make_app, smtp_server)
    smtp_server.drop_after_data = 1
    _deliver(app)
    with app.app_context():
        withdraw(db.session.get(Lead, lead_id), reason="", now=utcnow())
        db.session.commit()
    page = parse(client.get(f"/coach/leads/{lead_id}"))
    assert "Outcome unknown" in page.text and "Not sent again (no longer needed)" in page.text

"""Email addresses as leaders really type them (issue 7, item 8).

Letters beyond a-z before the @ are refused at the form with a clear message (our mail cannot be
delivered to them); international domains are kept in their ASCII form, which mail can reach.
"""

from __future__ import annotations

import pytest
from email_validator import EmailNotValidError
from sqlalchemy import select

from booking import outbox
from booking.extensions import db
from booking.models import Lead
from booking.validators import ASCII_LOCAL_PART_MESSAGE, normalise_email

from .conftest import count_rows, parse, submit_registration

FORMAT_MESSAGE = "Enter an email address in the correct format, like name@nhs.net"


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("jo.bloggs@nhs.net", "jo.bloggs@nhs.net"),
        ("Jo.Bloggs@NHS.NET", "Jo.Bloggs@nhs.net"),
        ("  jo.bloggs@nhs.net  ", "jo.bloggs@nhs.net"),
        ("\tjo.bloggs@nhs.net\n", "jo.bloggs@nhs.net"),
        ("jo.bloggs+coaching@nhs.net", "jo.bloggs+coaching@nhs.net"),
        ("JO_BLOGGS-2@Northfield.NHS.UK", "JO_BLOGGS-2@northfield.nhs.uk"),
        ("siobhan.o'neill@nhs.net", "siobhan.o'neill@nhs.net"),
        # An international domain is kept in the form mail servers route.
        ("jo@bücher.example", "jo@xn--bcher-kva.example"),
        ("jo@BÜCHER.example", "jo@xn--bcher-kva.example"),
        ("jo@xn--bcher-kva.example", "jo@xn--bcher-kva.example"),
    ],
)
def test_what_people_type_is_accepted_and_normalised(typed, stored):
    assert normalise_email(typed) == stored


@pytest.mark.parametrize(
    "typed", ["zoë@nhs.example", "José.García@nhs.net", "δοκιμή@example.org", "用户@例子.广告"]
)
def test_letters_beyond_a_to_z_before_the_at_are_refused(typed):
    with pytest.raises(EmailNotValidError):
        normalise_email(typed)


@pytest.mark.parametrize("typed", ["zoë@nhs.example", "  Zoë.Brown@NHS.net "])
def test_the_form_says_which_letters_to_use(app, client, typed):
    response = submit_registration(client, email=typed)
    assert response.status_code == 400
    page = parse(response)
    assert ASCII_LOCAL_PART_MESSAGE in page.text
    assert FORMAT_MESSAGE not in page.text
    assert page.value("Work email address") == typed.strip()  # kept, to be corrected
    assert count_rows(app, Lead) == 0


@pytest.mark.parametrize("typed", ["jo.nhs.net", "jo@", "jo@@nhs.net", "jo bloggs@nhs.net"])
def test_a_malformed_address_keeps_the_general_message(app, client, typed):
    response = submit_registration(client, email=typed)
    assert response.status_code == 400
    text = parse(response).text
    assert FORMAT_MESSAGE in text
    assert ASCII_LOCAL_PART_MESSAGE not in text


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        (" Jo.Bloggs+Coaching@NHS.net ", "Jo.Bloggs+Coaching@nhs.net"),
        ("jo@bücher.example", "jo@xn--bcher-kva.example"),
    ],
)
def test_an_accepted_address_gets_its_mail(make_app, smtp_server, typed, stored):
    """Through the form and the outbox to a real SMTP server: accepted means deliverable."""
    app = make_app(**smtp_server.config())
    assert submit_registration(app.test_client(), email=typed).status_code == 302
    with app.app_context():
        assert db.session.scalars(select(Lead.email)).one() == stored
        report = outbox.deliver_due()
    assert len(report.sent) == 1 and not report.retrying and not report.failed
    assert [r.rcpt_tos for r in smtp_server.received] == [[stored]]
    assert smtp_server.messages_to(stored)[0]["To"] == stored

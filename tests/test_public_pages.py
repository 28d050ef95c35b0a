"""The public page and interest form through the test client: copy, labels, errors, spam traps,
CSRF, rate limits, the privacy notice and the withdraw link a leader gets by email."""

from __future__ import annotations

import email
import re
from email import policy
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import select

from booking import outbox
from booking.extensions import db
from booking.models import FormReceipt, Lead, LeadStatus, OutboxMessage, OutboxStatus

from .conftest import count_rows, hidden_fields, parse, submit_registration, valid_registration

FIELD_LABELS = {
    "Full name": "full_name",
    "Work email address": "email",
    "Phone number (optional)": "phone",
    "Organisation": "organisation",
    "Job title or role": "role",
    "What would you like help with? (optional)": "help_text",
    "When are you usually free? (optional)": "availability",
    "I agree to be contacted about this request": "consent",
    # One label per choice, as a screen reader announces them.
    "Compassionate": "dimensions",
    "Purpose-led": "dimensions",
    "Practical": "dimensions",
    "Not sure yet": "dimensions",
    "Video call": "preferred_format",
    "Phone call": "preferred_format",
    "In person": "preferred_format",
}


def stored_leads(app: Flask) -> list[Lead]:
    with app.app_context():
        leads = list(db.session.scalars(select(Lead).order_by(Lead.id)))
        db.session.expunge_all()
        return leads


# ----- the page -----------------------------------------------------------------------------


def test_page_explains_the_three_dimensions_no_obligation_and_what_happens_next(client):
    response = client.get("/")
    assert response.status_code == 200
    text = parse(response).text
    for dimension in ("Compassionate", "Purpose-led", "Practical"):
        assert re.search(rf"<h2>{dimension}</h2>", response.get_data(as_text=True)), dimension
    assert "three dimensions" in text
    assert "No obligation" in text
    assert "not a commitment" in text
    assert "What happens next" in text
    assert "a coach will be in touch" in text


def test_every_field_has_a_real_label(client):
    page = parse(client.get("/"))
    for label, name in FIELD_LABELS.items():
        assert page.field(label)["attrs"]["name"] == name, label
    # The honeypot is labelled too (for the odd screen reader that reaches it) but kept away.
    trap = page.field("Leave this field empty")
    assert trap["attrs"]["tabindex"] == "-1"


def test_no_browser_native_validation_and_consent_never_preticked(client):
    page = parse(client.get("/"))
    forms = page.all("form", class_="interest-form")
    assert len(forms) == 1 and "novalidate" in forms[0]["attrs"]
    for element in page.elements:
        if element["tag"] in {"input", "textarea", "select"}:
            assert "required" not in element["attrs"], element
    assert not page.checked("I agree to be contacted about this request")
    assert not any(page.checked(label) for label in ("Compassionate", "Video call"))


def test_privacy_link_sits_next_to_consent(client):
    html = client.get("/").get_data(as_text=True)
    consent_block = html[html.index('id="consent-hint"') : html.index('for="consent"')]
    assert 'href="/privacy"' in consent_block


# ----- a good registration --------------------------------------------------------------------


def test_valid_submission_redirects_and_stores_one_normalised_lead(app, client):
    response = submit_registration(
        client,
        email="  Sian.OBrien@NHS.Example ",
        phone="07911 123456",
        full_name="Siân O'Brien-Smith",
    )
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/thank-you")

    leads = stored_leads(app)
    assert len(leads) == 1
    lead = leads[0]
    assert lead.full_name == "Siân O'Brien-Smith"
    assert lead.email == "Sian.OBrien@nhs.example"  # trimmed, domain lower-cased
    assert lead.phone == "+447911123456"
    assert lead.status == LeadStatus.NEW
    assert [d.value for d in lead.dimension_list] == ["compassionate", "practical"]

    thanks = client.get(response.headers["Location"])
    assert thanks.status_code == 200
    text = parse(thanks).text
    assert "Thank you" in text and "S•••n@nhs.example" in text  # masked, looked up server-side
    assert "What happens next" in text


def test_international_phone_is_stored_e164(app, client):
    submit_registration(client, phone="+33 1 42 68 53 00")
    assert stored_leads(app)[0].phone == "+33142685300"


def test_phone_is_optional(app, client):
    assert submit_registration(client, phone="").status_code == 302
    assert stored_leads(app)[0].phone is None


# ----- errors, GOV.UK style -------------------------------------------------------------------


def test_empty_form_shows_error_summary_linking_to_fields(app, client):
    fields = hidden_fields(client.get("/").get_data(as_text=True))
    response = client.post("/", data=fields)
    assert response.status_code == 400
    page = parse(response)
    assert "There is a problem" in page.text
    assert page.html.count('class="error-summary"') == 1
    assert "<title>Error:" in page.html

    links = [
        a["attrs"]["href"]
        for a in page.elements
        if a["tag"] == "a"
        and a["attrs"].get("href", "").startswith("#")
        and a["attrs"]["href"] != "#main"
    ]
    assert len(links) == 7  # name, email, organisation, role, dimensions, format, consent
    for href in links:
        target = page.by_id(href[1:])
        assert target is not None and target["tag"] == "input", href
    # The message again by each field, tied to it for screen readers.
    inline = page.all("p", class_="error-message")
    assert len(inline) == 7
    assert page.field("Full name")["attrs"]["aria-describedby"] == "full_name-error"
    assert page.field("Full name")["attrs"]["aria-invalid"] == "true"
    assert count_rows(app, Lead) == 0


def test_errors_keep_everything_typed(app, client):
    fields = hidden_fields(client.get("/").get_data(as_text=True))
    typed = valid_registration(
        email="not an email",
        phone="12",
        consent="",
        help_text="Line one\nLine two <b>bold</b>",
        dimensions=["purpose-led", "practical"],
        preferred_format="in-person",
    )
    del typed["consent"]
    response = client.post("/", data={**fields, **typed})
    assert response.status_code == 400
    page = parse(response)
    messages = [p for p in page.all("p", class_="error-message")]
    assert len(messages) == 3  # email, phone, consent
    assert "like name@nhs.net" in page.text
    assert page.value("Full name") == "Siân O'Brien-Smith"
    assert page.value("Work email address") == "not an email"
    assert page.value("Phone number (optional)") == "12"
    assert page.value("Organisation") == "Northfield Community Trust"
    assert page.value("Job title or role") == "Ward manager"
    assert (
        page.value("What would you like help with? (optional)") == "Line one\nLine two <b>bold</b>"
    )
    assert page.value("When are you usually free? (optional)") == "Tuesday mornings"
    assert page.checked("Purpose-led") and page.checked("Practical")
    assert not page.checked("Compassionate") and not page.checked("Not sure yet")
    assert page.checked("In person")
    assert not page.checked("I agree to be contacted about this request")
    assert "<b>bold</b>" not in page.html  # typed text is escaped on the way back
    assert count_rows(app, Lead) == 0


def test_ticked_consent_stays_ticked_after_another_error(client):
    response = submit_registration(client, full_name="")
    assert response.status_code == 400
    assert parse(response).checked("I agree to be contacted about this request")


def test_cr_lf_in_a_single_line_field_is_refused_with_a_message(app, client):
    response = submit_registration(client, organisation="Trust\r\nBcc: x@example.org")
    assert response.status_code == 400
    assert "Enter your organisation on one line" in parse(response).text
    assert count_rows(app, Lead) == 0


# ----- CSRF ------------------------------------------------------------------------------------


def test_csrf_is_on_by_default(app):
    assert app.config.get("WTF_CSRF_ENABLED", True) is True


def test_missing_csrf_token_is_refused_keeping_what_was_typed(app, client):
    fields = hidden_fields(client.get("/").get_data(as_text=True))
    del fields["csrf_token"]
    response = client.post("/", data={**fields, **valid_registration()})
    assert 400 <= response.status_code < 500
    page = parse(response)
    assert "Please send the form again" in page.text
    assert "Everything you typed is still here" in page.text
    assert page.value("Full name") == "Siân O'Brien-Smith"
    assert page.value("Work email address") == "sian.obrien@nhs.example"
    # A fresh token is on the page, so sending again works.
    again = client.post("/", data={**hidden_fields(page.html), **valid_registration()})
    assert again.status_code == 302
    assert count_rows(app, Lead) == 1


def test_foreign_csrf_token_is_refused(app, client):
    # A token minted for someone else's session (as a cross-site page would have to use).
    stranger = app.test_client()
    foreign = hidden_fields(stranger.get("/").get_data(as_text=True))
    client.get("/")
    response = client.post("/", data={**foreign, **valid_registration()})
    assert 400 <= response.status_code < 500
    assert "Please send the form again" in parse(response).text
    assert count_rows(app, Lead) == 0
    assert count_rows(app, OutboxMessage) == 0


def test_token_signed_with_another_key_is_refused(make_app):
    other = make_app(SECRET_KEY="another-site")
    foreign = hidden_fields(other.test_client().get("/").get_data(as_text=True))
    app = make_app()
    client = app.test_client()
    client.get("/")
    response = client.post("/", data={**foreign, **valid_registration()})
    assert 400 <= response.status_code < 500
    assert count_rows(app, Lead) == 0


def test_withdraw_post_without_csrf_token_changes_nothing(app, client):
    lead_id, path = register_and_read_withdraw_link(app, client)
    response = client.post(path, data={"reason": ""})
    assert response.status_code == 400
    assert "came from another site" in parse(response).text
    assert stored_leads(app)[0].status == LeadStatus.NEW


# ----- spam traps and duplicates ------------------------------------------------------------


def test_honeypot_looks_successful_but_keeps_and_sends_nothing(app, client):
    response = submit_registration(client, website="http://spam.example")
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/thank-you")
    assert count_rows(app, Lead) == 0
    assert count_rows(app, OutboxMessage) == 0


def test_time_trap_asks_a_fast_honest_form_to_be_sent_again(make_app):
    # Autofill fills the form in a second: an intact signed token and an empty honeypot are not
    # a bot, so the person is asked to send it again (never shown a false confirmation).
    app = make_app(FORM_MIN_SECONDS=5)
    client = app.test_client()
    sent = hidden_fields(client.get("/").get_data(as_text=True))
    response = client.post(
        "/", data={**sent, **valid_registration(organisation="Fast Fingers Trust")}
    )
    assert response.status_code == 400
    page = parse(response)
    assert "Please check your answers and send the form again" in page.text
    assert page.value("Organisation") == "Fast Fingers Trust"
    assert page.checked("I agree to be contacted about this request")
    assert count_rows(app, Lead) == 0
    assert count_rows(app, OutboxMessage) == 0

    # The page carries a fresh token; sent again once the time has passed, it is accepted.
    fields = hidden_fields(response.get_data(as_text=True))
    assert fields["form_token"] != sent["form_token"]
    app.config["FORM_MIN_SECONDS"] = 0
    again = client.post("/", data={**fields, **valid_registration()})
    assert again.status_code == 302
    assert count_rows(app, Lead) == 1


@pytest.mark.parametrize("trap", [{"website": "http://spam.example"}, {"form_token": "made-up"}])
def test_time_trap_leaves_the_honeypot_and_bad_tokens_silent(make_app, trap):
    app = make_app(FORM_MIN_SECONDS=5)
    response = submit_registration(app.test_client(), **trap)
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/thank-you")
    assert count_rows(app, Lead) == 0
    assert count_rows(app, OutboxMessage) == 0


def test_forged_form_token_is_dropped(app, client):
    response = submit_registration(client, form_token="made-up")
    assert response.status_code == 302
    assert count_rows(app, Lead) == 0


def test_replayed_form_makes_one_lead(app, client):
    fields = hidden_fields(client.get("/").get_data(as_text=True))
    data = {**fields, **valid_registration()}
    responses = [client.post("/", data=data) for _ in range(3)]
    assert [r.status_code for r in responses] == [302, 302, 302]
    assert count_rows(app, Lead) == 1
    assert count_rows(app, FormReceipt) == 1
    assert count_rows(app, OutboxMessage) == 1  # the acknowledgement, once


# ----- rate limits -------------------------------------------------------------------------------


def _assert_friendly_429(response) -> None:
    assert response.status_code == 429
    retry_after = int(response.headers["Retry-After"])
    assert 0 < retry_after <= 3600
    text = parse(response).text
    assert re.search(r"try again in \d+ (minutes?|seconds)", text), text
    assert "no need to do it again" in text


def test_rate_limit_per_client_address(make_app):
    app = make_app(RATELIMIT_REGISTER_PER_ADDRESS="2 per hour")
    client = app.test_client()
    for n in range(2):
        assert submit_registration(client, email=f"person{n}@nhs.example").status_code == 302
    response = submit_registration(client, email="person9@nhs.example")
    _assert_friendly_429(response)
    assert count_rows(app, Lead) == 2
    # Another address is not held up by the first.
    other = app.test_client()
    other.environ_base["REMOTE_ADDR"] = "203.0.113.9"
    assert submit_registration(other, email="person9@nhs.example").status_code == 302


def test_rate_limit_per_email_address_across_client_addresses(make_app):
    app = make_app(RATELIMIT_REGISTER_PER_EMAIL="2 per hour")
    for n in range(2):
        client = app.test_client()
        client.environ_base["REMOTE_ADDR"] = f"203.0.113.{n + 1}"
        assert submit_registration(client, email="Same@NHS.example").status_code == 302
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = "203.0.113.50"
    # The same address written differently counts as the same.
    response = submit_registration(client, email="same@nhs.EXAMPLE")
    _assert_friendly_429(response)
    assert count_rows(app, Lead) == 1  # the second was recorded on the first


def test_leaders_who_mistype_their_email_each_get_the_field_error_not_a_429(make_app):
    # Before: every unparseable address shared one "email:invalid" bucket, so after five typos
    # anywhere in an hour every later leader who mistyped got a 429 instead of the field error.
    app = make_app(RATELIMIT_REGISTER_PER_EMAIL="5 per hour")
    for n, typo in enumerate(["jo.nhs.net", "jo@", "jo@@nhs.net", "jo @nhs.net", "@nhs.net"] * 3):
        client = app.test_client()
        client.environ_base["REMOTE_ADDR"] = f"203.0.113.{n + 1}"
        response = submit_registration(client, email=typo)
        assert response.status_code == 400, (n, typo, response.status_code)
        assert "Enter an email address in the correct format" in parse(response).text
    assert count_rows(app, Lead) == 0


def test_a_field_error_beats_the_per_email_limit_and_does_not_use_it_up(make_app):
    app = make_app(RATELIMIT_REGISTER_PER_EMAIL="1 per hour")
    client = app.test_client()
    # Field errors with a good address: refused with the errors, not counted.
    for _ in range(3):
        response = submit_registration(client, email="sam@nhs.example", full_name="")
        assert response.status_code == 400
        assert "Enter your full name" in parse(response).text
    assert submit_registration(client, email="sam@nhs.example").status_code == 302
    # The address has used its one submission: a field error still says what to fix ...
    response = submit_registration(client, email="sam@nhs.example", full_name="")
    assert response.status_code == 400
    assert "Enter your full name" in parse(response).text
    # ... and a complete form is held back.
    _assert_friendly_429(submit_registration(client, email="sam@nhs.example"))
    assert count_rows(app, Lead) == 1


def test_reading_the_page_is_not_rate_limited(make_app):
    app = make_app(RATELIMIT_REGISTER_PER_ADDRESS="1 per hour")
    client = app.test_client()
    assert all(client.get("/").status_code == 200 for _ in range(5))


# ----- privacy notice --------------------------------------------------------------------------


def test_privacy_notice_text_comes_from_the_operators_file(app, client, tmp_path):
    Path(app.config["PRIVACY_NOTICE_FILE"]).write_text(
        "We keep your details for 12 months.\n\nContact <dpo@example.org> to ask.", "utf-8"
    )
    response = client.get("/privacy")
    assert response.status_code == 200
    page = parse(response)
    assert "We keep your details for 12 months." in page.text
    assert "Contact <dpo@example.org> to ask." in page.text  # escaped, shown as typed
    assert "<dpo@example.org>" not in page.html


def test_privacy_notice_has_a_sensible_default(make_app, tmp_path):
    app = make_app(PRIVACY_NOTICE_FILE=str(tmp_path / "missing.txt"))
    text = parse(app.test_client().get("/privacy")).text
    assert "withdraw at any time" in text


# ----- withdrawing, from the link in the acknowledgement email ------------------------------


def register_and_read_withdraw_link(app: Flask, client) -> tuple[int, str]:
    """Register through the page, deliver the mail (captured to .eml), return the link's path."""
    assert submit_registration(client).status_code == 302
    with app.app_context():
        outbox.deliver_due()
        lead_id = db.session.scalars(select(Lead.id)).one()
    files = sorted(Path(app.config["MAIL_CAPTURE_DIR"]).glob("*-leader_acknowledgement.eml"))
    assert len(files) == 1
    message = email.message_from_bytes(files[0].read_bytes(), policy=policy.default)
    text = message.get_body(("plain",)).get_content()
    match = re.search(r"http://booking\.test(/withdraw/\S+)", text)
    assert match, text
    return lead_id, match[1]


def test_withdraw_link_get_confirms_and_changes_nothing(app, client):
    lead_id, path = register_and_read_withdraw_link(app, client)
    response = client.get(path)
    assert response.status_code == 200
    page = parse(response)
    assert "Withdraw your interest" in page.text
    assert page.field("Anything you would like to tell us? (optional)")
    lead = stored_leads(app)[0]
    assert lead.status == LeadStatus.NEW


def test_withdraw_link_post_withdraws(app, client):
    lead_id, path = register_and_read_withdraw_link(app, client)
    confirm = client.get(path).get_data(as_text=True)
    response = client.post(path, data={**hidden_fields(confirm), "reason": "Found support"})
    assert response.status_code == 200
    assert "withdrawn" in parse(response).text.lower()
    lead = stored_leads(app)[0]
    assert lead.status == LeadStatus.WITHDRAWN
    assert lead.status_reason == "Found support"
    # Doing it twice is harmless.
    again = client.post(path, data={**hidden_fields(confirm), "reason": ""})
    assert again.status_code == 200


@pytest.mark.parametrize("tamper", ["flip", "truncate", "other-purpose", "garbage"])
def test_tampered_withdraw_link_is_a_friendly_404_and_changes_nothing(app, client, tamper):
    lead_id, path = register_and_read_withdraw_link(app, client)
    token = path.rsplit("/", 1)[1]
    if tamper == "flip":
        # Not the last character: its low bits are padding and may decode to the same bytes.
        token = token[:-10] + ("A" if token[-10] != "A" else "z") + token[-9:]
    elif tamper == "truncate":
        token = token[:-6]
    elif tamper == "other-purpose":
        from booking.links import make_token

        with app.test_request_context():
            token = make_token("choose-time", {"lead": lead_id})
    else:
        token = "not-a-token"
    for method in ("get", "post"):
        confirm = client.get("/").get_data(as_text=True)
        response = getattr(client, method)(f"/withdraw/{token}", data=hidden_fields(confirm))
        assert response.status_code == 404
        text = parse(response).text
        assert "This link is not valid" in text
        assert "O'Brien" not in text  # no personal data on a bad link
    assert stored_leads(app)[0].status == LeadStatus.NEW


def test_withdraw_token_for_a_deleted_lead_is_a_friendly_404(app, client):
    from booking.links import make_token

    with app.test_request_context():
        token = make_token("withdraw", {"lead": 999_999})
    response = client.get(f"/withdraw/{token}")
    assert response.status_code == 404
    assert "This link is not valid" in parse(response).text


def test_withdrawing_cancels_mail_not_yet_sent(app, client):
    assert submit_registration(client).status_code == 302
    with app.app_context():
        from booking.links import withdraw_url

        lead = db.session.scalars(select(Lead)).one()
        path = withdraw_url(lead).removeprefix("http://booking.test")
    confirm = client.get(path).get_data(as_text=True)
    client.post(path, data=hidden_fields(confirm))
    with app.app_context():
        statuses = {m.status for m in db.session.scalars(select(OutboxMessage))}
    assert statuses == {OutboxStatus.CANCELLED}

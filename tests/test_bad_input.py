"""Hostile and odd input: each gives a clear 4xx or a stored, escaped value; never a 500, and
nothing a person typed is lost on the way back to them."""

from __future__ import annotations

import html
import string
from dataclasses import replace

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import inspect, select

from booking import outbox
from booking.extensions import db
from booking.models import Dimension, FormReceipt, Lead, OutboxMessage, SessionFormat
from booking.settings import current_settings
from booking.workflow import Registration, register_interest

from .conftest import count_rows, hidden_fields, parse, submit_registration, valid_registration

NO_LIMITS = {
    "RATELIMIT_REGISTER_PER_ADDRESS": "100000 per hour",
    "RATELIMIT_REGISTER_PER_EMAIL": "100000 per hour",
}


def only_lead(app) -> Lead:
    with app.app_context():
        lead = db.session.scalars(select(Lead)).one()
        db.session.expunge(lead)
        return lead


def test_empty_form_is_a_400_with_the_summary(app, client):
    response = client.post("/", data=hidden_fields(client.get("/").get_data(as_text=True)))
    assert response.status_code == 400
    assert "There is a problem" in parse(response).text
    assert count_rows(app, Lead) == 0


def test_a_post_with_no_fields_at_all_is_a_400_not_a_500(app, client):
    response = client.post("/", data={})
    assert response.status_code == 400
    assert count_rows(app, Lead) == 0


def test_ten_thousand_character_name_is_refused_and_kept(app, client):
    name = "A" * 10_000
    response = submit_registration(client, full_name=name)
    assert response.status_code == 400
    page = parse(response)
    assert "Full name must be 200 characters or fewer" in page.text
    assert page.value("Full name") == name  # kept, so they can shorten it
    assert count_rows(app, Lead) == 0


def test_help_text_over_2000_characters_is_refused_with_a_message(app, client):
    response = submit_registration(client, help_text="x" * 2001)
    assert response.status_code == 400
    assert "2,000 characters or fewer" in parse(response).text
    assert submit_registration(client, help_text="x" * 2000).status_code == 302
    assert len(only_lead(app).help_text) == 2000


def test_one_megabyte_body_is_a_friendly_413(app, client):
    fields = hidden_fields(client.get("/").get_data(as_text=True))
    response = client.post("/", data={**fields, **valid_registration(help_text="x" * 1_000_000)})
    assert response.status_code == 413
    text = parse(response).text
    assert "too long" in text and "2,000 characters" in text
    assert count_rows(app, Lead) == 0


def test_one_megabyte_multipart_body_is_a_friendly_413(app, client):
    fields = hidden_fields(client.get("/").get_data(as_text=True))
    # Built by hand: the test client spools a big upload to a temporary file it never closes.
    boundary = "----bound"
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'
        for k, v in fields.items()
    ]
    parts.append(
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; '
        f'filename="big.txt"\r\n\r\n{"x" * 1_000_000}\r\n--{boundary}--\r\n'
    )
    response = client.post(
        "/", data="".join(parts).encode(), content_type=f"multipart/form-data; boundary={boundary}"
    )
    assert response.status_code == 413
    assert count_rows(app, Lead) == 0


@pytest.mark.parametrize(
    "field,message",
    [
        ("full_name", "Enter your full name on one line"),
        ("organisation", "Enter your organisation on one line"),
        ("role", "Enter your job title or role on one line"),
        ("availability", "Enter when you are usually free on one line"),
        ("email", "Enter your email address on one line"),
    ],
)
@pytest.mark.parametrize("newline", ["\r\n", "\n", "\r"])
def test_header_injection_in_single_line_fields_is_refused(app, client, field, message, newline):
    value = f"Sam Smith{newline}Bcc: x@y.example"
    if field == "email":
        value = f"sam@nhs.example{newline}Bcc: x@y.example"
    response = submit_registration(client, **{field: value})
    assert response.status_code == 400
    page = parse(response)
    assert message in page.text
    assert count_rows(app, Lead) == 0


def test_nothing_a_leader_typed_can_add_a_header_at_the_email_layer(make_app, smtp_server, now):
    """Even if odd text got past the form, the outbox and mailer keep it out of the headers."""
    app = make_app(**smtp_server.config(), COACH_NOTIFY_EMAILS=["coaches@example.org"])
    with app.app_context():
        register_interest(
            Registration(
                full_name="Eve\r\nBcc: eve@attacker.example\r\nX-Injected: yes",
                email="eve@nhs.example",
                organisation="Org\nSubject: hijacked\n\nbody",
                role="Role\rCc: cc@attacker.example",
                preferred_format=SessionFormat.VIDEO,
                dimensions=[Dimension.PRACTICAL],
                help_text="Hello\r\n.\r\nMAIL FROM:<x@y>",
                consent=True,
            ),
            form_token="inject",
            now=now,
            settings=current_settings(),
        )
        db.session.commit()
        report = outbox.deliver_due(now=now)
    assert len(report.sent) == 2, report
    assert sorted(r for m in smtp_server.received for r in m.rcpt_tos) == [
        "coaches@example.org",
        "eve@nhs.example",
    ]
    for received in smtp_server.received:
        message = received.message
        header_names = {name.lower() for name in message.keys()}
        assert not header_names & {"bcc", "cc", "x-injected"}, header_names
        assert message.get_all("Subject") and len(message.get_all("Subject")) == 1
        assert "hijacked" not in str(message["Subject"]) or "Org Subject: hijacked" in str(
            message["Subject"]
        )
        assert "\n" not in str(message["Subject"]) and "\r" not in str(message["Subject"])
        assert "attacker" not in str(message["To"])
    coach = smtp_server.messages_to("coaches@example.org")[0]
    # The odd text is still delivered, flattened, in the body where a coach can see it.
    assert "Eve" in coach.get_body(("plain",)).get_content()


def test_script_in_organisation_is_stored_as_typed_and_escaped_everywhere(make_app, smtp_server):
    app = make_app(**smtp_server.config(), COACH_NOTIFY_EMAILS=["coaches@example.org"])
    client = app.test_client()
    evil = '<script>alert("x")</script> & Co'
    assert submit_registration(client, organisation=evil).status_code == 302
    assert only_lead(app).organisation == evil

    with app.app_context():
        outbox.deliver_due()
    for received in smtp_server.received:
        message = received.message
        body_html = message.get_body(("html",)).get_content()
        assert "<script>" not in body_html
        assert (
            html.escape(evil, quote=True) in body_html
            or "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; &amp; Co" in body_html
        )
        assert evil in message.get_body(("plain",)).get_content()

    # And in the page, when the form is shown again with an error.
    response = submit_registration(app.test_client(), organisation=evil, full_name="")
    assert response.status_code == 400
    assert "<script>alert" not in response.get_data(as_text=True)
    assert parse(response).value("Organisation") == evil


def test_sql_in_a_name_is_stored_literally(app, client):
    name = "O'Brien'); DROP TABLE lead;--"
    assert (
        submit_registration(
            client, full_name=name, organisation="x'; DELETE FROM lead; --"
        ).status_code
        == 302
    )
    assert only_lead(app).full_name == name
    with app.app_context():
        assert "lead" in inspect(db.engine).get_table_names()
    assert submit_registration(app.test_client(), email="second@nhs.example").status_code == 302
    assert count_rows(app, Lead) == 2


def test_unicode_names_with_apostrophes_accents_and_hyphens(app, client):
    name = "Zoë Ní Bhriain-Łukasiewicz 李"
    assert submit_registration(client, full_name=name).status_code == 302
    assert only_lead(app).full_name == name


def test_nul_and_control_characters_never_cause_a_500(app, client):
    # A line break in a one-line field is refused with a message ...
    response = submit_registration(
        client, help_text="line\x00one\x07\x1b[31m", full_name="Nul\x00\nByte"
    )
    assert response.status_code == 400
    assert "Enter your full name on one line" in parse(response).text
    # ... while invisible control characters, which nobody types, are dropped from every field
    # before any form sees them (booking/inputs.py).
    response = submit_registration(
        app.test_client(), help_text="line\x00one\ttab\x1b", full_name="Nul\x00 Byte\x0b"
    )
    assert response.status_code == 302
    lead = only_lead(app)
    assert lead.help_text == "lineone\ttab"
    assert lead.full_name == "Nul Byte"


def test_nul_in_withdraw_reason_never_causes_a_500(app, client):
    from booking.links import withdraw_url

    assert submit_registration(client).status_code == 302
    with app.app_context():
        path = withdraw_url(db.session.scalars(select(Lead)).one()).removeprefix(
            "http://booking.test"
        )
    confirm = client.get(path).get_data(as_text=True)
    response = client.post(path, data={**hidden_fields(confirm), "reason": "bye\x00now"})
    assert response.status_code == 200
    assert only_lead(app).status_reason == "byenow"


def test_unknown_choice_values_are_refused_with_a_message(app, client):
    response = submit_registration(client, dimensions=["evil"], preferred_format="carrier-pigeon")
    assert response.status_code == 400
    page = parse(response)
    assert "There is a problem" in page.text
    assert count_rows(app, Lead) == 0


def test_invalid_utf8_body_is_not_a_500(app, client):
    fields = hidden_fields(client.get("/").get_data(as_text=True))
    body = "&".join(f"{k}={v}" for k, v in fields.items()).encode() + b"&full_name=%FF%FE%80"
    response = client.post("/", data=body, content_type="application/x-www-form-urlencoded")
    assert response.status_code < 500
    assert count_rows(app, Lead) == 0


def test_json_body_and_other_methods_are_4xx(app, client):
    assert client.post("/", json=valid_registration()).status_code == 400
    assert client.put("/", data=valid_registration()).status_code == 405
    assert client.delete("/").status_code == 405
    assert count_rows(app, Lead) == 0


def test_missing_csrf_token_is_a_clear_4xx_and_keeps_data(app, client):
    fields = hidden_fields(client.get("/").get_data(as_text=True))
    fields.pop("csrf_token")
    response = client.post("/", data={**fields, **valid_registration(role="Matron")})
    assert 400 <= response.status_code < 500
    page = parse(response)
    assert "Please send the form again" in page.text
    assert page.value("Job title or role") == "Matron"
    assert count_rows(app, Lead) == 0


def test_foreign_csrf_token_is_a_clear_4xx(app, client):
    foreign = hidden_fields(app.test_client().get("/").get_data(as_text=True))
    client.get("/")
    response = client.post("/", data={**foreign, **valid_registration()})
    assert 400 <= response.status_code < 500
    assert "Please send the form again" in parse(response).text
    assert count_rows(app, Lead) == 0


@pytest.fixture
def unlimited_app(make_app):
    """One app for all of a property test's examples (building one per example was most of the
    test's time); each example still loads the form with a fresh client."""
    return make_app(**NO_LIMITS)


# Any text a person (or a bot) could send: letters, symbols, control characters, emoji. Lone
# surrogates cannot be sent as UTF-8 by any browser, so they are left out.
any_text = st.text(
    alphabet=st.characters(exclude_categories=("Cs",)), max_size=300
) | st.sampled_from(["", " ", "\r\n", "\x00", "'; --", "<b>", "%", "+44", "@", "a@b"])


@pytest.mark.slow
@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    full_name=any_text,
    email=any_text | st.emails(),
    phone=any_text,
    organisation=any_text,
    role=any_text,
    help_text=any_text,
    availability=any_text,
    dimensions=st.lists(st.sampled_from([d.value for d in Dimension] + ["x"]), max_size=5),
    preferred_format=st.sampled_from([f.value for f in SessionFormat] + ["", "x"]),
    consent=st.sampled_from(["y", "", "n", "on"]),
)
def test_random_text_in_any_field_never_gives_a_500(
    unlimited_app,
    full_name,
    email,
    phone,
    organisation,
    role,
    help_text,
    availability,
    dimensions,
    preferred_format,
    consent,
):
    app = unlimited_app
    # Examples share the test's app and database: compare with what was there before this one.
    receipts_before = count_rows(app, FormReceipt)
    client = app.test_client()
    fields = hidden_fields(client.get("/").get_data(as_text=True))
    typed = dict(
        full_name=full_name,
        email=email,
        phone=phone,
        organisation=organisation,
        role=role,
        help_text=help_text,
        availability=availability,
        dimensions=dimensions,
        preferred_format=preferred_format,
        consent=consent,
    )
    response = client.post("/", data={**fields, **typed})
    assert response.status_code in (302, 400), response.status_code
    if response.status_code == 400:
        page = parse(response)
        assert "There is a problem" in page.text
        # What was typed comes back (single-line fields as sent, minus surrounding space).
        if "\x00" not in full_name and all(
            c in string.printable or ord(c) > 127 for c in full_name
        ):
            assert (
                page.value("Full name").strip() == full_name.strip()
                or "\r" in full_name
                or "\n" in full_name
                or "\x0b" in full_name
                or "\x0c" in full_name
            )
    else:
        # Stored: a new lead, or recorded on an open lead with the same address.
        assert count_rows(app, FormReceipt) == receipts_before + 1


def test_outbox_rows_flatten_subjects(app_ctx, now):
    settings = replace(current_settings(), coach_notify_emails=("coaches@example.org",))
    register_interest(
        Registration(
            full_name="A\r\nB",
            email="ab@nhs.example",
            organisation="C\nD",
            role="R",
            preferred_format=SessionFormat.PHONE,
            dimensions=[Dimension.NOT_SURE],
            consent=True,
        ),
        form_token="flat",
        now=now,
        settings=settings,
    )
    db.session.commit()
    subjects = [m.subject for m in db.session.scalars(select(OutboxMessage))]
    assert all("\r" not in s and "\n" not in s for s in subjects), subjects

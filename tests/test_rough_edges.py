"""Rough edges of the coach's day (issue 8): each test fails on the code before its fix."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from booking import invite_emails, outbox
from booking.extensions import db
from booking.kinds import Role
from booking.links import choose_url, coach_lead_url, leader_session_url
from booking.models import Coach, Lead, SessionFormat, utcnow
from booking.settings import current_settings
from booking.timefmt import to_local
from booking.workflow import withdraw
from booking.workflow.scheduling import (
    leader_cancel_session,
    leader_request_new_time,
    propose_times,
    record_agreed_time,
)

from .coach_helpers import add_coach, add_lead, sign_in, slot
from .conftest import hidden_fields, parse, submit_registration


def only_lead(app) -> Lead:
    with app.app_context():
        lead = db.session.scalars(select(Lead)).one()
        db.session.expunge(lead)
        return lead


# ----- 1. phone numbers as people type them, shown to coaches in national format ------------


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("07700 900 982", "+447700900982"),  # the hint's own examples (Ofcom drama ranges)
        ("01632 960 001", "+441632960001"),
        ("+44 7700 900982", "+447700900982"),
        ("+44 (0)7700 900 982", "+447700900982"),
        ("07700-900-982", "+447700900982"),
        ("(01632) 960001", "+441632960001"),
        ("0044 7700 900982", "+447700900982"),
        ("+1 212-555-0123", "+12125550123"),  # fictional US range
        ("+33 1 42 68 53 00", "+33142685300"),
    ],
)
def test_phone_numbers_as_people_type_them_are_accepted_and_stored_e164(app, client, typed, stored):
    response = submit_registration(client, phone=typed)
    assert response.status_code == 302, parse(response).text
    assert only_lead(app).phone == stored


@pytest.mark.parametrize("typed", ["12", "0770", "07700 900 982 123 456", "phone me"])
def test_impossible_phone_numbers_are_still_refused(app, client, typed):
    response = submit_registration(client, phone=typed)
    assert response.status_code == 400
    assert "Enter a phone number, like 01632 960 001" in parse(response).text


def test_coach_sees_the_phone_in_national_format_with_a_tel_link(make_app, smtp_server, now):
    app = make_app(**smtp_server.config(), COACH_NOTIFY_EMAILS=["coaches@example.org"])
    client = app.test_client()
    assert submit_registration(client, phone="+44 (0)7700 900 982").status_code == 302
    lead = only_lead(app)

    with app.app_context():
        outbox.deliver_due()
    coach_mail = smtp_server.messages_to("coaches@example.org")[0]
    assert "Phone:         07700 900982" in coach_mail.get_body(("plain",)).get_content()
    assert '<a href="tel:+447700900982">07700 900982</a>' in (
        coach_mail.get_body(("html",)).get_content()
    )

    with app.app_context():
        add_coach(now=now)
    coach_client = app.test_client()
    sign_in(coach_client)
    page = coach_client.get(f"/coach/leads/{lead.id}")
    assert page.status_code == 200
    assert '<a href="tel:+447700900982">07700 900982</a>' in page.get_data(as_text=True)


def test_international_number_is_shown_in_international_format(make_app, smtp_server):
    app = make_app(**smtp_server.config(), COACH_NOTIFY_EMAILS=["coaches@example.org"])
    assert submit_registration(app.test_client(), phone="+33 1 42 68 53 00").status_code == 302
    with app.app_context():
        outbox.deliver_due()
    coach_mail = smtp_server.messages_to("coaches@example.org")[0]
    assert "Phone:         +33 1 42 68 53 00" in coach_mail.get_body(("plain",)).get_content()


# ----- 10. "Not sure yet" with a dimension is refused, not silently dropped -----------------


def test_not_sure_with_a_dimension_is_refused_at_the_form_keeping_the_choices(app, client):
    response = submit_registration(client, dimensions=["not-sure", "practical"])
    assert response.status_code == 400
    page = parse(response)
    message = "Choose the kinds of support you’d like, or ‘Not sure yet’ on its own"
    assert "There is a problem" in page.text
    assert page.text.count(message) == 2  # in the summary and by the field
    assert page.checked("Not sure yet") and page.checked("Practical")
    summary_links = [a["attrs"].get("href") for a in page.all("a") if message in "".join(a["text"])]
    assert summary_links == ["#dimensions-0"]
    with app.app_context():
        assert db.session.scalars(select(Lead)).first() is None


def test_not_sure_on_its_own_is_accepted(app, client):
    assert submit_registration(client, dimensions=["not-sure"]).status_code == 302
    assert only_lead(app).dimensions == "not-sure"


# ----- 3. registering again while the request is open: the promised email is sent ----------


def test_registering_again_sends_the_leader_the_promised_email(make_app, smtp_server):
    app = make_app(**smtp_server.config(), COACH_NOTIFY_EMAILS=["coaches@example.org"])
    assert submit_registration(app.test_client()).status_code == 302
    with app.app_context():
        outbox.deliver_due()
    assert len(smtp_server.messages_to("sian.obrien@nhs.example")) == 1  # the acknowledgement

    client = app.test_client()
    again = submit_registration(client, email="SIAN.OBRIEN@nhs.example", role="Matron")
    assert again.status_code == 302
    thank_you = parse(client.get(again.headers["Location"]))
    assert "We have sent a confirmation" in thank_you.text

    with app.app_context():
        outbox.deliver_due()
    to_leader = smtp_server.messages_to("sian.obrien@nhs.example")
    assert len(to_leader) == 2
    repeat = to_leader[1]
    assert repeat["Subject"] == "We already have your request for personal support"
    text = repeat.get_body(("plain",)).get_content()
    assert "We already have your request" in text
    assert "coach will be in touch" in text
    assert "/withdraw/" in text
    assert "/withdraw/" in repeat.get_body(("html",)).get_content()


# ----- 4. the coaches' repeat-registration email reads like the first notification ----------


def test_repeat_registration_email_to_coaches_shows_details_and_what_changed(make_app, smtp_server):
    app = make_app(**smtp_server.config(), COACH_NOTIFY_EMAILS=["coaches@example.org"])
    assert submit_registration(app.test_client(), phone="").status_code == 302
    again = submit_registration(
        app.test_client(),
        role="Matron",
        phone="07700 900 982",
        dimensions=["compassionate"],
        help_text="Leading a team through a hard winter.",
    )
    assert again.status_code == 302
    with app.app_context():
        outbox.deliver_due()
    coach_mails = smtp_server.messages_to("coaches@example.org")
    assert len(coach_mails) == 2
    repeat = coach_mails[1]
    text = repeat.get_body(("plain",)).get_content()
    html_body = repeat.get_body(("html",)).get_content()
    for body in (text, html_body):
        # No raw data: no Python lists, booleans or field names.
        assert "['" not in body and "consent" not in body and "True" not in body
        assert "full_name" not in body and "preferred_format" not in body
    assert "What changed since their first request:" in text
    assert "- Role: Matron (was: Ward manager)" in text
    assert "- Phone: 07700 900982 (was: not given)" in text
    assert "- Dimensions: Compassionate (was: Compassionate, Practical)" in text
    assert "Organisation" not in text.split("What they sent this time:")[0]  # unchanged
    # What they sent, laid out as in the first notification.
    assert "Role:          Matron" in text
    assert "Dimensions:    Compassionate" in text
    assert "Format:        Video call" in text
    assert '<a href="tel:+447700900982">07700 900982</a>' in html_body


def test_repeat_registration_with_nothing_new_says_so(make_app, smtp_server):
    app = make_app(**smtp_server.config(), COACH_NOTIFY_EMAILS=["coaches@example.org"])
    assert submit_registration(app.test_client()).status_code == 302
    assert submit_registration(app.test_client()).status_code == 302
    with app.app_context():
        outbox.deliver_due()
    repeat = smtp_server.messages_to("coaches@example.org")[1]
    assert "Nothing changed since their first request." in repeat.get_body(("plain",)).get_content()


# ----- 7. the withdraw link, opened again after withdrawing, shows the outcome --------------


def test_withdraw_link_opened_after_withdrawing_shows_the_outcome_not_the_form(
    make_app, smtp_server
):
    app = make_app(**smtp_server.config())
    client = app.test_client()
    assert submit_registration(client).status_code == 302
    with app.app_context():
        outbox.deliver_due()
    text = smtp_server.messages_to("sian.obrien@nhs.example")[0].get_body(("plain",)).get_content()
    match = re.search(r"http://booking\.test(/withdraw/\S+)", text)
    assert match, text
    path = match[1]

    form_page = client.get(path)
    assert "Withdraw my interest" in form_page.get_data(as_text=True)
    done = client.post(path, data={**hidden_fields(form_page.get_data(as_text=True))})
    assert done.status_code == 200

    again = client.get(path)
    assert again.status_code == 200
    page = parse(again)
    assert "You have withdrawn your interest" in page.text
    assert "Withdraw my interest" not in page.text
    assert not page.all("form", method="post")


# ----- 5. new times for a booked session say who asked for them -----------------------------


@pytest.mark.parametrize("leader_asked", [False, True])
def test_new_times_for_a_booked_session_say_what_happened(make_app, smtp_server, leader_asked):
    app = make_app(**smtp_server.config())
    with app.app_context():
        now = utcnow()  # the choose page uses the real clock
        coach = add_coach(now=now)
        lead = add_lead(now)
        session = record_agreed_time(
            lead,
            coach,
            now + timedelta(days=5),
            60,
            SessionFormat.PHONE,
            "01632 960 001",
            now,
            settings=current_settings(),
        )  # agreed by phone
        db.session.commit()
        if leader_asked:
            leader_request_new_time(session, "Mornings next week", now, settings=current_settings())
            db.session.commit()
        new_start = to_local(now + timedelta(days=9), current_settings().zone)
        proposal = propose_times(
            lead,
            coach,
            [slot(new_start.date(), new_start.hour, new_start.minute)],
            now,
            settings=current_settings(),
        )
        db.session.commit()
        choose_path = choose_url(proposal).removeprefix("http://booking.test")
        leader_email = lead.email
        smtp_server.received.clear()
        outbox.deliver_due()

    [mail] = [
        m
        for m in smtp_server.messages_to(leader_email)
        if m["Subject"] == "New times for your coaching session"
    ]
    page = parse(app.test_client().get(choose_path)).text
    bodies = [
        mail.get_body(("plain",)).get_content(),
        mail.get_body(("html",)).get_content(),
        page,
    ]
    for body in bodies:
        if leader_asked:
            assert "You asked for a different time" in body
        else:
            assert "You asked" not in body
            assert "Maya Coach would like to move your" in " ".join(body.split())


# ----- 11. wording of cancellations and the coach's invitation ------------------------------


def _booked(now, n=1):
    coach = add_coach(now=now) if n == 1 else db.session.scalars(select(Coach)).first()
    lead = add_lead(now, n)
    session = record_agreed_time(
        lead,
        coach,
        now + timedelta(days=3 + n),
        60,
        SessionFormat.VIDEO,
        "https://meet.example/x",
        now,
        settings=current_settings(),
    )
    db.session.commit()
    return lead, session


def _bodies(message) -> str:
    return (
        message.get_body(("plain",)).get_content()
        + message.get_body(("html",)).get_content()
        + str(message["Subject"])
    )


def test_the_leaders_own_cancellation_and_withdrawal_are_worded_as_theirs(make_app, smtp_server):
    app = make_app(**smtp_server.config())
    with app.app_context():
        now = utcnow()
        lead, session = _booked(now)
        leader_path = leader_session_url(session).removeprefix("http://booking.test")
        other, _ = _booked(now, 2)
        outbox.deliver_due()
        smtp_server.received.clear()
        leader_cancel_session(
            session, "A clash with a board meeting", now, settings=current_settings()
        )
        withdraw(other, reason="Found help", now=now, settings=current_settings())
        db.session.commit()
        outbox.deliver_due()
        emails = {"leader": lead.email, "other": other.email}

    [own] = smtp_server.messages_to(emails["leader"])
    text = " ".join(_bodies(own).split())
    assert "Cancelled by" not in text
    assert "You have cancelled your coaching session" in text
    assert "What you told us: A clash with a board meeting" in text
    [to_coach] = [
        m for m in smtp_server.messages_to("maya@example.org") if "Leader 1" in m["Subject"]
    ]
    coach_text = " ".join(_bodies(to_coach).split())
    assert "Cancelled by" not in coach_text
    assert "Leader 1 has cancelled your coaching session with them" in coach_text
    assert "Their reason: A clash with a board meeting" in coach_text

    [withdrawn] = smtp_server.messages_to(emails["other"])
    withdrawn_text = " ".join(_bodies(withdrawn).split())
    assert "The leader withdrew their interest" not in withdrawn_text
    assert "You have withdrawn your interest, so your coaching session" in withdrawn_text

    # The leader's session page, opened afterwards, does not quote "Cancelled by …" either.
    page = parse(app.test_client().get(leader_path)).text
    assert "This session was cancelled" in page and "Cancelled by" not in page
    assert "was cancelled by you (you told us: “A clash with a board meeting”)" in page


def test_the_coachs_invitation_and_reminder_point_to_the_lead_page_not_a_reply(
    make_app, smtp_server
):
    app = make_app(**smtp_server.config())
    with app.app_context():
        now = utcnow()
        lead, session = _booked(now)
        lead_url = coach_lead_url(lead.id)
        outbox.deliver_due()
        reminder_draft = invite_emails.reminder(session, Role.COACH, settings=current_settings())
    [invitation] = [
        m
        for m in smtp_server.messages_to("maya@example.org")
        if m["Subject"].startswith("Invitation:")
    ]
    for text in (
        " ".join(_bodies(invitation).split()),
        " ".join((reminder_draft.text + reminder_draft.html).split()),
    ):
        assert "reply to this email" not in text.lower()
        assert "Move or cancel the session on" in text
        assert lead_url in text

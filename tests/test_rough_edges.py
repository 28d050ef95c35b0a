"""Rough edges of the coach's day (issue 8): each test fails on the code before its fix."""

from __future__ import annotations

import re
from datetime import timedelta
from types import SimpleNamespace

import pytest
from sqlalchemy import select

from booking import invite_emails, outbox
from booking.emails import (
    coach_digest,
    coach_lead_assigned,
    coach_password_reset,
    coach_session_cancelled,
    coach_set_password,
    leader_book_link,
    leader_follow_up,
    leader_message,
    leader_session_actions,
)
from booking.extensions import db
from booking.kinds import MailKind, Role
from booking.links import choose_url, coach_lead_url, leader_session_url
from booking.models import (
    Coach,
    CoachingSession,
    Lead,
    OutboxMessage,
    PartStat,
    SessionFormat,
    utcnow,
)
from booking.settings import current_settings
from booking.timefmt import to_local
from booking.workflow import withdraw
from booking.workflow.responses import record_partstat
from booking.workflow.scheduling import (
    agree_time,
    cancel_session,
    leader_cancel_session,
    leader_request_new_time,
    none_suit,
    propose_times,
    record_agreed_time,
    reschedule_session,
)

from .coach_helpers import add_coach, add_lead, csrf_token, sign_in, slot
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


# ----- 8. propose times: every problem at once, each at its field, naming the time ----------


def _propose_rows(*rows: dict[str, str]) -> dict[str, str]:
    data: dict[str, str] = {}
    for i in range(5):
        row = rows[i] if i < len(rows) else {}
        for name, default in (
            ("day", ""),
            ("start", ""),
            ("duration", "60"),
            ("format", "video"),
            ("detail", ""),
        ):
            data[f"propose-slots-{i}-{name}"] = row.get(name, default)
    return data


def _summary_links(page) -> dict[str, str]:
    """Error summary: link text -> the id it points at."""
    summary = [e for e in page.all("div") if e["attrs"].get("data-module") == "error-summary"]
    assert len(summary) == 1, "one error summary"
    return {
        " ".join("".join(a["text"]).split()): a["attrs"]["href"].removeprefix("#")
        for a in page.all("a")
        if a["attrs"].get("href", "").startswith("#propose-slots")
    }


def test_propose_times_reports_every_form_problem_at_once_naming_the_time(app, now):
    with app.app_context():
        add_coach(now=now)
        lead_id = add_lead(now).id
    client = app.test_client()
    sign_in(client)
    page_path = f"/coach/leads/{lead_id}"
    day = (utcnow() + timedelta(days=10)).date().isoformat()
    response = client.post(
        f"{page_path}/propose",
        data={
            "csrf_token": csrf_token(client, page_path),
            **_propose_rows(
                {"day": day, "start": "09:00", "detail": "https://meet.example/a"},
                {"day": day, "duration": "5", "detail": "https://meet.example/b"},
                {"start": "14:00", "detail": "https://meet.example/c"},
            ),
        },
    )
    assert response.status_code == 400
    page = parse(response)
    assert _summary_links(page) == {
        "Time 2: enter the start time": "propose-slots-1-start",
        "Time 2: length must be between 15 and 480 minutes": "propose-slots-1-duration",
        "Time 3: enter the date": "propose-slots-2-day",
    }
    # Marked at each field, described by its message, what was typed kept.
    for field_id, message in [
        ("propose-slots-1-start", "Time 2: enter the start time"),
        ("propose-slots-1-duration", "Time 2: length must be between 15 and 480 minutes"),
        ("propose-slots-2-day", "Time 3: enter the date"),
    ]:
        control = page.by_id(field_id)
        assert f"{field_id}-error" in control["attrs"]["aria-describedby"].split()
        assert message in "".join(page.by_id(f"{field_id}-error")["text"])
    assert page.by_id("propose-slots-1-duration")["attrs"]["value"] == "5"
    assert page.by_id("propose-slots-2-start")["attrs"]["value"] == "14:00"
    assert page.by_id("propose-slots-0-day")["attrs"]["value"] == day
    # Times 3 to 5 are folded away, but not when one of them holds a problem.
    [more] = [d for d in page.all("details") if d["attrs"].get("class") == "more-times"]
    assert "open" in more["attrs"]


def test_propose_times_workflow_problems_come_back_at_their_fields_all_at_once(app, now):
    """The workflow's own checks (a clash, a time in the past, a missing joining link) name
    the time and the field they concern, every one of them, not only the first."""
    with app.app_context():
        now = utcnow()
        coach = add_coach(now=now)
        other = add_lead(now, 2)
        booked_at = to_local(now + timedelta(days=6), current_settings().zone).replace(
            minute=0, second=0, microsecond=0
        )
        record_agreed_time(
            other,
            coach,
            booked_at,
            60,
            SessionFormat.PHONE,
            "01632 960 001",
            now,
            settings=current_settings(),
        )
        db.session.commit()
        lead_id = add_lead(now).id
    client = app.test_client()
    sign_in(client)
    page_path = f"/coach/leads/{lead_id}"
    past = (utcnow() - timedelta(days=2)).date().isoformat()
    response = client.post(
        f"{page_path}/propose",
        data={
            "csrf_token": csrf_token(client, page_path),
            **_propose_rows(
                {"day": past, "start": "09:00", "detail": "https://meet.example/a"},
                {"day": booked_at.date().isoformat(), "start": booked_at.strftime("%H:%M")},
                {
                    "day": booked_at.date().isoformat(),
                    "start": "23:00" if booked_at.hour < 20 else "06:00",
                    "detail": "https://meet.example/c",
                },
            ),
        },
    )
    assert response.status_code == 409
    links = _summary_links(parse(response))
    by_field = {target: text for text, target in links.items()}
    assert set(by_field) == {
        "propose-slots-0-day",
        "propose-slots-1-start",
        "propose-slots-1-detail",
    }, links
    assert by_field["propose-slots-0-day"].startswith("Time 1 (")
    assert "is in the past" in by_field["propose-slots-0-day"]
    assert by_field["propose-slots-1-detail"] == (
        "Time 2: give the joining link for the video call."
    )
    assert "Time 2 (" in by_field["propose-slots-1-start"]
    assert "clashes with Maya Coach's session with Leader 2" in by_field["propose-slots-1-start"]
    with app.app_context():
        assert db.session.get(Lead, lead_id).status.value == "new"  # nothing proposed


def test_propose_times_rows_left_blank_in_between_keep_their_numbers(app, now):
    with app.app_context():
        add_coach(now=now)
        lead_id = add_lead(now).id
    client = app.test_client()
    sign_in(client)
    page_path = f"/coach/leads/{lead_id}"
    day = (utcnow() + timedelta(days=10)).date().isoformat()
    response = client.post(
        f"{page_path}/propose",
        data={
            "csrf_token": csrf_token(client, page_path),
            **_propose_rows(
                {"day": day, "start": "09:00", "detail": "https://meet.example/a"},
                {},
                {"day": day, "start": "11:00", "detail": "not a link"},
            ),
        },
    )
    assert response.status_code == 409
    assert _summary_links(parse(response)) == {
        "Time 3: give the video call's joining link as a web address starting with https://": (
            "propose-slots-2-detail"
        )
    }


# ----- 11. the lead page words a cancellation by what happened; subjects are single-spaced --


def test_lead_page_words_the_leaders_cancellation_and_quotes_it_once(app):
    with app.app_context():
        now = utcnow()
        lead, session = _booked(now)
        leader_cancel_session(
            session, "A clash with a board meeting", now, settings=current_settings()
        )
        db.session.commit()
        lead_id = lead.id
    client = app.test_client()
    sign_in(client)
    text = parse(client.get(f"/coach/leads/{lead_id}")).text
    assert "Cancelled by" not in text
    assert "Leader 1 (the leader) cancelled it: “A clash with a board meeting”" in text
    assert "Leader 1 cancelled the session on" in text  # the history
    # Once on the session and once in the history; not again as a status reason.
    assert text.count("A clash with a board meeting") == 2


def test_lead_page_words_a_withdrawal_and_a_coach_cancellation(app):
    with app.app_context():
        now = utcnow()
        lead, _ = _booked(now)
        withdraw(lead, reason="", now=now, settings=current_settings())
        other, session = _booked(now, 2)
        coach = db.session.scalars(select(Coach)).first()
        cancel_session(session, coach, "The coach is unwell", now, settings=current_settings())
        db.session.commit()
        ids = lead.id, other.id
    client = app.test_client()
    sign_in(client)
    withdrawn = parse(client.get(f"/coach/leads/{ids[0]}")).text
    assert "Leader 1 (the leader) withdrew their interest" in withdrawn
    assert "The leader withdrew their interest" not in withdrawn
    cancelled = parse(client.get(f"/coach/leads/{ids[1]}")).text
    assert "Maya Coach cancelled it: “The coach is unwell”" in cancelled
    assert cancelled.count("The coach is unwell") == 2  # the session, and the history once


def test_no_email_subject_has_a_double_or_stray_space(make_app):
    """Every kind of email, built from data as people type it (a double space in a name)."""
    app = make_app(COACH_NOTIFY_EMAILS=["coaches@example.org"])
    client = app.test_client()
    assert submit_registration(client, full_name="Siân  O'Brien ").status_code == 302
    assert submit_registration(client, full_name="Siân  O'Brien", role="Matron").status_code == 302
    with app.app_context():
        now = utcnow()
        settings = current_settings()
        coach = add_coach(name="Maya  Coach", now=now)
        lead = db.session.scalars(select(Lead)).one()
        lead.assigned_coach = coach
        start = to_local(now + timedelta(days=3), settings.zone)
        proposal = propose_times(
            lead, coach, [slot(start.date(), start.hour)], now, settings=settings
        )
        agree_time(proposal.times[0], now, settings=settings)
        session = db.session.scalars(select(CoachingSession)).one()
        leader_request_new_time(session, "Mornings", now, settings=settings)
        later = to_local(now + timedelta(days=4), settings.zone)
        moved = propose_times(lead, coach, [slot(later.date(), later.hour)], now, settings=settings)
        none_suit(moved, "Afternoons", now, settings=settings)
        record_partstat(
            session, Role.LEADER, PartStat.DECLINED, now, source="email link", settings=settings
        )
        reschedule_session(session, coach, now + timedelta(days=5), 60, now, settings=settings)
        cancel_session(session, coach, "Unwell", now, settings=settings)
        outbox.enqueue(coach_password_reset(coach, settings=settings), now=now)
        outbox.enqueue(coach_set_password(coach, coach, settings=settings), now=now)
        outbox.enqueue(
            coach_lead_assigned(lead, [coach.email], coach.name, settings=settings), now=now
        )
        outbox.enqueue(leader_message(lead, coach, "A  note", "Hello", settings=settings), now=now)
        outbox.enqueue(
            coach_session_cancelled(session, [coach.email], "Unwell", settings=settings), now=now
        )
        outbox.enqueue(leader_session_actions(session, "Act", settings=settings), now=now)
        outbox.enqueue(leader_book_link(lead, settings=settings), now=now)
        follow_up = SimpleNamespace(lead=lead, id=1)
        for reminder in (False, True):
            draft = leader_follow_up(follow_up, reminder=reminder, settings=settings)
            outbox.enqueue(draft, now=now)
        notice = SimpleNamespace(lead=lead, at=now, summary="Asked  for a new time")
        outbox.enqueue(coach_digest(coach, [notice], now.date(), settings=settings), now=now)
        withdraw(lead, reason="", now=now, settings=settings)
        db.session.commit()
        # (A registration's emails are written when sent: `bodies` writes them as they would be.)
        rows = [
            (m.kind, m.subject, outbox.bodies(m, settings)[1])
            for m in db.session.scalars(select(OutboxMessage))
        ]
    # Every kind of email the service sends is among them.
    assert {kind for kind, _, _ in rows} == {k.value for k in MailKind}
    # The Subject header, and the subject as the HTML part's title states it.
    subjects = [subject for _, subject, _ in rows] + [
        re.search(r"<title>(.*?)</title>", html, re.S)[1] for _, _, html in rows
    ]
    assert any("Siân O'Brien" in s for s in subjects) and any("Maya Coach" in s for s in subjects)
    for subject in subjects:
        assert "  " not in subject and subject == subject.strip(), repr(subject)


# ----- 13. a reference number the leader can quote, and coaches can find ---------------------


def test_reference_number_on_the_thank_you_page_in_the_email_and_found_by_coaches(
    make_app, smtp_server
):
    app = make_app(**smtp_server.config())
    client = app.test_client()
    registered = submit_registration(client)
    thank_you = parse(client.get(registered.headers["Location"]))
    lead = only_lead(app)
    reference = f"PS-{lead.id:06d}"
    assert thank_you.by_id("reference") is not None
    assert "".join(thank_you.by_id("reference")["text"]) == reference
    with app.app_context():
        outbox.deliver_due()
    [ack] = smtp_server.messages_to("sian.obrien@nhs.example")
    assert f"Your reference number is {reference}" in ack.get_body(("plain",)).get_content()
    assert reference in ack.get_body(("html",)).get_content()

    with app.app_context():
        add_coach(now=utcnow())
        add_lead(utcnow(), 2)  # another lead, not found by the reference
    coach_client = app.test_client()
    sign_in(coach_client)
    assert reference in parse(coach_client.get(f"/coach/leads/{lead.id}")).text
    for typed in (reference, reference.lower(), f"PS {lead.id}", f" ps-{lead.id} "):
        found = parse(coach_client.get("/coach/leads", query_string={"q": typed}))
        assert "Siân O'Brien-Smith" in found.text, typed
        assert "Leader 2" not in found.text, typed


def test_long_text_boxes_state_their_limit_without_javascript(app, client):
    page = parse(client.get("/"))
    box = page.by_id("help_text")
    assert box["attrs"]["maxlength"] == "2000"
    assert "help_text-info" in box["attrs"]["aria-describedby"].split()
    assert "".join(page.by_id("help_text-info")["text"]) == "You can enter up to 2,000 characters"


# ----- 14. the lead page folds what is not needed now and highlights the chosen time --------


def _details_open(page, summary_text: str) -> bool:
    """Whether the <details> whose <summary> starts with this text is open."""
    opened = []
    for element in page.all("details"):
        summaries = [
            s
            for s in page.all("summary")
            if "".join(s["text"]).strip().startswith(summary_text)
            and "".join(s["text"]) in "".join(element["text"])
        ]
        if summaries:
            opened.append("open" in element["attrs"])
    assert opened, (summary_text, ["".join(s["text"]).strip() for s in page.all("summary")])
    return opened[-1]


def test_lead_page_unfolds_proposing_when_it_is_next_and_highlights_the_chosen_time(app):
    with app.app_context():
        now = utcnow()
        coach = add_coach(now=now)
        new_lead = add_lead(now, 1)
        waiting = add_lead(now, 2)
        day = to_local(now + timedelta(days=4), current_settings().zone).date()
        propose_times(waiting, coach, [slot(day, 10)], now, settings=current_settings())
        chosen_lead = add_lead(now, 3)
        proposal = propose_times(
            chosen_lead,
            coach,
            [slot(day, 12), slot(day, 13)],  # fixed hours: the test runs at any time of day
            now,
            settings=current_settings(),
        )
        picked = proposal.times[1]
        agree_time(picked, now, settings=current_settings())
        db.session.commit()
        ids = new_lead.id, waiting.id, chosen_lead.id, picked.id
    client = app.test_client()
    sign_in(client)
    first = parse(client.get(f"/coach/leads/{ids[0]}"))
    assert _details_open(first, "Propose times")  # nothing else to do yet
    assert not _details_open(first, "Change the status")
    assert not _details_open(first, "2 changes") and not _details_open(first, "2 emails")
    second = parse(client.get(f"/coach/leads/{ids[1]}"))
    assert not _details_open(second, "Propose times")  # waiting for the leader
    third = parse(client.get(f"/coach/leads/{ids[2]}"))
    chosen = third.by_id(f"chosen-time-{ids[3]}")
    assert chosen is not None and "proposal__time--chosen" in chosen["attrs"]["class"]
    assert "Chosen" in "".join(chosen["text"])
    assert len([e for e in third.all("li") if "Chosen" in "".join(e["text"])]) == 1


def test_history_unfolds_once_the_lead_is_finished(app):
    with app.app_context():
        now = utcnow()
        coach = add_coach(now=now)
        lead = add_lead(now)
        from booking.models import LeadStatus
        from booking.workflow.leads import change_status

        change_status(
            lead,
            LeadStatus.NOT_SUITABLE,
            coach=coach,
            reason="",
            now=now,
            settings=current_settings(),
        )
        db.session.commit()
        lead_id = lead.id
    client = app.test_client()
    sign_in(client)
    page = parse(client.get(f"/coach/leads/{lead_id}"))
    assert _details_open(page, "3 changes")

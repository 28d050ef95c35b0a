"""The coach area through the test client (CSRF on): signing in and out, lockout, the lead list,
and each action on a lead's page."""

from __future__ import annotations

import re
import time
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import func, insert, select

from booking.extensions import db
from booking.models import (
    Coach,
    CoachingSession,
    Lead,
    LeadStatus,
    LoginFailure,
    OutboxMessage,
    Proposal,
    SessionFormat,
    SessionStatus,
    utcnow,
)
from booking.settings import current_settings, set_clock
from booking.workflow.scheduling import propose_times, record_agreed_time

from .coach_helpers import (
    PASSWORD,
    add_coach,
    add_lead,
    count_statements,
    csrf_token,
    post,
    sign_in,
    slot,
)
from .conftest import parse

SOON = date.today() + timedelta(days=9)


@pytest.fixture
def coach(app):
    with app.app_context():
        coach = add_coach(now=utcnow())
        return coach.id


@pytest.fixture
def signed_in(client, coach):
    response = sign_in(client)
    assert response.status_code == 302
    return client


def make_lead(app, n: int = 1, **overrides) -> int:
    with app.app_context():
        return add_lead(utcnow(), n, **overrides).id


# ----- anonymous ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "/coach/"),
        ("get", "/coach/leads"),
        ("get", "/coach/leads/1"),
        ("get", "/coach/leads?q=Leader"),
        ("post", "/coach/leads/1/notes"),
        ("post", "/coach/leads/1/status"),
        ("post", "/coach/sessions/1/cancel"),
    ],
)
def test_anonymous_is_sent_to_sign_in_and_sees_no_personal_data(app, client, method, path):
    make_lead(app, full_name="Private Person", email="private@nhs.example")
    # A CSRF token so the POSTs reach the sign-in check rather than the CSRF check.
    token = csrf_token(client)
    response = getattr(client, method)(path, data={"csrf_token": token, "note-body": "x"})
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/coach/sign-in")
    body = response.get_data(as_text=True) + client.get(response.headers["Location"]).get_data(
        as_text=True
    )
    assert "Private Person" not in body and "private@nhs.example" not in body
    assert "Sign in to use the coach area." in body


def test_post_without_csrf_token_is_refused(app, signed_in):
    lead_id = make_lead(app)
    response = signed_in.post(f"/coach/leads/{lead_id}/notes", data={"note-body": "hello"})
    assert response.status_code == 400
    with app.app_context():
        assert db.session.get(Lead, lead_id).notes == []


# ----- signing in and out --------------------------------------------------------------------


def test_sign_in_page_has_labelled_fields(client):
    page = parse(client.get("/coach/sign-in"))
    assert page.field("Email address")["attrs"]["type"] == "email"
    assert page.field("Password")["attrs"]["type"] == "password"


def test_same_message_for_unknown_email_and_wrong_password(client, coach):
    token = csrf_token(client)
    unknown = client.post(
        "/coach/sign-in", data={"csrf_token": token, "email": "x@example.org", "password": PASSWORD}
    )
    wrong = client.post(
        "/coach/sign-in",
        data={"csrf_token": token, "email": "maya@example.org", "password": "not the password"},
    )
    assert unknown.status_code == wrong.status_code == 400

    def problem(response):
        return re.search(
            r"There is a problem</h2>\s*<p>(.*?)</p>", response.get_data(as_text=True), re.S
        ).group(1)

    assert problem(unknown) == problem(wrong)
    assert "email address or password is not right" in problem(wrong)
    assert "not the password" not in wrong.get_data(as_text=True)


def test_sign_in_starts_a_new_session_and_sign_out_ends_it(client, coach):
    csrf_token(client)
    with client.session_transaction() as session:
        session["planted"] = "by someone else"
    before = client.get_cookie("session").value
    response = sign_in(client)
    assert response.headers["Location"] == "/coach/"  # the coach's home page
    with client.session_transaction() as session:
        assert "planted" not in session
        assert session["_user_id"] == str(coach)
    assert client.get_cookie("session").value != before
    assert client.get("/coach/").status_code == 200

    assert client.get("/coach/sign-out").status_code == 405  # signing out is a POST
    response = post(client, "/coach/sign-out", {})
    assert response.headers["Location"] == "/coach/sign-in"
    assert "You have signed out." in client.get("/coach/sign-in").get_data(as_text=True)
    assert client.get("/coach/").status_code == 302


def test_session_cookie_flags(make_app, client, coach):
    response = sign_in(client)
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" not in cookie
    production = make_app(
        APP_ENV="production",
        SECRET_KEY="s" * 48,
        PRIVACY_CONTROLLER_NAME="Coaching Ltd",
        PRIVACY_CONTROLLER_CONTACT="privacy@coaching.example",
    )
    assert production.config["SESSION_COOKIE_SECURE"] is True


def test_coach_pages_are_not_cached(signed_in):
    assert signed_in.get("/coach/").headers["Cache-Control"] == "no-store"


@pytest.mark.parametrize(
    ("key", "age", "message"),
    [
        ("last_seen", 61 * 60, "not used for a while"),
        ("signed_in_at", 12 * 3600 + 5, "signed in a long time ago"),
    ],
)
def test_idle_and_absolute_timeouts(signed_in, key, age, message):
    with signed_in.session_transaction() as session:
        session[key] = time.time() - age
    response = signed_in.get("/coach/leads")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/coach/sign-in")
    assert message in signed_in.get(response.headers["Location"]).get_data(as_text=True)
    assert signed_in.get("/coach/").status_code == 302  # the session is gone, not just refused


def test_activity_keeps_the_session_alive(signed_in):
    with signed_in.session_transaction() as session:
        session["last_seen"] = time.time() - 50 * 60
    assert signed_in.get("/coach/").status_code == 200
    with signed_in.session_transaction() as session:
        assert time.time() - session["last_seen"] < 5


def test_deactivated_coach_is_signed_out_at_once(app, signed_in):
    app.test_cli_runner().invoke(args=["coach", "deactivate", "maya@example.org"])
    assert signed_in.get("/coach/").status_code == 302


def test_next_goes_back_to_the_page_asked_for_but_never_off_site(app, client, coach):
    lead_id = make_lead(app)
    first = client.get(f"/coach/leads/{lead_id}")
    assert first.headers["Location"] == f"/coach/sign-in?next=/coach/leads/{lead_id}"
    page = client.get(first.headers["Location"]).get_data(as_text=True)
    next_value = re.search(r'name="next"[^>]*value="([^"]*)"', page) or re.search(
        r'value="([^"]*)"[^>]*name="next"', page
    )
    token = csrf_token(client)
    response = client.post(
        "/coach/sign-in",
        data={
            "csrf_token": token,
            "email": "maya@example.org",
            "password": PASSWORD,
            "next": next_value.group(1),
        },
    )
    assert response.headers["Location"] == f"/coach/leads/{lead_id}"
    post(client, "/coach/sign-out", {})
    for evil in [
        "//evil.example/coach/",
        "https://evil.example/coach/",
        "/\\evil.example",
        "/elsewhere",
    ]:
        response = client.post(
            "/coach/sign-in",
            data={
                "csrf_token": csrf_token(client),
                "email": "maya@example.org",
                "password": PASSWORD,
                "next": evil,
            },
        )
        assert response.headers["Location"] == "/coach/", evil
        post(client, "/coach/sign-out", {})


def test_repeated_failures_are_slowed_then_refused_with_a_clear_429(app, client, coach):
    def attempt(password: str = "wrong password"):
        return client.post(
            "/coach/sign-in",
            data={
                "csrf_token": csrf_token(client),
                "email": "maya@example.org",
                "password": password,
            },
        )

    assert [attempt().status_code for _ in range(3)] == [400, 400, 400]
    slowed = attempt(PASSWORD)
    assert slowed.status_code == 429
    assert "wait" in parse(slowed).text and int(slowed.headers["Retry-After"]) <= 10
    # Two more failures a while ago make five in the window: locked, right password or not.
    with app.app_context():
        earlier = utcnow() - timedelta(minutes=1)
        for _ in range(2):
            db.session.add(LoginFailure(email="maya@example.org", address="10.0.0.9", at=earlier))
        db.session.commit()
    locked = attempt(PASSWORD)
    assert locked.status_code == 429
    text = parse(locked).text
    assert "Too many sign-in attempts" in text and "15 minutes" in text
    assert 800 < int(locked.headers["Retry-After"]) <= 900
    assert client.get("/coach/").status_code == 302


def test_password_reset_by_email_works_once(app, client, coach):
    page = client.get("/coach/password-reset")
    assert parse(page).field("Email address")
    for email in ["nobody@example.org", "maya@example.org"]:
        response = client.post(
            "/coach/password-reset",
            data={"csrf_token": csrf_token(client, "/coach/password-reset"), "email": email},
        )
        assert response.status_code == 200
        assert "If that address belongs to a coach account" in parse(response).text
    with app.app_context():
        [mail] = db.session.scalars(select(OutboxMessage)).all()
        assert mail.recipients == ["maya@example.org"]
        link = re.search(r"http://booking\.test(/coach/password-reset/\S+)", mail.body_text)[1]
    form_page = client.get(link)
    assert form_page.status_code == 200
    mismatch = client.post(
        link,
        data={
            "csrf_token": csrf_token(client, link),
            "password": "a new password",
            "confirm": "different",
        },
    )
    assert mismatch.status_code == 400
    assert "The two passwords are not the same" in parse(mismatch).text
    done = client.post(
        link,
        data={
            "csrf_token": csrf_token(client, link),
            "password": "a new password",
            "confirm": "a new password",
        },
    )
    assert done.headers["Location"] == "/coach/sign-in"
    assert sign_in(client, password="a new password").headers["Location"] == "/coach/"
    again = client.get(link)
    assert again.status_code == 409
    assert "already been used" in parse(again).text


def test_password_change_ends_other_sessions(app, client, coach):
    other = app.test_client()
    sign_in(client)
    sign_in(other)
    assert other.get("/coach/").status_code == 200
    with app.app_context():
        from booking.workflow.accounts import reset_password

        reset_password(
            db.session.get(Coach, coach),
            "another new password",
            now=utcnow(),
            settings=current_settings(),
        )
        db.session.commit()
    response = other.get("/coach/")
    assert response.status_code == 302
    assert "your password changed" in other.get(response.headers["Location"]).get_data(as_text=True)


def test_tampered_reset_link_is_a_friendly_404(client, coach):
    response = client.get("/coach/password-reset/not-a-real-token")
    assert response.status_code == 404
    assert "This link is not valid" in parse(response).text


# ----- the lead list -------------------------------------------------------------------------


def bulk_leads(app, rows: list[dict]) -> None:
    base = dict(
        phone=None,
        role="Manager",
        help_text="",
        preferred_format=SessionFormat.PHONE,
        availability="",
        status=LeadStatus.NEW,
        status_reason="",
        dimensions="",
    )
    with app.app_context():
        db.session.execute(
            insert(Lead),
            [
                {**base, "updated_at": r["created_at"], "consent_at": r["created_at"], **r}
                for r in rows
            ],
        )
        db.session.commit()


def names(response) -> list[str]:
    return re.findall(r'<a href="/coach/leads/\d+">([^<]+)</a>', response.get_data(as_text=True))


def test_list_is_newest_first_with_age_and_overdue_flag(app, signed_in):
    now = utcnow()
    bulk_leads(
        app,
        [
            dict(
                full_name="Old Lead",
                email="old@x.example",
                organisation="A",
                created_at=now - timedelta(days=10),
            ),
            dict(
                full_name="Fresh Lead",
                email="fresh@x.example",
                organisation="B",
                created_at=now - timedelta(hours=3),
            ),
            dict(
                full_name="Old But Contacted",
                email="oc@x.example",
                organisation="C",
                created_at=now - timedelta(days=9),
                status=LeadStatus.CONTACTED,
                first_contacted_at=now - timedelta(days=8),
            ),
        ],
    )
    response = signed_in.get("/coach/leads?status=&coach=")
    assert names(response) == ["Fresh Lead", "Old But Contacted", "Old Lead"]
    text = parse(response).text
    assert "3 hours ago" in text and "1 week ago" in text
    assert text.count("Not yet contacted – overdue") == 1


def test_list_filters_and_search(app, signed_in, coach):
    now = utcnow()
    with app.app_context():
        sam = add_coach("sam@example.org", "Sam Coach", now=now).id
    rows = [
        dict(
            full_name="Ann Compassion",
            email="ann@trust.example",
            organisation="North Trust",
            dimensions="compassionate",
            assigned_coach_id=coach,
        ),
        dict(
            full_name="Bob Practical",
            email="bob@care.example",
            organisation="South Care",
            dimensions="compassionate,practical",
            assigned_coach_id=sam,
            status=LeadStatus.CONTACTED,
        ),
        dict(
            full_name="Cat Purpose",
            email="cat@trust.example",
            organisation="100% Health",
            dimensions="purpose-led",
            status=LeadStatus.WITHDRAWN,
        ),
    ]
    bulk_leads(app, [{**r, "created_at": now - timedelta(minutes=i)} for i, r in enumerate(rows)])

    def listed(query: str) -> list[str]:
        return names(signed_in.get("/coach/leads?" + query))

    assert listed("status=&coach=") == ["Ann Compassion", "Bob Practical", "Cat Purpose"]
    assert listed("") == ["Ann Compassion"]  # the default view: my open leads
    assert listed("status=contacted") == ["Bob Practical"]
    assert listed("status=open") == ["Ann Compassion", "Bob Practical"]
    assert listed("coach=me") == ["Ann Compassion"]
    assert listed(f"coach={sam}") == ["Bob Practical"]
    assert listed("coach=none") == ["Cat Purpose"]
    assert listed("dimension=practical") == ["Bob Practical"]
    assert listed("dimension=compassionate") == ["Ann Compassion", "Bob Practical"]
    assert listed("q=bob") == ["Bob Practical"]  # name, any case
    assert listed("q=TRUST.example") == ["Ann Compassion", "Cat Purpose"]  # email
    assert listed("q=south") == ["Bob Practical"]  # organisation
    assert listed("q=100%25") == ["Cat Purpose"]  # % is a character, not a wildcard
    assert listed("q=%25") == ["Cat Purpose"]
    assert listed("q=_") == []
    assert listed("q=bo") == ["Bob Practical"]  # too short for the trigram index: a scan
    assert listed("q=b%22ob") == []  # a quote is a character too, never search syntax
    assert listed("q=Practical+South") == []  # across two columns: not a substring of either
    assert listed("q=trust&dimension=compassionate&coach=me") == ["Ann Compassion"]
    assert listed("status=bogus&coach=x&dimension=y&sort=z&after=1") == listed("status=")
    no_match = signed_in.get("/coach/leads?q=zzz")
    assert "No leads match these filters." in parse(no_match).text


def test_search_follows_changes_and_deletions(app, signed_in):
    """SQLite answers searches from an FTS5 index kept by triggers: a changed name (an erasure
    writes over the name and email) and a deleted lead must not be found by their old text."""
    now = utcnow()
    bulk_leads(
        app,
        [
            dict(
                full_name="Dana Original",
                email="dana@old.example",
                organisation="A",
                created_at=now,
            ),
            dict(full_name="Eli Gone", email="eli@gone.example", organisation="B", created_at=now),
        ],
    )
    with app.app_context():
        dana = db.session.scalar(select(Lead).where(Lead.full_name == "Dana Original"))
        dana.full_name, dana.email = "Dana Renamed", "dana@new.example"
        db.session.delete(db.session.scalar(select(Lead).where(Lead.full_name == "Eli Gone")))
        db.session.commit()

    def listed(query: str) -> list[str]:
        return names(signed_in.get("/coach/leads?q=" + query))

    assert listed("Original") == []
    assert listed("old.example") == []
    assert listed("Renamed") == ["Dana Renamed"]
    assert listed("new.example") == ["Dana Renamed"]
    assert listed("Gone") == []


def test_list_pages_fifty_at_a_time(app, signed_in):
    now = utcnow()
    bulk_leads(
        app,
        [
            dict(
                full_name=f"Lead {i:03}",
                email=f"l{i}@x.example",
                organisation="O",
                created_at=now - timedelta(minutes=i),
            )
            for i in range(120)
        ],
    )

    def next_link(response) -> str:
        found = re.search(r'rel="next" href="([^"]+)"', response.get_data(as_text=True))
        return found.group(1).replace("&amp;", "&") if found else ""

    first = signed_in.get("/coach/leads?status=")
    assert names(first) == [f"Lead {i:03}" for i in range(50)]
    second = signed_in.get(next_link(first))
    assert names(second) == [f"Lead {i:03}" for i in range(50, 100)]
    third = signed_in.get(next_link(second))
    assert names(third) == [f"Lead {i:03}" for i in range(100, 120)]
    assert 'rel="next"' not in third.get_data(as_text=True)
    assert 'rel="prev"' in third.get_data(as_text=True)
    filtered = signed_in.get("/coach/leads?q=Lead")
    assert next_link(filtered).startswith("/coach/leads?status=&coach=&q=Lead&after=")


def test_list_query_count_does_not_grow_with_rows(app, signed_in, coach):
    """No N+1: the coach of each row comes in the same query."""
    now = utcnow()

    def statements_for_list() -> int:
        return count_statements(app, signed_in, "/coach/leads?status=")

    bulk_leads(
        app,
        [
            dict(
                full_name="One",
                email="1@x.example",
                organisation="O",
                assigned_coach_id=coach,
                created_at=now,
            )
        ],
    )
    few = statements_for_list()
    bulk_leads(
        app,
        [
            dict(
                full_name=f"L{i}",
                email=f"{i}@y.example",
                organisation="O",
                assigned_coach_id=coach,
                created_at=now - timedelta(minutes=i),
            )
            for i in range(40)
        ],
    )
    assert statements_for_list() == few


# ----- a lead's page and the coach's actions ---------------------------------------------------


def test_lead_page_shows_what_they_entered_and_the_history(app, signed_in):
    lead_id = make_lead(
        app,
        full_name="Siân O'Brien",
        phone="+447911123456",
        help_text="<b>Leading</b> through winter",
        availability="Tuesdays",
    )
    response = signed_in.get(f"/coach/leads/{lead_id}")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    text = parse(response).text
    for expected in [
        "Siân O'Brien",
        "leader1@nhs.example",
        "07911 123456",  # national format, a tel: link to +447911123456
        "Riverside Hospitals",
        "Ward manager",
        "Compassionate",
        "<b>Leading</b> through winter",
        "Tuesdays",
        "Video call",
        "Registered interest",
        "Assigned to Maya Coach (round-robin)",
    ]:
        assert expected in text, expected
    assert "<b>Leading</b>" not in html  # escaped
    assert 'href="tel:+447911123456"' in html


def test_unknown_lead_is_a_404(signed_in):
    assert signed_in.get("/coach/leads/999999").status_code == 404


def test_move_to_contacted_and_a_refused_move(app, signed_in):
    lead_id = make_lead(app)
    page = f"/coach/leads/{lead_id}"
    response = post(
        signed_in, f"{page}/status", {"status-to": "contacted", "status-reason": "Phoned"}, page
    )
    assert response.status_code == 302
    assert "Moved to “Contacted”." in signed_in.get(page).get_data(as_text=True)
    refused = post(signed_in, f"{page}/status", {"status-to": "closed"}, page)
    assert refused.status_code == 409
    assert "cannot move to “Closed”" in parse(refused).text
    step_only = post(signed_in, f"{page}/status", {"status-to": "agreed"}, page)
    assert step_only.status_code == 409
    assert "Agree a time" in parse(step_only).text
    bogus = post(signed_in, f"{page}/status", {"status-to": "nonsense"}, page)
    assert bogus.status_code == 400
    with app.app_context():
        lead = db.session.get(Lead, lead_id)
        assert lead.status == LeadStatus.CONTACTED
        assert lead.events[-1].actor.name == "Maya Coach"


def test_take_and_hand_on(app, signed_in, coach):
    with app.app_context():
        sam = add_coach("sam@example.org", "Sam Coach", now=utcnow()).id
    lead_id = make_lead(app)
    page = f"/coach/leads/{lead_id}"
    assert post(signed_in, f"{page}/assign", {"assign-coach_id": str(sam)}, page).status_code == 302
    assert "Handed on to Sam Coach" in signed_in.get(page).get_data(as_text=True)
    assert post(signed_in, f"{page}/assign", {"take": "1"}, page).status_code == 302
    with app.app_context():
        assert db.session.get(Lead, lead_id).assigned_coach_id == coach
    again = post(signed_in, f"{page}/assign", {"take": "1"}, page)
    assert again.status_code == 409
    nobody = post(signed_in, f"{page}/assign", {"assign-coach_id": "99"}, page)
    assert nobody.status_code == 400


def test_private_notes(app, signed_in):
    lead_id = make_lead(app)
    page = f"/coach/leads/{lead_id}"
    assert post(signed_in, f"{page}/notes", {"note-body": "  "}, page).status_code == 400
    assert (
        post(signed_in, f"{page}/notes", {"note-body": "Prefers <mornings>"}, page).status_code
        == 302
    )
    response = signed_in.get(page)
    assert "Prefers &lt;mornings&gt;" in response.get_data(as_text=True)
    assert "Added a private note" in parse(response).text


def propose_data(*rows: tuple[date, str], detail: str = "https://meet.example/x") -> dict:
    data = {}
    for i, (day, start) in enumerate(rows):
        data.update(
            {
                f"propose-slots-{i}-day": day.isoformat(),
                f"propose-slots-{i}-start": start,
                f"propose-slots-{i}-duration": "60",
                f"propose-slots-{i}-format": "video",
                f"propose-slots-{i}-detail": detail,
            }
        )
    for i in range(len(rows), 5):  # the blank rows a browser sends too
        data.update(
            {
                f"propose-slots-{i}-day": "",
                f"propose-slots-{i}-start": "",
                f"propose-slots-{i}-duration": "60",
                f"propose-slots-{i}-format": "video",
                f"propose-slots-{i}-detail": "",
            }
        )
    return data


def test_propose_times_from_the_page(app, signed_in):
    lead_id = make_lead(app)
    page = f"/coach/leads/{lead_id}"
    response = post(
        signed_in,
        f"{page}/propose",
        propose_data((SOON, "09:00"), (SOON + timedelta(days=1), "14:30")),
        page,
    )
    assert response.status_code == 302
    shown = signed_in.get(page)
    assert "2 times sent to Leader 1." in parse(shown).text
    assert "Waiting for the leader" in parse(shown).text
    with app.app_context():
        assert db.session.get(Lead, lead_id).status == LeadStatus.TIMES_PROPOSED
        [mail] = db.session.scalars(
            select(OutboxMessage).where(OutboxMessage.kind == "leader_proposed_times")
        ).all()
        assert "/choose/" in mail.body_text


@pytest.mark.parametrize(
    ("data", "status", "message"),
    [
        (propose_data(), 400, "Enter at least one time"),
        (propose_data((date.today() - timedelta(days=1), "09:00")), 409, "is in the past"),
        (propose_data((SOON, "09:00"), detail="not a link"), 409, "starting with https://"),
        (
            {**propose_data((SOON, "09:00")), "propose-slots-0-start": ""},
            400,
            "Time 1: enter the start time",
        ),
        (
            {**propose_data((SOON, "09:00")), "propose-slots-0-duration": "5"},
            400,
            "between 15 and 480",
        ),
    ],
)
def test_propose_times_refused_with_a_message(app, signed_in, data, status, message):
    lead_id = make_lead(app)
    page = f"/coach/leads/{lead_id}"
    response = post(signed_in, f"{page}/propose", data, page)
    assert response.status_code == status
    assert message in parse(response).text
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Proposal)) == 0


def test_propose_a_time_in_the_spring_gap_is_refused_on_the_page(app, signed_in):
    lead_id = make_lead(app)
    page = f"/coach/leads/{lead_id}"
    # Pretend it is early 2027 so that the last Sunday of March is ahead.
    set_clock(app, lambda: datetime(2027, 3, 1, 9, tzinfo=UTC))
    response = post(signed_in, f"{page}/propose", propose_data((date(2027, 3, 28), "01:30")), page)
    assert response.status_code == 409
    assert "01:30 on Sunday 28 March 2027 does not exist" in parse(response).text


def test_record_reschedule_and_cancel_a_session(app, signed_in):
    lead_id = make_lead(app)
    page = f"/coach/leads/{lead_id}"
    agreed = {
        "agreed-day": SOON.isoformat(),
        "agreed-start": "10:00",
        "agreed-duration": "60",
        "agreed-format": "phone",
        "agreed-detail": "020 7946 0000",
    }
    assert post(signed_in, f"{page}/agreed", agreed, page).status_code == 302
    with app.app_context():
        session = db.session.scalars(select(CoachingSession)).one()
        session_id = session.id
        assert db.session.get(Lead, lead_id).status == LeadStatus.AGREED
    shown = parse(signed_in.get(page)).text
    assert "Session booked." in shown and "020 7946 0000" in shown

    move = {
        f"move-{session_id}-day": (SOON + timedelta(days=1)).isoformat(),
        f"move-{session_id}-start": "11:00",
        f"move-{session_id}-duration": "45",
    }
    assert (
        post(signed_in, f"/coach/sessions/{session_id}/reschedule", move, page).status_code == 302
    )
    bad_move = {**move, f"move-{session_id}-day": "2020-01-01"}
    refused = post(signed_in, f"/coach/sessions/{session_id}/reschedule", bad_move, page)
    assert refused.status_code == 409 and "is in the past" in parse(refused).text
    with app.app_context():
        session = db.session.get(CoachingSession, session_id)
        assert session.sequence == 1
        assert session.ends_at - session.starts_at == timedelta(minutes=45)

    no_reason = post(
        signed_in, f"/coach/sessions/{session_id}/cancel", {f"cancel-{session_id}-reason": ""}, page
    )
    assert no_reason.status_code == 400
    assert (
        post(
            signed_in,
            f"/coach/sessions/{session_id}/cancel",
            {f"cancel-{session_id}-reason": "Coach unwell"},
            page,
        ).status_code
        == 302
    )
    again = post(
        signed_in,
        f"/coach/sessions/{session_id}/cancel",
        {f"cancel-{session_id}-reason": "Twice"},
        page,
    )
    assert again.status_code == 409 and "already cancelled" in parse(again).text
    with app.app_context():
        assert db.session.get(CoachingSession, session_id).status == SessionStatus.CANCELLED
        assert db.session.get(Lead, lead_id).status == LeadStatus.CONTACTED
        kinds = sorted(m.kind for m in db.session.scalars(select(OutboxMessage)))
    assert kinds.count("leader_session_update") == 2 and kinds.count("coach_session_update") == 2
    assert signed_in.get("/coach/sessions/9999/cancel").status_code == 405


def test_recording_a_clashing_time_says_so(app, signed_in, coach):
    first, second = make_lead(app, 1), make_lead(app, 2)
    with app.app_context():
        from datetime import time as clock

        from booking.workflow.scheduling import local_start

        record_agreed_time(
            db.session.get(Lead, first),
            db.session.get(Coach, coach),
            local_start(SOON, clock(10), settings=current_settings()),
            60,
            SessionFormat.PHONE,
            "0207",
            utcnow(),
            settings=current_settings(),
        )
        db.session.commit()
    page = f"/coach/leads/{second}"
    response = post(
        signed_in,
        f"{page}/agreed",
        {
            "agreed-day": SOON.isoformat(),
            "agreed-start": "10:30",
            "agreed-duration": "60",
            "agreed-format": "phone",
            "agreed-detail": "0207",
        },
        page,
    )
    assert response.status_code == 409
    assert "clashes with Maya Coach's session with Leader 1" in parse(response).text


def test_held_before_the_session_is_refused(app, signed_in, coach):
    lead_id = make_lead(app)
    with app.app_context():
        lead = db.session.get(Lead, lead_id)
        propose_times(
            lead,
            db.session.get(Coach, coach),
            [slot(SOON, 9)],
            utcnow(),
            settings=current_settings(),
        )
        db.session.commit()
    page = f"/coach/leads/{lead_id}"
    text = parse(signed_in.get(page)).text
    assert "Waiting for the leader" in text
    response = post(signed_in, f"{page}/status", {"status-to": "held"}, page)
    assert response.status_code == 409
    assert "cannot move to “Held”" in parse(response).text

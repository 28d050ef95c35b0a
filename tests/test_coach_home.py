"""The coach's home page: what needs them (each kind of item appears while its condition holds
and goes once acted on), whose leads it covers, and their week day by day (Europe/London days,
across a clock change), in a number of SQL statements that does not grow with the data."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, update

from booking.extensions import db
from booking.models import (
    Coach,
    CoachingSession,
    Lead,
    LeadStatus,
    OutboxMessage,
    OutboxStatus,
    PartStat,
    SessionFormat,
    utcnow,
)
from booking.settings import current_settings, set_clock
from booking.workflow.responses import record_partstat, save_questionnaire
from booking.workflow.scheduling import (
    cancel_session,
    leader_request_new_time,
    none_suit,
    propose_times,
    record_agreed_time,
    reschedule_session,
)

from .coach_helpers import add_coach, add_lead, count_statements, post, sign_in, slot
from .conftest import Page, parse

# A Wednesday in the week the clocks go forward (Sunday 28 March 2027, 01:00 GMT).
NOW = datetime(2027, 3, 24, 10, tzinfo=UTC)


class Clock:
    def __init__(self, at: datetime) -> None:
        self.at = at

    def __call__(self) -> datetime:
        return self.at


@pytest.fixture
def clock(app) -> Clock:
    found = Clock(NOW)
    set_clock(app, found)
    return found


@pytest.fixture
def coach(app):
    with app.app_context():
        return add_coach(now=utcnow()).id


@pytest.fixture
def signed_in(client, coach, clock):
    assert sign_in(client).status_code == 302
    return client


def home(client, query: str = "") -> Page:
    response = client.get("/coach/" + (f"?{query}" if query else ""))
    assert response.status_code == 200
    return parse(response)


def section(page: Page, element_id: str) -> str:
    element = page.by_id(element_id)
    return " ".join(" ".join(element["text"]).split()) if element else ""


def maya(app_ctx_coach_id: int) -> Coach:
    coach = db.session.get(Coach, app_ctx_coach_id)
    assert coach is not None
    return coach


def new_lead(app, registered: datetime, n: int = 1, **overrides) -> int:
    with app.app_context():
        return add_lead(registered, n, full_name=f"Amara Okafor {n}", **overrides).id


def book(app, lead_id: int, coach_id: int, start: datetime, booked_at: datetime) -> int:
    with app.app_context():
        lead = db.session.get(Lead, lead_id)
        session = record_agreed_time(
            lead,
            maya(coach_id),
            start,
            60,
            SessionFormat.VIDEO,
            "https://meet.example/maya",
            booked_at,
            settings=current_settings(),
        )
        db.session.commit()
        return session.id


# ----- needs you ---------------------------------------------------------------------------


def test_home_is_the_landing_page_and_first_in_the_nav(client, coach, clock):
    assert sign_in(client).headers["Location"] == "/coach/"
    html = client.get("/coach/").get_data(as_text=True)
    nav = html[html.index('class="coach-nav"') :]
    assert nav.index('href="/coach/"') < nav.index('href="/coach/leads"')
    assert "Nothing needs you right now." in parse(html).text


def test_an_overdue_new_lead_needs_you_until_contacted(app, signed_in, coach, clock):
    # Registered Friday 19 March: two working days is the end of Tuesday 23 March.
    late = new_lead(app, datetime(2027, 3, 19, 10, tzinfo=UTC), 1)
    new_lead(app, NOW - timedelta(hours=1), 2)  # still within the promise
    text = section(home(signed_in), "needs-overdue")
    assert "Amara Okafor 1" in text and "Amara Okafor 2" not in text
    assert "Since Wednesday 24 March 2027, 00:00 GMT" in text
    assert "promised contact within 2 working days" in text
    html = signed_in.get("/coach/").get_data(as_text=True)
    assert f'href="/coach/leads/{late}#status"' in html

    page = f"/coach/leads/{late}"
    response = post(signed_in, f"{page}/status", {"status-to": "contacted"}, page)
    assert response.status_code == 302
    assert section(home(signed_in), "needs-overdue") == ""


def test_a_request_for_a_new_time_needs_you_until_the_session_moves(app, signed_in, coach, clock):
    lead_id = new_lead(app, NOW - timedelta(days=10))
    session_id = book(app, lead_id, coach, NOW + timedelta(days=7), NOW - timedelta(days=9))
    with app.app_context():
        session = db.session.get(CoachingSession, session_id)
        leader_request_new_time(
            session, "Thursdays are better", NOW - timedelta(hours=2), settings=current_settings()
        )
        db.session.commit()
    page = home(signed_in)
    text = section(page, "needs-new-time")
    assert "Amara Okafor 1" in text and "“Thursdays are better”" in text
    assert "Since Wednesday 24 March 2027, 08:00 GMT" in text
    assert f'href="/coach/leads/{lead_id}#session-{session_id}"' in page.html

    with app.app_context():
        session = db.session.get(CoachingSession, session_id)
        reschedule_session(
            session, maya(coach), NOW + timedelta(days=8), 60, NOW, settings=current_settings()
        )
        db.session.commit()
    assert section(home(signed_in), "needs-new-time") == ""


def test_none_suit_needs_you_until_new_times_are_proposed(app, signed_in, coach, clock):
    lead_id = new_lead(app, NOW - timedelta(days=3))
    settings_day = (NOW + timedelta(days=6)).date()
    with app.app_context():
        lead = db.session.get(Lead, lead_id)
        proposal = propose_times(
            lead,
            maya(coach),
            [slot(settings_day, 10)],
            NOW - timedelta(days=2),
            settings=current_settings(),
        )
        db.session.commit()
        none_suit(proposal, "Mornings only", NOW - timedelta(days=1), settings=current_settings())
        db.session.commit()
    text = section(home(signed_in), "needs-none-suit")
    assert "None of the times you proposed suit: “Mornings only”" in text
    assert "Since Tuesday 23 March 2027, 10:00 GMT" in text

    with app.app_context():
        lead = db.session.get(Lead, lead_id)
        propose_times(lead, maya(coach), [slot(settings_day, 9)], NOW, settings=current_settings())
        db.session.commit()
    assert section(home(signed_in), "needs-none-suit") == ""


def test_a_declined_invitation_needs_you_until_the_session_is_cancelled(
    app, signed_in, coach, clock
):
    lead_id = new_lead(app, NOW - timedelta(days=10))
    session_id = book(app, lead_id, coach, NOW + timedelta(days=7), NOW - timedelta(days=9))
    assert section(home(signed_in), "needs-declined") == ""
    with app.app_context():
        session = db.session.get(CoachingSession, session_id)
        record_partstat(
            session,
            "leader",
            PartStat.DECLINED,
            NOW - timedelta(hours=3),
            source="test",
            settings=current_settings(),
        )
        db.session.commit()
    text = section(home(signed_in), "needs-declined")
    assert "Declined by the leader" in text and "Since Wednesday 24 March 2027, 07:00 GMT" in text

    with app.app_context():
        session = db.session.get(CoachingSession, session_id)
        cancel_session(session, maya(coach), "Declined", NOW, settings=current_settings())
        db.session.commit()
    assert section(home(signed_in), "needs-declined") == ""


def test_a_started_session_needs_you_until_marked_held(app, signed_in, coach, clock):
    lead_id = new_lead(app, NOW - timedelta(days=10))
    start = NOW + timedelta(hours=1)
    book(app, lead_id, coach, start, NOW - timedelta(days=9))
    assert section(home(signed_in), "needs-not-held") == ""
    clock.at = start + timedelta(minutes=90)
    text = section(home(signed_in), "needs-not-held")
    assert "Amara Okafor 1" in text and "Since Wednesday 24 March 2027, 11:00 GMT" in text

    page = f"/coach/leads/{lead_id}"
    assert post(signed_in, f"{page}/status", {"status-to": "held"}, page).status_code == 302
    assert section(home(signed_in), "needs-not-held") == ""


@pytest.mark.parametrize("status", [OutboxStatus.FAILED, OutboxStatus.UNKNOWN])
def test_a_failed_email_needs_you_until_you_note_what_you_did(app, signed_in, coach, clock, status):
    lead_id = new_lead(app, NOW - timedelta(days=1))
    with app.app_context():
        message = db.session.scalars(
            select(OutboxMessage).where(OutboxMessage.lead_id == lead_id)
        ).first()
        assert message is not None
        message_id = message.id
        db.session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id == message_id)
            .values(
                status=status, due_at=NOW - timedelta(hours=5), created_at=NOW - timedelta(hours=6)
            )
        )
        db.session.commit()
    page = home(signed_in)
    text = section(page, "needs-email")
    assert "Amara Okafor 1" in text
    assert (
        "could not be delivered" if status == OutboxStatus.FAILED else "may not have arrived"
    ) in text
    assert f'href="/coach/leads/{lead_id}#email-{message_id}"' in page.html

    detail = f"/coach/leads/{lead_id}"
    response = post(signed_in, f"{detail}/notes", {"note-body": "Phoned them instead"}, detail)
    assert response.status_code == 302
    assert section(home(signed_in), "needs-email") == ""


def test_needs_you_covers_my_leads_and_unassigned_ones_admins_may_see_all(
    app, client, coach, clock
):
    with app.app_context():
        sam = add_coach("sam@example.org", "Sam Coach", now=utcnow())
        sam_id = sam.id
        db.session.get(Coach, coach).is_admin = True
        db.session.commit()
    registered = datetime(2027, 3, 15, 10, tzinfo=UTC)
    leads = [new_lead(app, registered, n) for n in (1, 2, 3)]
    with app.app_context():
        for lead_id, owner in zip(leads, (coach, sam_id, None), strict=True):
            db.session.execute(
                update(Lead).where(Lead.id == lead_id).values(assigned_coach_id=owner)
            )
        db.session.commit()
    assert sign_in(client).status_code == 302
    page = home(client)
    text = section(page, "needs-overdue")
    assert "Amara Okafor 1 (yours)" in text and "Amara Okafor 3 (not assigned)" in text
    assert "Amara Okafor 2" not in text
    assert "Your leads and leads not yet assigned to anyone." in page.text
    everyone = home(client, "scope=all")
    assert "Amara Okafor 2 (Sam Coach)" in section(everyone, "needs-overdue")
    assert "Every coach’s leads." in everyone.text

    # A coach who is not an admin cannot widen it.
    with app.app_context():
        db.session.get(Coach, coach).is_admin = False
        db.session.commit()
    narrowed = home(client, "scope=all")
    assert "Amara Okafor 2" not in section(narrowed, "needs-overdue")
    assert "Show every coach’s" not in narrowed.text


# ----- this week ---------------------------------------------------------------------------


def test_this_week_groups_sessions_by_london_day_across_the_clock_change(
    app, signed_in, coach, clock
):
    booked_at = datetime(2027, 3, 1, 9, tzinfo=UTC)
    starts = {
        "previous Sunday 22:30 GMT": datetime(2027, 3, 21, 22, 30, tzinfo=UTC),
        "Monday 00:00 GMT": datetime(2027, 3, 22, 0, 0, tzinfo=UTC),
        "Saturday 23:30 GMT": datetime(2027, 3, 27, 23, 30, tzinfo=UTC),
        "Sunday 09:00 BST": datetime(2027, 3, 28, 8, 0, tzinfo=UTC),
        "next Monday 00:30 BST": datetime(2027, 3, 28, 23, 30, tzinfo=UTC),
    }
    ids = {}
    for n, (name, start) in enumerate(starts.items(), start=1):
        lead_id = new_lead(app, booked_at - timedelta(days=1), n)
        ids[name] = book(app, lead_id, coach, start, booked_at)
    with app.app_context():
        sunday = db.session.get(CoachingSession, ids["Sunday 09:00 BST"])
        record_partstat(
            sunday, "leader", PartStat.ACCEPTED, booked_at, "test", settings=current_settings()
        )
        save_questionnaire(sunday, {}, booked_at, settings=current_settings())
        db.session.commit()
        # Another coach's session that week is not in Maya's week.
        other = add_coach("sam@example.org", "Sam Coach", now=utcnow())
        lead = add_lead(booked_at, 9, full_name="Someone Else")
        record_agreed_time(
            lead,
            other,
            datetime(2027, 3, 23, 12, tzinfo=UTC),
            60,
            SessionFormat.PHONE,
            "020 7946 0000",
            booked_at,
            settings=current_settings(),
        )
        db.session.commit()

    page = home(signed_in)
    assert "This week" in page.text
    assert "Amara Okafor 1" not in section(page, "week")
    assert "Amara Okafor 2" in section(page, "day-2027-03-22")
    assert "00:00–01:00 GMT" in section(page, "day-2027-03-22")
    assert "Amara Okafor 3" in section(page, "day-2027-03-27")
    sunday_text = section(page, "day-2027-03-28")
    assert "Amara Okafor 4" in sunday_text and "09:00–10:00 BST" in sunday_text
    assert "Leader: accepted; you: has not answered" in sunday_text
    assert "reflection in" in sunday_text
    assert "no reflection yet" in section(page, "day-2027-03-27")
    assert "Amara Okafor 5" not in section(page, "week") and "Someone Else" not in page.text
    assert "Nothing booked." in section(page, "day-2027-03-24")
    assert "Wednesday 24 March (today)" in section(page, "day-2027-03-24")
    assert 'href="/coach/?week=2027-03-15"' in page.html
    assert 'href="/coach/?week=2027-03-29"' in page.html

    following = home(signed_in, "week=2027-03-29")
    assert "Week of 29 March 2027" in following.text
    monday = section(following, "day-2027-03-29")
    assert "Amara Okafor 5" in monday and "00:30–01:30 BST" in monday
    before = home(signed_in, "week=2027-03-21")  # any day picks its week: Monday 15 March
    assert "Amara Okafor 1" in section(before, "day-2027-03-21")
    assert home(signed_in, "week=not-a-date").text == page.text


# ----- statements ----------------------------------------------------------------------------


def _make_everything(app, coach_id: int, n0: int, count: int) -> None:
    """`count` leads of each kind that needs the coach, plus booked sessions this week."""
    settings_now = NOW - timedelta(days=60)
    with app.app_context():
        settings = current_settings()
        me = maya(coach_id)
        for i in range(count):
            n = n0 + 10 * i
            add_lead(datetime(2027, 3, 15, 10, tzinfo=UTC), n)  # overdue
            asked = add_lead(settings_now, n + 1)
            when = NOW + timedelta(days=1, hours=n)
            session = record_agreed_time(
                asked,
                me,
                when,
                30,
                SessionFormat.PHONE,
                "020 7946 0000",
                settings_now,
                settings=settings,
            )
            leader_request_new_time(
                session, "Later please", NOW - timedelta(hours=1), settings=settings
            )
            refused = add_lead(settings_now, n + 2)
            proposal = propose_times(
                refused,
                me,
                [slot((NOW + timedelta(days=40)).date(), 8 + i % 10)],
                settings_now,
                settings=settings,
            )
            none_suit(proposal, "No", NOW - timedelta(hours=1), settings=settings)
            declined = add_lead(settings_now, n + 3)
            other = record_agreed_time(
                declined,
                me,
                NOW - timedelta(days=1, hours=n),
                30,
                SessionFormat.PHONE,
                "020 7946 0000",
                settings_now,
                settings=settings,
            )
            record_partstat(
                other, "leader", PartStat.DECLINED, settings_now, "test", settings=settings
            )
        db.session.execute(
            update(OutboxMessage).values(status=OutboxStatus.FAILED, due_at=NOW - timedelta(days=1))
        )
        db.session.commit()
        assert db.session.scalar(select(Lead.id).where(Lead.status == LeadStatus.NEW))


def test_home_page_statements_do_not_grow_with_the_data(app, signed_in, coach, clock):
    _make_everything(app, coach, 100, 1)
    few = count_statements(app, signed_in, "/coach/")
    page = home(signed_in)
    for kind in ("overdue", "new-time", "none-suit", "declined", "not-held", "email"):
        assert section(page, f"needs-{kind}"), kind
    _make_everything(app, coach, 500, 12)
    many = count_statements(app, signed_in, "/coach/")
    assert many == few
    assert few <= 12

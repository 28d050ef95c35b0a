"""Journeys, self-ratings, the follow-up schedule, the before/after chart and the reports."""

from __future__ import annotations

import csv
import io
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from booking.charts import before_after_svg
from booking.extensions import db
from booking.kinds import MailKind
from booking.models import (
    Coach,
    Dimension,
    FollowUp,
    Lead,
    LeadStatus,
    OutboxMessage,
    RatingKind,
    SelfRating,
    SessionFormat,
    SessionStatus,
)
from booking.reports import (
    ReportFilters,
    Suppressed,
    csv_safe,
    first_contact,
    funnel,
    outcomes,
    to_csv,
    working_days_between,
)
from booking.settings import current_settings
from booking.workflow import DomainError, withdraw
from booking.workflow.leads import change_status
from booking.workflow.outcomes import (
    before_after,
    save_follow_up,
    save_session_note,
    send_due,
)
from booking.workflow.privacy import erase_person
from booking.workflow.responses import save_questionnaire
from booking.workflow.scheduling import none_suit, propose_times, record_agreed_time

from .coach_helpers import add_coach, add_lead, slot

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)  # a Monday
RATINGS = {"rating_compassionate": "2", "rating_purpose_led": "3", "rating_practical": "1"}


def _book(lead, coach, at: datetime):
    return record_agreed_time(
        lead,
        coach,
        at,
        60,
        SessionFormat.VIDEO,
        "https://meet.example/x",
        NOW,
        settings=current_settings(),
    )


def _hold(lead, coach, session):
    change_status(
        lead,
        LeadStatus.HELD,
        coach=coach,
        reason="",
        now=session.starts_at + timedelta(hours=1),
        settings=current_settings(),
    )
    db.session.commit()


def _journey(app_ctx, sessions: int = 2, n: int = 1, rate: bool = True):
    coach = db.session.scalar(select(Coach)) or add_coach(now=NOW)
    lead = add_lead(NOW, n=n, organisation="Riverside Hospitals")
    first = _book(lead, coach, NOW + timedelta(days=1))
    if rate:
        save_questionnaire(first, RATINGS, NOW, settings=current_settings())
    db.session.commit()
    _hold(lead, coach, first)
    held = [first]
    for k in range(1, sessions):
        nxt = _book(lead, coach, NOW + timedelta(days=1 + 7 * k))
        db.session.commit()
        _hold(lead, coach, nxt)
        held.append(nxt)
    return coach, lead, held


def _outbox(kind: str) -> list[OutboxMessage]:
    return list(db.session.scalars(select(OutboxMessage).where(OutboxMessage.kind == kind)))


# ----- the journey ------------------------------------------------------------------------


def test_a_held_session_is_followed_by_the_next_one_and_the_journey_closes(app_ctx):
    coach, lead, held = _journey(app_ctx, sessions=2)
    assert lead.status == LeadStatus.HELD
    assert [s.status for s in held] == [SessionStatus.HELD, SessionStatus.HELD]
    # The second session got its own invitation: two confirmations to the leader in all.
    assert len(_outbox(MailKind.LEADER_SESSION_CONFIRMED)) == 2
    change_status(
        lead,
        LeadStatus.CLOSED,
        coach=coach,
        reason="",
        now=NOW + timedelta(days=9),
        settings=current_settings(),
    )
    db.session.commit()
    follow_up = db.session.scalar(select(FollowUp))
    # Due 28 days after the end of the last held session.
    assert follow_up.due_at == held[-1].ends_at + timedelta(days=28)


def test_times_for_a_next_session_can_be_proposed_and_refused(app_ctx):
    coach, lead, _ = _journey(app_ctx, sessions=1)
    proposal = propose_times(
        lead,
        coach,
        [slot((NOW + timedelta(days=10)).date(), 10)],
        NOW + timedelta(days=2),
        settings=current_settings(),
    )
    db.session.commit()
    assert lead.status == LeadStatus.TIMES_PROPOSED
    mail = _outbox(MailKind.LEADER_PROPOSED_TIMES)[-1]
    assert mail.subject == "Times for your next coaching session"
    none_suit(proposal, "Mornings only", NOW + timedelta(days=2), settings=current_settings())
    db.session.commit()
    # Back between sessions, not to "Contacted": the journey can still be closed.
    assert lead.status == LeadStatus.HELD


def test_a_journey_stops_at_its_maximum(make_app):
    app = make_app(JOURNEY_MAX_SESSIONS=2)
    with app.app_context():
        coach, lead, _ = _journey(None, sessions=2)
        with pytest.raises(DomainError, match="2 sessions"):
            _book(lead, coach, NOW + timedelta(days=30))


def test_a_journey_with_a_booked_session_cannot_close(app_ctx):
    coach, lead, _ = _journey(app_ctx, sessions=1)
    nxt = _book(lead, coach, NOW + timedelta(days=20))
    db.session.commit()
    assert nxt.status == SessionStatus.BOOKED
    assert lead.status == LeadStatus.AGREED
    with pytest.raises(DomainError):
        change_status(
            lead,
            LeadStatus.CLOSED,
            coach=coach,
            reason="",
            now=NOW + timedelta(days=21),
            settings=current_settings(),
        )


def test_session_notes_stay_private_unless_the_coach_sends_the_actions(app_ctx):
    coach, lead, held = _journey(app_ctx, sessions=1)
    later = NOW + timedelta(days=2)
    save_session_note(
        held[0],
        coach,
        "Tired; wants to lead a huddle",
        "Run a daily huddle",
        send_actions=False,
        now=later,
        settings=current_settings(),
    )
    db.session.commit()
    assert _outbox(MailKind.LEADER_SESSION_ACTIONS) == []
    save_session_note(
        held[0],
        coach,
        "Tired; wants to lead a huddle",
        "Run a daily huddle",
        send_actions=True,
        now=later,
        settings=current_settings(),
    )
    db.session.commit()
    [mail] = _outbox(MailKind.LEADER_SESSION_ACTIONS)
    assert "Run a daily huddle" in mail.body_text
    assert "Tired" not in mail.body_text  # the private notes never go to the leader
    assert mail.recipients == [lead.email]


# ----- ratings ----------------------------------------------------------------------------


def test_the_reflection_before_the_first_session_stores_before_ratings(app_ctx):
    _, lead, _ = _journey(app_ctx, sessions=1)
    rows = db.session.scalars(select(SelfRating).where(SelfRating.lead_id == lead.id)).all()
    assert {(r.kind, r.dimension, r.value) for r in rows} == {
        (RatingKind.BEFORE, Dimension.COMPASSIONATE, 2),
        (RatingKind.BEFORE, Dimension.PURPOSE_LED, 3),
        (RatingKind.BEFORE, Dimension.PRACTICAL, 1),
    }


# ----- the follow-up ----------------------------------------------------------------------


def _closed(app_ctx, n: int = 1):
    coach, lead, held = _journey(app_ctx, sessions=2, n=n)
    change_status(
        lead,
        LeadStatus.CLOSED,
        coach=coach,
        reason="",
        now=NOW + timedelta(days=9),
        settings=current_settings(),
    )
    db.session.commit()
    return coach, lead, held, db.session.scalar(select(FollowUp).where(FollowUp.lead_id == lead.id))


def _run(at: datetime):
    report = send_due(now=at, settings=current_settings())
    db.session.commit()
    return report


def test_the_follow_up_goes_once_and_is_reminded_once(app_ctx):
    _, lead, _, follow_up = _closed(app_ctx)
    assert _run(follow_up.due_at - timedelta(minutes=1)).follow_ups == 0
    assert _run(follow_up.due_at).follow_ups == 1
    assert _run(follow_up.due_at + timedelta(days=1)).follow_ups == 0  # idempotent
    assert _outbox(MailKind.LEADER_FOLLOW_UP)[0].recipients == [lead.email]
    assert _run(follow_up.due_at + timedelta(days=6)).reminders == 0
    assert _run(follow_up.due_at + timedelta(days=7)).reminders == 1
    assert _run(follow_up.due_at + timedelta(days=30)).reminders == 0  # no more
    assert len(_outbox(MailKind.LEADER_FOLLOW_UP)) == 1
    assert len(_outbox(MailKind.LEADER_FOLLOW_UP_REMINDER)) == 1


def test_answering_the_follow_up_stops_the_reminder_and_gives_before_and_after(app_ctx):
    _, lead, _, follow_up = _closed(app_ctx)
    _run(follow_up.due_at)
    save_follow_up(
        follow_up,
        {"rating_compassionate": "4", "rating_purpose_led": "3"},
        now=follow_up.due_at + timedelta(days=1),
        settings=current_settings(),
    )
    db.session.commit()
    assert _run(follow_up.due_at + timedelta(days=8)).reminders == 0
    ratings = before_after(lead)
    assert ratings.before[Dimension.COMPASSIONATE] == 2
    assert ratings.after[Dimension.COMPASSIONATE] == 4
    assert ratings.after[Dimension.PRACTICAL] is None


def test_withdrawing_cancels_the_follow_up(app_ctx):
    _, lead, _, follow_up = _closed(app_ctx)
    withdraw(lead, reason="", now=NOW + timedelta(days=10), settings=current_settings())
    db.session.commit()
    assert follow_up.cancelled_at is not None
    assert lead.status == LeadStatus.CLOSED
    assert _run(follow_up.due_at + timedelta(days=10)).follow_ups == 0
    assert _outbox(MailKind.LEADER_FOLLOW_UP) == []


def test_withdrawing_after_it_was_sent_cancels_the_reminder(app_ctx):
    _, lead, _, follow_up = _closed(app_ctx)
    _run(follow_up.due_at)
    withdraw(
        lead, reason="", now=follow_up.due_at + timedelta(hours=1), settings=current_settings()
    )
    db.session.commit()
    assert _run(follow_up.due_at + timedelta(days=8)).reminders == 0


def test_erasure_cancels_the_follow_up_and_removes_the_ratings(app_ctx):
    _, lead, _, follow_up = _closed(app_ctx)
    erase_person(lead.email, now=NOW + timedelta(days=10), settings=current_settings())
    db.session.commit()
    assert follow_up.cancelled_at is not None
    assert _run(follow_up.due_at).follow_ups == 0
    assert db.session.scalars(select(SelfRating)).all() == []


# ----- the chart --------------------------------------------------------------------------


def test_the_chart_is_svg_with_the_three_dimensions_and_their_values():
    svg = before_after_svg(
        ["Compassionate", "Purpose-led", "Practical"],
        [2, 3, 1],
        [4, 5, 3],
        scale_min=1,
        scale_max=5,
    )
    root = ET.fromstring(svg)
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    texts = [t.text for t in root.iter() if t.text]
    for label in ("Compassionate", "Purpose-led", "Practical", "Before", "After"):
        assert label in texts
    values = [t.text for t in root.iter("{http://www.w3.org/2000/svg}text")]
    for value in ("2", "3", "1", "4", "5"):
        assert value in values
    assert "<script" not in svg


# ----- reports ----------------------------------------------------------------------------


def test_working_days_and_the_promise(app_ctx):
    settings = current_settings()
    friday = datetime(2026, 3, 6, 15, 0, tzinfo=UTC)
    assert working_days_between(friday, friday + timedelta(hours=1), settings) == 0
    assert working_days_between(friday, friday + timedelta(days=3), settings) == 1  # Monday
    assert working_days_between(friday, friday + timedelta(days=4), settings) == 2  # Tuesday


def test_first_contact_counts_the_promise_in_working_days_and_suppresses_small_months(app_ctx):
    coach = add_coach(now=NOW)
    friday = datetime(2026, 3, 6, 15, 0, tzinfo=UTC)
    # Six leads registered on a Friday: contacted Mon, Tue (within 2 working days), and
    # Wed, Thu (late); two never contacted.
    contacts = [3, 4, 5, 6, None, None]
    for n, days in enumerate(contacts, start=1):
        lead = add_lead(friday, n=n)
        if days is not None:
            change_status(
                lead,
                LeadStatus.CONTACTED,
                coach=coach,
                reason="",
                now=friday + timedelta(days=days),
                settings=current_settings(),
            )
    db.session.commit()
    table = first_contact(
        ReportFilters(), now=datetime(2026, 3, 31, tzinfo=UTC), settings=current_settings()
    )
    march = next(r for r in table.rows if r[0] == "2026-03")
    # Registered 6, contacted 4 (fewer than 5: the share and median are withheld).
    assert march[1] == 6
    assert isinstance(march[2], Suppressed) and isinstance(march[3], Suppressed)
    # One more contacted (on the Monday): 5 contacted, 3 within the promise = 60 %.
    fifth = db.session.scalar(select(Lead).where(Lead.first_contacted_at.is_(None)))
    change_status(
        fifth,
        LeadStatus.CONTACTED,
        coach=coach,
        reason="",
        now=friday + timedelta(days=3),
        settings=current_settings(),
    )
    db.session.commit()
    table = first_contact(
        ReportFilters(), now=datetime(2026, 3, 31, tzinfo=UTC), settings=current_settings()
    )
    march = next(r for r in table.rows if r[0] == "2026-03")
    assert march[2] == 5
    assert march[3] == 60  # by the end of Tuesday: Mon, Mon, Tue of five
    assert march[4] == 2.0  # median of 1, 1, 2, 3, 4 working days


def test_funnel_and_outcomes_against_a_hand_computed_set(app_ctx):
    # Five leaders through a closed journey, each answering the follow-up one point higher
    # on compassion (before 2, after 3) and two higher on practical for all but one.
    for n in range(1, 6):
        _, lead, _, follow_up = _closed(app_ctx, n=n)
        _run(follow_up.due_at)
        save_follow_up(
            follow_up,
            {"rating_compassionate": "3", "rating_practical": "3" if n < 5 else "1"},
            now=follow_up.due_at + timedelta(days=1),
            settings=current_settings(),
        )
        db.session.commit()
    add_lead(NOW, n=99)  # a sixth, registered only
    db.session.commit()
    at = datetime(2026, 4, 30, tzinfo=UTC)
    rows = {r[0]: r for r in funnel(ReportFilters(), now=at).rows}
    assert rows["2026-03"][1:] == [6, 5, 5, 5]
    table = outcomes(ReportFilters(), now=at)
    answered = (follow_up.due_at + timedelta(days=1)).strftime("%Y-%m")
    row = next(r for r in table.rows if r[0] == answered)
    # compassionate: +1 over 5; purpose-led: rated before only (no pair); practical:
    # (2+2+2+2+0)/5 = 1.6 over 5.
    assert row[1:3] == [1.0, 5]
    assert row[3] is None or row[4] == 0
    assert row[5:7] == [1.6, 5]
    # One organisation filter that matches nobody: everything is 0 / nothing.
    empty = outcomes(ReportFilters(organisation="Nowhere"), now=at)
    assert all(r[2] == 0 for r in empty.rows)
    same = funnel(ReportFilters(organisation="Riverside Hospitals"), now=at)
    assert {r[0]: r for r in same.rows}["2026-03"][1:] == [6, 5, 5, 5]


def test_outcomes_below_five_leaders_are_suppressed(app_ctx):
    for n in range(1, 5):
        _, lead, _, follow_up = _closed(app_ctx, n=n)
        _run(follow_up.due_at)
        save_follow_up(
            follow_up,
            {"rating_compassionate": "5"},
            now=follow_up.due_at + timedelta(days=1),
            settings=current_settings(),
        )
        db.session.commit()
    table = outcomes(ReportFilters(), now=datetime(2026, 4, 30, tzinfo=UTC))
    answered = (follow_up.due_at + timedelta(days=1)).strftime("%Y-%m")
    row = next(r for r in table.rows if r[0] == answered)
    assert isinstance(row[1], Suppressed) and isinstance(row[2], Suppressed)
    assert "fewer than 5" in to_csv(table.columns, table.rows)


@pytest.mark.parametrize(
    "value", ['=HYPERLINK("http://x")', "+1+1", "-2", "@SUM(A1)", "\tx", "\rx"]
)
def test_csv_cells_that_could_run_as_formulas_are_neutralised(value):
    assert csv_safe(value) == "'" + value
    text = to_csv(["name"], [[value], ["plain"], [-3]])
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[1] == ["'" + value]
    assert rows[2] == ["plain"]
    assert rows[3] == ["-3"]  # a number stays a number


def test_the_send_due_command_queues_once(app):
    from booking.settings import set_clock

    with app.app_context():
        _, _, _, follow_up = _closed(None)
        due = follow_up.due_at
    set_clock(app, lambda: due + timedelta(hours=1))
    runner = app.test_cli_runner()
    first = runner.invoke(args=["outcomes", "send-due"])
    assert first.exit_code == 0, first.output
    assert "1 follow-up(s) and 0 reminder(s) queued" in first.output
    again = runner.invoke(args=["outcomes", "send-due"])
    assert "0 follow-up(s) and 0 reminder(s) queued" in again.output


# ----- pages ------------------------------------------------------------------------------


def _admin_client(app, client, admin: bool = True):
    from .coach_helpers import sign_in

    with app.app_context():
        coach = db.session.scalar(select(Coach)) or add_coach(now=NOW)
        coach.is_admin = admin
        db.session.commit()
    sign_in(client)
    return client


def test_the_lead_page_shows_the_journey_and_the_chart(app, client):
    from booking.settings import set_clock

    with app.app_context():
        _, lead, held, follow_up = _closed(None)
        _run(follow_up.due_at)
        save_follow_up(
            follow_up,
            {"rating_compassionate": "4"},
            now=follow_up.due_at,
            settings=current_settings(),
        )
        db.session.commit()
        lead_id, first_id = lead.id, held[0].id
    set_clock(app, lambda: NOW + timedelta(days=60))
    _admin_client(app, client, admin=False)
    page = client.get(f"/coach/leads/{lead_id}").get_data(as_text=True)
    assert 'id="journey"' in page
    assert f'id="journey-session-{first_id}"' in page
    assert "Session 2:" in page
    assert "Answered" in page
    assert "data:image/svg+xml;base64," in page
    assert '<th scope="row" role="rowheader" data-label="Dimension">Compassionate</th>' in page


def test_session_notes_from_the_lead_page(app, client):
    from booking.settings import set_clock

    from .coach_helpers import post

    with app.app_context():
        _, lead, held = _journey(None, sessions=1)
        lead_id, session_id = lead.id, held[0].id
    set_clock(app, lambda: NOW + timedelta(days=3))
    _admin_client(app, client, admin=False)
    page = f"/coach/leads/{lead_id}"
    response = post(
        client,
        f"/coach/sessions/{session_id}/notes",
        {
            f"snote-{session_id}-notes": "Private",
            f"snote-{session_id}-actions": "=cmd()",
            f"snote-{session_id}-send_actions": "y",
        },
        page,
    )
    assert response.status_code == 302
    with app.app_context():
        [mail] = _outbox(MailKind.LEADER_SESSION_ACTIONS)
        assert "=cmd()" in mail.body_text


def test_the_follow_up_page_saves_and_shows_before_and_after(app, client):
    from booking import links
    from booking.settings import set_clock

    from .conftest import hidden_fields

    with app.app_context():
        _, _, _, follow_up = _closed(None)
        _run(follow_up.due_at)
        due = follow_up.due_at
        with app.test_request_context():
            url = links.follow_up_url(follow_up)
    set_clock(app, lambda: due + timedelta(hours=2))
    path = url.split("http://localhost", 1)[-1].split(app.config["BASE_URL"], 1)[-1]
    form = client.get(path)
    assert form.status_code == 200
    html = form.get_data(as_text=True)
    assert "3 – Sometimes" in html  # worded anchors
    data = {**hidden_fields(html), "rating_compassionate": "5", "rating_practical": "2"}
    saved = client.post(path, data=data)
    assert saved.status_code == 200
    text = saved.get_data(as_text=True)
    assert "Your before and after" in text
    assert "data:image/svg+xml;base64," in text
    assert "+3" in text  # compassionate 2 → 5


def test_reports_are_for_admins_only_and_export_csv(app, client):
    _admin_client(app, client, admin=False)
    assert client.get("/coach/reports").status_code == 403
    assert client.get("/coach/reports/leads.csv").status_code == 403


def test_reports_page_and_csv(app, client):
    with app.app_context():
        add_lead(NOW, n=1, full_name="=HYPERLINK(1)")
    _admin_client(app, client)
    page = client.get("/coach/reports")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    for key in ("registrations", "first-contact", "funnel", "sessions-per-coach", "outcomes"):
        assert f'id="table-{key}"' in html
        response = client.get(f"/coach/reports/{key}.csv")
        assert response.status_code == 200
        assert list(csv.reader(io.StringIO(response.get_data(as_text=True))))
    leads = client.get("/coach/reports/leads.csv")
    rows = list(csv.reader(io.StringIO(leads.get_data(as_text=True))))
    assert rows[0][:3] == ["id", "registered", "full_name"]
    assert rows[1][2] == "'=HYPERLINK(1)"
    assert client.get("/coach/reports/nope.csv").status_code == 404


def test_the_next_session_invitation_carries_the_ratings_chart_in_its_pdf(app_ctx):
    import base64
    import json

    import pypdf

    coach, lead, _ = _journey(app_ctx, sessions=1)
    _book(lead, coach, NOW + timedelta(days=20))
    db.session.commit()
    first, second = _outbox(MailKind.LEADER_SESSION_CONFIRMED)

    def pdf_text(message: OutboxMessage) -> str:
        [pdf] = [a for a in json.loads(message.attachments_json) if a["filename"].endswith(".pdf")]
        reader = pypdf.PdfReader(io.BytesIO(base64.b64decode(pdf["data_b64"])))
        return " ".join(page.extract_text() for page in reader.pages)

    assert "Your ratings so far" not in pdf_text(first)  # before anything was held
    text = pdf_text(second)
    assert "Your ratings so far" in text
    assert "Compassionate" in text and "not rated" in text


def test_working_days_over_several_weeks_match_counting_day_by_day(app_ctx):
    settings = current_settings()
    start = datetime(2026, 3, 4, 10, 0, tzinfo=UTC)  # a Wednesday
    for offset in range(0, 40):
        end = start + timedelta(days=offset)
        expected = sum(1 for k in range(1, offset + 1) if (start + timedelta(days=k)).weekday() < 5)
        assert working_days_between(start, end, settings) == expected


def test_the_leaders_data_export_includes_ratings_notes_and_follow_up(app_ctx):
    from booking.workflow.privacy import export_person

    coach, lead, held, follow_up = _closed(app_ctx)
    save_session_note(
        held[0],
        coach,
        "Notes",
        "Actions",
        send_actions=False,
        now=NOW + timedelta(days=30),
        settings=current_settings(),
    )
    db.session.commit()
    [exported] = export_person(
        lead.email, now=NOW + timedelta(days=31), settings=current_settings()
    )["leads"]
    assert {(r["when"], r["dimension"], r["value"]) for r in exported["self_ratings"]} == {
        ("before", "compassionate", 2),
        ("before", "purpose-led", 3),
        ("before", "practical", 1),
    }
    assert exported["follow_up"]["due_at"] == follow_up.due_at.isoformat()
    assert exported["sessions"][0]["agreed_actions"] == "Actions"


def test_sessions_per_coach_and_the_organisation_filter(app_ctx):
    from booking.reports import organisations, sessions_per_coach

    # Five leaders at Riverside with two held sessions each; one at Eastgate with two.
    for n in range(1, 6):
        _journey(app_ctx, sessions=2, n=n)
    coach = db.session.scalar(select(Coach))
    other = add_lead(NOW, n=9, organisation="Eastgate Care")
    for k in range(2):
        session = _book(other, coach, NOW + timedelta(days=3 + 7 * k, hours=3))
        db.session.commit()
        _hold(other, coach, session)
    at = datetime(2026, 3, 31, tzinfo=UTC)
    [row] = sessions_per_coach(ReportFilters(), now=at).rows
    assert row == [coach.name, "2026-03", 12, 6]
    [row] = sessions_per_coach(ReportFilters(organisation="Riverside Hospitals"), now=at).rows
    assert row == [coach.name, "2026-03", 10, 5]
    [row] = sessions_per_coach(ReportFilters(organisation="Eastgate Care"), now=at).rows
    assert isinstance(row[2], Suppressed) and isinstance(row[3], Suppressed)
    # Only organisations with 5 or more leads can be chosen.
    assert organisations() == ["Riverside Hospitals"]


def test_the_promise_is_kept_by_local_days_across_midnight_in_summer_time(app_ctx):
    coach = add_coach(now=NOW)
    # Sunday 23:30 UTC is Monday 00:30 in London (BST): registered on Monday, so two working
    # days run to the end of Wednesday; contacted Wednesday 23:30 BST (22:30 UTC) is in time.
    # Counted in UTC days it would be late (registered Sunday: due by the end of Tuesday).
    registered = datetime(2026, 6, 7, 23, 30, tzinfo=UTC)
    for n in range(1, 6):
        lead = add_lead(registered, n=n)
        change_status(
            lead,
            LeadStatus.CONTACTED,
            coach=coach,
            reason="",
            now=datetime(2026, 6, 10, 22, 30, tzinfo=UTC),
            settings=current_settings(),
        )
    db.session.commit()
    table = first_contact(
        ReportFilters(), now=datetime(2026, 6, 30, tzinfo=UTC), settings=current_settings()
    )
    june = next(r for r in table.rows if r[0] == "2026-06")
    assert june[1:] == [5, 5, 100, 2.0]


def test_a_cancelled_next_session_hands_the_journey_back_to_held(app_ctx):
    from booking.workflow.scheduling import cancel_session

    coach, lead, _ = _journey(app_ctx, sessions=1)
    nxt = _book(lead, coach, NOW + timedelta(days=20))
    db.session.commit()
    cancel_session(nxt, coach, "Clash", NOW + timedelta(days=3), settings=current_settings())
    db.session.commit()
    assert lead.status == LeadStatus.HELD


def test_the_follow_up_link_is_refused_once_cancelled_and_the_withdraw_link_says_so(app, client):
    from booking import links

    with app.app_context():
        _, lead, _, follow_up = _closed(None)
        _run(follow_up.due_at)
        with app.test_request_context():
            follow_up_path = links.follow_up_url(follow_up).split(app.config["BASE_URL"], 1)[1]
            withdraw_path = links.withdraw_url(lead).split(app.config["BASE_URL"], 1)[1]
        withdraw(lead, reason="", now=follow_up.due_at, settings=current_settings())
        db.session.commit()
    assert client.get(follow_up_path).status_code == 404
    page = client.get(withdraw_path)
    assert page.status_code == 200
    assert "You have withdrawn" in page.get_data(as_text=True)

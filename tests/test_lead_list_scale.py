"""What keeps the lead list flat as leads grow, and keeps it right: the counts beside the status
filter come from lead_count, which triggers keep in step with every write to a lead (migration
0018); the list by next session merges the booked sessions (walked in time order) with the
leads that have none, so it must page across that seam and follow every change of a session.

Every test's teardown also checks lead_count against the leads (tests/conftest.py).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import delete, insert, select, text, update

from booking.coach.queries import LeadFilters, status_counts
from booking.extensions import db
from booking.models import (
    Coach,
    CoachingSession,
    Dimension,
    Lead,
    LeadStatus,
    SessionFormat,
    SessionStatus,
    utcnow,
)
from booking.settings import current_settings, set_clock
from booking.workflow.leads import assign, change_status
from booking.workflow.privacy import erase_person
from booking.workflow.registration import withdraw
from booking.workflow.scheduling import cancel_session, record_agreed_time, reschedule_session

from .coach_helpers import add_coach, add_lead, agree_by_phone, sign_in
from .conftest import lead_counts

NOW = datetime(2027, 3, 24, 10, tzinfo=UTC)
FILTERS = [
    {"status": "", "coach": "", "dimension": d} for d in ["", *(d.value for d in Dimension)]
] + [
    {"status": "", "coach": c, "dimension": d}
    for c in ("me", "none", "other")
    for d in ("", "practical", "compassionate")
]


@pytest.fixture
def coaches(app):
    set_clock(app, lambda: NOW)
    with app.app_context():
        me = add_coach(now=utcnow()).id
        other = add_coach("sam@example.org", "Sam Coach", now=utcnow()).id
    return me, other


def _expected(filters: dict[str, str], me: int, other: int) -> dict[str, int]:
    """The counts worked out from the leads themselves, in Python."""
    coach = {"me": me, "none": None, "other": other}.get(filters["coach"], "any")
    counts = {s.value: 0 for s in LeadStatus}
    for lead in db.session.scalars(select(Lead)):
        if coach != "any" and lead.assigned_coach_id != coach:
            continue
        if filters["dimension"] and filters["dimension"] not in lead.dimensions.split(","):
            continue
        counts[lead.status.value] += 1
    counts["open"] = sum(counts[s.value] for s in LeadStatus if s.is_open)
    counts[""] = sum(counts[s.value] for s in LeadStatus)
    return counts


def _check_counts(me_id: int, other_id: int) -> None:
    me = db.session.get(Coach, me_id)
    assert me is not None
    for raw in FILTERS:
        filters = LeadFilters.from_args(
            {**raw, "coach": str(other_id) if raw["coach"] == "other" else raw["coach"]}
        )
        assert status_counts(filters, me) == _expected(raw, me_id, other_id), raw


def test_status_counts_follow_every_kind_of_write(app, coaches):
    me_id, other_id = coaches
    with app.app_context():
        settings = current_settings()
        me = db.session.get(Coach, me_id)
        other = db.session.get(Coach, other_id)
        assert me is not None and other is not None
        # Registered (round-robin gives them coaches), each with its dimensions.
        leads = [
            add_lead(NOW - timedelta(days=3), n, dimensions=dims)
            for n, dims in enumerate(
                [
                    [Dimension.COMPASSIONATE, Dimension.PRACTICAL],
                    [Dimension.PRACTICAL],
                    [Dimension.NOT_SURE],
                    [Dimension.COMPASSIONATE, Dimension.PURPOSE_LED, Dimension.PRACTICAL],
                    [],
                ]
            )
        ]
        ids = [lead.id for lead in leads]
        _check_counts(me_id, other_id)

        # Moved by hand, handed on, booked, cancelled, withdrawn.
        change_status(
            db.session.get(Lead, ids[0]),
            LeadStatus.CONTACTED,
            coach=me,
            reason="",
            now=NOW,
            settings=settings,
        )
        lead = db.session.get(Lead, ids[1])
        assign(
            lead,
            other if lead.assigned_coach_id != other_id else me,
            actor=me,
            now=NOW,
            settings=settings,
        )
        session = record_agreed_time(
            db.session.get(Lead, ids[2]),
            me,
            NOW + timedelta(days=2),
            60,
            SessionFormat.VIDEO,
            "https://meet.example/m",
            NOW,
            settings=settings,
        )
        db.session.commit()
        _check_counts(me_id, other_id)
        cancel_session(session, me, "Ill", NOW, settings=settings)
        withdraw(db.session.get(Lead, ids[3]), reason="Too busy", now=NOW, settings=settings)
        db.session.commit()
        _check_counts(me_id, other_id)

        # Erased (closed as withdrawn, dimensions kept).
        erase_person(
            db.session.get(Lead, ids[4]).email, now=NOW, actor=me, by=me.name, settings=settings
        )
        db.session.commit()
        _check_counts(me_id, other_id)

        # An operator's SQL: several leads at once, then a lead deleted, then an unassigned one.
        db.session.execute(
            update(Lead)
            .where(Lead.id.in_(ids[:2]))
            .values(dimensions="purpose-led", status=LeadStatus.NOT_SUITABLE)
        )
        db.session.execute(update(Lead).where(Lead.id == ids[2]).values(assigned_coach_id=None))
        db.session.execute(delete(Lead).where(Lead.id == ids[3]))
        db.session.commit()
        _check_counts(me_id, other_id)

        # A change that is rolled back leaves the counts as they were.
        db.session.execute(update(Lead).values(status=LeadStatus.HELD))
        db.session.rollback()
        _check_counts(me_id, other_id)


def test_the_teardown_check_notices_counts_that_drift(app, coaches, database_url):
    with app.app_context():
        add_lead(NOW, 1)
        kept, counted = lead_counts(database_url)
        assert kept == counted and sum(counted.values()) == 1
        db.session.execute(text("UPDATE lead_count SET n = n + 1"))
        db.session.commit()
        kept, counted = lead_counts(database_url)
        assert kept != counted
        db.session.execute(text("UPDATE lead_count SET n = n - 1"))
        db.session.commit()


def test_the_migration_counts_the_leads_already_there(app, coaches, database_url):
    from flask_migrate import downgrade, upgrade

    me_id, other_id = coaches
    with app.app_context():
        add_lead(NOW, 1, dimensions=[Dimension.PRACTICAL])
        add_lead(NOW, 2, dimensions=[Dimension.COMPASSIONATE, Dimension.PRACTICAL])
        db.session.remove()
        downgrade(revision="0012")
        try:
            with db.engine.begin() as connection:
                assert "lead_count" not in {
                    name for (name,) in connection.execute(select_table_names(connection))
                }
                # Leads written while there were no triggers.
                connection.execute(
                    text("UPDATE lead SET status = 'contacted', assigned_coach_id = :c"),
                    {"c": other_id},
                )
        finally:
            upgrade()
        kept, counted = lead_counts(database_url)
        assert (
            kept
            == counted
            == {
                ("contacted", other_id, "practical"): 1,
                ("contacted", other_id, "compassionate,practical"): 1,
            }
        )
        _check_counts(me_id, other_id)


def select_table_names(connection):
    if connection.dialect.name == "postgresql":
        return text("select tablename from pg_tables where schemaname = 'public'")
    return text("select name from sqlite_master where type = 'table'")


# ----- the list by next session ------------------------------------------------------------


def _names(response) -> list[str]:
    assert response.status_code == 200
    return re.findall(r'<a href="/coach/leads/\d+">([^<]+)</a>', response.get_data(as_text=True))


def _link(response, rel: str) -> str:
    found = re.search(rf'rel="{rel}" href="([^"]+)"', response.get_data(as_text=True))
    return found.group(1).replace("&amp;", "&") if found else ""


def _book(lead_id: int, coach_id: int, start: datetime) -> CoachingSession:
    """A session agreed by the lead's coach (round-robin gave it one), else by `coach_id`."""
    lead = db.session.get(Lead, lead_id)
    assert lead is not None
    return agree_by_phone(
        lead_id, lead.assigned_coach_id or coach_id, start, now=NOW - timedelta(days=1)
    )


def test_the_next_session_order_follows_booking_moving_cancelling_and_holding(app, client, coaches):
    me_id, _ = coaches
    with app.app_context():
        settings = current_settings()
        a, b, c = (add_lead(NOW - timedelta(days=5), n, full_name=f"Leader {n}").id for n in "ABC")
    assert sign_in(client).status_code == 302
    path = "/coach/leads?status=&coach=&sort=next"

    assert _names(client.get(path)) == ["Leader A", "Leader B", "Leader C"]  # none: by id
    with app.app_context():
        booked_a = _book(a, me_id, NOW + timedelta(days=3)).id
        booked_b = _book(b, me_id, NOW + timedelta(days=1)).id
    assert _names(client.get(path)) == ["Leader B", "Leader A", "Leader C"]
    assert _names(client.get(path + "&dir=desc")) == ["Leader A", "Leader B", "Leader C"]

    with app.app_context():  # B moves to after A
        session = db.session.get(CoachingSession, booked_b)
        reschedule_session(
            session, session.coach, NOW + timedelta(days=4), 60, NOW, settings=settings
        )
        db.session.commit()
    assert _names(client.get(path)) == ["Leader A", "Leader B", "Leader C"]
    assert _names(client.get(path + "&dir=desc")) == ["Leader B", "Leader A", "Leader C"]

    with app.app_context():  # A's session is cancelled: A has none again
        session = db.session.get(CoachingSession, booked_a)
        cancel_session(session, session.coach, "Ill", NOW, settings=settings)
        db.session.commit()
    assert _names(client.get(path)) == ["Leader B", "Leader A", "Leader C"]

    with app.app_context():  # B's session starts, and is marked held: no next session
        db.session.execute(
            update(CoachingSession)
            .where(CoachingSession.id == booked_b)
            .values(starts_at=NOW - timedelta(hours=3), ends_at=NOW - timedelta(hours=2))
        )
        db.session.commit()
        change_status(
            db.session.get(Lead, b),
            LeadStatus.HELD,
            coach=db.session.get(CoachingSession, booked_b).coach,
            reason="",
            now=NOW,
            settings=settings,
        )
        db.session.commit()
        assert db.session.get(CoachingSession, booked_b).status == SessionStatus.HELD
        _book(c, me_id, NOW + timedelta(days=1))
    assert _names(client.get(path)) == ["Leader C", "Leader A", "Leader B"]
    # Those without one come last either way, by id (newest first when descending).
    assert _names(client.get(path + "&dir=desc")) == ["Leader C", "Leader B", "Leader A"]


@pytest.mark.parametrize("direction", ["asc", "desc"])
@pytest.mark.parametrize("coach_filter", ["", "me"])
def test_next_session_pages_cross_from_booked_leads_to_the_rest_and_back(
    app, client, coaches, direction, coach_filter
):
    """70 leads with a booked session (two coaches, so starts tie in pairs) and 65 without, in
    pages of 50 both ways: every lead once, in (session start, id) order, the leads without a
    session last by id, whichever way the sort runs."""
    me_id, other_id = coaches
    with app.app_context():
        rows = [
            {
                "created_at": NOW - timedelta(days=10),
                "updated_at": NOW - timedelta(days=10),
                "consent_at": NOW - timedelta(days=10),
                "full_name": f"Lead {i:03}",
                "email": f"lead{i}@x.example",
                "phone": None,
                "organisation": "Trust",
                "role": "Manager",
                "dimensions": "practical",
                "help_text": "",
                "availability": "",
                "preferred_format": SessionFormat.VIDEO,
                "status": LeadStatus.AGREED if i % 2 == 0 and i < 140 else LeadStatus.NEW,
                "status_reason": "",
                "assigned_coach_id": me_id,
            }
            for i in range(135)
        ]
        db.session.execute(insert(Lead), rows)
        leads = list(db.session.scalars(select(Lead).order_by(Lead.id)))
        booked = [lead for lead in leads if lead.status == LeadStatus.AGREED][:70]
        sessions = []
        for n, lead in enumerate(booked):
            # Out of id order, and two at each start (one per coach).
            starts = NOW + timedelta(hours=(n * 37) % 35 + 1)
            sessions.append(
                {
                    "lead_id": lead.id,
                    "coach_id": me_id if n % 2 else other_id,
                    "starts_at": starts,
                    "ends_at": starts + timedelta(minutes=30),
                    "format": SessionFormat.VIDEO,
                    "join_detail": "",
                    "uid": f"s{n}@x.example",
                    "sequence": 0,
                    "status": SessionStatus.BOOKED,
                    "cancel_reason": "",
                }
            )
        db.session.execute(insert(CoachingSession), sessions)
        db.session.commit()
        start_of = {s.lead_id: s.starts_at for s in db.session.scalars(select(CoachingSession))}
        name_of = {lead.id: lead.full_name for lead in leads}
    with_session = sorted(start_of, key=lambda i: (start_of[i], i), reverse=direction == "desc")
    without = sorted((i for i in name_of if i not in start_of), reverse=direction == "desc")
    expected = [name_of[i] for i in with_session + without]
    assert len(expected) == 135 and len(with_session) == 68

    assert sign_in(client).status_code == 302
    url = f"/coach/leads?status=&coach={coach_filter}&sort=next&dir={direction}"
    pages: list[list[str]] = []
    response = client.get(url)
    while True:
        pages.append(_names(response))
        following = _link(response, "next")
        if not following:
            break
        response = client.get(following)
    assert [len(p) for p in pages] == [50, 50, 35]
    assert sum(pages, []) == expected
    for page in reversed(pages[:-1]):
        response = client.get(_link(response, "prev"))
        assert _names(response) == page
    assert _link(response, "prev") == ""

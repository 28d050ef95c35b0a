"""Two bookings of one coach at overlapping (not identical) times, made at the same moment.

The workflow checks for a clash before it writes. On PostgreSQL two transactions can both pass
that check before either commits; the exclusion constraint (migration 0005) must then let only
one through, and the other person must get the friendly "that time was taken" answer, not a 500.

Each race runs real requests through the app in two threads, each with its own app context,
session and database connection. A SQLAlchemy `before_flush` hook holds each request at its
first write of a session's time until both have got there: by then both have run the clash
check and found nothing, which is exactly the window the constraint closes. Nothing inside the
app is replaced. (SQLite serialises writers with BEGIN IMMEDIATE, so there the check alone holds
and the window does not exist.)
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date, time, timedelta

import pytest
from sqlalchemy import event, inspect, select
from sqlalchemy.orm import Session

from booking.extensions import db
from booking.links import make_token
from booking.models import (
    Coach,
    CoachingSession,
    Lead,
    LeadStatus,
    OutboxMessage,
    Proposal,
    ProposalStatus,
    SessionFormat,
    SessionStatus,
    utcnow,
)
from booking.workflow.scheduling import local_start, propose_times, record_agreed_time

from .coach_helpers import add_coach, add_lead, csrf_token, fast_passwords, sign_in, slot  # noqa: F401
from .conftest import USING_POSTGRES, hidden_fields, parse

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(
        not USING_POSTGRES,
        reason="the race exists on PostgreSQL only (SQLite serialises writers); "
        "set TEST_DATABASE_URL to run it",
    ),
]

SOON = date.today() + timedelta(days=9)
FRIENDLY = ("that time was taken a moment ago", "was booked for another session a moment ago")


@contextmanager
def both_checked_before_either_writes() -> Iterator[tuple[set[int], list[str]]]:
    """Hold each racing thread at its first flush that writes a session's time (a new session,
    or a booked one moved) until the other has reached its own. Yields (the racing threads'
    ids, to fill in; problems seen)."""
    barrier = threading.Barrier(2)
    racers: set[int] = set()
    held: set[int] = set()
    problems: list[str] = []

    def writes_a_time(session: Session) -> bool:
        return any(isinstance(row, CoachingSession) for row in session.new) or any(
            isinstance(row, CoachingSession) and inspect(row).attrs.starts_at.history.has_changes()
            for row in session.dirty
        )

    def hold(session: Session, _context: object, _instances: object) -> None:
        me = threading.get_ident()
        if me not in racers or me in held or not writes_a_time(session):
            return
        held.add(me)
        try:
            barrier.wait(timeout=60)
        except threading.BrokenBarrierError:
            problems.append("only one request reached its write: the other was refused earlier")

    event.listen(Session, "before_flush", hold)
    try:
        yield racers, problems
    finally:
        event.remove(Session, "before_flush", hold)


def race(*requests: Callable[[], object]) -> list:
    """Run both requests at once (each in its own thread), held as above; their responses."""
    responses: list = [None, None]
    with both_checked_before_either_writes() as (racers, problems):

        def run(index: int) -> None:
            racers.add(threading.get_ident())
            responses[index] = requests[index]()

        threads = [threading.Thread(target=run, args=(i,)) for i in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(120)
        assert not any(thread.is_alive() for thread in threads), "a request never finished"
    assert problems == []
    return responses


def offer(app, n: int, hh: int, mm: int = 0) -> tuple[int, str, int]:
    """Lead n is offered one hour at hh:mm on SOON by Maya; (lead id, /choose/ path, time id)."""
    with app.app_context():
        now = utcnow()
        coach = db.session.scalar(select(Coach).where(Coach.email == "maya@example.org"))
        coach = coach or add_coach(now=now)
        lead = add_lead(now, n, email=f"leader{n}@nhs.example", full_name=f"Leader Number{n}")
        lead.assigned_coach = coach
        proposal = propose_times(lead, coach, [slot(SOON, hh, mm)], now)
        db.session.commit()
        return lead.id, f"/choose/{make_token('choose-time', proposal.id)}", proposal.times[0].id


def leader_picks(app, path: str, time_id: int) -> Callable[[], object]:
    client = app.test_client()
    data = {**hidden_fields(client.get(path).get_data(as_text=True)), "time": str(time_id)}
    return lambda: client.post(path, data=data)


def coach_posts(app, path: str, data: dict[str, str], page: str) -> Callable[[], object]:
    client = app.test_client()
    assert sign_in(client).status_code == 302
    data = {"csrf_token": csrf_token(client, page), **data}
    return lambda: client.post(path, data=data)


def booked(app) -> list[tuple[int, object, object]]:
    with app.app_context():
        return [
            (s.lead_id, s.starts_at, s.ends_at)
            for s in db.session.scalars(
                select(CoachingSession)
                .where(CoachingSession.status == SessionStatus.BOOKED)
                .order_by(CoachingSession.starts_at)
            )
        ]


def assert_one_won_and_the_other_was_told(responses) -> object:
    """One request went through (302), the other was refused kindly (409); the refusal."""
    assert sorted(r.status_code for r in responses) == [302, 409], [
        (r.status_code, parse(r).text[:300]) for r in responses
    ]
    refused = next(r for r in responses if r.status_code == 409)
    text = parse(refused).text
    assert any(words in text for words in FRIENDLY), text
    return refused


def assert_no_overlaps(sessions) -> None:
    for (_, _, end), (_, next_start, _) in zip(sessions, sessions[1:], strict=False):
        assert end <= next_start, f"overlapping bookings: {sessions}"


def test_two_leaders_pick_overlapping_times_at_once(app):
    first_id, first_path, first_time = offer(app, 1, 9)
    second_id, second_path, second_time = offer(app, 2, 9, 30)
    responses = race(
        leader_picks(app, first_path, first_time), leader_picks(app, second_path, second_time)
    )
    assert_one_won_and_the_other_was_told(responses)
    sessions = booked(app)
    assert len(sessions) == 1
    winner = sessions[0][0]
    loser = second_id if winner == first_id else first_id
    with app.app_context():
        # The loser's pick left nothing behind: their times are still open to answer.
        assert db.session.get(Lead, loser).status == LeadStatus.TIMES_PROPOSED
        assert (
            db.session.scalar(select(Proposal.status).where(Proposal.lead_id == loser))
            == ProposalStatus.OPEN
        )
        assert not db.session.scalars(
            select(OutboxMessage).where(
                OutboxMessage.lead_id == loser, OutboxMessage.kind == "leader_session_confirmed"
            )
        ).all()


def test_a_leader_and_the_coach_book_overlapping_times_at_once(app):
    _, path, time_id = offer(app, 1, 9)
    with app.app_context():
        other = add_lead(utcnow(), 2, email="leader2@nhs.example").id
    page = f"/coach/leads/{other}"
    agreed = {
        "agreed-day": SOON.isoformat(),
        "agreed-start": "09:45",
        "agreed-duration": "60",
        "agreed-format": "phone",
        "agreed-detail": "020 7946 0000",
    }
    responses = race(
        leader_picks(app, path, time_id), coach_posts(app, f"{page}/agreed", agreed, page)
    )
    assert_one_won_and_the_other_was_told(responses)
    assert len(booked(app)) == 1


def test_the_coach_moves_a_session_onto_a_time_a_leader_picks_at_once(app):
    _, path, time_id = offer(app, 1, 9)
    with app.app_context():
        now = utcnow()
        other = add_lead(now, 2, email="leader2@nhs.example")
        coach = db.session.scalar(select(Coach))
        session = record_agreed_time(
            other, coach, local_start(SOON, time(15)), 60, SessionFormat.PHONE, "0207", now
        )
        db.session.commit()
        session_id, other_id = session.id, other.id
    move = {
        f"move-{session_id}-day": SOON.isoformat(),
        f"move-{session_id}-start": "08:30",
        f"move-{session_id}-duration": "60",
    }
    responses = race(
        leader_picks(app, path, time_id),
        coach_posts(
            app, f"/coach/sessions/{session_id}/reschedule", move, f"/coach/leads/{other_id}"
        ),
    )
    assert_one_won_and_the_other_was_told(responses)
    sessions = booked(app)
    assert_no_overlaps(sessions)
    assert len(sessions) in (1, 2)

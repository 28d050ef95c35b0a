"""Two leaders take the same (or overlapping) free slot of one coach at the same moment: one
booking, the other a page offering the next free slots.

Real requests through the app in two threads, each with its own session and connection. On
PostgreSQL a `before_flush` hook (tests/test_overlapping_bookings.py `race`) holds each request
at its first write until both have got there, so both have checked the slot free: the unique
index / exclusion constraint must let one through. On SQLite writers are serialised (BEGIN
IMMEDIATE): the two requests are released together and the second sees the first's booking.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime

from sqlalchemy import select

from booking.extensions import db
from booking.links import leader_session_url
from booking.models import CoachingSession, Lead, LeadStatus, SessionStatus

from .conftest import USING_POSTGRES, hidden_fields, parse
from .test_overlapping_bookings import race
from .test_self_booking import NOW, book_path, make_lead, on, setup_coach, slot_values

__all__ = ["on"]  # the fixture, shared


def released_together(*requests: Callable[[], object]) -> list:
    barrier = threading.Barrier(len(requests))
    responses: list = [None] * len(requests)

    def run(index: int) -> None:
        barrier.wait(timeout=60)
        responses[index] = requests[index]()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(requests))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert not any(thread.is_alive() for thread in threads), "a request never finished"
    return responses


def at_once(*requests: Callable[[], object]) -> list:
    return race(*requests) if USING_POSTGRES else released_together(*requests)


def leader_takes(app, lead_id: int, starts: str) -> Callable[[], object]:
    client = app.test_client()
    path = book_path(app, lead_id)
    data = {**hidden_fields(client.get(path).get_data(as_text=True)), "starts": starts}
    return lambda: client.post(path, data=data)


def assert_one_booked_and_the_other_offered_the_next(responses, first_ok: int = 302) -> str:
    assert sorted(r.status_code for r in responses) == sorted([first_ok, 409]), [
        (r.status_code, parse(r).text[:300]) for r in responses
    ]
    refused = next(r for r in responses if r.status_code == 409)
    text = parse(refused).text
    assert "taken" in text and "There is a problem" in text
    return refused.get_data(as_text=True)


def test_two_leaders_take_one_slot_at_once(on):
    setup_coach(on)
    a, b = make_lead(on, n=1), make_lead(on, n=2)
    slot = "2026-12-08T10:00:00+00:00"
    responses = at_once(leader_takes(on, a, slot), leader_takes(on, b, slot))
    refused = assert_one_booked_and_the_other_offered_the_next(responses)
    with on.app_context():
        booked = db.session.scalars(
            select(CoachingSession).where(CoachingSession.status == SessionStatus.BOOKED)
        ).all()
        assert len(booked) == 1
        loser = b if booked[0].lead_id == a else a
        assert db.session.get(Lead, loser).status != LeadStatus.AGREED
        assert db.session.get(Lead, loser).assigned_coach_id == booked[0].coach_id
    # The loser is offered the next free slots, after the lost one.
    offered = slot_values(refused)
    assert offered and all(v > slot for v in offered)
    assert offered[0] == "2026-12-08T11:00:00+00:00"


def test_a_leader_books_while_another_moves_into_the_same_slot(on):
    setup_coach(on)
    a, b = make_lead(on, n=1), make_lead(on, n=2)
    client = on.test_client()
    path = book_path(on, b)
    data = {**hidden_fields(client.get(path).get_data(as_text=True))}
    assert (
        client.post(path, data={**data, "starts": "2026-12-09T09:00:00+00:00"}).status_code == 302
    )
    with on.app_context():
        moving = db.session.scalar(select(CoachingSession).where(CoachingSession.lead_id == b))
        move_path = "/session/" + leader_session_url(moving).rsplit("/session/", 1)[1] + "/move"
    mover = on.test_client()
    move_data = {**hidden_fields(mover.get(move_path).get_data(as_text=True))}
    slot = "2026-12-08T10:00:00+00:00"
    responses = at_once(
        leader_takes(on, a, slot),
        lambda: mover.post(move_path, data={**move_data, "starts": slot}),
    )
    # A booking answers with a redirect, a move with its "moved" page.
    codes = sorted(r.status_code for r in responses)
    assert codes in ([200, 409], [302, 409]), codes
    with on.app_context():
        at_slot = db.session.scalars(
            select(CoachingSession).where(
                CoachingSession.status == SessionStatus.BOOKED,
                CoachingSession.starts_at == datetime(2026, 12, 8, 10, tzinfo=UTC),
            )
        ).all()
        assert len(at_slot) == 1
    assert NOW < datetime(2026, 12, 8, 10, tzinfo=UTC)

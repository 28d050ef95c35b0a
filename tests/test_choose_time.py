"""The leader's choose-a-time link: what it shows, what a pick does, and every way it is refused
cleanly (tampered, expired, wrong purpose, another leader's time, a slot taken at the same
moment, a double click) with nothing changed and no personal data shown."""

from __future__ import annotations

import re
import threading
import time as time_module
from datetime import date, timedelta

import pytest
from sqlalchemy import func, select

from booking.extensions import db
from booking.links import make_token
from booking.models import (
    Coach,
    CoachingSession,
    Lead,
    LeadEvent,
    LeadStatus,
    OutboxMessage,
    Proposal,
    ProposalStatus,
    utcnow,
)
from booking.workflow import withdraw
from booking.workflow.scheduling import propose_times

from .coach_helpers import add_coach, add_lead, fast_passwords, slot  # noqa: F401
from .conftest import hidden_fields, parse

SOON = date.today() + timedelta(days=9)


def offer(
    app, n: int = 1, hours: tuple[int, ...] = (9, 11, 14), coach_email: str = "maya@example.org"
) -> tuple[int, str, list[int]]:
    """Lead n gets times from the coach; returns (lead id, the /choose/ path, time ids)."""
    with app.app_context():
        now = utcnow()
        coach = db.session.scalar(select(Coach).where(Coach.email == coach_email)) or add_coach(
            coach_email, "Maya Coach", now=now
        )
        lead = add_lead(now, n, email=f"leader{n}@nhs.example", full_name=f"Leader Number{n}")
        lead.assigned_coach = coach
        proposal = propose_times(lead, coach, [slot(SOON, h) for h in hours], now)
        db.session.commit()
        mail = db.session.scalars(
            select(OutboxMessage).where(
                OutboxMessage.kind == "leader_proposed_times", OutboxMessage.lead_id == lead.id
            )
        ).one()
        path = re.search(r"http://booking\.test(/choose/\S+)", mail.body_text)[1]
        return lead.id, path, [t.id for t in proposal.times]


def snapshot(app) -> tuple:
    """Everything a pick could change."""
    with app.app_context():
        count = lambda model: db.session.scalar(select(func.count()).select_from(model))  # noqa: E731
        return (
            count(CoachingSession),
            count(LeadEvent),
            count(OutboxMessage),
            sorted((p.id, p.status.value) for p in db.session.scalars(select(Proposal))),
            sorted((lead.id, lead.status.value) for lead in db.session.scalars(select(Lead))),
        )


def pick(client, path: str, time_id: int | str):
    data = hidden_fields(client.get(path).get_data(as_text=True))
    data["time"] = str(time_id)
    return client.post(path, data=data)


# ----- the happy path -------------------------------------------------------------------------


def test_viewing_lists_local_times_and_changes_nothing(app, client):
    _, path, _ = offer(app, hours=(9, 14))
    before = snapshot(app)
    response = client.get(path)
    assert response.status_code == 200
    page = parse(response)
    day = f"{SOON:%A} {SOON.day} {SOON:%B %Y}"
    label = page.labels[0][0]
    assert label.startswith(f"{day}, 09:00–10:00 ") and label.endswith("– Video call")
    assert re.search(r"(GMT|BST) – Video call", label)
    assert "Maya Coach has offered these times" in page.text
    client.get(path)
    assert snapshot(app) == before
    assert "Leader Number1" not in page.text  # nothing personal on the page


def test_picking_books_and_both_confirmations_are_queued(app, client):
    lead_id, path, times = offer(app)
    response = pick(client, path, times[1])
    assert response.status_code == 302 and response.headers["Location"] == path
    done = client.get(path)
    assert done.status_code == 200
    assert "Your session is booked" in parse(done).text
    assert "11:00" in parse(done).text
    with app.app_context():
        lead = db.session.get(Lead, lead_id)
        assert lead.status == LeadStatus.AGREED
        session = db.session.scalars(select(CoachingSession)).one()
        assert session.proposed_time_id == times[1]
        kinds = [
            m.kind
            for m in db.session.scalars(
                select(OutboxMessage).where(OutboxMessage.session_id == session.id)
            )
        ]
        assert (
            kinds.count("coach_session_confirmed") == kinds.count("leader_session_confirmed") == 1
        )


def test_the_link_again_after_picking_says_what_happened(app, client):
    _, path, times = offer(app)
    form = hidden_fields(client.get(path).get_data(as_text=True))
    assert client.post(path, data={**form, "time": str(times[0])}).status_code == 302
    before = snapshot(app)
    # A second click, or the same form sent again: the booking is shown, nothing else happens.
    again = client.post(path, data={**form, "time": str(times[2])})
    assert again.status_code == 200
    assert "Your session is booked" in parse(again).text
    assert snapshot(app) == before


def test_none_suit_goes_back_to_the_coach(app, client):
    lead_id, path, _ = offer(app)
    data = hidden_fields(client.get(path).get_data(as_text=True))
    empty = client.post(path + "/none-suit", data={**data, "note": "   "})
    assert empty.status_code == 400
    assert "Tell your coach which days and times would suit you" in parse(empty).text
    response = client.post(path + "/none-suit", data={**data, "note": "Fridays after 3pm"})
    assert response.status_code == 302
    assert "we have told your coach" in parse(client.get(path)).text
    with app.app_context():
        assert db.session.get(Lead, lead_id).status == LeadStatus.CONTACTED
        [mail] = db.session.scalars(
            select(OutboxMessage).where(OutboxMessage.kind == "coach_none_suit")
        ).all()
        assert mail.recipients == ["maya@example.org"]
        assert "Fridays after 3pm" in mail.body_text


# ----- refused cleanly ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "tamper",
    [
        lambda t: t[:-3] + ("AAA" if not t.endswith("AAA") else "BBB"),
        lambda t: "x" + t,
        lambda t: t.split(".")[0],
    ],
)
def test_tampered_token(app, client, tamper):
    _, path, times = offer(app)
    token = path.removeprefix("/choose/")
    bad = f"/choose/{tamper(token)}"
    before = snapshot(app)
    for response in (
        client.get(bad),
        client.post(bad, data={"time": str(times[0])}),
        client.post(bad + "/none-suit", data={"note": "x"}),
    ):
        assert response.status_code in (400, 404)  # 400: the CSRF check, 404: the token
        assert "Leader Number1" not in response.get_data(as_text=True)
    response = client.get(bad)
    assert response.status_code == 404 and "This link is not valid" in parse(response).text
    assert snapshot(app) == before


def test_expired_token(app, client, monkeypatch):
    _, path, times = offer(app)
    with app.app_context():
        proposal_id = db.session.scalars(select(Proposal.id)).one()
        real = time_module.time
        monkeypatch.setattr(time_module, "time", lambda: real() - 31 * 24 * 3600)
        token = make_token("choose-time", proposal_id)
        monkeypatch.setattr(time_module, "time", real)
    before = snapshot(app)
    response = client.get(f"/choose/{token}")
    assert response.status_code == 410
    assert "This link has expired" in parse(response).text
    csrf = hidden_fields(client.get(path).get_data(as_text=True))
    posted = client.post(f"/choose/{token}", data={**csrf, "time": str(times[0])})
    assert posted.status_code == 410
    assert snapshot(app) == before


def test_token_made_for_another_purpose(app, client):
    lead_id, path, times = offer(app)
    with app.app_context():
        proposal_id = db.session.scalars(select(Proposal.id)).one()
        withdraw_token = make_token("withdraw", {"lead": lead_id})
        same_payload_other_purpose = make_token("withdraw", proposal_id)
    before = snapshot(app)
    csrf = hidden_fields(client.get(path).get_data(as_text=True))
    for token in (withdraw_token, same_payload_other_purpose):
        assert client.get(f"/choose/{token}").status_code == 404
        response = client.post(f"/choose/{token}", data={**csrf, "time": str(times[0])})
        assert response.status_code == 404
        assert "This link is not valid" in parse(response).text
    # And the other way round: a choose link is no withdraw link.
    choose_token = path.removeprefix("/choose/")
    assert client.get(f"/withdraw/{choose_token}").status_code == 404
    assert snapshot(app) == before


def test_a_token_for_a_proposal_that_does_not_exist(app, client):
    offer(app)
    with app.app_context():
        token = make_token("choose-time", 999_999)
    assert client.get(f"/choose/{token}").status_code == 404


def test_another_leaders_time_cannot_be_picked_through_my_link(app, client):
    _, my_path, _ = offer(app, 1, hours=(9,))
    other_id, _, other_times = offer(app, 2, hours=(15,))
    before = snapshot(app)
    response = pick(client, my_path, other_times[0])
    assert response.status_code == 400
    text = response.get_data(as_text=True)
    assert "Choose one of the times below." in parse(response).text
    assert "Leader Number2" not in text and "leader2@nhs.example" not in text
    assert "15:00" not in text
    assert pick(client, my_path, "not-a-number").status_code == 400
    assert snapshot(app) == before


def test_a_replaced_proposal_link(app, client):
    lead_id, old_path, _ = offer(app)
    with app.app_context():
        lead = db.session.get(Lead, lead_id)
        propose_times(lead, lead.assigned_coach, [slot(SOON, 16)], utcnow())
        db.session.commit()
    before = snapshot(app)
    response = client.get(old_path)
    assert response.status_code == 409
    assert "replaced" in parse(response).text
    assert snapshot(app) == before


def test_a_withdrawn_leaders_link(app, client):
    lead_id, path, times = offer(app)
    csrf = hidden_fields(client.get(path).get_data(as_text=True))
    with app.app_context():
        withdraw(db.session.get(Lead, lead_id), reason="", now=utcnow())
        db.session.commit()
    before = snapshot(app)
    response = client.post(path, data={**csrf, "time": str(times[0])})
    assert response.status_code == 409
    assert "You withdrew your interest" in parse(response).text
    assert snapshot(app) == before


def test_post_without_csrf_token_changes_nothing(app, client):
    _, path, times = offer(app)
    before = snapshot(app)
    assert client.post(path, data={"time": str(times[0])}).status_code == 400
    assert snapshot(app) == before


# ----- one slot, two leaders ---------------------------------------------------------------------


def test_second_leader_picking_a_taken_slot_is_told_kindly(app, make_app):
    first_id, first_path, first_times = offer(app, 1, hours=(9, 11))
    second_id, second_path, second_times = offer(app, 2, hours=(9, 13))
    first, second = app.test_client(), app.test_client()
    assert pick(first, first_path, first_times[0]).status_code == 302
    response = pick(second, second_path, second_times[0])
    assert response.status_code == 409
    text = parse(response).text
    assert "that time has just been taken" in text
    assert "Leader Number1" not in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.get(Lead, second_id).status == LeadStatus.TIMES_PROPOSED
        assert (
            db.session.scalars(select(Proposal.status).where(Proposal.lead_id == second_id)).one()
            == ProposalStatus.OPEN
        )
    # The other time is still there to pick.
    assert pick(second, second_path, second_times[1]).status_code == 302


def test_the_database_index_stops_a_pick_that_raced_past_the_check(app, monkeypatch):
    """Both requests checked for a clash before either wrote: the unique index decides."""
    from booking.workflow import scheduling

    _, first_path, first_times = offer(app, 1, hours=(9,))
    second_id, second_path, second_times = offer(app, 2, hours=(9,))
    first, second = app.test_client(), app.test_client()
    assert pick(first, first_path, first_times[0]).status_code == 302
    before = snapshot(app)
    monkeypatch.setattr(scheduling, "_clash", lambda *args, **kwargs: None)
    response = pick(second, second_path, second_times[0])
    assert response.status_code == 409
    assert "taken a moment ago" in parse(response).text
    assert snapshot(app) == before


def _race(app, requests: list[tuple[str, int]]) -> list[int]:
    """Post several picks at the same moment from separate clients and threads."""
    clients = [app.test_client() for _ in requests]
    payloads = []
    for client, (path, time_id) in zip(clients, requests, strict=True):
        data = hidden_fields(client.get(path).get_data(as_text=True))
        payloads.append({**data, "time": str(time_id)})
    barrier = threading.Barrier(len(requests))
    statuses: list[int] = [0] * len(requests)

    def run(index: int) -> None:
        barrier.wait()
        statuses[index] = clients[index].post(requests[index][0], data=payloads[index]).status_code

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(requests))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    return statuses


def test_two_leaders_pick_one_slot_at_the_same_moment(app):
    _, first_path, first_times = offer(app, 1, hours=(9,))
    _, second_path, second_times = offer(app, 2, hours=(9,))
    statuses = _race(app, [(first_path, first_times[0]), (second_path, second_times[0])])
    assert sorted(statuses) == [302, 409]
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(CoachingSession)) == 1


def test_a_double_click_books_once(app):
    _, path, times = offer(app, 1, hours=(9,))
    statuses = _race(app, [(path, times[0]), (path, times[0])])
    assert 302 in statuses and all(s in (200, 302) for s in statuses)
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(CoachingSession)) == 1
        assert (
            db.session.scalar(
                select(func.count())
                .select_from(OutboxMessage)
                .where(OutboxMessage.kind == "leader_session_confirmed")
            )
            == 1
        )

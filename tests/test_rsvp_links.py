"""Accept / Decline links in invitations: a GET shows a page and changes nothing; a POST answers."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from itsdangerous import URLSafeTimedSerializer
from itsdangerous.timed import TimestampSigner
from sqlalchemy import func, select

from booking.extensions import db
from booking.links import make_token, rsvp_url
from booking.models import LeadEvent, OutboxMessage, PartStat, SessionStatus, utcnow

from .conftest import hidden_fields
from .invite_helpers import make_session


def path_of(url: str) -> str:
    return url.removeprefix("http://booking.test")


@pytest.fixture
def session(app_ctx):
    made = make_session(starts_at=utcnow() + timedelta(days=5))
    db.session.commit()
    return made


def count(model) -> int:
    return int(db.session.scalar(select(func.count()).select_from(model)))


def test_opening_the_link_changes_nothing(session, client):
    page = client.get(path_of(rsvp_url(session, "leader", PartStat.ACCEPTED)))
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "Will you be there?" in html
    for word in ("Accept", "Maybe (tentative)", "Decline"):
        assert word in html
    assert "Not answered" not in html and "Has not answered" in html
    db.session.expire_all()
    assert session.leader_partstat == PartStat.NEEDS_ACTION
    assert count(LeadEvent) == 0 and count(OutboxMessage) == 0


def test_posting_an_answer_records_it(session, client):
    url = path_of(rsvp_url(session, "coach"))
    form = hidden_fields(client.get(url).get_data(as_text=True))
    done = client.post(url, data={**form, "answer": "ACCEPTED"})
    assert done.status_code == 200
    assert "Thank you: you accepted" in done.get_data(as_text=True)
    db.session.expire_all()
    assert session.coach_partstat == PartStat.ACCEPTED
    assert session.leader_partstat == PartStat.NEEDS_ACTION
    event = db.session.scalars(select(LeadEvent)).one()
    assert event.kind == "session-answer" and event.detail["source"] == "email link"

    # Both accept: the history says so.
    url = path_of(rsvp_url(session, "leader"))
    form = hidden_fields(client.get(url).get_data(as_text=True))
    client.post(url, data={**form, "answer": "ACCEPTED"})
    last = db.session.scalars(select(LeadEvent).order_by(LeadEvent.id.desc())).first()
    assert last.summary.endswith("accepted by both")


def test_leader_declining_tells_the_coach(session, client):
    url = path_of(rsvp_url(session, "leader", PartStat.DECLINED))
    page = client.get(url).get_data(as_text=True)
    done = client.post(url, data={**hidden_fields(page), "answer": "DECLINED"})
    assert "you declined" in done.get_data(as_text=True)
    db.session.expire_all()
    assert session.leader_partstat == PartStat.DECLINED
    assert db.session.scalars(select(LeadEvent.kind)).one() == "session-declined"
    assert db.session.scalars(select(OutboxMessage.kind)).one() == "coach_session_declined"


def test_post_needs_the_form_token(session, client):
    url = path_of(rsvp_url(session, "leader"))
    assert client.post(url, data={"answer": "ACCEPTED"}).status_code == 400
    form = hidden_fields(client.get(url).get_data(as_text=True))
    assert client.post(url, data={**form, "answer": "MAYBE-LATER"}).status_code == 400
    db.session.expire_all()
    assert session.leader_partstat == PartStat.NEEDS_ACTION


def test_tampered_token_is_refused_with_a_friendly_page(session, client):
    good = path_of(rsvp_url(session, "leader"))
    tampered = good[:-3] + ("aaa" if not good.endswith("aaa") else "bbb")
    page = client.get(tampered)
    assert page.status_code == 404
    assert "This link is not valid" in page.get_data(as_text=True)
    assert client.post(tampered, data={"answer": "ACCEPTED"}).status_code in (400, 404)


def test_token_for_another_purpose_is_refused(session, client):
    token = make_token("questionnaire", {"session": session.id, "role": "leader"})
    page = client.get(f"/rsvp/{token}")
    assert page.status_code == 404
    assert "This link is not valid" in page.get_data(as_text=True)
    # And a role the token never named is refused too.
    odd = make_token("rsvp", {"session": session.id, "role": "organiser"})
    assert client.get(f"/rsvp/{odd}").status_code == 404


def test_expired_token_is_refused(session, client, app):
    class LongAgoSigner(TimestampSigner):
        def get_timestamp(self) -> int:
            return int(time.time()) - 400 * 24 * 3600

    old = URLSafeTimedSerializer(
        app.config["SECRET_KEY"], salt="booking.rsvp", signer=LongAgoSigner
    )
    token = old.dumps({"session": session.id, "role": "leader"})
    page = client.get(f"/rsvp/{token}")
    assert page.status_code == 410  # the standard refusal for an expired link (links.py)
    assert "This link has expired" in page.get_data(as_text=True)


def test_cancelled_or_past_sessions_cannot_be_answered(session, client):
    url = path_of(rsvp_url(session, "leader"))
    form = hidden_fields(client.get(url).get_data(as_text=True))
    session.status = SessionStatus.CANCELLED
    db.session.commit()
    page = client.get(url)
    assert page.status_code == 200 and "This session was cancelled" in page.get_data(as_text=True)
    assert client.post(url, data={**form, "answer": "ACCEPTED"}).status_code == 409

    session.status = SessionStatus.BOOKED
    session.starts_at = utcnow() - timedelta(hours=3)
    session.ends_at = utcnow() - timedelta(hours=2)
    db.session.commit()
    assert "already taken place" in client.get(url).get_data(as_text=True)
    assert client.post(url, data={**form, "answer": "ACCEPTED"}).status_code == 409
    db.session.expire_all()
    assert session.leader_partstat == PartStat.NEEDS_ACTION

"""Every signed link refuses the same way for the same cause (booking/links.py).

invalid (tampered, another purpose's token, a row that does not exist) → 404, expired → 410,
used or replaced → 409, always with the one link_problem page. The tokens here are signed the
way links already in people's inboxes were (URLSafeTimedSerializer, salt "booking.<purpose>"),
so these tests also hold the signing compatible.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any
from urllib.parse import urlsplit

import pytest
from itsdangerous import TimestampSigner, URLSafeTimedSerializer

from booking import links
from booking.extensions import db
from booking.models import Coach, CoachingSession, Lead, PartStat, Proposal, SessionFormat, utcnow
from booking.passwords import fingerprint
from booking.settings import current_settings
from booking.workflow.accounts import set_password
from booking.workflow.scheduling import propose_times, record_agreed_time

from .coach_helpers import add_coach, add_lead, slot
from .conftest import parse

SOON = date.today() + timedelta(days=9)
UNKNOWN = 999_999


@dataclass(frozen=True)
class Rows:
    coach: int
    lead: int  # has a booked session
    proposal: int  # another lead's open proposal
    session: int
    password_fingerprint: str


@pytest.fixture
def rows(app) -> Rows:
    with app.app_context():
        now = utcnow()
        coach = add_coach(now=now)
        proposed = add_lead(now, 1)
        proposal = propose_times(
            proposed, coach, [slot(SOON, 10)], now, settings=current_settings()
        )
        booked = add_lead(now, 2)
        coach = db.session.get(Coach, coach.id)
        session = record_agreed_time(
            booked,
            coach,
            now + timedelta(days=10),
            60,
            SessionFormat.VIDEO,
            "https://meet.example/abc",
            now,
            settings=current_settings(),
        )
        db.session.commit()
        return Rows(coach.id, booked.id, proposal.id, session.id, fingerprint(coach.password_hash))


# purpose -> (path before the token, the payload of a good link, a payload naming no row)
PURPOSES: dict[str, tuple[str, Any, Any]] = {
    "withdraw": ("/withdraw/", lambda r: {"lead": r.lead}, {"lead": UNKNOWN}),
    "choose-time": ("/choose/", lambda r: r.proposal, UNKNOWN),
    "rsvp": (
        "/rsvp/",
        lambda r: {"session": r.session, "role": "leader"},
        {"session": UNKNOWN, "role": "leader"},
    ),
    "leader-session": ("/session/", lambda r: {"session": r.session}, {"session": UNKNOWN}),
    "questionnaire": ("/questionnaire/", lambda r: {"session": r.session}, {"session": UNKNOWN}),
    "password-reset": (
        "/coach/password-reset/",
        lambda r: {"coach": r.coach, "fp": r.password_fingerprint},
        {"coach": UNKNOWN, "fp": "x"},
    ),
    "set-password": (
        "/coach/set-password/",
        lambda r: {"coach": r.coach, "fp": r.password_fingerprint},
        {"coach": UNKNOWN, "fp": "x"},
    ),
}


def sign(app, purpose: str, payload: Any, age_days: int = 0) -> str:
    class Signer(TimestampSigner):
        def get_timestamp(self) -> int:
            return int(time.time()) - age_days * 24 * 3600

    serializer = URLSafeTimedSerializer(
        app.config["SECRET_KEY"], salt=f"booking.{purpose}", signer=Signer
    )
    return str(serializer.dumps(payload))


def heading(response: Any) -> str:
    return " ".join("".join(parse(response).all("h1")[0]["text"]).split())


def tampered(token: str) -> str:
    return token[:-3] + ("aaa" if not token.endswith("aaa") else "bbb")


def other_purpose(purpose: str) -> str:
    return "rsvp" if purpose != "rsvp" else "questionnaire"


CAUSES = {
    # cause -> (status, heading)
    "expired": (410, "This link has expired"),
    "tampered": (404, "This link is not valid"),
    "unknown row": (404, "This link is not valid"),
    "another purpose": (404, "This link is not valid"),
}


def bad_path(app, rows: Rows, purpose: str, cause: str) -> str:
    prefix, good, unknown = PURPOSES[purpose]
    if cause == "expired":
        token = sign(app, purpose, good(rows), age_days=400)  # older than any link lives
    elif cause == "tampered":
        token = tampered(sign(app, purpose, good(rows)))
    elif cause == "unknown row":
        token = sign(app, purpose, unknown)
    else:
        token = sign(app, other_purpose(purpose), good(rows))
    return prefix + token


@pytest.mark.parametrize("purpose", PURPOSES)
def test_a_good_link_opens_its_page(app, client, rows, purpose):
    prefix, good, _ = PURPOSES[purpose]
    response = client.get(prefix + sign(app, purpose, good(rows)))
    assert response.status_code == 200
    assert "This link cannot be used" not in response.get_data(as_text=True)


@pytest.mark.parametrize("cause", CAUSES)
@pytest.mark.parametrize("purpose", PURPOSES)
def test_a_refused_link_gets_the_standard_page(app, client, rows, purpose, cause):
    status, expected = CAUSES[cause]
    response = client.get(bad_path(app, rows, purpose, cause))
    assert response.status_code == status
    assert heading(response) == expected
    assert "This link cannot be used" in response.get_data(as_text=True)  # the page's title


@pytest.mark.parametrize("cause", CAUSES)
def test_the_same_cause_gives_the_same_page_for_every_purpose(app, client, rows, cause):
    pages = {
        purpose: client.get(bad_path(app, rows, purpose, cause)).get_data(as_text=True)
        for purpose in PURPOSES
    }
    assert len(set(pages.values())) == 1, f"{cause}: pages differ between {list(pages)}"


def test_a_used_link_is_409(app, client, rows):
    _, good, _ = PURPOSES["password-reset"]
    token = sign(app, "password-reset", good(rows))
    with app.app_context():
        set_password(
            db.session.get(Coach, rows.coach), "a brand new password", settings=current_settings()
        )
        db.session.commit()
    response = client.get(f"/coach/password-reset/{token}")
    assert response.status_code == 409
    assert heading(response) == "This link has already been used"


def test_a_replaced_link_is_409(app, client, rows):
    old = f"/choose/{sign(app, 'choose-time', rows.proposal)}"
    with app.app_context():
        proposal = db.session.get(Proposal, rows.proposal)
        assert proposal is not None
        coach = db.session.get(Coach, rows.coach)
        propose_times(proposal.lead, coach, [slot(SOON, 15)], utcnow(), settings=current_settings())
        db.session.commit()
    response = client.get(old)
    assert response.status_code == 409
    assert heading(response) == "This link has been replaced"


def test_every_link_is_built_on_base_url_and_reaches_its_page(app, rows):
    """links.py builds URLs from known paths (no URL map needed); the blueprints must agree."""
    with app.app_context():
        lead = db.session.get(Lead, rows.lead)
        proposal = db.session.get(Proposal, rows.proposal)
        session = db.session.get(CoachingSession, rows.session)
        coach = db.session.get(Coach, rows.coach)
        assert lead and proposal and session and coach
        built = {
            "public.withdraw": (links.withdraw_url(lead), "withdraw"),
            "public.choose_time": (links.choose_url(proposal), "choose-time"),
            "public.rsvp": (links.rsvp_url(session, "coach", PartStat.DECLINED), "rsvp"),
            "public.leader_session": (links.leader_session_url(session), "leader-session"),
            "public.questionnaire": (links.questionnaire_url(session), "questionnaire"),
            "coach.password_reset": (links.password_reset_url(coach), "password-reset"),
            "coach.set_password": (links.set_password_url(coach), "set-password"),
            "coach.lead_detail": (links.coach_lead_url(lead.id), None),
        }
        adapter = app.url_map.bind("booking.test")
        for endpoint, (url, purpose) in built.items():
            assert url.startswith(app.config["BASE_URL"] + "/")
            parts = urlsplit(url)
            matched, values = adapter.match(parts.path, method="GET")
            assert matched == endpoint, url
            if purpose is not None:
                assert links.read_token(purpose, values["token"])  # its own purpose
        assert urlsplit(built["public.rsvp"][0]).query == "answer=declined"

"""What the coach area shows about invitations: each party's answer, "Accepted by both", a
declined invitation (on the session, in a banner at the top of the lead's page, and in the lead
list), and the leader's reflection answers worded as the questionnaire file words them."""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path

import pytest

from booking.extensions import db
from booking.models import CoachingSession, PartStat, SessionFormat, utcnow
from booking.questionnaire import DEFAULT_FILE, load_questionnaire
from booking.settings import current_settings
from booking.workflow.responses import record_partstat, save_questionnaire
from booking.workflow.scheduling import cancel_session, record_agreed_time

from .coach_helpers import (  # noqa: F401
    add_coach,
    add_lead,
    count_statements,
    sign_in,
)
from .conftest import Page, parse

SOON = date.today() + timedelta(days=9)


@pytest.fixture
def coach(app):
    with app.app_context():
        return add_coach(now=utcnow()).id


@pytest.fixture
def signed_in(client, coach):
    assert sign_in(client).status_code == 302
    return client


def book(app, n: int = 1, days: int = 9) -> tuple[int, int]:
    """A lead with a booked session (invitations sent); returns (lead id, session id)."""
    with app.app_context():
        now = utcnow()
        lead = add_lead(now, n, full_name=f"Amara Okafor {n}")
        coach = db.session.get(type(lead.assigned_coach), lead.assigned_coach_id)
        session = record_agreed_time(
            lead,
            coach,
            now + timedelta(days=days, hours=n),
            60,
            SessionFormat.VIDEO,
            "https://meet.example/maya",
            now,
            settings=current_settings(),
        )
        db.session.commit()
        return lead.id, session.id


def answer(app, session_id: int, role: str, partstat: PartStat) -> None:
    with app.app_context():
        session = db.session.get(CoachingSession, session_id)
        record_partstat(
            session, role, partstat, utcnow(), source="test", settings=current_settings()
        )
        db.session.commit()


def element_text(page: Page, element_id: str) -> str:
    element = page.by_id(element_id)
    assert element is not None, f"no #{element_id}"
    return " ".join(" ".join(element["text"]).split())


def lead_page(client, lead_id: int) -> Page:
    response = client.get(f"/coach/leads/{lead_id}")
    assert response.status_code == 200
    return parse(response)


# ----- each party's answer ---------------------------------------------------------------------


def test_a_new_invitation_shows_both_parties_have_not_answered(app, signed_in):
    lead_id, session_id = book(app)
    page = lead_page(signed_in, lead_id)
    panel = element_text(page, f"session-{session_id}")
    assert "Amara Okafor 1 (leader) Has not answered" in panel
    assert "Maya Coach (coach) Has not answered" in panel
    assert "Accepted by both" not in panel
    assert page.by_id("declined-banner") is None


def test_each_answer_is_shown_in_words_and_accepted_by_both_when_it_is(app, signed_in):
    lead_id, session_id = book(app)
    answer(app, session_id, "leader", PartStat.ACCEPTED)
    panel = element_text(lead_page(signed_in, lead_id), f"session-{session_id}")
    assert "Amara Okafor 1 (leader) Accepted" in panel
    assert "Maya Coach (coach) Has not answered" in panel
    assert "Accepted by both" not in panel

    answer(app, session_id, "coach", PartStat.TENTATIVE)
    panel = element_text(lead_page(signed_in, lead_id), f"session-{session_id}")
    assert "Maya Coach (coach) Tentatively accepted" in panel
    assert "Accepted by both" not in panel

    answer(app, session_id, "coach", PartStat.ACCEPTED)
    page = lead_page(signed_in, lead_id)
    panel = element_text(page, f"session-{session_id}")
    assert "Maya Coach (coach) Accepted" in panel
    tags = [
        " ".join("".join(e["text"]).split())
        for e in page.elements
        if "tag--ok" in e["attrs"].get("class", "")
    ]
    assert "Accepted by both" in tags


# ----- a declined invitation, prominently ------------------------------------------------------


def test_a_declined_invitation_is_a_warning_on_the_session_and_a_banner_at_the_top(app, signed_in):
    lead_id, session_id = book(app)
    answer(app, session_id, "leader", PartStat.DECLINED)
    response = signed_in.get(f"/coach/leads/{lead_id}")
    html = response.get_data(as_text=True)
    page = parse(response)

    panel = element_text(page, f"session-{session_id}")
    assert "Declined by the leader" in panel
    assert "Amara Okafor 1 (leader) Declined" in panel
    warnings = [
        " ".join("".join(e["text"]).split())
        for e in page.elements
        if "tag--warning" in e["attrs"].get("class", "")
    ]
    assert "Declined by the leader" in warnings

    banner = element_text(page, "declined-banner")
    assert banner.startswith("Invitation declined")
    assert "Amara Okafor 1 (the leader) declined the session on" in banner
    # Near the top: above what the leader told us, and it links to the session to act on.
    assert html.index('id="declined-banner"') < html.index('id="details"')
    links = [e["attrs"]["href"] for e in page.all("a") if "Move or cancel" in "".join(e["text"])]
    assert links == [f"#session-{session_id}"]


def test_a_coach_who_declines_is_shown_too(app, signed_in):
    lead_id, session_id = book(app)
    answer(app, session_id, "coach", PartStat.DECLINED)
    page = lead_page(signed_in, lead_id)
    assert "Maya Coach (the coach) declined" in element_text(page, "declined-banner")
    assert "Declined by the coach" in element_text(page, f"session-{session_id}")


def test_the_lead_list_marks_leads_with_a_declined_invitation(app, signed_in):
    declined_lead, declined_session = book(app, 1)
    other_lead, _ = book(app, 2)
    answer(app, declined_session, "leader", PartStat.DECLINED)
    page = parse(signed_in.get("/coach/leads"))
    rows = {}
    for row in page.all("tr"):
        text = " ".join("".join(row["text"]).split())
        for lead_id in (declined_lead, other_lead):
            if f"Amara Okafor {1 if lead_id == declined_lead else 2}" in text:
                rows[lead_id] = text
    assert "Invitation declined" in rows[declined_lead]
    assert "Invitation declined" not in rows[other_lead]


def test_once_the_declined_session_is_cancelled_the_warnings_go(app, signed_in, coach):
    lead_id, session_id = book(app)
    answer(app, session_id, "leader", PartStat.DECLINED)
    with app.app_context():
        session = db.session.get(CoachingSession, session_id)
        cancel_session(
            session, session.coach, "They cannot make it", utcnow(), settings=current_settings()
        )
        db.session.commit()
    page = lead_page(signed_in, lead_id)
    assert page.by_id("declined-banner") is None
    assert "Declined by" not in element_text(page, f"session-{session_id}")
    assert "Invitation declined" not in parse(signed_in.get("/coach/leads")).text


def test_the_declined_marker_costs_the_lead_list_no_query_per_row(app, signed_in):
    def statements_for_list() -> int:
        return count_statements(app, signed_in, "/coach/leads")

    _, first = book(app, 1)
    answer(app, first, "leader", PartStat.DECLINED)
    few = statements_for_list()
    for n in range(2, 8):
        _, session_id = book(app, n)
        answer(app, session_id, "leader", PartStat.DECLINED)
    assert statements_for_list() == few
    assert parse(signed_in.get("/coach/leads")).text.count("Invitation declined") == 7


# ----- the leader's reflection ------------------------------------------------------------------


def save_answers(app, session_id: int, answers: dict) -> None:
    with app.app_context():
        session = db.session.get(CoachingSession, session_id)
        save_questionnaire(session, answers, utcnow(), settings=current_settings())
        db.session.commit()


def test_reflection_answers_are_shown_with_the_questions_wording(app, signed_in):
    lead_id, session_id = book(app)
    page = lead_page(signed_in, lead_id)
    assert "has not answered the reflection questionnaire yet" in page.text

    save_answers(
        app,
        session_id,
        {
            "rating_compassionate": "4",
            "rating_practical": "5",
            "hopes": "<b>Time</b> to think\nabout my team",
        },
    )
    response = signed_in.get(f"/coach/leads/{lead_id}")
    html = response.get_data(as_text=True)
    page = parse(response)
    with app.app_context():
        questions = {q.id: q.label for q in load_questionnaire().questions}
    for qid in ("rating_compassionate", "rating_practical", "hopes"):
        assert questions[qid] in page.text
    # Questions left blank are not listed.
    assert questions["rating_purpose_led"] not in page.text
    assert questions["approach"] not in page.text
    assert "4 out of 5" in page.text and "5 out of 5 (Consistently)" in page.text
    assert "&lt;b&gt;Time&lt;/b&gt; to think\nabout my team" in html  # escaped, lines kept
    # In the questionnaire's order, in the reflection section, before the proposals.
    assert html.index(questions["rating_compassionate"]) < html.index(questions["hopes"])
    assert (
        html.index('id="reflection"')
        < html.index(questions["rating_compassionate"])
        < html.index('id="proposals"')
    )


def test_the_wording_follows_the_file_the_firm_edits(make_app, tmp_path: Path):
    data = json.loads(DEFAULT_FILE.read_text(encoding="utf-8"))
    edited = tmp_path / "questionnaire.json"
    app = make_app(QUESTIONNAIRE_FILE=str(edited))
    edited.write_text(json.dumps(data), encoding="utf-8")
    with app.app_context():
        add_coach(now=utcnow())
    lead_id, session_id = book(app)
    save_answers(app, session_id, {"hopes": "Some quiet time", "today": "Listen first"})

    # The firm rewords one question and drops another after the leader answered.
    data["questions"] = [
        dict(q, label="What would make today's session worth your time?")
        if q["id"] == "hopes"
        else q
        for q in data["questions"]
        if q["id"] != "today"
    ]
    edited.write_text(json.dumps(data), encoding="utf-8")
    client = app.test_client()
    assert sign_in(client).status_code == 302
    text = lead_page(client, lead_id).text
    assert "What would make today's session worth your time? Some quiet time" in text
    assert "today (no longer in the questionnaire) Listen first" in text

    # A broken file does not hide the lead's page: the answers show by question id.
    edited.write_text("{ not json", encoding="utf-8")
    text = lead_page(client, lead_id).text
    assert "The questionnaire file cannot be read" in text
    assert "hopes Some quiet time" in text

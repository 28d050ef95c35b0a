"""The reflection questionnaire: questions as data, a readable PDF, answers until the session."""

from __future__ import annotations

import io
import json
import re
from datetime import timedelta

import pypdf
import pytest
from sqlalchemy import select

from booking import questionnaire as qmod
from booking.extensions import db
from booking.links import questionnaire_url
from booking.models import LeadEvent, QuestionnaireResponse, SessionStatus, utcnow
from booking.questionnaire import (
    QuestionnaireError,
    check_answers,
    load_questionnaire,
    render_pdf,
)
from booking.workflow import DomainError
from booking.workflow.responses import save_questionnaire

from .conftest import hidden_fields
from .invite_helpers import make_session


def path_of(url: str) -> str:
    return url.removeprefix("http://booking.test")


def test_default_questions_come_from_the_data_file(app_ctx):
    q = load_questionnaire()
    assert {r.dimension for r in q.ratings} == {"compassionate", "purpose-led", "practical"}
    assert 3 <= len(q.open_questions) <= 4
    assert q.scale == [1, 2, 3, 4, 5]
    assert q.minutes == 5
    assert any("what could you do today" in x.label.lower() for x in q.open_questions)


def test_the_firm_can_point_at_its_own_file(make_app, tmp_path):
    own = tmp_path / "questions.json"
    own.write_text(
        json.dumps(
            {
                "title": "Before we meet",
                "introduction": "Two questions.",
                "questions": [
                    {"id": "rating_compassionate", "type": "rating", "label": "How kind are you?"},
                    {"id": "hope", "type": "text", "label": "What do you hope for, Siân?"},
                ],
            }
        ),
        encoding="utf-8",
    )
    app = make_app(QUESTIONNAIRE_FILE=str(own))
    with app.app_context():
        session = make_session(starts_at=utcnow() + timedelta(days=3))
        db.session.commit()
        page = app.test_client().get(path_of(questionnaire_url(session)))
        html = page.get_data(as_text=True)
        assert "Before we meet" in html and "What do you hope for, Siân?" in html
        text = pypdf.PdfReader(io.BytesIO(render_pdf())).pages[0].extract_text()
        assert "What do you hope for, Siân?" in text


@pytest.mark.parametrize(
    "content, complaint",
    [
        ("{not json", "not valid JSON"),
        (json.dumps({"title": "T", "questions": []}), "non-empty list"),
        (
            json.dumps({"title": "T", "questions": [{"id": "a", "type": "essay", "label": "x"}]}),
            "type must be",
        ),
        (
            json.dumps(
                {
                    "title": "T",
                    "questions": [
                        {"id": "a", "type": "text", "label": "x"},
                        {"id": "a", "type": "text", "label": "y"},
                    ],
                }
            ),
            "unique",
        ),
    ],
)
def test_a_broken_file_is_reported_clearly(tmp_path, content, complaint):
    path = tmp_path / "q.json"
    path.write_text(content)
    with pytest.raises(QuestionnaireError, match=complaint):
        load_questionnaire(path)


def test_pdf_is_real_text_with_title_and_language(app_ctx):
    q = load_questionnaire()
    data = render_pdf(q)
    assert data.startswith(b"%PDF")
    reader = pypdf.PdfReader(io.BytesIO(data))
    assert reader.metadata.title == q.title
    assert reader.metadata.author == "Compassionate Leadership Coaching"
    assert reader.trailer["/Root"]["/Lang"] == "en-GB"
    text = " ".join(" ".join(page.extract_text().split()) for page in reader.pages)
    assert q.title in text
    for question in q.questions:
        assert " ".join(question.label.split()[:6]) in text
    assert reader.outline  # bookmarks for the parts


def test_pdf_falls_back_to_core_fonts_without_dejavu(app_ctx, monkeypatch, tmp_path):
    monkeypatch.setattr(qmod, "FONT_DIR", tmp_path)  # a machine without the fonts
    q = qmod.parse_questionnaire(
        {
            "title": "Réflexion – “quick”",
            "questions": [{"id": "a", "type": "text", "label": "Siân’s question"}],
        }
    )
    text = pypdf.PdfReader(io.BytesIO(render_pdf(q))).pages[0].extract_text()
    assert 'Reflexion - "quick"' in text and "Sian's question" in text


def test_answers_are_checked(app_ctx):
    q = load_questionnaire()
    check = check_answers(
        q,
        {
            "rating_compassionate": "4",
            "rating_practical": "9",
            "approach": "  x\r\ny  ",
            "today": "a" * 2001,
            "evil": "drop",
        },
    )
    assert check.answers == {"rating_compassionate": 4, "approach": "x\ny"}
    assert set(check.errors) == {"rating_practical", "today"}


def test_answers_saved_changed_and_closed_at_the_start(app_ctx):
    start = utcnow() + timedelta(days=2)
    session = make_session(starts_at=start)
    save_questionnaire(
        session,
        {"rating_compassionate": "3", "today": "Listen more"},
        now=start - timedelta(days=1),
    )
    db.session.commit()
    save_questionnaire(session, {"rating_compassionate": "4"}, now=start - timedelta(hours=1))
    db.session.commit()
    (row,) = db.session.scalars(select(QuestionnaireResponse)).all()
    assert row.answers == {"rating_compassionate": 4}
    kinds = list(db.session.scalars(select(LeadEvent.summary).order_by(LeadEvent.id)))
    assert kinds == ["Answered the reflection questionnaire", "Changed their reflection answers"]

    with pytest.raises(DomainError, match="closed"):
        save_questionnaire(session, {"rating_compassionate": "5"}, now=start)
    session.status = SessionStatus.CANCELLED
    with pytest.raises(DomainError):
        save_questionnaire(session, {}, now=start - timedelta(days=1))
    db.session.rollback()


def test_the_online_form_saves_and_changes_answers(app_ctx):
    session = make_session(starts_at=utcnow() + timedelta(days=2))
    db.session.commit()
    client = app_ctx.test_client()
    url = path_of(questionnaire_url(session))

    page = client.get(url)
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert 'name="rating_compassionate"' in html and "<label" in html
    assert db.session.scalars(select(QuestionnaireResponse)).first() is None  # GET saves nothing

    form = hidden_fields(html)
    form.update({"rating_compassionate": "2", "approach": "Mostly <b>personal</b> style"})
    saved = client.post(url, data=form)
    assert saved.status_code == 200 and "Your answers are saved" in saved.get_data(as_text=True)

    again = client.get(url).get_data(as_text=True)
    assert "You have already answered" in again
    assert "Mostly &lt;b&gt;personal&lt;/b&gt; style" in again
    assert re.search(r'<input checked[^>]*name="rating_compassionate"[^>]*value="2"', again)

    form = hidden_fields(again)
    form.update({"rating_compassionate": "7"})
    wrong = client.post(url, data=form)
    assert wrong.status_code == 400
    assert "There is a problem" in wrong.get_data(as_text=True)

    form.update({"rating_compassionate": "5", "approach": ""})
    assert client.post(url, data=form).status_code == 200
    db.session.expire_all()
    assert db.session.scalars(select(QuestionnaireResponse)).one().answers == {
        "rating_compassionate": 5
    }


def test_the_online_form_is_closed_once_the_session_starts(app_ctx):
    session = make_session(starts_at=utcnow() - timedelta(minutes=5))
    db.session.commit()
    client = app_ctx.test_client()
    url = path_of(questionnaire_url(session))
    page = client.get(url)
    assert page.status_code == 200
    assert "The questionnaire is closed" in page.get_data(as_text=True)
    assert client.post(url, data={"rating_compassionate": "3"}).status_code in (400, 409)
    assert db.session.scalars(select(QuestionnaireResponse)).first() is None


def test_questionnaire_link_refuses_bad_tokens(client):
    page = client.get("/questionnaire/not-a-real-token")
    assert page.status_code == 404
    assert "This link is not valid" in page.get_data(as_text=True)

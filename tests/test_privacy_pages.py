"""The coach's buttons for a leader's data rights: download their data, and erase it."""

from __future__ import annotations

import json

from booking.extensions import db
from booking.models import CoachingSession, Lead, SessionStatus

from .coach_helpers import csrf_token, fast_passwords, sign_in  # noqa: F401
from .conftest import parse
from .privacy_helpers import EMAIL, NAME, NEEDLES, NOTE, build_person, text_hits


def _setup(app, now) -> tuple[int, int, int]:
    with app.app_context():
        person = build_person(now)
        return person.lead.id, person.old.id, person.session.id


def test_the_lead_page_offers_export_and_erase(app, client, now):
    lead_id, _, _ = _setup(app, now)
    sign_in(client)
    page = parse(client.get(f"/coach/leads/{lead_id}"))
    assert page.by_id("personal-data") is not None
    export = page.by_id("export-data")
    erase = page.by_id("erase-data")
    assert export is not None and export["attrs"]["href"] == f"/coach/leads/{lead_id}/export"
    assert erase is not None and erase["attrs"]["href"] == f"/coach/leads/{lead_id}/erase"


def test_export_downloads_their_data_as_json(app, client, now):
    lead_id, old_id, _ = _setup(app, now)
    assert client.get(f"/coach/leads/{lead_id}/export").status_code == 302  # signed in only
    sign_in(client)
    response = client.get(f"/coach/leads/{lead_id}/export")
    assert response.status_code == 200 and response.mimetype == "application/json"
    assert response.headers["Content-Disposition"] == (
        f'attachment; filename="personal-data-lead-{lead_id}.json"'
    )
    assert response.headers["Cache-Control"] == "no-store"
    data = json.loads(response.get_data(as_text=True))
    assert [lead["id"] for lead in data["leads"]] == [old_id, lead_id]
    assert data["leads"][1]["notes"][0]["text"] == NOTE and data["emails"]


def test_erase_asks_first_then_erases_with_a_csrf_checked_post(app, client, now):
    lead_id, old_id, session_id = _setup(app, now)
    sign_in(client)

    confirm = client.get(f"/coach/leads/{lead_id}/erase")
    assert confirm.status_code == 200
    page = parse(confirm)
    assert f"Erase {NAME}'s personal data?" in page.text
    leads = page.by_id("erase-leads")
    assert leads is not None
    listed = " ".join("".join(leads["text"]).split())
    assert f"Lead #{old_id}" in listed and f"Lead #{lead_id}" in listed
    assert "will be closed as “Withdrawn”" in listed
    effects = " ".join(page.text.split())
    assert "1 private note and 1 set of questionnaire answers are deleted" in effects
    assert "The session on Thursday 10 December 2026, 11:00–12:00 GMT with Maya Coach" in effects
    assert "the leader is not emailed" in effects

    # Without the CSRF token: refused, nothing erased.
    refused = client.post(f"/coach/leads/{lead_id}/erase")
    assert refused.status_code == 400
    with app.app_context():
        lead = db.session.get(Lead, lead_id)
        assert lead is not None and lead.erased_at is None

    token = csrf_token(client, f"/coach/leads/{lead_id}/erase")
    done = client.post(f"/coach/leads/{lead_id}/erase", data={"csrf_token": token})
    assert done.status_code == 302
    assert done.headers["Location"].endswith(f"/coach/leads/{lead_id}#personal-data")

    after = client.get(f"/coach/leads/{lead_id}")
    assert after.status_code == 200
    text = parse(after).text
    assert "Personal data erased from 2 leads." in text
    assert "Personal data erased by Maya Coach" in text
    assert parse(after).by_id("erased-note") is not None
    assert parse(after).by_id("erase-data") is None
    lowered = after.get_data(as_text=True).lower()
    assert not [n for n in NEEDLES if n in lowered] and EMAIL not in lowered
    with app.app_context():
        assert text_hits(NEEDLES) == []
        erased = db.session.get(Lead, lead_id)
        assert erased is not None and erased.status.value == "withdrawn"
        booked = db.session.get(CoachingSession, session_id)
        assert booked is not None and booked.status == SessionStatus.CANCELLED

    # Erased is erased: neither button works again.
    again = client.get(f"/coach/leads/{lead_id}/erase")
    assert again.status_code == 409 and "already been erased" in parse(again).text
    assert client.get(f"/coach/leads/{lead_id}/export").status_code == 409

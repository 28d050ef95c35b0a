"""A leader's data rights as plain functions and operator commands: export, erase, retention."""

from __future__ import annotations

import json
from collections import Counter
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from booking import outbox
from booking.emails import MailDraft
from booking.extensions import db
from booking.models import (
    Coach,
    CoachingSession,
    FormReceipt,
    Lead,
    LeadStatus,
    Note,
    OutboxMessage,
    OutboxStatus,
    QuestionnaireResponse,
    SessionStatus,
)
from booking.settings import current_settings
from booking.workflow import DomainError
from booking.workflow.leads import change_status
from booking.workflow.privacy import (
    erase_person,
    erasure_plan,
    export_person,
    leads_for_email,
    purge_expired,
)

from .coach_helpers import add_coach, add_lead
from .privacy_helpers import (
    ANSWER,
    EMAIL,
    HELP,
    NAME,
    NEEDLES,
    NONE_SUIT,
    NOTE,
    OLD_REASON,
    PHONE,
    REPEAT_ROLE,
    build_person,
    text_hits,
)

# ----- export ------------------------------------------------------------------------------


def test_export_holds_everything_about_the_person(app_ctx, now):
    person = build_person(now)
    data = export_person("  Sian.OBrien@NHS.example ", now=now, settings=current_settings())
    text = json.dumps(data, ensure_ascii=False)  # it is plain JSON

    assert [lead["id"] for lead in data["leads"]] == [person.old.id, person.lead.id]
    old, lead = data["leads"]
    assert old["email"] == EMAIL.upper() and lead["email"] == EMAIL  # any capitals
    assert lead["full_name"] == NAME and lead["phone"] == PHONE and lead["help_text"] == HELP
    assert old["status"] == "not-suitable" and old["status_reason"] == OLD_REASON
    assert lead["status"] == "agreed" and lead["coach"] == person.coach.name
    assert [n["text"] for n in lead["notes"]] == [NOTE]
    assert [p["leader_note"] for p in lead["proposals"]] == [NONE_SUIT, ""]
    assert lead["proposals"][1]["times"][0]["join_detail"] == PHONE
    (session,) = lead["sessions"]
    assert session["status"] == "booked" and session["starts_at"].startswith("2026-12-10T11:00")
    answers = session["questionnaire"]["answers"]
    assert [a["answer"] for a in answers] == [ANSWER] and "reflect" in answers[0]["question"]
    kinds = [event["kind"] for event in lead["history"]]
    assert "registered-again" in kinds and "note" in kinds
    again = next(e for e in lead["history"] if e["kind"] == "registered-again")
    assert again["detail"]["role"] == REPEAT_ROLE

    # Every email to them or about them, with its bodies and dates.
    stored = db.session.scalar(select(func.count()).select_from(OutboxMessage))
    assert len(data["emails"]) == stored
    to_them = [m for m in data["emails"] if m["to"] == [EMAIL]]
    assert {m["kind"] for m in to_them} >= {
        "leader_acknowledgement",
        "leader_proposed_times",
        "leader_session_confirmed",
        "session_reminder",
    }
    acknowledgement = next(m for m in to_them if m["kind"] == "leader_acknowledgement")
    assert acknowledgement["status"] == "sent" and acknowledgement["sent_at"]
    assert NAME.split()[0] in acknowledgement["body_text"] and acknowledgement["body_html"]
    assert any(m["status"] == "pending" for m in to_them)  # the reminders
    assert "BEGIN:VCALENDAR" in text and data["exported_at"] == now.isoformat()


def test_export_of_an_unknown_address_says_so(app_ctx, now):
    with pytest.raises(DomainError, match="No lead"):
        export_person("nobody@nhs.example", now=now, settings=current_settings())


# ----- erasure -----------------------------------------------------------------------------


def _status_counts() -> Counter[str]:
    return Counter(s.value for s in db.session.scalars(select(Lead.status)))


def test_erase_leaves_no_trace_of_the_person_in_any_table(app_ctx, now):
    person = build_person(now)
    other = add_lead(now - timedelta(days=1), n=9)  # someone else, untouched
    assert {hit[2] for hit in text_hits(NEEDLES)} == set(NEEDLES)  # the search can find them
    before = _status_counts()
    leads_before = db.session.scalar(select(func.count()).select_from(Lead))

    plan = erasure_plan(EMAIL, now=now)
    assert [lead.id for lead in plan.leads] == [person.old.id, person.lead.id]
    assert plan.notes == 1 and plan.questionnaires == 1 and plan.pending_emails > 0
    assert [s.id for s in plan.future_sessions] == [person.session.id]

    report = erase_person(
        EMAIL.upper(),
        now=now,
        actor=person.coach,
        by=person.coach.name,
        settings=current_settings(),
    )
    db.session.commit()
    db.session.expire_all()

    assert report.lead_ids == [person.old.id, person.lead.id]
    assert report.cancelled_sessions == [person.session.id] and report.cancelled_emails > 0
    assert text_hits(NEEDLES) == []
    assert leads_for_email(EMAIL) == []

    # The rows stay for the counts: the closed lead keeps its status, the open one is withdrawn.
    assert db.session.scalar(select(func.count()).select_from(Lead)) == leads_before
    after = _status_counts()
    assert after["not-suitable"] == before["not-suitable"]
    assert after["agreed"] == before["agreed"] - 1
    assert after["withdrawn"] == before["withdrawn"] + 1
    old, lead = db.session.get(Lead, person.old.id), db.session.get(Lead, person.lead.id)
    assert old is not None and lead is not None
    assert lead.erased_at == now and old.erased_at == now
    assert lead.created_at == now - timedelta(days=3) and lead.dimensions == "compassionate"
    assert lead.full_name == f"Erased lead #{lead.id}" and lead.organisation == ""
    assert db.session.get(Lead, other.id).full_name == "Leader 9"  # type: ignore[union-attr]

    assert db.session.scalar(select(func.count()).select_from(Note)) == 0
    assert db.session.scalar(select(func.count()).select_from(QuestionnaireResponse)) == 0
    receipts = db.session.scalars(select(FormReceipt.lead_id)).all()
    assert receipts == [other.id]

    # The history keeps its entries, naming no one, and says who erased the data.
    assert len(lead.events) > 8
    assert {e.actor_label for e in lead.events if e.actor_coach_id is None} <= {
        "The leader",
        "System",
        "Operator",
    }
    assert lead.events[-1].kind == "erased"
    assert lead.events[-1].summary == f"Personal data erased by {person.coach.name}"
    assert any(e.kind == "session-cancelled" for e in lead.events)


def test_erase_cancels_pending_mail_and_the_future_session_telling_only_the_coach(app_ctx, now):
    person = build_person(now)
    session_id, sequence = person.session.id, person.session.sequence
    erase_person(
        EMAIL, now=now, actor=person.coach, by=person.coach.name, settings=current_settings()
    )
    db.session.commit()

    session = db.session.get(CoachingSession, session_id)
    assert session is not None
    assert session.status == SessionStatus.CANCELLED and session.sequence == sequence + 1
    assert session.join_detail == "" and session.cancelled_at == now
    pending = list(
        db.session.scalars(
            select(OutboxMessage).where(OutboxMessage.status == OutboxStatus.PENDING)
        )
    )
    # Only the coach's calendar CANCEL is left to send: nothing more goes to the leader.
    assert [(m.recipients, m.calendar_method, m.session_id) for m in pending] == [
        ([person.coach.email], "CANCEL", session_id)
    ]
    assert f"UID:{session.uid}" in (pending[0].calendar or "")
    assert "Erased lead" in pending[0].subject
    cancelled = db.session.scalars(
        select(OutboxMessage).where(OutboxMessage.status == OutboxStatus.CANCELLED)
    ).all()
    assert cancelled and all(m.recipients == [] and m.body_text == "" for m in cancelled)


def test_erasing_again_is_refused_and_changes_nothing(app_ctx, now):
    person = build_person(now)
    erase_person(EMAIL, now=now, actor=None, settings=current_settings())
    db.session.commit()
    with pytest.raises(DomainError, match="left to erase"):
        erase_person(EMAIL, now=now + timedelta(minutes=1), settings=current_settings())
    lead = db.session.get(Lead, person.lead.id)
    assert lead is not None and lead.events[-1].summary == "Personal data erased by the operator"


# ----- retention ---------------------------------------------------------------------------


def _closed_lead(now, n: int, idle: timedelta, status=LeadStatus.NOT_SUITABLE) -> Lead:
    """A lead closed `idle` ago, with nothing after."""
    coach = db.session.scalar(select(Coach).limit(1))
    if coach is None:
        coach = add_coach(now=now - timedelta(days=900))
    lead = add_lead(now - idle - timedelta(days=1), n=n, full_name=f"Closed Leader {n}")
    change_status(
        lead, status, coach=coach, reason=f"reason {n}", now=now - idle, settings=current_settings()
    )
    db.session.commit()
    return lead


def test_purge_erases_closed_leads_idle_past_the_retention_period_once(app_ctx, now):
    boundary = _closed_lead(now, 1, timedelta(days=365))  # exactly the period: kept
    expired = _closed_lead(now, 2, timedelta(days=365, seconds=1))
    recent = _closed_lead(now, 3, timedelta(days=200), LeadStatus.NO_RESPONSE)
    open_old = add_lead(now - timedelta(days=800), n=4)  # open: never purged
    # Closed long ago, but mail about it went out recently: still active.
    mailed = _closed_lead(now, 5, timedelta(days=500))
    outbox.enqueue(
        MailDraft("coach_note", ["maya@example.org"], "About the lead", "text"),
        lead_id=mailed.id,
        now=now - timedelta(days=10),
    )
    db.session.commit()
    before = _status_counts()

    assert purge_expired(now=now, retention_days=365, settings=current_settings()) == [expired.id]
    db.session.commit()
    assert (
        purge_expired(now=now, retention_days=365, settings=current_settings()) == []
    )  # idempotent

    erased = db.session.get(Lead, expired.id)
    assert erased is not None and erased.erased_at == now
    assert erased.full_name == f"Erased lead #{expired.id}" and erased.status_reason == ""
    assert erased.events[-1].summary == "Personal data erased by the operator (retention)"
    for kept in (boundary, recent, open_old, mailed):
        lead = db.session.get(Lead, kept.id)
        assert lead is not None and lead.erased_at is None and "Leader" in lead.full_name
    assert _status_counts() == before  # purging changes no status
    assert text_hits(["closed leader 2", "reason 2"]) == []
    assert text_hits(["closed leader 1"]) != []

    # A day later the boundary lead has expired too.
    assert purge_expired(
        now=now + timedelta(days=1), retention_days=365, settings=current_settings()
    ) == [boundary.id]


# ----- the operator's commands -------------------------------------------------------------


def test_cli_export_prints_the_json(app, now):
    with app.app_context():
        build_person(now)
    runner = app.test_cli_runner()
    result = runner.invoke(args=["leads", "export", EMAIL.upper()])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert len(data["leads"]) == 2 and data["leads"][1]["notes"][0]["text"] == NOTE

    missing = runner.invoke(args=["leads", "export", "nobody@nhs.example"])
    assert missing.exit_code != 0 and "No lead has that email address" in missing.output


def test_cli_erase_asks_first_then_erases(app, now):
    with app.app_context():
        person = build_person(now)
        lead_id = person.lead.id
    runner = app.test_cli_runner()
    declined = runner.invoke(args=["leads", "erase", EMAIL], input="n\n")
    assert declined.exit_code != 0 and "2 leads" in declined.output
    with app.app_context():
        assert len(leads_for_email(EMAIL)) == 2

    result = runner.invoke(args=["leads", "erase", EMAIL], input="y\n")
    assert result.exit_code == 0, result.output
    assert f"#{lead_id}" in result.output and "1 sessions cancelled" in result.output
    assert EMAIL not in result.output.lower()
    with app.app_context():
        assert leads_for_email(EMAIL) == []
        assert text_hits(NEEDLES) == []
        lead = db.session.get(Lead, lead_id)
        assert lead is not None
        assert lead.events[-1].summary == "Personal data erased by the operator"

    again = runner.invoke(args=["leads", "erase", EMAIL, "--yes"])
    assert again.exit_code != 0 and "left to erase" in again.output


def test_cli_purge_uses_retention_days(make_app, now):
    app = make_app(RETENTION_DAYS=30)
    with app.app_context():
        lead_id = _closed_lead(now, 1, timedelta(days=31)).id
    runner = app.test_cli_runner()
    # The command runs at the real time: the lead was closed in 2026-11 (the fixture's now).
    result = runner.invoke(args=["leads", "purge", "--days", "100000"])
    assert result.exit_code == 0 and "purge: 0 leads erased" in result.output
    result = runner.invoke(args=["leads", "purge"])
    assert result.exit_code == 0, result.output
    assert f"purge: 1 lead erased (idle for more than 30 days): #{lead_id}" in result.output
    assert "purge: 0 leads erased" in runner.invoke(args=["leads", "purge"]).output

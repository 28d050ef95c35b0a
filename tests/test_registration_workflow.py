"""register_interest and withdraw as plain functions, no HTTP."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from booking.extensions import db
from booking.models import Coach, Dimension, Lead, LeadStatus, OutboxMessage, SessionFormat
from booking.settings import current_settings
from booking.workflow import DomainError, Registration, register_interest, withdraw


def registration(**overrides) -> Registration:
    values = dict(
        full_name="Amara Okafor",
        email="amara.okafor@nhs.example",
        organisation="Riverside Hospitals",
        role="Director of Nursing",
        preferred_format=SessionFormat.PHONE,
        dimensions=[Dimension.PURPOSE_LED],
        consent=True,
    )
    values.update(overrides)
    return Registration(**values)


def count(model) -> int:
    return int(db.session.scalar(select(func.count()).select_from(model)))


def test_new_registration_stores_lead_and_queues_both_emails(app_ctx, now):
    settings = replace(current_settings(), coach_notify_emails=("coaches@example.org",))
    outcome = register_interest(registration(), form_token="t1", now=now, settings=settings)
    db.session.commit()

    assert outcome.result == "created"
    lead = outcome.lead
    assert lead.status == LeadStatus.NEW
    assert lead.consent_at == now
    assert [e.kind for e in lead.events] == ["registered"]
    kinds = sorted(m.kind for m in db.session.scalars(select(OutboxMessage)))
    assert kinds == ["coach_new_lead", "leader_acknowledgement"]


def test_same_form_token_twice_makes_one_lead(app_ctx, now):
    first = register_interest(
        registration(), form_token="same", now=now, settings=current_settings()
    )
    db.session.commit()
    again = register_interest(
        registration(),
        form_token="same",
        now=now + timedelta(seconds=1),
        settings=current_settings(),
    )
    db.session.commit()
    assert again.result == "replay"
    assert again.lead.id == first.lead.id
    assert count(Lead) == 1
    assert count(OutboxMessage) == 1  # only the acknowledgement: no coaches configured


def test_open_lead_registering_again_is_recorded_not_duplicated(app_ctx, now):
    settings = replace(current_settings(), coach_notify_emails=("coaches@example.org",))
    first = register_interest(registration(), form_token="a", now=now, settings=settings)
    db.session.commit()
    second = register_interest(
        registration(email="AMARA.OKAFOR@nhs.example", help_text="Now about my new team"),
        form_token="b",
        now=now + timedelta(days=1),
        settings=settings,
    )
    db.session.commit()

    assert second.result == "repeat"
    assert second.lead.id == first.lead.id
    assert count(Lead) == 1
    event = second.lead.events[-1]
    assert event.kind == "registered-again"
    assert event.detail["help_text"] == "Now about my new team"
    kinds = [m.kind for m in db.session.scalars(select(OutboxMessage).order_by(OutboxMessage.id))]
    assert kinds == [
        "leader_acknowledgement",
        "coach_new_lead",
        "leader_repeat_registration",
        "coach_repeat_registration",
    ]


def test_closed_lead_registering_again_starts_a_new_lead(app_ctx, now):
    first = register_interest(registration(), form_token="a", now=now, settings=current_settings())
    withdraw(first.lead, reason="", now=now, settings=current_settings())
    db.session.commit()
    second = register_interest(
        registration(), form_token="b", now=now + timedelta(days=30), settings=current_settings()
    )
    db.session.commit()
    assert second.result == "created"
    assert count(Lead) == 2


def test_consent_is_required(app_ctx, now):
    with pytest.raises(DomainError):
        register_interest(
            registration(consent=False), form_token="x", now=now, settings=current_settings()
        )


def test_not_sure_is_dropped_when_dimensions_are_chosen(app_ctx, now):
    outcome = register_interest(
        registration(dimensions=[Dimension.NOT_SURE, Dimension.PRACTICAL]),
        form_token="x",
        now=now,
        settings=current_settings(),
    )
    assert outcome.lead.dimension_list == [Dimension.PRACTICAL]


def test_round_robin_assigns_active_coaches_in_turn(app_ctx, now):
    db.session.add_all(
        [
            Coach(email="a@example.org", name="Coach A", password_hash="x"),
            Coach(email="b@example.org", name="Coach B", password_hash="x"),
            Coach(email="c@example.org", name="Coach C", password_hash="x", active=False),
        ]
    )
    db.session.commit()
    names = []
    for i in range(4):
        outcome = register_interest(
            registration(email=f"l{i}@nhs.example"),
            form_token=f"t{i}",
            now=now + timedelta(minutes=i),
            settings=current_settings(),
        )
        db.session.commit()
        names.append(outcome.lead.assigned_coach.name)
    assert names == ["Coach A", "Coach B", "Coach A", "Coach B"]


def test_round_robin_can_be_turned_off(app_ctx, now):
    db.session.add(Coach(email="a@example.org", name="Coach A", password_hash="x"))
    db.session.commit()
    settings = replace(current_settings(), round_robin_assignment=False)
    outcome = register_interest(registration(), form_token="t", now=now, settings=settings)
    assert outcome.lead.assigned_coach is None


def test_withdraw_cancels_pending_mail(app_ctx, now):
    outcome = register_interest(
        registration(), form_token="t", now=now, settings=current_settings()
    )
    db.session.commit()
    withdraw(outcome.lead, reason="Found support elsewhere", now=now, settings=current_settings())
    db.session.commit()
    assert outcome.lead.status == LeadStatus.WITHDRAWN
    statuses = {m.status.value for m in db.session.scalars(select(OutboxMessage))}
    assert statuses == {"cancelled"}
    assert outcome.lead.events[-1].detail["reason"] == "Found support elsewhere"

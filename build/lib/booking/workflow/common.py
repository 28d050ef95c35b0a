"""Pieces every stage of the workflow uses."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from flask import current_app
from sqlalchemy import select

from ..extensions import db
from ..models import Coach, Lead, LeadEvent


class DomainError(Exception):
    """A move the workflow does not allow. The message is shown to the person as it is."""


def record_event(
    lead: Lead,
    kind: str,
    summary: str,
    *,
    now: datetime,
    actor: Coach | None = None,
    actor_label: str = "",
    detail: dict[str, Any] | None = None,
) -> LeadEvent:
    event = LeadEvent(
        lead=lead,
        at=now,
        actor_coach_id=actor.id if actor else None,
        actor_label=actor.name if actor else (actor_label or "System"),
        kind=kind,
        summary=summary,
        detail_json=json.dumps(detail or {}, default=str),
    )
    db.session.add(event)
    lead.updated_at = now
    return event


def coach_notification_recipients() -> list[str]:
    """COACH_NOTIFY_EMAILS when set (an override), otherwise every active coach."""
    override = list(current_app.config.get("COACH_NOTIFY_EMAILS") or [])
    if override:
        return override
    return list(db.session.scalars(select(Coach.email).where(Coach.active).order_by(Coach.id)))

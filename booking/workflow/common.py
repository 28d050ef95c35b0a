"""Pieces every stage of the workflow uses."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select

from ..extensions import db
from ..kinds import EventKind
from ..models import Coach, Lead, LeadEvent
from ..settings import Settings


class DomainError(Exception):
    """A move the workflow does not allow. The message is shown to the person as it is."""


@dataclass(frozen=True)
class FieldProblem:
    """One thing wrong with what was typed, and where: `field` names the input (as the form
    names it, e.g. "detail"), `entry` which of several repeated entries (0-based), if any."""

    field: str
    message: str
    entry: int | None = None


class FieldProblems(DomainError):
    """Every problem found at once, each attributable to a field, so a page can mark each
    field and link to it from its error summary (GOV.UK pattern). As a plain DomainError the
    message is all of them, one after another."""

    def __init__(self, problems: Iterable[FieldProblem]) -> None:
        self.problems = list(problems)
        super().__init__(" ".join(problem.message for problem in self.problems))


def record_event(
    lead: Lead,
    kind: EventKind,
    summary: str,
    *,
    now: datetime,
    actor: Coach | None = None,
    actor_label: str = "",
    detail: dict[str, Any] | None = None,
) -> LeadEvent:
    event = LeadEvent(lead=lead, **_event_values(kind, summary, now, actor, actor_label, detail))
    db.session.add(event)
    lead.updated_at = now
    return event


def new_lead_event_rows(
    lead_id: int, events: Iterable[tuple[EventKind, str, str]], *, now: datetime
) -> list[dict[str, Any]]:
    """History events (kind, summary, actor label) of a lead just inserted, as plain rows for
    `database.insert_together`, with no ORM objects: for the registration, where nothing reads
    them back in the request. Same rows as `record_event`'s (which also sets the lead's
    `updated_at`; a new lead's is `now`)."""
    return [
        {"lead_id": lead_id, **_event_values(kind, summary, now, None, label, None)}
        for kind, summary, label in events
    ]


def _event_values(
    kind: EventKind,
    summary: str,
    now: datetime,
    actor: Coach | None,
    actor_label: str,
    detail: dict[str, Any] | None,
) -> dict[str, Any]:
    return {
        "at": now,
        "actor_coach_id": actor.id if actor else None,
        "actor_label": actor.name if actor else (actor_label or "System"),
        "kind": kind,
        "summary": summary,
        "detail_json": json.dumps(detail or {}, default=str),
    }


def coach_notification_recipients(settings: Settings) -> list[str]:
    """COACH_NOTIFY_EMAILS when set (an override), otherwise every active coach."""
    override = list(settings.coach_notify_emails)
    if override:
        return override
    return list(db.session.scalars(select(Coach.email).where(Coach.active).order_by(Coach.id)))

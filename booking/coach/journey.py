"""The coach's side of a coaching journey: what the lead page's journey section shows (read
side) and its actions (record a held session's notes and actions). Marking a session held and
closing the journey are status moves (views.lead_status); booking the next session is the
usual propose / agree. The section is one include, templates/coach/_journey.html.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flask import render_template

from ..models import DIMENSION_LABELS, CoachingSession, FollowUp, Lead, LeadStatus, SessionNote
from ..questionnaire import QuestionnaireError, load_questionnaire
from ..settings import Settings, current_now, current_settings
from ..workflow.outcomes import (
    BeforeAfter,
    before_after,
    follow_up_of,
    journey_sessions,
    session_note,
    sessions_used,
)
from .forms import SessionNoteForm


@dataclass(frozen=True)
class BeforeAfterView:
    """The before/after chart (an SVG data: URL) and the table beside it."""

    chart_url: str
    rows: list[tuple[str, int | None, int | None]]  # (dimension, before, after)
    scale_max: int


def before_after_view(ratings: BeforeAfter, settings: Settings) -> BeforeAfterView | None:
    from ..charts import before_after_svg, data_uri

    if not ratings.any:
        return None
    try:
        q = load_questionnaire(settings.questionnaire_path)
        scale_min, scale_max = q.scale_min, q.scale_max
    except QuestionnaireError:
        scale_min, scale_max = 1, 5
    labels = [DIMENSION_LABELS[d] for d in ratings.before]
    before, after = list(ratings.before.values()), list(ratings.after.values())
    svg = before_after_svg(labels, before, after, scale_min=scale_min, scale_max=scale_max)
    return BeforeAfterView(data_uri(svg), list(zip(labels, before, after, strict=True)), scale_max)


@dataclass
class JourneyPage:
    sessions: list[CoachingSession]
    notes: dict[int, SessionNote]
    used: int
    maximum: int
    follow_up: FollowUp | None
    chart: BeforeAfterView | None
    now: datetime

    def started_booked(self) -> list[CoachingSession]:
        return [s for s in self.sessions if s.status.value == "booked" and s.starts_at <= self.now]


def journey_page(lead: Lead, *, now: datetime, settings: Settings) -> JourneyPage:
    sessions = journey_sessions(lead)
    notes: dict[int, SessionNote] = {}
    for s in sessions:
        note = session_note(s)
        if note is not None:
            notes[s.id] = note
    return JourneyPage(
        sessions=sessions,
        notes=notes,
        used=sessions_used(lead),
        maximum=settings.journey_max_sessions,
        follow_up=follow_up_of(lead),
        chart=before_after_view(before_after(lead), settings),
        now=now,
    )


def journey_context(
    lead: Lead, note_forms: dict[int, SessionNoteForm] | None = None
) -> dict[str, Any]:
    """What _journey.html needs, for the lead page's render."""
    page = journey_page(lead, now=current_now(), settings=current_settings())
    forms = dict(note_forms or {})
    for s in page.sessions:
        if s.status.value == "held" and s.id not in forms:
            form = SessionNoteForm(prefix=f"snote-{s.id}", formdata=None)
            note = page.notes.get(s.id)
            if note is not None:
                form.notes.data, form.actions.data = note.notes, note.actions
            forms[s.id] = form
    return {"journey": page, "note_forms": forms, "LeadStatus": LeadStatus}


def render_journey(lead: Lead, note_forms: dict[int, SessionNoteForm] | None = None) -> str:
    return render_template("coach/_journey.html", lead=lead, **journey_context(lead, note_forms))


__all__ = ["journey_context", "journey_page", "render_journey"]

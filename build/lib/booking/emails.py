"""Pure email builders: domain objects in, a MailDraft out. Nothing here sends anything.

Each message has a text and an HTML template under templates/email/; the HTML ones are
autoescaped, so whatever a leader typed is shown, never interpreted.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from flask import current_app, render_template

from .urls import external_url


@dataclass(frozen=True)
class Attachment:
    filename: str
    content_type: str
    data: bytes


@dataclass
class MailDraft:
    kind: str
    to: list[str]
    subject: str
    text: str
    html: str = ""
    calendar: str | None = None
    calendar_method: str | None = None
    attachments: list[Attachment] = field(default_factory=list)


def render_draft(kind: str, to: list[str], subject: str, **context: Any) -> MailDraft:
    """Render templates/email/<kind>.txt and .html with the shared context."""
    context.setdefault("firm_name", current_app.config["FIRM_NAME"])
    context.setdefault("base_url", current_app.config["BASE_URL"])
    context.setdefault("subject", subject)
    return MailDraft(
        kind=kind,
        to=to,
        subject=subject,
        text=render_template(f"email/{kind}.txt", **context),
        html=render_template(f"email/{kind}.html", **context),
    )


def _lead_url(lead: Any) -> str:
    return external_url("coach.lead_detail", lead_id=lead.id)


def leader_acknowledgement(lead: Any, withdraw_url: str) -> MailDraft:
    return render_draft(
        "leader_acknowledgement",
        [lead.email],
        "We have your request for personal support",
        lead=lead,
        withdraw_url=withdraw_url,
    )


def coach_new_lead(lead: Any, recipients: list[str]) -> MailDraft:
    return render_draft(
        "coach_new_lead",
        recipients,
        f"New request for personal support: {lead.full_name}, {lead.organisation}",
        lead=lead,
        lead_url=_lead_url(lead),
    )


def coach_repeat_registration(
    lead: Any, recipients: list[str], submitted: dict[str, Any]
) -> MailDraft:
    return render_draft(
        "coach_repeat_registration",
        recipients,
        f"{lead.full_name} registered again (open request)",
        lead=lead,
        submitted=submitted,
        lead_url=_lead_url(lead),
    )


# ----- coach area and agreeing a time (issue 3) -------------------------------------------


def coach_password_reset(coach: Any, reset_url: str) -> MailDraft:
    return render_draft(
        "coach_password_reset",
        [coach.email],
        "Reset your coach area password",
        coach=coach,
        reset_url=reset_url,
    )


def leader_proposed_times(proposal: Any, choose_url: str, withdraw_url: str) -> MailDraft:
    # New times for a booked session (the leader asked to move it) say so: their session
    # stays booked until they pick one, and picking moves it.
    return render_draft(
        "leader_proposed_times",
        [proposal.lead.email],
        "New times for your coaching session"
        if proposal.moves_session is not None
        else "Times for your first coaching session",
        lead=proposal.lead,
        proposal=proposal,
        choose_url=choose_url,
        withdraw_url=withdraw_url,
    )


def coach_none_suit(proposal: Any, recipients: list[str]) -> MailDraft:
    return render_draft(
        "coach_none_suit",
        recipients,
        f"None of the new times suit {proposal.lead.full_name} (the session stays booked)"
        if proposal.moves_session is not None
        else f"None of the times suit {proposal.lead.full_name}",
        lead=proposal.lead,
        proposal=proposal,
        lead_url=_lead_url(proposal.lead),
    )


def coach_leader_withdrawn(
    lead: Any, recipients: list[str], cancelled_session: Any | None
) -> MailDraft:
    return render_draft(
        "coach_leader_withdrawn",
        recipients,
        f"{lead.full_name} has withdrawn their interest",
        lead=lead,
        cancelled_session=cancelled_session,
        lead_url=_lead_url(lead),
    )


def coach_new_time_requested(session: Any, note: str, recipients: list[str]) -> MailDraft:
    return render_draft(
        "coach_new_time_requested",
        recipients,
        f"{session.lead.full_name} asks for a different time for their session",
        lead=session.lead,
        session=session,
        note=note,
        lead_url=_lead_url(session.lead),
    )

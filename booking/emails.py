"""Pure email builders: domain objects in, a MailDraft out. Nothing here sends anything.

Each message has a text and an HTML template under templates/email/; the HTML ones are
autoescaped, so whatever a leader typed is shown, never interpreted.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

from flask import render_template

from . import links
from .kinds import MailKind
from .models import DIMENSION_LABELS, FORMAT_LABELS, Dimension, SessionFormat
from .settings import Settings
from .validators import display_phone


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


def render_draft(
    kind: str, to: list[str], subject: str, *, settings: Settings, **context: Any
) -> MailDraft:
    """Render templates/email/<kind>.txt and .html with the shared context (`kind` is a
    MailKind, or the name of a template whose caller sets the draft's kind)."""
    context.setdefault("firm_name", settings.firm_name)
    context.setdefault("base_url", settings.base_url)
    context.setdefault("subject", subject)
    return MailDraft(
        kind=kind,
        to=to,
        subject=subject,
        text=render_template(f"email/{kind}.txt", **context),
        html=render_template(f"email/{kind}.html", **context),
    )


def _lead_url(lead: Any) -> str:
    return links.coach_lead_url(lead.id)


def leader_acknowledgement(lead: Any, *, settings: Settings) -> MailDraft:
    return render_draft(
        MailKind.LEADER_ACKNOWLEDGEMENT,
        [lead.email],
        "We have your request for personal support",
        lead=lead,
        withdraw_url=links.withdraw_url(lead),
        book_url=links.book_url(lead) if settings.self_booking else None,
        settings=settings,
    )


def leader_book_link(lead: Any, *, settings: Settings) -> MailDraft:
    """The coach invites the leader to pick any of their free times (SELF_BOOKING)."""
    return render_draft(
        MailKind.LEADER_BOOK_LINK,
        [lead.email],
        "Choose a time for your coaching session",
        lead=lead,
        book_url=links.book_url(lead),
        withdraw_url=links.withdraw_url(lead),
        settings=settings,
    )


def leader_repeat_registration(lead: Any, *, settings: Settings) -> MailDraft:
    """The leader registered again while their request was still open: no second request is
    made, and this says so (the confirmation page promises an email)."""
    return render_draft(
        MailKind.LEADER_REPEAT_REGISTRATION,
        [lead.email],
        "We already have your request for personal support",
        lead=lead,
        withdraw_url=links.withdraw_url(lead),
        settings=settings,
    )


def coach_new_lead(lead: Any, recipients: list[str], *, settings: Settings) -> MailDraft:
    return render_draft(
        MailKind.COACH_NEW_LEAD,
        recipients,
        f"New request for personal support: {lead.full_name}, {lead.organisation}",
        lead=lead,
        lead_url=_lead_url(lead),
        settings=settings,
    )


# What a repeat registration is compared on, in the order of the first notification's details.
_REPEAT_FIELDS = (
    ("full_name", "Name"),
    ("email", "Email"),
    ("phone", "Phone"),
    ("organisation", "Organisation"),
    ("role", "Role"),
    ("dimensions", "Dimensions"),
    ("preferred_format", "Format"),
    ("availability", "Usually free"),
    ("help_text", "What they would like help with"),
)


def _as_sent(submitted: dict[str, Any], lead: Any) -> SimpleNamespace:
    """The repeat submission shaped like a lead, for templates/email/_lead_details.* (a field
    missing from `submitted` is taken as unchanged from the lead)."""

    def given(key: str, attribute: str | None = None) -> Any:
        return submitted[key] if key in submitted else getattr(lead, attribute or key)

    dimensions = submitted.get("dimensions")
    return SimpleNamespace(
        full_name=given("full_name") or "",
        email=given("email") or "",
        phone=given("phone") or None,
        organisation=given("organisation") or "",
        role=given("role") or "",
        dimension_list=[Dimension(d) for d in dimensions]
        if dimensions is not None
        else list(lead.dimension_list),
        preferred_format=SessionFormat(given("preferred_format")),
        availability=given("availability") or "",
        help_text=given("help_text") or "",
    )


def _shown(key: str, value: Any) -> str:
    if key == "dimensions":
        return ", ".join(DIMENSION_LABELS[d] for d in value) or "not given"
    if key == "preferred_format":
        return FORMAT_LABELS[value]
    if key == "phone":
        return display_phone(value) or "not given"
    return str(value or "").strip() or "not given"


def repeat_changes(lead: Any, sent: SimpleNamespace) -> list[tuple[str, str, str]]:
    """(label, first request, this time) for each field that differs from the lead as first
    registered (the email only when it differs by more than capitals)."""
    changes = []
    for key, label in _REPEAT_FIELDS:
        attribute = "dimension_list" if key == "dimensions" else key
        before, after = getattr(lead, attribute), getattr(sent, attribute)
        if key == "email" and str(before).lower() == str(after).lower():
            continue
        if key == "dimensions":
            before, after = set(before), set(after)
        if (before or None) != (after or None):
            changes.append(
                (
                    label,
                    _shown(key, getattr(lead, attribute)),
                    _shown(key, getattr(sent, attribute)),
                )
            )
    return changes


def coach_repeat_registration(
    lead: Any, recipients: list[str], submitted: dict[str, Any], *, settings: Settings
) -> MailDraft:
    sent = _as_sent(submitted, lead)
    return render_draft(
        MailKind.COACH_REPEAT_REGISTRATION,
        recipients,
        f"{lead.full_name} registered again (open request)",
        lead=lead,
        sent=sent,
        changes=repeat_changes(lead, sent),
        lead_url=_lead_url(lead),
        settings=settings,
    )


# ----- coach area and agreeing a time (issue 3) -------------------------------------------


def coach_password_reset(coach: Any, *, settings: Settings) -> MailDraft:
    return render_draft(
        MailKind.COACH_PASSWORD_RESET,
        [coach.email],
        "Reset your coach area password",
        coach=coach,
        reset_url=links.password_reset_url(coach),
        settings=settings,
    )


def leader_proposed_times(
    proposal: Any, *, settings: Settings, leader_asked: bool = False
) -> MailDraft:
    # New times for a booked session (the leader asked to move it) say so: their session
    # stays booked until they pick one, and picking moves it.
    return render_draft(
        MailKind.LEADER_PROPOSED_TIMES,
        [proposal.lead.email],
        "New times for your coaching session"
        if proposal.moves_session is not None
        else "Times for your first coaching session",
        lead=proposal.lead,
        proposal=proposal,
        leader_asked=leader_asked,
        choose_url=links.choose_url(proposal),
        withdraw_url=links.withdraw_url(proposal.lead),
        settings=settings,
    )


def coach_none_suit(proposal: Any, recipients: list[str], *, settings: Settings) -> MailDraft:
    return render_draft(
        MailKind.COACH_NONE_SUIT,
        recipients,
        f"None of the new times suit {proposal.lead.full_name} (the session stays booked)"
        if proposal.moves_session is not None
        else f"None of the times suit {proposal.lead.full_name}",
        lead=proposal.lead,
        proposal=proposal,
        lead_url=_lead_url(proposal.lead),
        settings=settings,
    )


def coach_leader_withdrawn(
    lead: Any, recipients: list[str], cancelled_session: Any | None, *, settings: Settings
) -> MailDraft:
    return render_draft(
        MailKind.COACH_LEADER_WITHDRAWN,
        recipients,
        f"{lead.full_name} has withdrawn their interest",
        lead=lead,
        cancelled_session=cancelled_session,
        lead_url=_lead_url(lead),
        settings=settings,
    )


def coach_new_time_requested(
    session: Any, note: str, recipients: list[str], *, settings: Settings
) -> MailDraft:
    return render_draft(
        MailKind.COACH_NEW_TIME_REQUESTED,
        recipients,
        f"{session.lead.full_name} asks for a different time for their session",
        lead=session.lead,
        session=session,
        note=note,
        lead_url=_lead_url(session.lead),
        settings=settings,
    )


def coach_session_declined(
    session: Any, leader_name: str, when: str, source: str, *, settings: Settings
) -> MailDraft:
    return render_draft(
        MailKind.COACH_SESSION_DECLINED,
        [session.coach.email],
        f"{leader_name} declined the session on {when}",
        session=session,
        leader_name=leader_name,
        when=when,
        source=source,
        lead_url=_lead_url(session.lead),
        settings=settings,
    )

"""Invitation, update, cancellation and reminder emails for a coaching session (pure builders).

Each party (the leader, the coach) gets their own email holding:
- text and HTML that state the time with its zone ("09:00 BST"), how to join, the
  questionnaire link and Accept / Decline links (a fallback for clients without buttons);
- the calendar inline as the last alternative, `text/calendar; method=...` (mailer.py adds the
  parameter), which is what Outlook and Gmail turn into an invitation with buttons;
- the same calendar as an `invite.ics` attachment for clients that only import files, and
  (for invitations) the questionnaire as a PDF.

The ORGANIZER is the service's own mailbox (INVITE_ORGANIZER_EMAIL): replies from calendars
go there and `flask invites ingest` reads them. The organiser is never sent the invitation.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import render_template

from . import invites
from .emails import Attachment, MailDraft, render_draft
from .kinds import MailKind, Role
from .links import (
    coach_lead_url,
    coach_photo_url,
    leader_session_url,
    questionnaire_url,
    rsvp_url,
    withdraw_url,
)
from .models import CoachingSession, LeadStatus, PartStat, SessionFormat
from .questionnaire import RatingRows, questionnaire_pdf
from .settings import Settings
from .timefmt import format_range

INVITE_KINDS = ("new", "updated", "cancelled")
REMINDER_KIND = MailKind.SESSION_REMINDER
PDF_FILENAME = "reflection-questionnaire.pdf"


def join_text(session: CoachingSession) -> str:
    """How to join, in one line, by the session's format."""
    detail = (session.join_detail or "").strip()
    if session.format == SessionFormat.VIDEO:
        return f"Video call: {detail}" if detail else "Video call (the link will follow)"
    if session.format == SessionFormat.PHONE:
        return f"Phone call: {detail}" if detail else "Phone call"
    return f"In person: {detail}" if detail else "In person"


def _party(session: CoachingSession, role: Role) -> tuple[str, str]:
    if Role(role) == Role.LEADER:
        return session.lead.email, session.lead.full_name
    return session.coach.email, session.coach.name


def _context(session: CoachingSession, role: Role, kind: str, settings: Settings) -> dict[str, Any]:
    email, name = _party(session, role)
    leader = role == Role.LEADER
    return {
        "session": session,
        "role": role,
        "change": kind,
        "recipient_name": name,
        "other_name": session.coach.display_name if leader else session.lead.full_name,
        "when": format_range(session.starts_at, session.ends_at, settings.zone),
        "join": join_text(session),
        "join_link": session.join_detail
        if session.format == SessionFormat.VIDEO
        and session.join_detail.lower().startswith(("https://", "http://"))
        else None,
        "accept_url": rsvp_url(session, role, PartStat.ACCEPTED),
        "decline_url": rsvp_url(session, role, PartStat.DECLINED),
        "rsvp_url": rsvp_url(session, role),
        # The leader fills the questionnaire in; the coach reads the answers on the lead's page.
        "questionnaire_url": questionnaire_url(session) if leader else None,
        "lead_url": None if leader else coach_lead_url(session.lead_id),
        # Every email to a leader carries the no-obligation way out (once they have taken it,
        # the only email they still get is the CANCEL that clears their calendar).
        "withdrawn": session.lead.status == LeadStatus.WITHDRAWN,
        "withdraw_url": withdraw_url(session.lead)
        if leader and session.lead.status != LeadStatus.WITHDRAWN
        else None,
        # Where the leader asks for a different time or cancels (nothing to change once the
        # session is cancelled).
        "session_url": leader_session_url(session)
        if leader and kind != "cancelled" and session.lead.status != LeadStatus.WITHDRAWN
        else None,
        "minutes": int((session.ends_at - session.starts_at).total_seconds() // 60),
        # The leader's coach's photo in the invitation (links.coach_photo_url: https only).
        "coach_photo_url": coach_photo_url(session.coach) if leader else None,
    }


def _summary(session: CoachingSession, role: Role, settings: Settings) -> str:
    firm = settings.firm_name
    if role == Role.LEADER:
        return f"Coaching session with {session.coach.display_name} ({firm})"
    return f"Coaching session: {session.lead.full_name}"


def calendar_text(
    session: CoachingSession,
    role: Role,
    kind: str,
    now: datetime,
    settings: Settings,
    *,
    reason: str = "",
    cancelled_by: str = "coach",
) -> str:
    """The iCalendar object for one party: REQUEST for new/updated, CANCEL for cancelled."""
    context = _context(session, role, kind, settings)
    description = render_template(
        "email/invite_description.txt",
        **context,
        reason=reason,
        cancelled_by=cancelled_by,
        firm_name=settings.firm_name,
    ).strip()
    build = invites.build_cancel if kind == "cancelled" else invites.build_request
    return build(
        session,
        settings.firm_name,
        settings.invite_organizer_email,
        now,
        description,
        url=context["questionnaire_url"] or context["lead_url"],
        summary=_summary(session, role, settings),
    )


_SUBJECTS = {
    "new": "Invitation: {summary}, {when}",
    "updated": "Updated invitation: {summary}, now {when}",
    "cancelled": "Cancelled: {summary}, {when}",
}


def invitation(
    session: CoachingSession,
    recipient_role: Role,
    kind: str = "new",
    *,
    now: datetime,
    settings: Settings,
    reason: str = "",
    cancelled_by: str = "coach",
    ratings: RatingRows | None = None,
) -> MailDraft:
    """The invitation (kind "new"), update ("updated") or cancellation ("cancelled") for one
    party. `ratings` (the leader's before/after, for a later session of a journey) put their
    chart in the questionnaire PDF. The session's SEQUENCE must already be raised for an
    update or a cancellation.
    A cancellation is worded by who cancelled (`cancelled_by`): "coach" (the coach's reason),
    "leader" (the leader's own words in `reason`) or "withdrawn" (the leader withdrew).
    """
    if kind not in INVITE_KINDS:
        raise ValueError(f"unknown invitation kind {kind!r}")
    email, _ = _party(session, recipient_role)
    context = _context(session, recipient_role, kind, settings)
    context["cancelled_by"] = cancelled_by
    summary = _summary(session, recipient_role, settings)
    draft = render_draft(
        f"invite_{kind}",
        [email],
        _SUBJECTS[kind].format(summary=summary, when=context["when"]),
        reason=reason,
        settings=settings,
        **context,
    )
    method = "CANCEL" if kind == "cancelled" else "REQUEST"
    calendar = calendar_text(
        session, recipient_role, kind, now, settings, reason=reason, cancelled_by=cancelled_by
    )
    draft.calendar = calendar
    draft.calendar_method = method
    # The same bytes as the inline part, for clients that only import .ics files.
    draft.attachments.append(
        Attachment(
            "invite.ics",
            f"text/calendar; method={method}; charset=utf-8",
            calendar.encode("utf-8"),
        )
    )
    if kind != "cancelled":
        draft.attachments.append(
            Attachment(
                PDF_FILENAME,
                "application/pdf",
                questionnaire_pdf(settings.questionnaire_path, settings.firm_name, ratings),
            )
        )
    return draft


def reminder(session: CoachingSession, recipient_role: Role, *, settings: Settings) -> MailDraft:
    """A plain reminder email (no calendar: the event is already in the calendar)."""
    email, _ = _party(session, recipient_role)
    context = _context(session, recipient_role, "reminder", settings)
    return render_draft(
        REMINDER_KIND,
        [email],
        f"Reminder: {_summary(session, recipient_role, settings)}, {context['when']}",
        settings=settings,
        **context,
    )


__all__ = [
    "INVITE_KINDS",
    "PDF_FILENAME",
    "REMINDER_KIND",
    "calendar_text",
    "invitation",
    "join_text",
    "reminder",
]

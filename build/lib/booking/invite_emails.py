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

from flask import current_app, render_template

from . import invites
from .emails import Attachment, MailDraft, render_draft
from .models import CoachingSession, LeadStatus, PartStat, SessionFormat
from .questionnaire import questionnaire_pdf
from .timefmt import format_range
from .tokens import make_token
from .urls import external_url
from .workflow.registration import withdraw_url

ROLES = ("leader", "coach")
INVITE_KINDS = ("new", "updated", "cancelled")
REMINDER_KIND = "session_reminder"
PDF_FILENAME = "reflection-questionnaire.pdf"


def rsvp_url(session: CoachingSession, role: str, answer: PartStat | None = None) -> str:
    """The signed link where `role` answers for this session (GET shows a page, POST records)."""
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}")
    token = make_token("rsvp", {"session": session.id, "role": role})
    values: dict[str, Any] = {"token": token}
    if answer is not None:
        values["answer"] = answer.value.lower()
    return external_url("public.rsvp", **values)


def leader_session_url(session: CoachingSession) -> str:
    """The leader's own page for this session (ask for a different time, or cancel). Its own
    token purpose: an Accept / Decline link, or the coach's, cannot be used to cancel."""
    return external_url(
        "public.leader_session", token=make_token("leader-session", {"session": session.id})
    )


def questionnaire_url(session: CoachingSession) -> str:
    return external_url(
        "public.questionnaire", token=make_token("questionnaire", {"session": session.id})
    )


def join_text(session: CoachingSession) -> str:
    """How to join, in one line, by the session's format."""
    detail = (session.join_detail or "").strip()
    if session.format == SessionFormat.VIDEO:
        return f"Video call: {detail}" if detail else "Video call (the link will follow)"
    if session.format == SessionFormat.PHONE:
        return f"Phone call: {detail}" if detail else "Phone call"
    return f"In person: {detail}" if detail else "In person"


def _party(session: CoachingSession, role: str) -> tuple[str, str]:
    if role == "leader":
        return session.lead.email, session.lead.full_name
    if role == "coach":
        return session.coach.email, session.coach.name
    raise ValueError(f"unknown role {role!r}")


def _context(session: CoachingSession, role: str, kind: str) -> dict[str, Any]:
    email, name = _party(session, role)
    leader = role == "leader"
    return {
        "session": session,
        "role": role,
        "change": kind,
        "recipient_name": name,
        "other_name": session.coach.name if leader else session.lead.full_name,
        "when": format_range(session.starts_at, session.ends_at),
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
        "lead_url": None if leader else external_url("coach.lead_detail", lead_id=session.lead_id),
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
    }


def _summary(session: CoachingSession, role: str) -> str:
    firm = current_app.config["FIRM_NAME"]
    if role == "leader":
        return f"Coaching session with {session.coach.name} ({firm})"
    return f"Coaching session: {session.lead.full_name}"


def calendar_text(session: CoachingSession, role: str, kind: str, now: datetime) -> str:
    """The iCalendar object for one party: REQUEST for new/updated, CANCEL for cancelled."""
    context = _context(session, role, kind)
    description = render_template(
        "email/invite_description.txt", **context, firm_name=current_app.config["FIRM_NAME"]
    ).strip()
    build = invites.build_cancel if kind == "cancelled" else invites.build_request
    return build(
        session,
        current_app.config["FIRM_NAME"],
        current_app.config["INVITE_ORGANIZER_EMAIL"],
        now,
        description,
        url=context["questionnaire_url"] or context["lead_url"],
        summary=_summary(session, role),
    )


_SUBJECTS = {
    "new": "Invitation: {summary}, {when}",
    "updated": "Updated invitation: {summary}, now {when}",
    "cancelled": "Cancelled: {summary}, {when}",
}


def invitation(
    session: CoachingSession,
    recipient_role: str,
    kind: str = "new",
    *,
    now: datetime,
    reason: str = "",
) -> MailDraft:
    """The invitation (kind "new"), update ("updated") or cancellation ("cancelled") for one
    party. The session's SEQUENCE must already be raised for an update or a cancellation.
    """
    if kind not in INVITE_KINDS:
        raise ValueError(f"unknown invitation kind {kind!r}")
    email, _ = _party(session, recipient_role)
    context = _context(session, recipient_role, kind)
    summary = _summary(session, recipient_role)
    draft = render_draft(
        f"invite_{kind}",
        [email],
        _SUBJECTS[kind].format(summary=summary, when=context["when"]),
        reason=reason,
        **context,
    )
    method = "CANCEL" if kind == "cancelled" else "REQUEST"
    calendar = calendar_text(session, recipient_role, kind, now)
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
                questionnaire_pdf(),
            )
        )
    return draft


def reminder(session: CoachingSession, recipient_role: str) -> MailDraft:
    """A plain reminder email (no calendar: the event is already in the calendar)."""
    email, _ = _party(session, recipient_role)
    context = _context(session, recipient_role, "reminder")
    return render_draft(
        REMINDER_KIND,
        [email],
        f"Reminder: {_summary(session, recipient_role)}, {context['when']}",
        **context,
    )


__all__ = [
    "INVITE_KINDS",
    "PDF_FILENAME",
    "REMINDER_KIND",
    "ROLES",
    "calendar_text",
    "invitation",
    "join_text",
    "leader_session_url",
    "questionnaire_url",
    "reminder",
    "rsvp_url",
]

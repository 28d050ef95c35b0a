"""Pure email builders: domain objects in, a MailDraft out. Nothing here sends anything.

Each message has a text and an HTML template under templates/email/; the HTML ones are
autoescaped, so whatever a leader typed is shown, never interpreted.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from email.headerregistry import Address
from types import SimpleNamespace
from typing import Any

from flask import render_template

from . import links
from .kinds import MailKind
from .models import DIMENSION_LABELS, FORMAT_LABELS, Dimension, SessionFormat
from .references import lead_reference
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
    # Who a reply should reach ("Name <address>"). None: the outbox fills in the assigned
    # coach for mail to a leader (see outbox.enqueue).
    reply_to: str | None = None
    # No body yet: the outbox worker writes it from the lead just before the first send (see
    # `composed_at_send`). Only for kinds listed in COMPOSED_AT_SEND.
    compose_at_send: bool = False


def render_draft(
    kind: str, to: list[str], subject: str, *, settings: Settings, **context: Any
) -> MailDraft:
    """Render templates/email/<kind>.txt and .html with the shared context (`kind` is a
    MailKind, or the name of a template whose caller sets the draft's kind)."""
    # One line, single-spaced: names are stored as typed ("Siân  O'Brien", a tab), and a
    # subject shows every stray space.
    subject = " ".join(subject.split())
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


def coach_address(coach: Any) -> str:
    """The coach as a Reply-To: "Name <address>", the name quoted when it needs to be and left
    unencoded (the mailer encodes a non-ASCII name when it builds the header)."""
    name = " ".join(str(coach.name).split())
    return str(Address(display_name=name, addr_spec=str(coach.email).strip()))


def _lead_url(lead: Any) -> str:
    return links.coach_lead_url(lead.id)


ACKNOWLEDGEMENT_SUBJECT = "We have your request for personal support"


def new_lead_subject(full_name: str, organisation: str) -> str:
    return f"New request for personal support: {full_name}, {organisation}"


def leader_acknowledgement(lead: Any, *, settings: Settings) -> MailDraft:
    return render_draft(
        MailKind.LEADER_ACKNOWLEDGEMENT,
        [lead.email],
        ACKNOWLEDGEMENT_SUBJECT,
        lead=lead,
        reference=lead_reference(lead.id),
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
        reference=lead_reference(lead.id),
        withdraw_url=links.withdraw_url(lead),
        settings=settings,
    )


def coach_new_lead(lead: Any, recipients: list[str], *, settings: Settings) -> MailDraft:
    return render_draft(
        MailKind.COACH_NEW_LEAD,
        recipients,
        new_lead_subject(lead.full_name, lead.organisation),
        lead=lead,
        lead_url=_lead_url(lead),
        settings=settings,
    )


# ----- composed when sent -------------------------------------------------------------------
# A registration's two emails are the request's costliest part to write (four templates), and
# nothing in the request needs their bodies. So the registration queues them as drafts with
# recipients and subject only, and the outbox worker writes each body from the lead just before
# its first send (`outbox._deliver_one`), then keeps it, so a retry sends the same message. A
# lead erased or withdrawn meanwhile has its waiting mail cancelled and blanked: nothing is
# ever composed from erased data.
COMPOSED_AT_SEND: dict[str, Callable[[Any, list[str], Settings], MailDraft]] = {
    MailKind.LEADER_ACKNOWLEDGEMENT: lambda lead, to, settings: leader_acknowledgement(
        lead, settings=settings
    ),
    MailKind.COACH_NEW_LEAD: lambda lead, to, settings: coach_new_lead(lead, to, settings=settings),
}


def to_compose_at_send(kind: MailKind, to: list[str], subject: str) -> MailDraft:
    """A draft of one of the COMPOSED_AT_SEND kinds, its body to be written when it is sent."""
    assert kind in COMPOSED_AT_SEND, kind
    return MailDraft(kind=kind, to=to, subject=subject, text="", compose_at_send=True)


def composed_at_send(kind: str, lead: Any, to: list[str], *, settings: Settings) -> MailDraft:
    """The whole message of a draft queued with `to_compose_at_send`, written from the lead."""
    return COMPOSED_AT_SEND[kind](lead, to, settings)


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


def coach_set_password(
    coach: Any, invited_by: Any, *, settings: Settings, new_account: bool = True
) -> MailDraft:
    """A coach an admin added (`new_account`), or one an admin sent the link again, chooses
    a password."""
    return render_draft(
        MailKind.COACH_SET_PASSWORD,
        [coach.email],
        f"Your coach area account at {settings.firm_name}: choose a password",
        coach=coach,
        invited_by=invited_by,
        new_account=new_account,
        set_password_url=links.set_password_url(coach),
        sign_in_url=settings.base_url + "/coach/sign-in",
        settings=settings,
    )


def leader_proposed_times(
    proposal: Any, *, settings: Settings, leader_asked: bool = False, next_session: bool = False
) -> MailDraft:
    # New times for a booked session (the leader asked to move it) say so: their session
    # stays booked until they pick one, and picking moves it.
    return render_draft(
        MailKind.LEADER_PROPOSED_TIMES,
        [proposal.lead.email],
        "New times for your coaching session"
        if proposal.moves_session is not None
        else "Times for your next coaching session"
        if next_session
        else "Times for your first coaching session",
        lead=proposal.lead,
        proposal=proposal,
        leader_asked=leader_asked,
        coach_photo_url=links.coach_photo_url(proposal.coach),
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
    session: Any,
    recipients: list[str],
    leader_name: str,
    when: str,
    source: str,
    *,
    settings: Settings,
) -> MailDraft:
    return render_draft(
        MailKind.COACH_SESSION_DECLINED,
        recipients,
        f"{leader_name} declined the session on {when}",
        session=session,
        leader_name=leader_name,
        when=when,
        source=source,
        lead_url=_lead_url(session.lead),
        settings=settings,
    )


# ----- telling the right coach (issue 8) ----------------------------------------------------


def coach_lead_assigned(
    lead: Any, recipients: list[str], handed_by: str, *, settings: Settings
) -> MailDraft:
    """Another coach handed this lead to the recipient."""
    return render_draft(
        MailKind.COACH_LEAD_ASSIGNED,
        recipients,
        f"{handed_by} handed you a lead: {lead.full_name}, {lead.organisation}",
        lead=lead,
        handed_by=handed_by,
        lead_url=_lead_url(lead),
        settings=settings,
    )


@dataclass(frozen=True)
class DigestLine:
    at: Any
    summary: str


@dataclass(frozen=True)
class DigestLead:
    """One lead's lines in a digest, and the link to its page."""

    name: str
    organisation: str
    url: str
    lines: list[DigestLine]


def digest_leads(notices: list[Any]) -> list[DigestLead]:
    """The digest's notices grouped by lead, leads in the order of their first notice. An
    erased lead is named as such (the notices never copy the leader's name)."""
    grouped: dict[int, DigestLead] = {}
    for notice in notices:
        lead = notice.lead
        entry = grouped.get(lead.id)
        if entry is None:
            erased = lead.erased_at is not None
            entry = grouped[lead.id] = DigestLead(
                name="A leader whose data was erased" if erased else lead.full_name,
                organisation="" if erased else lead.organisation,
                url=_lead_url(lead),
                lines=[],
            )
        entry.lines.append(DigestLine(notice.at, notice.summary))
    return list(grouped.values())


def coach_digest(coach: Any, notices: list[Any], day: Any, *, settings: Settings) -> MailDraft:
    """One coach's daily digest: what happened on their leads since their last digest."""
    leads = digest_leads(notices)
    count = len(notices)
    return render_draft(
        MailKind.COACH_DIGEST,
        [coach.email],
        f"Your leads: {count} update{'s' if count != 1 else ''} "
        f"({day.strftime('%A')} {day.day} {day.strftime('%B')})",
        coach=coach,
        leads=leads,
        count=count,
        preferences_url=links.coach_notification_settings_url(),
        settings=settings,
    )


def leader_message(
    lead: Any, coach: Any, subject: str, body: str, *, settings: Settings
) -> MailDraft:
    """A coach's own message to the leader, from the lead's page. Replies go to that coach
    (who may not be the lead's assigned coach)."""
    draft = render_draft(
        MailKind.LEADER_MESSAGE,
        [lead.email],
        subject,
        lead=lead,
        coach=coach,
        body=body,
        withdraw_url=links.withdraw_url(lead),
        settings=settings,
    )
    draft.reply_to = coach_address(coach)
    return draft


def coach_session_cancelled(
    session: Any, recipients: list[str], leader_words: str, *, settings: Settings
) -> MailDraft:
    """The leader cancelled a session held with another coach; this tells the lead's coach (the
    session's own coach hears through the calendar cancellation)."""
    return render_draft(
        MailKind.COACH_SESSION_CANCELLED,
        recipients,
        f"{session.lead.full_name} cancelled their session",
        lead=session.lead,
        session=session,
        leader_words=leader_words,
        lead_url=_lead_url(session.lead),
        settings=settings,
    )


def leader_session_actions(session: Any, actions: str, *, settings: Settings) -> MailDraft:
    """The actions agreed in a held session, sent when the coach chooses to."""
    return render_draft(
        MailKind.LEADER_SESSION_ACTIONS,
        [session.lead.email],
        "The actions you agreed in your coaching session",
        lead=session.lead,
        session=session,
        actions=actions,
        withdraw_url=links.withdraw_url(session.lead),
        settings=settings,
    )


def leader_follow_up(follow_up: Any, *, reminder: bool, settings: Settings) -> MailDraft:
    """The follow-up questionnaire after a journey, or its one reminder (whose templates
    include the follow-up's with `reminder` set)."""
    return render_draft(
        MailKind.LEADER_FOLLOW_UP_REMINDER if reminder else MailKind.LEADER_FOLLOW_UP,
        [follow_up.lead.email],
        "A reminder: how has your leadership changed?"
        if reminder
        else "How has your leadership changed since your coaching?",
        lead=follow_up.lead,
        reminder=reminder,
        follow_up_url=links.follow_up_url(follow_up),
        withdraw_url=links.withdraw_url(follow_up.lead),
        settings=settings,
    )

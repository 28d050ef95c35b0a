"""Answers to a session: each party's accept / tentative / decline, and the leader's reflection.

Answers arrive two ways: a calendar's METHOD:REPLY email (read by `flask invites ingest`) or
the Accept / Decline link in the invitation email. Both end in `record_partstat`. The caller
commits, as everywhere in the workflow.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Collection, Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import or_, select

from .. import emails
from ..extensions import db
from ..invites import Reply
from ..kinds import EventKind, NoticeKind, Role
from ..models import (
    CoachingSession,
    LeadEvent,
    PartStat,
    QuestionnaireResponse,
    RatingKind,
    SessionStatus,
)
from ..questionnaire import check_answers, load_questionnaire
from ..settings import Settings
from ..timefmt import format_range
from .common import DomainError, record_event
from .notices import coach_of, tell_coach
from .outcomes import is_first_session, store_ratings

log = logging.getLogger(__name__)

ANSWER_WORDS = {
    PartStat.NEEDS_ACTION: "has not answered",
    PartStat.ACCEPTED: "accepted",
    PartStat.TENTATIVE: "tentatively accepted",
    PartStat.DECLINED: "declined",
}

CALENDAR_REPLY = "calendar reply"  # the source of an answer read from a METHOD:REPLY email

# What apply_reply did with a calendar reply.
APPLIED, UNCHANGED, STALE, UNKNOWN_UID, UNKNOWN_ATTENDEE, NOT_BOOKED, IGNORED = (
    "applied",
    "unchanged",
    "stale",
    "unknown-uid",
    "unknown-attendee",
    "not-booked",
    "ignored",
)


def party_name(session: CoachingSession, role: Role) -> str:
    return session.lead.full_name if Role(role) == Role.LEADER else session.coach.name


def partstat_of(session: CoachingSession, role: Role) -> PartStat:
    return session.leader_partstat if Role(role) == Role.LEADER else session.coach_partstat


def accepted_by_both(session: CoachingSession) -> bool:
    return (
        session.leader_partstat == PartStat.ACCEPTED and session.coach_partstat == PartStat.ACCEPTED
    )


def record_partstat(
    session: CoachingSession,
    role: Role,
    partstat: PartStat,
    now: datetime,
    source: str,
    *,
    settings: Settings,
    detail: Mapping[str, Any] | None = None,
) -> bool:
    """Set the party's answer; returns False when it was already that answer (nothing recorded).

    Every change goes on the lead's history (with `detail` added to the event's own). A
    decline is its own event kind
    ("session-declined") so the coach area can show it prominently, and the coach is emailed
    when the leader declines.
    """
    role = Role(role)
    partstat = PartStat(partstat)
    if session.status != SessionStatus.BOOKED:
        raise DomainError("This session is no longer booked, so there is nothing to answer.")
    previous = partstat_of(session, role)
    if previous == partstat:
        return False
    if role == Role.LEADER:
        session.leader_partstat = partstat
    else:
        session.coach_partstat = partstat
    session.updated_at = now

    name = party_name(session, role)
    when = format_range(session.starts_at, session.ends_at, settings.zone)
    declined = partstat == PartStat.DECLINED
    summary = f"{name} ({role}) {ANSWER_WORDS[partstat]} the session on {when}"
    if declined:
        summary = f"Declined: {summary}"
    elif accepted_by_both(session):
        summary += "; accepted by both"
    record_event(
        session.lead,
        EventKind.SESSION_DECLINED if declined else EventKind.SESSION_ANSWER,
        summary,
        now=now,
        actor=session.coach if role == Role.COACH else None,
        actor_label=name,
        detail={
            "session_id": session.id,
            "role": role,
            "partstat": partstat.value,
            "previous": previous.value,
            "source": source,
            **(detail or {}),
        },
    )
    if declined and role == Role.LEADER:
        tell_coach(
            coach_of(session.lead, session.coach),
            session.lead_id,
            NoticeKind.DECLINED,
            f"Declined the session on {when}",
            lambda recipients: emails.coach_session_declined(
                session, recipients, name, when, source, settings=settings
            ),
            now=now,
            settings=settings,
            session_id=session.id,
        )
    return True


def apply_reply(reply: Reply, now: datetime, *, settings: Settings) -> str:
    """Apply one calendar REPLY; returns what happened (see the constants above).

    Matched on UID plus the attendee's address, case-insensitively: Outlook.com replies may
    have no ORGANIZER, so nothing else is relied on. Stale replies (a SEQUENCE lower than the
    session's: an answer to a time that has since moved) and unknown UIDs or attendees are
    logged and ignored. Whether the reply's sender may answer for this attendee is the
    caller's check (booking/replies.py).
    """
    session = db.session.scalars(
        select(CoachingSession).where(CoachingSession.uid == reply.uid)
    ).first()
    # The logs name sessions by id and parties by role: addresses are personal data.
    if session is None:
        log.warning("calendar reply for an unknown UID ignored")
        return UNKNOWN_UID
    email = reply.attendee_email.strip().lower()
    role = next(
        (
            r
            for r, address in ((Role.LEADER, session.lead.email), (Role.COACH, session.coach.email))
            if address.strip().lower() == email
        ),
        None,
    )
    if role is None:
        log.warning("calendar reply for session %s from someone not invited ignored", session.id)
        return UNKNOWN_ATTENDEE
    if reply.sequence < session.sequence:
        log.info(
            "stale calendar reply for session %s from the %s (SEQUENCE %s < %s) ignored",
            session.id,
            role,
            reply.sequence,
            session.sequence,
        )
        return STALE
    if session.status != SessionStatus.BOOKED:
        log.info(
            "calendar reply for session %s, which is %s, ignored", session.id, session.status.value
        )
        return NOT_BOOKED
    try:
        partstat = PartStat(reply.partstat.upper())
    except ValueError:
        return IGNORED
    if partstat == PartStat.NEEDS_ACTION:
        return IGNORED
    if _superseded(session, role, reply):
        log.info(
            "calendar reply for session %s from the %s is older (DTSTAMP) than the one "
            "applied before; ignored",
            session.id,
            role,
        )
        return STALE
    changed = record_partstat(
        session,
        role,
        partstat,
        now,
        source=CALENDAR_REPLY,
        settings=settings,
        detail={
            "sequence": reply.sequence,
            "dtstamp": reply.dtstamp.isoformat() if reply.dtstamp else None,
        },
    )
    return APPLIED if changed else UNCHANGED


def _superseded(session: CoachingSession, role: Role, reply: Reply) -> bool:
    """Whether a calendar reply of this party with the same SEQUENCE and a later DTSTAMP was
    applied already: RFC 5546 orders replies by SEQUENCE, then DTSTAMP. Mail can arrive out of
    order (a decline written at 09:00 delayed past an accept written at 09:05).

    Read from the lead's history, where each applied reply keeps its SEQUENCE and DTSTAMP;
    only calendar replies are compared (the same client clock), not link answers. A reply
    that changed nothing leaves no history, so it is not compared against.
    """
    if reply.dtstamp is None:
        return False
    events = db.session.scalars(
        select(LeadEvent)
        .where(
            LeadEvent.lead_id == session.lead_id,
            LeadEvent.kind.in_((EventKind.SESSION_ANSWER, EventKind.SESSION_DECLINED)),
        )
        .order_by(LeadEvent.id.desc())
    )
    for event in events:
        detail = event.detail
        if detail.get("session_id") != session.id or detail.get("role") != role:
            continue
        if detail.get("source") != CALENDAR_REPLY or not detail.get("dtstamp"):
            continue
        if detail.get("sequence") != reply.sequence:
            return False
        try:
            applied = datetime.fromisoformat(str(detail["dtstamp"]))
        except ValueError:
            return False
        return applied > reply.dtstamp
    return False


def declined_roles(session: CoachingSession) -> list[Role]:
    """Who has declined this booked session (empty for a cancelled or held one: moot)."""
    if session.status != SessionStatus.BOOKED:
        return []
    return [role for role in Role if partstat_of(session, role) == PartStat.DECLINED]


def declined_lead_ids(lead_ids: Collection[int]) -> set[int]:
    """Of these leads, those whose booked session someone has declined: one query for a page
    of the lead list, not one a row."""
    if not lead_ids:
        return set()
    return set(
        db.session.scalars(
            select(CoachingSession.lead_id).where(
                CoachingSession.lead_id.in_(list(lead_ids)),
                CoachingSession.status == SessionStatus.BOOKED,
                or_(
                    CoachingSession.leader_partstat == PartStat.DECLINED,
                    CoachingSession.coach_partstat == PartStat.DECLINED,
                ),
            )
        )
    )


def questionnaire_responses(
    sessions: Collection[CoachingSession],
) -> dict[int, QuestionnaireResponse]:
    """The stored reflection answers of these sessions, by session id, in one query."""
    ids = [s.id for s in sessions]
    if not ids:
        return {}
    return {
        r.session_id: r
        for r in db.session.scalars(
            select(QuestionnaireResponse).where(QuestionnaireResponse.session_id.in_(ids))
        )
    }


def questionnaire_open(session: CoachingSession, now: datetime) -> bool:
    return session.status == SessionStatus.BOOKED and now < session.starts_at


def questionnaire_response(session: CoachingSession) -> QuestionnaireResponse | None:
    return db.session.scalars(
        select(QuestionnaireResponse).where(QuestionnaireResponse.session_id == session.id)
    ).first()


def save_questionnaire(
    session: CoachingSession, answers: Mapping[str, Any], now: datetime, *, settings: Settings
) -> QuestionnaireResponse:
    """Store the leader's answers (all optional); they can be changed until the session starts."""
    if not questionnaire_open(session, now):
        raise DomainError(
            "The questionnaire for this session is closed: the session has "
            "started or is no longer booked."
        )
    questionnaire = load_questionnaire(settings.questionnaire_path)
    check = check_answers(questionnaire, answers)
    if not check.ok:
        raise DomainError("Some answers need correcting: " + "; ".join(check.errors.values()))
    response = questionnaire_response(session)
    changed = response is not None
    if response is None:
        response = QuestionnaireResponse(session_id=session.id)
        db.session.add(response)
    response.answers_json = json.dumps(check.answers, ensure_ascii=False)
    response.updated_at = now
    if is_first_session(session):
        # The reflection before the first session is the journey's "before".
        store_ratings(
            session.lead, RatingKind.BEFORE, questionnaire, check.answers, now=now, session=session
        )
    record_event(
        session.lead,
        EventKind.QUESTIONNAIRE,
        "Changed their reflection answers" if changed else "Answered the reflection questionnaire",
        now=now,
        actor_label=session.lead.full_name,
        detail={"session_id": session.id, "answered": sorted(check.answers)},
    )
    return response


__all__ = [
    "ANSWER_WORDS",
    "accepted_by_both",
    "apply_reply",
    "declined_lead_ids",
    "declined_roles",
    "party_name",
    "partstat_of",
    "questionnaire_open",
    "questionnaire_response",
    "questionnaire_responses",
    "record_partstat",
    "save_questionnaire",
]

"""The fixed words the service stores as strings: who a party is, what kind of email a row in
the outbox is, and what kind of change a line of a lead's history records.

StrEnums, so each value is the very string stored before (no data migration; the columns stay
strings) and compares equal to it in code and templates.
"""

from __future__ import annotations

import enum


class Role(enum.StrEnum):
    """The two parties to a session."""

    LEADER = "leader"
    COACH = "coach"


class MailKind(enum.StrEnum):
    """What an outbox row is for. Most are also the name of their templates in templates/email/."""

    LEADER_ACKNOWLEDGEMENT = "leader_acknowledgement"
    LEADER_BOOK_LINK = "leader_book_link"
    LEADER_REPEAT_REGISTRATION = "leader_repeat_registration"
    LEADER_PROPOSED_TIMES = "leader_proposed_times"
    LEADER_SESSION_CONFIRMED = "leader_session_confirmed"
    LEADER_SESSION_UPDATE = "leader_session_update"
    COACH_NEW_LEAD = "coach_new_lead"
    COACH_REPEAT_REGISTRATION = "coach_repeat_registration"
    COACH_PASSWORD_RESET = "coach_password_reset"
    COACH_SET_PASSWORD = "coach_set_password"
    COACH_NONE_SUIT = "coach_none_suit"
    COACH_LEADER_WITHDRAWN = "coach_leader_withdrawn"
    COACH_NEW_TIME_REQUESTED = "coach_new_time_requested"
    COACH_SESSION_DECLINED = "coach_session_declined"
    COACH_SESSION_CONFIRMED = "coach_session_confirmed"
    COACH_SESSION_UPDATE = "coach_session_update"
    SESSION_REMINDER = "session_reminder"
    COACH_LEAD_ASSIGNED = "coach_lead_assigned"
    COACH_SESSION_CANCELLED = "coach_session_cancelled"
    COACH_DIGEST = "coach_digest"
    LEADER_MESSAGE = "leader_message"
    # The journey: the agreed actions of a held session (when the coach sends them), and the
    # follow-up questionnaire and its one reminder (both from the leader_follow_up templates).
    LEADER_SESSION_ACTIONS = "leader_session_actions"
    LEADER_FOLLOW_UP = "leader_follow_up"
    LEADER_FOLLOW_UP_REMINDER = "leader_follow_up_reminder"


# A calendar invitation's outbox kind names its purpose for the coach area: a confirmation of
# a new session, or an update (moved or cancelled).
_INVITATION_KINDS = {
    (Role.LEADER, True): MailKind.LEADER_SESSION_CONFIRMED,
    (Role.LEADER, False): MailKind.LEADER_SESSION_UPDATE,
    (Role.COACH, True): MailKind.COACH_SESSION_CONFIRMED,
    (Role.COACH, False): MailKind.COACH_SESSION_UPDATE,
}


def invitation_kind(role: Role, change: str) -> MailKind:
    """The outbox kind of one party's invitation (change "new") or update / cancellation."""
    return _INVITATION_KINDS[(Role(role), change == "new")]


class EventKind(enum.StrEnum):
    """What a line of a lead's history (lead_event.kind) records."""

    REGISTERED = "registered"
    REGISTERED_AGAIN = "registered-again"
    WITHDRAWN = "withdrawn"
    ASSIGNED = "assigned"
    NOTE = "note"
    FREE_SLOTS_OFFERED = "free-slots-offered"
    STATUS = "status"
    PROPOSAL_CLOSED = "proposal-closed"
    MOVE_PROPOSED = "move-proposed"
    MOVE_NONE_SUIT = "move-none-suit"
    NEW_TIME_REQUESTED = "new-time-requested"
    SESSION_MOVED = "session-moved"
    SESSION_CANCELLED = "session-cancelled"
    SESSION_ANSWER = "session-answer"
    SESSION_DECLINED = "session-declined"
    QUESTIONNAIRE = "questionnaire"
    ERASED = "erased"
    MESSAGE_SENT = "message-sent"
    SESSION_NOTES = "session-notes"
    FOLLOW_UP = "follow-up"


class NoticeKind(enum.StrEnum):
    """What a coach is told about (coach_notice.kind): one email each, or a line of a digest."""

    NEW_LEAD = "new-lead"
    REGISTERED_AGAIN = "registered-again"
    ASSIGNED = "assigned"
    NEW_TIME_REQUESTED = "new-time-requested"
    NONE_SUIT = "none-suit"
    DECLINED = "declined"
    CANCELLED = "cancelled"
    WITHDRAWN = "withdrawn"


__all__ = ["EventKind", "MailKind", "NoticeKind", "Role", "invitation_kind"]

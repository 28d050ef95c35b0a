"""The stored words behind the enums must not change: rows already in the database use them."""

from __future__ import annotations

import pytest

from booking.kinds import EventKind, MailKind, Role, invitation_kind


@pytest.mark.parametrize(
    ("role", "change", "kind"),
    [
        (Role.LEADER, "new", "leader_session_confirmed"),
        (Role.LEADER, "updated", "leader_session_update"),
        (Role.COACH, "new", "coach_session_confirmed"),
        ("coach", "cancelled", "coach_session_update"),
    ],
)
def test_invitation_kinds_keep_their_stored_names(role, change, kind):
    assert invitation_kind(role, change) == kind


def test_stored_values_are_the_strings_used_before():
    assert [r.value for r in Role] == ["leader", "coach"]
    assert MailKind.SESSION_REMINDER == "session_reminder"
    assert EventKind.NEW_TIME_REQUESTED == "new-time-requested"
    assert EventKind.MOVE_NONE_SUIT == "move-none-suit"
    # Every mail kind except the invitations names its own templates.
    from pathlib import Path

    templates = Path(__file__).resolve().parent.parent / "templates" / "email"
    for kind in MailKind:
        if kind.endswith(("_confirmed", "_update")):
            continue
        assert (templates / f"{kind}.txt").exists() and (templates / f"{kind}.html").exists()

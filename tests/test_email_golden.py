"""Golden files for every email: each template under templates/email/ rendered through the real
builders (booking/emails.py, booking/invite_emails.py) from fixed data, compared with
tests/golden/emails/<template>[.<case>].<ext>.

Fixed: the people, ids and times below, BASE_URL, SECRET_KEY and the signing clock, so the
signed links are the same on every run.

After changing an email on purpose, refresh the files and read the diff before committing:

    UPDATE_GOLDEN=1 make test-fast PYTEST_ARGS=tests/test_email_golden.py
    (or: pytest tests/test_email_golden.py --update-golden)
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from flask import Flask

from booking import emails, invite_emails
from booking.emails import MailDraft
from booking.kinds import Role
from booking.models import (
    Coach,
    CoachingSession,
    CoachNotice,
    FollowUp,
    Lead,
    LeadStatus,
    Proposal,
    ProposalStatus,
    ProposedTime,
    SessionFormat,
    SessionStatus,
)
from booking.settings import Settings, current_settings

ROOT = Path(__file__).resolve().parent.parent
TEMPLATES = ROOT / "templates" / "email"
GOLDEN = Path(__file__).resolve().parent / "golden" / "emails"
NOW = datetime(2026, 11, 30, 10, 0, tzinfo=UTC)
SIGNED_AT = int(NOW.timestamp())


def _updating(request: pytest.FixtureRequest) -> bool:
    return bool(os.environ.get("UPDATE_GOLDEN") or request.config.getoption("--update-golden"))


@pytest.fixture
def golden_app(make_app, monkeypatch) -> Iterator[Flask]:
    from itsdangerous.timed import TimestampSigner

    monkeypatch.setattr(TimestampSigner, "get_timestamp", lambda self: SIGNED_AT)
    app = make_app(
        SECRET_KEY="golden-secret",
        BASE_URL="https://booking.example",
        FIRM_NAME="Compassionate Leadership Coaching",
    )
    with app.app_context():
        yield app


def _coach() -> Coach:
    return Coach(
        id=3,
        email="maya@example.org",
        name="Maya Patel",
        password_hash="$argon2id$v=19$m=1024,t=1,p=1$fixed$fixed",
        active=True,
        created_at=NOW,
    )


def _coach_with_profile() -> Coach:
    """A coach with the profile leaders see: a shown name, a bio of two lines, a photo."""
    coach = _coach()
    coach.shown_name = "Dr Maya Patel"
    coach.bio = "Twenty years as an NHS ward manager.\nI coach with compassion & a plan."
    coach.photo_digest = "ab" * 32
    return coach


def _with_profile(thing: Proposal | CoachingSession) -> Proposal | CoachingSession:
    thing.coach = _coach_with_profile()
    return thing


def _new_coach() -> Coach:
    return Coach(
        id=5,
        email="sam.okoye@example.org",
        name="Sam Okoye",
        password_hash="$argon2id$v=19$m=1024,t=1,p=1$fixed$random",
        active=True,
        created_at=NOW,
    )


def _lead(status: LeadStatus = LeadStatus.NEW) -> Lead:
    return Lead(
        id=42,
        created_at=NOW,
        updated_at=NOW,
        full_name="Siân O'Brien-Smith",
        email="sian.obrien@nhs.example",
        phone="07911 123456",
        organisation="Northfield Community Trust",
        role="Ward manager",
        dimensions="compassionate,practical",
        help_text="Leading a team through a hard winter.\nNights are the hardest <part>.",
        preferred_format=SessionFormat.VIDEO,
        availability="Tuesday mornings",
        consent_at=NOW,
        status=status,
        status_reason="",
        assigned_coach=_coach(),
    )


def _session(status: LeadStatus = LeadStatus.AGREED, sequence: int = 0) -> CoachingSession:
    starts = datetime(2026, 12, 8, 10, 0, tzinfo=UTC)
    lead = _lead(status)
    coach = lead.assigned_coach
    return CoachingSession(
        id=7,
        lead_id=lead.id,
        coach_id=3,
        lead=lead,
        coach=coach,
        starts_at=starts,
        ends_at=starts + timedelta(minutes=60),
        format=SessionFormat.VIDEO,
        join_detail="https://meet.example/maya",
        uid="session-7@booking.example",
        sequence=sequence,
        status=SessionStatus.CANCELLED if sequence > 1 else SessionStatus.BOOKED,
        created_at=NOW,
        updated_at=NOW,
    )


def _proposal(moves: bool = False) -> Proposal:
    lead = _lead(LeadStatus.TIMES_PROPOSED)
    proposal = Proposal(
        id=11,
        lead_id=lead.id,
        lead=lead,
        coach=lead.assigned_coach,
        coach_id=3,
        created_at=NOW,
        status=ProposalStatus.OPEN,
        leader_note="Mornings are easier for me.",
        moves_session=_session() if moves else None,
    )
    for n, (day, hour) in enumerate([(8, 10), (9, 14)], start=1):
        starts = datetime(2026, 12, day, hour, 0, tzinfo=UTC)
        proposal.times.append(
            ProposedTime(
                id=20 + n,
                starts_at=starts,
                ends_at=starts + timedelta(minutes=60),
                format=SessionFormat.VIDEO,
                join_detail="https://meet.example/maya",
            )
        )
    return proposal


COACHES = ["coaches@example.org"]


def _digest_notices() -> list[CoachNotice]:
    """Three notices on two leads, one of them erased (named as such, never by a copy)."""
    first, erased = _lead(LeadStatus.AGREED), _lead(LeadStatus.WITHDRAWN)
    erased.id, erased.erased_at = 43, NOW
    return [
        CoachNotice(
            lead=first,
            lead_id=first.id,
            at=NOW,
            kind="new-time-requested",
            summary="Asked for a different time for the session on Tuesday 8 December 2026",
        ),
        CoachNotice(
            lead=erased,
            lead_id=erased.id,
            at=NOW + timedelta(hours=2),
            kind="withdrawn",
            summary="Withdrew their interest",
        ),
        CoachNotice(
            lead=first,
            lead_id=first.id,
            at=NOW + timedelta(hours=5),
            kind="declined",
            summary="Declined the session on Tuesday 8 December 2026, 10:00–11:00 GMT",
        ),
    ]


def _s() -> Settings:
    return current_settings()


# (template, case) -> the draft; every template under templates/email/ appears at least once.
CASES: dict[tuple[str, str], Callable[[], MailDraft | str]] = {
    ("leader_acknowledgement", ""): lambda: emails.leader_acknowledgement(_lead(), settings=_s()),
    ("leader_acknowledgement", "self_booking"): lambda: emails.leader_acknowledgement(
        _lead(), settings=replace(_s(), self_booking=True)
    ),
    ("leader_book_link", ""): lambda: emails.leader_book_link(_lead(), settings=_s()),
    ("coach_new_lead", ""): lambda: emails.coach_new_lead(_lead(), COACHES, settings=_s()),
    ("coach_repeat_registration", ""): lambda: emails.coach_repeat_registration(
        _lead(),
        COACHES,
        {"phone": "07700 900123", "help_text": "Still looking for support.", "role": "Matron"},
        settings=_s(),
    ),
    ("leader_repeat_registration", ""): lambda: emails.leader_repeat_registration(
        _lead(), settings=_s()
    ),
    ("leader_session_actions", ""): lambda: emails.leader_session_actions(
        _session(LeadStatus.HELD),
        "Run a ten-minute huddle each morning.\nAsk one person a week what gets in their way.",
        settings=_s(),
    ),
    ("leader_follow_up", ""): lambda: emails.leader_follow_up(
        FollowUp(id=3, lead=_lead(LeadStatus.CLOSED), lead_id=1), reminder=False, settings=_s()
    ),
    ("leader_follow_up_reminder", ""): lambda: emails.leader_follow_up(
        FollowUp(id=3, lead=_lead(LeadStatus.CLOSED), lead_id=1), reminder=True, settings=_s()
    ),
    ("leader_proposed_times", "move-asked"): lambda: emails.leader_proposed_times(
        _proposal(moves=True), settings=_s(), leader_asked=True
    ),
    ("invite_cancelled", "leader.by-leader"): lambda: invite_emails.invitation(
        _session(sequence=2),
        Role.LEADER,
        "cancelled",
        now=NOW,
        settings=_s(),
        reason="A clash with a board meeting.",
        cancelled_by="leader",
    ),
    ("invite_cancelled", "coach.by-leader"): lambda: invite_emails.invitation(
        _session(sequence=2),
        Role.COACH,
        "cancelled",
        now=NOW,
        settings=_s(),
        reason="A clash with a board meeting.",
        cancelled_by="leader",
    ),
    ("invite_cancelled", "leader.withdrawn"): lambda: invite_emails.invitation(
        _session(LeadStatus.WITHDRAWN, sequence=2),
        Role.LEADER,
        "cancelled",
        now=NOW,
        settings=_s(),
        cancelled_by="withdrawn",
    ),
    ("coach_password_reset", ""): lambda: emails.coach_password_reset(_coach(), settings=_s()),
    ("coach_set_password", ""): lambda: emails.coach_set_password(
        _new_coach(), Coach(id=1, email="ada@example.org", name="Ada Lovell"), settings=_s()
    ),
    ("coach_set_password", "resent"): lambda: emails.coach_set_password(
        _new_coach(),
        Coach(id=1, email="ada@example.org", name="Ada Lovell"),
        settings=_s(),
        new_account=False,
    ),
    ("leader_proposed_times", "profile"): lambda: emails.leader_proposed_times(
        _with_profile(_proposal()), settings=_s()
    ),
    ("invite_new", "leader.profile"): lambda: invite_emails.invitation(
        _with_profile(_session()), Role.LEADER, "new", now=NOW, settings=_s()
    ),
    ("leader_proposed_times", "first"): lambda: emails.leader_proposed_times(
        _proposal(), settings=_s()
    ),
    ("leader_proposed_times", "move"): lambda: emails.leader_proposed_times(
        _proposal(moves=True), settings=_s()
    ),
    ("coach_none_suit", "first"): lambda: emails.coach_none_suit(
        _proposal(), COACHES, settings=_s()
    ),
    ("coach_none_suit", "move"): lambda: emails.coach_none_suit(
        _proposal(moves=True), COACHES, settings=_s()
    ),
    ("coach_leader_withdrawn", "no-session"): lambda: emails.coach_leader_withdrawn(
        _lead(LeadStatus.WITHDRAWN), COACHES, None, settings=_s()
    ),
    ("coach_leader_withdrawn", "session"): lambda: emails.coach_leader_withdrawn(
        _lead(LeadStatus.WITHDRAWN),
        COACHES,
        _session(LeadStatus.WITHDRAWN, sequence=2),
        settings=_s(),
    ),
    ("coach_new_time_requested", ""): lambda: emails.coach_new_time_requested(
        _session(), "Could we move to the afternoon?", COACHES, settings=_s()
    ),
    ("coach_session_declined", ""): lambda: emails.coach_session_declined(
        _session(),
        ["maya@example.org"],
        "Siân O'Brien-Smith",
        "Tuesday 8 December 2026, 10:00–11:00 GMT",
        "email",
        settings=_s(),
    ),
    ("session_reminder", "leader"): lambda: invite_emails.reminder(
        _session(), Role.LEADER, settings=_s()
    ),
    ("coach_lead_assigned", ""): lambda: emails.coach_lead_assigned(
        _lead(LeadStatus.CONTACTED), ["maya@example.org"], "Sam Okafor", settings=_s()
    ),
    ("coach_session_cancelled", ""): lambda: emails.coach_session_cancelled(
        _session(), ["sam@example.org"], "I have a clash at work, sorry.", settings=_s()
    ),
    ("coach_digest", ""): lambda: emails.coach_digest(
        _coach(), _digest_notices(), date(2026, 12, 1), settings=_s()
    ),
    ("leader_message", ""): lambda: emails.leader_message(
        _lead(LeadStatus.CONTACTED),
        _coach(),
        "A message from your coach",
        "Thank you for your time on the phone today.\nI will send <two> times by Friday.",
        settings=_s(),
    ),
    ("session_reminder", "coach"): lambda: invite_emails.reminder(
        _session(), Role.COACH, settings=_s()
    ),
    ("invite_description", "leader"): lambda: invite_emails.calendar_text(
        _session(), Role.LEADER, "new", NOW, _s()
    ),
    ("invite_description", "coach"): lambda: invite_emails.calendar_text(
        _session(), Role.COACH, "new", NOW, _s()
    ),
}
for _kind, _sequence in [("new", 0), ("updated", 1), ("cancelled", 2)]:
    for _role in Role:
        CASES[(f"invite_{_kind}", _role)] = lambda kind=_kind, role=_role, sequence=_sequence: (
            invite_emails.invitation(
                _session(sequence=sequence),
                role,
                kind,
                now=NOW,
                settings=_s(),
                reason="The coach is unwell." if kind != "new" else "",
            )
        )


def _outputs(template: str, case: str, built: MailDraft | str) -> dict[str, str]:
    """File name -> content for one case."""
    stem = template + (f".{case}" if case else "")
    if isinstance(built, str):  # an iCalendar object: its DESCRIPTION comes from the template
        return {f"{stem}.ics": built.replace("\r\n", "\n")}
    assert built.kind == template
    header = f"To: {', '.join(built.to)}\nSubject: {built.subject}\n"
    if built.reply_to:
        header += f"Reply-To: {built.reply_to}\n"
    if built.attachments:
        header += "Attachments: " + ", ".join(a.filename for a in built.attachments) + "\n"
    return {f"{stem}.txt": header + "\n" + built.text, f"{stem}.html": built.html}


@pytest.mark.parametrize(
    ("template", "case"), list(CASES), ids=[f"{t}.{c}" if c else t for t, c in CASES]
)
def test_email_matches_its_golden_file(golden_app, request, template, case):
    outputs = _outputs(template, case, CASES[(template, case)]())
    if _updating(request):
        GOLDEN.mkdir(parents=True, exist_ok=True)
        for name, content in outputs.items():
            (GOLDEN / name).write_text(content, encoding="utf-8")
    for name, content in outputs.items():
        path = GOLDEN / name
        assert path.exists(), f"no golden file {path.name}: run with UPDATE_GOLDEN=1"
        assert content == path.read_text(encoding="utf-8"), (
            f"{name} differs from its golden file (if the change is meant, refresh with "
            "UPDATE_GOLDEN=1 and review the diff)"
        )


def test_every_email_template_has_a_golden_file():
    templates = sorted(
        p.name for p in TEMPLATES.iterdir() if p.is_file() and not p.name.startswith("_")
    )
    golden = [p.name for p in GOLDEN.iterdir()] if GOLDEN.is_dir() else []
    missing = []
    for name in templates:
        stem, ext = name.rsplit(".", 1)
        exts = {ext, "ics"} if stem == "invite_description" else {ext}
        if not any(g.split(".", 1)[0] == stem and g.rsplit(".", 1)[1] in exts for g in golden):
            missing.append(name)
    assert not missing, f"email templates without a golden case in {__name__}: {missing}"


def test_no_golden_file_is_left_over():
    expected = {
        name
        for (template, case) in CASES
        for name in _outputs(
            template,
            case,
            "" if template == "invite_description" else MailDraft(template, [], "", ""),
        )
    }
    stale = sorted(p.name for p in GOLDEN.iterdir() if p.name not in expected)
    assert not stale, f"golden files no case writes (delete them): {stale}"

"""The lead lifecycle and agreeing a time, as plain functions: no HTTP."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from werkzeug.datastructures import MultiDict

from booking.extensions import db
from booking.links import read_token
from booking.models import (
    CoachingSession,
    LeadStatus,
    OutboxMessage,
    OutboxStatus,
    ProposalStatus,
    SessionFormat,
    SessionStatus,
)
from booking.public.forms import SuitableTimesForm
from booking.settings import current_settings
from booking.workflow import DomainError, withdraw
from booking.workflow.leads import (
    STEP_ONLY,
    TRANSITIONS,
    add_note,
    assign,
    change_status,
    coach_moves,
    contact_due_by,
    is_overdue,
    move,
)
from booking.workflow.scheduling import (
    agree_time,
    cancel_session,
    local_start,
    none_suit,
    propose_times,
    record_agreed_time,
    reschedule_session,
)

from .coach_helpers import (
    add_coach,
    add_lead,
    slot,
)

S = LeadStatus
LONDON = ZoneInfo("Europe/London")
# A Friday well before both 2026 clock changes.
BEFORE_SPRING = datetime(2026, 3, 20, 9, 0, tzinfo=UTC)


def outbox(kind: str | None = None) -> list[OutboxMessage]:
    query = select(OutboxMessage).order_by(OutboxMessage.id)
    if kind:
        query = query.where(OutboxMessage.kind == kind)
    return list(db.session.scalars(query))


# ----- the transitions table, pair by pair --------------------------------------------------


ALL_PAIRS = [(a, b) for a in LeadStatus for b in LeadStatus]


@pytest.mark.parametrize(("current", "to"), ALL_PAIRS, ids=[f"{a}->{b}" for a, b in ALL_PAIRS])
def test_every_move_is_allowed_or_refused_by_the_table(app_ctx, now, current, to):
    lead = add_lead(now)
    lead.status = current
    db.session.flush()
    events_before = len(lead.events)
    if to in TRANSITIONS[current]:
        move(lead, to, now=now, reason="because")
        assert lead.status == to
        assert len(lead.events) == events_before + 1
        assert lead.events[-1].detail["from"] == current.value
        assert lead.events[-1].detail["to"] == to.value
    else:
        with pytest.raises(DomainError) as refused:
            move(lead, to, now=now)
        assert lead.status == current
        assert f"cannot move to “{to.label}”" in str(refused.value)
        assert len(lead.events) == events_before


def test_the_happy_path_and_side_exits_are_in_the_table():
    path = [S.NEW, S.CONTACTED, S.TIMES_PROPOSED, S.AGREED, S.HELD, S.CLOSED]
    for here, there in zip(path, path[1:], strict=False):
        assert there in TRANSITIONS[here]
    for status in (S.NEW, S.CONTACTED, S.TIMES_PROPOSED, S.AGREED):
        assert {S.NOT_SUITABLE, S.NO_RESPONSE, S.WITHDRAWN} <= TRANSITIONS[status]
    for final in (S.CLOSED, S.WITHDRAWN, S.NOT_SUITABLE):
        assert TRANSITIONS[final] == frozenset()


def test_coach_moves_never_offer_step_only_statuses():
    for status in LeadStatus:
        assert not set(coach_moves(status)) & set(STEP_ONLY)
    assert coach_moves(S.NEW) == [S.CONTACTED, S.NOT_SUITABLE, S.NO_RESPONSE]
    assert coach_moves(S.CLOSED) == []


@pytest.mark.parametrize("target", [S.TIMES_PROPOSED, S.AGREED, S.WITHDRAWN])
def test_coach_cannot_jump_to_a_step_only_status(app_ctx, now, target):
    coach = add_coach(now=now)
    lead = add_lead(now)
    with pytest.raises(DomainError, match="Propose times|Agree a time|Only the leader"):
        change_status(lead, target, coach=coach, reason="", now=now, settings=current_settings())
    assert lead.status == S.NEW


def test_refused_move_says_where_it_can_go(app_ctx, now):
    coach = add_coach(now=now)
    lead = add_lead(now)
    with pytest.raises(DomainError) as refused:
        change_status(lead, S.CLOSED, coach=coach, reason="", now=now, settings=current_settings())
    message = str(refused.value)
    assert "This lead is “New”, so it cannot move to “Closed”" in message
    assert "Contacted" in message


def test_final_statuses_say_so(app_ctx, now):
    coach = add_coach(now=now)
    lead = add_lead(now)
    change_status(
        lead,
        S.NOT_SUITABLE,
        coach=coach,
        reason="Wants team coaching",
        now=now,
        settings=current_settings(),
    )
    assert lead.status_reason == "Wants team coaching"
    with pytest.raises(DomainError, match="is final"):
        change_status(
            lead, S.CONTACTED, coach=coach, reason="", now=now, settings=current_settings()
        )


def test_contacted_sets_first_contact_and_records_who(app_ctx, now):
    coach = add_coach(now=now)
    lead = add_lead(now)
    change_status(
        lead,
        S.CONTACTED,
        coach=coach,
        reason="",
        now=now + timedelta(hours=2),
        settings=current_settings(),
    )
    db.session.commit()
    assert lead.first_contacted_at == now + timedelta(hours=2)
    event = lead.events[-1]
    assert event.actor_coach_id == coach.id
    assert event.summary == "Status: New → Contacted"
    with pytest.raises(DomainError, match="already “Contacted”"):
        change_status(
            lead, S.CONTACTED, coach=coach, reason="", now=now, settings=current_settings()
        )


def test_no_response_can_reopen_to_contacted(app_ctx, now):
    coach = add_coach(now=now)
    lead = add_lead(now)
    change_status(
        lead,
        S.NO_RESPONSE,
        coach=coach,
        reason="Three emails, no reply",
        now=now,
        settings=current_settings(),
    )
    change_status(
        lead,
        S.CONTACTED,
        coach=coach,
        reason="Replied at last",
        now=now,
        settings=current_settings(),
    )
    assert lead.status == S.CONTACTED


# ----- the whole path, new to closed ---------------------------------------------------------


def test_new_to_closed_through_the_workflow(app_ctx, now):
    coach = add_coach(now=now)
    lead = add_lead(now)
    change_status(lead, S.CONTACTED, coach=coach, reason="", now=now, settings=current_settings())
    proposal = propose_times(
        lead,
        coach,
        [slot(date(2026, 12, 2), 9), slot(date(2026, 12, 3), 14)],
        now,
        settings=current_settings(),
    )
    assert lead.status == S.TIMES_PROPOSED
    session = agree_time(proposal.times[1], now + timedelta(hours=1), settings=current_settings())
    assert lead.status == S.AGREED
    db.session.commit()

    with pytest.raises(DomainError, match="not started yet"):
        change_status(lead, S.HELD, coach=coach, reason="", now=now, settings=current_settings())
    after = session.ends_at + timedelta(minutes=5)
    change_status(lead, S.HELD, coach=coach, reason="", now=after, settings=current_settings())
    assert session.status == SessionStatus.HELD
    change_status(
        lead, S.CLOSED, coach=coach, reason="Done", now=after, settings=current_settings()
    )
    db.session.commit()
    assert lead.status == S.CLOSED
    assert [e.detail.get("to") for e in lead.events if e.kind == "status"] == [
        "contacted",
        "times-proposed",
        "agreed",
        "held",
        "closed",
    ]


def test_held_needs_a_booked_session(app_ctx, now):
    coach = add_coach(now=now)
    lead = add_lead(now)
    lead.status = S.AGREED
    with pytest.raises(DomainError, match="no booked session"):
        change_status(lead, S.HELD, coach=coach, reason="", now=now, settings=current_settings())


def test_not_suitable_after_agreeing_cancels_the_session_and_tells_both(app_ctx, now):
    coach = add_coach(now=now)
    lead = add_lead(now)
    session = record_agreed_time(
        lead,
        coach,
        now + timedelta(days=3),
        60,
        SessionFormat.PHONE,
        "020 7946 0000",
        now,
        settings=current_settings(),
    )
    db.session.commit()
    change_status(
        lead,
        S.NOT_SUITABLE,
        coach=coach,
        reason="Needs clinical supervision",
        now=now,
        settings=current_settings(),
    )
    db.session.commit()
    assert lead.status == S.NOT_SUITABLE
    assert session.status == SessionStatus.CANCELLED
    assert [m.kind for m in outbox("leader_session_update")] == ["leader_session_update"]


def test_agreed_cannot_go_back_to_contacted_by_hand(app_ctx, now):
    coach = add_coach(now=now)
    lead = add_lead(now)
    record_agreed_time(
        lead,
        coach,
        now + timedelta(days=3),
        60,
        SessionFormat.PHONE,
        "0207",
        now,
        settings=current_settings(),
    )
    with pytest.raises(DomainError, match="Cancel the booked session"):
        change_status(
            lead, S.CONTACTED, coach=coach, reason="", now=now, settings=current_settings()
        )


# ----- proposing times -----------------------------------------------------------------------


def test_proposal_emails_the_leader_a_choose_link_carrying_only_the_proposal_id(app_ctx, now):
    coach = add_coach(now=now)
    lead = add_lead(now)
    proposal = propose_times(
        lead, coach, [slot(date(2026, 12, 2), 9)] * 1, now, settings=current_settings()
    )
    db.session.commit()
    [mail] = outbox("leader_proposed_times")
    assert mail.recipients == [lead.email]
    token = mail.body_text.split("/choose/")[1].split()[0]
    assert read_token("choose-time", token) == proposal.id
    assert "/withdraw/" in mail.body_text and "/withdraw/" in mail.body_html
    assert "Wednesday 2 December 2026, 09:00–10:00 GMT" in mail.body_text
    assert lead.first_contacted_at == now
    assert lead.assigned_coach_id == coach.id  # round-robin gave it to the only coach


@pytest.mark.parametrize("count", [0, 6])
def test_one_to_five_times(app_ctx, now, count):
    coach = add_coach(now=now)
    lead = add_lead(now)
    slots = [slot(date(2026, 12, 1) + timedelta(days=i), 9) for i in range(count)]
    with pytest.raises(DomainError, match="between 1 and 5"):
        propose_times(lead, coach, slots, now, settings=current_settings())
    assert lead.status == S.NEW


def test_five_times_are_fine(app_ctx, now):
    coach = add_coach(now=now)
    lead = add_lead(now)
    slots = [slot(date(2026, 12, 1) + timedelta(days=i), 9) for i in range(5)]
    assert len(propose_times(lead, coach, slots, now, settings=current_settings()).times) == 5


def test_time_in_the_past_is_refused(app_ctx, now):
    coach = add_coach(now=now)
    lead = add_lead(now)
    # now is 10:00 UTC = 10:00 GMT on Monday 30 November 2026
    with pytest.raises(
        DomainError,
        match=r"Time 2 \(Monday 30 November 2026, 09:30–10:30 GMT\) "
        r"is in the past",
    ):
        propose_times(
            lead,
            coach,
            [slot(date(2026, 12, 1), 9), slot(date(2026, 11, 30), 9, 30)],
            now,
            settings=current_settings(),
        )
    assert outbox("leader_proposed_times") == []


@pytest.mark.parametrize(
    ("hh", "mm", "minutes"), [(10, 0, 60), (9, 30, 60), (10, 59, 15), (8, 0, 121)]
)
def test_clash_with_a_booked_session_is_refused_overlap_not_just_same_start(
    app_ctx, now, hh, mm, minutes
):
    coach = add_coach(now=now)
    other = add_lead(now, 2)
    record_agreed_time(
        other,
        coach,
        local_start(date(2026, 12, 2), time(10), settings=current_settings()),
        60,
        SessionFormat.PHONE,
        "0207",
        now,
        settings=current_settings(),
    )
    lead = add_lead(now)
    with pytest.raises(DomainError, match="clashes with Maya Coach's session with Leader 2"):
        propose_times(
            lead,
            coach,
            [slot(date(2026, 12, 2), hh, mm, minutes)],
            now,
            settings=current_settings(),
        )


@pytest.mark.parametrize(("hh", "mm"), [(9, 0), (11, 0)])
def test_back_to_back_is_not_a_clash(app_ctx, now, hh, mm):
    coach = add_coach(now=now)
    other = add_lead(now, 2)
    record_agreed_time(
        other,
        coach,
        local_start(date(2026, 12, 2), time(10), settings=current_settings()),
        60,
        SessionFormat.PHONE,
        "0207",
        now,
        settings=current_settings(),
    )
    lead = add_lead(now)
    assert propose_times(
        lead, coach, [slot(date(2026, 12, 2), hh, mm)], now, settings=current_settings()
    )


def test_another_coachs_session_is_not_a_clash(app_ctx, now):
    coach = add_coach(now=now)
    other_coach = add_coach("sam@example.org", "Sam Coach", now=now)
    other = add_lead(now, 2)
    other.assigned_coach = other_coach
    record_agreed_time(
        other,
        other_coach,
        local_start(date(2026, 12, 2), time(10), settings=current_settings()),
        60,
        SessionFormat.PHONE,
        "0207",
        now,
        settings=current_settings(),
    )
    lead = add_lead(now, 3)
    lead.assigned_coach = coach
    assert propose_times(
        lead, coach, [slot(date(2026, 12, 2), 10)], now, settings=current_settings()
    )


@pytest.mark.parametrize(
    ("format", "detail", "message"),
    [
        (SessionFormat.VIDEO, "", "joining link"),
        (SessionFormat.VIDEO, "javascript:alert(1)", "starting with https://"),
        (SessionFormat.PHONE, "  ", "number to call"),
        (SessionFormat.IN_PERSON, "", "the address"),
    ],
)
def test_each_format_needs_its_detail(app_ctx, now, format, detail, message):
    coach = add_coach(now=now)
    lead = add_lead(now)
    with pytest.raises(DomainError, match=message):
        propose_times(
            lead,
            coach,
            [slot(date(2026, 12, 2), 9, format=format, detail=detail)],
            now,
            settings=current_settings(),
        )


def test_duplicate_times_in_one_proposal_are_refused(app_ctx, now):
    coach = add_coach(now=now)
    lead = add_lead(now)
    with pytest.raises(DomainError, match="same as an earlier time"):
        propose_times(
            lead,
            coach,
            [slot(date(2026, 12, 2), 9), slot(date(2026, 12, 2), 9)],
            now,
            settings=current_settings(),
        )


def test_a_new_proposal_closes_the_open_one(app_ctx, now):
    coach = add_coach(now=now)
    lead = add_lead(now)
    first = propose_times(
        lead, coach, [slot(date(2026, 12, 2), 9)], now, settings=current_settings()
    )
    second = propose_times(
        lead, coach, [slot(date(2026, 12, 3), 9)], now, settings=current_settings()
    )
    db.session.commit()
    assert first.status == ProposalStatus.CLOSED
    assert second.status == ProposalStatus.OPEN
    assert "earlier proposal is closed" in lead.events[-1].summary
    with pytest.raises(DomainError, match="no longer open"):
        agree_time(first.times[0], now, settings=current_settings())


def test_lead_assigned_to_another_coach_must_be_taken_first(app_ctx, now):
    maya = add_coach(now=now)
    sam = add_coach("sam@example.org", "Sam Coach", now=now)
    lead = add_lead(now)
    assert lead.assigned_coach_id == maya.id
    with pytest.raises(DomainError, match="assigned to Maya Coach. Take it first"):
        propose_times(lead, sam, [slot(date(2026, 12, 2), 9)], now, settings=current_settings())
    assign(lead, sam, actor=sam, now=now, settings=current_settings())
    assert (
        propose_times(
            lead, sam, [slot(date(2026, 12, 2), 9)], now, settings=current_settings()
        ).coach_id
        == sam.id
    )


# Not from "Held": that is the next session of a journey (tests/test_outcomes.py).
@pytest.mark.parametrize("status", [S.AGREED, S.CLOSED, S.WITHDRAWN, S.NOT_SUITABLE, S.NO_RESPONSE])
def test_times_cannot_be_proposed_from(app_ctx, now, status):
    coach = add_coach(now=now)
    lead = add_lead(now)
    lead.status = status
    with pytest.raises(DomainError, match="times cannot be proposed"):
        propose_times(lead, coach, [slot(date(2026, 12, 2), 9)], now, settings=current_settings())


# ----- clock changes -------------------------------------------------------------------------


def test_monday_after_spring_forward_is_bst(app_ctx):
    coach = add_coach(now=BEFORE_SPRING)
    lead = add_lead(BEFORE_SPRING)
    proposal = propose_times(
        lead,
        coach,
        [slot(date(2026, 3, 27), 9), slot(date(2026, 3, 30), 9)],
        BEFORE_SPRING,
        settings=current_settings(),
    )
    friday, monday = proposal.times
    assert friday.starts_at == datetime(2026, 3, 27, 9, 0, tzinfo=UTC)  # GMT
    assert monday.starts_at == datetime(2026, 3, 30, 8, 0, tzinfo=UTC)  # BST
    db.session.commit()
    db.session.expire_all()
    assert db.session.get(type(monday), monday.id).starts_at == datetime(
        2026, 3, 30, 8, 0, tzinfo=UTC
    )
    [mail] = outbox("leader_proposed_times")
    assert "Monday 30 March 2026, 09:00–10:00 BST" in mail.body_text
    assert "Friday 27 March 2026, 09:00–10:00 GMT" in mail.body_text


def test_monday_after_autumn_back_is_gmt(app_ctx):
    before = datetime(2026, 10, 20, 9, 0, tzinfo=UTC)
    coach = add_coach(now=before)
    lead = add_lead(before)
    proposal = propose_times(
        lead,
        coach,
        [slot(date(2026, 10, 23), 9), slot(date(2026, 10, 26), 9)],
        before,
        settings=current_settings(),
    )
    friday, monday = proposal.times
    assert friday.starts_at == datetime(2026, 10, 23, 8, 0, tzinfo=UTC)  # BST
    assert monday.starts_at == datetime(2026, 10, 26, 9, 0, tzinfo=UTC)  # GMT


def test_a_time_in_the_spring_gap_is_refused_clearly(app_ctx):
    coach = add_coach(now=BEFORE_SPRING)
    lead = add_lead(BEFORE_SPRING)
    with pytest.raises(DomainError) as refused:
        propose_times(
            lead,
            coach,
            [slot(date(2026, 3, 29), 1, 30)],
            BEFORE_SPRING,
            settings=current_settings(),
        )
    assert "01:30 on Sunday 29 March 2026 does not exist" in str(refused.value)
    assert "clocks go forward" in str(refused.value)
    assert lead.status == S.NEW


def test_a_session_across_the_autumn_change_lasts_its_real_length(app_ctx):
    before = datetime(2026, 10, 20, 9, 0, tzinfo=UTC)
    coach = add_coach(now=before)
    lead = add_lead(before)
    # 00:30 BST on 25 October, 2 hours: ends at 01:30 GMT after the clocks went back.
    proposal = propose_times(
        lead,
        coach,
        [slot(date(2026, 10, 25), 0, 30, minutes=120)],
        before,
        settings=current_settings(),
    )
    t = proposal.times[0]
    assert t.ends_at - t.starts_at == timedelta(hours=2)
    assert t.starts_at.astimezone(LONDON).tzname() == "BST"
    assert t.ends_at.astimezone(LONDON).tzname() == "GMT"


# ----- the leader's answer ------------------------------------------------------------------


def test_agreeing_books_a_session_and_confirms_to_both(app_ctx, now):
    coach = add_coach(now=now)
    lead = add_lead(now)
    proposal = propose_times(
        lead,
        coach,
        [slot(date(2026, 12, 2), 9), slot(date(2026, 12, 3), 9)],
        now,
        settings=current_settings(),
    )
    session = agree_time(proposal.times[0], now, settings=current_settings())
    db.session.commit()
    assert session.uid.endswith("@example.org")
    assert session.sequence == 0
    assert session.status == SessionStatus.BOOKED
    assert session.proposed_time_id == proposal.times[0].id
    assert proposal.status == ProposalStatus.CHOSEN
    [to_leader] = outbox("leader_session_confirmed")
    [to_coach] = outbox("coach_session_confirmed")
    assert to_leader.recipients == [lead.email] and to_leader.session_id == session.id
    assert to_coach.recipients == [coach.email]
    assert "/withdraw/" in to_leader.body_text and "/withdraw/" in to_leader.body_html
    assert "Wednesday 2 December 2026, 09:00–10:00 GMT" in to_leader.body_text
    with pytest.raises(DomainError, match="no longer open"):
        agree_time(proposal.times[1], now, settings=current_settings())


def test_a_time_taken_meanwhile_by_another_leader_is_refused(app_ctx, now):
    coach = add_coach(now=now)
    first, second = add_lead(now, 1), add_lead(now, 2)
    one = propose_times(
        first, coach, [slot(date(2026, 12, 2), 9)], now, settings=current_settings()
    )
    two = propose_times(
        second, coach, [slot(date(2026, 12, 2), 9, 30)], now, settings=current_settings()
    )
    agree_time(one.times[0], now, settings=current_settings())
    db.session.commit()
    with pytest.raises(DomainError, match="just been taken"):
        agree_time(two.times[0], now, settings=current_settings())


def test_the_database_refuses_a_second_booking_of_one_coach_slot(app_ctx, now):
    """The last line of defence when two requests both passed the check in the code."""
    coach = add_coach(now=now)
    first, second = add_lead(now, 1), add_lead(now, 2)
    starts = now + timedelta(days=2)
    record_agreed_time(
        first, coach, starts, 60, SessionFormat.PHONE, "0207", now, settings=current_settings()
    )
    db.session.commit()
    db.session.add(
        CoachingSession(
            lead_id=second.id,
            coach_id=coach.id,
            starts_at=starts,
            ends_at=starts + timedelta(hours=1),
            format=SessionFormat.PHONE,
            uid="x@example.org",
        )
    )
    with pytest.raises(IntegrityError):
        db.session.flush()
    db.session.rollback()


def test_a_past_time_cannot_be_chosen(app_ctx, now):
    coach = add_coach(now=now)
    lead = add_lead(now)
    proposal = propose_times(
        lead, coach, [slot(date(2026, 12, 2), 9)], now, settings=current_settings()
    )
    with pytest.raises(DomainError, match="already passed"):
        agree_time(
            proposal.times[0], datetime(2026, 12, 2, 9, 5, tzinfo=UTC), settings=current_settings()
        )


def test_none_suit_goes_back_to_the_coach_who_can_propose_again(app_ctx, now):
    coach = add_coach(now=now)
    lead = add_lead(now)
    proposal = propose_times(
        lead, coach, [slot(date(2026, 12, 2), 9)], now, settings=current_settings()
    )
    # A blank note is an input check, made once by the page's form (public/forms.py).
    blank = SuitableTimesForm(formdata=MultiDict({"note": "  "}))
    assert not blank.validate() and "which days and times would suit" in str(blank.first_error())
    none_suit(proposal, "Thursday afternoons would be better", now, settings=current_settings())
    db.session.commit()
    assert proposal.status == ProposalStatus.NONE_SUIT
    assert lead.status == S.CONTACTED
    assert lead.events[-1].detail["reason"] == "Thursday afternoons would be better"
    [mail] = outbox("coach_none_suit")
    assert mail.recipients == [coach.email]
    assert "Thursday afternoons would be better" in mail.body_text
    again = propose_times(
        lead, coach, [slot(date(2026, 12, 3), 14)], now, settings=current_settings()
    )
    assert again.status == ProposalStatus.OPEN and lead.status == S.TIMES_PROPOSED


def test_record_a_time_agreed_by_phone(app_ctx, now):
    coach = add_coach(now=now)
    lead = add_lead(now)
    proposal = propose_times(
        lead, coach, [slot(date(2026, 12, 2), 9)], now, settings=current_settings()
    )
    start = local_start(date(2026, 12, 4), time(15), settings=current_settings())
    session = record_agreed_time(
        lead,
        coach,
        start,
        45,
        SessionFormat.IN_PERSON,
        "1 High Street, Leeds",
        now,
        settings=current_settings(),
    )
    db.session.commit()
    assert proposal.status == ProposalStatus.CLOSED
    assert lead.status == S.AGREED
    assert session.ends_at - session.starts_at == timedelta(minutes=45)
    assert len(outbox("leader_session_confirmed")) == 1
    assert len(outbox("coach_session_confirmed")) == 1
    with pytest.raises(DomainError, match="Move the booked session instead"):
        record_agreed_time(
            lead,
            coach,
            start + timedelta(days=1),
            45,
            SessionFormat.PHONE,
            "1",
            now,
            settings=current_settings(),
        )


def test_reschedule_moves_the_session_and_tells_both(app_ctx, now):
    coach = add_coach(now=now)
    lead = add_lead(now)
    session = record_agreed_time(
        lead,
        coach,
        now + timedelta(days=2),
        60,
        SessionFormat.PHONE,
        "0207",
        now,
        settings=current_settings(),
    )
    reschedule_session(
        session, coach, now + timedelta(days=3), 90, now, settings=current_settings()
    )
    db.session.commit()
    assert session.starts_at == now + timedelta(days=3)
    assert session.ends_at == now + timedelta(days=3, minutes=90)
    assert session.sequence == 1
    assert lead.events[-1].kind == "session-moved"
    assert [m.recipients for m in outbox("leader_session_update")] == [[lead.email]]
    assert [m.recipients for m in outbox("coach_session_update")] == [[coach.email]]
    # Moving within its own old slot is not a clash with itself.
    reschedule_session(
        session, coach, now + timedelta(days=3, minutes=30), 60, now, settings=current_settings()
    )
    with pytest.raises(DomainError, match="in the past"):
        reschedule_session(
            session, coach, now - timedelta(hours=1), 60, now, settings=current_settings()
        )


def test_reschedule_refuses_a_clash(app_ctx, now):
    coach = add_coach(now=now)
    first, second = add_lead(now, 1), add_lead(now, 2)
    record_agreed_time(
        first,
        coach,
        now + timedelta(days=2),
        60,
        SessionFormat.PHONE,
        "1",
        now,
        settings=current_settings(),
    )
    session = record_agreed_time(
        second,
        coach,
        now + timedelta(days=3),
        60,
        SessionFormat.PHONE,
        "1",
        now,
        settings=current_settings(),
    )
    with pytest.raises(DomainError, match="clashes"):
        reschedule_session(
            session,
            coach,
            now + timedelta(days=2, minutes=30),
            60,
            now,
            settings=current_settings(),
        )


def test_cancel_hands_the_lead_back_and_tells_both(app_ctx, now):
    coach = add_coach(now=now)
    lead = add_lead(now)
    session = record_agreed_time(
        lead,
        coach,
        now + timedelta(days=2),
        60,
        SessionFormat.PHONE,
        "0207",
        now,
        settings=current_settings(),
    )
    with pytest.raises(DomainError, match="Say why"):
        cancel_session(session, coach, " ", now, settings=current_settings())
    cancel_session(session, coach, "Coach unwell", now, settings=current_settings())
    db.session.commit()
    assert session.status == SessionStatus.CANCELLED
    assert session.sequence == 1
    assert session.cancel_reason == "Coach unwell"
    assert lead.status == S.CONTACTED
    [leader_mail] = outbox("leader_session_update")
    assert "Coach unwell" in leader_mail.body_text and "/withdraw/" in leader_mail.body_text
    with pytest.raises(DomainError, match="already cancelled"):
        cancel_session(session, coach, "again", now, settings=current_settings())
    with pytest.raises(DomainError, match="cannot be moved"):
        reschedule_session(
            session, coach, now + timedelta(days=4), 60, now, settings=current_settings()
        )
    # The slot is free again, for this leader or another.
    assert record_agreed_time(
        lead,
        coach,
        now + timedelta(days=2),
        60,
        SessionFormat.PHONE,
        "0207",
        now,
        settings=current_settings(),
    )


# ----- the leader withdraws -------------------------------------------------------------------


def test_withdrawing_closes_proposals_cancels_the_session_and_tells_the_coach(app_ctx, now):
    coach = add_coach(now=now)
    lead = add_lead(now)
    session = record_agreed_time(
        lead,
        coach,
        now + timedelta(days=2),
        60,
        SessionFormat.PHONE,
        "0207",
        now,
        settings=current_settings(),
    )
    db.session.commit()
    withdraw(
        lead, reason="Changed roles", now=now + timedelta(hours=1), settings=current_settings()
    )
    db.session.commit()
    assert lead.status == S.WITHDRAWN
    assert session.status == SessionStatus.CANCELLED
    kinds = [e.kind for e in lead.events]
    assert "withdrawn" in kinds and "session-cancelled" in kinds
    [to_coach] = outbox("coach_leader_withdrawn")
    assert to_coach.recipients == [coach.email]
    assert to_coach.status == OutboxStatus.PENDING
    assert "Changed roles" in to_coach.body_text
    assert "is cancelled" in to_coach.body_text
    # Nothing more goes to the leader but the calendar CANCEL that clears their calendar
    # (tests/test_withdraw_calendar.py): everything else pending for them is cancelled.
    to_leader = [m for m in outbox() if lead.email in m.recipients]
    pending = [m for m in to_leader if m.status == OutboxStatus.PENDING]
    assert [m.calendar_method for m in pending] == ["CANCEL"]
    assert {m.status for m in to_leader if m not in pending} == {OutboxStatus.CANCELLED}


def test_withdrawing_closes_an_open_proposal(app_ctx, now):
    coach = add_coach(now=now)
    lead = add_lead(now)
    proposal = propose_times(
        lead, coach, [slot(date(2026, 12, 2), 9)], now, settings=current_settings()
    )
    withdraw(lead, reason="", now=now, settings=current_settings())
    db.session.commit()
    assert proposal.status == ProposalStatus.CLOSED
    with pytest.raises(DomainError):
        agree_time(proposal.times[0], now, settings=current_settings())


# ----- assignment, notes, the contact promise -----------------------------------------------------


def test_take_and_hand_on(app_ctx, now):
    maya = add_coach(now=now)
    sam = add_coach("sam@example.org", "Sam Coach", now=now)
    lead = add_lead(now)
    assert lead.assigned_coach_id == maya.id
    assign(lead, sam, actor=sam, now=now, settings=current_settings())
    assert lead.events[-1].summary == "Taken by Sam Coach (was Maya Coach)"
    assign(lead, maya, actor=sam, now=now, settings=current_settings())
    assert lead.events[-1].summary == "Handed on to Maya Coach (was Sam Coach)"
    with pytest.raises(DomainError, match="already assigned to Maya"):
        assign(lead, maya, actor=maya, now=now, settings=current_settings())
    sam.active = False
    with pytest.raises(DomainError, match="no longer an active coach"):
        assign(lead, sam, actor=maya, now=now, settings=current_settings())


def test_notes_are_kept_and_recorded(app_ctx, now):
    coach = add_coach(now=now)
    lead = add_lead(now)
    with pytest.raises(DomainError):
        add_note(lead, coach, "   ", now=now)
    add_note(lead, coach, "Prefers mornings", now=now)
    db.session.commit()
    assert [n.body for n in lead.notes] == ["Prefers mornings"]
    assert lead.events[-1].kind == "note"
    assert json.loads(lead.events[-1].detail_json) == {}  # the note is not copied into history


@pytest.mark.parametrize(
    ("registered", "due"),
    [
        (datetime(2026, 11, 30, 10, 0, tzinfo=UTC), datetime(2026, 12, 3, 0, 0)),  # Mon → end Wed
        (datetime(2026, 12, 4, 16, 0, tzinfo=UTC), datetime(2026, 12, 9, 0, 0)),  # Fri → end Tue
        (datetime(2026, 12, 5, 12, 0, tzinfo=UTC), datetime(2026, 12, 9, 0, 0)),  # Sat → end Tue
    ],
)
def test_contact_is_due_by_the_end_of_the_second_working_day(registered, due):
    assert contact_due_by(registered, 2, LONDON) == due.replace(tzinfo=LONDON)


def test_overdue_only_while_new_and_uncontacted(app_ctx, now):
    coach = add_coach(now=now)
    lead = add_lead(now)
    later = now + timedelta(days=3)  # Thursday
    assert not is_overdue(lead, now, 2, LONDON)
    assert is_overdue(lead, later, 2, LONDON)
    change_status(lead, S.CONTACTED, coach=coach, reason="", now=later, settings=current_settings())
    assert not is_overdue(lead, later, 2, LONDON)

"""The iCalendar we send, read back by two independent parsers (icalendar and vobject)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import pytest
import vobject
from icalendar import Calendar

from booking import invites
from booking.extensions import db
from booking.invite_emails import invitation
from booking.models import SessionFormat
from booking.settings import current_settings

from .invite_helpers import LONDON, london, make_session

NOW = datetime(2026, 1, 10, 12, 0, tzinfo=UTC)
ROLES = ("leader", "coach")


def parse_both(text: str):
    calendar = Calendar.from_ical(text)
    component = vobject.readOne(text, validate=True)
    return calendar, component


def only_event(calendar: Calendar):
    events = calendar.walk("VEVENT")
    assert len(events) == 1
    return events[0]


def all_versions(session) -> dict[str, dict[str, str]]:
    """Every calendar the life of one session produces, per role: new, moved, cancelled."""
    out: dict[str, dict[str, str]] = {role: {} for role in ROLES}
    for role in ROLES:
        out[role]["new"] = (
            invitation(session, role, "new", now=NOW, settings=current_settings()).calendar or ""
        )
    session.starts_at += timedelta(days=1)
    session.ends_at += timedelta(days=1)
    session.sequence += 1
    for role in ROLES:
        out[role]["updated"] = (
            invitation(session, role, "updated", now=NOW, settings=current_settings()).calendar
            or ""
        )
    session.sequence += 1
    for role in ROLES:
        out[role]["cancelled"] = (
            invitation(session, role, "cancelled", now=NOW, settings=current_settings()).calendar
            or ""
        )
    return out


def test_invitation_has_every_field_clients_need(app_ctx):
    session = make_session()
    text = invitation(session, "leader", "new", now=NOW, settings=current_settings()).calendar
    assert text is not None
    calendar, vcal = parse_both(text)

    assert str(calendar["VERSION"]) == "2.0"
    assert "PRODID" in calendar
    assert str(calendar["METHOD"]) == "REQUEST"
    event = only_event(calendar)
    assert str(event["UID"]) == session.uid
    assert event.decoded("DTSTAMP") == NOW and event.decoded("DTSTAMP").tzinfo is not None
    assert event.decoded("DTSTART") == session.starts_at
    assert event.decoded("DTEND") == session.ends_at
    assert "Dr Kwame Mensah-Ellis" in str(event["SUMMARY"])
    description = str(event["DESCRIPTION"])
    assert "https://meet.example/room/abc-123" in description
    assert "http://booking.test/questionnaire/" in description
    assert "coaching session" in description.lower()
    assert str(event["LOCATION"]) == "https://meet.example/room/abc-123"
    assert str(event["URL"]) == "https://meet.example/room/abc-123"
    assert str(event["STATUS"]) == "CONFIRMED"
    assert int(event["SEQUENCE"]) == 0
    alarms = event.walk("VALARM")
    assert len(alarms) == 1 and alarms[0].decoded("TRIGGER") < timedelta(0)

    organizer = event["ORGANIZER"]
    assert str(organizer) == "mailto:coaching@example.org"  # bare mailto:, name in CN
    assert organizer.params["CN"] == "Compassionate Leadership Coaching"
    attendees = event["ATTENDEE"]
    assert sorted(str(a) for a in attendees) == [
        "mailto:kwame@coaching.example",
        "mailto:sian.obriain@nhs.example",
    ]
    for attendee in attendees:
        assert attendee.params["ROLE"] == "REQ-PARTICIPANT"
        assert attendee.params["PARTSTAT"] == "NEEDS-ACTION"
        assert attendee.params["RSVP"] == "TRUE"
        assert attendee.params["CN"]
    assert str(organizer).lower() not in {str(a).lower() for a in attendees}

    # The independent parser agrees.
    assert vcal.method.value == "REQUEST"
    assert vcal.vevent.uid.value == session.uid
    assert vcal.vevent.dtstart.value == session.starts_at
    assert {a.value.lower() for a in vcal.vevent.attendee_list} == {
        "mailto:kwame@coaching.example",
        "mailto:sian.obriain@nhs.example",
    }
    assert vcal.vevent.organizer.params["CN"] == ["Compassionate Leadership Coaching"]


def test_wire_format_is_crlf_and_folded_at_75_octets(app_ctx):
    session = make_session(lead_name="Siân Ó Briain-" + "Ŵ" * 60)
    text = invitation(session, "coach", "new", now=NOW, settings=current_settings()).calendar or ""
    raw = text.encode("utf-8")
    assert raw.endswith(b"\r\n")
    assert b"\n" not in raw.replace(b"\r\n", b"")
    for line in raw.split(b"\r\n"):
        assert len(line) <= 75
        line.decode("utf-8")  # folding never splits a character


def test_every_version_of_a_session_parses_in_both_parsers(app_ctx):
    session = make_session()
    first_start = session.starts_at
    versions = all_versions(session)
    for role in ROLES:
        seen_sequences = []
        for change, text in versions[role].items():
            calendar, vcal = parse_both(text)
            event = only_event(calendar)
            assert str(event["UID"]) == session.uid == vcal.vevent.uid.value
            seen_sequences.append(int(event["SEQUENCE"]))
            assert int(vcal.vevent.sequence.value) == seen_sequences[-1]
            if change == "new":
                assert event.decoded("DTSTART") == first_start
            else:
                assert event.decoded("DTSTART") == first_start + timedelta(days=1)
                assert vcal.vevent.dtstart.value == first_start + timedelta(days=1)
        assert seen_sequences == [0, 1, 2]


def test_update_is_a_request_and_cancel_is_a_cancel(app_ctx):
    session = make_session()
    versions = all_versions(session)
    updated = Calendar.from_ical(versions["leader"]["updated"])
    assert str(updated["METHOD"]) == "REQUEST"
    assert str(only_event(updated)["STATUS"]) == "CONFIRMED"

    cancelled, vcal = parse_both(versions["leader"]["cancelled"])
    assert str(cancelled["METHOD"]) == "CANCEL" == vcal.method.value
    event = only_event(cancelled)
    assert str(event["STATUS"]) == "CANCELLED" == vcal.vevent.status.value
    assert event.decoded("DTSTART") == session.starts_at
    assert not event.walk("VALARM")
    # RFC 5546: a CANCEL names the attendees it cancels for; it asks for no answer.
    assert len(event["ATTENDEE"]) == 2
    assert all("RSVP" not in a.params for a in event["ATTENDEE"])


@pytest.mark.parametrize(
    "day, zone",
    [
        (date(2026, 3, 30), "BST"),  # the Monday after the clocks go forward
        (date(2026, 10, 26), "GMT"),  # the Monday after the clocks go back
    ],
)
def test_clock_change_weeks_read_nine_oclock_london_everywhere(app_ctx, day, zone):
    session = make_session(starts_at=london(day, time(9, 0)))
    draft = invitation(session, "leader", "new", now=NOW, settings=current_settings())
    calendar, vcal = parse_both(draft.calendar or "")
    start = only_event(calendar).decoded("DTSTART")
    assert start.astimezone(LONDON).time() == time(9, 0)
    assert start.astimezone(LONDON).date() == day
    assert vcal.vevent.dtstart.value.astimezone(LONDON).time() == time(9, 0)
    assert vcal.vevent.dtend.value.astimezone(LONDON).time() == time(10, 0)
    # UTC throughout: no TZID, so no VTIMEZONE for a client to misread.
    assert "TZID" not in (draft.calendar or "")
    assert calendar.get_missing_tzids() == set()
    # People read the local time with its zone.
    assert f"09:00–10:00 {zone}" in draft.text
    assert f"09:00–10:00 {zone}" in draft.html
    assert f"09:00–10:00 {zone}" in draft.subject


def test_non_ascii_and_special_characters_round_trip(app_ctx):
    address = 'Flat 2; 10, Rue d\'Été\\Annexe\nLondon "North"'
    session = make_session(
        lead_name="Siân Ó Briain",
        coach_name="Zoë Łukasiewicz-Nðembe",
        format=SessionFormat.IN_PERSON,
        join_detail=address,
    )
    text = invitation(session, "leader", "new", now=NOW, settings=current_settings()).calendar or ""
    assert "LOCATION:Flat 2\\; 10\\, Rue d'Été\\\\Annexe\\nLondon" in text.replace("\r\n ", "")
    calendar, vcal = parse_both(text)
    event = only_event(calendar)
    assert str(event["LOCATION"]) == address
    assert vcal.vevent.location.value == address
    assert "URL" not in event or "booking.test" in str(event["URL"])
    names = {a.params["CN"] for a in event["ATTENDEE"]}
    assert names == {"Siân Ó Briain", "Zoë Łukasiewicz-Nðembe"}
    assert {a.params["CN"][0] for a in vcal.vevent.attendee_list} == names
    assert address in str(event["DESCRIPTION"])
    assert address in vcal.vevent.description.value
    assert "Zoë Łukasiewicz-Nðembe" in vcal.vevent.summary.value


def test_phone_session_says_the_number_in_location(app_ctx):
    session = make_session(format=SessionFormat.PHONE, join_detail="+44 20 7946 0958")
    text = invitation(session, "coach", "new", now=NOW, settings=current_settings()).calendar or ""
    event = only_event(Calendar.from_ical(text))
    assert str(event["LOCATION"]) == "Phone call: +44 20 7946 0958"
    # The coach's calendar links to the lead's page, not to the leader's questionnaire.
    assert "/coach/leads/" in str(event["URL"])
    assert "/questionnaire/" not in str(event["DESCRIPTION"])


def test_uid_is_stable_and_dtstamp_fresh(app_ctx):
    session = make_session()
    first = only_event(
        Calendar.from_ical(
            invitation(session, "leader", now=NOW, settings=current_settings()).calendar
        )
    )
    later_now = NOW + timedelta(hours=3)
    second = only_event(
        Calendar.from_ical(
            invitation(session, "leader", now=later_now, settings=current_settings()).calendar
        )
    )
    assert first["UID"] == second["UID"]
    assert second.decoded("DTSTAMP") == later_now


def test_the_organiser_is_never_an_attendee(app_ctx):
    session = make_session(coach_email="coaching@example.org")
    with pytest.raises(invites.InviteError):
        invitation(session, "leader", "new", now=NOW, settings=current_settings())
    db.session.rollback()


def test_naive_datetimes_are_refused(app_ctx):
    session = make_session()
    with pytest.raises(invites.InviteError):
        invites.build_request(
            session, "Firm", "coaching@example.org", datetime(2026, 1, 1, 9, 0), "text"
        )

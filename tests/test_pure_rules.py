"""The pure parts, tested with no app and no database: settings, the contact promise, time
formatting in the firm's zone, and the checks on a time a coach offers."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from argon2 import PasswordHasher

from booking.config import load_config
from booking.models import Lead, LeadStatus, SessionFormat
from booking.passwords import PasswordHashing, hash_password, needs_rehash
from booking.settings import Settings
from booking.timefmt import format_local, format_range, local_to_utc, time_ago
from booking.workflow import DomainError
from booking.workflow.leads import contact_due_by, is_overdue
from booking.workflow.scheduling import _check_detail, _check_duration, local_start

LONDON = ZoneInfo("Europe/London")


def test_settings_from_the_default_configuration(tmp_path, monkeypatch):
    for name in ("TIMEZONE", "ARGON2_TIME_COST", "ARGON2_MEMORY_COST", "COACH_NOTIFY_EMAILS"):
        monkeypatch.delenv(name, raising=False)
    settings = Settings.from_config(
        load_config(str(tmp_path), {"MAIL_DEFAULT_SENDER": "Firm <hello@firm.example>"})
    )
    assert settings.zone == LONDON
    assert settings.invite_organizer_email == "hello@firm.example"
    assert settings.sender_domain == "firm.example"
    assert settings.coach_notify_emails == ()
    # Production hashing is argon2-cffi's own default profile.
    default = PasswordHasher()
    assert settings.password_hashing == PasswordHashing(
        default.time_cost, default.memory_cost, default.parallelism
    )


def test_the_hashing_setting_decides_what_needs_a_rehash():
    cheap = PasswordHashing(time_cost=1, memory_cost=1024, parallelism=1)
    hashed = hash_password("eight888", cheap)
    assert "m=1024,t=1,p=1" in hashed
    assert not needs_rehash(hashed, cheap)
    assert needs_rehash(hashed, PasswordHashing())


@pytest.mark.parametrize(
    ("registered", "due"),
    [
        # Monday morning: two working days on, the promise ends at Wednesday midnight.
        (datetime(2026, 11, 30, 9, tzinfo=UTC), datetime(2026, 12, 3, 0, tzinfo=LONDON)),
        # Friday: the weekend does not count.
        (datetime(2026, 12, 4, 16, tzinfo=UTC), datetime(2026, 12, 9, 0, tzinfo=LONDON)),
    ],
)
def test_the_contact_promise_counts_working_days(registered, due):
    assert contact_due_by(registered, 2, LONDON) == due
    lead = Lead(status=LeadStatus.NEW, created_at=registered, first_contacted_at=None)
    assert not is_overdue(lead, due - timedelta(seconds=1), 2, LONDON)
    assert is_overdue(lead, due, 2, LONDON)
    lead.first_contacted_at = registered
    assert not is_overdue(lead, due, 2, LONDON)


def test_times_show_in_the_zone_given():
    summer = datetime(2026, 6, 1, 13, tzinfo=UTC)
    assert format_local(summer, LONDON) == "Monday 1 June 2026, 14:00 BST"
    assert format_range(summer, summer.replace(hour=14), LONDON) == (
        "Monday 1 June 2026, 14:00–15:00 BST"
    )
    assert format_local(summer, ZoneInfo("UTC"), with_day=False) == "13:00 UTC"
    assert time_ago(summer, summer.replace(hour=16)) == "3 hours ago"


def test_a_time_the_clocks_skip_is_refused_in_words():
    with pytest.raises(ValueError):
        local_to_utc(date(2027, 3, 28), time(1, 30), LONDON)
    settings = Settings(timezone="Europe/London")
    with pytest.raises(DomainError, match="does not exist in Europe/London"):
        local_start(date(2027, 3, 28), time(1, 30), settings)
    assert local_start(date(2027, 3, 28), time(2, 30), settings) == datetime(
        2027, 3, 28, 1, 30, tzinfo=UTC
    )


def test_the_checks_on_an_offered_time():
    assert _check_duration(60).total_seconds() == 3600
    with pytest.raises(DomainError, match="between 15 and 480 minutes"):
        _check_duration(10)
    assert _check_detail(SessionFormat.PHONE, "  020  7946 0000 ") == "020 7946 0000"
    with pytest.raises(DomainError, match="joining link"):
        _check_detail(SessionFormat.VIDEO, "meet me online")
    with pytest.raises(DomainError, match="the address"):
        _check_detail(SessionFormat.IN_PERSON, " ")

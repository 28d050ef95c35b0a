"""What the workflow and the email builders need from the configuration, as one frozen value.

`create_app` builds it once from app.config (`Settings.from_config`) and keeps it on the app;
the web layer reads it with `current_settings()` and passes it (and `now`, from the app's
clock) into the workflow and the builders, which never look at `current_app` themselves. So
their tests build a Settings directly: no app, no monkeypatching.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from email.utils import parseaddr
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from flask import Flask, current_app

from .models import utcnow
from .passwords import PasswordHashing

SETTINGS_KEY = "booking.settings"
CLOCK_KEY = "booking.clock"

Clock = Callable[[], datetime]


@dataclass(frozen=True)
class Settings:
    base_url: str = "http://127.0.0.1:5000"
    timezone: str = "Europe/London"
    firm_name: str = "Compassionate Leadership Coaching"
    contact_promise_working_days: int = 2
    round_robin_assignment: bool = True
    # Leaders book a free slot themselves from a signed link (booking/workflow/self_booking.py).
    self_booking: bool = False
    reminder_hours_before: float = 24.0
    journey_max_sessions: int = 6
    follow_up_after_days: int = 28
    follow_up_reminder_days: int = 7
    # When set, coach notifications go here instead of to every active coach.
    coach_notify_emails: tuple[str, ...] = ()
    mail_default_sender: str = "Compassionate Leadership Coaching <coaching@localhost>"
    # The calendar ORGANIZER (where calendar replies go); default: the sender's address.
    invite_organizer_email: str = ""
    # The reflection questionnaire's questions; None: the file shipped with the package.
    questionnaire_file: str | None = None
    password_hashing: PasswordHashing = field(default_factory=PasswordHashing)
    # Coaches' own calendars (booking/calendars.py).
    calendar_secret_key: str | None = field(default=None, repr=False)
    calendar_horizon_days: int = 42
    calendar_timeout_seconds: float = 30.0
    calendar_max_bytes: int = 10 * 1024 * 1024

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> Settings:
        sender = str(config["MAIL_DEFAULT_SENDER"])
        return cls(
            base_url=str(config["BASE_URL"]).rstrip("/"),
            timezone=str(config["TIMEZONE"]),
            firm_name=str(config["FIRM_NAME"]),
            contact_promise_working_days=int(config["CONTACT_PROMISE_WORKING_DAYS"]),
            round_robin_assignment=bool(config.get("ROUND_ROBIN_ASSIGNMENT", True)),
            self_booking=bool(config.get("SELF_BOOKING", False)),
            reminder_hours_before=float(config["REMINDER_HOURS_BEFORE"]),
            journey_max_sessions=int(config.get("JOURNEY_MAX_SESSIONS", 6)),
            follow_up_after_days=int(config.get("FOLLOW_UP_AFTER_DAYS", 28)),
            follow_up_reminder_days=int(config.get("FOLLOW_UP_REMINDER_DAYS", 7)),
            coach_notify_emails=tuple(config.get("COACH_NOTIFY_EMAILS") or ()),
            mail_default_sender=sender,
            invite_organizer_email=str(
                config.get("INVITE_ORGANIZER_EMAIL") or parseaddr(sender)[1]
            ),
            questionnaire_file=config.get("QUESTIONNAIRE_FILE") or None,
            password_hashing=PasswordHashing(
                time_cost=int(config["ARGON2_TIME_COST"]),
                memory_cost=int(config["ARGON2_MEMORY_COST"]),
                parallelism=int(config["ARGON2_PARALLELISM"]),
            ),
            calendar_secret_key=config.get("CALENDAR_SECRET_KEY") or None,
            calendar_horizon_days=int(config.get("CALENDAR_HORIZON_DAYS", 42)),
            calendar_timeout_seconds=float(config.get("CALENDAR_TIMEOUT_SECONDS", 30.0)),
            calendar_max_bytes=int(config.get("CALENDAR_MAX_BYTES", 10 * 1024 * 1024)),
        )

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def questionnaire_path(self) -> Path | None:
        return Path(self.questionnaire_file) if self.questionnaire_file else None

    @property
    def sender_domain(self) -> str:
        address = parseaddr(self.mail_default_sender)[1]
        return address.rsplit("@", 1)[-1] if "@" in address else "localhost"


def init_app(app: Flask, clock: Clock | None = None) -> Settings:
    settings = Settings.from_config(app.config)
    app.extensions[SETTINGS_KEY] = settings
    app.extensions[CLOCK_KEY] = clock or utcnow
    return settings


def update_settings(app: Flask, **changes: Any) -> Settings:
    """Change some settings of a running app (tests: the live server's BASE_URL)."""
    settings = replace(app.extensions[SETTINGS_KEY], **changes)
    app.extensions[SETTINGS_KEY] = settings
    return settings


def set_clock(app: Flask, clock: Clock) -> None:
    """Make the app's pages see `clock()` as the time (tests: a fixed or moving moment)."""
    app.extensions[CLOCK_KEY] = clock


def current_settings() -> Settings:
    """The app's settings, for the web layer (views, CLI) only."""
    settings: Settings = current_app.extensions[SETTINGS_KEY]
    return settings


def current_now() -> datetime:
    """The app's clock, for the web layer (views, CLI) only."""
    clock: Clock = current_app.extensions[CLOCK_KEY]
    return clock()


__all__ = [
    "Clock",
    "Settings",
    "current_now",
    "current_settings",
    "init_app",
    "set_clock",
    "update_settings",
]

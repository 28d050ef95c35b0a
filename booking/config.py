"""Settings: defaults here, then `instance/settings.py` if present, then environment variables.

Every setting the operator may change is read from the environment with the same name.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

DEV_SECRET_KEY = "dev-only-not-secret"


class ConfigError(RuntimeError):
    """A setting is missing or unsafe; the message says which and what to do."""


def _bool(value: str) -> bool:
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _csv(value: str) -> list[str]:
    return [item.strip() for item in value.split(",") if item.strip()]


# name -> (default, parser). A default of None means "not set".
ENV_SETTINGS: dict[str, tuple[Any, Any]] = {
    "SECRET_KEY": (DEV_SECRET_KEY, str),
    "DATABASE_URL": (None, str),
    "MAIL_SERVER": ("", str),
    "MAIL_PORT": (25, int),
    "MAIL_USE_TLS": (False, _bool),
    "MAIL_USE_SSL": (False, _bool),
    "MAIL_USERNAME": (None, str),
    "MAIL_PASSWORD": (None, str),
    "MAIL_DEFAULT_SENDER": ("Compassionate Leadership Coaching <coaching@localhost>", str),
    # Seconds for connecting and for each SMTP command...
    "MAIL_TIMEOUT": (10.0, float),
    # ...but the reply to the end of DATA may take a server up to 10 minutes (RFC 5321 4.5.3.2).
    "MAIL_DATA_TIMEOUT": (600.0, float),
    "COACH_NOTIFY_EMAILS": ([], _csv),
    "BASE_URL": ("http://127.0.0.1:5000", str),
    "TIMEZONE": ("Europe/London", str),
    # How many reverse proxies in front to trust for the client's address, scheme and host
    # (X-Forwarded-For/-Proto/-Host). 0: none, a client's own X-Forwarded-For is ignored.
    "TRUSTED_PROXY_HOPS": (0, int),
    "RATELIMIT_STORAGE_URI": ("swept-memory://", str),
    # Namespaces the limiter's keys in a shared store (several sites or test runs on one Redis).
    "RATELIMIT_KEY_PREFIX": ("", str),
    "RATELIMIT_REGISTER_PER_ADDRESS": ("20 per hour", str),
    "RATELIMIT_REGISTER_PER_EMAIL": ("5 per hour", str),
    "FORM_MIN_SECONDS": (3.0, float),
    # A full plain-text notice that replaces the one built from the settings below.
    "PRIVACY_NOTICE_FILE": (None, str),
    # The privacy notice (UK GDPR articles 13 and 14): who the controller is and how to reach
    # them. Production refuses to start without the name and the contact.
    "PRIVACY_CONTROLLER_NAME": (None, str),
    "PRIVACY_CONTROLLER_CONTACT": (None, str),
    "PRIVACY_DPO_CONTACT": (None, str),
    # The lawful basis as the notice states it; empty means the default wording.
    "PRIVACY_LAWFUL_BASIS": ("", str),
    # Closed, withdrawn, not-suitable and no-response leads are erased by `flask leads purge`
    # once this many days have passed since anything last happened on them.
    "RETENTION_DAYS": (365, int),
    "OUTBOX_MAX_ATTEMPTS": (8, int),
    "OUTBOX_BACKOFF_BASE_SECONDS": (30.0, float),
    "OUTBOX_BACKOFF_CAP_SECONDS": (3600.0, float),
    "OUTBOX_POLL_SECONDS": (5.0, float),
    # How long a worker's claim on queued messages lasts before another worker may take them.
    "OUTBOX_LEASE_SECONDS": (300.0, float),
    # Messages claimed at a time (few: a slow server must not keep many waiting behind one worker).
    "OUTBOX_CLAIM_BATCH": (5, int),
    # A message whose outcome was unknown is tried once more, this long after.
    "OUTBOX_UNKNOWN_RETRY_SECONDS": (3600.0, float),
    "MAIL_CAPTURE_DIR": (None, str),
    "APP_ENV": ("development", str),
    "CONTACT_PROMISE_WORKING_DAYS": (2, int),
    "ROUND_ROBIN_ASSIGNMENT": (True, _bool),
    # Leaders book a free slot of their coach's hours themselves (off: coaches propose times).
    "SELF_BOOKING": (False, _bool),
    "REMINDER_HOURS_BEFORE": (24.0, float),
    # A coaching journey: at most this many sessions per lead (held or booked).
    "JOURNEY_MAX_SESSIONS": (6, int),
    # The follow-up questionnaire goes this many days after the last held session of a
    # closed journey (`flask outcomes send-due`), with one reminder this many days later.
    "FOLLOW_UP_AFTER_DAYS": (28, int),
    "FOLLOW_UP_REMINDER_DAYS": (7, int),
    "SESSION_IDLE_MINUTES": (60, int),
    "SESSION_ABSOLUTE_HOURS": (12, int),
    "INVITE_ORGANIZER_EMAIL": (None, str),
    "FIRM_NAME": ("Compassionate Leadership Coaching", str),
    "IMAP_HOST": (None, str),
    "IMAP_PORT": (993, int),
    "IMAP_USERNAME": (None, str),
    "IMAP_PASSWORD": (None, str),
    "IMAP_FOLDER": ("INBOX", str),
    "IMAP_SSL": (True, _bool),
    # Calendar replies: a larger message, or one naming more attendees, is refused unread.
    "REPLY_MAX_BYTES": (1024 * 1024, int),
    "REPLY_MAX_ATTENDEES": (10, int),
    # The reflection questionnaire's questions (JSON); default: booking/questionnaire.json.
    "QUESTIONNAIRE_FILE": (None, str),
    # Argon2id cost of coach password hashes; the defaults are argon2-cffi's (RFC 9106 low
    # memory). Lower them only for tests.
    "ARGON2_TIME_COST": (3, int),
    "ARGON2_MEMORY_COST": (65536, int),
    "ARGON2_PARALLELISM": (4, int),
    # Coaches' own calendars: the Fernet key their addresses and app passwords are encrypted
    # with (python -c "from cryptography.fernet import Fernet; print(Fernet.generate_key()
    # .decode())"). Without it no calendar can be connected; production refuses to start
    # without it once a calendar exists (booking/calendars.py:check_secret_key).
    "CALENDAR_SECRET_KEY": (None, str),
    # How far ahead `flask calendars sync` reads busy times (the booking horizon).
    "CALENDAR_HORIZON_DAYS": (42, int),
    # Seconds for connecting to and for each read from a calendar server.
    "CALENDAR_TIMEOUT_SECONDS": (30.0, float),
    # A calendar bigger than this is not read (its last good busy times stay).
    "CALENDAR_MAX_BYTES": (10 * 1024 * 1024, int),
}


def load_config(instance_path: str, overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    """Build the settings dict: defaults, instance/settings.py, environment, then test overrides."""
    config: dict[str, Any] = {name: default for name, (default, _) in ENV_SETTINGS.items()}

    settings_file = Path(instance_path) / "settings.py"
    if settings_file.exists():
        namespace: dict[str, Any] = {}
        exec(compile(settings_file.read_text(), str(settings_file), "exec"), namespace)
        config.update({k: v for k, v in namespace.items() if k.isupper()})

    for name, (_, parse) in ENV_SETTINGS.items():
        if name in os.environ:
            try:
                config[name] = parse(os.environ[name])
            except ValueError as error:
                kind = {int: "a whole number", float: "a number"}.get(parse, "valid")
                raise ConfigError(
                    f"{name}={os.environ[name]!r} is not {kind}; fix or unset it"
                ) from error

    if overrides:
        config.update(overrides)

    if not config["DATABASE_URL"]:
        config["DATABASE_URL"] = "sqlite:///" + str(Path(instance_path) / "booking.sqlite3")
    if not config["MAIL_CAPTURE_DIR"]:
        config["MAIL_CAPTURE_DIR"] = str(Path(instance_path) / "mail")
    if not config["INVITE_ORGANIZER_EMAIL"]:
        from email.utils import parseaddr

        config["INVITE_ORGANIZER_EMAIL"] = parseaddr(config["MAIL_DEFAULT_SENDER"])[1]
    config["BASE_URL"] = config["BASE_URL"].rstrip("/")

    production = config["APP_ENV"] == "production"
    if production and config["SECRET_KEY"] in (DEV_SECRET_KEY, "", None):
        raise ConfigError(
            "APP_ENV=production but SECRET_KEY is the development default. "
            'Set SECRET_KEY to a long random value, e.g. python -c "import secrets; '
            'print(secrets.token_urlsafe(48))"'
        )

    if production:
        missing = [
            name
            for name in ("PRIVACY_CONTROLLER_NAME", "PRIVACY_CONTROLLER_CONTACT")
            if not str(config.get(name) or "").strip()
        ]
        if missing:
            raise ConfigError(
                f"APP_ENV=production but {' and '.join(missing)} "
                f"{'is' if len(missing) == 1 else 'are'} not set. The privacy notice at "
                "/privacy must name the data controller and how to reach them: set "
                "PRIVACY_CONTROLLER_NAME (e.g. the firm's legal name) and "
                "PRIVACY_CONTROLLER_CONTACT (an email or postal address)."
            )
    if int(config["RETENTION_DAYS"]) < 1:
        raise ConfigError(
            f"RETENTION_DAYS={config['RETENTION_DAYS']!r} must be a whole number of days, 1 or more"
        )

    try:
        from zoneinfo import ZoneInfo

        ZoneInfo(str(config["TIMEZONE"]))
    except (ValueError, KeyError) as error:  # ZoneInfoNotFoundError is a KeyError
        raise ConfigError(
            f"TIMEZONE={config['TIMEZONE']!r} is not a time zone name like Europe/London"
        ) from error

    config["SQLALCHEMY_DATABASE_URI"] = config["DATABASE_URL"]
    engine_options = dict(config.get("SQLALCHEMY_ENGINE_OPTIONS") or {})
    # A pooled connection that died while idle (the database restarted, a failover) is noticed
    # and replaced before a request uses it, instead of failing the first request afterwards.
    engine_options.setdefault("pool_pre_ping", True)
    if str(config["DATABASE_URL"]).startswith("postgresql"):
        # An unreachable database host fails a request in seconds (a 503), not TCP's minutes.
        engine_options.setdefault("connect_args", {"connect_timeout": 5})
    # A database error's text would otherwise carry the statement's values (names, emails,
    # notes) into tracebacks and logs.
    engine_options.setdefault("hide_parameters", True)
    config["SQLALCHEMY_ENGINE_OPTIONS"] = engine_options
    # Sending is decided by MAIL_SERVER (empty: write .eml files), never by app.testing.
    config.setdefault("MAIL_SUPPRESS_SEND", False)
    config["SESSION_COOKIE_HTTPONLY"] = True
    config["SESSION_COOKIE_SAMESITE"] = "Lax"
    config["SESSION_COOKIE_SECURE"] = production
    config["REMEMBER_COOKIE_HTTPONLY"] = True
    config["REMEMBER_COOKIE_SECURE"] = production
    config["RATELIMIT_HEADERS_ENABLED"] = True
    # Bigger bodies are refused with a friendly 413 before any form parsing.
    config.setdefault("MAX_CONTENT_LENGTH", 64 * 1024)
    # CSRF tokens outlive a slow, interrupted form fill; an expired one keeps what was typed.
    config.setdefault("WTF_CSRF_TIME_LIMIT", 6 * 3600)
    return config

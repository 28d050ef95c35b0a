"""Settings from the environment, and refusing to start when they are unsafe or unreadable."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from booking import create_app
from booking.config import DEV_SECRET_KEY, ENV_SETTINGS, ConfigError, load_config

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch):
    """Each test starts from the defaults, whatever the shell running pytest has set."""
    for name in ENV_SETTINGS:
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def test_production_with_the_development_secret_refuses_to_start(monkeypatch, tmp_path):
    monkeypatch.setenv("APP_ENV", "production")
    with pytest.raises(ConfigError, match="SECRET_KEY") as caught:
        load_config(str(tmp_path))
    message = str(caught.value)
    assert "production" in message and "secrets.token_urlsafe" in message


@pytest.mark.parametrize("secret", [DEV_SECRET_KEY, ""])
def test_production_refuses_a_dev_or_empty_secret_set_explicitly(monkeypatch, tmp_path, secret):
    monkeypatch.setenv("APP_ENV", "production")
    monkeypatch.setenv("SECRET_KEY", secret)
    with pytest.raises(ConfigError, match="SECRET_KEY"):
        create_app({"DATABASE_URL": f"sqlite:///{tmp_path}/x.sqlite3"})


@pytest.mark.slow
def test_production_start_fails_as_a_process_with_a_clear_message(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ENV_SETTINGS}
    env.update(APP_ENV="production", DATABASE_URL=f"sqlite:///{tmp_path}/x.sqlite3")
    result = subprocess.run(
        [sys.executable, "-c", "import wsgi"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert (
        "ConfigError: APP_ENV=production but SECRET_KEY is the development default" in result.stderr
    )


PRODUCTION_PRIVACY = {
    "PRIVACY_CONTROLLER_NAME": "Compassionate Leadership Coaching Ltd",
    "PRIVACY_CONTROLLER_CONTACT": "privacy@coaching.example",
}


def test_production_with_a_real_secret_starts_with_secure_cookies(monkeypatch, tmp_path):
    monkeypatch.setenv("APP_ENV", "production")
    monkeypatch.setenv("SECRET_KEY", "a-long-random-production-secret")
    for name, value in PRODUCTION_PRIVACY.items():
        monkeypatch.setenv(name, value)
    config = load_config(str(tmp_path))
    assert config["SESSION_COOKIE_SECURE"] is True
    assert config["REMEMBER_COOKIE_SECURE"] is True
    assert config["SESSION_COOKIE_HTTPONLY"] is True
    assert config["SESSION_COOKIE_SAMESITE"] == "Lax"


@pytest.mark.parametrize(
    "unset", [["PRIVACY_CONTROLLER_NAME"], ["PRIVACY_CONTROLLER_CONTACT"], list(PRODUCTION_PRIVACY)]
)
def test_production_refuses_to_start_without_the_privacy_controller(monkeypatch, tmp_path, unset):
    monkeypatch.setenv("APP_ENV", "production")
    monkeypatch.setenv("SECRET_KEY", "a-long-random-production-secret")
    for name, value in PRODUCTION_PRIVACY.items():
        if name not in unset:
            monkeypatch.setenv(name, value)
        else:
            monkeypatch.setenv(name, "  ")  # blank counts as unset
    with pytest.raises(ConfigError) as caught:
        create_app({"DATABASE_URL": f"sqlite:///{tmp_path}/x.sqlite3"})
    message = str(caught.value)
    assert message.startswith(f"APP_ENV=production but {' and '.join(unset)}")
    assert "privacy notice" in message


def test_development_starts_without_the_privacy_controller(tmp_path):
    config = load_config(str(tmp_path))
    assert config["PRIVACY_CONTROLLER_NAME"] is None
    assert config["RETENTION_DAYS"] == 365


@pytest.mark.parametrize("days", ["0", "-5"])
def test_retention_days_must_be_positive(monkeypatch, tmp_path, days):
    monkeypatch.setenv("RETENTION_DAYS", days)
    with pytest.raises(ConfigError, match="RETENTION_DAYS"):
        load_config(str(tmp_path))


def test_development_defaults(tmp_path):
    config = load_config(str(tmp_path))
    assert config["APP_ENV"] == "development"
    assert config["SECRET_KEY"] == DEV_SECRET_KEY
    assert config["SESSION_COOKIE_SECURE"] is False
    assert config["DATABASE_URL"] == f"sqlite:///{tmp_path}/booking.sqlite3"
    assert config["SQLALCHEMY_DATABASE_URI"] == config["DATABASE_URL"]
    assert config["MAIL_SERVER"] == ""  # mail goes to .eml files
    assert config["MAIL_CAPTURE_DIR"] == str(tmp_path / "mail")
    assert config["COACH_NOTIFY_EMAILS"] == []
    assert config["TIMEZONE"] == "Europe/London"
    assert config["RATELIMIT_STORAGE_URI"] == "swept-memory://"
    assert config["BASE_URL"] == "http://127.0.0.1:5000"
    assert config["MAX_CONTENT_LENGTH"] == 64 * 1024


@pytest.mark.parametrize(
    "raw,expected",
    [
        ("coach@example.org", ["coach@example.org"]),
        (" a@example.org, b@example.org ,, ", ["a@example.org", "b@example.org"]),
        ("", []),
        (" , ", []),
    ],
)
def test_coach_notify_emails_is_comma_separated(monkeypatch, tmp_path, raw, expected):
    monkeypatch.setenv("COACH_NOTIFY_EMAILS", raw)
    assert load_config(str(tmp_path))["COACH_NOTIFY_EMAILS"] == expected


@pytest.mark.parametrize(
    "raw,expected",
    [
        ("1", True),
        ("true", True),
        ("Yes", True),
        (" on ", True),
        ("0", False),
        ("false", False),
        ("no", False),
        ("", False),
    ],
)
def test_boolean_settings(monkeypatch, tmp_path, raw, expected):
    monkeypatch.setenv("MAIL_USE_TLS", raw)
    monkeypatch.setenv("MAIL_USE_SSL", raw)
    config = load_config(str(tmp_path))
    assert config["MAIL_USE_TLS"] is expected and config["MAIL_USE_SSL"] is expected


def test_every_documented_setting_is_read_from_the_environment(monkeypatch, tmp_path):
    values = {
        "SECRET_KEY": "s3cret",
        "DATABASE_URL": "postgresql+psycopg://app@db.internal/booking",
        "MAIL_SERVER": "smtp.example.org",
        "MAIL_PORT": "587",
        "MAIL_USE_TLS": "true",
        "MAIL_USE_SSL": "false",
        "MAIL_USERNAME": "mailer",
        "MAIL_PASSWORD": "p@ss word",
        "MAIL_DEFAULT_SENDER": "Coaching Team <team@coaching.example>",
        "MAIL_TIMEOUT": "7.5",
        "COACH_NOTIFY_EMAILS": "x@coaching.example,y@coaching.example",
        "BASE_URL": "https://book.coaching.example/",
        "TIMEZONE": "Europe/Dublin",
        "RATELIMIT_STORAGE_URI": "redis://127.0.0.1:6379/3",
        "FORM_MIN_SECONDS": "2.5",
        "PRIVACY_NOTICE_FILE": "/etc/booking/privacy.txt",
        "PRIVACY_CONTROLLER_NAME": "Coaching Ltd",
        "PRIVACY_CONTROLLER_CONTACT": "privacy@coaching.example",
        "PRIVACY_DPO_CONTACT": "dpo@coaching.example",
        "PRIVACY_LAWFUL_BASIS": "Consent.",
        "RETENTION_DAYS": "90",
    }
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    config = load_config(str(tmp_path))
    assert config["SECRET_KEY"] == "s3cret"
    assert config["SQLALCHEMY_DATABASE_URI"] == values["DATABASE_URL"]
    assert (config["MAIL_SERVER"], config["MAIL_PORT"]) == ("smtp.example.org", 587)
    assert (config["MAIL_USE_TLS"], config["MAIL_USE_SSL"]) == (True, False)
    assert (config["MAIL_USERNAME"], config["MAIL_PASSWORD"]) == ("mailer", "p@ss word")
    assert config["MAIL_DEFAULT_SENDER"] == "Coaching Team <team@coaching.example>"
    assert config["INVITE_ORGANIZER_EMAIL"] == "team@coaching.example"
    assert config["MAIL_TIMEOUT"] == 7.5
    assert config["COACH_NOTIFY_EMAILS"] == ["x@coaching.example", "y@coaching.example"]
    assert config["BASE_URL"] == "https://book.coaching.example"  # no trailing slash in links
    assert config["TIMEZONE"] == "Europe/Dublin"
    assert config["RATELIMIT_STORAGE_URI"] == "redis://127.0.0.1:6379/3"
    assert config["FORM_MIN_SECONDS"] == 2.5
    assert config["PRIVACY_NOTICE_FILE"] == "/etc/booking/privacy.txt"
    assert config["PRIVACY_CONTROLLER_NAME"] == "Coaching Ltd"
    assert config["PRIVACY_CONTROLLER_CONTACT"] == "privacy@coaching.example"
    assert config["PRIVACY_DPO_CONTACT"] == "dpo@coaching.example"
    assert config["PRIVACY_LAWFUL_BASIS"] == "Consent."
    assert config["RETENTION_DAYS"] == 90


@pytest.mark.parametrize(
    "name,value,words",
    [
        ("MAIL_PORT", "twenty-five", "MAIL_PORT='twenty-five' is not a whole number"),
        ("MAIL_TIMEOUT", "10s", "MAIL_TIMEOUT='10s' is not a number"),
        ("OUTBOX_MAX_ATTEMPTS", "", "OUTBOX_MAX_ATTEMPTS='' is not a whole number"),
        ("TIMEZONE", "Europe/Londn", "TIMEZONE='Europe/Londn' is not a time zone name"),
    ],
)
def test_unreadable_settings_fail_fast_naming_the_setting(
    monkeypatch, tmp_path, name, value, words
):
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError) as caught:
        load_config(str(tmp_path))
    assert words in str(caught.value)


def test_instance_settings_file_then_environment_then_test_overrides(monkeypatch, tmp_path):
    (tmp_path / "settings.py").write_text(
        "FIRM_NAME = 'Instance Coaching'\nMAIL_PORT = 2525\nBASE_URL = 'http://instance.test'\n"
    )
    monkeypatch.setenv("MAIL_PORT", "1025")
    config = load_config(str(tmp_path), {"BASE_URL": "http://override.test"})
    assert config["FIRM_NAME"] == "Instance Coaching"  # instance file over defaults
    assert config["MAIL_PORT"] == 1025  # environment over instance file
    assert config["BASE_URL"] == "http://override.test"  # explicit overrides last


def test_the_app_uses_the_configured_limiter_store(make_app):
    app = make_app(RATELIMIT_STORAGE_URI="memory://")
    assert app.config["RATELIMIT_STORAGE_URI"] == "memory://"
    assert app.config["RATELIMIT_HEADERS_ENABLED"] is True

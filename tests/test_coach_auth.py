"""Coach accounts without HTTP: passwords, the CLI, sign-in throttling, password resets."""

from __future__ import annotations

from datetime import timedelta

import pytest
from argon2 import PasswordHasher
from sqlalchemy import func, select

from booking.extensions import db
from booking.links import LinkRefused, load_password_reset, password_reset_token
from booking.models import Coach, LoginFailure, OutboxMessage
from booking.passwords import hash_password, needs_rehash, password_problem, verify_password
from booking.settings import current_settings
from booking.workflow import DomainError
from booking.workflow.accounts import (
    SIGN_IN_FAILED,
    SignInThrottled,
    authenticate,
    create_coach,
    request_password_reset,
    reset_password,
)

from .coach_helpers import (
    PASSWORD,
    add_coach,
)

ADDRESS = "192.0.2.10"


def failures() -> int:
    return int(db.session.scalar(select(func.count()).select_from(LoginFailure)))


# ----- passwords -----------------------------------------------------------------------------


def test_hashes_are_argon2id_and_verify():
    hashed = hash_password("eight888")
    assert hashed.startswith("$argon2id$")
    assert verify_password(hashed, "eight888")
    assert not verify_password(hashed, "eight889")
    assert not verify_password("not a hash", "eight888")


def test_an_over_long_password_is_refused_even_when_its_start_matches():
    # The check runs on the first MAX_LENGTH characters (so it costs the same), then refuses.
    hashed = hash_password("x" * 128)
    assert verify_password(hashed, "x" * 128)
    assert not verify_password(hashed, "x" * 129)
    assert not verify_password(hashed, "x" * 10_000)


@pytest.mark.parametrize(
    ("password", "ok"),
    [
        ("seven77", False),
        ("eight888", True),
        ("aaaaaaaa", True),
        ("x" * 128, True),
        ("x" * 129, False),
        ("pass phrase with spaces ✓", True),
    ],
)
def test_length_is_the_only_rule(password, ok):
    assert (password_problem(password) is None) == ok


def test_an_old_hash_is_upgraded_at_sign_in(app_ctx, now):
    weak = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1).hash(PASSWORD)
    coach = Coach(email="old@example.org", name="Old", password_hash=weak, active=True)
    db.session.add(coach)
    db.session.commit()
    hashing = current_settings().password_hashing
    assert needs_rehash(weak, hashing)
    authenticate("old@example.org", PASSWORD, address=ADDRESS, now=now, settings=current_settings())
    db.session.commit()
    assert coach.password_hash != weak
    assert not needs_rehash(coach.password_hash, hashing)
    assert verify_password(coach.password_hash, PASSWORD)


# ----- the CLI -------------------------------------------------------------------------------


def test_cli_add_list_deactivate(app):
    runner = app.test_cli_runner()
    result = runner.invoke(
        args=["coach", "add", "Maya@Example.org", "--name", "Maya Coach", "--password", PASSWORD]
    )
    assert result.exit_code == 0, result.output
    assert "maya@example.org" in result.output
    listed = runner.invoke(args=["coach", "list"])
    assert "maya@example.org\tMaya Coach\tcoach\tactive" in listed.output
    result = runner.invoke(args=["coach", "deactivate", "maya@example.org"])
    assert result.exit_code == 0
    assert "deactivated" in runner.invoke(args=["coach", "list"]).output
    with app.app_context():
        coach = db.session.scalar(select(Coach))
        assert coach is not None and not coach.active
        assert coach.password_hash.startswith("$argon2id$")


def test_cli_adds_the_first_admin(app):
    runner = app.test_cli_runner()
    result = runner.invoke(
        args=["coach", "add", "ada@example.org", "--name", "Ada", "--password", PASSWORD, "--admin"]
    )
    assert result.exit_code == 0, result.output
    assert result.output.startswith("admin ada@example.org")
    assert "ada@example.org\tAda\tadmin\tactive" in runner.invoke(args=["coach", "list"]).output
    with app.app_context():
        coach = db.session.scalar(select(Coach))
        assert coach is not None and coach.is_admin


def test_cli_prompts_for_a_hidden_confirmed_password(app):
    runner = app.test_cli_runner()
    result = runner.invoke(
        args=["coach", "add", "sam@example.org", "--name", "Sam"], input=f"{PASSWORD}\n{PASSWORD}\n"
    )
    assert result.exit_code == 0, result.output
    assert PASSWORD not in result.output  # hidden
    mismatch = runner.invoke(
        args=["coach", "add", "kim@example.org", "--name", "Kim"],
        input=f"{PASSWORD}\nsomething else\n",
    )
    assert mismatch.exit_code != 0
    with app.app_context():
        assert (
            db.session.scalar(select(Coach.email).where(Coach.email == "kim@example.org")) is None
        )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["coach", "add", "a@example.org", "--name", "A", "--password", "short"], "at least 8"),
        (["coach", "add", "not-an-email", "--name", "A", "--password", PASSWORD], "not an email"),
        # Mail to it could not be sent (no SMTPUTF8), so no reset link could ever arrive.
        (
            ["coach", "add", "zoë@example.org", "--name", "Z", "--password", PASSWORD],
            "not an email",
        ),
        (["coach", "deactivate", "nobody@example.org"], "no coach"),
    ],
)
def test_cli_refuses_clearly(app, args, message):
    result = app.test_cli_runner().invoke(args=args)
    assert result.exit_code != 0
    assert message in result.output


def test_cli_refuses_a_duplicate(app):
    runner = app.test_cli_runner()
    runner.invoke(args=["coach", "add", "a@example.org", "--name", "A", "--password", PASSWORD])
    again = runner.invoke(
        args=["coach", "add", "A@example.org", "--name", "A2", "--password", PASSWORD]
    )
    assert again.exit_code != 0 and "already a coach" in again.output


def test_create_coach_keeps_an_international_domain_in_its_ascii_form(app_ctx, now):
    coach = create_coach("Jo@Bücher.example", "Jo", PASSWORD, now=now, settings=current_settings())
    assert coach.email == "jo@xn--bcher-kva.example"
    db.session.commit()
    for typed in ("jo@bücher.example", " JO@XN--BCHER-KVA.example "):
        assert (
            authenticate(typed, PASSWORD, address=ADDRESS, now=now, settings=current_settings())
            is coach
        )


def test_create_coach_normalises_the_email(app_ctx, now):
    coach = create_coach(
        "  Maya@Example.ORG ", " Maya ", PASSWORD, now=now, settings=current_settings()
    )
    assert (coach.email, coach.name) == ("maya@example.org", "Maya")


# ----- signing in ----------------------------------------------------------------------------


def test_unknown_email_wrong_password_and_inactive_get_the_same_message(app_ctx, now):
    coach = add_coach(now=now)
    messages = []
    for email, password in [("nobody@example.org", PASSWORD), (coach.email, "wrong password")]:
        with pytest.raises(DomainError) as refused:
            authenticate(email, password, address=ADDRESS, now=now, settings=current_settings())
        messages.append(str(refused.value))
    coach.active = False
    with pytest.raises(DomainError) as refused:
        authenticate(
            coach.email, PASSWORD, address="198.51.100.1", now=now, settings=current_settings()
        )
    messages.append(str(refused.value))
    assert messages == [SIGN_IN_FAILED] * 3


def test_success_is_case_insensitive_and_clears_the_accounts_failures(app_ctx, now):
    coach = add_coach(now=now)
    with pytest.raises(DomainError):
        authenticate(coach.email, "wrong", address=ADDRESS, now=now, settings=current_settings())
    db.session.commit()
    assert failures() == 1
    assert (
        authenticate(
            "MAYA@example.org", PASSWORD, address=ADDRESS, now=now, settings=current_settings()
        ).id
        == coach.id
    )
    db.session.commit()
    assert failures() == 0


def fail(email: str, now, address: str = ADDRESS) -> None:
    with pytest.raises(DomainError):
        authenticate(email, "wrong password", address=address, now=now, settings=current_settings())
    db.session.commit()


def test_failures_slow_down_then_lock_the_account(app_ctx, now):
    coach = add_coach(now=now)
    t = now
    for _ in range(3):
        fail(coach.email, t)
    # Third failure: wait 10 seconds.
    with pytest.raises(SignInThrottled) as slowed:
        authenticate(
            coach.email,
            PASSWORD,
            address=ADDRESS,
            now=t + timedelta(seconds=5),
            settings=current_settings(),
        )
    assert not slowed.value.locked and 1 <= slowed.value.retry_after <= 10
    t += timedelta(seconds=11)
    fail(coach.email, t)
    # Fourth: wait 30 seconds.
    with pytest.raises(SignInThrottled) as slowed:
        authenticate(
            coach.email,
            PASSWORD,
            address=ADDRESS,
            now=t + timedelta(seconds=20),
            settings=current_settings(),
        )
    assert not slowed.value.locked
    t += timedelta(seconds=31)
    fail(coach.email, t)
    # Fifth: refused for 15 minutes, even with the right password, and nothing is recorded.
    before = failures()
    with pytest.raises(SignInThrottled) as locked:
        authenticate(
            coach.email,
            PASSWORD,
            address="203.0.113.9",
            now=t + timedelta(minutes=14),
            settings=current_settings(),
        )
    assert locked.value.locked and locked.value.retry_after <= 60
    assert failures() == before
    # After the window the right password works again.
    assert (
        authenticate(
            coach.email,
            PASSWORD,
            address=ADDRESS,
            now=t + timedelta(minutes=15, seconds=1),
            settings=current_settings(),
        ).id
        == coach.id
    )


def test_failures_from_one_address_lock_that_address_for_every_account(app_ctx, now):
    coach = add_coach(now=now)
    t = now
    for n in range(20):
        t += timedelta(seconds=40)
        fail(f"guess{n}@example.org", t)
    with pytest.raises(SignInThrottled) as locked:
        authenticate(
            coach.email,
            PASSWORD,
            address=ADDRESS,
            now=t + timedelta(seconds=1),
            settings=current_settings(),
        )
    assert locked.value.locked
    # Another address is not affected.
    assert (
        authenticate(
            coach.email, PASSWORD, address="198.51.100.7", now=t, settings=current_settings()
        ).id
        == coach.id
    )


def test_old_failures_stop_counting(app_ctx, now):
    coach = add_coach(now=now)
    for n in range(4):
        fail(coach.email, now + timedelta(minutes=n))
    later = now + timedelta(minutes=20)
    assert (
        authenticate(
            coach.email, PASSWORD, address=ADDRESS, now=later, settings=current_settings()
        ).id
        == coach.id
    )


# ----- password reset ------------------------------------------------------------------------


def test_reset_link_is_emailed_only_to_an_active_coach(app_ctx, now):
    coach = add_coach(now=now)
    assert not request_password_reset("nobody@example.org", now=now, settings=current_settings())
    assert request_password_reset("MAYA@example.org", now=now, settings=current_settings())
    db.session.commit()
    [mail] = db.session.scalars(select(OutboxMessage)).all()
    assert mail.recipients == [coach.email]
    assert "http://booking.test/coach/password-reset/" in mail.body_text


def test_reset_works_once(app_ctx, now):
    coach = add_coach(now=now)
    token = password_reset_token(coach)
    assert load_password_reset(token).id == coach.id
    with pytest.raises(DomainError, match="at least 8"):
        reset_password(load_password_reset(token), "short", now=now, settings=current_settings())
    reset_password(
        load_password_reset(token), "a brand new password", now=now, settings=current_settings()
    )
    db.session.commit()
    assert verify_password(coach.password_hash, "a brand new password")
    with pytest.raises(LinkRefused) as used:
        load_password_reset(token)
    assert used.value.reason == "used" and used.value.status == 409


def test_reset_token_for_another_purpose_or_tampered_is_invalid(app_ctx, now):
    from booking.links import make_token

    coach = add_coach(now=now)
    for token in [
        make_token("withdraw", {"coach": coach.id}),
        password_reset_token(coach)[:-2] + "xx",
        "nonsense",
    ]:
        with pytest.raises(LinkRefused) as bad:
            load_password_reset(token)
        assert bad.value.reason == "invalid"


def test_reset_token_expires_after_an_hour(app_ctx, now, monkeypatch):
    import time as time_module

    coach = add_coach(now=now)
    real = time_module.time
    monkeypatch.setattr(time_module, "time", lambda: real() - 3601)
    token = password_reset_token(coach)
    monkeypatch.setattr(time_module, "time", real)
    with pytest.raises(LinkRefused) as expired:
        load_password_reset(token)
    assert expired.value.reason == "expired"

"""Sign-in timing does not tell whether an email has an account (issue 7, item 1).

Uses argon2-cffi's real default costs (the production settings, not the tests' cheap ARGON2_*
settings), and counts the Argon2 work each refused sign-in spends rather than timing it: the
Argon2 computation is what takes the time (tens of milliseconds; the rest of a sign-in takes
well under one), so every path must run exactly one Argon2 verification with the same cost
parameters. Counted, the check is exact, and holds on a machine too busy for timings to mean
anything; an earlier version timed five rounds of every path and compared the medians.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest
from argon2 import Parameters, PasswordHasher, extract_parameters

from booking.extensions import db
from booking.models import Coach
from booking.passwords import MAX_LENGTH, PasswordHashing, hash_password, verify_against_dummy
from booking.settings import current_settings
from booking.workflow import DomainError
from booking.workflow.accounts import authenticate

PASSWORD = "correct horse battery staple"
LONG = "x" * 200

pytestmark = pytest.mark.slow


def test_every_refused_sign_in_costs_the_same_argon2_work(app_ctx, now, monkeypatch):
    # The real defaults, not the cheap test settings (a check on the test itself).
    real = PasswordHashing()
    assert real.memory_cost >= 19 * 1024 and real.time_cost >= 2
    settings = replace(current_settings(), password_hashing=real)
    active = Coach(
        email="maya@example.org",
        name="Maya",
        password_hash=hash_password(PASSWORD, real),
        active=True,
        created_at=now,
    )
    gone = Coach(
        email="gone@example.org",
        name="Gone",
        password_hash=active.password_hash,
        active=False,
        created_at=now,
    )
    db.session.add_all([active, gone])
    db.session.commit()
    # One verification at the real costs: what checking the right password spends.
    real_work = [("verify", extract_parameters(active.password_hash))]
    assert real_work[0][1].memory_cost == real.memory_cost
    assert real_work[0][1].time_cost == real.time_cost
    # The dummy hash an unknown email is checked against is made once per process, on first
    # use; made here, so each path below shows what every later sign-in spends.
    verify_against_dummy(PASSWORD, real)

    # Every Argon2 computation from here on, as (what, the parameters it ran with); each one
    # still runs for real.
    work: list[tuple[str, Parameters]] = []
    verify, make = PasswordHasher.verify, PasswordHasher.hash

    def counted_verify(self: PasswordHasher, hash: str | bytes, password: str | bytes) -> bool:
        text = hash if isinstance(hash, str) else hash.decode()
        work.append(("verify", extract_parameters(text)))
        return verify(self, hash, password)

    def counted_hash(self: PasswordHasher, password: str | bytes, **kwargs: object) -> str:
        made = make(self, password, **kwargs)
        work.append(("hash", extract_parameters(made)))
        return made

    monkeypatch.setattr(PasswordHasher, "verify", counted_verify)
    monkeypatch.setattr(PasswordHasher, "hash", counted_hash)

    paths = {
        "unknown email": ("nobody@example.org", PASSWORD),
        "unknown email, long password": ("nobody@example.org", LONG),
        "wrong password": ("maya@example.org", "wrong password"),
        "right password but too long": ("maya@example.org", PASSWORD + "x" * MAX_LENGTH),
        "inactive coach": ("gone@example.org", PASSWORD),
        "inactive coach, long password": ("gone@example.org", LONG),
    }
    spent: dict[str, list[tuple[str, Parameters]]] = {}
    for attempt, (name, (email, password)) in enumerate(paths.items(), start=1):
        # An hour apart, so throttling (which rightly skips Argon2) never kicks in.
        at = now + timedelta(hours=attempt)
        work.clear()
        with pytest.raises(DomainError):
            authenticate(email, password, address="192.0.2.1", now=at, settings=settings)
        spent[name] = list(work)
        db.session.rollback()

    assert spent == {name: real_work for name in paths}

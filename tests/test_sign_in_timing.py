"""Sign-in timing does not tell whether an email has an account (issue 7, item 1).

Uses argon2-cffi's real default costs (this module does not import `fast_passwords`): with the
cheap test parameters every path would take microseconds and the comparison would prove nothing.
"""

from __future__ import annotations

import statistics
import time
from datetime import timedelta

import pytest

from booking.extensions import db
from booking.models import Coach
from booking.passwords import MAX_LENGTH, _dummy_hash, _hasher, hash_password
from booking.workflow import DomainError
from booking.workflow.accounts import authenticate

PASSWORD = "correct horse battery staple"
LONG = "x" * 200
TRIES = 5

pytestmark = pytest.mark.slow


def test_every_refused_sign_in_costs_the_same_argon2_work(app_ctx, now):
    # The real defaults, not a cheap test hasher (a check on the test itself).
    assert _hasher.memory_cost >= 19 * 1024 and _hasher.time_cost >= 2
    # An earlier test may have left a dummy hash made with the cheap test parameters.
    _dummy_hash.cache_clear()
    active = Coach(
        email="maya@example.org",
        name="Maya",
        password_hash=hash_password(PASSWORD),
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

    paths = {
        "unknown email": ("nobody@example.org", PASSWORD),
        "unknown email, long password": ("nobody@example.org", LONG),
        "wrong password": ("maya@example.org", "wrong password"),
        "right password but too long": ("maya@example.org", PASSWORD + "x" * MAX_LENGTH),
        "inactive coach": ("gone@example.org", PASSWORD),
        "inactive coach, long password": ("gone@example.org", LONG),
    }
    times: dict[str, list[float]] = {name: [] for name in paths}
    attempt = 0
    for _ in range(TRIES):
        for name, (email, password) in paths.items():  # interleaved: load hits every path alike
            attempt += 1
            # An hour apart, so throttling (which rightly skips Argon2) never kicks in.
            at = now + timedelta(hours=attempt)
            started = time.perf_counter()
            with pytest.raises(DomainError):
                authenticate(email, password, address="192.0.2.1", now=at)
            times[name].append(time.perf_counter() - started)
            db.session.rollback()

    medians = {name: statistics.median(values) for name, values in times.items()}
    baseline = medians["wrong password"]
    ratios = {name: round(median / baseline, 2) for name, median in medians.items()}
    assert all(0.5 <= ratio <= 2.0 for ratio in ratios.values()), ratios

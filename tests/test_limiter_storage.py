"""The default rate-limit store: counts like limits' MemoryStorage, without starting a thread
per request (booking/limiter_storage.py)."""

from __future__ import annotations

import threading
import time

from limits import parse
from limits.storage import MemoryStorage, storage_from_string
from limits.strategies import FixedWindowRateLimiter

from booking.extensions import limiter
from booking.limiter_storage import SweptMemoryStorage


def test_the_hook_it_replaces_is_still_limits_own():
    # If limits renames its private hook, the override silently stops applying: fail here.
    assert callable(getattr(MemoryStorage, "_MemoryStorage__schedule_expiry", None))
    assert callable(getattr(MemoryStorage, "_MemoryStorage__expire_events", None))


def test_counting_starts_no_thread_and_holds_the_limit():
    storage = storage_from_string("swept-memory://")
    assert isinstance(storage, SweptMemoryStorage)
    counter = FixedWindowRateLimiter(storage)
    five = parse("5 per hour")
    before = threading.active_count()
    allowed = [counter.hit(five, "email", "leader@nhs.example") for _ in range(7)]
    assert allowed == [True] * 5 + [False, False]
    assert counter.hit(five, "email", "other@nhs.example")
    assert threading.active_count() == before


def test_expired_counters_are_read_as_expired_and_swept():
    storage = SweptMemoryStorage()
    storage.incr("soon", expiry=0.05)
    storage.incr("later", expiry=3600)
    time.sleep(0.1)
    assert storage.get("soon") == 0  # expired the moment it expired
    storage.incr("another", expiry=3600)  # before the sweep is due: nothing swept
    storage.expirations["soon"] = 0.0  # what `get` above dropped, put back expired
    storage.storage["soon"] = 1
    storage._next_sweep = 0.0  # the sweep is due
    storage.incr("another", expiry=3600)
    assert "soon" not in storage.storage and "soon" not in storage.expirations
    assert storage.get("later") == 1 and storage.get("another") == 2


def test_the_app_counts_registrations_in_it(app):
    assert isinstance(limiter.storage, SweptMemoryStorage)

"""The rate limiter's in-process store (`RATELIMIT_STORAGE_URI=swept-memory://`, the default):
limits' MemoryStorage without a thread per request.

MemoryStorage drops expired counters from a timer thread that it starts again, 10 ms later,
whenever the last one has finished: under steady traffic nearly every counted request starts a
thread, and `Thread.start` waits for the new thread to run (milliseconds on a busy machine; the
registration paid it on every POST). Here the request that finds the last sweep
`SWEEP_SECONDS` old drops them instead. A counter is read as expired the moment it expires
either way (`MemoryStorage.get` checks), so every limit holds exactly as before; only when the
memory of expired counters is freed changes.

Several workers or hosts need a shared store (`redis://`): see the README.
"""

from __future__ import annotations

import time
from typing import Any

from limits.storage import MemoryStorage


class SweptMemoryStorage(MemoryStorage):
    STORAGE_SCHEME = ["swept-memory"]
    SWEEP_SECONDS = 10.0

    def __init__(self, uri: str | None = None, wrap_exceptions: bool = False, **options: Any):
        super().__init__(uri, wrap_exceptions=wrap_exceptions, **options)
        self.timer.cancel()  # the one MemoryStorage starts at once
        self._next_sweep = time.monotonic() + self.SWEEP_SECONDS

    def _MemoryStorage__schedule_expiry(self) -> None:
        # Replaces MemoryStorage's private hook, called on every write (tests/
        # test_limiter_storage.py fails if limits renames it: a thread would start again).
        now = time.monotonic()
        if now >= self._next_sweep:
            self._next_sweep = now + self.SWEEP_SECONDS
            self._MemoryStorage__expire_events()  # type: ignore[attr-defined]

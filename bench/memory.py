"""Does a worker's memory stay flat? RSS after 1,000 mixed requests next to RSS after 20,000.

    python -m bench.memory                  # scratch SQLite, 20,000 requests
    python -m bench.memory --requests 4000  # a quicker look

One process, the app behind Flask's test client (what a gunicorn worker runs, without the
socket): registrations, the form, the thank-you page, the privacy notice, a 404, a signed-in
coach's lead list, a search and a lead's page, in turn. A leak shows as RSS still climbing after
the first thousand requests (caches filled, templates compiled); the target is within 10%.
"""

from __future__ import annotations

import argparse
import logging
import os
import re
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")
HIDDEN = re.compile(r'<input[^>]*name="([^"]+)"[^>]*type="hidden"[^>]*value="([^"]*)"')


def rss_mib() -> float:
    resident = int(Path("/proc/self/statm").read_text().split()[1])
    return resident * PAGE_SIZE / 2**20


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=20_000)
    args = parser.parse_args()
    logging.disable(logging.WARNING)

    from flask_migrate import upgrade

    from booking import create_app
    from booking.extensions import db
    from booking.links import make_token
    from booking.models import Coach
    from booking.passwords import PasswordHashing, hash_password

    with tempfile.TemporaryDirectory(prefix="bench-memory-") as tmp:
        app = create_app(
            {
                "DATABASE_URL": f"sqlite:///{tmp}/memory.sqlite3",
                "SECRET_KEY": "bench",
                "MAIL_SERVER": "",
                "MAIL_CAPTURE_DIR": f"{tmp}/mail",
                "COACH_NOTIFY_EMAILS": ["coaches@example.org"],
                "BASE_URL": "http://bench.local",
                "FORM_MIN_SECONDS": 0,
                "RATELIMIT_REGISTER_PER_ADDRESS": "100000000 per hour",
                "RATELIMIT_REGISTER_PER_EMAIL": "100000000 per hour",
            }
        )
        with app.app_context():
            upgrade()
            cheap = PasswordHashing(time_cost=1, memory_cost=1024, parallelism=1)
            db.session.add(
                Coach(
                    email="maya@example.org",
                    name="Maya",
                    password_hash=hash_password("bench password", cheap),
                )
            )
            db.session.commit()
        leader = app.test_client()
        coach = app.test_client()
        page = coach.get("/coach/sign-in").get_data(as_text=True)
        token = dict(HIDDEN.findall(page))["csrf_token"]
        coach.post(
            "/coach/sign-in",
            data={"csrf_token": token, "email": "maya@example.org", "password": "bench password"},
        )
        fields = dict(HIDDEN.findall(leader.get("/").get_data(as_text=True)))
        counter = iter(range(10**9))

        def register() -> None:
            n = next(counter)
            with app.app_context():
                form_token = make_token("register-form", {"n": f"m{n}", "t": time.time() - 60})
            leader.post(
                "/",
                data={
                    **fields,
                    "form_token": form_token,
                    "full_name": f"Leader {n}",
                    "email": f"leader{n}@memory.example",
                    "organisation": "Trust",
                    "role": "Manager",
                    "dimensions": ["practical"],
                    "preferred_format": "video",
                    "consent": "y",
                },
            )

        steps: list[Callable[[], object]] = [
            register,
            lambda: leader.get("/"),
            lambda: leader.get("/thank-you"),
            lambda: leader.get("/privacy"),
            lambda: leader.get("/no-such-page"),
            lambda: coach.get("/coach/leads"),
            lambda: coach.get("/coach/leads?q=leader 1"),
            lambda: coach.get("/coach/leads/1"),
        ]
        marks = {}
        started = time.perf_counter()
        for n in range(1, args.requests + 1):
            steps[n % len(steps)]()
            if n in (1_000, args.requests):
                marks[n] = rss_mib()
        elapsed = time.perf_counter() - started

    first, last = marks[1_000], marks[args.requests]
    print(f"{args.requests:,} requests in {elapsed:.0f} s")
    print(f"RSS after 1,000 requests:  {first:7.1f} MiB")
    print(
        f"RSS after {args.requests:,} requests: {last:7.1f} MiB  "
        f"({last / first:.3f}×, target ≤ 1.10)"
    )


if __name__ == "__main__":
    main()

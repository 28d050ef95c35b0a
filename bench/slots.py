"""How fast free slots are computed: one coach, six weeks, 500 busy intervals, next to /healthz.

    python -m bench.slots                     # also `make bench`
    python -m bench.slots --busy 2000 --repeat 50

Measured in one process in one run: the pure computation (booking/availability.py), the whole
slot page (/book/<token>: the link, a fixed number of queries, the computation, the template)
with the 500 busy times as booked sessions of other leads, and /healthz as the trivial
baseline. Compare the "× trivial" column between runs and machines. See bench/README.md.
"""

from __future__ import annotations

import argparse
import logging
import random
import statistics
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock
from pathlib import Path
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

LONDON = ZoneInfo("Europe/London")
NOW = datetime(2027, 3, 15, 9, 0, tzinfo=UTC)  # six weeks that include a clock change


def weekly_hours() -> dict[int, list]:
    from booking.availability import TimeRange

    return {
        d: [TimeRange(clock(9), clock(12, 30)), TimeRange(clock(13, 30), clock(17))]
        for d in range(5)
    }


def busy_times(count: int, seed: int = 1) -> list[tuple[datetime, datetime]]:
    """`count` busy intervals over the six weeks, at any hour, some overlapping."""
    rng = random.Random(seed)
    busy = []
    for _ in range(count):
        start = NOW + timedelta(
            days=rng.randrange(0, 42),
            hours=rng.randrange(0, 24),
            minutes=rng.choice((0, 15, 30, 45)),
        )
        busy.append((start, start + timedelta(minutes=rng.choice((15, 30, 45, 60, 90)))))
    return busy


def timed(run, repeat: int) -> list[float]:
    for _ in range(3):
        run()
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        run()
        times.append(time.perf_counter() - started)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--busy", type=int, default=500)
    parser.add_argument("--repeat", type=int, default=30)
    args = parser.parse_args()
    logging.disable(logging.INFO)

    from flask_migrate import upgrade

    from booking import create_app
    from booking.availability import AvailabilityRules, free_slots
    from booking.extensions import db
    from booking.links import book_url
    from booking.models import Coach, CoachingSession, Lead, SessionFormat
    from booking.settings import set_clock
    from booking.workflow.self_booking import HoursInput, save_availability

    rules = AvailabilityRules(weekly=weekly_hours(), session_minutes=60, buffer_minutes=15)
    busy = busy_times(args.busy)

    def compute() -> None:
        free_slots(
            rules, busy, window_start=NOW, window_end=NOW + timedelta(days=43), now=NOW, zone=LONDON
        )

    slots = free_slots(
        rules, busy, window_start=NOW, window_end=NOW + timedelta(days=43), now=NOW, zone=LONDON
    )

    with tempfile.TemporaryDirectory(prefix="bench-") as tmp:
        instance = Path(tmp)
        app = create_app(
            {
                "DATABASE_URL": f"sqlite:///{instance / 'bench.sqlite3'}",
                "SECRET_KEY": "bench",
                "MAIL_SERVER": "",
                "MAIL_CAPTURE_DIR": str(instance / "mail"),
                "RATELIMIT_STORAGE_URI": "memory://",
                "COACH_NOTIFY_EMAILS": [],
                "BASE_URL": "http://bench.local",
                "SELF_BOOKING": True,
            }
        )
        set_clock(app, lambda: NOW)
        with app.app_context():
            upgrade()
            coach = Coach(
                email="maya@example.org",
                name="Maya Coach",
                password_hash="x",
                active=True,
                created_at=NOW,
            )
            db.session.add(coach)
            db.session.flush()
            save_availability(
                coach,
                HoursInput(
                    60,
                    15,
                    1,
                    42,
                    SessionFormat.VIDEO,
                    "https://meet.example/maya",
                    weekly_hours(),
                    [date(2027, 4, 2)],
                    [],
                ),
                NOW,
            )
            leads = []
            # Busy times as other leaders' booked sessions: the database keeps them apart, so
            # the 500 are laid end to end (what a packed calendar looks like to the page).
            start = NOW
            for n in range(args.busy + 1):
                lead = Lead(
                    full_name=f"Leader {n}",
                    email=f"l{n}@nhs.example",
                    organisation="Trust",
                    role="Manager",
                    preferred_format=SessionFormat.VIDEO,
                    consent_at=NOW,
                    created_at=NOW,
                    updated_at=NOW,
                    assigned_coach_id=coach.id,
                )
                db.session.add(lead)
                leads.append(lead)
            db.session.flush()
            for n, lead in enumerate(leads[1:]):
                begins = start + timedelta(minutes=97 * n)
                db.session.add(
                    CoachingSession(
                        lead_id=lead.id,
                        coach_id=coach.id,
                        starts_at=begins,
                        ends_at=begins + timedelta(minutes=30),
                        format=SessionFormat.VIDEO,
                        uid=f"b{n}@bench",
                    )
                )
            db.session.commit()
            page = urlsplit(book_url(leads[0])).path
        client = app.test_client()

        def get(path: str):
            def run() -> None:
                assert client.get(path).status_code == 200, path

            return run

        results = [
            ("trivial page", "/healthz", timed(get("/healthz"), args.repeat)),
            (
                f"free slots, {args.busy} busy",
                "availability.free_slots",
                timed(compute, args.repeat),
            ),
            ("slot page", "/book/<token>", timed(get(page), args.repeat)),
        ]

    print(f"{len(slots)} free slots over six weeks for one coach with {args.busy} busy intervals\n")
    print(f"{args.repeat} runs each (after 3 warm-up), median and 95th percentile:\n")
    base = statistics.median(results[0][2])
    print(f"{'what':26} {'median ms':>10} {'p95 ms':>8} {'× trivial':>10}  path")
    for label, path, times in results:
        ordered = sorted(times)
        median = statistics.median(ordered)
        p95 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))]
        print(f"{label:26} {median * 1000:10.2f} {p95 * 1000:8.2f} {median / base:10.1f}  {path}")


if __name__ == "__main__":
    main()

"""How fast the admins' reports are with 100,000 leads and 300,000 sessions, next to /healthz.

    python -m bench.reports                   # a scratch SQLite file
    python -m bench.reports --leads 20000 --sessions 60000 --repeat 10
    python -m bench.reports --database-url postgresql+psycopg://postgres@127.0.0.1:5432/bench

The leads are bench.lead_list's (two years, 5 coaches, 40 organisations); on top: sessions
(held or cancelled, a few per lead), and self-ratings before for a third of the leads and after
for half of those. Same measuring as bench.lead_list: Flask's test client in one process, the
median as a multiple of /healthz in the same run. See bench/README.md.
"""

from __future__ import annotations

import argparse
import logging
import random
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import insert, select, text, update

from .lead_list import build_app, empty_postgres_schema, load, sign_in


def load_outcomes(app, sessions: int, seed: int = 2) -> None:
    from booking.extensions import db
    from booking.models import Coach, CoachingSession, Lead, SelfRating

    rng = random.Random(seed)
    with app.app_context():
        db.session.execute(update(Coach).values(is_admin=True))
        coach_ids = list(db.session.scalars(select(Coach.id)))
        leads = list(db.session.execute(select(Lead.id, Lead.created_at)))
        batch: list[dict] = []
        for n in range(sessions):
            lead_id, created = leads[rng.randrange(len(leads))]
            starts = created + timedelta(days=rng.randrange(1, 120), hours=rng.randrange(8, 18))
            held = rng.random() < 0.8
            batch.append(
                {
                    "lead_id": lead_id,
                    "coach_id": rng.choice(coach_ids),
                    "starts_at": starts,
                    "ends_at": starts + timedelta(hours=1),
                    "format": "video",
                    "join_detail": "",
                    "uid": f"bench-{n}@bench.local",
                    "sequence": 0,
                    "status": "held" if held else "cancelled",
                    "leader_partstat": "ACCEPTED",
                    "coach_partstat": "ACCEPTED",
                    "created_at": created,
                    "updated_at": created,
                    "cancel_reason": "",
                }
            )
            if len(batch) == 10_000:
                db.session.execute(insert(CoachingSession), batch)
                batch = []
        if batch:
            db.session.execute(insert(CoachingSession), batch)
        ratings: list[dict] = []
        for lead_id, created in leads[: len(leads) // 3]:
            after = rng.random() < 0.5
            for dimension in ("compassionate", "purpose-led", "practical"):
                before = rng.randint(1, 4)
                ratings.append(
                    {
                        "lead_id": lead_id,
                        "kind": "before",
                        "dimension": dimension,
                        "value": before,
                        "created_at": created,
                    }
                )
                if after:
                    ratings.append(
                        {
                            "lead_id": lead_id,
                            "kind": "after",
                            "dimension": dimension,
                            "value": min(5, before + rng.randint(0, 2)),
                            "created_at": created + timedelta(days=rng.randrange(60, 200)),
                        }
                    )
            if len(ratings) >= 10_000:
                db.session.execute(insert(SelfRating), ratings)
                ratings = []
        if ratings:
            db.session.execute(insert(SelfRating), ratings)
        db.session.commit()
        if db.engine.dialect.name == "postgresql":
            db.session.execute(text("ANALYZE"))
            db.session.commit()


def forget(app) -> None:
    """Drop the kept finished months, as "Recount now" does: the next page counts all 12."""
    from booking import report_store
    from booking.extensions import db

    with app.app_context():
        report_store.forget_all()
        db.session.commit()


def measure(client, path: str, repeat: int, before=None) -> list[float]:
    """As bench.lead_list's, reading the whole body (the leads CSV is streamed). `before`, if
    given, runs before each request, untimed."""
    for _ in range(2):
        response = client.get(path)
        assert response.status_code == 200, path
        response.get_data()
    times = []
    for _ in range(repeat):
        if before is not None:
            before()
        started = time.perf_counter()
        response = client.get(path)
        response.get_data()
        times.append(time.perf_counter() - started)
        assert response.status_code == 200, (path, response.status_code)
    return times


CASES = [
    ("trivial page", "/healthz"),
    # As admins meet it: the finished months kept from the day's first count (report_store).
    ("reports, every organisation", "/coach/reports"),
    ("reports, one organisation", "/coach/reports?organisation=Riverside+Hospitals"),
    ("funnel CSV", "/coach/reports/funnel.csv"),
    ("outcomes CSV", "/coach/reports/outcomes.csv"),
]
LEADS_CSV = ("leads CSV (all leads)", "/coach/reports/leads.csv")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--leads", type=int, default=100_000)
    parser.add_argument("--sessions", type=int, default=300_000)
    parser.add_argument("--repeat", type=int, default=10)
    parser.add_argument(
        "--database-url", default=None, help="default: a scratch SQLite file in a temporary folder"
    )
    args = parser.parse_args()
    logging.disable(logging.INFO)

    with tempfile.TemporaryDirectory(prefix="bench-") as tmp:
        instance = Path(tmp)
        url = args.database_url or f"sqlite:///{instance / 'bench.sqlite3'}"
        empty_postgres_schema(url)
        app = build_app(url, instance)
        started = time.perf_counter()
        load(app, args.leads)
        load_outcomes(app, args.sessions)
        print(
            f"loaded {args.leads:,} leads and {args.sessions:,} sessions into "
            f"{url.split(':')[0]} in {time.perf_counter() - started:.1f} s "
            f"(at {datetime.now(UTC):%Y-%m-%d %H:%M} UTC)"
        )
        client = app.test_client()
        sign_in(client)
        results = [(label, path, measure(client, path, args.repeat)) for label, path in CASES]
        results.append(
            (
                "reports, first count of day",
                "/coach/reports",
                measure(client, "/coach/reports", args.repeat, before=lambda: forget(app)),
            )
        )
        results.append((*LEADS_CSV, measure(client, LEADS_CSV[1], max(3, args.repeat // 5))))

    base = statistics.median(results[0][2])
    print(f"\n{args.repeat} requests each (after 3 warm-up), median and 95th percentile:\n")
    print(f"{'request':30} {'median ms':>10} {'p95 ms':>8} {'× trivial':>10}  path")
    for label, path, times in results:
        ordered = sorted(times)
        median = statistics.median(ordered)
        p95 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))]
        print(f"{label:30} {median * 1000:10.2f} {p95 * 1000:8.2f} {median / base:10.1f}  {path}")


if __name__ == "__main__":
    main()

"""How fast the coach's lead list is with 100,000 leads, next to a trivial page.

    python -m bench.lead_list                 # 100,000 leads in a scratch SQLite file
    python -m bench.lead_list --leads 20000 --repeat 50
    python -m bench.lead_list --database-url postgresql+psycopg://postgres@127.0.0.1:5432/bench

Everything runs in one process with Flask's test client (no network), so what is measured is
the app: routing, the session and sign-in check, the queries and the template. Absolute times
depend on the machine; the ratios to /healthz, measured in the same run, are what to compare
between runs and machines. See bench/README.md.
"""

from __future__ import annotations

import argparse
import logging
import random
import re
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import create_engine, insert, select, text

FIRST = [
    "Amara",
    "Ben",
    "Chloe",
    "Dev",
    "Esi",
    "Finn",
    "Grace",
    "Hamid",
    "Isla",
    "Jon",
    "Kemi",
    "Liam",
    "Maya",
    "Nia",
    "Owen",
    "Priya",
    "Quinn",
    "Rosa",
    "Sam",
    "Tariq",
]
LAST = [
    "Okafor",
    "Smith",
    "Jones",
    "Patel",
    "Nguyen",
    "Brown",
    "Khan",
    "Evans",
    "Walsh",
    "Murphy",
    "Ahmed",
    "Clarke",
    "Hughes",
    "Lewis",
    "Price",
    "Reid",
    "Shaw",
    "Turner",
    "Ward",
    "Young",
] + [f"Surname{i}" for i in range(30)]
ORGS = [
    f"{place} {kind}"
    for place in (
        "Northfield",
        "Riverside",
        "Eastgate",
        "Westmoor",
        "Southbank",
        "Highcliff",
        "Lowvale",
        "Oakridge",
    )
    for kind in ("Hospitals", "Community Trust", "Care", "Health Board", "Council")
]
DIMENSIONS = [
    "compassionate",
    "purpose-led",
    "practical",
    "compassionate,practical",
    "compassionate,purpose-led,practical",
    "not-sure",
]
STATUSES = (
    ["new"] * 3
    + ["contacted"] * 3
    + ["times-proposed", "agreed", "held", "closed", "withdrawn", "not-suitable", "no-response"]
)
PASSWORD = "benchmark password"


def empty_postgres_schema(url: str) -> None:
    """A PostgreSQL database given to a benchmark is emptied first (its `public` schema dropped
    and made again); a scratch SQLite file is new anyway."""
    if url.startswith("postgresql"):
        engine = create_engine(url)
        with engine.begin() as connection:
            connection.execute(text("DROP SCHEMA public CASCADE"))
            connection.execute(text("CREATE SCHEMA public"))
        engine.dispose()


def build_app(database_url: str, instance: Path):
    from booking import create_app

    return create_app(
        {
            "DATABASE_URL": database_url,
            "SECRET_KEY": "bench",
            "MAIL_SERVER": "",
            "MAIL_CAPTURE_DIR": str(instance / "mail"),
            "RATELIMIT_STORAGE_URI": "memory://",
            "COACH_NOTIFY_EMAILS": [],
            "BASE_URL": "http://bench.local",
        }
    )


def load(app, count: int, seed: int = 1) -> int:
    """Bulk-insert `count` leads spread over two years and 5 coaches; returns a coach id."""
    from flask_migrate import upgrade

    from booking.extensions import db
    from booking.models import Coach, Lead
    from booking.passwords import hash_password

    rng = random.Random(seed)
    with app.app_context():
        upgrade()
        if db.engine.dialect.name == "postgresql":
            db.session.execute(text("TRUNCATE lead, coach RESTART IDENTITY CASCADE"))
        now = datetime.now(UTC)
        hashed = hash_password(PASSWORD)
        coaches = [
            Coach(
                email=f"coach{i}@bench.local",
                name=f"Coach {i}",
                password_hash=hashed,
                active=True,
                created_at=now,
            )
            for i in range(5)
        ]
        db.session.add_all(coaches)
        db.session.flush()
        coach_ids = [c.id for c in coaches] + [None]
        batch: list[dict] = []
        for n in range(count):
            created = now - timedelta(seconds=rng.randrange(0, 2 * 365 * 24 * 3600))
            status = rng.choice(STATUSES)
            name = f"{rng.choice(FIRST)} {rng.choice(LAST)}"
            batch.append(
                {
                    "created_at": created,
                    "updated_at": created,
                    "consent_at": created,
                    "full_name": name,
                    "email": f"{name.lower().replace(' ', '.')}.{n}@nhs.example",
                    "phone": None,
                    "organisation": rng.choice(ORGS),
                    "role": "Ward manager",
                    "dimensions": rng.choice(DIMENSIONS),
                    "help_text": "",
                    "availability": "",
                    "preferred_format": rng.choice(["video", "phone", "in-person"]),
                    "status": status,
                    "status_reason": "",
                    "first_contacted_at": None if status == "new" else created,
                    "assigned_coach_id": rng.choice(coach_ids),
                }
            )
            if len(batch) == 10_000:
                db.session.execute(insert(Lead), batch)
                batch = []
        if batch:
            db.session.execute(insert(Lead), batch)
        book_sessions(rng, now, [c.id for c in coaches])
        db.session.commit()
        if db.engine.dialect.name == "postgresql":
            # What autovacuum would soon do: statistics for the planner, and lead_count's
            # counters (updated once per lead inserted, all in this one transaction) back to
            # a page or two.
            with db.engine.connect() as connection:
                connection.execution_options(isolation_level="AUTOCOMMIT").execute(
                    text("VACUUM ANALYZE")
                )
        return coaches[0].id


def book_sessions(rng: random.Random, now: datetime, coach_ids: list[int]) -> None:
    """A booked session for each "agreed" lead (what the next-session sort sorts by): from a
    week ago (started, not yet marked held) into the coming weeks, an hour apart per coach."""
    from booking.extensions import db
    from booking.models import CoachingSession, Lead, LeadStatus

    agreed = list(db.session.scalars(select(Lead.id).where(Lead.status == LeadStatus.AGREED)))
    rng.shuffle(agreed)
    start = now.replace(minute=0, second=0, microsecond=0) - timedelta(days=7)
    batch = []
    for n, lead_id in enumerate(agreed):
        starts = start + timedelta(hours=n // len(coach_ids))
        batch.append(
            {
                "lead_id": lead_id,
                "coach_id": coach_ids[n % len(coach_ids)],
                "starts_at": starts,
                "ends_at": starts + timedelta(hours=1),
                "format": "video",
                "join_detail": "",
                "uid": f"bench-booked-{n}@bench.local",
                "sequence": 0,
                "status": "booked",
                "leader_partstat": "ACCEPTED",
                "coach_partstat": "ACCEPTED",
                "created_at": now,
                "updated_at": now,
                "cancel_reason": "",
            }
        )
    for first in range(0, len(batch), 10_000):
        db.session.execute(insert(CoachingSession), batch[first : first + 10_000])


def sign_in(client) -> None:
    page = client.get("/coach/sign-in").get_data(as_text=True)
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page)
    assert token, "no CSRF token on the sign-in page"
    response = client.post(
        "/coach/sign-in",
        data={"csrf_token": token.group(1), "email": "coach0@bench.local", "password": PASSWORD},
    )
    assert response.status_code == 302, response.status_code


def measure(client, path: str, repeat: int) -> list[float]:
    for _ in range(3):  # warm caches, compile templates
        assert client.get(path).status_code == 200, path
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        response = client.get(path)
        times.append(time.perf_counter() - started)
        assert response.status_code == 200, (path, response.status_code)
    return times


CASES = [
    ("trivial page", "/healthz"),
    ("my open leads (default)", "/coach/leads"),
    ("all leads", "/coach/leads?status=&coach="),
    ("list, status filter", "/coach/leads?status=contacted&coach="),
    ("list, coach + dimension", "/coach/leads?coach=me&dimension=practical"),
    ("list, by last activity", "/coach/leads?status=&coach=&sort=activity"),
    ("list, by next session", "/coach/leads?status=&coach=&sort=next"),
    ("list, page 200", "/coach/leads?status=&coach=&after={deep}"),
    ("search, common name", "/coach/leads?q=smith"),
    ("search, no match", "/coach/leads?q=zzzz"),
    ("home page", "/coach/"),
]


def deep_cursor(app, depth: int) -> str:
    """The keyset cursor of the lead `depth` rows down the default order (newest first): the
    list's "page 200" is the page after it."""
    from booking.coach.queries import Cursor
    from booking.extensions import db
    from booking.models import Lead

    with app.app_context():
        row = db.session.execute(
            select(Lead.created_at, Lead.id)
            .order_by(Lead.created_at.desc(), Lead.id.desc())
            .offset(depth)
            .limit(1)
        ).one()
        return str(Cursor(row[0], row[1]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--leads", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=30)
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
        print(
            f"loaded {args.leads:,} leads into {url.split(':')[0]} "
            f"in {time.perf_counter() - started:.1f} s"
        )

        client = app.test_client()
        sign_in(client)
        # "Page 200", or with fewer leads the last full page: a page of 50 either way, so the
        # deep page compares like with like between sizes.
        deep = deep_cursor(app, max(0, min(199 * 50, args.leads - 51)))
        cases = [(label, path.format(deep=deep)) for label, path in CASES]
        results = [(label, path, measure(client, path, args.repeat)) for label, path in cases]

    base = statistics.median(results[0][2])
    print(f"\n{args.repeat} requests each (after 3 warm-up), median and 95th percentile:\n")
    print(f"{'request':26} {'median ms':>10} {'p95 ms':>8} {'× trivial':>10}  path")
    for label, path, times in results:
        ordered = sorted(times)
        median = statistics.median(ordered)
        p95 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))]
        print(f"{label:26} {median * 1000:10.2f} {p95 * 1000:8.2f} {median / base:10.1f}  {path}")


if __name__ == "__main__":
    main()

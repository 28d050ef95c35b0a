"""Helpers shared by the coach-area tests: coaches, leads, signing in, CSRF tokens."""

from __future__ import annotations

import re
from datetime import date, datetime, time
from functools import lru_cache
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import event

from booking.extensions import db
from booking.models import Coach, CoachingSession, Dimension, Lead, SessionFormat
from booking.passwords import PasswordHashing, hash_password
from booking.settings import current_settings
from booking.workflow import Registration, register_interest
from booking.workflow.scheduling import Slot, record_agreed_time

PASSWORD = "correct horse battery staple"
# Cheap Argon2id parameters, the same as the ARGON2_* settings in conftest.base_config.
# Production keeps argon2-cffi's defaults (~0.15 s a hash); the code paths are the same.
FAST_HASHING = PasswordHashing(time_cost=1, memory_cost=1024, parallelism=1)
CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


@lru_cache
def _hash(password: str) -> str:
    # Argon2 is slow on purpose (~0.15 s); tests reuse one hash per password.
    return hash_password(password, FAST_HASHING)


def add_coach(
    email: str = "maya@example.org",
    name: str = "Maya Coach",
    password: str = PASSWORD,
    *,
    now: datetime,
) -> Coach:
    """A coach row as `flask coach add` makes it (create_coach itself is tested on its own)."""
    coach = Coach(
        email=email, name=name, password_hash=_hash(password), active=True, created_at=now
    )
    db.session.add(coach)
    db.session.commit()
    return coach


def add_lead(now: datetime, n: int = 1, **overrides: Any) -> Lead:
    values: dict[str, Any] = dict(
        full_name=f"Leader {n}",
        email=f"leader{n}@nhs.example",
        organisation="Riverside Hospitals",
        role="Ward manager",
        preferred_format=SessionFormat.VIDEO,
        dimensions=[Dimension.COMPASSIONATE],
        consent=True,
    )
    values.update(overrides)
    lead = register_interest(
        Registration(**values),
        form_token=f"form-{n}-{values['email']}"[:64],  # the receipt column holds 64
        now=now,
        settings=current_settings(),
    ).lead
    db.session.commit()
    return lead


def slot(
    day: date,
    hh: int,
    mm: int = 0,
    minutes: int = 60,
    format: SessionFormat = SessionFormat.VIDEO,
    detail: str = "https://meet.example/abc",
) -> Slot:
    return Slot(day=day, start=time(hh, mm), format=format, detail=detail, duration_minutes=minutes)


def csrf_token(client: FlaskClient, path: str = "/coach/sign-in") -> str:
    page = client.get(path).get_data(as_text=True)
    match = CSRF.search(page)
    assert match, f"no CSRF token on {path}"
    return match.group(1)


def sign_in(client: FlaskClient, email: str = "maya@example.org", password: str = PASSWORD):
    token = csrf_token(client)
    return client.post(
        "/coach/sign-in", data={"csrf_token": token, "email": email, "password": password}
    )


def post(client: FlaskClient, path: str, data: dict[str, Any], page: str = "/coach/"):
    """Post a coach form with a CSRF token taken from a page, as a browser would."""
    return client.post(path, data={"csrf_token": csrf_token(client, page), **data})


def count_statements(app: Flask, client: FlaskClient, path: str) -> int:
    """How many SQL statements one GET of `path` runs (to catch N+1 queries)."""
    seen: list[str] = []
    with app.app_context():
        engine = db.engine

    def count(*args: Any) -> None:
        seen.append(args[2])

    event.listen(engine, "before_cursor_execute", count)
    try:
        assert client.get(path).status_code == 200
    finally:
        event.remove(engine, "before_cursor_execute", count)
    return len(seen)


def needs_sign_in(path: str) -> bool:
    """A coach-area page behind sign-in: all but signing in and the password links' pages."""
    open_pages = ("/coach/sign-in", "/coach/password-reset", "/coach/set-password")
    return path.startswith("/coach/") and not path.startswith(open_pages)


def give_profile(coach: Coach, *, now: datetime, bio: str | None = None) -> None:
    """A full profile as leaders see it: a shown name, a bio and a real photo."""
    from io import BytesIO

    from PIL import Image

    from booking.photos import prepare_photo
    from booking.workflow.coaches import update_profile

    picture = BytesIO()
    Image.new("RGB", (400, 300), (36, 129, 138)).save(picture, "JPEG")
    update_profile(
        coach,
        shown_name=f"Dr {coach.name}",
        bio=bio
        or "Twenty years as an NHS ward manager, now a coach.\nI work with leaders on "
        "compassion, purpose and the practical steps in between.",
        photo=prepare_photo(picture.getvalue()),
        remove_photo=False,
        now=now,
    )
    db.session.commit()


def agree_by_phone(
    lead_id: int, coach_id: int, start: datetime, *, now: datetime
) -> CoachingSession:
    """A one-hour video session the coach records as agreed by phone, committed."""
    lead = db.session.get(Lead, lead_id)
    assert lead is not None
    session = record_agreed_time(
        lead,
        db.session.get(Coach, coach_id),
        start,
        60,
        SessionFormat.VIDEO,
        "https://meet.example/m",
        now,
        settings=current_settings(),
    )
    db.session.commit()
    return session

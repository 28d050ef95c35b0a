"""What the one request that matters most costs: SQL statements per registration and the weight
of the registration page (that it works with JavaScript off: test_browser_registration.py).

Budgets, not timings: a statement count or a byte count is the same on a busy machine and an
idle one (speed itself is measured in bench/registration.py, as ratios).
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import event, func, select, text
from sqlalchemy.exc import IntegrityError

from booking.database import insert_together
from booking.extensions import db
from booking.kinds import EventKind
from booking.models import FormReceipt, Lead, LeadEvent
from booking.workflow import registration
from booking.workflow.common import new_lead_event_rows

from .coach_helpers import add_coach
from .conftest import count_rows, hidden_fields, submit_registration, valid_registration

# One read (a replay? an open request with this address already?), then the coach next in turn
# (UPDATE … RETURNING), the lead (INSERT … RETURNING), then its form receipt, its history events
# and its two outbox rows (plain rows, not ORM objects): on PostgreSQL in one statement (the
# first two INSERTs as CTEs of the third), on SQLite one INSERT each, after its BEGIN IMMEDIATE.
REGISTRATION_STATEMENTS = {"postgresql": 4, "sqlite": 7}
PAGE_BYTES = 50 * 1024
PAGE_REQUESTS = 5


def _statements(app: Flask, send: Any) -> list[str]:
    seen: list[str] = []
    with app.app_context():
        engine = db.engine

    def count(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        seen.append(statement)

    event.listen(engine, "before_cursor_execute", count)
    try:
        send()
    finally:
        event.remove(engine, "before_cursor_execute", count)
    return seen


def _register(client: FlaskClient, email: str) -> int:
    fields = hidden_fields(client.get("/").get_data(as_text=True))
    return client.post("/", data={**fields, **valid_registration(email=email)}).status_code


def test_a_registration_runs_a_bounded_number_of_statements(app, client, now):
    with app.app_context():
        add_coach(now=now)  # round-robin assignment takes part
    assert _register(client, "first@nhs.example") == 302  # warm: first use of each query
    page = client.get("/")
    fields = hidden_fields(page.get_data(as_text=True))
    data = {**fields, **valid_registration(email="second@nhs.example")}

    statements = _statements(app, lambda: client.post("/", data=data))

    assert count_rows(app, Lead) == 2
    writes = [s for s in statements if s.lstrip().upper().startswith(("INSERT", "UPDATE"))]
    with app.app_context():
        dialect = db.engine.dialect.name
    assert len(statements) <= REGISTRATION_STATEMENTS[dialect], "\n".join(statements)
    assert len(writes) <= 5, "\n".join(writes)


def test_the_open_lead_look_up_reads_an_index_not_every_lead(app, client, now):
    """Whether an open lead has this address (in any case) is answered from ix_lead_email_lower:
    a registration costs the same at 100 leads as at 100,000."""
    assert _register(client, "first@nhs.example") == 302
    # The registration's own statement, as the database plans it.
    statement = registration._EARLIER.params(token="t", email="first@nhs.example")
    with app.app_context():
        sql = statement.compile(db.engine, compile_kwargs={"literal_binds": True})
        sqlite = db.engine.dialect.name == "sqlite"
        if not sqlite:
            db.session.execute(text("SET LOCAL enable_seqscan = off"))  # a tiny table
        explain = ("EXPLAIN QUERY PLAN " if sqlite else "EXPLAIN ") + str(sql)
        plan = "\n".join(str(row) for row in db.session.execute(text(explain)))
        db.session.rollback()
    assert "ix_lead_email_lower" in plan, plan


def test_the_form_page_reads_nothing_but_a_health_check(app, client):
    statements = _statements(app, lambda: client.get("/"))
    assert len(statements) <= 1, statements


def test_the_registration_page_is_light(client):
    """≤ 50 KB over the wire in ≤ 5 requests: the page and everything it links to load."""
    page = client.get("/")
    html = page.get_data(as_text=True)
    assets = re.findall(r'<(?:link[^>]+href|script[^>]+src|img[^>]+src)="(/[^"]+)"', html)
    total = len(page.get_data())
    for asset in assets:
        with client.get(asset) as response:
            response.direct_passthrough = False
            assert response.status_code == 200, asset
            total += len(response.get_data())
    assert 1 + len(assets) <= PAGE_REQUESTS, assets
    assert total <= PAGE_BYTES, total


def test_rows_inserted_together_land_whole_or_not_at_all(app, client, now):
    """`insert_together`, as the registration uses it (one statement on PostgreSQL, one per table
    on SQLite): every row lands, and when one is refused nothing of the call is kept."""
    assert submit_registration(client).status_code == 302
    receipts, events = FormReceipt.__table__, LeadEvent.__table__
    with app.app_context():
        lead_id = db.session.scalar(select(Lead.id))

        def together(token: str) -> None:
            happened = [(EventKind.NOTE, "one", "Maya"), (EventKind.NOTE, "two", "")]
            insert_together(
                db.session,
                [
                    (receipts, [{"token": token, "lead_id": lead_id, "created_at": now}]),
                    (events, new_lead_event_rows(lead_id, happened, now=now)),
                ],
            )

        def counted() -> tuple[int, int]:
            return (
                db.session.scalar(select(func.count()).select_from(FormReceipt)) or 0,
                db.session.scalar(select(func.count()).where(LeadEvent.summary.in_(["one", "two"])))
                or 0,
            )

        together("kept-token")
        db.session.commit()
        assert counted() == (2, 2)  # the registration's own receipt, and this one
        with pytest.raises(IntegrityError):
            together("kept-token")  # the same receipt again: refused
        db.session.rollback()
        assert counted() == (2, 2)


def test_the_form_page_served_from_its_cache_is_the_page_rendered_afresh(app, client):
    """The blank form is rendered once per process and served with each visitor's own tokens:
    what a visitor gets must be exactly the template's output with those tokens."""
    from booking.links import read_token
    from booking.public.views import render_blank_form

    first, second = (client.get("/").get_data(as_text=True) for _ in range(2))
    tokens = [hidden_fields(page) for page in (first, second)]
    assert tokens[0]["csrf_token"] and tokens[0]["form_token"]
    assert tokens[0]["form_token"] != tokens[1]["form_token"]
    for page, fields in zip((first, second), tokens, strict=True):
        with app.test_request_context("/"):
            afresh = render_blank_form(fields["csrf_token"], fields["form_token"])
            assert read_token("register-form", fields["form_token"])["n"]
        assert page == afresh
        assert "tokenslot" not in page  # the stand-ins were replaced

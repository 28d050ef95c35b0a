"""The schema comes only from the migrations: they must match the models exactly."""

from __future__ import annotations

import warnings
from datetime import timedelta

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from flask_migrate import Migrate
from sqlalchemy.exc import SAWarning

from booking.database import belongs_on
from booking.extensions import db

from .conftest import USING_POSTGRES


def _differences(app) -> list:
    with app.app_context(), db.engine.connect() as connection, warnings.catch_warnings():
        # SQLAlchemy cannot read an index on an expression back from SQLite (it says so, and
        # leaves it out); PostgreSQL's run compares those too.
        warnings.filterwarnings(
            "ignore", "Skipped unsupported reflection of expression-based index", SAWarning
        )
        warnings.filterwarnings("ignore", "autogenerate skipping metadata-specified expression")
        context = MigrationContext.configure(
            connection,
            opts={
                "compare_type": True,
                "include_object": belongs_on(connection.dialect.name),
            },
        )
        return list(compare_metadata(context, db.metadata))


def test_migrated_database_matches_the_models(app):
    assert _differences(app) == []


def test_there_is_one_head_and_the_database_is_at_it(app):
    migrate: Migrate = app.extensions["migrate"].migrate
    with app.app_context():
        script = ScriptDirectory.from_config(migrate.get_config())
        heads = script.get_heads()
        with db.engine.connect() as connection:
            current = MigrationContext.configure(connection).get_current_heads()
    assert len(heads) == 1
    assert tuple(current) == tuple(heads)


def test_a_model_change_without_a_migration_is_noticed(app):
    """The check above can fail: a column added to the models only shows up as a difference."""
    from sqlalchemy import Column, String

    table = db.metadata.tables["note"]
    column = Column("drift_probe", String(10))
    table.append_column(column)
    try:
        assert any("drift_probe" in str(diff) for diff in _differences(app))
    finally:
        table._columns.remove(column)


def _exclusion_constraints(connection, schema: str) -> dict[str, str]:
    from sqlalchemy import text

    rows = connection.execute(
        text(
            "select c.conname, pg_get_constraintdef(c.oid) from pg_constraint c "
            "join pg_namespace n on n.oid = c.connamespace "
            "where c.contype = 'x' and n.nspname = :schema"
        ),
        {"schema": schema},
    )
    return dict(rows.all())


@pytest.mark.postgres
def test_exclusion_constraints_match_the_models_on_postgresql(app):
    """Alembic's comparison does not look at EXCLUDE constraints, so compare them here: build
    each model's constraint on a scratch copy of its table and ask PostgreSQL for both
    definitions in its own words (rolled back, nothing is left behind)."""
    from sqlalchemy import text
    from sqlalchemy.dialects.postgresql import ExcludeConstraint
    from sqlalchemy.schema import AddConstraint

    if not USING_POSTGRES:
        pytest.skip("exclusion constraints exist on PostgreSQL only")
    declared = [
        (table, constraint)
        for table in db.metadata.tables.values()
        for constraint in table.constraints
        if isinstance(constraint, ExcludeConstraint)
    ]
    assert declared, "the models declare the no-overlap constraint"
    with app.app_context(), db.engine.connect() as connection:
        with connection.begin() as transaction:
            connection.execute(text("create schema drift_probe"))
            for table, constraint in declared:
                connection.execute(
                    text(f"create table drift_probe.{table.name} (like public.{table.name})")
                )
                probe = connection.execution_options(schema_translate_map={None: "drift_probe"})
                probe.execute(AddConstraint(constraint))
            expected = _exclusion_constraints(connection, "drift_probe")
            actual = _exclusion_constraints(connection, "public")
            transaction.rollback()
    assert actual == expected


def test_open_requests_for_a_new_time_are_carried_over_from_the_history(app, now):
    """0007 moves "the leader asked for a new time" from the event log into columns: a request
    still open at upgrade time stays open, an answered one stays answered."""
    import json

    from flask_migrate import downgrade, upgrade
    from sqlalchemy import select, text

    from booking.models import CoachingSession, LeadEvent
    from booking.workflow.scheduling import open_new_time_request

    from .test_leader_changes import booked

    with app.app_context():
        _, asked = booked(now, days=3, n=1)
        _, answered = booked(now, days=4, n=2, coach=asked.coach)
        _, reopened = booked(now, days=5, n=3, coach=asked.coach)
        ids = asked.id, answered.id, reopened.id
        db.session.commit()
        db.session.remove()
        downgrade(revision="0006")  # to just before 0007
        try:
            with db.engine.begin() as connection:
                found = connection.execute(text("select id, lead_id from coaching_session"))
                lead_of = {row[0]: row[1] for row in found}

                def event(session_id: int, kind: str, minutes: int, **detail: object) -> None:
                    connection.execute(
                        text(
                            "insert into lead_event (lead_id, at, actor_label, kind, summary, "
                            "detail_json) values (:lead, :at, 'x', :kind, 's', :detail)"
                        ),
                        {
                            "lead": lead_of[session_id],
                            "at": (now + timedelta(minutes=minutes)).replace(tzinfo=None)
                            if db.engine.dialect.name == "sqlite"
                            else now + timedelta(minutes=minutes),
                            "kind": kind,
                            "detail": json.dumps({"session_id": session_id, **detail}),
                        },
                    )

                event(ids[0], "new-time-requested", 1, reason="Tuesdays")
                event(ids[1], "new-time-requested", 1, reason="Later")
                event(ids[1], "move-proposed", 2)
                event(ids[2], "new-time-requested", 1, reason="Early")
                event(ids[2], "move-proposed", 2)
                event(ids[2], "move-none-suit", 3, reason="Only Fridays")
        finally:
            upgrade()

        sessions = {
            s.id: s
            for s in db.session.scalars(select(CoachingSession).order_by(CoachingSession.id))
        }
        first = open_new_time_request(sessions[ids[0]])
        assert first is not None and first.note == "Tuesdays"
        assert first.at == now + timedelta(minutes=1)
        assert open_new_time_request(sessions[ids[1]]) is None
        third = open_new_time_request(sessions[ids[2]])
        assert third is not None and third.note == "Only Fridays"
        assert db.session.scalar(select(LeadEvent).limit(1)) is not None

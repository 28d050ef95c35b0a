"""The schema comes only from the migrations: they must match the models exactly."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from flask_migrate import Migrate

from booking.database import belongs_on
from booking.extensions import db


def _differences(app) -> list:
    with app.app_context(), db.engine.connect() as connection:
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

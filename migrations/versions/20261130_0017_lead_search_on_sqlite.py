"""lead_search: an FTS5 trigram index of the lead search columns, on SQLite only

The coach's search is a case-insensitive substring match over name, email and organisation.
PostgreSQL answers it from trigram indexes (0002); SQLite had to scan every lead. An FTS5 table
with the trigram tokenizer (SQLite 3.34+) answers substring matches of 3 or more characters
from an index. It holds no copy of the text (external content: the lead table), and triggers
keep it in step with every insert, change (an erasure included) and delete.

Careful: a later migration that rebuilds the lead table on SQLite (`batch_alter_table`) drops
these triggers with the old table. Add columns with `op.add_column` instead, or create the
triggers again (`create_triggers` below).

Revision ID: 0017
Revises: 0009
Create Date: 2026-11-30 18:55:00

"""

from alembic import op

# revision identifiers, used by Alembic.
revision = "0017"
down_revision = "0009"
branch_labels = None
depends_on = None

COLUMNS = "full_name, email, organisation"
OLD = "old.full_name, old.email, old.organisation"
NEW = "new.full_name, new.email, new.organisation"


def create_triggers():
    op.execute(
        f"""CREATE TRIGGER lead_search_insert AFTER INSERT ON lead BEGIN
            INSERT INTO lead_search (rowid, {COLUMNS}) VALUES (new.id, {NEW});
        END"""
    )
    op.execute(
        f"""CREATE TRIGGER lead_search_delete AFTER DELETE ON lead BEGIN
            INSERT INTO lead_search (lead_search, rowid, {COLUMNS})
            VALUES ('delete', old.id, {OLD});
        END"""
    )
    op.execute(
        f"""CREATE TRIGGER lead_search_update AFTER UPDATE OF {COLUMNS} ON lead BEGIN
            INSERT INTO lead_search (lead_search, rowid, {COLUMNS})
            VALUES ('delete', old.id, {OLD});
            INSERT INTO lead_search (rowid, {COLUMNS}) VALUES (new.id, {NEW});
        END"""
    )


def upgrade():
    if op.get_bind().dialect.name != "sqlite":
        return
    op.execute(
        f"""CREATE VIRTUAL TABLE lead_search USING fts5(
            {COLUMNS}, content='lead', content_rowid='id', tokenize='trigram'
        )"""
    )
    op.execute("INSERT INTO lead_search (lead_search) VALUES ('rebuild')")
    create_triggers()


def downgrade():
    if op.get_bind().dialect.name != "sqlite":
        return
    for trigger in ("insert", "delete", "update"):
        op.execute(f"DROP TRIGGER lead_search_{trigger}")
    op.execute("DROP TABLE lead_search")

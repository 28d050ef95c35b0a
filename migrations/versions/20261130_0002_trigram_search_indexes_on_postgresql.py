"""Trigram indexes for the coach's lead search, on PostgreSQL only.

The search is a case-insensitive substring match (ILIKE '%q%') over name, email and organisation.
Without these, PostgreSQL reads every lead (about 200 ms at 100,000 leads). pg_trgm is a trusted
extension (PostgreSQL 13+): the database owner can create it without being a superuser.
SQLite has no equivalent; its search stays a scan (fast enough at this size, see bench/).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-30 08:46:12.163183

"""

from alembic import op

# revision identifiers, used by Alembic.
revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

COLUMNS = ("full_name", "email", "organisation")


def upgrade():
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    for column in COLUMNS:
        op.create_index(
            f"ix_lead_{column}_trgm",
            "lead",
            [column],
            postgresql_using="gin",
            postgresql_ops={column: "gin_trgm_ops"},
        )


def downgrade():
    if op.get_bind().dialect.name != "postgresql":
        return
    for column in COLUMNS:
        op.drop_index(f"ix_lead_{column}_trgm", table_name="lead")

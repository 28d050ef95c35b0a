"""No coach booked at overlapping times, enforced by PostgreSQL.

The workflow's clash check runs before the write; on PostgreSQL two transactions can both pass
it before either commits (SQLite serialises writers, so there it cannot happen). An exclusion
constraint on (coach, booked time range) makes the database refuse the second. It needs
btree_gist (for `coach_id WITH =` in a GiST index), a trusted extension since PostgreSQL 13: the
database owner can create it without being a superuser. Nothing on SQLite.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-30 15:20:00

"""

from alembic import op

# revision identifiers, used by Alembic.
revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

NAME = "ex_coaching_session_coach_overlap"


def upgrade():
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("CREATE EXTENSION IF NOT EXISTS btree_gist")
    # Fails (and says which rows) if overlapping booked sessions already exist: resolve those
    # by hand first, the constraint cannot be added over them.
    op.execute(
        f"ALTER TABLE coaching_session ADD CONSTRAINT {NAME} "
        "EXCLUDE USING gist (coach_id WITH =, tstzrange(starts_at, ends_at, '[)') WITH &&) "
        "WHERE (status = 'booked')"
    )


def downgrade():
    if op.get_bind().dialect.name != "postgresql":
        return
    op.drop_constraint(NAME, "coaching_session")

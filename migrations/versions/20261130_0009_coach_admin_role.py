"""coach.is_admin: admins manage coach accounts and see the reports

Revision ID: 0009
Revises: 0007
Create Date: 2026-11-30 18:30:00

"""

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "0009"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade():
    # A plain ADD COLUMN (no batch copy): SQLite would otherwise rebuild the coach table, which
    # every lead and session refers to.
    op.add_column(
        "coach", sa.Column("is_admin", sa.Boolean(), server_default=sa.false(), nullable=False)
    )


def downgrade():
    op.drop_column("coach", "is_admin")

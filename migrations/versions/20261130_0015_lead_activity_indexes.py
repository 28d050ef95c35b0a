"""lead.updated_at indexes: the coach's lead list sorted by last activity stays flat

Revision ID: 0015
Revises: 0009
Create Date: 2026-11-30 19:00:00

"""

from alembic import op


# revision identifiers, used by Alembic.
revision = "0015"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade():
    op.create_index("ix_lead_updated_at", "lead", ["updated_at"], unique=False)
    op.create_index(
        "ix_lead_coach_updated", "lead", ["assigned_coach_id", "updated_at"], unique=False
    )


def downgrade():
    op.drop_index("ix_lead_coach_updated", table_name="lead")
    op.drop_index("ix_lead_updated_at", table_name="lead")

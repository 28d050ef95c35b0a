"""ix_lead_email_lower: a registration's look-up of an open lead with the same address (in any
case) reads the index, not every lead

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-01 03:30:00

"""

from alembic import op
import sqlalchemy as sa

# revision identifiers, used by Alembic.
revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None


def upgrade():
    op.create_index("ix_lead_email_lower", "lead", [sa.text("lower(email)")])


def downgrade():
    op.drop_index("ix_lead_email_lower", table_name="lead")

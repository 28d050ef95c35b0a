"""lead.erased_at: when a lead's personal data was erased (the row stays for the counts)

Revision ID: 0008
Revises: 0005
Create Date: 2026-11-30 15:10:00

"""

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "0008"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("lead", schema=None) as batch_op:
        batch_op.add_column(sa.Column("erased_at", sa.DateTime(timezone=True), nullable=True))


def downgrade():
    with op.batch_alter_table("lead", schema=None) as batch_op:
        batch_op.drop_column("erased_at")

"""outbox_message.compose_at_send: a registration's emails are written by the outbox worker

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-01 04:00:00

"""

from alembic import op
import sqlalchemy as sa

# revision identifiers, used by Alembic.
revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None


def upgrade():
    # A new column with a server default: safe while the previous release serves. Its outbox
    # workers would send such a row's empty body, so workers move to a release before the web
    # instances do (README, "Zero-downtime deploys").
    with op.batch_alter_table("outbox_message") as batch_op:
        batch_op.add_column(
            sa.Column("compose_at_send", sa.Boolean(), server_default=sa.false(), nullable=False)
        )


def downgrade():
    with op.batch_alter_table("outbox_message") as batch_op:
        batch_op.drop_column("compose_at_send")

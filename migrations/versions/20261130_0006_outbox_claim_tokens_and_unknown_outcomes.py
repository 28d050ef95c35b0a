"""outbox: claim tokens (fencing) and the "outcome unknown" status

Revision ID: 0006
Revises: 0004
Create Date: 2026-11-30 15:30:00

"""

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "0006"
down_revision = "0008"
branch_labels = None
depends_on = None

OLD_STATUSES = ("pending", "sending", "sent", "failed", "cancelled")
NEW_STATUSES = (*OLD_STATUSES, "unknown")


def _set_statuses(values: tuple[str, ...]) -> None:
    # The status column is a VARCHAR with a CHECK constraint (ck_outbox_message_outboxstatus):
    # widening the set means replacing the constraint. Batch mode rebuilds the table on SQLite.
    allowed = ", ".join(f"'{value}'" for value in values)
    with op.batch_alter_table("outbox_message", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_outbox_message_outboxstatus"), type_="check")
        batch_op.create_check_constraint("outboxstatus", sa.text(f"status IN ({allowed})"))


def upgrade():
    with op.batch_alter_table("outbox_message", schema=None) as batch_op:
        batch_op.add_column(sa.Column("claim_token", sa.String(length=32), nullable=True))
        batch_op.add_column(
            sa.Column("unknown_outcomes", sa.Integer(), server_default="0", nullable=False)
        )
    _set_statuses(NEW_STATUSES)


def downgrade():
    # A message whose outcome is unknown may have arrived: it is not sent again after a downgrade.
    op.execute("UPDATE outbox_message SET status = 'failed' WHERE status = 'unknown'")
    _set_statuses(OLD_STATUSES)
    with op.batch_alter_table("outbox_message", schema=None) as batch_op:
        batch_op.drop_column("unknown_outcomes")
        batch_op.drop_column("claim_token")

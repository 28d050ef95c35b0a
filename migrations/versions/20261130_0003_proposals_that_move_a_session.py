"""Proposals that move a session: new times for a booked session the leader asked to move.

A proposal with `moves_session_id` set offers new times for that booked session; the leader's
pick reschedules it (same calendar UID, higher SEQUENCE) instead of booking a second session.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-30 08:53:24.489394

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("proposal", schema=None) as batch_op:
        batch_op.add_column(sa.Column("moves_session_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_proposal_moves_session_id_coaching_session"),
            "coaching_session",
            ["moves_session_id"],
            ["id"],
            ondelete="CASCADE",
        )


def downgrade():
    with op.batch_alter_table("proposal", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_proposal_moves_session_id_coaching_session"), type_="foreignkey"
        )
        batch_op.drop_column("moves_session_id")

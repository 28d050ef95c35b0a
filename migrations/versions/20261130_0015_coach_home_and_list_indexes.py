"""Indexes for the coach's home page and lead list: lead.updated_at (sorting by last activity),
(assigned_coach_id, status) (the status filter's counts for one coach), coaching_session
(status, starts_at) and proposal.status (what needs the coach)

Revision ID: 0015
Revises: 0011
Create Date: 2026-11-30 19:00:00

"""

from alembic import op


# revision identifiers, used by Alembic.
revision = "0015"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade():
    op.create_index("ix_lead_updated_at", "lead", ["updated_at"], unique=False)
    op.create_index(
        "ix_lead_coach_updated", "lead", ["assigned_coach_id", "updated_at"], unique=False
    )
    op.create_index("ix_lead_coach_status", "lead", ["assigned_coach_id", "status"], unique=False)
    # Covering (coach and lead too): the reports' sessions per coach read no table rows.
    op.create_index(
        "ix_coaching_session_status_start",
        "coaching_session",
        ["status", "starts_at", "coach_id", "lead_id"],
        unique=False,
    )
    op.create_index("ix_proposal_status", "proposal", ["status"], unique=False)


def downgrade():
    op.drop_index("ix_proposal_status", table_name="proposal")
    op.drop_index("ix_coaching_session_status_start", table_name="coaching_session")
    op.drop_index("ix_lead_coach_status", table_name="lead")
    op.drop_index("ix_lead_coach_updated", table_name="lead")
    op.drop_index("ix_lead_updated_at", table_name="lead")

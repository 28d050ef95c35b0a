"""report_snapshot: the reports' figures for finished months, so a page counts only this month;
an index for the outcomes report's months

Revision ID: 0019
Revises: 0018
Create Date: 2026-11-30 23:10:00

"""

from alembic import op
import sqlalchemy as sa

# revision identifiers, used by Alembic.
revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "report_snapshot",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("organisation", sa.String(length=200), nullable=False),
        sa.Column("table_key", sa.String(length=40), nullable=False),
        sa.Column("first_month", sa.String(length=7), nullable=False),
        sa.Column("last_month", sa.String(length=7), nullable=False),
        sa.Column("computed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("rows_json", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_report_snapshot")),
        sa.UniqueConstraint(
            "organisation", "table_key", name=op.f("uq_report_snapshot_organisation")
        ),
    )
    # The outcomes report reads the follow-up answers of a range of months.
    op.create_index("ix_self_rating_kind_created", "self_rating", ["kind", "created_at"])


def downgrade():
    op.drop_index("ix_self_rating_kind_created", table_name="self_rating")
    op.drop_table("report_snapshot")

"""coach_availability and coach_hours: when each coach can be booked (local wall-clock times)

Revision ID: 0012
Revises: 0013
Create Date: 2026-11-30 19:20:00

"""

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "0012"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "coach_availability",
        sa.Column("coach_id", sa.Integer(), nullable=False),
        sa.Column("session_minutes", sa.Integer(), nullable=False),
        sa.Column("buffer_minutes", sa.Integer(), nullable=False),
        sa.Column("notice_working_days", sa.Integer(), nullable=False),
        sa.Column("horizon_days", sa.Integer(), nullable=False),
        sa.Column(
            "format",
            sa.Enum(
                "video",
                "phone",
                "in-person",
                name="sessionformat",
                native_enum=False,
                create_constraint=True,
                length=24,
            ),
            nullable=False,
        ),
        sa.Column("join_detail", sa.String(length=500), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["coach_id"],
            ["coach.id"],
            name=op.f("fk_coach_availability_coach_id_coach"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("coach_id", name=op.f("pk_coach_availability")),
    )
    op.create_table(
        "coach_hours",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("coach_id", sa.Integer(), nullable=False),
        sa.Column("weekday", sa.Integer(), nullable=True),
        sa.Column("day", sa.Date(), nullable=True),
        sa.Column("starts", sa.Time(), nullable=True),
        sa.Column("ends", sa.Time(), nullable=True),
        sa.CheckConstraint(
            "(weekday IS NOT NULL AND day IS NULL AND starts IS NOT NULL AND ends IS NOT NULL)"
            " OR (weekday IS NULL AND day IS NOT NULL"
            " AND ((starts IS NULL AND ends IS NULL) OR (starts IS NOT NULL AND ends IS NOT NULL)))",
            name=op.f("ck_coach_hours_kind"),
        ),
        sa.ForeignKeyConstraint(
            ["coach_id"],
            ["coach.id"],
            name=op.f("fk_coach_hours_coach_id_coach"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_coach_hours")),
    )
    op.create_index(op.f("ix_coach_hours_coach_id"), "coach_hours", ["coach_id"], unique=False)


def downgrade():
    op.drop_index(op.f("ix_coach_hours_coach_id"), table_name="coach_hours")
    op.drop_table("coach_hours")
    op.drop_table("coach_availability")

"""Coaches' own calendars (CalDAV or an iCalendar feed), their busy times, the session feed

Revision ID: 0013
Revises: 0014
Create Date: 2026-11-30 19:10:00

"""

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "0013"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade():
    # A plain ADD COLUMN: SQLite would otherwise rebuild the coach table others refer to.
    op.add_column(
        "coach",
        sa.Column("session_feed_version", sa.Integer(), server_default="1", nullable=False),
    )
    op.create_table(
        "coach_calendar",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("coach_id", sa.Integer(), nullable=False),
        sa.Column(
            "kind",
            sa.Enum(
                "caldav",
                "feed",
                name="calendar_kind",
                native_enum=False,
                length=24,
                create_constraint=True,
            ),
            nullable=False,
        ),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("url_encrypted", sa.Text(), nullable=False),
        sa.Column("username", sa.String(length=254), nullable=False),
        sa.Column("password_encrypted", sa.Text(), nullable=False),
        sa.Column("add_sessions", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_success_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("failing_since", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["coach_id"], ["coach.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_coach_calendar_coach_id", "coach_calendar", ["coach_id"])
    op.create_table(
        "calendar_busy_time",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("coach_id", sa.Integer(), nullable=False),
        sa.Column("calendar_id", sa.Integer(), nullable=False),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["coach_id"], ["coach.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["calendar_id"], ["coach_calendar.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "ix_calendar_busy_time_coach_start", "calendar_busy_time", ["coach_id", "starts_at"]
    )
    op.create_index("ix_calendar_busy_time_calendar_id", "calendar_busy_time", ["calendar_id"])
    op.create_table(
        "calendar_write",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("calendar_id", sa.Integer(), nullable=False),
        sa.Column("session_id", sa.Integer(), nullable=True),
        sa.Column("uid", sa.String(length=120), nullable=False),
        sa.Column("action", sa.String(length=10), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("done_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["calendar_id"], ["coach_calendar.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["session_id"], ["coaching_session.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_calendar_write_status_due", "calendar_write", ["status", "due_at"])
    op.create_index("ix_calendar_write_calendar_id", "calendar_write", ["calendar_id"])
    op.create_index("ix_calendar_write_session_id", "calendar_write", ["session_id"])


def downgrade():
    op.drop_table("calendar_write")
    op.drop_table("calendar_busy_time")
    op.drop_table("coach_calendar")
    op.drop_column("coach", "session_feed_version")

"""Outcomes: self-ratings before and after, session notes, follow-ups, report indexes

A journey of several sessions per lead needs nothing new in coaching_session (only one *booked*
session per lead was ever enforced); it gets an index by lead and status, and one by status and
start for the reports. Self-ratings are rows (lead, before/after, dimension, value) so reports
average them in SQL.

Revision ID: 0014
Revises: 0010
Create Date: 2026-11-30 19:00:00

"""

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "0014"
down_revision = "0010"
branch_labels = None
depends_on = None

DIMENSIONS = ("compassionate", "purpose-led", "practical", "not-sure")


def upgrade():
    op.create_table(
        "self_rating",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("lead_id", sa.Integer(), nullable=False),
        sa.Column("session_id", sa.Integer(), nullable=True),
        sa.Column(
            "kind",
            sa.Enum(
                "before",
                "after",
                name="ratingkind",
                native_enum=False,
                length=24,
                create_constraint=True,
            ),
            nullable=False,
        ),
        sa.Column(
            "dimension",
            sa.Enum(
                *DIMENSIONS,
                name="rating_dimension",
                native_enum=False,
                length=24,
                create_constraint=True,
            ),
            nullable=False,
        ),
        sa.Column("value", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["lead_id"], ["lead.id"], name=op.f("fk_self_rating_lead_id_lead"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["coaching_session.id"],
            name=op.f("fk_self_rating_session_id_coaching_session"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_self_rating")),
        sa.UniqueConstraint(
            "lead_id", "kind", "dimension", name="uq_self_rating_lead_kind_dimension"
        ),
    )
    op.create_index(
        "ix_self_rating_kind_dimension", "self_rating", ["kind", "dimension", "lead_id"]
    )
    op.create_table(
        "session_note",
        sa.Column("session_id", sa.Integer(), nullable=False),
        sa.Column("coach_id", sa.Integer(), nullable=False),
        sa.Column("notes", sa.Text(), nullable=False),
        sa.Column("actions", sa.Text(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actions_sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["coach_id"], ["coach.id"], name=op.f("fk_session_note_coach_id_coach")
        ),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["coaching_session.id"],
            name=op.f("fk_session_note_session_id_coaching_session"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("session_id", name=op.f("pk_session_note")),
    )
    op.create_table(
        "follow_up",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("lead_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("reminder_sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("answered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("cancelled_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["lead_id"], ["lead.id"], name=op.f("fk_follow_up_lead_id_lead"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_follow_up")),
        sa.UniqueConstraint("lead_id", name=op.f("uq_follow_up_lead_id")),
    )
    op.create_index("ix_follow_up_due", "follow_up", ["cancelled_at", "answered_at", "due_at"])
    # Plain CREATE INDEX on the existing tables (no batch copy: others refer to them).
    op.create_index("ix_lead_organisation_created", "lead", ["organisation", "created_at"])
    op.create_index("ix_coaching_session_lead_status", "coaching_session", ["lead_id", "status"])
    # ix_coaching_session_status_start (status, starts_at, coach_id, lead_id), which the
    # sessions-per-coach report reads alone, comes with the home page's indexes (0015).


def downgrade():
    op.drop_index("ix_coaching_session_lead_status", table_name="coaching_session")
    op.drop_index("ix_lead_organisation_created", table_name="lead")
    op.drop_index("ix_follow_up_due", table_name="follow_up")
    op.drop_table("follow_up")
    op.drop_table("session_note")
    op.drop_index("ix_self_rating_kind_dimension", table_name="self_rating")
    op.drop_table("self_rating")

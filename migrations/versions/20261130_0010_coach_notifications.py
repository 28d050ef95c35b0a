"""coach notifications: a digest preference, digest rows and pending notices, Reply-To on mail

Revision ID: 0010
Revises: 0015
Create Date: 2026-11-30 19:10:00

"""

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "0010"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade():
    # Plain ADD COLUMNs (no batch copy): SQLite would otherwise rebuild tables others refer to.
    op.add_column(
        "coach",
        sa.Column("email_digest", sa.Boolean(), server_default=sa.false(), nullable=False),
    )
    op.add_column("outbox_message", sa.Column("reply_to", sa.String(length=320), nullable=True))
    op.create_table(
        "coach_digest",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("coach_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("outbox_message_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["coach_id"],
            ["coach.id"],
            name=op.f("fk_coach_digest_coach_id_coach"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["outbox_message_id"],
            ["outbox_message.id"],
            name=op.f("fk_coach_digest_outbox_message_id_outbox_message"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_coach_digest")),
        sa.UniqueConstraint("coach_id", "day", name=op.f("uq_coach_digest_coach_id")),
    )
    op.create_table(
        "coach_notice",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("coach_id", sa.Integer(), nullable=False),
        sa.Column("lead_id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("summary", sa.String(length=300), nullable=False),
        sa.Column("digest_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["coach_id"],
            ["coach.id"],
            name=op.f("fk_coach_notice_coach_id_coach"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["digest_id"],
            ["coach_digest.id"],
            name=op.f("fk_coach_notice_digest_id_coach_digest"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["lead_id"],
            ["lead.id"],
            name=op.f("fk_coach_notice_lead_id_lead"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_coach_notice")),
    )
    op.create_index(
        "ix_coach_notice_coach_digest", "coach_notice", ["coach_id", "digest_id"], unique=False
    )
    op.create_index(op.f("ix_coach_notice_lead_id"), "coach_notice", ["lead_id"], unique=False)


def downgrade():
    op.drop_index(op.f("ix_coach_notice_lead_id"), table_name="coach_notice")
    op.drop_index("ix_coach_notice_coach_digest", table_name="coach_notice")
    op.drop_table("coach_notice")
    op.drop_table("coach_digest")
    op.drop_column("outbox_message", "reply_to")
    op.drop_column("coach", "email_digest")

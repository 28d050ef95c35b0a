"""coach profiles: the name shown to leaders, a bio, a photo (coach_photo)

Revision ID: 0011
Revises: 0017
Create Date: 2026-11-30 18:50:00

"""

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "0011"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade():
    # Plain ADD COLUMNs (no batch copy): SQLite would otherwise rebuild the coach table, which
    # every lead and session refers to.
    op.add_column("coach", sa.Column("shown_name", sa.String(length=200), nullable=True))
    op.add_column("coach", sa.Column("bio", sa.Text(), server_default="", nullable=False))
    op.add_column("coach", sa.Column("photo_digest", sa.String(length=64), nullable=True))
    op.create_table(
        "coach_photo",
        sa.Column("coach_id", sa.Integer(), nullable=False),
        sa.Column("jpeg", sa.LargeBinary(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["coach_id"],
            ["coach.id"],
            name=op.f("fk_coach_photo_coach_id_coach"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("coach_id", name=op.f("pk_coach_photo")),
    )


def downgrade():
    op.drop_table("coach_photo")
    op.drop_column("coach", "photo_digest")
    op.drop_column("coach", "bio")
    op.drop_column("coach", "shown_name")

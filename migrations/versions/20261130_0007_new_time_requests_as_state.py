"""The leader's request for a different time, stored on the session

Until now "the leader asked for a new time" was found by scanning the lead's history for
`new-time-requested` / `move-none-suit` events not yet answered by `session-moved`,
`move-proposed` or `session-cancelled`. The two columns hold it instead; the backfill replays
that same scan once for booked sessions, so requests open at upgrade time stay open.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-30 15:30:00

"""

import json

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

OPENERS = ("new-time-requested", "move-none-suit")
ANSWERS = ("session-moved", "move-proposed", "session-cancelled")

lead_event = sa.table(
    "lead_event",
    sa.column("id", sa.Integer),
    sa.column("at", sa.DateTime(timezone=True)),
    sa.column("kind", sa.String),
    sa.column("detail_json", sa.Text),
)
coaching_session = sa.table(
    "coaching_session",
    sa.column("id", sa.Integer),
    sa.column("status", sa.String),
    sa.column("new_time_requested_at", sa.DateTime(timezone=True)),
    sa.column("new_time_request_note", sa.Text),
)


def upgrade():
    with op.batch_alter_table("coaching_session", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("new_time_requested_at", sa.DateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(sa.Column("new_time_request_note", sa.Text(), nullable=True))
    _backfill(op.get_bind())


def _backfill(connection):
    # The latest opener or answer per session decides, as the old scan did (events in id order).
    latest: dict[int, tuple[str, object, str]] = {}
    events = connection.execute(
        sa.select(lead_event.c.at, lead_event.c.kind, lead_event.c.detail_json)
        .where(lead_event.c.kind.in_(OPENERS + ANSWERS))
        .order_by(lead_event.c.id)
    )
    for at, kind, detail_json in events:
        try:
            detail = json.loads(detail_json or "{}")
        except ValueError:
            continue
        session_id = detail.get("session_id") if isinstance(detail, dict) else None
        if isinstance(session_id, int):
            latest[session_id] = (kind, at, str(detail.get("reason") or ""))
    for session_id, (kind, at, note) in latest.items():
        if kind not in OPENERS:
            continue
        connection.execute(
            coaching_session.update()
            .where(coaching_session.c.id == session_id, coaching_session.c.status == "booked")
            .values(new_time_requested_at=at, new_time_request_note=note)
        )


def downgrade():
    with op.batch_alter_table("coaching_session", schema=None) as batch_op:
        batch_op.drop_column("new_time_request_note")
        batch_op.drop_column("new_time_requested_at")

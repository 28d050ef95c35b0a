"""Operator commands: `flask --app wsgi outbox ...` (more groups are added by later stages)."""

from __future__ import annotations

import click
from flask import Flask
from flask.cli import AppGroup

from . import outbox

outbox_cli = AppGroup("outbox", help="Send queued email.")


@outbox_cli.command("deliver")
@click.option("--limit", default=100, show_default=True, help="Most messages to send this run.")
def outbox_deliver(limit: int) -> None:
    """Send what is due once, then exit."""
    report = outbox.deliver_due(limit=limit)
    click.echo(f"outbox: {report}")


@outbox_cli.command("work")
@click.option("--poll", type=float, default=None, help="Seconds to sleep when nothing is due.")
def outbox_work(poll: float | None) -> None:
    """Keep sending as mail falls due (run one or more of these in production)."""
    click.echo("outbox worker started; Ctrl+C to stop")
    try:
        outbox.work(poll_seconds=poll)
    except KeyboardInterrupt:
        click.echo("outbox worker stopped")


@outbox_cli.command("status")
def outbox_status() -> None:
    """Count messages by status, and show the last error of each failed one."""
    from sqlalchemy import func, select

    from .extensions import db
    from .models import OutboxMessage, OutboxStatus

    rows = db.session.execute(
        select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status)
    ).all()
    for status, count in rows:
        click.echo(f"{status.value}: {count}")
    for row in db.session.scalars(
        select(OutboxMessage).where(OutboxMessage.status == OutboxStatus.FAILED)
    ):
        click.echo(f"failed #{row.id} {row.kind} to {', '.join(row.recipients)}: {row.last_error}")


def register(app: Flask) -> None:
    app.cli.add_command(outbox_cli)

"""Operator commands: `flask --app wsgi outbox ...` (more groups are added by later stages)."""

from __future__ import annotations

import imaplib

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


@outbox_cli.command("retry")
@click.argument("ids", nargs=-1, type=int)
@click.option("--all-failed", is_flag=True, help="Retry every failed message.")
def outbox_retry(ids: tuple[int, ...], all_failed: bool) -> None:
    """Queue failed messages again (by id, as `outbox status` lists them, or --all-failed)."""
    from .extensions import db

    if not ids and not all_failed:
        raise click.UsageError("Give message ids, or --all-failed.")
    count = outbox.retry_failed(None if all_failed else list(ids))
    db.session.commit()
    click.echo(f"{count} message{'s' if count != 1 else ''} queued again")


coach_cli = AppGroup("coach", help="Manage coach accounts.")


@coach_cli.command("add")
@click.argument("email")
@click.option("--name", required=True, help="The coach's name, as leaders will see it.")
@click.option(
    "--password",
    prompt=True,
    hide_input=True,
    confirmation_prompt=True,
    help="8 to 128 characters. Asked for (hidden, twice) when not given.",
)
def coach_add(email: str, name: str, password: str) -> None:
    """Create a coach account that can sign in at /coach/."""
    from .extensions import db
    from .models import utcnow
    from .workflow import DomainError
    from .workflow.accounts import create_coach

    try:
        coach = create_coach(email, name, password, now=utcnow())
    except DomainError as error:
        db.session.rollback()
        raise click.ClickException(str(error)) from error
    db.session.commit()
    click.echo(f"coach {coach.email} ({coach.name}) created")


@coach_cli.command("list")
def coach_list() -> None:
    """Every coach account, active or not."""
    from sqlalchemy import select

    from .extensions import db
    from .models import Coach

    coaches = list(db.session.scalars(select(Coach).order_by(Coach.email)))
    if not coaches:
        click.echo("no coaches yet: add one with `flask --app wsgi coach add EMAIL --name NAME`")
    for coach in coaches:
        state = "active" if coach.active else "deactivated"
        click.echo(f"{coach.email}\t{coach.name}\t{state}")


@coach_cli.command("deactivate")
@click.argument("email")
def coach_deactivate(email: str) -> None:
    """Stop a coach signing in (their history stays; their sessions end at once)."""
    from .extensions import db
    from .workflow import DomainError
    from .workflow.accounts import deactivate_coach

    try:
        coach = deactivate_coach(email)
    except DomainError as error:
        raise click.ClickException(str(error)) from error
    db.session.commit()
    click.echo(f"coach {coach.email} deactivated")


invites_cli = AppGroup("invites", help="Calendar invitations: read the replies calendars send.")


@invites_cli.command("ingest")
@click.option(
    "--file",
    "file_path",
    type=click.Path(exists=True, dir_okay=False),
    help="One raw email message (RFC 5322), e.g. a saved .eml.",
)
@click.option(
    "--maildir",
    type=click.Path(exists=True, file_okay=False),
    help="A Maildir: every message not yet seen; processed ones are marked seen.",
)
@click.option(
    "--imap",
    is_flag=True,
    help="The IMAP mailbox in the IMAP_* settings: unseen messages, marked seen once applied.",
)
def invites_ingest(file_path: str | None, maildir: str | None, imap: bool) -> None:
    """Apply calendar replies (accept / tentative / decline) from email.

    Reads one message from standard input when no source is given.
    """
    import sys

    from flask import current_app

    from . import replies

    if sum(bool(source) for source in (file_path, maildir, imap)) > 1:
        raise click.UsageError("give at most one of --file, --maildir, --imap")
    try:
        if file_path:
            report = replies.ingest_file(file_path)
        elif maildir:
            report = replies.ingest_maildir(maildir)
        elif imap:
            report = replies.ingest_imap(dict(current_app.config))
        else:
            report = replies.ingest_message(sys.stdin.buffer.read(), label="stdin")
    except imaplib.IMAP4.error as error:
        raise click.ClickException(f"the IMAP server refused: {error}") from error
    except (OSError, RuntimeError) as error:
        raise click.ClickException(str(error)) from error
    click.echo(f"invites: {report}")
    for problem in report.errors:
        click.echo(f"  {problem}", err=True)


def register(app: Flask) -> None:
    app.cli.add_command(outbox_cli)
    app.cli.add_command(invites_cli)
    app.cli.add_command(coach_cli)

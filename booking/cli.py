"""Operator commands: `flask --app wsgi outbox ...` (more groups are added by later stages)."""

from __future__ import annotations

import imaplib
from typing import Any

import click
from flask import Flask, current_app
from flask.cli import AppGroup
from sqlalchemy.exc import IntegrityError

from . import outbox, replies
from .extensions import db
from .log_privacy import redact
from .models import Coach, OutboxMessage, OutboxStatus, utcnow
from .settings import current_now, current_settings
from .workflow import DomainError
from .workflow.accounts import create_coach, deactivate_coach
from .workflow.notices import digest_due, queue_digest

outbox_cli = AppGroup("outbox", help="Send queued email.")


def _delivery_settings() -> outbox.DeliverySettings:
    return outbox.DeliverySettings.from_config(current_app.config)


@outbox_cli.command("deliver")
@click.option("--limit", default=100, show_default=True, help="Most messages to send this run.")
def outbox_deliver(limit: int) -> None:
    """Send what is due once, then exit."""
    report = outbox.deliver_due(limit=limit, settings=_delivery_settings())
    click.echo(f"outbox: {report}")


@outbox_cli.command("work")
@click.option("--poll", type=float, default=None, help="Seconds to sleep when nothing is due.")
def outbox_work(poll: float | None) -> None:
    """Keep sending as mail falls due (run one or more of these in production)."""
    click.echo("outbox worker started; Ctrl+C to stop")
    try:
        outbox.work(_delivery_settings(), poll_seconds=poll)
    except KeyboardInterrupt:
        click.echo("outbox worker stopped")


def _lead_and_count(row: Any) -> str:
    lead = f" lead #{row.lead_id}" if row.lead_id else ""
    count = len(row.recipients)
    return f"{lead} to {count} recipient{'s' if count != 1 else ''}"


@outbox_cli.command("status")
def outbox_status() -> None:
    """Count messages by status; show each failed one, and each whose outcome is unknown."""
    from sqlalchemy import func, select

    rows = db.session.execute(
        select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status)
    ).all()
    for status, count in rows:
        click.echo(f"{status.value}: {count}")
    # Ids, not addresses: this output ends up in terminals, tickets and chat. The coach area
    # shows the recipients of a lead's failed email to signed-in coaches.
    for row in db.session.scalars(
        select(OutboxMessage).where(OutboxMessage.status == OutboxStatus.FAILED)
    ):
        click.echo(f"failed #{row.id} {row.kind}{_lead_and_count(row)}: {redact(row.last_error)}")
    for row in db.session.scalars(
        select(OutboxMessage)
        .where(OutboxMessage.status == OutboxStatus.UNKNOWN)
        .order_by(OutboxMessage.id)
    ):
        if row.unknown_outcomes == 1:
            plan = f"will be sent once more at {row.due_at:%Y-%m-%d %H:%M} UTC"
        else:
            plan = "will not be sent again unless you retry it"
        click.echo(
            f"outcome unknown #{row.id} {row.kind}{_lead_and_count(row)} "
            f"(Message-ID {row.message_id}; may have arrived; {plan}): {redact(row.last_error)}"
        )


@outbox_cli.command("retry")
@click.argument("ids", nargs=-1, type=int)
@click.option("--all-failed", is_flag=True, help="Retry every failed message.")
def outbox_retry(ids: tuple[int, ...], all_failed: bool) -> None:
    """Queue messages again, due now, with the same Message-ID: failed ones by id (as `outbox
    status` lists them) or --all-failed; one whose outcome is unknown only by its id (it may
    have arrived: check with the recipient first)."""
    if not ids and not all_failed:
        raise click.UsageError("Give message ids, or --all-failed.")
    if all_failed:
        count = outbox.requeue(None)
    else:
        count = outbox.requeue(list(ids), include_unknown=True)
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
@click.option(
    "--admin", is_flag=True, help="May manage coach accounts and see reports (the first one)."
)
def coach_add(email: str, name: str, password: str, admin: bool) -> None:
    """Create a coach account that can sign in at /coach/."""
    try:
        coach = create_coach(
            email, name, password, now=current_now(), settings=current_settings(), is_admin=admin
        )
    except DomainError as error:
        db.session.rollback()
        raise click.ClickException(str(error)) from error
    db.session.commit()
    role = "admin" if coach.is_admin else "coach"
    click.echo(f"{role} {coach.email} ({coach.name}) created")


@coach_cli.command("list")
def coach_list() -> None:
    """Every coach account, active or not."""
    from sqlalchemy import select

    coaches = list(db.session.scalars(select(Coach).order_by(Coach.email)))
    if not coaches:
        click.echo("no coaches yet: add one with `flask --app wsgi coach add EMAIL --name NAME`")
    for coach in coaches:
        state = "active" if coach.active else "deactivated"
        role = "admin" if coach.is_admin else "coach"
        click.echo(f"{coach.email}\t{coach.name}\t{role}\t{state}")


@coach_cli.command("deactivate")
@click.argument("email")
def coach_deactivate(email: str) -> None:
    """Stop a coach signing in (their history stays; their sessions end at once)."""
    try:
        coach = deactivate_coach(email)
    except DomainError as error:
        raise click.ClickException(str(error)) from error
    db.session.commit()
    click.echo(f"coach {coach.email} deactivated")


@coach_cli.command("digest")
def coach_digest() -> None:
    """Email each digest coach what happened on their leads since their last digest.

    Schedule it once a day (e.g. 07:30). Safe to run again: a coach gets at most one digest a
    day, and what a digest listed is never listed again.
    """
    now, settings = current_now(), current_settings()
    queued = 0
    for coach_id in digest_due(now=now, settings=settings):
        coach = db.session.get(Coach, coach_id)
        if coach is None:
            continue
        try:
            digest = queue_digest(coach, now=now, settings=settings)
            db.session.commit()
        except IntegrityError:
            # Another run queued this coach's digest for today between our check and write.
            db.session.rollback()
            continue
        if digest is not None:
            queued += 1
    click.echo(f"digest: {queued} digest{'s' if queued != 1 else ''} queued")


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

    if sum(bool(source) for source in (file_path, maildir, imap)) > 1:
        raise click.UsageError("give at most one of --file, --maildir, --imap")
    try:
        limits = replies.ReplyLimits.from_config(current_app.config)
    except ValueError as error:
        raise click.ClickException(str(error)) from error
    try:
        if file_path:
            report = replies.ingest_file(file_path, limits=limits)
        elif maildir:
            report = replies.ingest_maildir(maildir, limits=limits)
        elif imap:
            report = replies.ingest_imap(dict(current_app.config))
        else:
            report = replies.ingest_stream(sys.stdin.buffer, label="stdin", limits=limits)
    except imaplib.IMAP4.error as error:
        raise click.ClickException(f"the IMAP server refused: {error}") from error
    except (OSError, RuntimeError) as error:
        raise click.ClickException(str(error)) from error
    click.echo(f"invites: {report}")
    for problem in report.errors:
        click.echo(f"  {redact(problem)}", err=True)


leads_cli = AppGroup("leads", help="A leader's data: export, erase, and the retention period.")


@leads_cli.command("export")
@click.argument("email")
def leads_export(email: str) -> None:
    """Everything held about the person with EMAIL, as JSON on standard output."""
    import json

    from .workflow import DomainError
    from .workflow.privacy import export_person

    try:
        data = export_person(email, now=utcnow(), settings=current_settings())
    except DomainError as error:
        raise click.ClickException(str(error)) from error
    click.echo(json.dumps(data, indent=2, ensure_ascii=False))


@leads_cli.command("erase")
@click.argument("email")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def leads_erase(email: str, yes: bool) -> None:
    """Erase the personal data of every lead with EMAIL (the rows stay, for the counts)."""
    from .extensions import db
    from .workflow import DomainError
    from .workflow.privacy import erase_person, erasure_plan

    now = utcnow()
    plan = erasure_plan(email, now=now)
    if not plan.leads:
        raise click.ClickException("No lead with that email address is left to erase.")
    ids = ", ".join(f"#{lead.id}" for lead in plan.leads)
    click.echo(
        f"{len(plan.leads)} lead{'s' if len(plan.leads) != 1 else ''} ({ids}): "
        f"{plan.notes} notes, {plan.emails} emails ({plan.pending_emails} not yet sent, to be "
        f"cancelled), {plan.questionnaires} questionnaire answers, "
        f"{len(plan.future_sessions)} future sessions to cancel."
    )
    if not yes:
        click.confirm("Erase this person's data? It cannot be undone", abort=True)
    try:
        report = erase_person(email, now=now, by="the operator", settings=current_settings())
    except DomainError as error:
        db.session.rollback()
        raise click.ClickException(str(error)) from error
    db.session.commit()
    click.echo(
        f"erased lead{'s' if len(report.lead_ids) != 1 else ''} "
        f"{', '.join(f'#{i}' for i in report.lead_ids)}; {report.cancelled_emails} queued "
        f"emails cancelled; {len(report.cancelled_sessions)} sessions cancelled"
    )


@leads_cli.command("purge")
@click.option(
    "--days",
    type=click.IntRange(min=1),
    default=None,
    help="Override RETENTION_DAYS for this run.",
)
def leads_purge(days: int | None) -> None:
    """Erase closed, withdrawn, not-suitable and no-response leads idle for RETENTION_DAYS.

    Safe to run daily (e.g. from cron): leads already erased are left alone.
    """
    from flask import current_app

    from .extensions import db
    from .workflow.privacy import purge_expired

    retention = days if days is not None else int(current_app.config["RETENTION_DAYS"])
    erased = purge_expired(now=utcnow(), retention_days=retention, settings=current_settings())
    db.session.commit()
    click.echo(
        f"purge: {len(erased)} lead{'s' if len(erased) != 1 else ''} erased "
        f"(idle for more than {retention} days)"
        + (f": {', '.join(f'#{i}' for i in erased)}" if erased else "")
    )


outcomes_cli = AppGroup("outcomes", help="The follow-up questionnaires after coaching journeys.")


@outcomes_cli.command("send-due")
def outcomes_send_due() -> None:
    """Queue the follow-up questionnaires (and single reminders) that are due.

    Safe to run as often as you like (e.g. hourly from cron): each is sent once, and a
    reminder once, at most.
    """
    from .workflow.outcomes import send_due

    report = send_due(now=current_now(), settings=current_settings())
    db.session.commit()
    click.echo(f"outcomes: {report}")


reports_cli = AppGroup("reports", help="The admins' reports.")


@reports_cli.command("refresh")
def reports_refresh() -> None:
    """Count the reports' finished months again, for the whole firm and each organisation.

    Run nightly (deploy/systemd/booking-reports-refresh.timer), so the first admin of the day
    does not wait for it: the reports page reuses the day's count of the earlier months and
    counts only the current month itself.
    """
    from .report_store import refresh_all

    counted = refresh_all(now=current_now(), settings=current_settings())
    click.echo(f"reports: counted the finished months for {counted} (the whole firm included)")


calendars_cli = AppGroup("calendars", help="Coaches' own calendars.")


@calendars_cli.command("sync")
def calendars_sync() -> None:
    """Read every connected calendar's busy times for the booking horizon (run on a schedule)."""
    from . import calendars
    from .calendar_writes import push_due

    try:
        pushed = push_due(now=current_now(), settings=current_settings())
        results = calendars.sync_all(now=current_now(), settings=current_settings())
    except calendars.CalendarKeyMissing as problem:
        raise click.ClickException(str(problem)) from None
    failed = [r for r in results if not r.ok]
    click.echo(
        f"calendars: {len(results) - len(failed)} read, {len(failed)} could not be read"
        + "".join(f"\n  calendar #{r.calendar_id}: {r.error}" for r in failed)
        + f"\nsessions into calendars: {pushed}"
    )


@calendars_cli.command("push")
def calendars_push() -> None:
    """Write booked, moved and cancelled sessions into coaches' CalDAV calendars (retried)."""
    from .calendar_writes import push_due

    report = push_due(now=current_now(), settings=current_settings())
    click.echo(f"sessions into calendars: {report}")


def register(app: Flask) -> None:
    app.cli.add_command(outcomes_cli)
    app.cli.add_command(reports_cli)
    app.cli.add_command(calendars_cli)
    app.cli.add_command(leads_cli)
    app.cli.add_command(outbox_cli)
    app.cli.add_command(invites_cli)
    app.cli.add_command(coach_cli)

"""The outbox against a real SMTP server (aiosmtpd on loopback): what arrives, and what happens
when the server is down, busy, refuses, or never answers."""

from __future__ import annotations

import email
import re
import time
from datetime import timedelta
from email import policy
from pathlib import Path

import pytest
from sqlalchemy import select

from booking import outbox
from booking.extensions import db
from booking.models import (
    Dimension,
    Lead,
    OutboxMessage,
    OutboxStatus,
    SessionFormat,
    utcnow,
)
from booking.settings import current_settings
from booking.workflow import Registration, register_interest

from .conftest import count_rows, submit_registration
from .smtp import SilentServer, SMTPTestServer

COACHES = ["coach.one@example.org", "coach.two@example.org"]


def register(app, now, **overrides) -> int:
    values = dict(
        full_name="Amara <b>Okafor</b> & Co",
        email="amara.okafor@nhs.example",
        organisation='Riverside "Hospitals" <script>alert(1)</script>',
        role="Director of Nursing",
        preferred_format=SessionFormat.PHONE,
        dimensions=[Dimension.PURPOSE_LED, Dimension.PRACTICAL],
        help_text="Two teams merging <soon>.\nHow do I keep everyone with me?",
        availability="Mondays & Fridays",
        phone="+447911123456",
        consent=True,
    )
    values.update(overrides)
    with app.app_context():
        lead = register_interest(
            Registration(**values),
            form_token=f"t-{time.monotonic_ns()}",
            now=now,
            settings=current_settings(),
        ).lead
        db.session.commit()
        return lead.id


def rows(app) -> list[OutboxMessage]:
    with app.app_context():
        found = list(db.session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))
        db.session.expunge_all()
        return found


def deliver(app, now=None):
    with app.app_context():
        return outbox.deliver_due(now=now)


def unused_server() -> SMTPTestServer:
    """A server object whose port nothing listens on yet: the mail server is down."""
    return SMTPTestServer()


# ----- what arrives ----------------------------------------------------------------------------


def test_both_emails_arrive_with_text_and_html_and_the_right_links(make_app, smtp_server):
    app = make_app(**smtp_server.config(), COACH_NOTIFY_EMAILS=COACHES)
    client = app.test_client()
    assert (
        submit_registration(client, organisation="Riverside <script>x</script> & Co").status_code
        == 302
    )
    report = deliver(app)
    assert len(report.sent) == 2 and not report.retrying and not report.failed
    with app.app_context():
        lead = db.session.scalars(select(Lead)).one()
        lead_id = lead.id

    assert len(smtp_server.received) == 2
    ack = smtp_server.messages_to("sian.obrien@nhs.example")
    assert len(ack) == 1
    ack_msg = ack[0]
    assert ack_msg["Subject"] == "We have your request for personal support"
    assert "coaching@example.org" in ack_msg["From"]
    assert ack_msg["To"] == "sian.obrien@nhs.example"
    assert ack_msg["Message-ID"]
    text = ack_msg.get_body(("plain",)).get_content()
    html = ack_msg.get_body(("html",)).get_content()
    for body in (text, html):
        assert "no obligation" in body.lower()
        assert "What happens next" in body
        assert "http://booking.test/withdraw/" in body
    assert "Dear Siân O'Brien-Smith" in text
    assert "Riverside <script>x</script> & Co" in text
    assert "Riverside &lt;script&gt;x&lt;/script&gt; &amp; Co" in html
    assert "<script>" not in html
    withdraw_text = re.search(r"http://booking\.test/withdraw/\S+", text)[0]
    assert f'href="{withdraw_text}"' in html

    coach_msgs = [r for r in smtp_server.received if set(r.rcpt_tos) == set(COACHES)]
    assert len(coach_msgs) == 1
    coach_msg = coach_msgs[0].message
    assert "sian.obrien" not in ",".join(coach_msgs[0].rcpt_tos)
    assert coach_msg["Subject"] == (
        "New request for personal support: Siân O'Brien-Smith, Riverside <script>x</script> & Co"
    )
    text = coach_msg.get_body(("plain",)).get_content()
    html = coach_msg.get_body(("html",)).get_content()
    lead_url = f"http://booking.test/coach/leads/{lead_id}"
    assert lead_url in text and f'href="{lead_url}"' in html
    for expected in (
        "sian.obrien@nhs.example",
        "07911 123456",  # national format (a tel: link in the HTML)
        "Ward manager",
        "Compassionate, Practical",
        "Video call",
        "Tuesday mornings",
        "Leading a team through a hard winter.",
    ):
        assert expected in text, expected
        assert expected in html, expected
    assert 'href="tel:+447911123456"' in html
    assert "Siân O&#39;Brien-Smith" in html or "Siân O&#x27;Brien-Smith" in html
    assert "<script>" not in html


def test_every_typed_value_is_escaped_in_the_coach_email(make_app, smtp_server, now):
    app = make_app(**smtp_server.config(), COACH_NOTIFY_EMAILS=COACHES)
    register(app, now)
    deliver(app, now)
    coach = smtp_server.messages_to(COACHES[0])[0]
    html = coach.get_body(("html",)).get_content()
    assert "<b>Okafor</b>" not in html and "&lt;b&gt;Okafor&lt;/b&gt; &amp; Co" in html
    assert "<script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<soon>" not in html and "&lt;soon&gt;" in html
    assert "Mondays &amp; Fridays" in html
    text = coach.get_body(("plain",)).get_content()
    assert "Amara <b>Okafor</b> & Co" in text  # plain text shows exactly what was typed


@pytest.mark.parametrize(
    "name",
    [
        "Siân Ó Briain-Ní Mhaoláin",
        "Dr Kwame Mensah-Ellis of the Compassionate Leadership Collaborative – Northern Region",
        "Zoë Żółkiewska-Łęcka, Associate Director of Quality Improvement and Patient Safety",
    ],
)
def test_long_non_ascii_subjects_arrive_exactly_as_written(make_app, smtp_server, now, name):
    """Folding a long encoded subject must never split a word ("Compa ssionate")."""
    app = make_app(**smtp_server.config(), COACH_NOTIFY_EMAILS=COACHES)
    register(app, now, full_name=name, organisation="Compassionate Leadership – Ørsted Trust")
    deliver(app, now)
    coach = smtp_server.messages_to(COACHES[0])[0]
    expected = f"New request for personal support: {name}, Compassionate Leadership – Ørsted Trust"
    assert coach["Subject"] == expected
    headers = smtp_server.received[-1].data.split(b"\r\n\r\n", 1)[0]
    assert max(len(line) for line in headers.split(b"\r\n")) <= 78


def test_repeat_registration_tells_the_coaches(make_app, smtp_server, now):
    app = make_app(**smtp_server.config(), COACH_NOTIFY_EMAILS=COACHES)
    lead_id = register(app, now)
    register(app, now + timedelta(hours=1), help_text="Also <about> my new role")
    deliver(app, now + timedelta(hours=1))
    assert count_rows(app, Lead) == 1
    subjects = sorted(str(r.message["Subject"]) for r in smtp_server.received)
    assert any("registered again" in s for s in subjects), subjects
    repeat = next(
        r.message for r in smtp_server.received if "registered again" in str(r.message["Subject"])
    )
    html = repeat.get_body(("html",)).get_content()
    assert "Also &lt;about&gt; my new role" in html
    assert f"http://booking.test/coach/leads/{lead_id}" in html


# ----- failures and retries ----------------------------------------------------------------


def test_server_down_then_up_delivers_exactly_once_with_the_same_message_id(make_app, now):
    server = unused_server()
    app = make_app(**server.config(), COACH_NOTIFY_EMAILS=COACHES)
    lead_id = register(app, now)
    assert count_rows(app, Lead) == 1  # the lead is safe whatever the mail server does

    report = deliver(app, now)
    assert len(report.retrying) == 2 and not report.sent
    first = rows(app)
    for row in first:
        assert row.status == OutboxStatus.PENDING
        assert row.attempts == 1
        assert "Connection" in row.last_error or "refused" in row.last_error.lower()
        # Backoff with jitter: between half and all of the 30 s base.
        assert now + timedelta(seconds=15) <= row.due_at <= now + timedelta(seconds=30)
    # Not due yet: nothing is tried again.
    assert not deliver(app, now + timedelta(seconds=10)).retrying

    server.start()
    try:
        report = deliver(app, now + timedelta(minutes=1))
        assert len(report.sent) == 2
        again = deliver(app, now + timedelta(hours=2))
        assert not (again.sent or again.retrying or again.failed)
    finally:
        server.stop()

    assert len(server.received) == 2
    stored_ids = {row.message_id for row in first}
    assert {r.message["Message-ID"] for r in server.received} == stored_ids
    for row in rows(app):
        assert row.status == OutboxStatus.SENT and row.attempts == 2 and row.sent_at
    assert count_rows(app, Lead) == 1 and lead_id


def test_temporary_refusal_then_success(make_app, smtp_server, now):
    app = make_app(**smtp_server.config(), COACH_NOTIFY_EMAILS=COACHES)
    register(app, now)
    smtp_server.responses = ["451 4.3.0 Try again later"]
    report = deliver(app, now)
    assert len(report.retrying) == 1 and len(report.sent) == 1
    retried = next(r for r in rows(app) if r.status == OutboxStatus.PENDING)
    assert "451" in retried.last_error

    report = deliver(app, now + timedelta(minutes=5))
    assert report.sent == [retried.id]
    assert len(smtp_server.received) == 2
    ids = [r.message["Message-ID"] for r in smtp_server.received]
    assert len(set(ids)) == 2 and retried.message_id in ids


def test_permanent_refusal_gives_up_and_keeps_the_lead(make_app, smtp_server, now):
    app = make_app(**smtp_server.config())
    lead_id = register(app, now)
    smtp_server.responses = ["550 5.1.1 Mailbox does not exist"]
    report = deliver(app, now)
    assert len(report.failed) == 1 and not report.retrying
    (row,) = rows(app)
    assert row.status == OutboxStatus.FAILED
    assert "550" in row.last_error and "Mailbox does not exist" in row.last_error
    assert not deliver(app, now + timedelta(days=1)).sent  # never tried again
    assert smtp_server.received == []
    with app.app_context():
        assert db.session.get(Lead, lead_id) is not None


def test_gives_up_after_the_most_attempts(make_app, now):
    server = unused_server()
    app = make_app(**server.config(), OUTBOX_MAX_ATTEMPTS=3)
    register(app, now)
    moment = now
    outcomes = []
    for _ in range(3):
        report = deliver(app, moment)
        outcomes.append("failed" if report.failed else "retrying" if report.retrying else "-")
        moment += timedelta(hours=2)
    assert outcomes == ["retrying", "retrying", "failed"]
    (row,) = rows(app)
    assert row.status == OutboxStatus.FAILED and row.attempts == 3


def test_backoff_grows_and_is_capped(tmp_path):
    import random

    settings = outbox.DeliverySettings(
        smtp=None, capture_dir=tmp_path, backoff_base=30.0, backoff_cap=600.0
    )
    rng = random.Random(1)
    for attempts, ceiling in [(1, 30), (2, 60), (3, 120), (5, 480), (6, 600), (20, 600)]:
        delays = [outbox.backoff_delay(attempts, settings, rng) for _ in range(50)]
        assert all(ceiling / 2 <= d <= ceiling for d in delays), (attempts, delays[:3])
        assert len({round(d, 3) for d in delays}) > 1  # jitter


@pytest.mark.slow
def test_silent_server_does_not_hang_the_worker(make_app, now):
    silent = SilentServer()
    try:
        app = make_app(
            MAIL_SERVER="127.0.0.1",
            MAIL_PORT=silent.port,
            MAIL_TIMEOUT=3.0,
            COACH_NOTIFY_EMAILS=COACHES,
        )
        register(app, now)
        register(app, now, email="second@nhs.example")
        started = time.monotonic()
        report = deliver(app, now)
        elapsed = time.monotonic() - started
    finally:
        silent.close()
    # One timeout for the round, not one per message (four would take 12 s or more); the margin
    # is for a loaded machine.
    assert elapsed < 4 * 3.0, elapsed
    assert len(report.retrying) == 4 and not report.sent
    for row in rows(app):
        assert row.status == OutboxStatus.PENDING and row.attempts == 1
        assert "timed out" in row.last_error.lower() or "timeout" in row.last_error.lower()


def test_a_worker_that_died_before_sending_releases_its_claim_after_the_lease(
    make_app, smtp_server, now
):
    app = make_app(**smtp_server.config())
    register(app, now)
    with app.app_context():
        settings = outbox.DeliverySettings.from_config(app.config)
        claim = outbox.claim_due(now, 5, settings)  # ...and then the worker dies
        assert len(claim.ids) == 1
    assert not deliver(app, now + timedelta(minutes=1)).handled  # still someone else's
    assert len(deliver(app, now + timedelta(minutes=6)).sent) == 1
    assert len(smtp_server.received) == 1


def test_a_worker_that_died_mid_send_leaves_the_outcome_unknown(make_app, smtp_server, now):
    """It may have handed the message over before it died: not sent again at once."""
    app = make_app(**smtp_server.config())
    register(app, now)
    with app.app_context():
        row = db.session.scalars(select(OutboxMessage)).one()
        row.status = OutboxStatus.SENDING
        row.lease_until = now + timedelta(minutes=15)
        row.claim_token = "a-worker-that-died"
        db.session.commit()
    assert not deliver(app, now + timedelta(minutes=1)).handled  # still someone else's
    assert not deliver(app, now + timedelta(minutes=16)).handled
    (row,) = rows(app)
    assert row.status == OutboxStatus.UNKNOWN and row.unknown_outcomes == 1
    assert "stopped" in row.last_error
    assert row.due_at == now + timedelta(minutes=16, hours=1)
    assert smtp_server.received == []
    assert deliver(app, now + timedelta(minutes=17, hours=1)).sent == [row.id]
    assert smtp_server.message_ids() == [row.message_id]


# ----- exactly once: slow servers, lost replies, workers that lose their claim ------------------


@pytest.mark.slow  # waits out a 3-second reply by design
def test_a_server_slower_than_mail_timeout_to_accept_gets_one_copy(make_app, smtp_server, now):
    """RFC 5321 gives a server 10 minutes to answer the end of DATA; MAIL_TIMEOUT is the rest."""
    app = make_app(**smtp_server.config(), MAIL_TIMEOUT=1.0, MAIL_DATA_TIMEOUT=60.0)
    register(app, now)
    smtp_server.data_reply_delay = 3.0  # three times MAIL_TIMEOUT

    report = deliver(app, now)

    assert len(report.sent) == 1 and not (report.retrying or report.unknown), report
    (row,) = rows(app)
    assert row.status == OutboxStatus.SENT and row.attempts == 1
    smtp_server.data_reply_delay = 0.0
    assert not deliver(app, now + timedelta(days=1)).handled
    assert smtp_server.message_ids() == [row.message_id]


def test_mail_timeout_still_bounds_a_server_that_stops_answering_commands(make_app, now):
    """The long DATA timeout is for that one reply: a silent greeting still costs MAIL_TIMEOUT."""
    silent = SilentServer()
    try:
        app = make_app(
            MAIL_SERVER="127.0.0.1", MAIL_PORT=silent.port, MAIL_TIMEOUT=1.0, MAIL_DATA_TIMEOUT=600
        )
        register(app, now)
        started = time.monotonic()
        report = deliver(app, now)
        elapsed = time.monotonic() - started
    finally:
        silent.close()
    assert len(report.retrying) == 1 and elapsed < 30, (report, elapsed)


def test_a_reply_lost_after_data_is_outcome_unknown_and_sent_once_more_later(
    make_app, smtp_server, now
):
    app = make_app(**smtp_server.config(), OUTBOX_UNKNOWN_RETRY_SECONDS=3600)
    register(app, now)
    smtp_server.drop_after_data = 2  # the server takes the message and hangs up, twice

    report = deliver(app, now)

    assert len(report.unknown) == 1 and not (report.sent or report.retrying), report
    (row,) = rows(app)
    assert row.status == OutboxStatus.UNKNOWN and row.unknown_outcomes == 1
    assert row.last_error.startswith("Outcome unknown")
    assert row.due_at == now + timedelta(hours=1)
    assert len(smtp_server.received) == 1
    # Not before the delay, however often the worker runs.
    for minutes in (1, 5, 30, 59):
        assert not deliver(app, now + timedelta(minutes=minutes)).handled
    assert len(smtp_server.received) == 1

    report = deliver(app, now + timedelta(minutes=61))
    assert report.unknown == [row.id]
    (row,) = rows(app)
    assert row.status == OutboxStatus.UNKNOWN and row.unknown_outcomes == 2
    # Never a third time by itself.
    for days in (1, 10):
        assert not deliver(app, now + timedelta(days=days)).handled
    assert smtp_server.message_ids() == [row.message_id, row.message_id]


def test_a_reply_that_never_comes_is_outcome_unknown_and_the_retry_can_succeed(
    make_app, smtp_server, now
):
    app = make_app(**smtp_server.config(), MAIL_DATA_TIMEOUT=1.0, OUTBOX_UNKNOWN_RETRY_SECONDS=7200)
    register(app, now)
    smtp_server.data_reply_delay = 10.0  # longer than MAIL_DATA_TIMEOUT

    assert len(deliver(app, now).unknown) == 1
    (row,) = rows(app)
    assert row.status == OutboxStatus.UNKNOWN and "timed out" in row.last_error
    assert row.due_at == now + timedelta(hours=2)

    smtp_server.data_reply_delay = 0.0
    assert not deliver(app, now + timedelta(hours=1)).handled
    assert deliver(app, now + timedelta(hours=2)).sent == [row.id]
    (row,) = rows(app)
    assert row.status == OutboxStatus.SENT and row.attempts == 2
    assert smtp_server.message_ids() == [row.message_id, row.message_id]


def test_a_failure_before_the_message_was_complete_is_retried_as_before(make_app, smtp_server, now):
    """The server closing on the DATA command itself: it never had the message."""
    app = make_app(**smtp_server.config())
    register(app, now)
    smtp_server.responses = ["421 4.3.2 Closing, try later"]
    report = deliver(app, now)
    assert len(report.retrying) == 1 and not report.unknown
    assert len(deliver(app, now + timedelta(minutes=5)).sent) == 1
    assert len(smtp_server.received) == 1


def test_a_worker_whose_claim_was_taken_over_does_not_send(make_app, smtp_server, now):
    app = make_app(**smtp_server.config(), OUTBOX_LEASE_SECONDS=60)
    register(app, now)
    with app.app_context():
        settings = outbox.DeliverySettings.from_config(app.config)
        mine = outbox.claim_due(now, 5, settings)
        assert len(mine.ids) == 1
        assert outbox.claim_due(now + timedelta(seconds=30), 5, settings).ids == []  # held
        # This worker stalls past its lease; another claims the row, with a token of its own.
        later = now + timedelta(seconds=61)
        theirs = outbox.claim_due(later, 5, settings)
        assert theirs.ids == mine.ids and theirs.token != mine.token

        report = outbox.deliver_claimed(mine, now=later, settings=settings)
        assert report.skipped == mine.ids and not report.sent
        assert smtp_server.received == []

        report = outbox.deliver_claimed(theirs, now=later, settings=settings)
        assert report.sent == theirs.ids
        # The first worker comes back again: the row is sent and no longer anyone's.
        assert outbox.deliver_claimed(mine, now=later, settings=settings).skipped == mine.ids
    assert len(smtp_server.received) == 1
    (row,) = rows(app)
    assert row.status == OutboxStatus.SENT and row.claim_token is None


def test_withdrawn_before_sending_sends_the_leader_nothing(make_app, smtp_server, now):
    from booking.workflow import withdraw

    app = make_app(**smtp_server.config(), COACH_NOTIFY_EMAILS=COACHES)
    lead_id = register(app, now)
    with app.app_context():
        withdraw(db.session.get(Lead, lead_id), reason="", now=now, settings=current_settings())
        db.session.commit()
    deliver(app, now + timedelta(hours=1))
    assert smtp_server.messages_to("amara.okafor@nhs.example") == []
    kinds = {row.kind: row.status for row in rows(app)}
    assert kinds["leader_acknowledgement"] == OutboxStatus.CANCELLED
    assert kinds["coach_new_lead"] == OutboxStatus.CANCELLED


def test_a_message_that_cannot_be_sent_does_not_block_the_others(make_app, smtp_server, now):
    """A recipient with a line break (impossible through the form) fails alone, loudly."""
    app = make_app(**smtp_server.config(), COACH_NOTIFY_EMAILS=COACHES)
    register(app, now, email="eve@nhs.example\r\nBcc: hidden@attacker.example")
    report = deliver(app, now)
    assert len(report.failed) == 1 and len(report.sent) == 1
    failed = next(r for r in rows(app) if r.status == OutboxStatus.FAILED)
    assert failed.kind == "leader_acknowledgement" and "BadHeader" in failed.last_error
    received_by = [a for r in smtp_server.received for a in r.rcpt_tos]
    assert sorted(received_by) == COACHES
    message = smtp_server.received[0].message
    assert "bcc" not in {name.lower() for name in message.keys()}
    assert all("attacker" not in str(value) for value in message.values())


def test_421_closing_the_connection_does_not_cost_the_next_message(make_app, smtp_server, now):
    app = make_app(**smtp_server.config(), COACH_NOTIFY_EMAILS=COACHES)
    register(app, now)
    smtp_server.responses = ["421 4.3.2 Closing, try later"]
    report = deliver(app, now)
    assert len(report.retrying) == 1 and len(report.sent) == 1
    assert len(smtp_server.received) == 1


def test_unreachable_server_is_retried_even_with_a_5xx_greeting(make_app, now):
    """A bad password or a 554 greeting is about the server, not this message: retry later."""
    import socket
    import threading

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(5)
    port = listener.getsockname()[1]

    def refuse_everyone() -> None:
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            conn.sendall(b"554 5.3.2 No service here\r\n")
            conn.close()

    threading.Thread(target=refuse_everyone, daemon=True).start()
    try:
        app = make_app(MAIL_SERVER="127.0.0.1", MAIL_PORT=port, COACH_NOTIFY_EMAILS=COACHES)
        register(app, now)
        report = deliver(app, now)
    finally:
        listener.close()
    assert len(report.retrying) == 2 and not report.failed
    assert all(row.status == OutboxStatus.PENDING for row in rows(app))


# ----- development capture and the command line --------------------------------------------


def test_no_mail_server_writes_eml_files(make_app, now, tmp_path):
    app = make_app(COACH_NOTIFY_EMAILS=COACHES)
    register(app, now)
    report = deliver(app, now)
    assert len(report.sent) == 2
    files = sorted(Path(app.config["MAIL_CAPTURE_DIR"]).glob("*.eml"))
    assert [f.name.split("-", 1)[1] for f in files] == [
        "leader_acknowledgement.eml",
        "coach_new_lead.eml",
    ]
    for path in files:
        message = email.message_from_bytes(path.read_bytes(), policy=policy.default)
        assert message["Message-ID"] and message["Subject"]
        assert message.get_body(("plain",)) is not None
        assert message.get_body(("html",)) is not None
    assert all(row.status == OutboxStatus.SENT for row in rows(app))


def test_flask_outbox_deliver_command(make_app, smtp_server):
    app = make_app(**smtp_server.config(), COACH_NOTIFY_EMAILS=COACHES)
    register(app, utcnow())
    runner = app.test_cli_runner()
    result = runner.invoke(args=["outbox", "deliver"])
    assert result.exit_code == 0, result.output
    assert "outbox: sent 2, retrying 0, failed 0" in result.output
    assert len(smtp_server.received) == 2

    result = runner.invoke(args=["outbox", "deliver"])
    assert "sent 0" in result.output
    result = runner.invoke(args=["outbox", "status"])
    assert result.exit_code == 0 and "sent: 2" in result.output


def test_flask_outbox_status_shows_failures(make_app, smtp_server):
    app = make_app(**smtp_server.config())
    register(app, utcnow())
    smtp_server.responses = ["554 5.7.1 Rejected"]
    runner = app.test_cli_runner()
    assert "failed 1" in runner.invoke(args=["outbox", "deliver"]).output
    output = runner.invoke(args=["outbox", "status"]).output
    assert "failed: 1" in output and "554" in output and "lead #" in output
    # Ids and a count, never the address (this output ends up in tickets and chat).
    assert "amara.okafor@nhs.example" not in output and "1 recipient" in output


def test_flask_outbox_retry_sends_a_failed_message_again_with_its_message_id(make_app, smtp_server):
    app = make_app(**smtp_server.config())
    register(app, utcnow())
    smtp_server.responses = ["552 5.2.2 Mailbox full"]
    runner = app.test_cli_runner()
    assert "failed 1" in runner.invoke(args=["outbox", "deliver"]).output
    (failed,) = [r for r in rows(app) if r.status == OutboxStatus.FAILED]

    assert runner.invoke(args=["outbox", "retry"]).exit_code != 0  # says what to give
    assert "0 messages" in runner.invoke(args=["outbox", "retry", str(failed.id + 99)]).output
    again = runner.invoke(args=["outbox", "retry", "--all-failed"]).output
    assert "1 message queued again" in again
    assert "sent 1" in runner.invoke(args=["outbox", "deliver"]).output
    (arrived,) = smtp_server.received
    assert arrived.message["Message-ID"] == failed.message_id
    assert {r.status for r in rows(app)} == {OutboxStatus.SENT}


@pytest.mark.parametrize("max_loops", [2])
def test_work_loop_survives_and_sends(make_app, smtp_server, max_loops):
    app = make_app(**smtp_server.config())
    register(app, utcnow())
    with app.app_context():
        outbox.work(poll_seconds=0.01, max_loops=max_loops)
    assert len(smtp_server.received) == 1


def test_flask_outbox_status_and_retry_for_an_unknown_outcome(make_app, smtp_server, now):
    app = make_app(**smtp_server.config())
    register(app, now)
    smtp_server.drop_after_data = 1
    deliver(app, now)
    (row,) = rows(app)
    runner = app.test_cli_runner()

    output = runner.invoke(args=["outbox", "status"]).output
    assert "unknown: 1" in output
    assert f"outcome unknown #{row.id} leader_acknowledgement lead #1 to 1 recipient" in output
    assert "amara.okafor" not in output
    assert row.message_id in output and "sent once more at 2026-11-30 11:00 UTC" in output

    # Never in bulk: it may have arrived.
    assert "0 messages" in runner.invoke(args=["outbox", "retry", "--all-failed"]).output
    assert "1 message queued again" in runner.invoke(args=["outbox", "retry", str(row.id)]).output
    assert deliver(app).sent == [row.id]  # due now, by the clock
    assert smtp_server.message_ids() == [row.message_id, row.message_id]
    assert "unknown" not in runner.invoke(args=["outbox", "status"]).output


def test_withdrawing_stops_the_late_send_of_an_unknown_outcome(make_app, smtp_server, now):
    from booking.workflow import withdraw

    app = make_app(**smtp_server.config())
    lead_id = register(app, now)
    smtp_server.drop_after_data = 1
    assert len(deliver(app, now).unknown) == 1
    with app.app_context():
        withdraw(
            db.session.get(Lead, lead_id),
            reason="",
            now=now + timedelta(minutes=5),
            settings=current_settings(),
        )
        db.session.commit()
    assert not deliver(app, now + timedelta(hours=2)).handled
    (row,) = rows(app)
    assert row.kind == "leader_acknowledgement"
    assert row.status == OutboxStatus.CANCELLED and row.unknown_outcomes == 1
    assert len(smtp_server.received) == 1

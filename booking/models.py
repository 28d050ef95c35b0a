"""Typed SQLAlchemy models. All datetimes are timezone-aware and stored as UTC."""

from __future__ import annotations

import enum
import json
from datetime import UTC, date, datetime, time
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    Enum,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    Time,
    TypeDecorator,
    UniqueConstraint,
    column,
    false,
    func,
    literal_column,
    text,
    true,
)
from sqlalchemy.dialects.postgresql import ExcludeConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .extensions import db
from .limits import DETAIL_MAX, EMAIL_MAX, NAME_MAX, PHONE_MAX

if TYPE_CHECKING:  # Flask-SQLAlchemy's db.Model is dynamic; mypy sees the declarative base.
    from .extensions import Base as Model
else:
    Model = db.Model


class UTCDateTime(TypeDecorator[datetime]):
    """Aware datetimes in, aware UTC datetimes out, on SQLite (naive storage) and PostgreSQL."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def utcnow() -> datetime:
    return datetime.now(UTC)


def _enum(cls: type[enum.Enum], name: str | None = None) -> Enum:
    # Stored as the value string, checked by a CHECK constraint, portable across databases.
    return Enum(
        cls,
        native_enum=False,
        create_constraint=True,
        length=24,
        values_callable=lambda members: [m.value for m in members],
        name=name or cls.__name__.lower(),
    )


class Dimension(enum.StrEnum):
    COMPASSIONATE = "compassionate"
    PURPOSE_LED = "purpose-led"
    PRACTICAL = "practical"
    NOT_SURE = "not-sure"


DIMENSION_LABELS = {
    Dimension.COMPASSIONATE: "Compassionate",
    Dimension.PURPOSE_LED: "Purpose-led",
    Dimension.PRACTICAL: "Practical",
    Dimension.NOT_SURE: "Not sure yet",
}


# The three dimensions a leader rates themselves on, before the first session and after the
# journey (NOT_SURE is a registration choice, not a dimension to rate).
RATED_DIMENSIONS = (Dimension.COMPASSIONATE, Dimension.PURPOSE_LED, Dimension.PRACTICAL)


class RatingKind(enum.StrEnum):
    BEFORE = "before"
    AFTER = "after"


class SessionFormat(enum.StrEnum):
    VIDEO = "video"
    PHONE = "phone"
    IN_PERSON = "in-person"


FORMAT_LABELS = {
    SessionFormat.VIDEO: "Video call",
    SessionFormat.PHONE: "Phone call",
    SessionFormat.IN_PERSON: "In person",
}


class LeadStatus(enum.StrEnum):
    NEW = "new"
    CONTACTED = "contacted"
    TIMES_PROPOSED = "times-proposed"
    AGREED = "agreed"
    HELD = "held"
    CLOSED = "closed"
    WITHDRAWN = "withdrawn"
    NOT_SUITABLE = "not-suitable"
    NO_RESPONSE = "no-response"

    @property
    def label(self) -> str:
        return self.value.replace("-", " ").capitalize()

    @property
    def is_open(self) -> bool:
        return self not in CLOSED_STATUSES


CLOSED_STATUSES = frozenset(
    {LeadStatus.CLOSED, LeadStatus.WITHDRAWN, LeadStatus.NOT_SUITABLE, LeadStatus.NO_RESPONSE}
)


class ProposalStatus(enum.StrEnum):
    OPEN = "open"
    CHOSEN = "chosen"
    NONE_SUIT = "none-suit"
    CLOSED = "closed"


class SessionStatus(enum.StrEnum):
    BOOKED = "booked"
    CANCELLED = "cancelled"
    HELD = "held"


class PartStat(enum.StrEnum):
    NEEDS_ACTION = "NEEDS-ACTION"
    ACCEPTED = "ACCEPTED"
    TENTATIVE = "TENTATIVE"
    DECLINED = "DECLINED"


class OutboxStatus(enum.StrEnum):
    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"
    CANCELLED = "cancelled"
    # The connection broke after the whole message was handed over and before the server said
    # whether it took it: it may have arrived. Retried once, late, with the same Message-ID.
    UNKNOWN = "unknown"


class Coach(Model):
    __tablename__ = "coach"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(EMAIL_MAX), unique=True)
    name: Mapped[str] = mapped_column(String(NAME_MAX))
    password_hash: Mapped[str] = mapped_column(String(255))
    active: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    # Admins manage coach accounts and see the firm's reports; every admin is also a coach.
    is_admin: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_assigned_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The profile leaders see (choose-a-time page, emails): the name shown to them (None: the
    # account's name), a few lines of bio, and the current photo's digest (None: no photo; the
    # bytes are in coach_photo, so the many queries that load a coach never load a picture).
    shown_name: Mapped[str | None] = mapped_column(String(NAME_MAX))
    bio: Mapped[str] = mapped_column(Text, default="", server_default="")
    photo_digest: Mapped[str | None] = mapped_column(String(64))

    @property
    def display_name(self) -> str:
        """The coach's name as leaders see it."""
        return self.shown_name or self.name

    # How the coach hears about their leads' events: one email each (False) or one daily
    # digest (True, sent by `flask coach digest`).
    email_digest: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # The coach's private subscription feed of their sessions: its signed URL names this
    # version, so making a new URL (version + 1) turns every older URL away.
    session_feed_version: Mapped[int] = mapped_column(Integer, default=1, server_default="1")

    # Flask-Login
    @property
    def is_active(self) -> bool:
        return self.active

    is_authenticated = True
    is_anonymous = False

    def get_id(self) -> str:
        return str(self.id)


class CoachSignIn(Model):
    """One signed-in browser. The cookie holds a random key; this row holds only its digest.

    Signing out ends the row, so a copy of the old session cookie no longer works: Flask's
    sessions live in the cookie itself and cannot be revoked any other way.
    """

    __tablename__ = "coach_sign_in"

    key_digest: Mapped[str] = mapped_column(String(64), primary_key=True)
    coach_id: Mapped[int] = mapped_column(ForeignKey("coach.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class CoachPhoto(Model):
    """A coach's profile photo: a square JPEG re-encoded by booking/photos.py (no metadata).
    Served at a URL holding its digest (Coach.photo_digest), so it can be cached for good."""

    __tablename__ = "coach_photo"

    coach_id: Mapped[int] = mapped_column(
        ForeignKey("coach.id", ondelete="CASCADE"), primary_key=True
    )
    jpeg: Mapped[bytes] = mapped_column(LargeBinary)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class LoginFailure(Model):
    """One failed sign-in; recent rows slow down and then refuse further tries."""

    __tablename__ = "login_failure"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(EMAIL_MAX), index=True)
    address: Mapped[str] = mapped_column(String(64), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)


class Lead(Model):
    __tablename__ = "lead"
    __table_args__ = (
        Index("ix_lead_status_created", "status", "created_at"),
        Index("ix_lead_coach_created", "assigned_coach_id", "created_at"),
        # The list sorted by last activity, for everyone or for one coach.
        Index("ix_lead_updated_at", "updated_at"),
        Index("ix_lead_coach_updated", "assigned_coach_id", "updated_at"),
        # The status filter's counts for one coach's leads, read from the index alone.
        Index("ix_lead_coach_status", "assigned_coach_id", "status"),
        # Reports filtered by organisation, by month of registration.
        Index("ix_lead_organisation_created", "organisation", "created_at"),
        # A registration looks for an open lead with the same address, in any case: without
        # this, every registration read every lead.
        Index("ix_lead_email_lower", text("lower(email)")),
        # The coach's search is a case-insensitive substring match (ILIKE '%q%'): on PostgreSQL
        # trigram indexes answer it without reading every lead. SQLite has no such index.
        *(
            Index(
                f"ix_lead_{column}_trgm",
                column,
                postgresql_using="gin",
                postgresql_ops={column: "gin_trgm_ops"},
                info={"only_on": "postgresql"},
            ).ddl_if(dialect="postgresql")
            for column in ("full_name", "email", "organisation")
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    full_name: Mapped[str] = mapped_column(String(NAME_MAX))
    email: Mapped[str] = mapped_column(String(EMAIL_MAX), index=True)
    phone: Mapped[str | None] = mapped_column(String(PHONE_MAX))
    organisation: Mapped[str] = mapped_column(String(NAME_MAX))
    role: Mapped[str] = mapped_column(String(NAME_MAX))
    # Comma-separated Dimension values, in a fixed order.
    dimensions: Mapped[str] = mapped_column(String(100), default="")
    help_text: Mapped[str] = mapped_column(Text, default="")
    preferred_format: Mapped[SessionFormat] = mapped_column(_enum(SessionFormat))
    availability: Mapped[str] = mapped_column(String(DETAIL_MAX), default="")
    consent_at: Mapped[datetime] = mapped_column(UTCDateTime)
    status: Mapped[LeadStatus] = mapped_column(_enum(LeadStatus), default=LeadStatus.NEW)
    status_reason: Mapped[str] = mapped_column(Text, default="")
    first_contacted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    assigned_coach_id: Mapped[int | None] = mapped_column(ForeignKey("coach.id"))
    # Set when the leader's personal data was erased (on request or by retention): the row
    # stays, without it, so counts by status, date and dimension still add up.
    erased_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    assigned_coach: Mapped[Coach | None] = relationship(lazy="joined")
    events: Mapped[list[LeadEvent]] = relationship(
        back_populates="lead", order_by="LeadEvent.id", cascade="all, delete-orphan"
    )
    notes: Mapped[list[Note]] = relationship(
        back_populates="lead", order_by="Note.id", cascade="all, delete-orphan"
    )

    @property
    def dimension_list(self) -> list[Dimension]:
        return [Dimension(d) for d in self.dimensions.split(",") if d]


class LeadCount(Model):
    """How many leads have each status, coach and set of dimensions: the counts beside the
    list's status filter, read from a few hundred rows at most instead of every lead.

    Kept in step by database triggers on `lead` (migration 0018), in the transaction of the
    write, so every path that inserts, changes or deletes a lead (the workflow, an erasure, an
    operator's SQL) keeps it right. Nothing in the app writes it.
    """

    __tablename__ = "lead_count"

    status: Mapped[LeadStatus] = mapped_column(_enum(LeadStatus), primary_key=True)
    # The assigned coach's id, 0 for "not assigned" (a key column cannot be NULL).
    coach_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # Lead.dimensions as stored (comma-separated, in a fixed order).
    dimensions: Mapped[str] = mapped_column(String(100), primary_key=True)
    n: Mapped[int] = mapped_column(Integer)


class FormReceipt(Model):
    """Each accepted registration form's one-time token: a replay or double click is a no-op."""

    __tablename__ = "form_receipt"

    token: Mapped[str] = mapped_column(String(64), primary_key=True)
    lead_id: Mapped[int] = mapped_column(ForeignKey("lead.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class LeadEvent(Model):
    """The lead's history: every change, what, who (coach or None for the leader/system), when."""

    __tablename__ = "lead_event"

    id: Mapped[int] = mapped_column(primary_key=True)
    lead_id: Mapped[int] = mapped_column(ForeignKey("lead.id", ondelete="CASCADE"), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    actor_coach_id: Mapped[int | None] = mapped_column(ForeignKey("coach.id"))
    actor_label: Mapped[str] = mapped_column(String(200), default="")
    kind: Mapped[str] = mapped_column(String(40))
    summary: Mapped[str] = mapped_column(Text)
    detail_json: Mapped[str] = mapped_column(Text, default="{}")

    lead: Mapped[Lead] = relationship(back_populates="events")
    actor: Mapped[Coach | None] = relationship()

    @property
    def detail(self) -> dict[str, Any]:
        return dict(json.loads(self.detail_json or "{}"))


class Note(Model):
    __tablename__ = "note"

    id: Mapped[int] = mapped_column(primary_key=True)
    lead_id: Mapped[int] = mapped_column(ForeignKey("lead.id", ondelete="CASCADE"), index=True)
    coach_id: Mapped[int] = mapped_column(ForeignKey("coach.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    body: Mapped[str] = mapped_column(Text)

    lead: Mapped[Lead] = relationship(back_populates="notes")
    coach: Mapped[Coach] = relationship()


class Proposal(Model):
    """One round of times a coach offered a leader."""

    __tablename__ = "proposal"
    # The coach's home page: "none of the times suit" answers.
    __table_args__ = (Index("ix_proposal_status", "status"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    lead_id: Mapped[int] = mapped_column(ForeignKey("lead.id", ondelete="CASCADE"), index=True)
    coach_id: Mapped[int] = mapped_column(ForeignKey("coach.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    status: Mapped[ProposalStatus] = mapped_column(
        _enum(ProposalStatus), default=ProposalStatus.OPEN
    )
    leader_note: Mapped[str] = mapped_column(Text, default="")
    responded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Set when these are new times for a booked session (the leader asked to move it): picking
    # one moves that session (same calendar entry) instead of booking a second one.
    # use_alter: coaching_session -> proposed_time -> proposal -> coaching_session is a cycle,
    # which SQLAlchemy can only order for CREATE/DROP when one link is added afterwards.
    moves_session_id: Mapped[int | None] = mapped_column(
        ForeignKey("coaching_session.id", ondelete="CASCADE", use_alter=True)
    )

    lead: Mapped[Lead] = relationship()
    coach: Mapped[Coach] = relationship()
    moves_session: Mapped[CoachingSession | None] = relationship()
    times: Mapped[list[ProposedTime]] = relationship(
        back_populates="proposal", order_by="ProposedTime.starts_at", cascade="all, delete-orphan"
    )


class ProposedTime(Model):
    __tablename__ = "proposed_time"

    id: Mapped[int] = mapped_column(primary_key=True)
    proposal_id: Mapped[int] = mapped_column(
        ForeignKey("proposal.id", ondelete="CASCADE"), index=True
    )
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime)
    format: Mapped[SessionFormat] = mapped_column(_enum(SessionFormat))
    # The joining link, the number to call or the address, by format.
    join_detail: Mapped[str] = mapped_column(String(DETAIL_MAX), default="")

    proposal: Mapped[Proposal] = relationship(back_populates="times")


class CoachingSession(Model):
    """An agreed session. Its UID and rising SEQUENCE identify one calendar entry for life."""

    __tablename__ = "coaching_session"
    __table_args__ = (
        # No coach is ever booked twice at one start time, and a lead has one live session.
        Index(
            "uq_coaching_session_coach_slot",
            "coach_id",
            "starts_at",
            unique=True,
            sqlite_where=text("status = 'booked'"),
            postgresql_where=text("status = 'booked'"),
        ),
        Index(
            "uq_coaching_session_live_lead",
            "lead_id",
            unique=True,
            sqlite_where=text("status = 'booked'"),
            postgresql_where=text("status = 'booked'"),
        ),
        Index("ix_coaching_session_coach_start", "coach_id", "starts_at"),
        # The coach's home page finds booked sessions that need them (started, declined, asked
        # to move) from this, not by walking every lead; it also covers the sessions-per-coach
        # report, which then reads no table rows.
        Index("ix_coaching_session_status_start", "status", "starts_at", "coach_id", "lead_id"),
        # A lead's journey (its sessions by status), and the reports' funnel and held counts.
        Index("ix_coaching_session_lead_status", "lead_id", "status"),
        # Nor at overlapping times. The workflow checks for a clash first (with a message that
        # names the other session), but on PostgreSQL two transactions can both pass that check
        # before either commits; this constraint makes the second wait and then fail, which the
        # views turn into "that time was taken". SQLite serialises writers (BEGIN IMMEDIATE), so
        # there the check alone is enough.
        ExcludeConstraint(
            ("coach_id", "="),
            (
                func.tstzrange(column("starts_at"), column("ends_at"), literal_column("'[)'")),
                "&&",
            ),
            name="ex_coaching_session_coach_overlap",
            using="gist",
            where=text("status = 'booked'"),
            info={"only_on": "postgresql"},
        ).ddl_if(dialect="postgresql"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    lead_id: Mapped[int] = mapped_column(ForeignKey("lead.id", ondelete="CASCADE"))
    coach_id: Mapped[int] = mapped_column(ForeignKey("coach.id"))
    proposed_time_id: Mapped[int | None] = mapped_column(ForeignKey("proposed_time.id"))
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime)
    format: Mapped[SessionFormat] = mapped_column(_enum(SessionFormat))
    join_detail: Mapped[str] = mapped_column(String(DETAIL_MAX), default="")
    uid: Mapped[str] = mapped_column(String(120), unique=True)
    sequence: Mapped[int] = mapped_column(Integer, default=0)
    status: Mapped[SessionStatus] = mapped_column(
        _enum(SessionStatus), default=SessionStatus.BOOKED
    )
    leader_partstat: Mapped[PartStat] = mapped_column(
        _enum(PartStat, "leader_partstat"), default=PartStat.NEEDS_ACTION
    )
    coach_partstat: Mapped[PartStat] = mapped_column(
        _enum(PartStat, "coach_partstat"), default=PartStat.NEEDS_ACTION
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    cancel_reason: Mapped[str] = mapped_column(Text, default="")
    # The leader's open request for a different time (from their session page, or "none of
    # the new times suit"): set by the request, cleared when the session moves, new times are
    # offered or it is cancelled. Both None when there is no open request.
    new_time_requested_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    new_time_request_note: Mapped[str | None] = mapped_column(Text)

    lead: Mapped[Lead] = relationship()
    coach: Mapped[Coach] = relationship()

    def set_new_time_request(self, at: datetime, note: str) -> None:
        self.new_time_requested_at = at
        self.new_time_request_note = note

    def clear_new_time_request(self) -> None:
        self.new_time_requested_at = None
        self.new_time_request_note = None


class QuestionnaireResponse(Model):
    __tablename__ = "questionnaire_response"

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(
        ForeignKey("coaching_session.id", ondelete="CASCADE"), unique=True
    )
    answers_json: Mapped[str] = mapped_column(Text, default="{}")
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    session: Mapped[CoachingSession] = relationship()

    @property
    def answers(self) -> dict[str, Any]:
        return dict(json.loads(self.answers_json or "{}"))


class SelfRating(Model):
    """A leader's self-rating on one dimension: before the first session (from the reflection
    questionnaire) or after the journey (the follow-up). A row each, so reports average them
    in SQL; one per lead, kind and dimension (answering again replaces the value)."""

    __tablename__ = "self_rating"
    __table_args__ = (
        UniqueConstraint("lead_id", "kind", "dimension", name="uq_self_rating_lead_kind_dimension"),
        Index("ix_self_rating_kind_dimension", "kind", "dimension", "lead_id"),
        # the outcomes report: the follow-up answers of a range of months
        Index("ix_self_rating_kind_created", "kind", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    lead_id: Mapped[int] = mapped_column(ForeignKey("lead.id", ondelete="CASCADE"))
    session_id: Mapped[int | None] = mapped_column(
        ForeignKey("coaching_session.id", ondelete="SET NULL")
    )
    kind: Mapped[RatingKind] = mapped_column(_enum(RatingKind))
    dimension: Mapped[Dimension] = mapped_column(_enum(Dimension, "rating_dimension"))
    value: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ReportSnapshot(Model):
    """One monthly report table's rows for the finished months of the report's window, for
    every organisation ('') or one: kept so the reports page counts only the current month
    (booking/report_store.py). Counts and coach names only, never a leader's data."""

    __tablename__ = "report_snapshot"
    __table_args__ = (UniqueConstraint("organisation", "table_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    organisation: Mapped[str] = mapped_column(String(200))
    table_key: Mapped[str] = mapped_column(String(40))
    first_month: Mapped[str] = mapped_column(String(7))  # 'YYYY-MM'
    last_month: Mapped[str] = mapped_column(String(7))
    computed_at: Mapped[datetime] = mapped_column(UTCDateTime)
    rows_json: Mapped[str] = mapped_column(Text)


class SessionNote(Model):
    """The coach's record of a held session: private notes, and the actions agreed (which the
    leader is emailed only when the coach chooses: `actions_sent_at`)."""

    __tablename__ = "session_note"

    session_id: Mapped[int] = mapped_column(
        ForeignKey("coaching_session.id", ondelete="CASCADE"), primary_key=True
    )
    coach_id: Mapped[int] = mapped_column(ForeignKey("coach.id"))
    notes: Mapped[str] = mapped_column(Text, default="")
    actions: Mapped[str] = mapped_column(Text, default="")
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    actions_sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class FollowUp(Model):
    """The follow-up questionnaire of a closed journey: due a set time after the last held
    session, sent once, reminded once, unless answered or cancelled (withdrawal, erasure)."""

    __tablename__ = "follow_up"
    __table_args__ = (Index("ix_follow_up_due", "cancelled_at", "answered_at", "due_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    lead_id: Mapped[int] = mapped_column(ForeignKey("lead.id", ondelete="CASCADE"), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    due_at: Mapped[datetime] = mapped_column(UTCDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    reminder_sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    lead: Mapped[Lead] = relationship()


class OutboxMessage(Model):
    """A composed email waiting to be sent (or sent). Written in the transaction that caused it."""

    __tablename__ = "outbox_message"
    __table_args__ = (Index("ix_outbox_message_status_due", "status", "due_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    due_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    kind: Mapped[str] = mapped_column(String(40))
    lead_id: Mapped[int | None] = mapped_column(
        ForeignKey("lead.id", ondelete="SET NULL"), index=True
    )
    session_id: Mapped[int | None] = mapped_column(
        ForeignKey("coaching_session.id", ondelete="SET NULL"), index=True
    )
    message_id: Mapped[str] = mapped_column(String(250), unique=True)
    sender: Mapped[str] = mapped_column(String(320))
    recipients_json: Mapped[str] = mapped_column(Text)
    subject: Mapped[str] = mapped_column(String(300))
    body_text: Mapped[str] = mapped_column(Text)
    body_html: Mapped[str] = mapped_column(Text, default="")
    calendar: Mapped[str | None] = mapped_column(Text)
    calendar_method: Mapped[str | None] = mapped_column(String(20))
    # "Name <address>" of the person a reply should reach (the leader's coach), or None.
    reply_to: Mapped[str | None] = mapped_column(String(320))
    # JSON list of {"filename", "content_type", "data_b64"}.
    attachments_json: Mapped[str] = mapped_column(Text, default="[]")
    status: Mapped[OutboxStatus] = mapped_column(_enum(OutboxStatus), default=OutboxStatus.PENDING)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str] = mapped_column(Text, default="")
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # A fresh random value each time a worker claims the row: a worker writes to the row (and
    # sends it) only while the token is still the one it wrote, so a row taken over after its
    # lease ran out is never sent by the worker that lost it.
    claim_token: Mapped[str | None] = mapped_column(String(32))
    # How many sends ended with the outcome unknown (see OutboxStatus.UNKNOWN): after the first
    # the message is tried once more, after the second never again by itself.
    unknown_outcomes: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The body is still to be written, from the lead, just before the first send (a
    # registration's emails: see emails.COMPOSED_AT_SEND); then it is kept, and this is false.
    compose_at_send: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())

    @property
    def recipients(self) -> list[str]:
        return list(json.loads(self.recipients_json))


class CoachDigest(Model):
    """One coach's daily digest email: at most one per coach and (local) day, so running the
    digest command twice the same day, or in two processes at once, sends one."""

    __tablename__ = "coach_digest"
    __table_args__ = (UniqueConstraint("coach_id", "day"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    coach_id: Mapped[int] = mapped_column(ForeignKey("coach.id", ondelete="CASCADE"))
    day: Mapped[date] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    outbox_message_id: Mapped[int | None] = mapped_column(
        ForeignKey("outbox_message.id", ondelete="SET NULL")
    )


class CoachNotice(Model):
    """Something a digest coach is to be told about in their next digest. Written in the
    transaction of the event itself; `digest_id` is set in the transaction that queues the
    digest listing it. The leader's name is not copied here: the digest reads it from the
    lead, so an erasure leaves nothing behind."""

    __tablename__ = "coach_notice"
    __table_args__ = (Index("ix_coach_notice_coach_digest", "coach_id", "digest_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    coach_id: Mapped[int] = mapped_column(ForeignKey("coach.id", ondelete="CASCADE"))
    lead_id: Mapped[int] = mapped_column(ForeignKey("lead.id", ondelete="CASCADE"), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    kind: Mapped[str] = mapped_column(String(40))
    summary: Mapped[str] = mapped_column(String(300))
    digest_id: Mapped[int | None] = mapped_column(
        ForeignKey("coach_digest.id", ondelete="SET NULL")
    )

    lead: Mapped[Lead] = relationship()


class CalendarKind(enum.StrEnum):
    CALDAV = "caldav"
    FEED = "feed"

    @property
    def label(self) -> str:
        return {"caldav": "CalDAV calendar", "feed": "iCalendar feed"}[self.value]


class CoachCalendar(Model):
    """One of a coach's own calendars, read for busy times by `flask calendars sync`.

    The URL (a feed's URL is itself a secret address) and the app password are stored
    encrypted with CALENDAR_SECRET_KEY (booking/calendars.py); they are never shown back.
    """

    __tablename__ = "coach_calendar"

    id: Mapped[int] = mapped_column(primary_key=True)
    coach_id: Mapped[int] = mapped_column(ForeignKey("coach.id", ondelete="CASCADE"), index=True)
    kind: Mapped[CalendarKind] = mapped_column(_enum(CalendarKind, "calendar_kind"))
    name: Mapped[str] = mapped_column(String(NAME_MAX))
    url_encrypted: Mapped[str] = mapped_column(Text)
    username: Mapped[str] = mapped_column(String(EMAIL_MAX), default="")
    password_encrypted: Mapped[str] = mapped_column(Text, default="")
    # CalDAV only: booked sessions are written into this calendar.
    add_sessions: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # The last sync that read the calendar; since when it has failed, and why (plain words).
    last_success_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    failing_since: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str] = mapped_column(Text, default="")

    coach: Mapped[Coach] = relationship()


class CoachAvailability(Model):
    """When a coach can be booked: session length, buffer, notice and horizon (one row a coach).

    Hours live in CoachHours as local wall-clock times in the firm's zone (Settings.timezone),
    so 09:00 stays 09:00 across the clock changes; booking/availability.py turns them into UTC
    slots day by day.
    """

    __tablename__ = "coach_availability"

    coach_id: Mapped[int] = mapped_column(
        ForeignKey("coach.id", ondelete="CASCADE"), primary_key=True
    )
    session_minutes: Mapped[int] = mapped_column(Integer, default=60)
    buffer_minutes: Mapped[int] = mapped_column(Integer, default=15)
    notice_working_days: Mapped[int] = mapped_column(Integer, default=1)
    horizon_days: Mapped[int] = mapped_column(Integer, default=42)
    # How a session booked by the leader takes place: the format and its joining detail.
    format: Mapped[SessionFormat] = mapped_column(_enum(SessionFormat), default=SessionFormat.VIDEO)
    join_detail: Mapped[str] = mapped_column(String(DETAIL_MAX), default="")
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    coach: Mapped[Coach] = relationship()


class BusyTime(Model):
    """A busy interval read from a coach's own calendar (UTC), replaced whole at each sync."""

    __tablename__ = "calendar_busy_time"
    __table_args__ = (Index("ix_calendar_busy_time_coach_start", "coach_id", "starts_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    coach_id: Mapped[int] = mapped_column(ForeignKey("coach.id", ondelete="CASCADE"))
    calendar_id: Mapped[int] = mapped_column(
        ForeignKey("coach_calendar.id", ondelete="CASCADE"), index=True
    )
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime)


class CalendarWrite(Model):
    """A booked session to write into (or remove from) a coach's CalDAV calendar.

    Queued in the transaction that books, moves or cancels the session; done by
    `flask calendars push` with retries, never inside a web request. A "put" writes the
    session as it is when the worker runs, so a later move needs no ordering care.
    """

    __tablename__ = "calendar_write"
    __table_args__ = (Index("ix_calendar_write_status_due", "status", "due_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    calendar_id: Mapped[int] = mapped_column(
        ForeignKey("coach_calendar.id", ondelete="CASCADE"), index=True
    )
    session_id: Mapped[int | None] = mapped_column(
        ForeignKey("coaching_session.id", ondelete="SET NULL"), index=True
    )
    uid: Mapped[str] = mapped_column(String(120))
    # "put" or "delete"
    action: Mapped[str] = mapped_column(String(10))
    # "pending", "done" or "failed" (gave up after CALENDAR_WRITE_MAX_ATTEMPTS)
    status: Mapped[str] = mapped_column(String(10), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    due_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    done_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str] = mapped_column(Text, default="")


class CoachHours(Model):
    """One line of a coach's hours (local times in the firm's zone), one of three kinds:
    weekly (weekday + range), a day off (day, no range), or a one-off extra time (day + range)."""

    __tablename__ = "coach_hours"
    __table_args__ = (
        CheckConstraint(
            "(weekday IS NOT NULL AND day IS NULL AND starts IS NOT NULL AND ends IS NOT NULL)"
            " OR (weekday IS NULL AND day IS NOT NULL"
            " AND ((starts IS NULL AND ends IS NULL)"
            " OR (starts IS NOT NULL AND ends IS NOT NULL)))",
            name="kind",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    coach_id: Mapped[int] = mapped_column(ForeignKey("coach.id", ondelete="CASCADE"), index=True)
    weekday: Mapped[int | None] = mapped_column(Integer)  # Monday=0 … Sunday=6
    day: Mapped[date | None] = mapped_column(Date)
    starts: Mapped[time | None] = mapped_column(Time)
    ends: Mapped[time | None] = mapped_column(Time)


__all__ = [
    "CLOSED_STATUSES",
    "CoachDigest",
    "CoachNotice",
    "BusyTime",
    "CalendarWrite",
    "CalendarKind",
    "CoachCalendar",
    "DIMENSION_LABELS",
    "FORMAT_LABELS",
    "Coach",
    "CoachPhoto",
    "CoachAvailability",
    "CoachHours",
    "CoachSignIn",
    "CoachingSession",
    "Dimension",
    "FollowUp",
    "FormReceipt",
    "Lead",
    "LeadEvent",
    "LeadStatus",
    "LoginFailure",
    "Note",
    "OutboxMessage",
    "OutboxStatus",
    "PartStat",
    "Proposal",
    "ProposalStatus",
    "ProposedTime",
    "QuestionnaireResponse",
    "RATED_DIMENSIONS",
    "RatingKind",
    "SelfRating",
    "SessionNote",
    "SessionFormat",
    "SessionStatus",
    "UTCDateTime",
    "utcnow",
]

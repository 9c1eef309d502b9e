"""The database tables. Change them only together with a new Alembic migration."""
from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes in, aware UTC datetimes out, on every backend."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the store; use an aware UTC datetime")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None,
                             dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC)


class Base(DeclarativeBase):
    pass


class MessageRow(Base):
    __tablename__ = "messages"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    source: Mapped[str] = mapped_column(String(16))                  # imap | smtp | cli
    inbox: Mapped[str | None] = mapped_column(String(100))
    folder: Mapped[str | None] = mapped_column(String(255))
    uidvalidity: Mapped[int | None] = mapped_column(BigInteger)
    uid: Mapped[int | None] = mapped_column(BigInteger)
    raw: Mapped[bytes] = mapped_column(LargeBinary)
    content_hash: Mapped[str] = mapped_column(String(64))
    message_id: Mapped[str | None] = mapped_column(String(998))
    received_at: Mapped[datetime] = mapped_column(UTCDateTime)
    deadline_at: Mapped[datetime] = mapped_column(UTCDateTime)
    stage: Mapped[str] = mapped_column(String(16), index=True)
    from_addr: Mapped[str | None] = mapped_column(String(320))
    customer_addr: Mapped[str | None] = mapped_column(String(320), index=True)
    subject: Mapped[str | None] = mapped_column(Text)
    language: Mapped[str | None] = mapped_column(String(16))
    skip_rule: Mapped[str | None] = mapped_column(String(64))
    skip_reason: Mapped[str | None] = mapped_column(Text)
    hostility: Mapped[float | None] = mapped_column(Float)
    hostility_labels: Mapped[list[str] | None] = mapped_column(JSON)
    hostility_evidence: Mapped[list[str] | None] = mapped_column(JSON)
    intent: Mapped[str | None] = mapped_column(String(64))
    intent_confidence: Mapped[float | None] = mapped_column(Float)
    release_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    error: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # the hold's band and the rule that set release_at (core.cooling; migration 0006)
    hold_band: Mapped[str | None] = mapped_column(String(64))
    hold_rule: Mapped[str | None] = mapped_column(String(32))
    # the deadline watch (app/deadlines.py): escalated to the owner / deadline missed
    escalated_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    deadline_missed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # which model versions judged the message (hostility and intent; migration 0004)
    model_version: Mapped[str | None] = mapped_column(String(255))
    # the conversation (core/conversation.py, migration 0005): the id of its first
    # message; the order number the message names (grouping reads it)
    conversation_id: Mapped[int | None] = mapped_column(Integer, index=True)
    order_number: Mapped[str | None] = mapped_column(String(64))
    # reputation threats in the customer's own words, found at decision time
    # (core/threats.py; migration 0008): [{"kind", "cue", "evidence"}]; NULL = not looked for
    reputation_threats: Mapped[list[dict[str, str]] | None] = mapped_column(JSON)

    draft: Mapped[DraftRow | None] = relationship(back_populates="message", uselist=False)
    events: Mapped[list[EventRow]] = relationship(back_populates="message",
                                                    order_by="EventRow.id")

    __table_args__ = (
        UniqueConstraint("content_hash", name="uq_messages_content_hash"),
        Index("ix_messages_message_id", "message_id"),
        Index("ix_messages_inbox_uid", "inbox", "folder", "uidvalidity", "uid"),
    )


class DraftRow(Base):
    __tablename__ = "drafts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    message_pk: Mapped[int] = mapped_column(ForeignKey("messages.id"), unique=True)
    to_addr: Mapped[str] = mapped_column(String(320))
    to_name: Mapped[str] = mapped_column(String(320))
    from_addr: Mapped[str] = mapped_column(String(320))
    subject: Mapped[str] = mapped_column(Text)
    body: Mapped[str] = mapped_column(Text)
    html_body: Mapped[str | None] = mapped_column(Text)
    in_reply_to: Mapped[str | None] = mapped_column(String(998))
    references: Mapped[list[str]] = mapped_column(JSON)
    template: Mapped[str] = mapped_column(String(255))
    language: Mapped[str] = mapped_column(String(16))
    fallback_language: Mapped[bool] = mapped_column(Boolean, default=False)
    notes: Mapped[list[str]] = mapped_column(JSON)
    edited: Mapped[bool] = mapped_column(Boolean, default=False)
    reply_message_id: Mapped[str | None] = mapped_column(String(998), unique=True)
    approved_by: Mapped[str | None] = mapped_column(String(255))
    approved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    send_attempts: Mapped[int] = mapped_column(Integer, default=0)
    send_error: Mapped[str | None] = mapped_column(Text)
    # who holds the current send attempt ("host:pid:token") and since when (stage sending)
    send_owner: Mapped[str | None] = mapped_column(String(255))
    send_started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # the message whose draft answers this one now (the customer wrote again; this
    # draft is kept as it was, for the audit trail; migration 0005)
    superseded_by: Mapped[int | None] = mapped_column(Integer, index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)

    message: Mapped[MessageRow] = relationship(back_populates="draft")


class EventRow(Base):
    """The audit trail: every stage change, edit and override, with who and why."""

    __tablename__ = "events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    message_pk: Mapped[int] = mapped_column(ForeignKey("messages.id"), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    from_stage: Mapped[str | None] = mapped_column(String(16))
    to_stage: Mapped[str] = mapped_column(String(16))
    actor: Mapped[str] = mapped_column(String(255))     # "system", "rep:alice", "scheduler"
    action: Mapped[str] = mapped_column(String(64))     # "stored", "screened", "edited", ...
    reason: Mapped[str] = mapped_column(Text)

    message: Mapped[MessageRow] = relationship(back_populates="events")


class FolderStateRow(Base):
    """Per inbox folder: the UIDVALIDITY we saw and the highest UID stored."""

    __tablename__ = "folder_state"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    inbox: Mapped[str] = mapped_column(String(100))
    folder: Mapped[str] = mapped_column(String(255))
    uidvalidity: Mapped[int] = mapped_column(BigInteger)
    last_uid: Mapped[int] = mapped_column(BigInteger)
    highest_modseq: Mapped[int | None] = mapped_column(BigInteger)
    last_sync_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (UniqueConstraint("inbox", "folder", name="uq_folder_state"),)


# ---- cluster mode (responder/cluster, migration 0007) ----------------------------------
class ClusterWorkerRow(Base):
    """A ``responder worker`` process: alive while its heartbeat is younger than a lease."""

    __tablename__ = "cluster_workers"

    worker_id: Mapped[str] = mapped_column(String(255), primary_key=True)  # host:pid:random
    host: Mapped[str] = mapped_column(String(255))
    pid: Mapped[int] = mapped_column(Integer)
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    heartbeat_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    stopped_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class InboxLeaseRow(Base):
    """Who watches an inbox: the owner, until ``expires_at`` (the database's clock), under
    fencing ``token`` (raised by one at every take-over; writes carry and check it)."""

    __tablename__ = "inbox_leases"

    inbox: Mapped[str] = mapped_column(String(100), primary_key=True)
    owner: Mapped[str | None] = mapped_column(String(255), index=True)
    token: Mapped[int] = mapped_column(BigInteger, server_default="0")
    acquired_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    heartbeat_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class LabelRow(Base):
    """A rep's correction of a model (migration 0004): learning data for ``responder
    train``. Keeps the customer's own words as the model saw them, so training never
    parses mail again, and what the model said at the time."""

    __tablename__ = "labels"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    message_pk: Mapped[int] = mapped_column(ForeignKey("messages.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))          # hostility | intent | language
    value: Mapped[str] = mapped_column(String(64))         # "hostile", "not_hostile", an intent
    model_value: Mapped[str | None] = mapped_column(String(64))
    model_score: Mapped[float | None] = mapped_column(Float)
    model_version: Mapped[str | None] = mapped_column(String(255))
    action: Mapped[str] = mapped_column(String(64))        # the rep action that said so
    actor: Mapped[str] = mapped_column(String(255))
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    language: Mapped[str | None] = mapped_column(String(16))
    subject: Mapped[str | None] = mapped_column(Text)
    text: Mapped[str] = mapped_column(Text)                # the customer's own words

    __table_args__ = (Index("ix_labels_kind_message", "kind", "message_pk"),)


# ---- owner notices: the outbox (migration 0006; store/notices.py, mail/notices.py) --------
class NoticeRow(Base):
    """An e-mail to the shop owner (a deadline notice, the daily digest), sent exactly
    once: made once per (kind, ref, day), claimed by a compare-and-set before SMTP, with
    a Message-ID chosen when it is made."""

    __tablename__ = "notices"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))          # deadline | digest
    ref: Mapped[str] = mapped_column(String(64))           # the message id, "" for a digest
    day: Mapped[str] = mapped_column(String(10))           # local date (YYYY-MM-DD)
    message_pk: Mapped[int | None] = mapped_column(ForeignKey("messages.id"), index=True)
    to_addr: Mapped[str] = mapped_column(String(320))
    from_addr: Mapped[str] = mapped_column(String(320))
    subject: Mapped[str] = mapped_column(Text)
    body: Mapped[str] = mapped_column(Text)
    message_id: Mapped[str] = mapped_column(String(998), unique=True)
    # pending -> sending -> sent; sending -> pending (definitely not handed over),
    # uncertain (may have gone out: a person decides) or failed (refused for good)
    state: Mapped[str] = mapped_column(String(16), index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text)
    owner: Mapped[str | None] = mapped_column(String(255))
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    data_at: Mapped[datetime | None] = mapped_column(UTCDateTime)   # DATA began
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (UniqueConstraint("kind", "ref", "day", name="uq_notices_kind_ref_day"),)

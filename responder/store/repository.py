"""The one storage interface the rest of responder uses.

Every write that moves a message also writes an audit event in the same
transaction, so the trail can never disagree with the state. Stage changes are
compare-and-set (``expect=``): two workers, or a retry after a crash, cannot
both move the same message.
"""
from __future__ import annotations

import builtins
import hashlib
import logging
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import asdict
from datetime import datetime
from typing import Any, cast

from sqlalchemy import create_engine, event, exists, func, select, update
from sqlalchemy.engine import CursorResult, Engine
from sqlalchemy.engine.interfaces import DBAPIConnection
from sqlalchemy.orm import Session, selectinload, sessionmaker
from sqlalchemy.pool import ConnectionPoolEntry

from responder.core.model import Draft, Stage
from responder.store import migrations
from responder.store.tables import DraftRow, EventRow, FolderStateRow, MessageRow

log = logging.getLogger(__name__)


class StageConflict(Exception):
    """The message was not in the expected stage (someone else moved it)."""


def content_hash(raw: bytes) -> str:
    return hashlib.sha256(raw).hexdigest()


def make_engine(url: str) -> Engine:
    kwargs: dict[str, Any] = {}
    if url.startswith("sqlite"):
        kwargs["connect_args"] = {"timeout": 30, "check_same_thread": False}
    engine = create_engine(url, future=True, **kwargs)
    if url.startswith("sqlite"):
        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: DBAPIConnection,
                            _record: ConnectionPoolEntry) -> None:  # pragma: no cover - trivial
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA synchronous=FULL")
            cur.close()
    return engine


def open_repository(url: str, migrate: bool = True) -> Repository:
    """Open the database at ``url`` and bring its schema up to date."""
    engine = make_engine(url)
    if migrate:
        migrations.upgrade(engine)
    return Repository(engine)


class Repository:
    def __init__(self, engine: Engine):
        self.engine = engine
        self._sessions = sessionmaker(engine, expire_on_commit=False, future=True)

    @contextmanager
    def session(self) -> Iterator[Session]:
        with self._sessions() as session:
            with session.begin():
                yield session

    # ---- intake -------------------------------------------------------------------
    def store_raw(self, raw: bytes, *, source: str, received_at: datetime,
                  deadline_at: datetime, message_id: str | None = None,
                  inbox: str | None = None, folder: str | None = None,
                  uidvalidity: int | None = None, uid: int | None = None,
                  actor: str = "system") -> tuple[int, bool]:
        """Store the exact bytes before anything else. Returns (pk, is_new).

        A message already stored (same bytes, or same Message-ID) is not stored
        twice: its pk comes back with is_new False.
        """
        digest = content_hash(raw)
        with self.session() as s:
            existing = s.scalar(select(MessageRow.id).where(MessageRow.content_hash == digest))
            if existing is None and message_id:
                existing = s.scalar(select(MessageRow.id)
                                    .where(MessageRow.message_id == message_id).limit(1))
            if existing is not None:
                return existing, False
            row = MessageRow(source=source, inbox=inbox, folder=folder,
                             uidvalidity=uidvalidity, uid=uid, raw=raw,
                             content_hash=digest, message_id=message_id,
                             received_at=received_at, deadline_at=deadline_at,
                             stage=Stage.RECEIVED.value, updated_at=received_at)
            s.add(row)
            s.flush()
            s.add(EventRow(message_pk=row.id, at=received_at, from_stage=None,
                           to_stage=Stage.RECEIVED.value, actor=actor, action="stored",
                           reason=f"stored {len(raw)} bytes from {source}"
                                  + (f" {inbox}/{folder} uid {uid}" if uid is not None else "")))
            return row.id, True

    def is_known(self, raw: bytes, message_id: str | None) -> bool:
        with self.session() as s:
            if s.scalar(select(MessageRow.id).where(MessageRow.content_hash == content_hash(raw))):
                return True
            if message_id and s.scalar(select(MessageRow.id)
                                       .where(MessageRow.message_id == message_id).limit(1)):
                return True
        return False

    # ---- reading ------------------------------------------------------------------
    def get(self, pk: int) -> MessageRow:
        with self.session() as s:
            row = s.scalar(select(MessageRow).where(MessageRow.id == pk)
                           .options(selectinload(MessageRow.draft),
                                    selectinload(MessageRow.events)))
            if row is None:
                raise KeyError(f"no message #{pk}")
            return row

    def list(self, stages: Iterable[Stage] | None = None,
             limit: int = 200) -> builtins.list[MessageRow]:
        """Messages by reply deadline, soonest first."""
        with self.session() as s:
            q = select(MessageRow).options(selectinload(MessageRow.draft))
            if stages:
                q = q.where(MessageRow.stage.in_([st.value for st in stages]))
            q = q.order_by(MessageRow.deadline_at, MessageRow.id).limit(limit)
            return list(s.scalars(q))

    def with_message_ids(self, message_ids: Iterable[str], stages: Iterable[Stage],
                         inbox: str | None = None) -> builtins.list[MessageRow]:
        """Messages whose Message-ID is one of ``message_ids``, in ``stages`` (an
        indexed lookup, in chunks so a long References list stays one small query)."""
        ids = sorted(set(message_ids))
        wanted = [st.value for st in stages]
        found: builtins.list[MessageRow] = []
        with self.session() as s:
            for start in range(0, len(ids), 500):
                q = (select(MessageRow).options(selectinload(MessageRow.draft))
                     .where(MessageRow.message_id.in_(ids[start:start + 500]),
                            MessageRow.stage.in_(wanted)))
                if inbox is not None:
                    q = q.where(MessageRow.inbox == inbox)
                found.extend(s.scalars(q.order_by(MessageRow.id)))
        return found

    def pks_in_stage(self, stage: Stage) -> builtins.list[int]:
        with self.session() as s:
            return list(s.scalars(select(MessageRow.id).where(MessageRow.stage == stage.value)
                                  .order_by(MessageRow.id)))

    def due_releases(self, now: datetime) -> builtins.list[int]:
        with self.session() as s:
            return list(s.scalars(select(MessageRow.id)
                                  .where(MessageRow.stage == Stage.HELD.value,
                                         MessageRow.release_at <= now)
                                  .order_by(MessageRow.release_at)))

    def count_by_stage(self) -> dict[str, int]:
        with self.session() as s:
            rows = s.execute(select(MessageRow.stage, func.count()).group_by(MessageRow.stage))
            return {stage: n for stage, n in rows}

    def replied_recently(self, addr: str, since: datetime) -> bool:
        """Did we send (or start sending) a reply to ``addr`` after ``since``?

        A reply approved but not yet handed to SMTP does not count: the customer's
        next message then stops it (a conversation's follow-up, app/conversations.py)
        instead of being screened out as a loop."""
        out = (Stage.SENDING.value, Stage.UNCERTAIN.value, Stage.SENT.value)
        with self.session() as s:
            q = (select(DraftRow.id).join(MessageRow, MessageRow.id == DraftRow.message_pk)
                 .where(func.lower(DraftRow.to_addr) == addr.lower(),
                        DraftRow.approved_at.is_not(None),
                        DraftRow.approved_at >= since,
                        MessageRow.stage.in_(out)).limit(1))
            return s.scalar(q) is not None

    # ---- conversations (core/conversation.py, app/conversations.py) -------------------
    def conversation_candidates(self, ids: Iterable[str], sender: str | None,
                                since: datetime) -> builtins.list[MessageRow]:
        """Decided customer messages a new message may join: those whose Message-ID, or
        whose reply's Message-ID, is in ``ids``, and ``sender``'s since ``since``."""
        wanted = sorted({i for i in ids if i})
        undecided = (Stage.RECEIVED.value, Stage.SCORED.value, Stage.SKIPPED.value,
                     Stage.QUARANTINED.value)
        found: dict[int, MessageRow] = {}
        with self.session() as s:
            base = (select(MessageRow).options(selectinload(MessageRow.draft))
                    .where(MessageRow.conversation_id.is_not(None),
                           MessageRow.stage.not_in(undecided)))
            for start in range(0, len(wanted), 500):
                chunk = wanted[start:start + 500]
                for row in s.scalars(base.where(MessageRow.message_id.in_(chunk))):
                    found[row.id] = row
                replied = select(DraftRow.message_pk).where(DraftRow.reply_message_id.in_(chunk))
                for row in s.scalars(base.where(MessageRow.id.in_(replied))):
                    found[row.id] = row
            if sender:
                for row in s.scalars(base.where(MessageRow.customer_addr == sender,
                                                MessageRow.received_at >= since)):
                    found[row.id] = row
        return sorted(found.values(), key=lambda r: (r.received_at, r.id))

    def conversation(self, conversation_id: int) -> builtins.list[MessageRow]:
        """Every message of a conversation (with drafts), oldest first."""
        with self.session() as s:
            return list(s.scalars(select(MessageRow).options(selectinload(MessageRow.draft))
                                  .where(MessageRow.conversation_id == conversation_id)
                                  .order_by(MessageRow.received_at, MessageRow.id)))

    def repoint_superseded(self, old: int, new: int, *, now: datetime) -> builtins.list[int]:
        """Drafts superseded by message ``old``'s are now superseded by ``new``'s (the
        customer wrote once more). Returns their message ids; each gets an audit event."""
        with self.session() as s:
            pks = list(s.scalars(select(DraftRow.message_pk)
                                 .where(DraftRow.superseded_by == old)))
            if not pks:
                return []
            s.execute(update(DraftRow).where(DraftRow.superseded_by == old)
                      .values(superseded_by=new, updated_at=now)
                      .execution_options(synchronize_session=False))
            for pk in pks:
                s.add(EventRow(message_pk=pk, at=now, from_stage=Stage.SUPERSEDED.value,
                               to_stage=Stage.SUPERSEDED.value, actor="system",
                               action="superseded",
                               reason=f"now answered by the draft of #{new} (was #{old})"))
            return pks

    def events(self, pk: int) -> builtins.list[EventRow]:
        with self.session() as s:
            return list(s.scalars(select(EventRow).where(EventRow.message_pk == pk)
                                  .order_by(EventRow.id)))

    # ---- moving -------------------------------------------------------------------
    def transition(self, pk: int, to: Stage, *, actor: str, action: str, reason: str,
                   now: datetime, expect: Iterable[Stage] | None = None,
                   draft: Draft | None = None, **fields: Any) -> None:
        """Move message ``pk`` to stage ``to``, setting ``fields``, with an audit event.

        With ``expect``, the move happens only from one of those stages
        (compare-and-set), else StageConflict. ``draft`` stores the draft too.
        """
        with self.session() as s:
            row = s.get(MessageRow, pk, with_for_update=True)
            if row is None:
                raise KeyError(f"no message #{pk}")
            if expect is not None and row.stage not in {st.value for st in expect}:
                raise StageConflict(f"message #{pk} is {row.stage}, expected "
                                    + " or ".join(st.value for st in expect))
            from_stage = row.stage
            for key, value in fields.items():
                if not hasattr(MessageRow, key):
                    raise AttributeError(f"messages has no column {key}")
                setattr(row, key, value)
            row.stage = to.value
            row.updated_at = now
            if draft is not None:
                self._put_draft(s, row, draft, now)
            s.add(EventRow(message_pk=pk, at=now, from_stage=from_stage, to_stage=to.value,
                           actor=actor, action=action, reason=reason))

    def compare_and_set(self, pk: int, expect: Stage, to: Stage, *, actor: str, action: str,
                        reason: str, now: datetime, send_owner: str | None = None,
                        draft_fields: dict[str, Any] | None = None) -> bool:
        """Move message ``pk`` from ``expect`` to ``to`` in ONE conditional UPDATE.

        Returns False (and changes nothing) when the message is not in ``expect``, or,
        with ``send_owner``, when its draft's current send attempt is not that owner's.
        Unlike ``transition`` there is no read before the write, so two processes
        racing for the same message (the scheduler's send job and a CLI ``send``) on
        SQLite or PostgreSQL cannot both win. ``draft_fields`` are set on the draft in
        the same transaction; the audit event too.
        """
        with self.session() as s:
            cond = [MessageRow.id == pk, MessageRow.stage == expect.value]
            if send_owner is not None:
                cond.append(exists().where(DraftRow.message_pk == pk,
                                           DraftRow.send_owner == send_owner))
            moved = cast(CursorResult[Any],
                         s.execute(update(MessageRow).where(*cond)
                                   .values(stage=to.value, updated_at=now)
                                   .execution_options(synchronize_session=False)))
            if moved.rowcount != 1:
                return False
            if draft_fields:
                s.execute(update(DraftRow).where(DraftRow.message_pk == pk)
                          .values(**draft_fields, updated_at=now)
                          .execution_options(synchronize_session=False))
            s.add(EventRow(message_pk=pk, at=now, from_stage=expect.value, to_stage=to.value,
                           actor=actor, action=action, reason=reason))
            return True

    def record(self, pk: int, *, actor: str, action: str, reason: str, now: datetime) -> None:
        """An audit event that does not change the stage (an edit, an override)."""
        with self.session() as s:
            row = s.get(MessageRow, pk)
            if row is None:
                raise KeyError(f"no message #{pk}")
            s.add(EventRow(message_pk=pk, at=now, from_stage=row.stage, to_stage=row.stage,
                           actor=actor, action=action, reason=reason))

    def _put_draft(self, s: Session, row: MessageRow, draft: Draft, now: datetime) -> None:
        values = asdict(draft)
        existing = s.scalar(select(DraftRow).where(DraftRow.message_pk == row.id))
        if existing is None:
            existing = DraftRow(message_pk=row.id, created_at=now, edited=False,
                                send_attempts=0)
            s.add(existing)
        for key in ("to_addr", "to_name", "from_addr", "subject", "body", "html_body",
                    "in_reply_to", "references", "template", "language",
                    "fallback_language", "notes"):
            setattr(existing, key, values[key])
        existing.updated_at = now

    def update_draft(self, pk: int, *, now: datetime, **fields: Any) -> None:
        with self.session() as s:
            d = s.scalar(select(DraftRow).where(DraftRow.message_pk == pk))
            if d is None:
                raise KeyError(f"message #{pk} has no draft")
            for key, value in fields.items():
                if not hasattr(DraftRow, key):
                    raise AttributeError(f"drafts has no column {key}")
                setattr(d, key, value)
            d.updated_at = now

    # ---- inbox sync state ---------------------------------------------------------
    def folder_state(self, inbox: str, folder: str) -> FolderStateRow | None:
        with self.session() as s:
            return s.scalar(select(FolderStateRow).where(FolderStateRow.inbox == inbox,
                                                         FolderStateRow.folder == folder))

    def all_folder_states(self) -> builtins.list[FolderStateRow]:
        with self.session() as s:
            return list(s.scalars(select(FolderStateRow).order_by(FolderStateRow.inbox)))

    def save_folder_state(self, inbox: str, folder: str, *, uidvalidity: int, last_uid: int,
                          now: datetime, highest_modseq: int | None = None,
                          last_error: str | None = None) -> None:
        with self.session() as s:
            st = s.scalar(select(FolderStateRow).where(FolderStateRow.inbox == inbox,
                                                       FolderStateRow.folder == folder))
            if st is None:
                st = FolderStateRow(inbox=inbox, folder=folder, uidvalidity=uidvalidity,
                                    last_uid=last_uid)
                s.add(st)
            st.uidvalidity = uidvalidity
            st.last_uid = last_uid
            st.highest_modseq = highest_modseq
            st.last_sync_at = now
            st.last_error = last_error

    def note_folder_error(self, inbox: str, folder: str, error: str, now: datetime) -> None:
        with self.session() as s:
            s.execute(update(FolderStateRow)
                      .where(FolderStateRow.inbox == inbox, FolderStateRow.folder == folder)
                      .values(last_error=error))

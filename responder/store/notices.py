"""The deadline watch's store side and the owner-notice outbox (migration 0006).

Every write here is one transaction and, where two workers could race, one
conditional UPDATE (compare-and-set), like ``Repository.compare_and_set``:

* ``escalate`` marks a message escalated and queues its owner notice together, so a
  crash cannot leave one without the other, and a second watch run finds it marked;
  ``escalate_batch`` does the same for many messages and one summary notice;
* a notice is made once per (kind, ref, day) (unique key) with its Message-ID;
* ``claim`` moves a notice pending -> sending under an owner before any SMTP;
  ``mark_data`` records that DATA is about to begin (before it, the server provably
  has nothing); ``finish`` settles it only if the same owner still holds it.
"""
from __future__ import annotations

import builtins
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import func, select, update
from sqlalchemy.engine import CursorResult
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from responder.core.model import Stage
from responder.store.repository import Repository
from responder.store.tables import EventRow, MessageRow, NoticeRow

PENDING, SENDING, SENT, UNCERTAIN, FAILED = "pending", "sending", "sent", "uncertain", "failed"
STATES = (PENDING, SENDING, SENT, UNCERTAIN, FAILED)

# a draft still waiting for a rep's approval: what the deadline watch escalates
UNAPPROVED: tuple[Stage, ...] = (Stage.DRAFTED, Stage.HELD)
# a message whose customer still waits for an answer (a missed deadline counts)
UNANSWERED: tuple[Stage, ...] = (Stage.RECEIVED, Stage.SCORED, Stage.HELD, Stage.DRAFTED,
                                 Stage.APPROVED, Stage.SENDING, Stage.UNCERTAIN,
                                 Stage.QUARANTINED)


@dataclass(frozen=True)
class NewNotice:
    """A notice to queue: unique by (kind, ref, day)."""

    kind: str
    ref: str
    day: str
    to_addr: str
    from_addr: str
    subject: str
    body: str
    message_id: str
    message_pk: int | None = None


def _rowcount(result: Any) -> int:
    return cast(CursorResult[Any], result).rowcount


def _insert(s: Session, notice: NewNotice, now: datetime) -> bool:
    exists = s.scalar(select(NoticeRow.id).where(NoticeRow.kind == notice.kind,
                                                 NoticeRow.ref == notice.ref,
                                                 NoticeRow.day == notice.day))
    if exists is not None:
        return False
    s.add(NoticeRow(kind=notice.kind, ref=notice.ref, day=notice.day,
                    message_pk=notice.message_pk, to_addr=notice.to_addr,
                    from_addr=notice.from_addr, subject=notice.subject, body=notice.body,
                    message_id=notice.message_id, state=PENDING, attempts=0,
                    created_at=now, updated_at=now))
    return True


def queue_notice(repo: Repository, notice: NewNotice, now: datetime) -> bool:
    """Queue ``notice`` unless one with its (kind, ref, day) exists. True when queued."""
    try:
        with repo.session() as s:
            return _insert(s, notice, now)
    except IntegrityError:
        return False          # another worker queued the same one at the same moment


# ---- the deadline watch ------------------------------------------------------------------

def escalation_candidates(repo: Repository, horizon: datetime) -> builtins.list[MessageRow]:
    """Unapproved drafts, not yet escalated, whose deadline is at or before ``horizon``."""
    with repo.session() as s:
        q = (select(MessageRow).options(selectinload(MessageRow.draft))
             .where(MessageRow.stage.in_([st.value for st in UNAPPROVED]),
                    MessageRow.escalated_at.is_(None), MessageRow.deadline_at <= horizon)
             .order_by(MessageRow.deadline_at, MessageRow.id))
        return list(s.scalars(q))


def _mark_escalated(s: Session, pk: int, now: datetime, reason: str) -> bool:
    """Compare-and-set: mark message ``pk`` escalated (once, while unapproved), with its
    audit event, inside session ``s``. False when it was escalated already or moved on."""
    moved = s.execute(
        update(MessageRow)
        .where(MessageRow.id == pk, MessageRow.escalated_at.is_(None),
               MessageRow.stage.in_([st.value for st in UNAPPROVED]))
        .values(escalated_at=now)
        .execution_options(synchronize_session=False))
    if _rowcount(moved) != 1:
        return False
    stage = s.scalar(select(MessageRow.stage).where(MessageRow.id == pk))
    s.add(EventRow(message_pk=pk, at=now, from_stage=stage, to_stage=stage,
                   actor="scheduler", action="escalated", reason=reason))
    return True


def escalate(repo: Repository, pk: int, now: datetime, reason: str,
             notice: NewNotice | None) -> bool:
    """Mark message ``pk`` escalated and queue ``notice``, in one transaction.

    False (nothing changed) when it was escalated already or is no longer unapproved.
    """
    try:
        with repo.session() as s:
            if not _mark_escalated(s, pk, now, reason):
                return False
            if notice is not None:
                _insert(s, notice, now)
            return True
    except IntegrityError:
        return False


def escalate_batch(repo: Repository, reasons: dict[int, str], now: datetime,
                   summary: Callable[[builtins.list[int]], NewNotice | None]
                   ) -> builtins.list[int]:
    """Mark every message of ``reasons`` (pk -> audit reason) escalated, each by one
    compare-and-set with its audit event, then queue ``summary(marked)``: ONE notice
    for all of them, in the same transaction (a crash leaves neither). Returns the
    messages this call marked (another watcher's are left out of its summary)."""
    try:
        with repo.session() as s:
            marked: builtins.list[int] = []
            for pk, reason in sorted(reasons.items()):
                if _mark_escalated(s, pk, now, reason):
                    marked.append(pk)
            notice = summary(marked) if marked else None
            if notice is not None:
                _insert(s, notice, now)
            return marked
    except IntegrityError:
        return []

def missed_candidates(repo: Repository, now: datetime) -> builtins.list[int]:
    with repo.session() as s:
        return list(s.scalars(
            select(MessageRow.id)
            .where(MessageRow.stage.in_([st.value for st in UNANSWERED]),
                   MessageRow.deadline_missed_at.is_(None), MessageRow.deadline_at < now)
            .order_by(MessageRow.deadline_at, MessageRow.id)))


def mark_missed(repo: Repository, pk: int, now: datetime) -> bool:
    """Record once that message ``pk`` missed its reply deadline (with an audit event)."""
    with repo.session() as s:
        row = s.get(MessageRow, pk)
        if row is None:
            raise KeyError(f"no message #{pk}")
        moved = s.execute(update(MessageRow)
                          .where(MessageRow.id == pk, MessageRow.deadline_missed_at.is_(None))
                          .values(deadline_missed_at=now)
                          .execution_options(synchronize_session=False))
        if _rowcount(moved) != 1:
            return False
        s.add(EventRow(message_pk=pk, at=now, from_stage=row.stage, to_stage=row.stage,
                       actor="scheduler", action="deadline-missed",
                       reason=f"reply deadline {row.deadline_at:%Y-%m-%d %H:%M} UTC passed "
                              f"while {row.stage}"))
        return True


def deadline_counts(repo: Repository) -> tuple[int, int]:
    """(escalated drafts still waiting for a rep, messages that missed their deadline)."""
    with repo.session() as s:
        escalated = s.scalar(select(func.count()).where(
            MessageRow.escalated_at.is_not(None),
            MessageRow.stage.in_([st.value for st in UNAPPROVED])))
        missed = s.scalar(select(func.count())
                          .where(MessageRow.deadline_missed_at.is_not(None)))
        return int(escalated or 0), int(missed or 0)


# ---- the outbox ------------------------------------------------------------------------------

def get(repo: Repository, notice_id: int) -> NoticeRow:
    with repo.session() as s:
        row = s.get(NoticeRow, notice_id)
        if row is None:
            raise KeyError(f"no notice #{notice_id}")
        return row


def notices(repo: Repository, states: Iterable[str] | None = None,
            limit: int = 200) -> builtins.list[NoticeRow]:
    with repo.session() as s:
        q = select(NoticeRow)
        if states is not None:
            q = q.where(NoticeRow.state.in_(list(states)))
        return list(s.scalars(q.order_by(NoticeRow.id.desc()).limit(limit)))


def ids_in(repo: Repository, states: Sequence[str]) -> builtins.list[int]:
    with repo.session() as s:
        return list(s.scalars(select(NoticeRow.id).where(NoticeRow.state.in_(list(states)))
                              .order_by(NoticeRow.id)))


def move(repo: Repository, notice_id: int, expect: str, to: str, now: datetime, *,
         held_by: str | None = None, **values: Any) -> bool:
    """Compare-and-set the state of one notice (and ``values``), in one UPDATE; with
    ``held_by``, only while that owner holds it."""
    cond = [NoticeRow.id == notice_id, NoticeRow.state == expect]
    if held_by is not None:
        cond.append(NoticeRow.owner == held_by)
    with repo.session() as s:
        moved = s.execute(update(NoticeRow).where(*cond)
                          .values(state=to, updated_at=now, **values)
                          .execution_options(synchronize_session=False))
        return _rowcount(moved) == 1


def claim(repo: Repository, notice_id: int, owner: str, now: datetime,
          expect: str = PENDING) -> bool:
    """pending -> sending under ``owner`` (committed before any SMTP)."""
    with repo.session() as s:
        moved = s.execute(update(NoticeRow)
                          .where(NoticeRow.id == notice_id, NoticeRow.state == expect)
                          .values(state=SENDING, owner=owner, started_at=now, data_at=None,
                                  attempts=NoticeRow.attempts + 1, error=None, updated_at=now)
                          .execution_options(synchronize_session=False))
        return _rowcount(moved) == 1


def mark_data(repo: Repository, notice_id: int, owner: str, now: datetime) -> bool:
    """Record, before the DATA command, that the server may get the notice from now on."""
    with repo.session() as s:
        moved = s.execute(update(NoticeRow)
                          .where(NoticeRow.id == notice_id, NoticeRow.state == SENDING,
                                 NoticeRow.owner == owner)
                          .values(data_at=now, updated_at=now)
                          .execution_options(synchronize_session=False))
        return _rowcount(moved) == 1

"""The reps' labels (table ``labels``, migration 0004): what a rep said a model got
wrong, kept for ``responder train``.

A message may be labelled more than once (marked abusive, then not abusive): every
label is kept, and :func:`latest_labels` gives the last word per message and kind.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select

from responder.store.repository import Repository
from responder.store.tables import LabelRow, MessageRow

KINDS = ("hostility", "intent", "language")
HOSTILE = "hostile"
NOT_HOSTILE = "not_hostile"


@dataclass(frozen=True)
class NewLabel:
    """One label as an action records it."""

    message_pk: int
    kind: str
    value: str
    model_value: str | None
    model_score: float | None
    model_version: str | None
    action: str
    actor: str
    at: datetime
    language: str | None
    subject: str | None
    text: str


def add_label(repo: Repository, label: NewLabel) -> int:
    """Store one label; returns its id. The message must exist."""
    if label.kind not in KINDS:
        raise ValueError(f"unknown label kind {label.kind!r} (one of {', '.join(KINDS)})")
    if label.kind == "hostility" and label.value not in (HOSTILE, NOT_HOSTILE):
        raise ValueError(f"a hostility label is {HOSTILE} or {NOT_HOSTILE}, not {label.value!r}")
    with repo.session() as s:
        if s.get(MessageRow, label.message_pk) is None:
            raise KeyError(f"no message #{label.message_pk}")
        row = LabelRow(message_pk=label.message_pk, kind=label.kind, value=label.value,
                       model_value=label.model_value, model_score=label.model_score,
                       model_version=label.model_version, action=label.action,
                       actor=label.actor, at=label.at, language=label.language,
                       subject=label.subject, text=label.text)
        s.add(row)
        s.flush()
        return row.id


def labels_of(repo: Repository, message_pk: int) -> list[LabelRow]:
    """Every label of one message, oldest first."""
    with repo.session() as s:
        return list(s.scalars(select(LabelRow).where(LabelRow.message_pk == message_pk)
                              .order_by(LabelRow.id)))


def latest_labels(repo: Repository, kind: str) -> list[LabelRow]:
    """The last label of ``kind`` per message (the rep's final word), by message id."""
    with repo.session() as s:
        last = (select(func.max(LabelRow.id)).where(LabelRow.kind == kind)
                .group_by(LabelRow.message_pk))
        return list(s.scalars(select(LabelRow).where(LabelRow.id.in_(last))
                              .order_by(LabelRow.message_pk)))


def count_by_kind(repo: Repository) -> dict[str, int]:
    """How many messages carry a label of each kind."""
    with repo.session() as s:
        rows = s.execute(select(LabelRow.kind, func.count(func.distinct(LabelRow.message_pk)))
                         .group_by(LabelRow.kind))
        return {kind: int(n) for kind, n in rows}

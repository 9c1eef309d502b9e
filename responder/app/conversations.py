"""Conversations in the live service: a customer who writes again before the reply
is sent gets ONE reply for everything they asked.

For each newly decided message (``join``, called by ``service.process_stored``):

1. find its conversation (``core.conversation.match`` over the stored messages its
   headers name and the same sender's recent ones);
2. when the conversation has an unanswered draft (held, drafted or approved but not
   yet handed to SMTP), judge the unanswered messages as a whole (worst verdict and
   trend; the hold is set or extended by the cooling policy, never past the oldest
   unanswered message's deadline), draft one reply for all of them, and supersede
   the older draft by compare-and-set: it stays stored as it was (audit trail,
   ``drafts.superseded_by``), its message moves to stage ``superseded``. An approved
   reply is thereby stopped before it is sent: the sender's claim is a
   compare-and-set on stage ``approved`` (mail/sending.py), and the new draft tells
   the rep that the customer wrote again after they approved;
3. the new message carries the conversation's reply deadline (its oldest
   unanswered message's: the promise made for the first message stands).
"""
from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from functools import lru_cache
from typing import TYPE_CHECKING, Any, cast

from responder.core import conversation, parsing
from responder.core.model import (
    Decision,
    HostilityVerdict,
    IntentVerdict,
    ParsedMessage,
    Stage,
)

if TYPE_CHECKING:
    from responder.core.pipeline import Services
    from responder.store.repository import Repository
    from responder.store.tables import MessageRow

log = logging.getLogger(__name__)

OPEN: tuple[Stage, ...] = (Stage.HELD, Stage.DRAFTED, Stage.APPROVED)
"""An unanswered draft: a follow-up supersedes it."""

IN_FLIGHT: tuple[Stage, ...] = (Stage.SENDING, Stage.UNCERTAIN)
"""Too late to stop: the customer's new message starts a new round."""

EXCERPT = 400


@dataclass
class Joined:
    """What ``join`` decided for one message: the decision to record, the columns to
    set with it, the drafts it superseded, and a line for the audit trail."""

    decision: Decision
    fields: dict[str, Any] = field(default_factory=dict)
    superseded: list[int] = field(default_factory=list)
    note: str = ""


def window(cfg_days: float) -> timedelta:
    return timedelta(days=cfg_days)


def hostility_of(row: MessageRow) -> HostilityVerdict | None:
    if row.hostility is None:
        return None
    return HostilityVerdict(row.hostility, list(row.hostility_labels or []),
                            list(row.hostility_evidence or []))


def _known(row: MessageRow) -> conversation.Known:
    return conversation.known(
        row.conversation_id or row.id, message_id=row.message_id, sender=row.customer_addr,
        subject=row.subject, order_number=row.order_number, received_at=row.received_at,
        reply_id=row.draft.reply_message_id if row.draft is not None else None)


def find(repo: Repository, pk: int, keys: conversation.Keys,
         days: float) -> conversation.Match | None:
    """The stored conversation a message with ``keys`` belongs to (None: a new one)."""
    span = window(days)
    ids = [i for i in (keys.in_reply_to, *keys.references) if i]
    rows = [r for r in repo.conversation_candidates(ids, keys.sender,
                                                    keys.received_at - span)
            if r.id != pk]
    return conversation.match(keys, [_known(r) for r in rows], span)


@lru_cache(maxsize=256)
def _parse(raw: bytes) -> ParsedMessage:
    """Parsing is a pure function of the bytes (and the slowest part of joining a
    conversation, language detection included): a customer writing five times has
    their earlier messages parsed once, not at every follow-up. Callers never change
    the result (they ``dataclasses.replace`` it)."""
    return parsing.parse(raw)


def _asked(row: MessageRow) -> conversation.Asked | None:
    try:
        parsed = _parse(row.raw)
    except parsing.ParseError:
        return None
    intent = IntentVerdict(row.intent or "other", row.intent_confidence or 0.0)
    return conversation.Asked(row.id, parsed, intent, row.received_at)


def _turn(row: MessageRow) -> conversation.Turn:
    return conversation.Turn(row.id, row.received_at, row.deadline_at, hostility_of(row),
                             row.intent, row.intent_confidence)


def excerpt(text: str, limit: int = EXCERPT) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[:limit - 1].rstrip() + "…"


def join(repo: Repository, svc: Services, row: MessageRow, d: Decision,
         now: datetime) -> Joined:
    """Put newly decided message ``row`` (decision ``d``) into its conversation; when
    an unanswered draft is there, supersede it and answer the whole conversation."""
    if d.error is not None or d.skip is not None or d.parsed is None:
        return Joined(d)
    keys = conversation.keys_of(d.parsed, row.received_at)
    days = svc.cfg.conversations.window_days
    found = find(repo, row.id, keys, days)
    cid = cast(int, found.conversation) if found else row.id
    fields: dict[str, Any] = {"conversation_id": cid, "order_number": keys.order_number}
    how = f"joins conversation #{cid} ({found.reason})" if found else ""
    open_stages = {s.value for s in OPEN}
    for _attempt in range(5):        # an older draft may move under us: look again
        members = [m for m in repo.conversation(cid) if m.id != row.id] if found else []
        opens = [m for m in members if m.stage in open_stages]
        behind = {m.id for m in opens} | {row.id}
        older = [m for m in members if m.stage == Stage.SUPERSEDED.value
                 and m.draft is not None and m.draft.superseded_by in behind]
        if not opens and not older:
            flying = [m for m in members if m.stage in {s.value for s in IN_FLIGHT}]
            if flying and d.draft is not None:
                d.draft.notes.append(
                    "A reply in this conversation (" + ", ".join(f"#{m.id}" for m in flying)
                    + ") was being sent when this message came in: check they do not cross.")
            return Joined(d, fields, note=how)
        unanswered = sorted(opens + older, key=lambda m: (m.received_at, m.id))
        sent = [m.draft.reply_message_id for m in members
                if m.stage == Stage.SENT.value and m.draft is not None
                and m.draft.reply_message_id]
        joined = _merge(svc, row, d, unanswered, now, sent)
        moved = False
        for lead in opens:
            approved = lead.stage == Stage.APPROVED.value
            who = (lead.draft.approved_by if lead.draft else None) or "a rep"
            why = (f"the customer wrote again (#{row.id}) after {who} approved this reply: "
                   "stopped before sending, never sent; " if approved else
                   f"the customer wrote again (#{row.id}) before this reply was sent; ")
            why += f"#{row.id}'s draft answers the whole conversation; this draft is kept"
            if not repo.compare_and_set(lead.id, Stage(lead.stage), Stage.SUPERSEDED,
                                        actor="system", action="superseded", reason=why,
                                        now=now, draft_fields={"superseded_by": row.id}):
                log.info("message #%s moved while #%s joined its conversation; looking "
                         "again", lead.id, row.id)
                moved = True
                break
            joined.superseded.append(lead.id)
            joined.superseded.extend(repo.repoint_superseded(lead.id, row.id, now=now))
        if moved:
            continue
        # the owner was told once for this conversation: the newest message, which takes
        # the oldest deadline, stays escalated (first in the queue) and is not told again
        told = [m.escalated_at for m in unanswered if m.escalated_at is not None]
        if told:
            fields["escalated_at"] = min(told)
        joined.fields.update(fields)
        joined.note = "; ".join(x for x in (how, joined.note) if x)
        return joined
    raise RuntimeError(f"message #{row.id}: its conversation #{cid} kept changing")


def _merge(svc: Services, row: MessageRow, d: Decision, unanswered: Sequence[MessageRow],
           now: datetime, sent_ids: Sequence[str]) -> Joined:
    """The decision for ``row`` as the newest message of its conversation."""
    assert d.parsed is not None
    cfg = svc.cfg
    policy = svc.policy
    turns = [_turn(m) for m in unanswered]
    turns.append(conversation.Turn(row.id, row.received_at, row.deadline_at, d.hostility,
                                   d.intent.intent if d.intent else None,
                                   d.intent.confidence if d.intent else None))
    held_until = max((m.release_at for m in unanswered
                      if m.stage == Stage.HELD.value and m.release_at is not None),
                     default=None)
    verdict = conversation.judge(turns, policy, now, held_until=held_until)
    asked = [a for a in (_asked(m) for m in unanswered) if a is not None]
    asked.append(conversation.Asked(row.id, d.parsed, d.intent, row.received_at))
    worst = verdict.worst.hostility if verdict.worst is not None else d.hostility
    draft = conversation.conversation_draft(
        asked, hostility=worst, shop=cfg.shop, renderer=svc.renderer,
        default_language=cfg.drafting.default_language,
        quote_original=cfg.drafting.quote_original, html=cfg.drafting.html,
        hold_threshold=policy.hold_threshold, extra_ids=sent_ids)
    draft.notes.extend(n for n in verdict.notes if n not in draft.notes)
    approved = [m for m in unanswered if m.stage == Stage.APPROVED.value]
    if approved and approved[0].draft is not None:
        a = approved[0].draft
        who = (a.approved_by or "a rep").removeprefix("rep:")
        when = f"{a.approved_at:%Y-%m-%d %H:%M} UTC" if a.approved_at else "earlier"
        said = excerpt(d.parsed.own_words or d.parsed.text)
        draft.notes.insert(0, f"The customer wrote again after you approved: {who}'s approved "
                              f"reply to #{approved[0].id} ({when}) was stopped and not sent. "
                              f"Their new message: \"{said}\"")
    edited = [m for m in unanswered if m.draft is not None and m.draft.edited]
    for m in edited:
        draft.notes.append(f"The edited reply of #{m.id} is kept there (superseded): "
                           "copy from it what still fits.")
    fields: dict[str, Any] = {"deadline_at": verdict.deadline_at}
    new = replace(d, hold=verdict.hold, draft=draft, deadline_at=verdict.deadline_at)
    note = (f"one reply for {len(asked)} unanswered messages ("
            + ", ".join(f"#{t.ref}" for t in verdict.turns) + ")"
            + (f", trend {verdict.trend}" if verdict.trend else "")
            + f"; reply due {verdict.deadline_at:%Y-%m-%d %H:%M} UTC (the oldest's)")
    return Joined(new, fields, note=note)


# ---- what the front ends show ------------------------------------------------------------------

def messages_of(repo: Repository, row: MessageRow) -> list[MessageRow]:
    """The messages of ``row``'s conversation, oldest first (just ``row`` when alone)."""
    if row.conversation_id is None:
        return [row]
    return repo.conversation(row.conversation_id) or [row]


def superseded_note(row: MessageRow) -> str | None:
    """What a rep must know about a superseded draft (None when it is current)."""
    if row.draft is None or row.draft.superseded_by is None:
        return None
    return (f"The customer wrote again before this reply was sent: this draft is kept "
            f"for the record and will not be sent; the conversation's reply is the draft "
            f"of #{row.draft.superseded_by}.")


def words_of(rows: Sequence[MessageRow], limit: int = EXCERPT) -> dict[int, str]:
    """The customer's own words in each message, shortened (for the conversation view)."""
    out: dict[int, str] = {}
    for r in rows:
        try:
            parsed = _parse(r.raw)
        except parsing.ParseError as exc:
            out[r.id] = f"(cannot parse: {exc})"
            continue
        out[r.id] = excerpt(parsed.own_words or parsed.text, limit)
    return out

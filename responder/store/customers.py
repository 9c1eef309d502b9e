"""Each customer's history, read from the stored messages, and the owner's list of
difficult customers (DESIGN.md section 2, practice 6).

A customer is the address a reply goes to (``messages.customer_addr``: the person in
Reply-To for contact forms, else From). Their history: the messages they wrote, how
many were hostile (score at or above ``scoring.hold_threshold``), the reputation
threats in their own words (core/threats.py, stored per message at decision time),
refunds asked (intent ``refund_request``) and replies sent.

A customer is *difficult* when they were repeatedly hostile
(``[customers] difficult_min_hostile`` messages, at least
``difficult_min_hostile_share`` of theirs) or made any reputation threat
(``difficult_on_threat``). The list informs the owner; nothing here or anywhere
else decides anything for a customer because they are on it.

Automatic mail that screening skipped and mail that could not be read are not a
customer's messages; a message skipped by the per-sender throttle is (a person wrote
it). Mail decided before revision 0008 has no stored threats: they are looked for in
its stored bytes when read (not written back).
"""
from __future__ import annotations

import builtins
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from responder.core import threats as threats_mod
from responder.core.model import THREAT_KINDS, ReputationThreat, Stage
from responder.store.tables import DraftRow, MessageRow

if TYPE_CHECKING:
    from responder.config import Config
    from responder.store.repository import Repository

__all__ = ["CustomerHistory", "DifficultyRules", "HistoryItem", "difficult_customers",
           "histories", "history", "judge"]

#: stages of mail that is not a customer's own message (automatic mail, unreadable)
_NOT_CUSTOMER_MAIL = (Stage.SKIPPED.value, Stage.QUARANTINED.value)
#: the one screening rule that skips a person's mail (they already got a reply)
_HUMAN_SKIP_RULES = ("throttle",)
_DECIDED_STAGES_WITHOUT_VERDICT = (Stage.RECEIVED.value, Stage.SCORED.value)


@dataclass(frozen=True)
class DifficultyRules:
    """When a customer is listed as difficult; defaults are the config defaults."""

    hold_threshold: float = 0.5          # [scoring] hold_threshold: what counts as hostile
    min_hostile: int = 2                 # [customers] difficult_min_hostile
    min_hostile_share: float = 0.0       # [customers] difficult_min_hostile_share
    on_threat: bool = True               # [customers] difficult_on_threat

    @classmethod
    def from_config(cls, cfg: Config) -> DifficultyRules:
        c = cfg.customers
        return cls(hold_threshold=cfg.scoring.hold_threshold,
                   min_hostile=c.difficult_min_hostile,
                   min_hostile_share=c.difficult_min_hostile_share,
                   on_threat=c.difficult_on_threat)

    def repeatedly_hostile(self, hostile: int, messages: int) -> bool:
        return (hostile >= self.min_hostile and messages > 0
                and hostile / messages >= self.min_hostile_share)


@dataclass
class HistoryItem:
    """One message of a customer's history."""

    pk: int
    received_at: datetime
    subject: str | None
    stage: str
    language: str | None
    hostility: float | None
    hostile: bool
    intent: str | None
    threats: list[ReputationThreat]
    reply_sent: bool


@dataclass
class CustomerHistory:
    """A sender's history, oldest message first."""

    address: str
    items: list[HistoryItem] = field(default_factory=list)
    difficult: bool = False
    reasons: list[str] = field(default_factory=list)   # why listed, for people
    difficult_since: datetime | None = None            # when the rules first listed them

    @property
    def messages(self) -> int:
        return len(self.items)

    @property
    def hostile(self) -> int:
        return sum(1 for i in self.items if i.hostile)

    @property
    def threats(self) -> dict[str, int]:
        """Threat kind -> how many of their messages made it (THREAT_KINDS order)."""
        counts = Counter(kind for i in self.items for kind in {t.kind for t in i.threats})
        return {k: counts[k] for k in THREAT_KINDS if counts[k]}

    @property
    def threat_evidence(self) -> builtins.list[tuple[HistoryItem, ReputationThreat]]:
        return [(i, t) for i in self.items for t in i.threats]

    @property
    def refunds_asked(self) -> int:
        return sum(1 for i in self.items if i.intent == "refund_request")

    @property
    def replies_sent(self) -> int:
        return sum(1 for i in self.items if i.reply_sent)

    @property
    def first_at(self) -> datetime:
        return self.items[0].received_at

    @property
    def last_at(self) -> datetime:
        return self.items[-1].received_at

    @property
    def max_hostility(self) -> float | None:
        scores = [i.hostility for i in self.items if i.hostility is not None]
        return max(scores) if scores else None

    def as_dict(self) -> dict[str, Any]:
        """For ``responder customers --json`` (keys are an interface: add, never rename)."""
        return {
            "address": self.address,
            "difficult": self.difficult,
            "reasons": self.reasons,
            "difficult_since": _iso(self.difficult_since),
            "messages": self.messages,
            "hostile": self.hostile,
            "max_hostility": None if self.max_hostility is None
            else round(self.max_hostility, 4),
            "threats": self.threats,
            "refunds_asked": self.refunds_asked,
            "replies_sent": self.replies_sent,
            "first_at": _iso(self.first_at),
            "last_at": _iso(self.last_at),
            "history": [{
                "id": i.pk, "received_at": _iso(i.received_at), "subject": i.subject,
                "stage": i.stage, "language": i.language,
                "hostility": None if i.hostility is None else round(i.hostility, 4),
                "hostile": i.hostile, "intent": i.intent, "reply_sent": i.reply_sent,
                "threats": [{"kind": t.kind, "cue": t.cue, "evidence": t.evidence}
                            for t in i.threats],
            } for i in self.items],
        }


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _threats(value: Any) -> builtins.list[ReputationThreat] | None:
    if not isinstance(value, list):
        return None
    return [ReputationThreat(kind=str(t.get("kind", "")), cue=str(t.get("cue", "")),
                             evidence=str(t.get("evidence", "")))
            for t in value if isinstance(t, dict)]


def _threats_from_raw(raw: bytes) -> builtins.list[ReputationThreat]:
    from responder.core import parsing
    try:
        parsed = parsing.parse(raw)
    except parsing.ParseError:
        return []
    return threats_mod.find_threats(parsed.own_words or parsed.text, parsed.language)


def _is_customer_mail(stage: str, skip_rule: str | None, customer_addr: str | None) -> bool:
    """Does a message count in its sender's history (a person's mail, not a bounce or
    an auto-reply; the throttle skips a person's mail)?"""
    return bool(customer_addr) and (stage not in _NOT_CUSTOMER_MAIL or (
        stage == Stage.SKIPPED.value and skip_rule in _HUMAN_SKIP_RULES))


def threats_of(row: MessageRow) -> builtins.list[ReputationThreat]:
    """The threats a customer history counts for this one message: those stored at
    decision time, or, for mail decided before they were looked for, found now in its
    bytes (not written back)."""
    if not _is_customer_mail(row.stage, row.skip_rule, row.customer_addr):
        return []
    found = _threats(row.reputation_threats)
    if found is not None:
        return found
    if row.stage in _DECIDED_STAGES_WITHOUT_VERDICT:
        return []
    return _threats_from_raw(row.raw)


def histories(repo: Repository, *, rules: DifficultyRules | None = None,
              address: str | None = None) -> builtins.list[CustomerHistory]:
    """Every customer's history (or ``address``'s), most recently active first."""
    rules = rules or DifficultyRules()
    cols = (MessageRow.id, MessageRow.customer_addr, MessageRow.received_at,
            MessageRow.subject, MessageRow.stage, MessageRow.language, MessageRow.hostility,
            MessageRow.intent, MessageRow.reputation_threats, MessageRow.skip_rule,
            DraftRow.sent_at)
    with repo.session() as s:
        q = (select(*cols).outerjoin(DraftRow, DraftRow.message_pk == MessageRow.id)
             .where(MessageRow.customer_addr.is_not(None), MessageRow.customer_addr != ""))
        if address is not None:
            q = q.where(MessageRow.customer_addr == address.strip().lower())
        rows = list(s.execute(q.order_by(MessageRow.received_at, MessageRow.id)))
        rows = [r for r in rows if _is_customer_mail(r.stage, r.skip_rule, r.customer_addr)]
        missing = [r.id for r in rows if _threats(r.reputation_threats) is None
                   and r.stage not in _DECIDED_STAGES_WITHOUT_VERDICT]
        raws: dict[int, bytes] = {}
        for start in range(0, len(missing), 500):
            chunk = missing[start:start + 500]
            for pk, raw in s.execute(select(MessageRow.id, MessageRow.raw)
                                     .where(MessageRow.id.in_(chunk))):
                raws[pk] = raw
    by_addr: dict[str, CustomerHistory] = {}
    for r in rows:
        found = _threats(r.reputation_threats)
        if found is None:
            found = _threats_from_raw(raws[r.id]) if r.id in raws else []
        item = HistoryItem(
            pk=r.id, received_at=r.received_at, subject=r.subject, stage=r.stage,
            language=r.language, hostility=r.hostility,
            hostile=r.hostility is not None and r.hostility >= rules.hold_threshold,
            intent=r.intent, threats=found,
            reply_sent=r.sent_at is not None or r.stage == Stage.SENT.value)
        addr = str(r.customer_addr).lower()
        by_addr.setdefault(addr, CustomerHistory(address=addr)).items.append(item)
    out = list(by_addr.values())
    for h in out:
        judge(h, rules)
    out.sort(key=lambda h: (h.last_at, h.address), reverse=True)
    return out


def judge(h: CustomerHistory, rules: DifficultyRules) -> None:
    """Set ``difficult``, ``reasons`` and ``difficult_since`` from the rules."""
    hostile_since: datetime | None = None
    hostile = 0
    for n, item in enumerate(h.items, start=1):
        hostile += item.hostile
        if rules.repeatedly_hostile(hostile, n):
            hostile_since = hostile_since or item.received_at
        else:
            hostile_since = None     # the share fell below the rule again
    threat_since = next((i.received_at for i in h.items if i.threats), None) \
        if rules.on_threat else None
    reasons = []
    if hostile_since is not None:
        reasons.append(f"{h.hostile} hostile message(s) of {h.messages}")
    if threat_since is not None:
        reasons.append("threatened: " + ", ".join(
            f"{threats_mod.KIND_TITLES[k]}" + (f" ({n}x)" if n > 1 else "")
            for k, n in h.threats.items()))
    h.reasons = reasons
    h.difficult = bool(reasons)
    since = [t for t in (hostile_since, threat_since) if t is not None]
    h.difficult_since = min(since) if since else None


def history(repo: Repository, address: str, *,
            rules: DifficultyRules | None = None) -> CustomerHistory | None:
    """One customer's history, or None when they never wrote."""
    found = histories(repo, rules=rules, address=address)
    return found[0] if found else None


def difficult_customers(repo: Repository, *, since: datetime | None = None,
                        rules: DifficultyRules | None = None) -> builtins.list[CustomerHistory]:
    """Customers the owner should know about, most serious first: any reputation
    threat, then the most hostile messages, then the latest.

    ``since``: only those who became difficult at or after it (their
    ``difficult_since``), e.g. the owner digest's "new difficult customers".
    ``rules``: pass ``DifficultyRules.from_config(cfg)`` to use the shop's config; the
    defaults are the config defaults.
    """
    found = [h for h in histories(repo, rules=rules) if h.difficult]
    if since is not None:
        found = [h for h in found if h.difficult_since is not None
                 and h.difficult_since >= since]
    found.sort(key=lambda h: (len(h.threats), h.hostile, h.last_at), reverse=True)
    return found

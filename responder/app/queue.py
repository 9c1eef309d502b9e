"""What a rep looks at: the queue with its badges, and one message with its context.

Read-only. The web page shows these; the badges are computed here, once, from the
stored verdicts and the configured lines (hold threshold, minimum intent
confidence, deadline margin), so every front end flags the same things.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.message import EmailMessage

from sqlalchemy import select

from responder.app.deadlines import is_escalated
from responder.config import Config
from responder.core import parsing
from responder.core.model import Stage
from responder.core.threats import KIND_TITLES
from responder.store.repository import Repository
from responder.store.tables import MessageRow

# what waits for a rep (as `responder list` without --stage)
WAITING: tuple[Stage, ...] = (Stage.UNCERTAIN, Stage.DRAFTED, Stage.HELD, Stage.APPROVED,
                              Stage.SENDING, Stage.QUARANTINED)
FINAL: frozenset[str] = frozenset({Stage.SENT.value, Stage.REJECTED.value, Stage.SKIPPED.value,
                                   Stage.SUPERSEDED.value})
INGRESS_INBOX = "(ingress)"


@dataclass(frozen=True)
class Badge:
    kind: str                      # css class / test hook: held, hostile, reputation, ...
    text: str
    until: datetime | None = None  # for a countdown (held)
    detail: str = ""               # shown on hover (the customer's own words, ...)


@dataclass
class QueueItem:
    row: MessageRow
    badges: list[Badge] = field(default_factory=list)

    @property
    def inbox(self) -> str:
        return self.row.inbox or INGRESS_INBOX


def deadline_margin(cfg: Config) -> timedelta:
    """How close a deadline is "near": the cooling margin, at least an hour."""
    return max(timedelta(hours=cfg.cooling.ready_before_deadline_hours), timedelta(hours=1))


def badges(row: MessageRow, cfg: Config, now: datetime) -> list[Badge]:
    out: list[Badge] = []
    draft = row.draft
    if row.stage == Stage.UNCERTAIN.value:
        out.append(Badge("uncertain", "send interrupted: check the Sent folder, then "
                                      "resend or mark sent"))
    if is_escalated(row) and row.escalated_at is not None:
        out.append(Badge("escalated", f"escalated {row.escalated_at:%Y-%m-%d %H:%M} UTC: "
                                      "deadline near, owner notified"))
    if row.stage == Stage.HELD.value and row.release_at is not None:
        out.append(Badge("held", f"held until {row.release_at:%Y-%m-%d %H:%M} UTC",
                         until=row.release_at))
    labels = list(row.hostility_labels or [])
    if row.hostility is not None and row.hostility >= cfg.scoring.hold_threshold:
        out.append(Badge("hostile", f"hostile {row.hostility:.2f}"
                         + (f": {', '.join(x for x in labels if x != 'reputation_threat')}"
                            if [x for x in labels if x != "reputation_threat"] else "")))
    threats = reputation_threats(row)
    if threats:
        titles = [KIND_TITLES.get(k, k) for k in sorted({kind for kind, _ in threats})
                  if k != SCORER_LABEL]
        out.append(Badge("reputation", "reputation threat"
                         + (f": {', '.join(titles)}" if titles else ""),
                         detail=" | ".join(f'"{words}"' for _, words in threats if words)))
    if row.stage not in FINAL:
        left = row.deadline_at - now
        if left <= timedelta(0):
            out.append(Badge("deadline-missed", f"deadline missed {_span(-left)} ago"))
        elif left <= deadline_margin(cfg):
            out.append(Badge("deadline-near", f"deadline in {_span(left)}"))
    if draft is not None and draft.fallback_language:
        out.append(Badge("fallback-language",
                         f"fallback language: reply in {draft.language}, customer wrote "
                         f"{row.language or 'unknown'}"))
    if row.intent_confidence is not None and row.intent_confidence < cfg.intent.min_confidence:
        out.append(Badge("low-confidence",
                         f"intent unsure ({row.intent_confidence:.0%})"))
    if draft is not None and draft.send_error and row.stage in (Stage.APPROVED.value,
                                                                Stage.UNCERTAIN.value):
        out.append(Badge("send-error", f"send problem: {draft.send_error}"))
    return out


SCORER_LABEL = "reputation_threat"


def reputation_threats(row: MessageRow) -> list[tuple[str, str]]:
    """The threats to the shop's reputation in this message, as (kind, the customer's
    sentence): those core/threats.py found at decision time (``messages.reputation_threats``);
    for a message decided before they were looked for (NULL), the scorer's
    ``reputation_threat`` label, as ``(SCORER_LABEL, "")``. Empty: none."""
    stored = row.reputation_threats
    if isinstance(stored, list):
        return [(str(t.get("kind", "")), str(t.get("evidence", ""))) for t in stored
                if isinstance(t, dict) and t.get("kind")]
    if SCORER_LABEL in (row.hostility_labels or []):
        return [(SCORER_LABEL, "")]
    return []


def raises_priority(row: MessageRow) -> bool:
    """A customer still waiting who threatens the shop's reputation is listed early
    (DESIGN.md section 2, practice 7). Only the order changes: nothing is held, delayed or
    decided for it."""
    return row.stage not in FINAL and bool(reputation_threats(row))


def priority_key(row: MessageRow) -> tuple[bool, bool, bool, datetime, int]:
    """The one queue order (web page, ``responder list``): uncertain sends, then drafts
    escalated by the deadline watch, then reputation threats, then the rest; each group
    by reply deadline (soonest first), then id."""
    return (row.stage != Stage.UNCERTAIN.value, not is_escalated(row),
            not raises_priority(row), row.deadline_at, row.id)


def _span(delta: timedelta) -> str:
    minutes = int(delta.total_seconds() // 60)
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours} h {minutes:02d} min"
    return f"{hours // 24} days"


def queue(repo: Repository, cfg: Config, now: datetime, *,
          stages: list[Stage] | None = None, inbox: str | None = None,
          limit: int = 500) -> list[QueueItem]:
    """Messages in ``stages`` (default: those waiting for a rep) in ``priority_key``
    order: uncertain sends, escalated drafts, reputation threats, the rest, each by
    reply deadline (soonest first); only ``inbox`` when given."""
    chosen = list(stages) if stages else list(WAITING)
    rows = repo.list(chosen, limit=limit)
    rows.sort(key=priority_key)
    items = [QueueItem(row, badges(row, cfg, now)) for row in rows]
    if inbox:
        items = [item for item in items if item.inbox == inbox]
    return items


def inboxes(repo: Repository, cfg: Config) -> list[str]:
    """The configured inbox names and any others messages came from."""
    names = [box.name for box in cfg.inbox]
    with repo.session() as s:
        for value in s.scalars(select(MessageRow.inbox).distinct()):
            name = value or INGRESS_INBOX
            if name not in names:
                names.append(name)
    return names


def earlier_messages(repo: Repository, row: MessageRow, limit: int = 20) -> list[MessageRow]:
    """The same customer's other messages with us, newest first."""
    addr = row.customer_addr or row.from_addr
    if not addr:
        return []
    with repo.session() as s:
        q = (select(MessageRow).where(MessageRow.customer_addr == addr, MessageRow.id != row.id)
             .order_by(MessageRow.received_at.desc()).limit(limit))
        return list(s.scalars(q))


@dataclass(frozen=True)
class CustomerContent:
    text: str               # the readable body (HTML converted to text)
    html: str | None        # the HTML part as sent (unsafe: sanitise before showing)
    from_header: str
    to_header: str
    date_header: str
    problem: str | None = None


def customer_content(raw: bytes) -> CustomerContent:
    """What the customer sent, for display; never raises on bad mail."""
    try:
        parsed = parsing.parse(raw)
    except parsing.ParseError as exc:
        return CustomerContent(raw.decode("utf-8", "replace"), None, "", "", "",
                               problem=f"cannot parse: {exc}")
    html: str | None = None
    msg: EmailMessage = parsed.email
    try:
        part = msg.get_body(preferencelist=("html",))
        if part is not None and part.get_content_type() == "text/html":
            content = part.get_content()
            html = content if isinstance(content, str) else None
    except (LookupError, ValueError, KeyError, AttributeError):
        html = None   # an undecodable HTML part: the converted text is shown alone
    return CustomerContent(parsed.text, html, str(msg.get("From", "")),
                           str(msg.get("To", "")), str(msg.get("Date", "")))

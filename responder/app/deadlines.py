"""The deadline watch, the owner's notices and digest, and the per-day figures.

``watch_deadlines`` (run by the scheduler, by ``responder deadlines`` and by
``Service.watch_deadlines``): every draft still unapproved (drafted or held) whose
reply deadline is within ``cooling.escalate_before_hours`` is escalated once:
marked (``messages.escalated_at``, an audit event), listed first in every queue
(app/queue.py, ``responder list``), and, when ``[shop] owner_address`` is set, a
notice is queued in the outbox in the same transaction and sent exactly once
(mail/notices.py). A deadline that passes unanswered is recorded once
(``deadline_missed_at``).

``send_digest``: the owner's daily e-mail (``[digest]``), queued once per local day
(unique key) through the same outbox.

``daily_figures``: per local day of arrival, messages received, answered within the
deadline, missed, held and the mean hold (``responder status``, the digest).
"""
from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from responder.config import Config
from responder.core.clock import Clock
from responder.core.cooling import CoolingPolicy
from responder.core.drafting import TemplateRenderer
from responder.core.model import Stage
from responder.mail import notices as notice_mail
from responder.mail.sending import new_reply_message_id
from responder.store import customers
from responder.store import notices as outbox
from responder.store.repository import Repository
from responder.store.tables import EventRow, MessageRow

log = logging.getLogger(__name__)

DEADLINE_NOTICE = "deadline"
BACKLOG_NOTICE = "deadline-backlog"
DIGEST = "digest"
DEADLINE_TEMPLATE = "notices/deadline.txt.j2"
BACKLOG_TEMPLATE = "notices/backlog.txt.j2"
DIGEST_TEMPLATE = "notices/digest.txt.j2"
BACKLOG_LISTED = 50        # messages named in one summary notice; the rest are counted


def zone(cfg: Config) -> ZoneInfo:
    return ZoneInfo(cfg.local_timezone)


def local(moment: datetime, cfg: Config) -> str:
    return f"{moment.astimezone(zone(cfg)):%a %Y-%m-%d %H:%M %Z}"


def span(delta: timedelta) -> str:
    """ "3 h 05 min", "45 min" (negative: "... ago")."""
    ago = delta < timedelta(0)
    minutes = int(abs(delta).total_seconds() // 60)
    hours, minutes = divmod(minutes, 60)
    text = f"{hours} h {minutes:02d} min" if hours else f"{minutes} min"
    return f"{text} ago" if ago else text


def _renderer(cfg: Config, renderer: TemplateRenderer | None) -> TemplateRenderer:
    return renderer or TemplateRenderer(cfg.drafting.templates_dir or None)


def _open_hint(cfg: Config, pk: int) -> str:
    hint = f"run 'responder show {pk}'"
    if cfg.web.enabled:
        hint += f", or open http://{cfg.web.host}:{cfg.web.port}/m/{pk}"
    return hint


# ---- the deadline watch ------------------------------------------------------------------

@dataclass
class WatchResult:
    escalated: list[int] = field(default_factory=list)
    missed: list[int] = field(default_factory=list)
    # escalated too, but their deadline passed before the look-back: one summary notice
    summarised: list[int] = field(default_factory=list)
    notices: dict[str, int] = field(default_factory=dict)   # outbox run: sent/failed/unknown


def deadline_notice(cfg: Config, row: MessageRow, now: datetime,
                    renderer: TemplateRenderer) -> outbox.NewNotice:
    held = row.stage == Stage.HELD.value
    hold_reason = ""
    if held:
        hold_reason = next((e.reason for e in reversed(row.events) if e.action == "held"), "")
    body = renderer.render_named(DEADLINE_TEMPLATE, {
        "pk": row.id, "customer": row.customer_addr or row.from_addr or "?",
        "subject": row.subject or "(no subject)", "received": local(row.received_at, cfg),
        "deadline": local(row.deadline_at, cfg),
        "left": ("passed " + span(row.deadline_at - now).removesuffix(" ago") + " ago"
                 if row.deadline_at <= now else "in " + span(row.deadline_at - now)),
        "held": held, "release": local(row.release_at, cfg) if row.release_at else "",
        "hold_reason": hold_reason,
        "hostility": (f"{row.hostility:.2f}" + (f" ({', '.join(row.hostility_labels)})"
                                                  if row.hostility_labels else ""))
        if row.hostility is not None and row.hostility >= cfg.scoring.hold_threshold else "",
        "open_hint": _open_hint(cfg, row.id),
        "promise_hours": f"{cfg.cooling.reply_deadline_hours:g}",
        "shop_name": cfg.shop.name,
    })
    return outbox.NewNotice(
        kind=DEADLINE_NOTICE, ref=str(row.id),
        day=f"{row.deadline_at.astimezone(zone(cfg)):%Y-%m-%d}",
        to_addr=cfg.shop.owner_address, from_addr=cfg.shop.support_email,
        subject=f"Reply due soon: #{row.id} from {row.customer_addr or row.from_addr or '?'} "
                f"(due {row.deadline_at.astimezone(zone(cfg)):%a %H:%M})",
        body=body, message_id=new_reply_message_id(cfg.shop.message_id_domain),
        message_pk=row.id)


def backlog_notice(cfg: Config, rows: Sequence[MessageRow], now: datetime,
                   renderer: TemplateRenderer) -> outbox.NewNotice:
    """ONE notice for every message of ``rows`` (escalated together, their deadlines
    missed before the look-back): unique by its first message, which no other batch
    can hold (a message is escalated once)."""
    ordered = sorted(rows, key=lambda r: (r.deadline_at, r.id))
    count = len(ordered)
    hours = cfg.cooling.notice_lookback_hours
    body = renderer.render_named(BACKLOG_TEMPLATE, {
        "count": count, "lookback": (f"{hours:g} hour{'s' if hours != 1 else ''}"
                                     if hours else ""),
        "items": [{"pk": r.id, "customer": r.customer_addr or r.from_addr or "?",
                   "subject": (r.subject or "(no subject)")[:80],
                   "deadline": local(r.deadline_at, cfg), "ago": span(r.deadline_at - now),
                   "stage": r.stage} for r in ordered[:BACKLOG_LISTED]],
        "more": max(count - BACKLOG_LISTED, 0),
        "open_hint": ("run 'responder list'" + (f", or open http://{cfg.web.host}:"
                                                f"{cfg.web.port}/" if cfg.web.enabled else "")),
        "promise_hours": f"{cfg.cooling.reply_deadline_hours:g}",
        "shop_name": cfg.shop.name,
    })
    return outbox.NewNotice(
        kind=BACKLOG_NOTICE, ref=str(min(r.id for r in ordered)),
        day=f"{now.astimezone(zone(cfg)):%Y-%m-%d}",
        to_addr=cfg.shop.owner_address, from_addr=cfg.shop.support_email,
        subject=(f"{count} older message{'s' if count != 1 else ''} missed "
                 f"{'their' if count != 1 else 'its'} reply deadline"),
        body=body, message_id=new_reply_message_id(cfg.shop.message_id_domain))


def watch_deadlines(repo: Repository, cfg: Config, clock: Clock, *,
                    renderer: TemplateRenderer | None = None, send: bool = True) -> WatchResult:
    """Escalate unapproved drafts near their deadline, record missed deadlines, and send
    the owner's notices (exactly once each). Safe to run twice, or from two processes.

    A draft whose deadline passed more than ``cooling.notice_lookback_hours`` ago (the
    first run after an upgrade or a long outage) is escalated and counted like the
    others, but all such drafts of one run share ONE summary notice instead of one
    notice each."""
    now = clock()
    policy = CoolingPolicy.from_config(cfg)
    result = WatchResult()
    horizon = now + timedelta(hours=policy.escalate_before_hours)
    lookback = now - timedelta(hours=cfg.cooling.notice_lookback_hours)
    render = _renderer(cfg, renderer)
    candidates = outbox.escalation_candidates(repo, horizon)
    older = {row.id: row for row in candidates if row.deadline_at < lookback}
    if older:
        reasons = {pk: f"reply deadline passed {span(row.deadline_at - now)}, before the "
                       f"{cfg.cooling.notice_lookback_hours:g} h look-back, and the draft is "
                       "not approved" + (f"; in one summary notice to {cfg.shop.owner_address}"
                                         if cfg.shop.owner_address else
                                         "; no [shop] owner_address: no e-mail notice")
                   for pk, row in older.items()}
        marked = outbox.escalate_batch(
            repo, reasons, now,
            lambda pks: (backlog_notice(cfg, [older[pk] for pk in pks], now, render)
                         if cfg.shop.owner_address else None))
        result.escalated.extend(marked)
        result.summarised.extend(marked)
        if marked:
            log.info("%d message(s) escalated whose deadline passed before the look-back "
                     "(%g h): one summary notice", len(marked),
                     cfg.cooling.notice_lookback_hours)
    for row in candidates:
        if row.id in older:
            continue
        full = repo.get(row.id)          # with its events (the hold's reason)
        notice = deadline_notice(cfg, full, now, render) if cfg.shop.owner_address else None
        left = row.deadline_at - now
        reason = (f"reply deadline {'passed' if left <= timedelta(0) else 'in ' + span(left)}"
                  f" and the draft is not approved"
                  + (f"; notice to {cfg.shop.owner_address}" if notice else
                     "; no [shop] owner_address: no e-mail notice"))
        if outbox.escalate(repo, row.id, now, reason, notice):
            result.escalated.append(row.id)
            log.info("message #%s escalated: %s", row.id, reason)
    for pk in outbox.missed_candidates(repo, now):
        if outbox.mark_missed(repo, pk, now):
            result.missed.append(pk)
            if pk in older:       # one line for the whole backlog, above
                log.debug("message #%s: reply deadline missed", pk)
            else:
                log.warning("message #%s: reply deadline missed", pk)
    if send:
        result.notices = notice_mail.send_notices(repo, cfg, clock)
    return result


def is_escalated(row: MessageRow) -> bool:
    """Escalated and still waiting for a rep: listed first in every queue."""
    return row.escalated_at is not None and row.stage in {st.value
                                                          for st in outbox.UNAPPROVED}


# ---- per-day figures ---------------------------------------------------------------------

@dataclass
class DayFigures:
    day: str                        # local date, YYYY-MM-DD
    received: int = 0               # every message stored that day
    to_answer: int = 0              # customer mail (not skipped nor quarantined)
    on_time: int = 0                # answered (sent) by the deadline
    late: int = 0                   # answered after the deadline
    missed: int = 0                 # late, or unanswered with the deadline passed
    held: int = 0                   # cooled off before the draft was ready
    hold_total: timedelta = timedelta(0)

    @property
    def mean_hold(self) -> timedelta | None:
        return self.hold_total / self.held if self.held else None


def _answered_at(row: MessageRow) -> datetime | None:
    if row.stage != Stage.SENT.value:
        return None
    if row.draft is not None and row.draft.sent_at is not None:
        return row.draft.sent_at
    return row.updated_at


def _answering(row: MessageRow, by_pk: dict[int, MessageRow]) -> MessageRow:
    """The message whose reply answers ``row``: itself, or, when the customer wrote
    again and a newer draft superseded its own (conversations), the newest one."""
    seen = {row.id}
    while row.stage == Stage.SUPERSEDED.value and row.draft is not None:
        newer = row.draft.superseded_by
        if newer is None or newer not in by_pk or newer in seen:
            break
        row = by_pk[newer]
        seen.add(row.id)
    return row


def daily_figures(repo: Repository, cfg: Config, now: datetime,
                  days: int = 14) -> list[DayFigures]:
    """The last ``days`` local days (oldest first) that had mail."""
    tz = zone(cfg)
    start_day = now.astimezone(tz).date() - timedelta(days=days - 1)
    since = datetime.combine(start_day, datetime.min.time(), tzinfo=tz)
    with repo.session() as s:
        rows = list(s.scalars(select(MessageRow).options(selectinload(MessageRow.draft))
                              .where(MessageRow.received_at >= since)))
        pks = [r.id for r in rows]
        hold_ends: dict[int, datetime] = {}
        for start in range(0, len(pks), 500):
            q = (select(EventRow.message_pk, EventRow.at)
                 .where(EventRow.message_pk.in_(pks[start:start + 500]),
                        EventRow.from_stage == Stage.HELD.value,
                        EventRow.to_stage != Stage.HELD.value).order_by(EventRow.id))
            for pk, at in s.execute(q):
                hold_ends.setdefault(pk, at)
    by_pk = {r.id: r for r in rows}
    by_day: dict[str, DayFigures] = {}
    for row in rows:
        key = f"{row.received_at.astimezone(tz):%Y-%m-%d}"
        fig = by_day.setdefault(key, DayFigures(key))
        fig.received += 1
        if row.stage in (Stage.SKIPPED.value, Stage.QUARANTINED.value):
            continue
        fig.to_answer += 1
        answered = _answered_at(_answering(row, by_pk))
        if answered is not None:
            if answered <= row.deadline_at:
                fig.on_time += 1
            else:
                fig.late += 1
                fig.missed += 1
        elif (_answering(row, by_pk).stage != Stage.REJECTED.value
              and row.deadline_at < now):
            fig.missed += 1
        if row.release_at is not None:
            end = hold_ends.get(row.id) or (row.release_at if row.stage != Stage.HELD.value
                                            else min(row.release_at, now))
            fig.held += 1
            fig.hold_total += max(end - row.received_at, timedelta(0))
    return [by_day[k] for k in sorted(by_day)]


def figures_table(figures: Sequence[DayFigures], tz: str) -> list[str]:
    lines = [f"per day ({tz})  received  answered on time  missed  held  mean hold"]
    for f in figures:
        mean = span(f.mean_hold) if f.mean_hold is not None else "-"
        lines.append(f"{f.day:<{len(tz) + 10}} {f.received:>8}  {f.on_time:>16}  "
                     f"{f.missed:>6}  {f.held:>4}  {mean}")
    return lines


# ---- the owner's daily digest ---------------------------------------------------------------

def new_difficult_customers(repo: Repository, cfg: Config,
                            since: datetime) -> list[customers.CustomerHistory]:
    """Customers who became difficult since ``since`` (engineer D's histories,
    store/customers.py), by the shop's own rules."""
    return customers.difficult_customers(repo, since=since,
                                         rules=customers.DifficultyRules.from_config(cfg))


def describe_customer(h: customers.CustomerHistory) -> str:
    """One line for the owner: who, how many messages, hostile ones, threats, why."""
    threats = ", ".join(f"{kind.replace('_', ' ')} x{n}" for kind, n in h.threats.items())
    return (f"{h.address}: {h.messages} message(s), {h.hostile} hostile, "
            f"{h.refunds_asked} refund request(s), {h.replies_sent} reply(ies) sent"
            + (f"; threats: {threats}" if threats else "")
            + (f". Why listed: {'; '.join(h.reasons)}" if h.reasons else ""))


def recent_threats(recent: list[MessageRow]) -> list[tuple[MessageRow, str]]:
    """Which of ``recent`` threaten the shop's reputation, with what they threaten (the
    customer histories' threat kinds, store/customers.threats_of; else the scorer's
    label). Reads these messages only, not every customer's history."""
    out = []
    for row in recent:
        kinds = sorted({t.kind.replace("_", " ") for t in customers.threats_of(row)})
        if kinds:
            out.append((row, ", ".join(kinds)))
        elif "reputation_threat" in (row.hostility_labels or []):
            out.append((row, "reputation threat"))
    return out


@dataclass
class Digest:
    day: str
    subject: str
    body: str


def build_digest(repo: Repository, cfg: Config, now: datetime,
                 renderer: TemplateRenderer | None = None) -> Digest:
    """The digest for the local day of ``now``: the last 24 hours, and what waits now."""
    tz = zone(cfg)
    day = f"{now.astimezone(tz):%Y-%m-%d}"
    since = now - timedelta(days=1)

    def brief(row: MessageRow) -> dict[str, Any]:
        return {"pk": row.id, "customer": row.customer_addr or row.from_addr or "?",
                "subject": (row.subject or "(no subject)")[:80], "stage": row.stage}

    held = []
    for row in repo.list([Stage.HELD], limit=200):
        full = repo.get(row.id)
        why = next((e.reason for e in reversed(full.events) if e.action == "held"), "")
        held.append(brief(row) | {"until": local(row.release_at, cfg) if row.release_at
                                  else "-", "why": why or row.hold_band or "-"})
    deadlines = []
    waiting = repo.list([st for st in outbox.UNANSWERED if st != Stage.QUARANTINED], limit=500)
    horizon = now + timedelta(hours=cfg.cooling.escalate_before_hours)
    for row in waiting:
        if row.deadline_at <= now:
            deadlines.append(brief(row) | {"state": f"MISSED: was due {local(row.deadline_at, cfg)}"
                                           f", still {row.stage}"})
        elif row.deadline_at <= horizon:
            deadlines.append(brief(row) | {"state": f"due {local(row.deadline_at, cfg)} "
                                           f"(in {span(row.deadline_at - now)}), {row.stage}"})
    with repo.session() as s:
        recent = list(s.scalars(select(MessageRow).where(MessageRow.received_at >= since)
                                .order_by(MessageRow.received_at)))
    threats = [brief(r) | {"kind": kind} for r, kind in recent_threats(recent)]
    difficult = new_difficult_customers(repo, cfg, since)
    figures = daily_figures(repo, cfg, now, days=2)      # yesterday and today so far
    body = _renderer(cfg, renderer).render_named(DIGEST_TEMPLATE, {
        "shop_name": cfg.shop.name, "day": day, "timezone": cfg.local_timezone,
        "figures": [{"day": f.day + (" (today so far)" if f.day == day else ""),
                     "received": f.received, "on_time": f.on_time, "missed": f.missed,
                     "held": f.held, "mean_hold": span(f.mean_hold) if f.mean_hold else ""}
                    for f in figures],
        "held": held, "deadlines": deadlines, "threats": threats,
        "customers": [describe_customer(c) for c in difficult],
    })
    subject = (f"Daily summary {day}: {len(held)} held, {len(deadlines)} deadline(s) near "
               f"or missed, {len(threats)} reputation threat(s)")
    return Digest(day, subject, body)


def send_digest(repo: Repository, cfg: Config, clock: Clock, *,
                renderer: TemplateRenderer | None = None, send: bool = True) -> bool:
    """Queue today's digest (once per local day) and send the outbox. True when this
    call queued it; False when today's was queued already."""
    if not cfg.shop.owner_address:
        raise ValueError("no [shop] owner_address: the digest has nowhere to go")
    now = clock()
    digest = build_digest(repo, cfg, now, renderer)
    queued = outbox.queue_notice(repo, outbox.NewNotice(
        kind=DIGEST, ref="", day=digest.day, to_addr=cfg.shop.owner_address,
        from_addr=cfg.shop.support_email, subject=digest.subject, body=digest.body,
        message_id=new_reply_message_id(cfg.shop.message_id_domain)), now)
    if send:
        notice_mail.send_notices(repo, cfg, clock)
    return queued


def grouped_counts(items: Sequence[DayFigures]) -> dict[str, int]:
    """Totals over ``items`` (the simulated fortnight's figures)."""
    totals: dict[str, int] = defaultdict(int)
    for f in items:
        for key in ("received", "to_answer", "on_time", "late", "missed", "held"):
            totals[key] += getattr(f, key)
    return dict(totals)

"""A simulated fortnight (issue 12, item 8).

An injected clock (no sleeping) drives two weeks of mixed traffic through the real
pipeline (the real offline models and templates), a real SQLite file store with its
migrations, and a real aiosmtpd sink, with the Service (and its store connection)
recreated twice to simulate process restarts. Traffic: single messages, hostile
messages followed up during their hold, follow-ups right after a rep approved (before
the send job ran), angry senders writing five times, grouping by headers and by
sender + order number, arrivals at night and on weekends; reps approve only in
working hours (Mon-Fri 09:00-18:00 Berlin), a few replies an hour.

Asserted: every conversation has exactly one current draft (older ones superseded
and kept), ready before its deadline minus the margin (or at once when it came in
later than that); no stale reply is sent (the sink gets no reply that a later
message of its conversation should have changed, and no stopped approval); every
hold is released exactly at its time; the owner got one notice per escalated
message (the deadline watch, when ``Service.watch_deadlines`` exists).

The figures are printed (``pytest -s``) and kept in ``FIGURES`` for the report.
"""
from __future__ import annotations

import heapq
import random
import statistics
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime
from zoneinfo import ZoneInfo

import pytest
from conftest import Clock
from servers import SmtpSink
from sqlalchemy import func, select

from responder import config as config_mod
from responder.app import actions
from responder.app.service import Service
from responder.core import cooling, parsing
from responder.core.model import Stage
from responder.store import open_repository
from responder.store.tables import EventRow, MessageRow

START = datetime(2026, 11, 23, 0, 0, tzinfo=UTC)          # a Monday
DAYS = 14
END = START + timedelta(days=DAYS)
BERLIN = ZoneInfo("Europe/Berlin")
OWNER = "owner@example-shop.test"
TICK = timedelta(minutes=10)
RESTARTS = (START + timedelta(days=5, hours=12, minutes=3),
            START + timedelta(days=10, hours=3, minutes=7))
REP_CAPACITY = 6                  # replies a rep approves per hourly review
SEED = 2026

COOLING = {
    "bands": [{"min_score": 0.5, "hours": 2}, {"min_score": 0.7, "hours": 4},
              {"min_score": 0.9, "hours": 6}],
    "reply_deadline_hours": 24, "ready_before_deadline_hours": 2,
    "working_hours": "09:00-18:00", "working_days": "Mon-Fri", "timezone": "Europe/Berlin",
    "escalate_before_hours": 3,
}
CONVERSATIONS = {"window_days": 14}

CALM = [
    "Hello, where is my order {o}? It was due last week.",
    "Hi, I would like to return order {o} and get a refund, please.",
    "I cannot download the e-book I bought (order {o}). The link does not work.",
    "I forgot my password and the reset e-mail never arrives.",
    "Does the lamp from order {o} also work with 110 V?",
    "The mug in order {o} arrived broken. Can you send a new one?",
]
HOSTILE = [
    "Fine. Please just tell me when it ships.",                                    # ~0.5
    "I am sick of your lies. Refund me now or I call my lawyer, you crooks.",       # ~0.85
    "Your service is a joke. Nobody answers. Where is my order {o}?",               # ~0.96
    "You stupid morons still have not sent my order {o}. Worst shop ever, you are "
    "thieves. I want my money back now!",
    "Where is my parcel, you useless idiots? This is a scam. I will leave a bad review "
    "everywhere.",
    "Still nothing?! Pathetic. Answer me.",
]
FOLLOW_CALM = ["Any news?", "Sorry for my last e-mail. Could you please tell me where my "
               "order {o} is?", "Also, can I get a refund for order {o} instead?"]

FIGURES: dict[str, object] = {}


def raw_mail(mid: str, sender: str, subject: str, body: str, at: datetime,
             in_reply_to: str | None = None, refs: tuple[str, ...] = ()) -> bytes:
    msg = EmailMessage()
    msg["From"] = f"Customer {sender.split('@')[0]} <{sender}>"
    msg["To"] = "support@example-shop.test"
    msg["Subject"] = subject
    msg["Date"] = format_datetime(at)
    msg["Message-ID"] = mid
    if in_reply_to:
        msg["In-Reply-To"] = in_reply_to
    if refs:
        msg["References"] = " ".join(refs)
    msg.set_content(body)
    return msg.as_bytes()


@dataclass
class Customer:
    """One conversation's customer and what they will write."""

    n: int
    kind: str
    order: str
    sent: list[str] = field(default_factory=list)      # Message-IDs written so far
    planned: int = 0                                   # messages still to write
    waits_for_approval: bool = False

    @property
    def addr(self) -> str:
        return f"c{self.n}@customer.test"


@dataclass(order=True)
class Arrival:
    at: datetime
    seq: int
    customer: Customer = field(compare=False)
    body: str = field(compare=False)
    threaded: bool = field(compare=False, default=True)


class Fortnight:
    def __init__(self, cfg, services, sink):
        self.cfg, self.services, self.sink = cfg, services, sink
        self.clock = Clock(START)
        self.rng = random.Random(SEED)
        self.queue: list[Arrival] = []
        self.seq = 0
        self.customers: list[Customer] = []
        self.by_mid: dict[str, Customer] = {}
        self.restarts = 0
        self.stopped_approvals = 0
        self.reviews = 0
        self.watch_runs = 0
        self.open_checks = 0
        self._open()

    # ---- the process, and its restarts
    def _open(self):
        self.repo = open_repository(self.cfg.database_url)
        self.service = Service(self.cfg, self.repo, services=self.services, clock=self.clock)

    def restart(self):
        self.repo.engine.dispose()
        self._open()
        self.restarts += 1

    # ---- traffic
    def plan(self):
        kinds = (["single"] * 8 + ["hold_followup"] * 4 + ["after_approval"] * 4
                 + ["five_times"] * 2 + ["by_order"] * 2)
        n = 0
        day = START
        while day < END - timedelta(days=1, hours=12):
            for _ in range(self.rng.randint(5, 9)):
                at = day + timedelta(minutes=self.rng.randrange(24 * 60))
                if at >= END - timedelta(days=1, hours=12):
                    continue
                c = Customer(n, self.rng.choice(kinds), str(40000 + n))
                n += 1
                self.customers.append(c)
                self._script(c, at)
            day += timedelta(days=1)

    def _push(self, at, c, body, threaded=True):
        self.seq += 1
        heapq.heappush(self.queue, Arrival(at, self.seq, c, body.format(o=c.order), threaded))

    def _script(self, c: Customer, at: datetime):
        rng = self.rng
        if c.kind == "single":
            self._push(at, c, rng.choice(CALM + HOSTILE[:2]))
        elif c.kind == "hold_followup":
            self._push(at, c, rng.choice(HOSTILE))
            self._push(at + timedelta(minutes=rng.randint(20, 150)), c,
                       rng.choice(HOSTILE + FOLLOW_CALM))
        elif c.kind == "after_approval":
            self._push(at, c, rng.choice(CALM))
            c.waits_for_approval = True          # writes again 10 min after the approval
        elif c.kind == "five_times":
            t = at
            for i in range(5):
                self._push(t, c, rng.choice(HOSTILE), threaded=i % 2 == 0)
                t += timedelta(minutes=rng.randint(20, 120))
        elif c.kind == "by_order":                # no headers: same sender, same order
            self._push(at, c, CALM[0])
            self._push(at + timedelta(hours=rng.randint(1, 5)), c,
                       "Order {o}: I am still waiting. Please answer.", threaded=False)

    def deliver(self, a: Arrival) -> int:
        c = a.customer
        mid = f"<m{self.seq}-{len(c.sent)}.{c.n}@customer.test>"
        self.seq += 1
        first = not c.sent
        subject = f"Order {c.order}" if first else (
            f"Re: Order {c.order}" if a.threaded else "Still waiting")
        raw = raw_mail(mid, c.addr, subject, a.body, a.at,
                       in_reply_to=c.sent[-1] if c.sent and a.threaded else None,
                       refs=tuple(c.sent) if a.threaded else ())
        c.sent.append(mid)
        self.by_mid[mid] = c
        pk, new = self.repo.store_raw(raw, source="smtp", received_at=a.at, message_id=mid,
                                      deadline_at=cooling.reply_deadline(
                                          a.at, self.service.services.policy))
        assert new
        self.service.process([pk])
        return pk

    # ---- reps and jobs
    def working(self, t: datetime) -> bool:
        local = t.astimezone(BERLIN)
        return local.weekday() < 5 and 9 <= local.hour < 18

    def review(self, t: datetime):
        """A rep's hourly review: approve the drafts first due (queue order)."""
        self.reviews += 1
        rows = self.repo.list([Stage.DRAFTED], limit=REP_CAPACITY)
        for row in rows:
            actions.approve(self.repo, row.id, actor="rep:alice", now=t,
                            message_id_domain=self.cfg.shop.message_id_domain)
            c = self.by_mid.get(row.message_id or "")
            if c is not None and c.waits_for_approval:
                c.waits_for_approval = False     # the customer writes again at once
                self._push(t + TICK, c, self.rng.choice(FOLLOW_CALM + HOSTILE[:2]))

    def next_release(self):
        with self.repo.session() as s:
            return s.scalar(select(func.min(MessageRow.release_at))
                            .where(MessageRow.stage == Stage.HELD.value))

    def check_one_open_per_conversation(self):
        self.open_checks += 1
        with self.repo.session() as s:
            rows = s.execute(select(MessageRow.conversation_id, func.count())
                             .where(MessageRow.stage.in_(["held", "drafted", "approved"]))
                             .group_by(MessageRow.conversation_id)
                             .having(func.count() > 1)).all()
        assert rows == [], f"conversations with more than one current draft: {rows}"

    def run(self):
        self.plan()
        restarts = list(RESTARTS)
        t = START
        watch = getattr(Service, "watch_deadlines", None)
        while t < END:
            self.clock.now = t
            if restarts and t >= restarts[0]:
                restarts.pop(0)
                self.restart()
            delivered = False
            while self.queue and self.queue[0].at <= t:
                self.deliver(heapq.heappop(self.queue))
                delivered = True
            self.service.release_due()
            on_tick = (t - START) % TICK == timedelta(0)
            if on_tick:
                minute = t.minute
                if minute == 10 and self.working(t):
                    self.review(t)
                if minute % 30 == 0:
                    self.service.send_approved()
                if watch is not None and minute % 30 == 0:
                    self.service.watch_deadlines()
                    self.watch_runs += 1
            if delivered or on_tick:
                self.check_one_open_per_conversation()
            # the next moment anything happens: a tick, an arrival, a hold's end
            nxt = START + ((t - START) // TICK + 1) * TICK
            if self.queue:
                nxt = min(nxt, self.queue[0].at)
            release = self.next_release()
            if release is not None and release > t:
                nxt = min(nxt, release)
            t = nxt
        self.clock.now = END


@pytest.fixture
def sink():
    with SmtpSink() as s:
        yield s


def test_a_simulated_fortnight(tmp_path, sink, services):
    import time
    started = time.monotonic()
    cfg = config_mod.from_dict({
        "responder": {"database_url": f"sqlite:///{tmp_path / 'fortnight.db'}",
                      "timezone": "Europe/Berlin"},
        "shop": {"owner_address": OWNER},
        "smtp": {"host": "127.0.0.1", "port": sink.port, "security": "none"},
        "cooling": COOLING, "conversations": CONVERSATIONS}, "<fortnight>")
    services.cfg = cfg
    sim = Fortnight(cfg, services, sink)
    sim.run()
    repo = sim.repo
    margin = timedelta(hours=cfg.cooling.ready_before_deadline_hours)

    with repo.session() as s:
        rows = {r.id: r for r in s.scalars(select(MessageRow))}
        events = defaultdict(list)
        for e in s.scalars(select(EventRow).order_by(EventRow.id)):
            events[e.message_pk].append(e)
    with repo.session() as s:          # the drafts, loaded
        drafts = {r.id: repo.get(r.id).draft for r in s.scalars(select(MessageRow))}
    convs = defaultdict(list)
    for r in rows.values():
        if r.stage != "skipped":       # screened out (e.g. throttle): no conversation
            convs[r.conversation_id].append(r)
    for members in convs.values():
        members.sort(key=lambda r: (r.received_at, r.id))
    assert sim.restarts == 2
    assert all(r.stage not in ("received", "scored", "quarantined") for r in rows.values())

    # -- every conversation: exactly one current draft per unanswered round ---------------
    open_stages = {"held", "drafted", "approved"}
    for cid, members in convs.items():
        ids = {m.id for m in members}
        current = [m for m in members if m.stage in open_stages]
        assert len(current) <= 1, (cid, [(m.id, m.stage) for m in members])
        for m in members:
            if m.stage == "superseded":
                target = rows[drafts[m.id].superseded_by]
                assert target.id in ids and target.stage != "superseded", (cid, m.id)
                assert target.received_at >= m.received_at
                assert drafts[m.id].body                       # kept for the audit trail
                assert any(e.action == "superseded" for e in events[m.id])
            else:
                assert m.stage in open_stages | {"sent", "skipped"}, (m.id, m.stage)
        answering = [m for m in members if m.stage in open_stages | {"sent"}]
        assert answering, f"conversation #{cid} has no draft"
        if members[-1].stage != "skipped":
            # the newest message is the one the current draft replies to
            assert members[-1].stage in open_stages | {"sent"}, (cid, members[-1].stage)

    # -- ready before the deadline minus the margin (or at once, when it came later) ------
    ready_late = ready_at_once = 0
    ready = {}
    for pk, evs in events.items():
        at = next((e.at for e in evs if e.to_stage == "drafted"), None)
        if at is None:
            continue
        ready[pk] = at
        r = rows[pk]
        if not (at <= r.deadline_at - margin or at == r.received_at):
            ready_late += 1
        elif at > r.deadline_at - margin:
            ready_at_once += 1          # it came in after deadline - margin: drafted at once
    assert ready_late == 0
    for members in convs.values():
        for m in members:
            if m.stage in ("drafted", "approved", "sent"):
                assert m.id in ready, m.id

    # -- every hold released at its time ----------------------------------------------------
    held = [pk for pk, evs in events.items() if any(e.to_stage == "held" for e in evs)]
    hold_lengths = []
    released_on_time = 0
    for pk in held:
        evs = events[pk]
        held_at = next(e.at for e in evs if e.to_stage == "held")
        out = next((e for e in evs if e.from_stage == "held" and e.to_stage != "held"), None)
        if out is None:
            assert rows[pk].release_at > END, pk                 # still cooling at the end
            continue
        if out.action == "released":
            assert out.at == rows[pk].release_at, (pk, out.at, rows[pk].release_at)
            released_on_time += 1
        else:
            assert out.action == "superseded" and out.at <= rows[pk].release_at, (pk, out)
        hold_lengths.append((out.at - held_at).total_seconds() / 3600)

    # -- no stale reply sent ----------------------------------------------------------------
    replies = [m for m in sink.messages if OWNER not in m.rcpt_tos]
    sent_rows = [r for r in rows.values() if r.stage == "sent"]
    assert len(replies) == len(sent_rows)                        # each exactly once
    stopped = {drafts[pk].reply_message_id for pk, evs in events.items()
               if any(e.action == "superseded" and "stopped before sending" in e.reason
                      for e in evs)}
    assert stopped, "the fortnight had no follow-up after an approval"
    sim.stopped_approvals = len(stopped)
    for captured in replies:
        reply = parsing.parse(captured.data)
        assert reply.message_id not in stopped
        [lead] = [r for r in sent_rows if drafts[r.id].reply_message_id == reply.message_id]
        assert reply.in_reply_to == lead.message_id
        sent_at = drafts[lead.id].sent_at
        members = convs[lead.conversation_id]
        before = [m for m in members if m.received_at <= sent_at and m.stage != "skipped"]
        earlier_sends = [drafts[m.id].sent_at for m in members
                         if m.stage == "sent" and drafts[m.id].sent_at < sent_at]
        since = max(earlier_sends, default=None)
        for m in before:
            if since is not None and m.received_at <= since:
                continue
            assert m.id == lead.id or drafts[m.id].superseded_by == lead.id, (
                f"reply to #{lead.id} sent at {sent_at} did not cover #{m.id}")

    # -- the owner: one notice per escalated message ----------------------------------------
    escalated = [pk for pk, evs in events.items() if any(e.action == "escalated" for e in evs)]
    notices = [m for m in sink.messages if OWNER in m.rcpt_tos]
    if sim.watch_runs:
        subjects = [parsing.parse(m.data).subject for m in notices]
        noticed = [s for s in subjects if s.startswith("Reply due soon: #")]
        by_pk = defaultdict(int)
        for s in noticed:
            by_pk[int(s.split("#", 1)[1].split()[0])] += 1
        assert escalated, "nothing was escalated in two weeks with weekends"
        assert sorted(by_pk) == sorted(escalated) and set(by_pk.values()) == {1}

    # -- the figures ------------------------------------------------------------------------
    answered_on_time = answered_late = 0
    for r in sent_rows:
        if drafts[r.id].sent_at <= r.deadline_at:
            answered_on_time += 1
        else:
            answered_late += 1
    kinds = defaultdict(int)
    for c in sim.customers:
        kinds[c.kind] += 1
    skipped = [r for r in rows.values() if r.stage == "skipped"]
    FIGURES.update({
        "messages": len(rows), "conversations": len(convs), "customers by kind": dict(kinds),
        "replies sent": len(sent_rows), "answered on time": answered_on_time,
        "answered late": answered_late,
        "unanswered at the end": sum(1 for r in rows.values() if r.stage in open_stages),
        "superseded drafts": sum(1 for r in rows.values() if r.stage == "superseded"),
        "approvals stopped (customer wrote again)": sim.stopped_approvals,
        "skipped": len(skipped), "held": len(held),
        "holds released exactly at release_at": released_on_time,
        "held drafts superseded while held": len(hold_lengths) - released_on_time,
        "drafts ready at once (came in within the margin)": ready_at_once,
        "mean hold h": round(statistics.mean(hold_lengths), 2) if hold_lengths else None,
        "escalated": len(escalated), "owner notices": len(notices),
        "restarts": sim.restarts, "rep reviews": sim.reviews,
        "seconds": round(time.monotonic() - started, 1),
        "config": {"cooling": COOLING, "conversations": CONVERSATIONS,
                   "scoring.hold_threshold": cfg.scoring.hold_threshold,
                   "rep capacity per hour": REP_CAPACITY, "seed": SEED},
    })
    print("\nsimulated fortnight:")
    for key, value in FIGURES.items():
        print(f"  {key}: {value}")
    assert answered_on_time > 0 and released_on_time > 0

"""``responder replay PATH --report FILE.html``: one self-contained HTML page of what
responder would have done with an exported mailbox, for a seller to read before
connecting the real inbox.

The page needs no network and runs no script: the CSS is inline, the plots are
inline SVG drawn here (horizontal bars: a few rectangles and labels need no plotting
library), and a Content-Security-Policy meta tag forbids scripts and any remote load.
Every number is a link to a list of the messages behind it, and every message has
its own section with its decision (anchors within the same file). Everything the
customers wrote goes through Jinja's autoescaping (``templates/report/``).

Built from the records ``replay.run`` writes (its ``on_record`` hook) and the
decisions behind them, so the page shows exactly what ``--json`` says.
"""
from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from responder import resources
from responder.config import Config
from responder.core.cooling import is_hostile
from responder.core.model import Decision, ReputationThreat
from responder.core.threats import KIND_TITLES
from responder.store.customers import CustomerHistory, DifficultyRules, HistoryItem, judge

__all__ = ["CSP", "Report"]

#: no script, no remote anything: only the page's own inline style and data: images
CSP = ("default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
       "base-uri 'none'; form-action 'none'")

_OWN_WORDS_MAX = 1200

#: hold lengths and deadline slack are shown in these buckets (hours; upper bound open)
HOLD_BUCKETS: tuple[tuple[str, float, float], ...] = (
    ("under 1 h", 0, 1), ("1-2 h", 1, 2), ("2-4 h", 2, 4), ("4-6 h", 4, 6),
    ("6-12 h", 6, 12), ("12 h or more", 12, float("inf")))
SLACK_BUCKETS: tuple[tuple[str, float, float], ...] = (
    ("missed (below 0 h)", float("-inf"), 0), ("0-2 h", 0, 2), ("2-6 h", 2, 6),
    ("6-12 h", 6, 12), ("12-24 h", 12, 24), ("24 h or more", 24, float("inf")))


@dataclass
class Message:
    """One replayed message as the report shows it."""

    number: int                  # 1-based, in the replay's order
    rec: dict[str, Any]          # the replay --json record
    outcome: str                 # drafted | held | skipped | quarantined | superseded
    sender: str
    subject: str
    received_at: datetime | None
    own_words: str
    hostile: bool
    hold_hours: float | None
    slack_hours: float | None
    threats: list[ReputationThreat]

    @property
    def anchor(self) -> str:
        return f"m-{self.number}"


@dataclass
class Group:
    """The messages behind one number."""

    anchor: str
    title: str
    numbers: list[int] = field(default_factory=list)


@dataclass
class Bar:
    label: str
    value: int
    href: str                    # "#g-..." (the group behind the number)
    total: int | None = None     # drawn lighter behind ``value`` (e.g. all of a language)
    total_href: str | None = None
    note: str = ""


@dataclass
class Chart:
    """A horizontal bar chart; the template turns the geometry into inline SVG."""

    key: str
    title: str
    caption: str
    bars: list[Bar]
    width: int = 640
    label_width: int = 190
    bar_height: int = 22
    gap: int = 8

    @property
    def height(self) -> int:
        return max(1, len(self.bars)) * (self.bar_height + self.gap) + self.gap

    @property
    def scale(self) -> float:
        top = max([max(b.value, b.total or 0) for b in self.bars] + [1])
        return (self.width - self.label_width - 90) / top

    def rows(self) -> list[dict[str, Any]]:
        out = []
        for i, bar in enumerate(self.bars):
            y = self.gap + i * (self.bar_height + self.gap)
            w = max(2.0, bar.value * self.scale) if bar.value else 0.0
            tw = max(2.0, (bar.total or 0) * self.scale) if bar.total else 0.0
            out.append({"bar": bar, "y": y, "w": round(w, 1), "tw": round(tw, 1),
                        "text_x": round(self.label_width + max(w, tw) + 6, 1)})
        return out


@dataclass
class Sender:
    """A difficult sender's row, each number with the group behind it."""

    h: CustomerHistory
    messages_href: str
    hostile_href: str
    threats_href: str
    threat_count: int
    refunds_href: str


class Report:
    """Collects replayed messages (``add``), then writes the page (``write``)."""

    def __init__(self, cfg: Config, now: datetime, *, sources: Sequence[str] = ()) -> None:
        self.cfg = cfg
        self.now = now
        self.sources = list(sources)
        self.hold_threshold = cfg.scoring.hold_threshold
        self.rules = DifficultyRules.from_config(cfg)
        self.messages: list[Message] = []
        self.groups: dict[str, Group] = {}

    # ---- collecting -----------------------------------------------------------------
    def add(self, rec: dict[str, Any], d: Decision) -> None:
        """One message, as ``replay.run(on_record=report.add)`` hands it over."""
        p = d.parsed
        received = (p.date.astimezone(UTC) if p is not None and p.date is not None
                    else (self.now if p is not None else None))
        if d.error is not None:
            outcome = "quarantined"
        elif d.skip is not None:
            outcome = "skipped"
        elif rec.get("superseded_by"):
            outcome = "superseded"
        elif d.hold is not None:
            outcome = "held"
        else:
            outcome = "drafted"
        hold_hours = slack = None
        if outcome in ("held", "drafted") and received is not None:
            ready = d.hold.release_at if d.hold is not None else received
            if d.hold is not None:
                hold_hours = (d.hold.release_at - received).total_seconds() / 3600
            if d.deadline_at is not None:
                slack = (d.deadline_at - ready).total_seconds() / 3600
        own = (p.own_words or p.text) if p is not None else ""
        if len(own) > _OWN_WORDS_MAX:
            own = own[:_OWN_WORDS_MAX].rstrip() + " …"
        self.messages.append(Message(
            number=len(self.messages) + 1, rec=rec, outcome=outcome,
            sender=p.customer_addr if p is not None else "",
            subject=p.subject if p is not None else "", received_at=received, own_words=own,
            hostile=d.skip is None and is_hostile(d.hostility, self.hold_threshold),
            hold_hours=hold_hours, slack_hours=slack,
            threats=list(d.threats) if d.skip is None else []))

    # ---- figures --------------------------------------------------------------------
    def _group(self, key: str, title: str, numbers: Sequence[int]) -> str:
        slug = re.sub(r"[^a-z0-9]+", "-", key.lower()).strip("-") or "x"
        anchor = f"g-{slug}"
        n = 2
        while anchor in self.groups and self.groups[anchor].title != title:
            anchor = f"g-{slug}-{n}"
            n += 1
        group = self.groups.setdefault(anchor, Group(anchor=anchor, title=title))
        group.numbers = sorted(set(group.numbers) | set(numbers))
        return f"#{anchor}"

    def _answered(self) -> list[Message]:
        return [m for m in self.messages if m.outcome in ("held", "drafted", "superseded")]

    def summary(self) -> list[dict[str, Any]]:
        rows = []
        for key, title, pick in (
                ("all", "messages replayed", lambda m: True),
                ("drafted", "drafted at once", lambda m: m.outcome == "drafted"),
                ("held", "held for cooling off", lambda m: m.outcome == "held"),
                ("superseded", "answered by a later draft of the conversation",
                 lambda m: m.outcome == "superseded"),
                ("skipped", "skipped (automatic mail, never answered)",
                 lambda m: m.outcome == "skipped"),
                ("quarantined", "quarantined (could not be read)",
                 lambda m: m.outcome == "quarantined"),
                ("hostile", "hostile", lambda m: m.hostile),
                ("threats", "with a reputation threat", lambda m: bool(m.threats))):
            numbers = [m.number for m in self.messages if pick(m)]
            rows.append({"title": title, "value": len(numbers),
                         "href": self._group(f"summary-{key}", title.capitalize(), numbers)})
        return rows

    def charts(self) -> list[Chart]:
        return [self._languages(), self._holds(), self._intents(), self._skips(),
                self._slack()]

    def _languages(self) -> Chart:
        by: dict[str, list[Message]] = {}
        for m in self._answered():
            by.setdefault(m.rec.get("language") or "unknown", []).append(m)
        bars = []
        for lang, msgs in sorted(by.items(), key=lambda kv: (-len(kv[1]), kv[0])):
            hostile = [m.number for m in msgs if m.hostile]
            bars.append(Bar(
                label=lang, value=len(hostile),
                href=self._group(f"lang-{lang}-hostile", f"Hostile messages in {lang}", hostile),
                total=len(msgs),
                total_href=self._group(f"lang-{lang}", f"Messages in {lang}",
                                       [m.number for m in msgs]),
                note=f"{len(hostile) / len(msgs):.0%}"))
        return Chart("languages", "Hostility by language",
                     "Dark: hostile messages (score at or above "
                     f"{self.hold_threshold:.2f}); light: all answered messages in the "
                     "language.", bars)

    def _bucketed(self, key: str, values: list[tuple[int, float]],
                  buckets: Sequence[tuple[str, float, float]], what: str) -> list[Bar]:
        bars = []
        for label, low, high in buckets:
            numbers = [n for n, v in values if low <= v < high]
            bars.append(Bar(label=label, value=len(numbers),
                            href=self._group(f"{key}-{label}", f"{what}: {label}", numbers)))
        return bars

    def _holds(self) -> Chart:
        values = [(m.number, m.hold_hours) for m in self.messages if m.hold_hours is not None]
        hours = [v for _n, v in values]
        mean = f"; mean {sum(hours) / len(hours):.1f} h" if hours else ""
        return Chart("holds", "Holds and their lengths",
                     f"{len(values)} message(s) held for cooling off{mean}; length from "
                     "arrival to the draft being ready.",
                     self._bucketed("hold", values, HOLD_BUCKETS, "Held"))

    def _intents(self) -> Chart:
        by: dict[str, list[int]] = {}
        for m in self._answered():
            by.setdefault(m.rec.get("intent") or "unknown", []).append(m.number)
        bars = [Bar(label=intent, value=len(nums),
                    href=self._group(f"intent-{intent}", f"Intent {intent}", nums))
                for intent, nums in sorted(by.items(), key=lambda kv: (-len(kv[1]), kv[0]))]
        return Chart("intents", "Intents", "What the customers asked for.", bars)

    def _skips(self) -> Chart:
        by: dict[str, list[int]] = {}
        for m in self.messages:
            if m.outcome == "skipped":
                by.setdefault(m.rec.get("skip_rule") or "?", []).append(m.number)
        bars = [Bar(label=rule, value=len(nums),
                    href=self._group(f"skip-{rule}", f"Skipped by rule {rule}", nums))
                for rule, nums in sorted(by.items(), key=lambda kv: (-len(kv[1]), kv[0]))]
        return Chart("skips", "Skipped mail by rule",
                     "Automatic mail (bounces, out-of-office replies, newsletters, our own "
                     "mail) is never answered; each is skipped by the first rule that fits.",
                     bars)

    def _slack(self) -> Chart:
        values = [(m.number, m.slack_hours) for m in self.messages
                  if m.slack_hours is not None]
        return Chart("slack", "Deadline slack",
                     "Time left before the reply deadline when the draft is ready for a rep "
                     f"({self.cfg.cooling.reply_deadline_hours:g} h after arrival).",
                     self._bucketed("slack", values, SLACK_BUCKETS, "Slack"))

    def threat_rows(self) -> list[dict[str, Any]]:
        rows = []
        for kind, title in KIND_TITLES.items():
            numbers = [m.number for m in self.messages
                       if any(t.kind == kind for t in m.threats)]
            rows.append({"title": title, "value": len(numbers),
                         "href": self._group(f"threat-{kind}", f"Threat: {title}", numbers)})
        return rows

    def difficult(self) -> list[Sender]:
        """Senders the owner's list would show, by the shop's [customers] rules."""
        people: dict[str, CustomerHistory] = {}
        for m in self._answered():
            if not m.sender or m.received_at is None:
                continue
            item = HistoryItem(pk=m.number, received_at=m.received_at, subject=m.subject,
                               stage=m.outcome, language=m.rec.get("language"),
                               hostility=m.rec.get("hostility"), hostile=m.hostile,
                               intent=m.rec.get("intent"), threats=m.threats,
                               reply_sent=False)
            people.setdefault(m.sender, CustomerHistory(address=m.sender)).items.append(item)
        rows: list[Sender] = []
        for h in people.values():
            h.items.sort(key=lambda i: (i.received_at, i.pk))
            judge(h, self.rules)
            if not h.difficult:
                continue
            slug, who = f"sender-{len(rows)}", h.address
            rows.append(Sender(
                h=h,
                messages_href=self._group(f"{slug}-all", f"Messages from {who}",
                                          [i.pk for i in h.items]),
                hostile_href=self._group(f"{slug}-hostile", f"Hostile messages from {who}",
                                         [i.pk for i in h.items if i.hostile]),
                threats_href=self._group(f"{slug}-threats", f"Threats from {who}",
                                         [i.pk for i in h.items if i.threats]),
                threat_count=sum(1 for i in h.items if i.threats),
                refunds_href=self._group(f"{slug}-refunds", f"Refunds asked by {who}",
                                         [i.pk for i in h.items
                                          if i.intent == "refund_request"])))
        rows.sort(key=lambda r: (len(r.h.threats), r.h.hostile, r.h.messages), reverse=True)
        return rows

    # ---- writing --------------------------------------------------------------------
    def render(self) -> str:
        env = Environment(loader=FileSystemLoader(str(resources.templates_dir() / "report")),
                          autoescape=select_autoescape(default=True, default_for_string=True),
                          undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)
        env.filters["utc"] = lambda d: f"{d:%Y-%m-%d %H:%M} UTC" if d else "-"
        env.filters["hours"] = lambda h: "-" if h is None else f"{h:.1f} h"
        # figures first: they name the groups the message lists below show
        summary, charts = self.summary(), self.charts()
        threats, difficult = self.threat_rows(), self.difficult()
        by_number = {m.number: m for m in self.messages}
        groups = list(self.groups.values())          # in the order the page names them
        return env.get_template("report.html").render(
            csp=CSP, cfg=self.cfg, now=self.now, sources=self.sources, summary=summary,
            charts=charts, threats=threats, difficult=difficult, groups=groups,
            by_number=by_number, messages=self.messages, kind_titles=KIND_TITLES,
            rules=self.rules)

    def write(self, path: str | Path) -> Path:
        out = Path(path)
        out.write_text(self.render(), encoding="utf-8")
        return out

"""The whole decision for incoming mail, as one table of named stages.

    parse -> screen -> score -> classify -> cool -> draft

Each stage takes the batch of decisions still in flight and fills in its part;
a stage may finish a decision early (skipped, quarantined), and those leave the
batch. The same table serves ``responder replay`` (in memory, nothing sent) and
the live service (``process_stored`` applies the decision to the store).
Batches let the scorer and the intent classifier run their models once for many
messages.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Callable, Sequence

from responder.core import cooling

from responder.core import drafting

from responder.core import parsing

from responder.core import screening
from responder.config import Config
from responder.core.model import Decision, Stage

log = logging.getLogger(__name__)


@dataclass
class Services:
    """The long-lived parts the stages use: config, models, templates."""

    cfg: Config
    scorer: object
    classifier: object
    renderer: drafting.TemplateRenderer
    replied_recently: Callable[[str], bool] = field(default=lambda addr: False)

    @classmethod
    def from_config(cls, cfg: Config, replied_recently: Callable[[str], bool] | None = None,
                    ) -> "Services":
        from responder.core.intent import make_classifier
        from responder.core.scoring import make_scorer
        return cls(cfg=cfg, scorer=make_scorer(cfg.scoring),
                   classifier=make_classifier(cfg.intent),
                   renderer=drafting.TemplateRenderer(cfg.drafting.templates_dir or None),
                   replied_recently=replied_recently or (lambda addr: False))

    def screen_context(self) -> screening.ScreenContext:
        cfg = self.cfg
        return screening.ScreenContext(
            own_addresses=frozenset(cfg.shop.addresses),
            own_message_id_domains=frozenset({cfg.shop.message_id_domain.lower()}),
            loop_header_value=cfg.screening.loop_header_value,
            replied_recently=self.replied_recently)


@dataclass
class Item:
    """One message in flight through the stages."""

    raw: bytes
    received_at: datetime | None   # None: take the Date header (replay), else now
    decision: Decision = field(default_factory=Decision)
    done: bool = False


# ---- the stages -----------------------------------------------------------------------

def parse_stage(items: list[Item], svc: Services, now: datetime) -> None:
    for item in items:
        try:
            item.decision.parsed = parsing.parse(item.raw)
        except parsing.ParseError as exc:
            item.decision.error = f"cannot parse: {exc}"
            item.done = True
            continue
        if item.received_at is None:
            date = item.decision.parsed.date
            item.received_at = date.astimezone(timezone.utc) if date else now
        item.decision.deadline_at = cooling.reply_deadline(
            item.received_at, svc.cfg.cooling.reply_deadline_hours)


def screen_stage(items: list[Item], svc: Services, now: datetime) -> None:
    ctx = svc.screen_context()
    for item in items:
        verdict = screening.screen(item.decision.parsed, ctx)
        if verdict is not None:
            item.decision.skip = verdict
            item.done = True


def _model_texts(items: list[Item]) -> tuple[list[str], list[str | None]]:
    texts = [item.decision.parsed.own_words or item.decision.parsed.text for item in items]
    langs = [item.decision.parsed.language for item in items]
    return texts, langs


def score_stage(items: list[Item], svc: Services, now: datetime) -> None:
    texts, langs = _model_texts(items)
    for item, verdict in zip(items, svc.scorer.score(texts, langs)):
        item.decision.hostility = verdict


def classify_stage(items: list[Item], svc: Services, now: datetime) -> None:
    texts, langs = _model_texts(items)
    texts = [f"{item.decision.parsed.subject}\n{text}" for item, text in zip(items, texts)]
    for item, verdict in zip(items, svc.classifier.classify(texts, langs)):
        item.decision.intent = verdict


def cool_stage(items: list[Item], svc: Services, now: datetime) -> None:
    c = svc.cfg.cooling
    for item in items:
        item.decision.hold = cooling.hold_for(
            item.decision.hostility, item.received_at, hold_hours=c.hold_hours,
            reply_deadline_hours=c.reply_deadline_hours,
            ready_before_deadline_hours=c.ready_before_deadline_hours)


def draft_stage(items: list[Item], svc: Services, now: datetime) -> None:
    d = svc.cfg.drafting
    for item in items:
        item.decision.draft = drafting.build_draft(
            item.decision.parsed, intent=item.decision.intent,
            hostility=item.decision.hostility, shop=svc.cfg.shop, renderer=svc.renderer,
            default_language=d.default_language, quote_original=d.quote_original,
            html=d.html)


STAGES: tuple[tuple[str, Callable[[list[Item], Services, datetime], None]], ...] = (
    ("parse", parse_stage),        # bytes -> text, own words, language; bad mail: quarantine
    ("screen", screen_stage),      # RFC 3834 rules: automatic mail is skipped, never answered
    ("score", score_stage),        # hostility score, labels, evidence sentences
    ("classify", classify_stage),  # what the customer wants
    ("cool", cool_stage),          # hostile: hold until release_at (within the deadline)
    ("draft", draft_stage),        # reply from the template, threading headers
)


def decide(raws: Sequence[bytes], svc: Services, now: datetime,
           received_at: Sequence[datetime | None] | None = None,
           stages=STAGES) -> list[Decision]:
    """Run the stage table over a batch of raw messages. Sends nothing, stores nothing."""
    items = [Item(raw=raw, received_at=(received_at[i] if received_at else None))
             for i, raw in enumerate(raws)]
    for name, stage in stages:
        active = [item for item in items if not item.done]
        if not active:
            break
        try:
            stage(active, svc, now)
        except Exception as exc:  # noqa: BLE001 - a bug in one stage must not lose mail
            log.exception("stage %s failed on a batch of %d; retrying one by one",
                          name, len(active))
            for item in active:
                try:
                    stage([item], svc, now)
                except Exception as one:  # noqa: BLE001
                    item.decision.error = f"stage {name} failed: {type(one).__name__}: {one}"
                    item.done = True
    return [item.decision for item in items]


# ---- the live service: apply decisions to the store ------------------------------------

def process_stored(repo, svc: Services, pks: Sequence[int], now: datetime) -> None:
    """Decide every stored message in ``pks`` (stage received) and record the outcome."""
    rows = [repo.get(pk) for pk in pks]
    # SCORED is transient: a crash between scoring and holding/drafting leaves a
    # message there, and deciding it again is safe (the decision is repeatable).
    rows = [row for row in rows if row.stage in (Stage.RECEIVED.value, Stage.SCORED.value)]
    if not rows:
        return
    decisions = decide([row.raw for row in rows], svc, now,
                       received_at=[row.received_at for row in rows])
    for row, decision in zip(rows, decisions):
        apply_decision(repo, row.id, decision, now)


def apply_decision(repo, pk: int, d: Decision, now: datetime) -> Stage:
    """Record one decision: quarantined, skipped, held or drafted, with the reason."""
    expect = [Stage.RECEIVED, Stage.SCORED]
    common = {}
    if d.parsed is not None:
        common = dict(from_addr=d.parsed.from_addr, customer_addr=d.parsed.customer_addr,
                      subject=d.parsed.subject, language=d.parsed.language)
    if d.quarantined:
        repo.transition(pk, Stage.QUARANTINED, actor="system", action="quarantined",
                        reason=d.error, now=now, expect=expect, error=d.error, **common)
        return Stage.QUARANTINED
    if d.skip is not None:
        repo.transition(pk, Stage.SKIPPED, actor="system", action="screened",
                        reason=f"{d.skip.rule}: {d.skip.reason}", now=now, expect=expect,
                        skip_rule=d.skip.rule, skip_reason=d.skip.reason, **common)
        return Stage.SKIPPED
    h, i = d.hostility, d.intent
    verdicts = dict(hostility=h.score if h else None,
                    hostility_labels=h.labels if h else None,
                    hostility_evidence=h.evidence if h else None,
                    intent=i.intent if i else None,
                    intent_confidence=i.confidence if i else None)
    repo.transition(pk, Stage.SCORED, actor="system", action="scored",
                    reason=(f"hostility {h.score:.2f}" if h else "no score")
                    + (f", intent {i.intent} ({i.confidence:.0%})" if i else ""),
                    now=now, expect=expect, **common, **verdicts)
    if d.hold is not None and d.hold.release_at > now:
        repo.transition(pk, Stage.HELD, actor="system", action="held", reason=d.hold.reason,
                        now=now, expect=[Stage.SCORED], draft=d.draft,
                        release_at=d.hold.release_at)
        return Stage.HELD
    repo.transition(pk, Stage.DRAFTED, actor="system", action="drafted",
                    reason=f"template {d.draft.template}"
                    + (f"; {d.hold.reason}, already due" if d.hold else ""),
                    now=now, expect=[Stage.SCORED], draft=d.draft,
                    release_at=d.hold.release_at if d.hold else None)
    return Stage.DRAFTED


def release_due(repo, now: datetime) -> list[int]:
    """Held messages whose cooling-off has ended become drafts ready for a rep."""
    released = []
    for pk in repo.due_releases(now):
        try:
            repo.transition(pk, Stage.DRAFTED, actor="scheduler", action="released",
                            reason="cooling-off period over", now=now, expect=[Stage.HELD])
            released.append(pk)
        except Exception:  # noqa: BLE001 - StageConflict: someone else moved it
            log.info("message #%s was moved by someone else before release", pk)
    return released


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


__all__ = ["STAGES", "Services", "decide", "process_stored", "apply_decision",
           "release_due", "utcnow", "timedelta"]

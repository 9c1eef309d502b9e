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
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from responder.config import Config
from responder.core import cooling, drafting, parsing, screening, threats
from responder.core.clock import utcnow
from responder.core.intent.base import IntentClassifier
from responder.core.model import Decision, ParsedMessage
from responder.core.scoring.base import Scorer

log = logging.getLogger(__name__)


@dataclass
class Services:
    """The long-lived parts the stages use: config, models, templates."""

    cfg: Config
    scorer: Scorer
    classifier: IntentClassifier
    renderer: drafting.TemplateRenderer
    replied_recently: Callable[[str], bool] = field(default=lambda addr: False)

    @classmethod
    def from_config(cls, cfg: Config, replied_recently: Callable[[str], bool] | None = None,
                    ) -> Services:
        from responder.core.intent import make_classifier
        from responder.core.scoring import make_scorer
        models_dir = cfg.learning.models_path(cfg.database_url)   # the shop's own versions
        return cls(cfg=cfg, scorer=make_scorer(cfg.scoring, models_dir=models_dir),
                   classifier=make_classifier(cfg.intent, models_dir=models_dir),
                   renderer=drafting.TemplateRenderer(cfg.drafting.templates_dir or None),
                   replied_recently=replied_recently or (lambda addr: False))

    # the policy derived from ``cfg`` (working hours, time zone, bands), kept until
    # ``cfg`` is replaced: the stages ask for it once per message
    _policy: tuple[Config, cooling.CoolingPolicy] | None = field(
        default=None, init=False, repr=False, compare=False)

    @property
    def policy(self) -> cooling.CoolingPolicy:
        if self._policy is None or self._policy[0] is not self.cfg:
            self._policy = (self.cfg, cooling.CoolingPolicy.from_config(self.cfg))
        return self._policy[1]

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
    deadline_at: datetime | None = None   # as stored with the message; None: compute it
    decision: Decision = field(default_factory=Decision)
    done: bool = False


StageFn = Callable[[list[Item], Services, datetime], None]
"""A stage: fills in its part of each item's decision (``now`` is the decision time)."""


def _parsed(item: Item) -> ParsedMessage:
    """The parsed message of an item past the parse stage (which finishes every item it
    cannot parse, so the stages after it only see parsed ones)."""
    parsed = item.decision.parsed
    if parsed is None:
        raise RuntimeError("a stage after parse was given a message that was not parsed")
    return parsed


def _received(item: Item) -> datetime:
    """The arrival time of an item past the parse stage (which fills it in)."""
    if item.received_at is None:
        raise RuntimeError("a stage after parse was given a message without arrival time")
    return item.received_at


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
            item.received_at = date.astimezone(UTC) if date else now
        item.decision.deadline_at = item.deadline_at or cooling.reply_deadline(
            item.received_at, svc.policy)


def screen_stage(items: list[Item], svc: Services, now: datetime) -> None:
    ctx = svc.screen_context()
    for item in items:
        verdict = screening.screen(_parsed(item), ctx)
        if verdict is not None:
            item.decision.skip = verdict
            item.done = True


def _model_texts(items: list[Item]) -> tuple[list[str], list[str | None]]:
    parsed = [_parsed(item) for item in items]
    texts = [p.own_words or p.text for p in parsed]
    langs = [p.language for p in parsed]
    return texts, langs


def model_version(svc: Services) -> str:
    """Which models judge mail now, e.g. "hostility builtin shipped 2026-12-02; intent
    builtin v0002" (shown by ``responder show``; ``version``: see core/learning.py)."""
    return "; ".join(f"{what} {m.name} {getattr(m, 'version', '')}".strip()
                     for what, m in (("hostility", svc.scorer), ("intent", svc.classifier)))


def score_stage(items: list[Item], svc: Services, now: datetime) -> None:
    texts, langs = _model_texts(items)
    version = model_version(svc)
    for item, verdict in zip(items, svc.scorer.score(texts, langs)):
        item.decision.hostility = verdict
        item.decision.model_version = version


def threats_stage(items: list[Item], svc: Services, now: datetime) -> None:
    for item in items:
        p = _parsed(item)
        item.decision.threats = threats.find_threats(p.own_words or p.text, p.language)


def classify_stage(items: list[Item], svc: Services, now: datetime) -> None:
    texts, langs = _model_texts(items)
    texts = [f"{_parsed(item).subject}\n{text}" for item, text in zip(items, texts)]
    for item, verdict in zip(items, svc.classifier.classify(texts, langs)):
        item.decision.intent = verdict


def cool_stage(items: list[Item], svc: Services, now: datetime) -> None:
    for item in items:
        item.decision.hold = cooling.hold_for(
            item.decision.hostility, _received(item), svc.policy,
            deadline_at=item.decision.deadline_at)


def draft_stage(items: list[Item], svc: Services, now: datetime) -> None:
    d = svc.cfg.drafting
    for item in items:
        item.decision.draft = drafting.build_draft(
            _parsed(item), intent=item.decision.intent,
            hostility=item.decision.hostility, shop=svc.cfg.shop, renderer=svc.renderer,
            hold_threshold=svc.policy.hold_threshold,
            default_language=d.default_language, quote_original=d.quote_original,
            html=d.html)


STAGES: tuple[tuple[str, StageFn], ...] = (
    ("parse", parse_stage),        # bytes -> text, own words, language; bad mail: quarantine
    ("screen", screen_stage),      # RFC 3834 rules: automatic mail is skipped, never answered
    ("score", score_stage),        # hostility score, labels, evidence sentences
    ("threats", threats_stage),    # reputation threats (review, chargeback, lawyer...): the
                                   # owner is told, nothing is decided by them
    ("classify", classify_stage),  # what the customer wants
    ("cool", cool_stage),          # hostile: hold until release_at (within the deadline)
    ("draft", draft_stage),        # reply from the template, threading headers
)


def decide(raws: Sequence[bytes], svc: Services, now: datetime,
           received_at: Sequence[datetime | None] | None = None,
           deadline_at: Sequence[datetime | None] | None = None,
           stages: Sequence[tuple[str, StageFn]] = STAGES) -> list[Decision]:
    """Run the stage table over a batch of raw messages. Sends nothing, stores nothing.

    ``received_at``/``deadline_at`` are the stored values for stored mail; without
    them the Date header gives the arrival and the policy the deadline (replay).
    """
    items = [Item(raw=raw, received_at=(received_at[i] if received_at else None),
                  deadline_at=(deadline_at[i] if deadline_at else None))
             for i, raw in enumerate(raws)]
    for name, stage in stages:
        active = [item for item in items if not item.done]
        if not active:
            break
        try:
            stage(active, svc, now)
        except Exception:  # noqa: BLE001 - a bug in one stage must not lose mail
            log.exception("stage %s failed on a batch of %d; retrying one by one",
                          name, len(active))
            for item in active:
                try:
                    stage([item], svc, now)
                except Exception as one:  # noqa: BLE001 - as above, one message
                    item.decision.error = f"stage {name} failed: {type(one).__name__}: {one}"
                    item.done = True
    return [item.decision for item in items]


__all__ = ["STAGES", "Services", "decide", "utcnow"]  # utcnow: see core.clock

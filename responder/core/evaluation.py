"""``responder eval``: hostility and intent figures on the labelled corpus."""
from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from responder.core import corpus, parsing

if TYPE_CHECKING:
    from responder.config import Config
    from responder.core.intent.base import IntentClassifier
    from responder.core.model import HostilityVerdict, IntentVerdict
    from responder.core.scoring.base import Scorer


def own_words(records: list[corpus.Record]
              ) -> tuple[list[str], list[str], list[str | None]]:
    """Customer's own words, subject + own words, and detected language, via the real parser."""
    words: list[str] = []
    with_subject: list[str] = []
    langs: list[str | None] = []
    for rec in records:
        parsed = parsing.parse(corpus.to_raw(rec))
        text = parsed.own_words or parsed.text
        words.append(text)
        with_subject.append(f"{parsed.subject}\n{text}")
        langs.append(parsed.language)
    return words, with_subject, langs


Progress = Callable[[str, int, int], None]
"""Told (step, done, total) as the evaluation goes: step is "hostility" or "intent"."""


class _Reporting:
    """A scorer or classifier that tells ``progress`` how many texts it has handled.

    Everything else is the wrapped model's (name, thresholds...), and so are the results:
    the evaluators call it exactly as they would call the model itself."""

    _inner: object

    def __init__(self, step: str, total: int, progress: Progress) -> None:
        self._step = step
        self._total = total
        self._done = 0
        self._progress = progress
        progress(step, 0, total)

    def __getattr__(self, name: str) -> Any:   # delegation: any attribute of the model
        return getattr(self._inner, name)

    def _count(self, texts: Sequence[str]) -> None:
        self._done = min(self._total, self._done + len(texts))
        self._progress(self._step, self._done, self._total)


class _ReportingScorer(_Reporting):
    _inner: Scorer

    def __init__(self, inner: Scorer, step: str, total: int, progress: Progress) -> None:
        self._inner = inner
        self.name = inner.name
        super().__init__(step, total, progress)

    def score(self, texts: Sequence[str], languages: Sequence[str | None] | None = None
              ) -> list[HostilityVerdict]:
        out = self._inner.score(texts, languages)
        self._count(texts)
        return out


class _ReportingClassifier(_Reporting):
    _inner: IntentClassifier

    def __init__(self, inner: IntentClassifier, step: str, total: int,
                 progress: Progress) -> None:
        self._inner = inner
        self.name = inner.name
        super().__init__(step, total, progress)

    def classify(self, texts: Sequence[str], languages: Sequence[str | None] | None = None
                 ) -> list[IntentVerdict]:
        out = self._inner.classify(texts, languages)
        self._count(texts)
        return out


def run_eval(cfg: Config, records: list[corpus.Record], progress: Progress | None = None,
             public: Sequence[Any] | None = None) -> tuple[dict[str, Any], str]:
    """The report (for --json) and its readable text. ``progress``, if given, is told how
    far scoring and classification have got (the front end decides how to show it).

    ``public``: held-out items of the public data sets
    (:func:`responder.core.scoring.heldout.eval_items`); with them, and with the
    records of the dev split, the report adds held-out hostility figures per
    language, per source and per kind, and a calibration table."""
    from responder.core.intent import make_classifier
    from responder.core.intent.evaluate import evaluate as eval_intent
    from responder.core.intent.evaluate import format_report as fmt_intent
    from responder.core.scoring import make_scorer
    from responder.core.scoring.evaluate import evaluate as eval_hostility
    from responder.core.scoring.evaluate import format_report as fmt_hostility

    scorer = make_scorer(cfg.scoring)
    raw_scorer = scorer
    classifier = make_classifier(cfg.intent)
    if progress is not None:
        scorer = _ReportingScorer(scorer, "hostility", len(records), progress)
    hostility = eval_hostility(scorer, records, hold_threshold=cfg.scoring.hold_threshold)
    if progress is not None:
        classifier = _ReportingClassifier(classifier, "intent", len(records), progress)
    intent = eval_intent(classifier, records)
    report: dict[str, Any] = {"records": len(records), "hostility": hostility, "intent": intent}
    text = ("HOSTILITY (hold decision)\n" + fmt_hostility(hostility)
            + "\n\nINTENT\n" + fmt_intent(intent))
    held_out = _held_out_items(records, public)
    if held_out:
        from responder.core.scoring.breakdown import evaluate_items, format_breakdown
        breakdown = evaluate_items(raw_scorer, held_out, cfg.scoring.hold_threshold)
        report["hostility_held_out"] = breakdown
        text += ("\n\nHOSTILITY ON HELD-OUT TEXT (per source, language and kind)\n"
                 + format_breakdown(breakdown))
    return report, text


def _held_out_items(records: list[corpus.Record], public: Sequence[Any] | None) -> list[Any]:
    """The dev-split records as items, plus the public held-out items (train records never)."""
    from responder.core.scoring.evaluate import prepare
    from responder.core.scoring.heldout import corpus_items
    dev = [rec for rec in records if rec.get("split") != "train"]
    items = corpus_items(dev, prepare(dev)[0]) if dev else []
    return items + list(public or [])

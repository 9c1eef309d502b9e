"""``responder eval``: hostility and intent figures on the labelled corpus."""
from __future__ import annotations

from typing import Any, Callable, Sequence

from responder.core import corpus

from responder.core import parsing


def own_words(records: list[dict]) -> tuple[list[str], list[str], list[str | None]]:
    """Customer's own words, subject + own words, and detected language, via the real parser."""
    words, with_subject, langs = [], [], []
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

    def __init__(self, inner: Any, step: str, total: int, progress: Progress) -> None:
        self._inner = inner
        self._step = step
        self._total = total
        self._done = 0
        self._progress = progress
        progress(step, 0, total)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def _count(self, texts: Sequence[str]) -> None:
        self._done = min(self._total, self._done + len(texts))
        self._progress(self._step, self._done, self._total)

    def score(self, texts: Sequence[str], *args: Any, **kwargs: Any) -> Any:
        out = self._inner.score(texts, *args, **kwargs)
        self._count(texts)
        return out

    def classify(self, texts: Sequence[str], *args: Any, **kwargs: Any) -> Any:
        out = self._inner.classify(texts, *args, **kwargs)
        self._count(texts)
        return out


def run_eval(cfg, records: list[dict], progress: Progress | None = None) -> tuple[dict, str]:
    """The report (for --json) and its readable text. ``progress``, if given, is told how
    far scoring and classification have got (the front end decides how to show it)."""
    from responder.core.intent import make_classifier
    from responder.core.intent.evaluate import evaluate as eval_intent, format_report as fmt_intent
    from responder.core.scoring import make_scorer
    from responder.core.scoring.evaluate import evaluate as eval_hostility, format_report as fmt_hostility

    scorer = make_scorer(cfg.scoring)
    classifier = make_classifier(cfg.intent)
    if progress is not None:
        scorer = _Reporting(scorer, "hostility", len(records), progress)
    hostility = eval_hostility(scorer, records, hold_threshold=cfg.scoring.hold_threshold)
    if progress is not None:
        classifier = _Reporting(classifier, "intent", len(records), progress)
    intent = eval_intent(classifier, records)
    report = {"records": len(records), "hostility": hostility, "intent": intent}
    text = ("HOSTILITY (hold decision)\n" + fmt_hostility(hostility)
            + "\n\nINTENT\n" + fmt_intent(intent))
    return report, text

"""Hostility figures on labelled corpus records (``responder eval``).

Records are corpus lines (see responder.core.corpus): ``hostility`` is one of
hostile / complaint / neutral. The text scored is the customer's own words as
the real parser finds them in the record turned into an e-mail, with the
parser's detected language, as in the live pipeline.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from responder.config import ScoringSection
from responder.core import corpus, parsing
from responder.core.cooling import is_hostile
from responder.core.languages import LANGUAGES
from responder.core.model import HostilityVerdict
from responder.core.scoring.base import Scorer

HOSTILE = "hostile"
COMPLAINT = "complaint"

#: (the record's hostility label, the score, held?) for one record
Row = tuple[str | None, float, bool]


def prepare(records: Sequence[corpus.Record]) -> tuple[list[str], list[str | None]]:
    """(own words, language) per record, the way the pipeline would see them."""
    texts: list[str] = []
    langs: list[str | None] = []
    for rec in records:
        parsed = parsing.parse(corpus.to_raw(rec))
        texts.append(parsed.own_words or parsed.text)
        langs.append(parsed.language or rec.get("lang"))
    return texts, langs


def _share(num: int, den: int) -> float | None:
    return num / den if den else None


def _auc(y: list[int], s: list[float]) -> float | None:
    if len(set(y)) < 2:
        return None
    from sklearn.metrics import roc_auc_score
    return float(roc_auc_score(y, s))


def _figures(rows: list[Row]) -> dict[str, Any]:
    y = [1 if h == HOSTILE else 0 for h, _, _ in rows]
    s = [score for _, score, _ in rows]
    held = [flag for _, _, flag in rows]
    tp = sum(1 for yi, hi in zip(y, held) if yi and hi)
    fp = sum(1 for yi, hi in zip(y, held) if not yi and hi)
    n_hostile = sum(y)
    complaints = [hi for (h, _, hi) in rows if h == COMPLAINT]
    neutral = [hi for (h, _, hi) in rows if h not in (HOSTILE, COMPLAINT)]
    return {
        "n": len(rows),
        "n_hostile": n_hostile,
        "n_complaint": len(complaints),
        "n_neutral": len(neutral),
        "auc": _auc(y, s),
        "precision": _share(tp, tp + fp),
        "recall": _share(tp, n_hostile),
        "hostile_held": _share(tp, n_hostile),
        "complaints_held": _share(sum(complaints), len(complaints)),
        "neutral_held": _share(sum(neutral), len(neutral)),
    }


def evaluate(scorer: Scorer, records: Sequence[corpus.Record], texts: Sequence[str] | None = None,
             languages: Sequence[str | None] | None = None, batch_size: int = 64,
             hold_threshold: float = ScoringSection.model_fields["hold_threshold"].default,
             ) -> dict[str, Any]:
    """Per-language and overall figures of the hold decision (score >= ``hold_threshold``,
    :func:`responder.core.cooling.is_hostile`).

    ``texts``/``languages`` may be given to skip parsing (they must match records).
    """
    records = list(records)
    if texts is None:
        texts, languages = prepare(records)
    verdicts: list[HostilityVerdict] = []
    for start in range(0, len(texts), batch_size):
        verdicts.extend(scorer.score(list(texts[start:start + batch_size]),
                                     list(languages[start:start + batch_size])
                                     if languages is not None else None))
    by_lang: dict[str, list[Row]] = {}
    all_rows: list[Row] = []
    for rec, verdict in zip(records, verdicts):
        row: Row = (rec.get("hostility"), float(verdict.score), is_hostile(verdict, hold_threshold))
        by_lang.setdefault(rec.get("lang") or "?", []).append(row)
        all_rows.append(row)
    order = [lang for lang in LANGUAGES if lang in by_lang] + sorted(
        lang for lang in by_lang if lang not in LANGUAGES)
    return {
        "scorer": getattr(scorer, "name", type(scorer).__name__),
        "threshold": hold_threshold,
        "languages": {lang: _figures(by_lang[lang]) for lang in order},
        "all": _figures(all_rows),
    }


def _fmt(value: float | None, pct: bool = False) -> str:
    if value is None:
        return "-"
    return f"{100 * value:.1f}%" if pct else f"{value:.3f}"


def format_report(report: dict[str, Any]) -> str:
    """A readable table: one line per language and one for all."""
    head = (f"{'lang':<5} {'n':>5} {'hostile':>7} {'compl.':>6} {'AUC':>6} {'prec.':>6} "
            f"{'recall':>6} {'hostile held':>12} {'compl. held':>11} {'neutral held':>12}")
    lines = [f"scorer: {report.get('scorer')}  hold threshold: {report.get('threshold')}",
             head, "-" * len(head)]
    rows = list(report.get("languages", {}).items()) + [("all", report.get("all", {}))]
    for lang, f in rows:
        if lang == "all":
            lines.append("-" * len(head))
        lines.append(
            f"{lang:<5} {f.get('n', 0):>5} {f.get('n_hostile', 0):>7} {f.get('n_complaint', 0):>6} "
            f"{_fmt(f.get('auc')):>6} {_fmt(f.get('precision')):>6} {_fmt(f.get('recall')):>6} "
            f"{_fmt(f.get('hostile_held'), True):>12} {_fmt(f.get('complaints_held'), True):>11} "
            f"{_fmt(f.get('neutral_held'), True):>12}")
    return "\n".join(lines)

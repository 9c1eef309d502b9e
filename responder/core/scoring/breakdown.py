"""Held-out hostility figures per language, per source and per kind (``responder eval``).

Every item scored here comes from a split never used for fitting, for writing
features or word lists, or for choosing the threshold
(:mod:`responder.core.scoring.heldout`): the written-here corpus's ``dev``
split, and the ``test`` split of the public sets (HateCheck and Multilingual
HateCheck are test-only functional suites). The hold decision is the cooling
policy's (:func:`responder.core.cooling.is_hostile` at ``hold_threshold``).
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from responder.core.cooling import is_hostile
from responder.core.model import LANGUAGES
from responder.core.scoring.heldout import ABUSE, COMPLAINT, NEUTRAL, Item

ORIGIN_ORDER = ("written here", "public real", "public translated", "functional tests")
KIND_ORDER = (ABUSE, COMPLAINT, NEUTRAL)
CALIBRATION_BINS = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0000001)


def auc(y: Sequence[int], s: Sequence[float]) -> float | None:
    """ROC AUC by ranks (ties share their mean rank); None unless both classes occur."""
    ya, sa = np.asarray(y, int), np.asarray(s, float)
    n1 = int(ya.sum())
    n0 = ya.size - n1
    if n1 == 0 or n0 == 0:
        return None
    order = np.argsort(sa, kind="mergesort")
    ranks = np.empty(sa.size, float)
    sorted_s = sa[order]
    i = 0
    while i < sa.size:
        j = i
        while j + 1 < sa.size and sorted_s[j + 1] == sorted_s[i]:
            j += 1
        ranks[order[i:j + 1]] = (i + j) / 2.0 + 1.0
        i = j + 1
    return float((ranks[ya == 1].sum() - n1 * (n1 + 1) / 2.0) / (n1 * n0))


def _rate(flags: list[bool]) -> float | None:
    return sum(flags) / len(flags) if flags else None


def _cell(rows: list[tuple[Item, float, bool]]) -> dict[str, Any]:
    return {
        "n": len(rows),
        "n_abuse": sum(1 for it, _, _ in rows if it.kind == ABUSE),
        "n_complaint": sum(1 for it, _, _ in rows if it.kind == COMPLAINT),
        "n_neutral": sum(1 for it, _, _ in rows if it.kind == NEUTRAL),
        "auc": auc([it.y for it, _, _ in rows], [s for _, s, _ in rows]),
        "abuse_held": _rate([h for it, _, h in rows if it.kind == ABUSE]),
        "complaint_held": _rate([h for it, _, h in rows if it.kind == COMPLAINT]),
        "neutral_held": _rate([h for it, _, h in rows if it.kind == NEUTRAL]),
    }


def _lang_key(lang: str) -> tuple[int, str]:
    return (LANGUAGES.index(lang) if lang in LANGUAGES else len(LANGUAGES), lang)


def evaluate_items(scorer: Any, items: Sequence[Item], hold_threshold: float,
                   batch_size: int = 64) -> dict[str, Any]:
    """Scores every item and groups the figures (see :func:`format_breakdown`)."""
    items = list(items)
    scores: list[float] = []
    for start in range(0, len(items), batch_size):
        part = items[start:start + batch_size]
        verdicts = scorer.score([it.text for it in part], [it.lang for it in part])
        scores.extend(float(v.score) for v in verdicts)
    held = [is_hostile(v, hold_threshold) for v in _as_verdicts(scores)]
    rows = list(zip(items, scores, held))
    by_origin_lang: dict[tuple[str, str], list[tuple[Item, float, bool]]] = {}
    by_origin_kind: dict[tuple[str, str], list[tuple[Item, float, bool]]] = {}
    for row in rows:
        it = row[0]
        by_origin_lang.setdefault((it.origin, it.lang), []).append(row)
        by_origin_kind.setdefault((it.origin, it.kind), []).append(row)
    origin_rank = {o: k for k, o in enumerate(ORIGIN_ORDER)}
    calibration = []
    for lo, hi in zip(CALIBRATION_BINS[:-1], CALIBRATION_BINS[1:]):
        inside = [(it, s) for it, s, _ in rows if lo <= s < hi]
        calibration.append({
            "bin": f"{lo:.1f}-{min(hi, 1.0):.1f}", "n": len(inside),
            "mean_score": float(np.mean([s for _, s in inside])) if inside else None,
            "abuse_share": float(np.mean([it.y for it, _ in inside])) if inside else None,
        })
    return {
        "scorer": getattr(scorer, "name", type(scorer).__name__),
        "threshold": hold_threshold,
        "by_language": [dict(origin=o, lang=lang, **_cell(r)) for (o, lang), r in sorted(
            by_origin_lang.items(),
            key=lambda kv: (origin_rank.get(kv[0][0], 9), _lang_key(kv[0][1])))],
        "by_kind": [dict(origin=o, kind=kind, **_cell(r)) for (o, kind), r in sorted(
            by_origin_kind.items(), key=lambda kv: (origin_rank.get(kv[0][0], 9),
                                                    KIND_ORDER.index(kv[0][1])))],
        "calibration": calibration,
        "splits": "written here: corpus dev split; public: test split of "
                  "responder.core.scoring.heldout (at most 500 per source, language and label)",
    }


def _as_verdicts(scores: list[float]) -> list[Any]:
    from responder.core.model import HostilityVerdict
    return [HostilityVerdict(score=s) for s in scores]


def _fmt(value: float | None, pct: bool = False) -> str:
    if value is None:
        return "-"
    return f"{100 * value:.1f}%" if pct else f"{value:.3f}"


def format_breakdown(report: dict[str, Any]) -> str:
    lines = [f"scorer: {report['scorer']}  hold threshold: {report['threshold']}  "
             f"(held-out only: {report['splits']})", ""]
    head = (f"{'source':<18} {'lang':<4} {'n':>5} {'abuse':>5} {'compl':>5} {'AUC':>6} "
            f"{'abuse held':>10} {'compl held':>10} {'neutral held':>12}")
    lines += [head, "-" * len(head)]
    for c in report["by_language"]:
        lines.append(f"{c['origin']:<18} {c['lang']:<4} {c['n']:>5} {c['n_abuse']:>5} "
                     f"{c['n_complaint']:>5} {_fmt(c['auc']):>6} {_fmt(c['abuse_held'], True):>10} "
                     f"{_fmt(c['complaint_held'], True):>10} {_fmt(c['neutral_held'], True):>12}")
    lines += ["", f"{'source':<18} {'kind':<16} {'n':>5} {'held':>7}", "-" * 49]
    for c in report["by_kind"]:
        held = {ABUSE: c["abuse_held"], COMPLAINT: c["complaint_held"],
                NEUTRAL: c["neutral_held"]}[c["kind"]]
        lines.append(f"{c['origin']:<18} {c['kind']:<16} {c['n']:>5} {_fmt(held, True):>7}")
    lines += ["", "calibration (all held-out items): score bin, n, mean score, share abusive",
              "-" * 44]
    for b in report["calibration"]:
        lines.append(f"{b['bin']:<9} {b['n']:>6} {_fmt(b['mean_score']):>8} "
                     f"{_fmt(b['abuse_share'], True):>8}")
    return "\n".join(lines)

"""Intent figures on labelled records: accuracy per language, confusion between intents.

``responder eval`` calls evaluate(classifier, records) and format_report(report).
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from responder.core.corpus import Record
from responder.core.intent.base import IntentClassifier
from responder.core.intent.text import record_texts
from responder.core.languages import LANGUAGES
from responder.core.model import INTENTS


def evaluate(classifier: IntentClassifier, records: Sequence[Record],
             texts: Sequence[str] | None = None,
             languages: Sequence[str | None] | None = None) -> dict[str, Any]:
    """Accuracy overall and per language (the record's own "lang"), the intent x intent
    confusion matrix (rows: true, columns: predicted) and the most frequent confusions.

    texts/languages: what the classifier reads; by default each record goes through
    the real parser (subject + own words, detected language), as in the live flow.
    """
    records = list(records)
    if texts is None:
        texts, detected = record_texts(records)
        languages = detected if languages is None else languages
    verdicts = classifier.classify(list(texts), list(languages) if languages is not None else None)
    index = {name: i for i, name in enumerate(INTENTS)}
    matrix = [[0] * len(INTENTS) for _ in INTENTS]
    per_lang: dict[str, dict[str, int]] = {}
    low = 0
    correct = 0
    errors: list[dict[str, Any]] = []
    for rec, v in zip(records, verdicts):
        label = rec.get("intent")
        truth = label if isinstance(label, str) and label in index else "other"
        lang = rec.get("lang") or "?"
        matrix[index[truth]][index[v.intent]] += 1
        stats = per_lang.setdefault(lang, {"n": 0, "correct": 0, "low_confidence": 0})
        stats["n"] += 1
        ok = v.intent == truth
        stats["correct"] += ok
        correct += ok
        if v.low_confidence:
            stats["low_confidence"] += 1
            low += 1
        if not ok:
            errors.append({"id": rec.get("id"), "lang": lang, "true": truth, "pred": v.intent,
                           "confidence": round(v.confidence, 3),
                           "low_confidence": v.low_confidence})
    order = [code for code in LANGUAGES if code in per_lang] + sorted(
        set(per_lang) - set(LANGUAGES))
    by_language: dict[str, dict[str, float]] = {}
    for lang in order:
        s = per_lang[lang]
        by_language[lang] = {**s, "accuracy": s["correct"] / s["n"] if s["n"] else 0.0}
    confusions: list[dict[str, Any]] = [
        {"true": INTENTS[i], "pred": INTENTS[j], "count": matrix[i][j]}
        for i in range(len(INTENTS)) for j in range(len(INTENTS))
                  if i != j and matrix[i][j]]
    confusions.sort(key=lambda c: (-c["count"], c["true"], c["pred"]))
    per_intent: dict[str, dict[str, float]] = {}
    for i, name in enumerate(INTENTS):
        support = sum(matrix[i])
        predicted = sum(row[i] for row in matrix)
        tp = matrix[i][i]
        per_intent[name] = {"support": support,
                            "precision": tp / predicted if predicted else 0.0,
                            "recall": tp / support if support else 0.0}
    n = len(records)
    return {
        "classifier": getattr(classifier, "name", type(classifier).__name__),
        "n": n,
        "accuracy": correct / n if n else 0.0,
        "low_confidence": low,
        "by_language": by_language,
        "per_intent": per_intent,
        "labels": list(INTENTS),
        "confusion": matrix,
        "top_confusions": confusions[:10],
        "errors": errors,
    }


_SHORT = {"refund_request": "refund", "where_is_my_order": "where",
          "damaged_or_wrong_item": "damaged", "cancel_order": "cancel",
          "login_or_password_trouble": "login", "download_trouble": "download",
          "product_question": "product", "billing_or_charge_dispute": "billing",
          "thanks_or_praise": "thanks", "other": "other"}


def format_report(report: dict[str, Any]) -> str:
    lines = [f"classifier {report['classifier']}: {report['n']} messages, "
             f"accuracy {report['accuracy']:.1%}, "
             f"{report['low_confidence']} below the confidence floor (answered 'other')", ""]
    lines.append(f"{'lang':<6}{'n':>6}{'accuracy':>10}{'low conf':>10}")
    for lang, s in report["by_language"].items():
        lines.append(f"{lang:<6}{s['n']:>6}{s['accuracy']:>10.1%}{s['low_confidence']:>10}")
    lines.append("")
    lines.append(f"{'intent':<27}{'n':>5}{'precision':>11}{'recall':>8}")
    for name, s in report["per_intent"].items():
        if s["support"] or s["precision"]:
            lines.append(f"{name:<27}{s['support']:>5}{s['precision']:>11.1%}{s['recall']:>8.1%}")
    lines.append("")
    labels = report["labels"]
    short = [_SHORT.get(label, label[:8]) for label in labels]
    lines.append("confusion (rows: true intent, columns: predicted)")
    lines.append(" " * 10 + "".join(f"{s:>9}" for s in short))
    for name, row in zip(short, report["confusion"]):
        lines.append(f"{name:<10}" + "".join(f"{c:>9}" if c else f"{'.':>9}" for c in row))
    if report["top_confusions"]:
        lines.append("")
        lines.append("most frequent confusions")
        for c in report["top_confusions"]:
            lines.append(f"  {c['count']:>4}  {c['true']} -> {c['pred']}")
    return "\n".join(lines)

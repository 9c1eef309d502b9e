"""``responder eval``: hostility and intent figures on the labelled corpus."""
from __future__ import annotations

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


def run_eval(cfg, records: list[dict]) -> tuple[dict, str]:
    from responder.core.intent import make_classifier
    from responder.core.intent.evaluate import evaluate as eval_intent, format_report as fmt_intent
    from responder.core.scoring import make_scorer
    from responder.core.scoring.evaluate import evaluate as eval_hostility, format_report as fmt_hostility

    scorer = make_scorer(cfg.scoring)
    classifier = make_classifier(cfg.intent)
    hostility = eval_hostility(scorer, records)
    intent = eval_intent(classifier, records)
    report = {"records": len(records), "hostility": hostility, "intent": intent}
    text = ("HOSTILITY (hold decision)\n" + fmt_hostility(hostility)
            + "\n\nINTENT\n" + fmt_intent(intent))
    return report, text

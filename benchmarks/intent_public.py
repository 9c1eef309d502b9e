"""Intent accuracy on public, human-written English queries that nobody here wrote.

The shop's intents have no public labelled e-mail set. The two English intent sets in
``../shared/datasets`` (banking77, CC BY 4.0; CLINC150, CC BY 3.0) hold short queries to
a bank or a voice assistant; some of their intents are the same request a shop customer
makes (a refund, "where is my card/order", a charge disputed, a forgotten password,
cancelling, thanks). This script maps those intents to the shop's, takes the sets' own
*test* splits (never used for training, tuning or writing cue words here) and reports the
offline classifier's accuracy per shop intent. Everything unmapped is left out, except
CLINC150's out-of-scope queries, which should come out as ``other``.

It is a domain-shifted check (one sentence, banking words, no e-mail around it), so read
it as a lower bound for English, not as the product's figure on shop mail.

    .venv/bin/python benchmarks/intent_public.py [--datasets ../shared/datasets] [--errors 5]
"""
from __future__ import annotations

import argparse
import sys
from collections import Counter, defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from responder.config import load as load_config  # noqa: E402
from responder.core.intent import public  # noqa: E402
from responder.core.intent.factory import make_classifier  # noqa: E402
from responder.core.intent.text import record_texts  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--datasets", type=Path, default=ROOT.parent / "shared" / "datasets")
    ap.add_argument("--config", type=Path, default=None)
    ap.add_argument("--model", type=Path, default=None,
                    help="a builtin intent head folder to check (default: the configured one)")
    ap.add_argument("--errors", type=int, default=3, help="wrong answers shown per intent")
    args = ap.parse_args()
    cfg = load_config(args.config)
    if args.model is not None:
        cfg.intent.model = str(args.model)
    classifier = make_classifier(cfg.intent)
    records = public.records(args.datasets, "test")
    texts, _ = record_texts(records)     # through the real parser, as live mail is
    verdicts = classifier.classify(texts, ["en"] * len(records))
    items = [(r["source"], r["body"], r["intent"]) for r in records]
    per: dict[str, Counter[str]] = defaultdict(Counter)
    wrong: dict[str, list[str]] = defaultdict(list)
    for (_source, text, truth), v in zip(items, verdicts):
        per[truth]["n"] += 1
        per[truth]["ok"] += v.intent == truth
        if v.intent != truth and len(wrong[truth]) < args.errors:
            wrong[truth].append(f"{text!r} -> {v.intent} ({v.confidence:.2f})")
    total = sum(c["n"] for c in per.values())
    ok = sum(c["ok"] for c in per.values())
    print(f"intent on public English test splits (banking77 + CLINC150), {total} queries")
    print(f"{'shop intent':28} {'n':>5} {'accuracy':>9}")
    for intent in sorted(per):
        c = per[intent]
        print(f"{intent:28} {c['n']:5d} {c['ok'] / c['n']:9.1%}")
    print(f"{'all':28} {total:5d} {ok / total:9.1%}")
    macro = sum(c["ok"] / c["n"] for c in per.values()) / len(per)
    print(f"{'mean over intents':28} {'':5} {macro:9.1%}")
    for intent, lines in sorted(wrong.items()):
        for line in lines:
            print(f"  wrong [{intent}] {line}")


if __name__ == "__main__":
    main()

#!/usr/bin/env python
"""Intent classification throughput: messages per second at batch 1 and batch 32, 2 cores.

    python benchmarks/bench_intent.py [--backend builtin|transformers] [--model DIR]
                                      [--seconds 5] [--cores 2]

Messages are the corpus records (subject + own words through the real parser),
all languages mixed; without a corpus, a built-in sample. Not a test.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SAMPLE = [
    "Refund please\nHello, I returned the shoes last week. Please refund the money to my card.",
    "Где мой заказ?\nЗдравствуйте, посылка до сих пор не пришла, трек-номер не отслеживается.",
    "Poškozené zboží\nDobrý den, balík přišel a lampa je rozbitá, sklo je prasklé.",
    "Ei saa sisse logida\nTere, ma ei saa oma kontole sisse logida, parool ei tööta.",
    "Téléchargement\nJe n'arrive pas à télécharger le fichier PDF, le lien ne marche pas.",
    "Stornierung\nBitte stornieren Sie meine Bestellung, ich habe mich anders entschieden.",
    "Cobro duplicado\nMe han cobrado dos veces en la tarjeta por el mismo pedido.",
]


def limit_cores(n: int) -> int:
    try:
        cpus = sorted(os.sched_getaffinity(0))
        os.sched_setaffinity(0, cpus[:n])
    except (AttributeError, OSError):
        pass
    try:
        import torch
        torch.set_num_threads(n)
    except ImportError:
        pass
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return n


def messages() -> list[str]:
    try:
        from responder.core import corpus
        from responder.core.intent.text import record_texts
        records = corpus.load(split="dev") or corpus.load()
    except (FileNotFoundError, ValueError):
        records = []
    if not records:
        return SAMPLE * 30
    texts, _ = record_texts(records)
    return texts


def run(clf, texts: list[str], batch: int, seconds: float) -> float:
    clf.classify(texts[:batch])                      # warm-up
    done, start, i = 0, time.perf_counter(), 0
    while True:
        chunk = [texts[(i + k) % len(texts)] for k in range(batch)]
        clf.classify(chunk)
        i += batch
        done += batch
        elapsed = time.perf_counter() - start
        if elapsed >= seconds:
            return done / elapsed


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--backend", default="builtin", choices=("builtin", "transformers"))
    ap.add_argument("--model", default="")
    ap.add_argument("--seconds", type=float, default=5.0)
    ap.add_argument("--cores", type=int, default=2)
    args = ap.parse_args(argv)
    cores = limit_cores(args.cores)

    from responder.config import IntentSection
    from responder.core.intent import make_classifier

    texts = messages()
    avg_chars = sum(len(t) for t in texts) / len(texts)
    t0 = time.perf_counter()
    clf = make_classifier(IntentSection(backend=args.backend, model=args.model, batch_size=32))
    load = time.perf_counter() - t0
    print(f"intent classifier {clf.name}{' ' + args.model if args.model else ''}: "
          f"{len(texts)} distinct messages (mean {avg_chars:.0f} characters), {cores} cores, "
          f"loaded in {load:.2f}s")
    for batch in (1, 32):
        rate = run(clf, texts, batch, args.seconds)
        print(f"  batch {batch:>2}: {rate:8.1f} messages/s  ({1000 / rate:.2f} ms/message)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

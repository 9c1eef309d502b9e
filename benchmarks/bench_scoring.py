#!/usr/bin/env python3
"""Throughput and peak memory of the offline hostility scorer (not a test).

    python benchmarks/bench_scoring.py [--messages 287] [--threads 2]

Runs each case in its own process (so each peak is its own), pinned to
``--threads`` cores with as many torch threads, on the same messages: the dev
split of data/corpus (the customer's own words), or built-in samples when no
corpus is there. Cases:

* builtin scorer, batch 1 and batch 32 (messages per score() call)
* the raw MiniLM forward pass alone on the same messages' sentences
  (what the builtin adds on top of it: splitting, word lists, hashing, head)
* the raw MiniLM forward pass on each whole message as one sequence

Peak memory is the process's peak resident set size (ru_maxrss), which
includes Python, torch and the model; "loaded" is the resident size after
loading, before the first message.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

# sentences per encoder forward pass: the config default scoring.batch_size
ENCODER_BATCH = 16

CASES = [
    ("builtin", 1), ("builtin", 32),
    ("forward-sentences", 1), ("forward-sentences", 32),
    ("forward-whole", 1), ("forward-whole", 32),
]

SAMPLES = [
    ("en", "Hello, third time I ask for my refund for order 5512. If it is not back by "
           "Friday I will file a chargeback and leave a review."),
    ("en", "You are a bunch of useless idiots. Where is my parcel?"),
    ("fr", "Bonjour, où en est ma commande ? Merci de me répondre rapidement."),
    ("de", "Ihr seid doch alle Vollidioten. Ich will mein Geld zurück!"),
    ("es", "Hola, el paquete llegó roto. ¿Pueden enviarme otro? Gracias."),
    ("ru", "Здравствуйте, заказ не пришёл уже две недели. Верните деньги."),
    ("cs", "Dobrý den, kdy mi přijde objednávka? Děkuji."),
    ("et", "Tere, minu tellimus on kaks nädalat hiljaks jäänud. Palun vastake."),
]


def _rss_mb() -> float:
    with open("/proc/self/statm") as fh:
        pages = int(fh.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def load_messages(n: int) -> tuple[list[str], list[str | None]]:
    texts: list[str] = []
    langs: list[str | None] = []
    try:
        from responder.core import corpus
        from responder.core.scoring.evaluate import prepare
        records = corpus.load(split="dev")
        if records:
            texts, langs = prepare(records)
    except FileNotFoundError:
        pass
    if not texts:
        langs = [lang for lang, _ in SAMPLES]
        texts = [text for _, text in SAMPLES]
    reps = -(-n // len(texts))
    return (texts * reps)[:n], (list(langs) * reps)[:n]


def run_case(kind: str, batch: int, n: int, threads: int) -> dict:
    import torch
    torch.set_num_threads(threads)
    from responder.core.scoring import make_scorer
    from responder.core.scoring.encoder import get_encoder
    from responder.core.scoring.text import split_sentences

    texts, langs = load_messages(n)
    if kind == "builtin":
        cfg = {"backend": "builtin", "hold_threshold": 0.5, "batch_size": ENCODER_BATCH}
        scorer = make_scorer(cfg)

        def step(tx, lg):
            scorer.score(tx, lg)
    else:
        encoder = get_encoder()

        def step(tx, lg):
            if kind == "forward-sentences":
                sents = [s for t in tx for s in split_sentences(t)]
                encoder.encode(sents, batch_size=ENCODER_BATCH)
            else:
                encoder.encode(tx, batch_size=len(tx))
    loaded = _rss_mb()

    def one_pass() -> float:
        t0 = time.perf_counter()
        for start in range(0, n, batch):
            step(texts[start:start + batch], langs[start:start + batch])
        return time.perf_counter() - t0

    # torch/oneDNN prepares kernels for every new input shape: the first pass over
    # the messages pays that once ("cold"); the second pass is the steady state.
    cold = one_pass()
    elapsed = one_pass()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    n_sent = sum(len(split_sentences(t)) for t in texts)
    return {"kind": kind, "batch": batch, "messages": n, "sentences": n_sent,
            "seconds": elapsed, "msg_per_s": n / elapsed, "cold_msg_per_s": n / cold,
            "loaded_mb": loaded, "peak_mb": peak,
            "threads": threads}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description="hostility scorer benchmark")
    ap.add_argument("--messages", type=int, default=287)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--case", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)

    if args.case:
        kind, batch = args.case.rsplit(":", 1)
        print(json.dumps(run_case(kind, int(batch), args.messages, args.threads)))
        return 0

    cores = sorted(os.sched_getaffinity(0))[:args.threads] if hasattr(os, "sched_getaffinity") \
        else []
    env = dict(os.environ, OMP_NUM_THREADS=str(args.threads), MKL_NUM_THREADS=str(args.threads),
               TOKENIZERS_PARALLELISM="false")
    results = []
    for kind, batch in CASES:
        cmd = [sys.executable, __file__, "--case", f"{kind}:{batch}",
               "--messages", str(args.messages), "--threads", str(args.threads)]
        if cores and Path("/usr/bin/taskset").exists():
            cmd = ["taskset", "-c", ",".join(map(str, cores))] + cmd
        out = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
        if out.returncode != 0:
            print(out.stderr, file=sys.stderr)
            return 1
        results.append(json.loads(out.stdout.strip().splitlines()[-1]))

    first = results[0]
    print(f"hostility scoring: {first['messages']} messages ({first['sentences']} sentences), "
          f"{args.threads} cores / {args.threads} torch threads, CPU")
    head = (f"{'case':<34} {'batch':>5} {'msg/s':>8} {'ms/msg':>7} {'cold msg/s':>10} "
            f"{'loaded MB':>9} {'peak MB':>8}")
    print(head)
    print("-" * len(head))
    names = {"builtin": "builtin scorer (score())",
             "forward-sentences": "MiniLM forward, sentences only",
             "forward-whole": "MiniLM forward, whole message"}
    for r in results:
        print(f"{names[r['kind']]:<34} {r['batch']:>5} {r['msg_per_s']:>8.1f} "
              f"{1000 / r['msg_per_s']:>7.1f} {r['cold_msg_per_s']:>10.1f} "
              f"{r['loaded_mb']:>9.0f} {r['peak_mb']:>8.0f}")
    print("msg/s: steady state (second pass); cold: first pass, incl. one-off kernel "
          "preparation per input shape. Peak = max resident set size of the process.")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

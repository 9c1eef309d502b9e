"""Replay pipeline throughput with intent and drafting on, beside the same replay
with them off (parse + screen + score + cool only). Not a test: prints a table.

    .venv/bin/python benchmarks/bench_replay.py [--repeat 3]

Input: the project's corpus (data/corpus, every language) turned into real
e-mails, plus the bundled demo mail. Both variants run in the same process on
the same messages, so their ratio is what to read.
"""
from __future__ import annotations

import argparse
import time
from datetime import UTC, datetime
from pathlib import Path

from responder import config
from responder.core import corpus
from responder.core.pipeline import STAGES, Services, decide


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--batch", type=int, default=32)
    args = ap.parse_args()
    raws = [corpus.to_raw(r) for r in corpus.load()]
    raws += [p.read_bytes() for p in sorted(
        (Path(__file__).resolve().parents[1] / "responder" / "app" / "demo_mail").glob("*.eml"))]
    svc = Services.from_config(config.from_dict({}))
    now = datetime.now(UTC)
    without = tuple((n, s) for n, s in STAGES if n not in ("classify", "draft"))
    decide(raws[:8], svc, now)  # warm up models and caches
    rows = []
    for label, stages in (("full pipeline (intent + drafting on)", STAGES),
                          ("intent + drafting off", without)):
        best = float("inf")
        for _ in range(args.repeat):
            t0 = time.perf_counter()
            for i in range(0, len(raws), args.batch):
                decide(raws[i:i + args.batch], svc, now, stages=stages)
            best = min(best, time.perf_counter() - t0)
        rows.append((label, len(raws) / best))
    print(f"{len(raws)} messages, batch {args.batch}, best of {args.repeat}")
    for label, rate in rows:
        print(f"  {label:<40} {rate:8.1f} msg/s")
    print(f"  ratio off/on: {rows[1][1] / rows[0][1]:.2f}")


if __name__ == "__main__":
    main()

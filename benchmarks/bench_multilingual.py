#!/usr/bin/env python3
"""Speed and peak memory of the offline default scorer (multilingual USE, numpy only).

    python benchmarks/bench_multilingual.py [--threads 1] [--messages 287] [--minilm]

Each case runs in its own process (its own peak), pinned to ``--threads``
cores, in one run so the figures are comparable:

* ``default/bench``: the default scorer (make_scorer with the default config) on the
  project's benchmark mail: the customer's own words of the corpus dev split, as
  the real parser finds them; batch 1 (one message per call) and 32.
* ``default/long``: the same scorer on long real mail: every file of 8 KB or more
  in ../shared/corpora (newsletters, long threads, spam), parsed the same way,
  so only the customer's own words are scored, with the scorer's sentence cap.
* ``use-forward/bench`` and ``use-forward/long``: the raw USE forward pass alone on
  every sentence of the same messages (uncapped), batch 32.
* ``minilm-default/bench`` (with ``--minilm``): the earlier MiniLM builtin, for reference.

Peak memory is the process's peak resident set size (ru_maxrss): Python,
numpy, the encoder's weights and the head, after both passes. The second pass
is the one reported (the first warms caches).
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
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
CORPORA = ROOT.parent / "shared" / "corpora"


def bench_mail() -> tuple[list[str], list[str | None]]:
    from responder.core import corpus
    from responder.core.scoring.evaluate import prepare
    texts, langs = prepare(corpus.load(split="dev"))
    return list(texts), list(langs)


def long_mail(min_bytes: int = 8192) -> tuple[list[str], list[str | None]]:
    from responder.core import parsing
    texts: list[str] = []
    langs: list[str | None] = []
    for path in sorted(CORPORA.rglob("*")):
        if (not path.is_file() or path.stat().st_size < min_bytes
                or path.suffix in (".tsv", ".md", ".json")):
            continue
        try:
            parsed = parsing.parse(path.read_bytes())
        except parsing.ParseError:      # body-only fixtures (reply-parser tests): not mail
            continue
        texts.append(parsed.own_words or parsed.text or "")
        langs.append(parsed.language)
    return texts, langs


def run_case(kind: str, mail: str, batch: int) -> dict[str, Any]:
    from responder.core.scoring.text import split_sentences
    texts, langs = bench_mail() if mail == "bench" else long_mail()
    after_data = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    t_load = time.perf_counter()
    if kind == "default":
        from responder.config import ScoringSection
        from responder.core.scoring import make_scorer
        scorer = make_scorer(ScoringSection())

        def step(tx: list[str], lg: list[str | None]) -> None:
            scorer.score(tx, lg)
    elif kind == "minilm-default":
        import shutil
        import tempfile

        from responder.config import ScoringSection
        from responder.core.scoring import make_scorer
        from responder.core.scoring.builtin import DATA_DIR, HEAD_JSON, HEAD_NPZ
        folder = Path(tempfile.mkdtemp())
        for name in (HEAD_NPZ, HEAD_JSON):
            shutil.copy(DATA_DIR / name, folder / name)
        scorer = make_scorer(ScoringSection(model=str(folder)))

        def step(tx: list[str], lg: list[str | None]) -> None:
            scorer.score(tx, lg)
    else:
        from responder.core.scoring.multilingual import get_encoder
        enc = get_encoder("use")

        def step(tx: list[str], lg: list[str | None]) -> None:
            enc.encode([s for t in tx for s in split_sentences(t)])
    load_s = time.perf_counter() - t_load

    def one_pass() -> float:
        t0 = time.perf_counter()
        for start in range(0, len(texts), batch):
            step(texts[start:start + batch], langs[start:start + batch])
        return time.perf_counter() - t0

    one_pass()
    elapsed = one_pass()
    n = len(texts)
    return {"case": f"{kind}/{mail}", "batch": batch, "messages": n,
            "sentences": sum(len(split_sentences(t)) for t in texts),
            "chars_per_msg": sum(len(t) for t in texts) // max(n, 1),
            "msg_per_s": n / elapsed, "load_s": load_s,
            "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "peak_before_model_mb": after_data,
            "torch_loaded": "torch" in sys.modules}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--minilm", action="store_true", help="also the earlier MiniLM builtin")
    ap.add_argument("--case", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.case:
        kind, mail, batch = args.case.split(":")
        os.sched_setaffinity(0, set(sorted(os.sched_getaffinity(0))[:args.threads]))
        print(json.dumps(run_case(kind, mail, int(batch))))
        return 0
    cases = ["default:bench:1", "default:bench:32", "use-forward:bench:32",
             "default:long:1", "default:long:32", "use-forward:long:32"]
    if args.minilm:
        cases += ["minilm-default:bench:32"]
    env = dict(os.environ, OMP_NUM_THREADS=str(args.threads),
               OPENBLAS_NUM_THREADS=str(args.threads), MKL_NUM_THREADS=str(args.threads))
    print(f"{'case':<24} {'batch':>5} {'msgs':>5} {'sents':>6} {'chars/msg':>9} "
          f"{'msg/s':>7} {'load s':>6} {'peak MB':>8} torch")
    for case in cases:
        out = subprocess.run([sys.executable, __file__, "--case", case, "--threads",
                              str(args.threads)], capture_output=True, text=True, env=env)
        if out.returncode != 0:
            print(f"{case}: failed\n{out.stderr[-2000:]}")
            continue
        r = json.loads(out.stdout.strip().splitlines()[-1])
        print(f"{r['case']:<24} {r['batch']:>5} {r['messages']:>5} {r['sentences']:>6} "
              f"{r['chars_per_msg']:>9} {r['msg_per_s']:>7.1f} {r['load_s']:>6.1f} "
              f"{r['peak_mb']:>8.0f} {r['torch_loaded']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

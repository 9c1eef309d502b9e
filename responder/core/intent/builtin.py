"""The offline intent classifier: features.py + a trained linear (softmax) head.

Artefacts (written by scripts/train_intent.py, no pickle):

  data/intent_head.json   classes, feature settings, block weights, temperature,
                          how it was trained (sizes, cross-validated accuracy)
  data/intent_head.npz    ids (uint32 CRC-32 of the feature strings, the vocabulary),
                          block (uint8 block index of each id), idf (float32),
                          coef (float32, features x classes), intercept (float32)

At run time only numpy is needed.
"""
from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, TypedDict

import numpy as np
import numpy.typing as npt

from responder.core.intent.base import DEFAULT_MIN_CONFIDENCE, verdict
from responder.core.intent.features import Featurizer, weight
from responder.core.model import IntentVerdict

DATA_DIR = Path(__file__).resolve().parent / "data"
HEAD_NAME = "intent_head"

Floats = npt.NDArray[np.float32]
Counts = dict[str, dict[int, float]]
"""One text's feature counts: block name -> {feature id: count} (``Featurizer.counts``)."""


class BlockConfig(TypedDict, total=False):
    """How one feature block is weighted (missing keys: weight 1, idf and norm on)."""

    weight: float
    idf: bool
    norm: bool


@dataclass
class Vocabulary:
    """Feature id -> column, per-column idf, and how each block is weighted."""

    index: dict[int, int]
    idf: Floats                     # float32 per column
    blocks: tuple[str, ...]         # block names in Featurizer order
    block_cfg: dict[str, BlockConfig]

    @classmethod
    def build(cls, counts: list[Counts], blocks: Sequence[str],
              block_cfg: dict[str, BlockConfig], min_df: dict[str, int]) -> Vocabulary:
        """Vocabulary and idf from training texts' counts (features seen >= min_df times)."""
        n = len(counts)
        index: dict[int, int] = {}
        idf: list[float] = []
        for block in blocks:
            df: dict[int, int] = {}
            for c in counts:
                for key in c[block]:
                    df[key] = df.get(key, 0) + 1
            floor = min_df.get(block, 1)
            for key in sorted(df):
                if df[key] >= floor and key not in index:
                    index[key] = len(idf)
                    idf.append(math.log((1 + n) / (1 + df[key])) + 1.0)
        return cls(index, np.asarray(idf, dtype=np.float32), tuple(blocks), block_cfg)

    def __len__(self) -> int:
        return len(self.idf)

    def vectorize(self, counts: list[Counts]
                  ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], Floats]:
        """CSR arrays (indptr, indices, data) of the weighted, normalised features."""
        indptr = [0]
        indices: list[int] = []
        data: list[float] = []
        idf = self.idf
        index = self.index
        for c in counts:
            for block in self.blocks:
                cfg = self.block_cfg.get(block, {})
                bw = float(cfg.get("weight", 1.0))
                if bw == 0.0:
                    continue
                use_idf = cfg.get("idf", True)
                cols: list[int] = []
                vals: list[float] = []
                for key, cnt in c[block].items():
                    col = index.get(key)
                    if col is None:
                        continue
                    v = weight(cnt)
                    if use_idf:
                        v *= float(idf[col])
                    cols.append(col)
                    vals.append(v)
                if not cols:
                    continue
                if cfg.get("norm", True):
                    norm = math.sqrt(sum(v * v for v in vals)) or 1.0
                    scale = bw / norm
                else:
                    scale = bw
                indices.extend(cols)
                data.extend(v * scale for v in vals)
            indptr.append(len(indices))
        return (np.asarray(indptr, dtype=np.int64), np.asarray(indices, dtype=np.int64),
                np.asarray(data, dtype=np.float32))


def softmax(scores: Floats) -> Floats:
    z = scores - scores.max(axis=-1, keepdims=True)
    e = np.exp(z)
    probs: Floats = e / e.sum(axis=-1, keepdims=True)
    return probs


class LinearHead:
    """Vocabulary + softmax weights: counts -> class probabilities."""

    def __init__(self, vocab: Vocabulary, coef: npt.ArrayLike, intercept: npt.ArrayLike,
                 classes: Sequence[str], temperature: float = 1.0) -> None:
        self.vocab = vocab
        self.coef = np.ascontiguousarray(coef, dtype=np.float32)   # features x classes
        self.intercept = np.asarray(intercept, dtype=np.float32)
        self.classes = tuple(classes)
        self.temperature = float(temperature)

    def decision(self, counts: list[Counts]) -> Floats:
        indptr, indices, data = self.vocab.vectorize(counts)
        out = np.tile(self.intercept, (len(counts), 1))
        for i in range(len(counts)):
            lo, hi = indptr[i], indptr[i + 1]
            if hi > lo:
                out[i] += data[lo:hi] @ self.coef[indices[lo:hi]]
        return out

    def proba(self, counts: list[Counts]) -> Floats:
        return softmax(self.decision(counts) / self.temperature)

    # ---- storage: JSON + npz, never pickle ------------------------------------------

    def save(self, folder: Path, params: dict[str, Any], name: str = HEAD_NAME) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        ids = np.zeros(len(self.vocab), dtype=np.uint32)
        for key, col in self.vocab.index.items():
            ids[col] = key
        np.savez_compressed(folder / f"{name}.npz", ids=ids, idf=self.vocab.idf,
                            coef=self.coef.astype(np.float32),
                            intercept=self.intercept.astype(np.float32))
        meta = dict(params)
        meta.update(classes=list(self.classes), temperature=self.temperature,
                    blocks=list(self.vocab.blocks), block_cfg=self.vocab.block_cfg,
                    n_features=len(self.vocab))
        (folder / f"{name}.json").write_text(json.dumps(meta, indent=2, ensure_ascii=False) + "\n",
                                             encoding="utf-8")

    @classmethod
    def load(cls, folder: Path, name: str = HEAD_NAME) -> tuple[LinearHead, dict[str, Any]]:
        meta_path, arrays_path = folder / f"{name}.json", folder / f"{name}.npz"
        if not meta_path.is_file() or not arrays_path.is_file():
            raise FileNotFoundError(
                f"the builtin intent head is missing ({meta_path.name}, {arrays_path.name} "
                f"in {folder}); train it with: python scripts/train_intent.py")
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        with np.load(arrays_path, allow_pickle=False) as z:
            ids, idf = z["ids"], z["idf"]
            coef, intercept = z["coef"], z["intercept"]
        index = {int(k): i for i, k in enumerate(ids.tolist())}
        vocab = Vocabulary(index, idf.astype(np.float32), tuple(meta["blocks"]),
                           meta["block_cfg"])
        head = cls(vocab, coef, intercept, meta["classes"], meta.get("temperature", 1.0))
        return head, meta


@lru_cache(maxsize=4)
def _load_cached(folder: str) -> tuple[LinearHead, dict[str, Any], Featurizer]:
    head, meta = LinearHead.load(Path(folder))
    feat = Featurizer(**meta.get("featurizer", {}))
    return head, meta, feat


class BuiltinClassifier:
    """Offline classifier: character n-grams + words + keyword cues -> softmax head."""

    name = "builtin"

    def __init__(self, head: LinearHead, featurizer: Featurizer,
                 meta: dict[str, Any] | None = None,
                 min_confidence: float = DEFAULT_MIN_CONFIDENCE, batch_size: int = 16) -> None:
        self.head = head
        self.featurizer = featurizer
        self.meta = meta or {}
        self.min_confidence = float(min_confidence)
        self.batch_size = max(1, int(batch_size))

    @classmethod
    def load(cls, folder: str | Path | None = None, min_confidence: float = DEFAULT_MIN_CONFIDENCE,
             batch_size: int = 16) -> BuiltinClassifier:
        """The bundled head (folder None) or one trained into another folder."""
        path = Path(folder).resolve() if folder else DATA_DIR
        head, meta, feat = _load_cached(str(path))
        return cls(head, feat, meta, min_confidence=min_confidence, batch_size=batch_size)

    @property
    def version(self) -> str:
        """"vNNNN" for a shop version made by ``responder train``, else "shipped <date>"."""
        from responder.core.learning import version_name
        return version_name(self.meta)

    def proba(self, texts: Sequence[str]) -> Floats:
        """Class probabilities (rows: texts, columns: self.head.classes)."""
        counts = [self.featurizer.counts(t or "") for t in texts]
        if not counts:
            return np.zeros((0, len(self.head.classes)), dtype=np.float32)
        return self.head.proba(counts)

    def classify(self, texts: Sequence[str],
                 languages: Sequence[str | None] | None = None) -> list[IntentVerdict]:
        # The features and cue words cover every supported language at once, so the
        # detected language is not needed (and a wrong detection cannot hurt).
        out: list[IntentVerdict] = []
        texts = list(texts)
        for start in range(0, len(texts), self.batch_size):
            probs = self.proba(texts[start:start + self.batch_size])
            for row in probs:
                best = int(np.argmax(row))
                out.append(verdict(self.head.classes[best], float(row[best]),
                                   self.min_confidence))
        return out

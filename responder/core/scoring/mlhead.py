"""The offline default scorer: multilingual USE + hashed n-grams + word lists -> trained head.

Numpy only: no torch, no transformers (those are for the ``transformers``
backend and ``responder model pull``). Each sentence of the customer's own
words gets a hostility logit from a logistic layer over

* hashed character/word n-grams and word-list features
  (:mod:`.features`, the same code the MiniLM head used), and
* the sentence embedding of the multilingual Universal Sentence Encoder
  (:mod:`.multilingual`), which carries hostility across languages where no
  listed word and no seen n-gram does.

The message score combines the sentence logits (top, what the others add,
how many) in a second small logistic layer, as in :mod:`.builtin`. A message
with more than ``max_sentences`` sentences keeps the ones the cheap part of
the head (n-grams and lists) finds most hostile: the encoder is the costly
part, and a newsletter's hundredth sentence is rarely where the abuse is.

Trained by ``scripts/train_hostility_multilingual.py``; the weights are plain
numpy arrays (``data/hostility_ml_head.npz``, loaded with ``allow_pickle=False``)
with a JSON description beside them. See ``SOURCES.md`` for the data.
"""
from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from responder.core.model import HostilityVerdict
from responder.core.scoring.builtin import (
    DATA_DIR,
    EVIDENCE_MAX,
    EVIDENCE_SCORE,
    LABEL_SCORE,
    MESSAGE_FEATURES,
    labels_from_hits,
    message_features,
    read_head_files,
    resolve_languages,
)
from responder.core.scoring.errors import ModelUnavailable
from responder.core.scoring.features import HASH_DIM, LEX_NAMES, SentenceFeatures, sentence_features
from responder.core.scoring.lexicon import Lexicon, load_lexicon
from responder.core.scoring.multilingual import Encoder, get_encoder
from responder.core.scoring.text import split_sentences

ML_HEAD_NPZ = "hostility_ml_head.npz"
ML_HEAD_JSON = "hostility_ml_head.json"
MAX_SENTENCES = 24
# The message layer's length prior stops growing at this many sentences, so one
# insult in a long civil mail still outweighs it (see ml_message_features).
LENGTH_PRIOR_CAP = 6


def ml_message_features(z: np.ndarray) -> np.ndarray:
    """message_features with the sentence count capped at LENGTH_PRIOR_CAP."""
    x = message_features(z)
    if z.size:
        x[2] = np.float32(np.log1p(min(z.size, LENGTH_PRIOR_CAP)))
    return x

_WRAPPED = re.compile(r"(?<=[^\s.!?…:;,>])[ \t]*\n[ \t]*(?=[a-zà-öø-ÿа-яё(\"'«])")


def sentences(text: str) -> list[str]:
    """The sentences the head scores: hard-wrapped lines (a line break inside a
    sentence, the next line starting in lower case) are joined first, so a
    72-column mail is not cut into word fragments the encoder misreads."""
    return split_sentences(_WRAPPED.sub(" ", text or ""))


def _sigmoid(x: Any) -> Any:
    return 1.0 / (1.0 + np.exp(-np.clip(x, -40, 40)))


@dataclass
class MultilingualHead:
    """Sentence layer (n-grams, word lists, one weight vector per encoder) and message layer."""

    w_hash: np.ndarray
    w_lex: np.ndarray
    w_emb: dict[str, np.ndarray]
    bias: float
    msg_w: np.ndarray
    msg_b: float
    meta: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def load(cls, folder: str | Path | None = None) -> MultilingualHead:
        folder = Path(folder) if folder else DATA_DIR
        meta, z = read_head_files(folder, ML_HEAD_NPZ, ML_HEAD_JSON,
                                  "python scripts/train_hostility_multilingual.py")
        encoders = list(meta.get("encoders", []))
        head = cls(w_hash=z["w_hash"].astype(np.float32), w_lex=z["w_lex"].astype(np.float32),
                   w_emb={name: z[f"w_emb_{name}"].astype(np.float32) for name in encoders},
                   bias=float(z["bias"]), msg_w=z["msg_w"].astype(np.float32),
                   msg_b=float(z["msg_b"]), meta=meta)
        if head.w_hash.shape != (HASH_DIM,) or list(meta.get("lex_names", [])) != list(LEX_NAMES):
            raise ModelUnavailable(
                f"The builtin hostility head in {folder} does not match this version's "
                "features. Train it again: python scripts/train_hostility_multilingual.py")
        return head

    def save(self, folder: str | Path | None = None) -> None:
        folder = Path(folder) if folder else DATA_DIR
        folder.mkdir(parents=True, exist_ok=True)
        arrays: dict[str, Any] = {f"w_emb_{name}": w.astype(np.float32)
                                  for name, w in self.w_emb.items()}
        arrays.update(w_hash=self.w_hash.astype(np.float32), w_lex=self.w_lex.astype(np.float32),
                      bias=np.float64(self.bias), msg_w=self.msg_w.astype(np.float32),
                      msg_b=np.float64(self.msg_b))
        np.savez_compressed(folder / ML_HEAD_NPZ, **arrays)
        meta = dict(self.meta, encoders=list(self.w_emb), lex_names=list(LEX_NAMES),
                    message_features=list(MESSAGE_FEATURES))
        (folder / ML_HEAD_JSON).write_text(json.dumps(meta, indent=2, ensure_ascii=False) + "\n",
                                           encoding="utf-8")

    def cheap_logits(self, feats: Sequence[SentenceFeatures]) -> np.ndarray:
        """The n-gram and word-list part of the sentence logits (no encoder)."""
        z = np.full(len(feats), self.bias, np.float32)
        for i, f in enumerate(feats):
            z[i] += float(f.lex @ self.w_lex)
            if f.hash_idx.size:
                z[i] += float(self.w_hash[f.hash_idx] @ f.hash_val)
        return z

    def message_logit(self, z: np.ndarray) -> float:
        return float(ml_message_features(z) @ self.msg_w + self.msg_b)


class MultilingualScorer:
    """Offline default: numpy, the packaged multilingual encoder and the trained head."""

    name = "builtin"

    def __init__(self, batch_size: int = 64, head_dir: str | Path | None = None,
                 encoders: dict[str, Encoder] | None = None,
                 max_sentences: int = MAX_SENTENCES) -> None:
        self.batch_size = max(1, int(batch_size))
        self.head = MultilingualHead.load(head_dir)
        self.encoders = encoders or {name: get_encoder(name) for name in self.head.w_emb}
        self.max_sentences = max(1, int(max_sentences))
        self._lexicons: dict[str, Lexicon] = {}

    @property
    def version(self) -> str:
        """"vNNNN" for a shop version made by ``responder train``, else "shipped <date>"."""
        from responder.core.learning import version_name
        return version_name(self.head.meta)

    def lexicon(self, lang: str) -> Lexicon:
        lex = self._lexicons.get(lang)
        if lex is None:
            lex = self._lexicons[lang] = load_lexicon(lang)
        return lex

    def _capped(self, sents: list[str], feats: list[SentenceFeatures]
                ) -> tuple[list[str], list[SentenceFeatures]]:
        if len(sents) <= self.max_sentences:
            return sents, feats
        cheap = self.head.cheap_logits(feats)
        keep = sorted(np.argsort(-cheap, kind="stable")[:self.max_sentences].tolist())
        return [sents[i] for i in keep], [feats[i] for i in keep]

    def sentence_scores(self, texts: Sequence[str], languages: Sequence[str | None] | None = None
                        ) -> list[tuple[list[str], np.ndarray, list[SentenceFeatures]]]:
        """Per text: (sentences scored, their logits, their features)."""
        langs = resolve_languages(texts, languages)
        per_text: list[tuple[list[str], list[SentenceFeatures]]] = []
        for text, lang in zip(texts, langs):
            sents = sentences(text)
            feats = [sentence_features(s, lang, self.lexicon(lang)) for s in sents]
            per_text.append(self._capped(sents, feats))
        flat = [s for sents, _ in per_text for s in sents]
        flat_feats = [f for _, feats in per_text for f in feats]
        z = self.head.cheap_logits(flat_feats)
        for name, enc in self.encoders.items():
            if flat:
                z += enc.encode(flat, batch_size=self.batch_size) @ self.head.w_emb[name]
        out, k = [], 0
        for sents, feats in per_text:
            out.append((sents, z[k:k + len(sents)], feats))
            k += len(sents)
        return out

    def score(self, texts: Sequence[str], languages: Sequence[str | None] | None = None
              ) -> list[HostilityVerdict]:
        return [self._verdict(sents, z, feats)
                for sents, z, feats in self.sentence_scores(list(texts), languages)]

    def _verdict(self, sents: list[str], z: np.ndarray, feats: list[SentenceFeatures]
                 ) -> HostilityVerdict:
        if not sents:
            return HostilityVerdict(score=0.0)
        score = float(_sigmoid(self.head.message_logit(z)))
        hostile = score >= LABEL_SCORE
        sent_scores = _sigmoid(z)
        order = np.argsort(-z, kind="stable")
        evidence = [sents[i] for i in order[:EVIDENCE_MAX] if sent_scores[i] >= EVIDENCE_SCORE]
        if hostile and not evidence:
            evidence = [sents[int(order[0])]]
        labels = labels_from_hits([f.hits for f in feats], hostile, sent_scores, EVIDENCE_SCORE)
        return HostilityVerdict(score=score, labels=labels, evidence=evidence)

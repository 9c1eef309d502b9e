"""Per-sentence features of the builtin scorer (the same code trains and scores).

Three blocks, concatenated in this order:

* ``hash``: character 3-5-grams of each word and word uni/bi-grams of the
  folded sentence, hashed (CRC-32, signed) into ``2**HASH_BITS`` slots,
  log-scaled counts, L2-normalised. Language-agnostic: it learns Estonian or
  Czech insults from the training corpus as well as English ones.
* ``emb``: the sentence embedding of the packaged English MiniLM encoder
  (mean-pooled, L2-normalised). Two copies: one used for English sentences,
  one for the other languages, so the head can trust it more for English.
* ``lex``: lexicon hit counts per category, "aimed at the reader" crossings
  (insult and a 'you' word in one sentence), punctuation and capitals, and the
  language.
"""
from __future__ import annotations

import math
import zlib
from dataclasses import dataclass

import numpy as np

from responder.core.languages import LANGUAGES
from responder.core.scoring.lexicon import Hit, Lexicon
from responder.core.text import fold, tokens

HASH_BITS = 18
HASH_DIM = 1 << HASH_BITS
EMB_DIM = 384
LANG_ORDER = LANGUAGES   # one-hot language features, in the registry's order

COUNT_CATEGORIES = ("insult", "profanity", "mild", "contempt", "threat",
                    "reputation_threat", "listed")
LEX_NAMES = (
    [f"n_{c}" for c in COUNT_CATEGORIES]
    + ["target", "insult_x_target", "profanity_x_target", "contempt_x_target",
       "any_abuse", "exclamations", "questions", "capitals", "length"]
    + [f"lang_{lang}" for lang in LANG_ORDER]
)
LEX_DIM = len(LEX_NAMES)


@dataclass
class SentenceFeatures:
    hash_idx: np.ndarray      # int32 slots
    hash_val: np.ndarray      # float32 signed values (row L2 norm 1)
    lex: np.ndarray           # float32, LEX_DIM
    hits: list[Hit]


def _crc(text: str) -> int:
    return zlib.crc32(text.encode("utf-8"))


def hash_features(words: list[str]) -> tuple[np.ndarray, np.ndarray]:
    counts: dict[int, float] = {}

    def add(key: str) -> None:
        h = _crc(key)
        slot = h & (HASH_DIM - 1)
        sign = -1.0 if (h >> 31) & 1 else 1.0
        counts[slot] = counts.get(slot, 0.0) + sign

    prev = "<s>"
    for w in words:
        add("w:" + w)
        add("b:" + prev + " " + w)
        prev = w
        padded = f" {w} "
        n_chars = len(padded)
        for n in (3, 4, 5):
            if n > n_chars:
                break
            for i in range(n_chars - n + 1):
                add("c:" + padded[i:i + n])
    add("b:" + prev + " </s>")
    if not counts:
        return np.zeros(0, np.int32), np.zeros(0, np.float32)
    idx = np.fromiter(counts.keys(), np.int32, len(counts))
    raw = np.fromiter(counts.values(), np.float32, len(counts))
    val = np.sign(raw) * (1.0 + np.log(np.maximum(np.abs(raw), 1.0)))
    val[raw == 0] = 0.0
    norm = float(np.linalg.norm(val))
    if norm > 0:
        val /= norm
    return idx, val.astype(np.float32)


def lexicon_features(sentence: str, words: list[str], hits: list[Hit], lang: str) -> np.ndarray:
    counts = {c: 0 for c in COUNT_CATEGORIES}
    target = 0
    for h in hits:
        if h.category == "target":
            target += 1
        elif h.category in counts:
            counts[h.category] += 1
    x = [math.log1p(counts[c]) for c in COUNT_CATEGORIES]
    t = 1.0 if target else 0.0
    x += [t, t * (counts["insult"] > 0), t * (counts["profanity"] > 0),
          t * (counts["contempt"] > 0),
          1.0 if (counts["insult"] or counts["profanity"] or counts["contempt"]
                  or counts["threat"]) else 0.0]
    letters = [ch for ch in sentence if ch.isalpha()]
    upper = sum(ch.isupper() for ch in letters)
    caps = upper / len(letters) if len(letters) >= 8 else 0.0
    x += [math.log1p(sentence.count("!")), math.log1p(sentence.count("?")), caps,
          math.log1p(len(words)) / 4.0]
    x += [1.0 if lang == code else 0.0 for code in LANG_ORDER]
    return np.asarray(x, np.float32)


def sentence_features(sentence: str, lang: str, lexicon: Lexicon) -> SentenceFeatures:
    words = tokens(fold(sentence), masked=True)
    hits = lexicon.find(words)
    idx, val = hash_features(words)
    return SentenceFeatures(idx, val, lexicon_features(sentence, words, hits, lang), hits)

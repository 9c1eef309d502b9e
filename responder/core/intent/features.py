"""Text -> sparse features for the builtin intent head. Pure Python, no numpy needed.

The same code runs at training time (scripts/train_intent.py) and at run time, so
the features the head was trained on are exactly the ones it sees later.

Blocks (each L2-normalised on its own, then scaled by a block weight):

  c  character n-grams (2..5) inside word boundaries, of the accent-folded text.
     They work for any script (Cyrillic, Estonian, Czech) and survive inflection,
     compounds and typing without diacritics.
  w  word unigrams and bigrams, plus subject words (the first line) tagged "s:".
  k  keyword layer: per intent, how many of its hand-written cue words
     (keywords.py, every supported language) occur in the text, in the subject,
     and among the closing words (a "Thanks, Ben" is politeness, not praise).

A feature is the string "<block>:<item>"; the trained vocabulary stores the CRC-32
of that string (a stable hash, unlike Python's ``hash``), so no strings are shipped.
"""
from __future__ import annotations

import math
import re
import zlib
from collections.abc import Iterable

from responder.core.intent.keywords import KeywordMatcher
from responder.core.text import fold, tokens

_URL = re.compile(r"(?:https?://|www\.)\S+", re.I)
_EMAIL = re.compile(r"\S+@\S+\.\w+")
_QUOTE_LINE = re.compile(r"^\s*>")
_MONEY = re.compile(r"[€£$₽¥]|\b(?:eur|usd|gbp|czk|rub|kč|руб)\b\.?", re.I)


def clean(text: str) -> str:
    """Drop quoted lines a caller may have left in; mask URLs, e-mail addresses, currencies."""
    lines = [ln for ln in (text or "").splitlines() if not _QUOTE_LINE.match(ln)]
    text = "\n".join(lines)
    text = _URL.sub(" urlx ", text)
    text = _EMAIL.sub(" emailx ", text)
    text = _MONEY.sub(" moneyx ", text)
    return text


def feature_id(name: str) -> int:
    return zlib.crc32(name.encode("utf-8"))


class Featurizer:
    """Raw term counts per block for one text; weighting is done by the head."""

    BLOCKS = ("c", "w", "k")

    def __init__(self, char_min: int = 2, char_max: int = 5, closing_words: int = 4,
                 matcher: KeywordMatcher | None = None):
        self.char_min = char_min
        self.char_max = char_max
        self.closing_words = closing_words
        self.matcher = matcher or KeywordMatcher.default()

    def params(self) -> dict[str, int]:
        return {"char_min": self.char_min, "char_max": self.char_max,
                "closing_words": self.closing_words}

    def counts(self, text: str) -> dict[str, dict[int, float]]:
        """{block: {feature id: count}} for one text (subject on the first line)."""
        text = clean(text)
        subject, _, body = text.partition("\n")
        folded = fold(text)
        words = tokens(folded, digits_as_zero=True)
        out: dict[str, dict[int, float]] = {b: {} for b in self.BLOCKS}

        # character n-grams inside word boundaries (like scikit-learn's char_wb)
        c = out["c"]
        lo, hi = self.char_min, self.char_max
        for word in words:
            padded = f" {word} "
            n_len = len(padded)
            for n in range(lo, hi + 1):
                if n > n_len:
                    break
                for i in range(n_len - n + 1):
                    key = zlib.crc32(("c:" + padded[i:i + n]).encode("utf-8"))
                    c[key] = c.get(key, 0.0) + 1.0

        # words and word pairs; subject words once more with their own tag
        w = out["w"]
        prev = None
        for word in words:
            key = zlib.crc32(("w:" + word).encode("utf-8"))
            w[key] = w.get(key, 0.0) + 1.0
            if prev is not None:
                key = zlib.crc32(("w:" + prev + " " + word).encode("utf-8"))
                w[key] = w.get(key, 0.0) + 1.0
            prev = word
        for word in tokens(fold(subject), digits_as_zero=True):
            key = zlib.crc32(("s:" + word).encode("utf-8"))
            w[key] = w.get(key, 0.0) + 1.0

        # keyword layer: which intents' cue words occur; cues in the subject and in the
        # closing words ("Thanks, Ben") are told apart, the head learns what each is worth
        k = out["k"]
        tail = len(words) - self.closing_words
        for intent, pos, _size in self.matcher.positions(words):
            key = feature_id("k:" + intent)
            k[key] = k.get(key, 0.0) + 1.0
            if pos >= tail:
                key = feature_id("k:end:" + intent)
                k[key] = k.get(key, 0.0) + 1.0
        for intent in self.matcher.match(tokens(fold(subject), digits_as_zero=True)):
            k[feature_id("k:subject:" + intent)] = 1.0
        return out


def keyword_feature_names(intents: Iterable[str]) -> dict[int, str]:
    """Readable names of the keyword features (for explaining the head)."""
    names = {}
    for intent in intents:
        names[feature_id("k:" + intent)] = "k:" + intent
        names[feature_id("k:subject:" + intent)] = "k:subject:" + intent
        names[feature_id("k:end:" + intent)] = "k:end:" + intent
    return names


def weight(count: float) -> float:
    """Sub-linear term frequency."""
    return 1.0 + math.log(count) if count > 0 else 0.0

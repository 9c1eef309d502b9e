"""Text helpers shared by the scorers and the training script.

Everything here is pure and cheap: drop quoted lines, split a message into
sentences (long ones into chunks), fold text for matching, split it into
words, and guess the language when the caller does not know it.
"""
from __future__ import annotations

import re

from responder.core.languages import REPLY_LANGUAGES
from responder.core.parsing.quotes import strip_quotes as _strip_quotes
from responder.core.text import fold
from responder.core.text import tokens as _tokens

# A long mail is scored sentence by sentence; a very long "sentence" (a wall
# of text without stops) is cut into chunks of this many words, and at most
# MAX_SENTENCES pieces of one message are scored.
MAX_WORDS = 48
CHUNK_OVERLAP = 8
MAX_SENTENCES = 200

def strip_quotes(text: str) -> str:
    """The text without quoted lines ('>' lines), their "X wrote:" line, and
    anything from an "-----Original Message-----" or forwarded-message separator
    on (the project's one quote stripper, responder.core.parsing.quotes)."""
    return _strip_quotes(text)


_SENT_END = re.compile(r"(?<=[.!?…;])\s+(?=\S)|(?<=[.!?…])(?=[A-ZÀ-ÖØ-ÞА-ЯЁ][a-zà-öø-ÿа-яё])")
_SPACES = re.compile(r"[ \t\u00a0]+")


def split_sentences(text: str) -> list[str]:
    """Sentences of a message (quotes removed), long ones cut into chunks."""
    out: list[str] = []
    for para in strip_quotes(text).split("\n"):
        para = _SPACES.sub(" ", para).strip()
        if not para:
            continue
        for piece in _SENT_END.split(para):
            piece = piece.strip()
            if not piece:
                continue
            if out and not any(ch.isalnum() for ch in piece):
                out[-1] = out[-1] + " " + piece      # "!!!" belongs to the sentence before
                continue
            words = piece.split(" ")
            if len(words) <= MAX_WORDS:
                out.append(piece)
            else:
                step = MAX_WORDS - CHUNK_OVERLAP
                for start in range(0, len(words), step):
                    out.append(" ".join(words[start:start + MAX_WORDS]))
                    if start + MAX_WORDS >= len(words):
                        break
            if len(out) >= MAX_SENTENCES:
                return out[:MAX_SENTENCES]
    return out


def tokens(folded: str) -> list[str]:
    """Words of folded text as the hostility word lists read them: '*', '@' and
    '$' stay inside words (f*ck, a$$). Kept for transformers_backend; new code
    calls ``responder.core.text.tokens(folded, masked=True)``."""
    return _tokens(folded, masked=True)


# Tiny language guesser for when the caller does not know the language: the
# function words of each reply language (core/languages.py), plus the script.
_STOP_SETS = {lang.code: set(fold(lang.function_words).split()) for lang in REPLY_LANGUAGES}


def guess_language(text: str, default: str = "en") -> str:
    """A cheap guess among the supported languages (function words, script)."""
    letters = [ch for ch in text if ch.isalpha()]
    if letters and sum("\u0400" <= ch <= "\u04ff" for ch in letters) > len(letters) / 3:
        return "ru"
    words = tokens(fold(text))
    if not words:
        return default
    best, best_hits = default, 0
    for lang, stops in _STOP_SETS.items():
        hits = sum(w in stops for w in words)
        if hits > best_hits:
            best, best_hits = lang, hits
    # Estonian and Czech letters settle near ties
    if best in ("en", "de", "fr", "es") and any(ch in text for ch in "õÕ"):
        return "et"
    if best in ("en", "de", "fr", "es") and any(ch in text for ch in "ěřůĚŘŮ"):
        return "cs"
    return best

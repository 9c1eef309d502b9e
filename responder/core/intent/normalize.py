"""Text normalisation shared by the features and the keyword layer."""
from __future__ import annotations

import re
import unicodedata

_FOLD = str.maketrans({"ß": "ss", "ё": "е", "й": "и", "œ": "oe", "æ": "ae", "ø": "o",
                       "ł": "l", "đ": "d", "ı": "i", "’": "'", "`": "'"})
_WORD = re.compile(r"\w+", re.U)
_DIGITS = re.compile(r"\d+")


def fold(text: str) -> str:
    """Lower-case, accents removed (é->e, č->c, õ->o, й->и), compatibility forms unified."""
    text = unicodedata.normalize("NFKC", text).lower().translate(_FOLD)
    decomposed = unicodedata.normalize("NFD", text)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def tokens(folded: str) -> list[str]:
    """Word tokens of folded text; every digit run becomes "0" (order numbers, dates)."""
    return _WORD.findall(_DIGITS.sub("0", folded))

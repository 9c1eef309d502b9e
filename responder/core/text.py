"""The one text normaliser of the decision core: fold text for matching, split it into words.

Both models read text through these two functions (the hostility scorer's features
and word lists in ``core/scoring``, the intent head's features and cue words in
``core/intent``), and so do their training scripts: a change here changes the
features the trained heads were fitted on, so it needs both heads re-trained
(``scripts/train_hostility.py``, ``scripts/train_intent.py``).

``fold`` works in this order:

1. apostrophe look-alikes (’ ‘ ` ´ ʼ) become ``'``; done first because NFKC
   would turn the spacing accent ``´`` into a space and a combining mark;
2. NFKC: compatibility characters become their plain letters (the ligature ``ﬁ``
   -> ``fi``, full-width ``Ｒｅｆｕｎｄ`` -> ``Refund``, ``²`` -> ``2``, ``℡`` -> ``TEL``),
   so that step 3 sees ordinary letters;
3. ``str.casefold`` (lower case for caseless matching; also ``ß``/``ẞ`` -> ``ss``);
4. letters Unicode does not decompose: ``œ æ ø ł đ ı`` -> ``oe ae o l d i``;
5. NFKD, then every combining mark dropped: accents go (``é`` -> ``e``,
   ``č`` -> ``c``, ``õ`` -> ``o``, ``ё`` -> ``е``, ``й`` -> ``и``), so customers
   who type without diacritics match the same words, features and cues.

NFKD alone (what the scorer used to do, after lower-casing) misses step 2's point:
``℡`` decomposed after lower-casing stays upper case. NFKC alone keeps the accents.
No caller needs the accents kept (``scoring.text.guess_language`` looks at the raw
text for ``õ`` and ``ě ř ů`` itself), so ``fold`` has no such variant.
"""
from __future__ import annotations

import re
import unicodedata

__all__ = ["fold", "tokens"]

_APOSTROPHES = str.maketrans({"’": "'", "‘": "'", "`": "'", "´": "'", "ʼ": "'"})
_LETTERS = str.maketrans({"œ": "oe", "æ": "ae", "ø": "o", "ł": "l", "đ": "d", "ı": "i"})


def fold(text: str) -> str:
    """Text for matching: compatibility forms unified, case-folded, accents removed."""
    text = unicodedata.normalize("NFKC", text.translate(_APOSTROPHES))
    text = text.casefold().translate(_LETTERS)
    return "".join(ch for ch in unicodedata.normalize("NFKD", text)
                   if not unicodedata.combining(ch))


_WORD = re.compile(r"\w+")
# '*', '@' and '$' inside a word, and the middle-finger emoji as a word of its own
_MASKED_WORD = re.compile(r"[\w@$*]+|\U0001F595")
_DIGITS = re.compile(r"\d+")


def tokens(folded: str, *, masked: bool = False, digits_as_zero: bool = False) -> list[str]:
    """The words of folded text (see :func:`fold`); a word has a letter or a digit.

    ``masked``: keep '*', '@' and '$' inside words and the 🖕 emoji as a word, so
    obfuscated swearing stays one word (f*ck, a$$hole, sh1t) -- the hostility
    word lists need that. Otherwise they separate words like any punctuation.

    ``digits_as_zero``: every run of digits becomes "0" (order numbers, dates,
    amounts) -- the intent head wants "order 0", not one feature per number.
    """
    if digits_as_zero:
        folded = _DIGITS.sub("0", folded)
    found = (_MASKED_WORD if masked else _WORD).findall(folded)
    return [tok for tok in found if tok == "\U0001F595" or any(ch.isalnum() for ch in tok)]

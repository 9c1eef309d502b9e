"""Hostility word lists: the project's own (lexicons/<lang>.txt) and PyPI's.

A :class:`Lexicon` finds, in one sentence, the words and phrases of each
category (insult, profanity, mild, contempt, threat, reputation_threat, target,
and ``listed`` for words of the glin-profanity package's lists). Matching is
on folded words (``responder.core.text``: lower case, no accents), so customers
who type without diacritics are matched too; ``stem*``, ``*suffix``, ``*part*``
and ``...`` (a gap of up to three words) cover inflected forms and loose phrases.
Obfuscated words (f*ck, sh1t, a$$hole) are tried against the list's words.
"""
from __future__ import annotations

import importlib.util
import json
import logging
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from responder.core.text import fold, tokens

log = logging.getLogger(__name__)

LEXICON_DIR = Path(__file__).resolve().parent / "lexicons"

# Categories a lexicon file may use, in feature order.
CATEGORIES = ("insult", "profanity", "mild", "contempt", "threat", "reputation_threat",
              "target", "listed")
# "safe": phrases that cancel the hits inside them ("a stupid question", "I'm an idiot")
FILE_CATEGORIES = set(CATEGORIES) - {"listed"} | {"exclude", "safe"}

# glin-profanity (MIT) ships one JSON list per language; no Estonian.
_GLIN_FILES = {"en": "english", "fr": "french", "de": "german", "es": "spanish",
               "ru": "russian", "cs": "czech"}

GAP = ("gap", "")
MAX_GAP = 3


@dataclass(frozen=True)
class Hit:
    category: str
    start: int          # first word index in the sentence
    end: int            # one past the last word
    entry: str          # the lexicon entry that matched


def _pattern(raw: str) -> tuple[str, str]:
    if raw == "...":
        return GAP
    if len(raw) > 2 and raw.startswith("*") and raw.endswith("*"):
        return ("in", raw[1:-1])
    if len(raw) > 1 and raw.endswith("*"):
        return ("pre", raw[:-1])
    if len(raw) > 1 and raw.startswith("*"):
        return ("suf", raw[1:])
    return ("eq", raw)


def parse_entry(entry: str) -> tuple[tuple[str, str], ...]:
    """An entry line as a tuple of word patterns."""
    pats: list[tuple[str, str]] = []
    for raw in fold(entry).split():
        if raw == "...":
            pats.append(GAP)
            continue
        lead = raw.startswith("*") and len(raw) > 1 and raw[1] != "*"
        trail = raw.endswith("*") and len(raw) > 1 and raw[-2] != "*"
        words = tokens(raw.strip("*") if (lead or trail) else raw, masked=True)
        if not words:
            continue
        for k, word in enumerate(words):
            w = word
            if lead and k == 0:
                w = "*" + w
            if trail and k == len(words) - 1:
                w = w + "*"
            pats.append(_pattern(w))
    while pats and pats[0] == GAP:
        pats.pop(0)
    while pats and pats[-1] == GAP:
        pats.pop()
    return tuple(pats)


def read_lexicon_file(path: Path) -> dict[str, list[str]]:
    """{category: [entries]} of one lexicon file."""
    cats: dict[str, list[str]] = {}
    current = None
    for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        line = line.split("#", 1)[0].strip() if not line.lstrip().startswith("#") else ""
        if not line:
            continue
        if line.startswith("[") and line.endswith("]"):
            current = line[1:-1].strip()
            if current not in FILE_CATEGORIES:
                raise ValueError(f"{path}:{lineno}: unknown category [{current}]")
            cats.setdefault(current, [])
            continue
        if current is None:
            raise ValueError(f"{path}:{lineno}: entry before any [category] header")
        cats[current].append(line)
    return cats


def _glin_dir() -> Path | None:
    spec = importlib.util.find_spec("glin_profanity")
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(list(spec.submodule_search_locations)[0]) / "data" / "dictionaries"


_warned_glin = False


def pypi_words(lang: str) -> list[str]:
    """The glin-profanity word list for a language ([] if none or not installed)."""
    global _warned_glin
    name = _GLIN_FILES.get(lang)
    if not name:
        return []
    folder = _glin_dir()
    if folder is None or not (folder / f"{name}.json").is_file():
        if not _warned_glin:
            log.warning("glin-profanity is not installed: hostility scores lose the "
                        "PyPI word lists (pip install glin-profanity)")
            _warned_glin = True
        return []
    data = json.loads((folder / f"{name}.json").read_text(encoding="utf-8"))
    words = data.get("words", []) if isinstance(data, dict) else data
    return [w for w in words if isinstance(w, str) and w.strip()]


_LEET = str.maketrans({"@": "a", "$": "s", "0": "o", "1": "i", "3": "e", "4": "a",
                       "5": "s", "7": "t", "!": "i"})


def _word_forms(tok: str) -> list[str]:
    """The word, and its de-obfuscated spelling when it mixes letters and symbols."""
    forms = [tok]
    if any(ch.isalpha() for ch in tok) and any(ch in "@$0134579" for ch in tok):
        plain = tok.translate(_LEET)
        if plain != tok:
            forms.append(plain)
    return forms


def _german_spelling(word: str) -> str:
    # "Betrüger" folds to "betruger", and customers without umlauts type "Betrueger"
    return word.replace("ae", "a").replace("oe", "o").replace("ue", "u")


# extra spelling folds per language, applied to entries and text alike
_SPELLING = {"de": _german_spelling}


class Lexicon:
    """All entries for one language, indexed for fast matching."""

    def __init__(self, lang: str, entries: list[tuple[str, str]]):
        self.lang = lang
        self._spell = _SPELLING.get(lang)
        self.entries: list[tuple[str, tuple[tuple[str, str], ...], str]] = []
        self._eq: dict[str, list[int]] = {}
        self._pre: dict[str, list[int]] = {}
        self._suf: dict[str, list[int]] = {}
        self._in: dict[str, list[int]] = {}
        self._in_lens: set[int] = set()
        self._pre_lens: set[int] = set()
        self._suf_lens: set[int] = set()
        seen = set()
        for category, text in entries:
            pats = parse_entry(text)
            if self._spell:
                pats = tuple((kind, self._spell(p)) for kind, p in pats)
            if not pats or (category, pats) in seen:
                continue
            seen.add((category, pats))
            idx = len(self.entries)
            self.entries.append((category, pats, text))
            kind, s = pats[0]
            if kind == "eq":
                self._eq.setdefault(s, []).append(idx)
            elif kind == "pre":
                self._pre.setdefault(s, []).append(idx)
                self._pre_lens.add(len(s))
            elif kind == "suf":
                self._suf.setdefault(s, []).append(idx)
                self._suf_lens.add(len(s))
            elif kind == "in":
                self._in.setdefault(s, []).append(idx)
                self._in_lens.add(len(s))
        # words an obfuscated token (f*ck, sh**) may stand for
        self._vocab = sorted({p[1] for cat, pats, _ in self.entries for p in pats
                              if cat in ("insult", "profanity", "contempt")
                              and p[0] in ("eq", "pre") and len(p[1]) >= 3
                              and "*" not in p[1]})

    # -- matching ---------------------------------------------------------
    @staticmethod
    def _match_word(kind: str, s: str, forms: list[str]) -> bool:
        for w in forms:
            if kind == "eq" and w == s:
                return True
            if kind == "pre" and w.startswith(s):
                return True
            if kind == "suf" and w.endswith(s):
                return True
            if kind == "in" and s in w:
                return True
        return False

    def _match_rest(self, pats: tuple[tuple[str, str], ...], k: int, forms: list[list[str]],
                    i: int) -> int | None:
        """End index when pats[k:] match from word i on, else None."""
        if k == len(pats):
            return i
        kind, s = pats[k]
        if kind == "gap":
            for skip in range(0, MAX_GAP + 1):
                end = self._match_rest(pats, k + 1, forms, i + skip)
                if end is not None:
                    return end
            return None
        if i >= len(forms) or not self._match_word(kind, s, forms[i]):
            return None
        return self._match_rest(pats, k + 1, forms, i + 1)

    def _candidates(self, forms: list[str]) -> set[int]:
        cands: set[int] = set()
        for w in forms:
            cands.update(self._eq.get(w, ()))
            for n in self._pre_lens:
                if n <= len(w):
                    cands.update(self._pre.get(w[:n], ()))
            for n in self._suf_lens:
                if n <= len(w):
                    cands.update(self._suf.get(w[-n:], ()))
            for n in self._in_lens:
                for j in range(0, len(w) - n + 1):
                    got = self._in.get(w[j:j + n])
                    if got:
                        cands.update(got)
        return cands

    # bounded, and lexicons live as long as the process (load_lexicon caches them)
    @lru_cache(maxsize=4096)  # noqa: B019
    def _unmask(self, tok: str) -> tuple[str, ...]:
        """Words of the list that a masked token like f*ck or f***ing may be."""
        if not any(ch.isalpha() for ch in tok) or tok.strip("*") == "":
            return ()
        rx = re.compile("".join(r"\w{1,4}" if part == "*" else re.escape(part)
                                for part in re.split(r"(\*)+", tok) if part))
        out = [word for word in self._vocab if rx.fullmatch(word)]
        return tuple(out[:5])

    def word_forms(self, words: list[str]) -> list[list[str]]:
        out = []
        for w in words:
            forms = _word_forms(w)
            if "*" in w:
                forms.extend(self._unmask(w))
            out.append(forms)
        return out

    def find(self, words: list[str]) -> list[Hit]:
        """Hits in a sentence given as folded words: ``core.text.tokens(fold(s), masked=True)``."""
        if self._spell:
            words = [self._spell(w) for w in words]
        forms = self.word_forms(words)
        hits: list[Hit] = []
        covered: dict[str, int] = {}      # category -> end of its last hit
        for i, f in enumerate(forms):
            # longest entries first, so a phrase wins over a word inside it
            cands = sorted(self._candidates(f), key=lambda j: -len(self.entries[j][1]))
            for idx in cands:
                category, pats, text = self.entries[idx]
                if i < covered.get(category, 0):
                    continue
                kind, s = pats[0]
                if not self._match_word(kind, s, f):
                    continue
                end = self._match_rest(pats, 1, forms, i + 1)
                if end is not None:
                    covered[category] = end
                    hits.append(Hit(category, i, end, text))
        safe = [(h.start, h.end) for h in hits if h.category == "safe"]
        if safe:
            hits = [h for h in hits if h.category != "safe"
                    and not any(a <= h.start and h.end <= b for a, b in safe)]
        return hits

    def find_text(self, sentence: str) -> list[Hit]:
        return self.find(tokens(fold(sentence), masked=True))


@lru_cache(maxsize=16)
def load_lexicon(lang: str, lexicon_dir: str | None = None) -> Lexicon:
    """The lexicon for a language: its own file, English profanity (customers
    mix it in), and the glin-profanity list minus the file's [exclude] words."""
    folder = Path(lexicon_dir) if lexicon_dir else LEXICON_DIR
    entries: list[tuple[str, str]] = []
    own = folder / f"{lang}.txt"
    cats = read_lexicon_file(own) if own.is_file() else {}
    for category, items in cats.items():
        if category == "exclude":
            continue
        entries.extend((category, item) for item in items)
    if lang != "en" and (folder / "en.txt").is_file():
        en = read_lexicon_file(folder / "en.txt")
        entries.extend(("profanity", item) for item in en.get("profanity", []))
    excluded = {parse_entry(item) for item in cats.get("exclude", [])}
    for word in pypi_words(lang):
        if parse_entry(word) not in excluded:
            entries.append(("listed", word))
    return Lexicon(lang, entries)

"""What the classifier reads for a corpus record: subject + "\n" + the customer's own words.

Uses the real parser (responder.core.parsing) on the record as a real e-mail, exactly as
the live flow and ``responder eval`` do; a simple quote filter stands in only where
the parser is not there.
"""
from __future__ import annotations

import re

from responder.core import corpus

_WROTE = re.compile(r"(wrote|a écrit|schrieb|escribió|написал[а]?|napsal[a]?|kirjutas)\s*:?\s*$",
                    re.I)


def _fallback_own_words(body: str) -> str:
    lines = []
    for line in body.splitlines():
        if line.lstrip().startswith(">"):
            continue
        if _WROTE.search(line.strip()):
            continue
        if line.strip() in ("--", "-- "):
            break
        lines.append(line)
    return "\n".join(lines).strip()


def record_text(record: dict) -> tuple[str, str | None]:
    """(subject + "\\n" + own words, detected language) of one corpus record."""
    try:
        from responder.core import parsing
    except ImportError:
        parsing = None
    if parsing is not None:
        try:
            parsed = parsing.parse(corpus.to_raw(record))
        except Exception:   # parsing.ParseError: keep going with the plain filter
            parsed = None
        if parsed is not None:
            words = parsed.own_words or parsed.text
            return f"{parsed.subject}\n{words}", parsed.language
    return f"{record.get('subject', '')}\n{_fallback_own_words(record.get('body', ''))}", None


def record_texts(records: list[dict]) -> tuple[list[str], list[str | None]]:
    texts, langs = [], []
    for rec in records:
        text, lang = record_text(rec)
        texts.append(text)
        langs.append(lang)
    return texts, langs

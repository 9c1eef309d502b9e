"""What the classifier reads for a corpus record: subject + "\n" + the customer's own words.

Uses the real parser (responder.core.parsing) on the record as a real e-mail, exactly as
the live flow and ``responder eval`` do; where the parser refuses the record, the
parser's lighter quote filter on the body stands in.
"""
from __future__ import annotations

from responder.core import corpus, parsing
from responder.core.parsing.quotes import strip_quotes


def _fallback_own_words(body: str) -> str:
    return strip_quotes(body, signature=True).strip()


def record_text(record: corpus.Record) -> tuple[str, str | None]:
    """(subject + "\\n" + own words, detected language) of one corpus record."""
    try:
        parsed = parsing.parse(corpus.to_raw(record))
    except parsing.ParseError:   # keep going with the plain filter
        parsed = None
    if parsed is not None:
        words = parsed.own_words or parsed.text
        return f"{parsed.subject}\n{words}", parsed.language
    return f"{record.get('subject', '')}\n{_fallback_own_words(record.get('body', ''))}", None


def record_texts(records: list[corpus.Record]) -> tuple[list[str], list[str | None]]:
    texts: list[str] = []
    langs: list[str | None] = []
    for rec in records:
        text, lang = record_text(rec)
        texts.append(text)
        langs.append(lang)
    return texts, langs

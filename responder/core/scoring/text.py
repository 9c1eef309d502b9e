"""Text helpers shared by the scorers and the training script.

Everything here is pure and cheap: drop quoted lines, split a message into
sentences (long ones into chunks), fold text for matching, split it into
words, and guess the language when the caller does not know it.
"""
from __future__ import annotations

import re
import unicodedata

# A long mail is scored sentence by sentence; a very long "sentence" (a wall
# of text without stops) is cut into chunks of this many words, and at most
# MAX_SENTENCES pieces of one message are scored.
MAX_WORDS = 48
CHUNK_OVERLAP = 8
MAX_SENTENCES = 200

_WROTE = re.compile(
    r"\b(wrote|writes|a écrit|a ecrit|schrieb|hat geschrieben|escribió|escribio|"
    r"написал|написала|пишет|napsal|napsala|kirjutas|kirjutab)\b",
    re.IGNORECASE,
)
_ORIGINAL = re.compile(
    r"^\s*(-{2,}\s*(original message|ursprüngliche nachricht|message d'origine|"
    r"mensaje original|исходное сообщение|původní zpráva|algne sõnum)\s*-{2,}|"
    r"_{8,})\s*$",
    re.IGNORECASE,
)


def strip_quotes(text: str) -> str:
    """The text without quoted lines ('>' lines), their "X wrote:" line, and
    anything after an "-----Original Message-----" separator."""
    lines = (text or "").replace("\r\n", "\n").replace("\r", "\n").split("\n")
    kept: list[str] = []
    for i, line in enumerate(lines):
        stripped = line.lstrip()
        if _ORIGINAL.match(line):
            break
        if stripped.startswith(">"):
            continue
        if stripped.endswith(":") and _WROTE.search(stripped):
            # an attribution line: drop it when quoted lines follow
            nxt = next((ln for ln in lines[i + 1:] if ln.strip()), "")
            if nxt.lstrip().startswith(">"):
                continue
        kept.append(line)
    return "\n".join(kept)


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


_FOLD_EXTRA = str.maketrans({
    "ß": "ss", "œ": "oe", "æ": "ae", "ø": "o", "ł": "l", "đ": "d", "ı": "i",
    "’": "'", "‘": "'", "`": "'", "´": "'",
})


def fold(text: str) -> str:
    """Lower-case, accents removed (é->e, č->c, õ->o, ё->е, й->и)."""
    text = text.lower().translate(_FOLD_EXTRA)
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


_TOKEN = re.compile(r"[\w@$*]+|🖕")


def tokens(folded: str) -> list[str]:
    """Words of folded text. '*', '@' and '$' stay inside words (f*ck, a$$)."""
    out = []
    for tok in _TOKEN.findall(folded):
        if tok == "🖕":
            out.append(tok)
            continue
        if not any(ch.isalnum() for ch in tok):
            continue
        out.append(tok)
    return out


# Tiny language guesser for when the caller does not know the language:
# common function words of each supported language, plus the script.
_STOPWORDS = {
    "en": "the and you your is are to of for my it this that not have was with be i me "
          "we what please order refund",
    "fr": "le la les et vous votre vos est pour que pas une un des je mon ma mes ce "
          "avec sur commande merci",
    "de": "der die das und sie ihr ist nicht ich mein meine ein eine zu mit für fuer "
          "auf bitte bestellung",
    "es": "el la los las y usted ustedes su es no por para que mi un una con del "
          "pedido gracias",
    "cs": "a je se na že ze jsem to mi vám vam váš vas vaše vase jste pro objednávka "
          "objednavka děkuji dekuji",
    "et": "ja on et ei ma mu te teie see oma kas minu tellimus palun aitäh aitah "
          "olete oli",
    "ru": "и в не на я что вы вас мой мне это с по заказ пожалуйста",
}
_STOP_SETS = {lang: set(fold(words).split()) for lang, words in _STOPWORDS.items()}


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

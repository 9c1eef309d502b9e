"""The writer's own words: quoted replies, reply headers and signatures removed.

The one quote stripper of the project. ``extract_own_words`` is the full cut
(the newest reply without quotes, reply headers in many languages, Outlook
header blocks, forwarded messages, signatures and sign-off blocks); it uses
``mail-parser-reply`` for the reply headers it knows plus own rules for the
languages it lacks (ru, et, fi, no, pt, uk...). ``strip_quotes`` is the lighter
line filter built on the same recognisers, with parameters for what its
callers need (the scorers, screening's "what the writer says", the rep's reply
above the quoted original).
"""
from __future__ import annotations

import itertools
import logging
import re

log = logging.getLogger(__name__)


_VERBS = (r"wrote|writes|schrieb|a écrit|écrit|escribió|scrisse|ha scritto|escreveu|"
          r"schreef|skrev|kirjoitti|kirjutas|napsal\(a\)|napsala|napsal|napisał\(a\)|"
          r"napisała|napisał|napisal|napisala|написал\(а\)|написала|написал|написав|пишет|"
          r"írta|yazdı|έγραψε|viết|写道|작성")

#: Names of the separator lines that start quoted or forwarded mail, in many languages.
_SEPARATOR_NAMES = (
    r"Original Message|Urspr[üu]ngliche Nachricht|Message d['’]origine|Mensaje original|"
    r"Messaggio originale|Mensagem original|Oorspronkelijk bericht|Originalt meddelande|"
    r"Ursprungligt meddelande|Oprindelig (?:meddelelse|besked)|Opprinnelig melding|"
    r"Alkuperäinen viesti|Původní zpráva|Přeposlaná zpráva|Pôvodná správa|"
    r"Oryginalna wiadomość|Wiadomość oryginalna|Исходное сообщение|Пересылаемое сообщение|"
    r"Пересланное сообщение|Forwarded message|Weitergeleitete Nachricht|"
    r"Message transf[ée]r[ée]|"
    r"Mensaje reenviado|Messaggio inoltrato|Mensagem encaminhada|Doorgestuurd bericht|"
    r"Originaalsõnum|Algne kiri|Algne sõnum|Algsõnum|Edastatud kiri|Edastatud sõnum")

#: Separator lines that start quoted or forwarded mail (the dashes around them are
#: stripped before matching).
_WROTE_FIXED = re.compile(
    rf"(?:^(?:{_SEPARATOR_NAMES})\s*:?$"
    r"|^Begin forwarded message:$"
    r"|^Message du\s?:.*\d"
    r")",
    re.IGNORECASE)

#: A separator line led by dashes, whatever follows the name
#: ("---------- Forwarded message from John ----------").
_DASHED_SEPARATOR = re.compile(rf"^\s*-{{2,}}\s*(?:{_SEPARATOR_NAMES})", re.IGNORECASE)

#: "30.09.2017, 18.30, "John" <john@x.com>:", "ср, 30 апр. 2025 г. в 15:19, John <j@x>:",
#: "2017-11-24 16:32 GMT+01:00 Baptiste <b@x>:": a date, an address, a final colon.
_DATED_ADDR_HEADER = re.compile(
    r"^(?=[^\n]*[\w.+-]+@[\w-]+\.[\w.-]+)"      # an address
    r"(?=[^\n]*\b\d{1,2}[:.]\d{2}\b)"             # a time
    r"(?=[^\n]*\b(?:19|20)\d{2}\b)"               # a year
    r"(?:\d|[^\W\d]{2,12}[,.]?\s+\d)"            # starting with the date or a weekday
    r"[^\n]{0,250}:$")

_SEPARATOR_LINE = re.compile(r"^[-=_*~–—]{2,}$")

#: How a wrapped "On <date>, <name> wrote:" header begins.
_ON_START = re.compile(
    r"^(?:On|Le|Am|El|Il|Em|Op|Den|Dne|Dnia|W dniu|Kom|På|Dana|\d|"
    r"[^\W\d]{2,10}[.,]?\s+\d)", re.IGNORECASE)

#: "... wrote:" / "X írta:" (the verb right before the colon)
_VERB_COLON = re.compile(rf"(?:^|[\s>])(?:{_VERBS})\s*:$", re.IGNORECASE)
#: "... schrieb Max Mustermann <max@x.de>:" (the verb, then a name with an address)
_VERB_NAME_ADDR = re.compile(rf"(?:^|\s)(?:{_VERBS})\s[^\n]{{0,60}}[<@][^\n]{{0,60}}:$",
                             re.IGNORECASE)
_VERB_ANY = re.compile(rf"(?:^|\s)(?:{_VERBS})(?:\s|:|$)", re.IGNORECASE)
_HAS_DATE_OR_ADDR = re.compile(r"\d|@")


def _is_reply_header(text: str) -> bool:
    """Is this (possibly joined) line a reply header such as "On ..., X wrote:"?"""
    core = text.strip().strip("-–—=* ").strip()
    if not core or len(core) > 300:
        return False
    if _WROTE_FIXED.match(core):
        return True
    if _VERB_COLON.search(core) and (len(core) < 120 or _HAS_DATE_OR_ADDR.search(core)):
        return True
    if _VERB_NAME_ADDR.search(core):
        return True
    if (_ON_START.match(core) and _HAS_DATE_OR_ADDR.search(core) and _VERB_ANY.search(core)
            and (core.endswith(":") or _VERB_ANY.search(core.split()[-1]))):
        # "On Wed, 14 Nov 2018 John <j@x> wrote" (no colon), "Am 1.2.2020 schrieb Max:"
        return True
    return bool(_DATED_ADDR_HEADER.match(core))


#: Outlook-style header block: two or more of these in consecutive lines.
_OUTLOOK_FIELD = re.compile(
    r"^\*?(?:From|Sent|To|Subject|Date|Cc|De|Envoyé|À|Objet|Von|Gesendet|An|Betreff|"
    r"Da|Inviato|A|Oggetto|Enviado|Para|Asunto|Assunto|Van|Verzonden|Aan|Onderwerp|"
    r"Od|Odesláno|Komu|Předmět|Wysłano|Do|Temat|От|Отправлено|Дата|Кому|Тема|Saatja|"
    r"Saadetud|Saaja|Teema|Kimen|Lähettäjä|Lähetetty|Vastaanottaja|Aihe|Från|Skickat|"
    r"Till|Ämne|Fra|Sendt|Til|Emne)\*?\s*:", re.IGNORECASE)

_OUTLOOK_SENDER = re.compile(
    r"^\*?(?:From|De|Von|Da|Van|Od|От|Saatja|Lähettäjä|Kimen|Från|Fra|Message du)\*?\s*:",
    re.IGNORECASE)

_SENT_FROM = re.compile(
    r"^(?:Sent from (?:my |the )?[\w .'-]{1,40}|Sent with [\w .'-]{1,40}|"
    r"Sent via [\w .'-]{1,40}|Get Outlook for \w+|Obtenir Outlook pour \w+|"
    r"Envoyé à partir de [\w .'-]{1,30}|Envoyé de mon [\w .'-]{1,30}|"
    r"Envoyé depuis [\w .'-]{1,30}|"
    r"Von meinem [\w .'-]{1,30} gesendet|Gesendet von [\w .'-]{1,30}|"
    r"Enviado desde mi [\w .'-]{1,30}|Inviato da [\w .'-]{1,30}|Enviado do meu [\w .'-]{1,30}|"
    r"Verzonden (?:vanaf|met) [\w .'-]{1,30}|Отправлено с [\w .'-]{1,30}|"
    r"Odesláno z [\w .'-]{1,30}|Saadetud [\w .'-]{1,30}|Skickat från [\w .'-]{1,30}|"
    r"Sendt fra [\w .'-]{1,30}|Lähetetty [\w .'-]{1,30}|Wysłane z [\w .'-]{1,30})"
    r"(?:\s*[(<]?https?://\S*[)>]?)?\s*$",
    re.IGNORECASE)

#: A sign-off line alone; cut there only when at most a few short lines follow.
_SIGN_OFF = re.compile(
    r"^(?:(?:best|kind|warm|many)?\s*(?:regards|wishes)|best|thanks|thank you|thanks again|"
    r"many thanks|cheers|sincerely|yours(?: sincerely| truly| faithfully)?|respectfully|"
    r"cordialement|bien cordialement|bien à vous|merci|merci beaucoup|salutations|"
    r"mit freundlichen grüßen|mit freundlichen grüssen|viele grüße|viele grüsse|beste grüße|"
    r"liebe grüße|lg|mfg|gruß|grüße|danke|vielen dank|saludos|un saludo|atentamente|"
    r"gracias|muchas gracias|cordiali saluti|saluti|grazie|atenciosamente|obrigad[oa]|"
    r"met vriendelijke groet(?:en)?|groeten|с уважением|спасибо|заранее спасибо|"
    r"всего доброго|s pozdravem|děkuji|díky|lugupidamisega|parimat|tervitades|aitäh|"
    r"ystävällisin terveisin|terveisin|med vänliga hälsningar|mvh|med venlig hilsen|"
    r"pozdrawiam|z poważaniem|дякую|з повагою)[\s,.!]*$",
    re.IGNORECASE)

_QUOTE_LINE = re.compile(r"^\s*>")

#: Own words are looked for in the first lines only (bounds the work on huge bodies).
_OWN_MAX_LINES = 3000

_REPLY_PARSER_LANGS = ["en", "de", "fr", "es", "it", "nl", "pl", "cs", "da", "sv"]


def extract_own_words(text: str) -> str:
    """The newest part of a reply: no quoted text, reply headers, or signature.

    If removing quotes leaves nothing (a message that is only a quote, or a reply
    written below the quote that we cannot tell apart), returns the text without
    its ">" markers rather than nothing.
    """
    if not text or not text.strip():
        return ""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    lines = text.split("\n", _OWN_MAX_LINES)[:_OWN_MAX_LINES]  # nobody types more
    cut = _first_cut(lines)
    head = lines[:cut]
    own = _drop_quoted(head)
    own = _drop_signature(own)
    result = _tidy("\n".join(own))
    if not result:
        # The reply may be written below the quote (bottom-posting): keep the
        # unquoted lines after the cut.
        rest = _drop_signature(_drop_quoted(lines[cut:]))
        rest = [ln for ln in rest if not _is_reply_header(ln) and not _OUTLOOK_FIELD.match(ln)]
        result = _tidy("\n".join(rest))
    if not result:
        result = _tidy("\n".join(re.sub(r"^\s*(?:>\s?)+", "", ln) for ln in lines))
    return result


def _tidy(text: str) -> str:
    text = "\n".join(line.rstrip() for line in text.split("\n"))
    return re.sub(r"\n{3,}", "\n\n", text).strip()


def _first_cut(lines: list[str]) -> int:
    """Index of the first line that starts the quoted history (len(lines) if none)."""
    n = len(lines)
    cut = n
    for i, line in enumerate(lines):
        stripped = line.strip()
        if not stripped or _QUOTE_LINE.match(line):
            # quoted lines are dropped later; inline answers between them are kept
            continue
        if _is_reply_header(stripped):
            cut = _header_start(lines, i)
            break
        if _ON_START.match(stripped) or _WRAP_HINT.search(stripped):
            # "On Mon, 2 Apr 2012, John <john@x>\nwrote:", Russian split over lines
            nxt = [ln.strip() for ln in lines[i + 1:i + 3]]
            if nxt and nxt[0] and _is_reply_header(stripped + " " + nxt[0]):
                cut = i
                break
            if len(nxt) == 2 and all(nxt) and _is_reply_header(" ".join([stripped, *nxt])):
                cut = i
                break
        if _OUTLOOK_FIELD.match(stripped) and _is_outlook_block(lines, i):
            cut = i
            break
    library = _library_cut(lines[:min(cut, _LIBRARY_MAX_LINES)])
    if library is not None:
        cut = min(cut, library)
    # separator lines ("====", "-----") and blank lines just above the cut go too
    while cut > 0 and (not lines[cut - 1].strip() or
                       _SEPARATOR_LINE.match(lines[cut - 1].strip())):
        cut -= 1
    return cut


#: mail-parser-reply's regexes are slow on long text; own words sit at the top.
_LIBRARY_MAX_LINES = 100
_LIBRARY_MAX_LINE = 250

_WRAP_HINT = re.compile(r"[<@]|\bOn\b", re.IGNORECASE)


def _header_start(lines: list[str], i: int) -> int:
    """A 'wrote:' line may be the end of a header wrapped from the line before:
    "On Mon, 2 Apr 2012 at 18:20, John Smith <john@x>" / "wrote:"."""
    if i > 0:
        prev = lines[i - 1].strip()
        if (prev and len(prev) < 200 and _ON_START.match(prev)
                and not _ON_START.match(lines[i].strip())
                and re.search(r"\d", prev) and re.search(r"[,<@]", prev)
                and not re.search(r"[.!?]$", prev)):
            return i - 1
    return i


def _is_outlook_block(lines: list[str], i: int) -> bool:
    """Two or more header fields in a row, one of them the sender ("From:", "Von:")."""
    fields = 0
    sender = False
    for line in lines[i:i + 8]:
        s = line.strip().lstrip("> ")
        if not s:
            if fields:
                continue
            break
        if _OUTLOOK_FIELD.match(s):
            fields += 1
            sender = sender or bool(_OUTLOOK_SENDER.match(s))
    return fields >= 2 and sender


def _library_cut(lines: list[str]) -> int | None:
    """Line index where mail-parser-reply sees the first reply header, if any."""
    if not lines:
        return None
    try:
        from mailparser_reply.parser import EmailMessage as ReplyMessage
    except ImportError:
        return None
    # its "On ... wrote:" pattern backtracks badly on long lines; no header is that long
    safe = [line if len(line) <= _LIBRARY_MAX_LINE else "" for line in lines]
    try:
        msg = ReplyMessage(text="\n".join(safe), languages=list(_REPLY_PARSER_LANGS),
                           keep_hyphen_lists=True)
        headers = [h for h in itertools.chain.from_iterable(
            msg.HEADER_REGEX.findall(msg.text)) if h]
    except Exception:  # noqa: BLE001 - never let a third-party regex break parsing
        log.debug("mail-parser-reply failed", exc_info=True)
        return None
    if not headers:
        return None
    # The library strips and re-joins lines, so find its first header line in ours.
    first = next((ln.strip() for ln in headers[0].split("\n") if ln.strip()), "")
    first = re.sub(r"^(?:> ?)+", "", first).strip()
    if not first:
        return None
    for i, line in enumerate(lines):
        if re.sub(r"^(?:> ?)+", "", line.strip()).strip() == first:
            return i
    return None


def _drop_quoted(lines: list[str]) -> list[str]:
    return [line for line in lines if not _QUOTE_LINE.match(line)]


def _drop_signature(lines: list[str]) -> list[str]:
    """Cut at the signature: "-- ", "Sent from my iPhone", or a sign-off + name block."""
    nonblank = [i for i, line in enumerate(lines) if line.strip()]
    for k, i in enumerate(nonblank):
        line = lines[i]
        s = line.strip()
        if k and line.rstrip("\n") == "-- ":
            return lines[:i]                      # the standard delimiter (RFC 3676)
        if _SENT_FROM.match(s):
            return lines[:i]
        if k and (s in ("--", "—", "–") or re.fullmatch(r"_{2,}", s)):
            # looser delimiters: only when a short signature-like block follows
            tail = [lines[j].strip() for j in nonblank[k + 1:]]
            if len(tail) <= 8 and all(len(t) <= 80 for t in tail):
                return lines[:i]
    # sign-off: "Best regards," then at most 4 lines that look like a name or contact
    for k, i in enumerate(nonblank):
        if k and _SIGN_OFF.match(lines[i].strip()):
            tail = [lines[j].strip() for j in nonblank[k + 1:]]
            if len(tail) <= 4 and all(_looks_like_signature_line(t) for t in tail):
                return lines[:i]
    return lines


def _looks_like_signature_line(line: str) -> bool:
    """A name, title, phone number or address line rather than a sentence."""
    if len(line) > 60:
        return False
    if re.search(r"\d{3}|@|https?://|www\.", line):
        return True                                   # phone, e-mail, web address
    words = line.split()
    return len(words) <= 4 and not re.search(r"[.?!:]$", line) or bool(
        re.fullmatch(r"(?:[A-Z]\.\s*)+\w+", line))


# ---- the lighter filter ---------------------------------------------------------------------

#: Outlook's separator rule; it starts the quoted original only when a header line
#: ("From: ...") follows, since converted HTML uses such lines as plain rules.
_RULE_LINE = re.compile(r"^\s*_{8,}\s*$")
_HEADERISH = re.compile(r"^\s*\*?[^\W\d_][\w .-]{0,20}\*?\s*:\s*\S")


def strip_quotes(text: str, *, stop_at_quote: bool = False, signature: bool = False) -> str:
    """The text without quoted lines, line by line: lighter than ``extract_own_words``
    (sign-offs, inline answers between quotes and the text below a quote are kept).

    * ``>`` lines are dropped; with ``stop_at_quote`` the text ends at the first one
      (a reply written above the quoted original, such as a rep's draft).
    * A reply header ("On ..., X wrote:", "X napsal(a):") directly above quoted lines
      is dropped with them.
    * The text ends at a line that starts a forwarded or original message
      ("-----Original Message-----", "Begin forwarded message:"), or at an Outlook
      rule line ("____") with a header line below it.
    * With ``signature`` it also ends at a signature delimiter ("--" or "-- ").
    """
    lines = (text or "").replace("\r\n", "\n").replace("\r", "\n").split("\n")
    # quote_next[i]: the first non-blank line after line i is quoted
    quote_next = [False] * len(lines)
    following_quoted = False
    for i in range(len(lines) - 1, -1, -1):
        quote_next[i] = following_quoted
        if lines[i].strip():
            following_quoted = bool(_QUOTE_LINE.match(lines[i]))
    kept: list[str] = []
    for i, line in enumerate(lines):
        stripped = line.strip()
        if _QUOTE_LINE.match(line):
            if stop_at_quote:
                break
            continue
        if not stripped:
            kept.append(line)
            continue
        if _starts_original(lines, i, stripped):
            break
        if signature and stripped == "--":
            break
        if quote_next[i] and _is_reply_header(stripped):
            if kept and i > 0 and _header_start(lines, i) == i - 1:
                kept.pop()        # "On Mon, 2 Apr 2012, John <john@x>" / "wrote:"
            continue
        kept.append(line)
    return "\n".join(kept)


def _starts_original(lines: list[str], i: int, stripped: str) -> bool:
    """Does line ``i`` start a forwarded or original message?"""
    if _DASHED_SEPARATOR.match(stripped):
        return True
    if _RULE_LINE.match(stripped):
        following = next((ln for ln in lines[i + 1:i + 4] if ln.strip()), "")
        return bool(_HEADERISH.match(following))
    core = stripped.strip("-–—=* ").strip()
    return bool(core) and len(core) <= 300 and bool(_WROTE_FIXED.match(core))

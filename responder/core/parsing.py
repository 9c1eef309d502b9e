"""Raw bytes -> ParsedMessage: headers, readable text, the customer's own words, language.

Never trusts the input. Real mail declares charsets Python does not know
(``x-mac-cyrillic``, ``X-UNKNOWN``, ``unknown-8bit``), carries 8-bit bytes in
headers, bad Content-Transfer-Encodings ("7-bit", "plain"), broken base64, and
HTML-only bodies. Every such case degrades to readable text with replacement
characters, never to an exception. The only exception raised is ``ParseError``,
for input that is not an e-mail at all (empty, binary, body without headers).

Pieces, each usable alone:

* ``decode_part(part)``: the text of one MIME leaf, charset fallbacks included.
* ``html_to_text(html)``: readable plain text from HTML (BeautifulSoup, stdlib
  ``html.parser``; ``<style>``/``<script>``/``<head>`` dropped, ``<blockquote>``
  becomes ``> `` lines so quote stripping sees it).
* ``extract_own_words(text)``: the newest reply without quotes, reply headers
  ("On ... wrote:", "Am ... schrieb", "... написал:", Outlook "From:/Sent:"
  blocks, "-----Original Message-----"), signatures ("-- ", "Sent from my
  iPhone") and a trailing sign-off block ("Best regards,\\nJohn").
  Uses ``mail-parser-reply`` for the reply headers it knows, plus own rules for
  languages it lacks (ru, et, fi, no, pt, uk...) and for quoting.
* ``detect_language(text)``: ISO 639-1 code or None. The lingua detector is built
  once per process, lazily (or by ``warm_up()`` at service start). High-accuracy
  mode: loading its models takes ~3-8 s for the 15 languages, low-accuracy mode
  ~0.3 s, but low accuracy gets short customer sentences wrong ("Where is my
  order?" -> Danish, "Où est ma commande ?" -> Swedish; 37/42 vs 41/42 on short
  samples), so high accuracy is the default; ``RESPONDER_LANGDETECT=low`` switches.
  Detecting one message then takes well under a millisecond.

Optional: ``charset_normalizer`` (in pyproject) guesses undeclared 8-bit charsets;
without it they fall back to cp1252.
"""
from __future__ import annotations

import binascii
import codecs
import itertools
import logging
import os
import re
import threading
import unicodedata
from datetime import datetime, timezone
from email import policy
from email.message import EmailMessage, Message
from email.parser import BytesParser
from email.utils import getaddresses, parsedate_to_datetime

from responder.core.model import LANGUAGES, ParsedMessage

log = logging.getLogger(__name__)

__all__ = ["ParseError", "parse", "decode_part", "decode_bytes", "html_to_text",
           "extract_own_words", "detect_language", "warm_up"]


class ParseError(Exception):
    """The bytes are not an e-mail message (the sender's problem: quarantine it)."""


# ---- charsets ---------------------------------------------------------------------------

#: Names seen in real mail that Python's codec registry does not know, or knows
#: under another name, mapped to the codec to use. Supersets are preferred where
#: senders commonly mean them (gb2312 -> gb18030, shift_jis -> cp932, euc-kr -> cp949).
_CHARSET_ALIASES = {
    "x-mac-cyrillic": "mac-cyrillic", "x-mac-ukrainian": "mac-cyrillic",
    "x-mac-roman": "mac-roman", "macintosh": "mac-roman", "mac": "mac-roman",
    "x-mac-ce": "mac-latin2", "x-mac-centraleurroman": "mac-latin2",
    "x-mac-greek": "mac-greek", "x-mac-turkish": "mac-turkish",
    "x-mac-icelandic": "mac-iceland", "x-mac-croatian": "mac-croatian",
    "x-mac-romanian": "mac-romanian",
    "iso-8859-8-i": "iso-8859-8", "iso-8859-8-e": "iso-8859-8",
    "iso-8859-6-i": "iso-8859-6", "iso-8859-6-e": "iso-8859-6",
    "ks_c_5601-1987": "cp949", "ks_c_5601": "cp949", "ksc5601": "cp949",
    "euc-kr": "cp949", "x-windows-949": "cp949", "windows-949": "cp949",
    "gb2312": "gb18030", "gbk": "gb18030", "x-gbk": "gb18030", "cp936": "gb18030",
    "gb_2312-80": "gb18030", "x-euc-cn": "gb18030", "euc-cn": "gb18030",
    "shift_jis": "cp932", "shift-jis": "cp932", "x-sjis": "cp932", "sjis": "cp932",
    "ms_kanji": "cp932", "windows-31j": "cp932",
    "big5": "big5hkscs", "x-x-big5": "big5hkscs", "cn-big5": "big5hkscs",
    "windows-874": "cp874", "tis-620": "cp874", "x-windows-874": "cp874",
    "unicode-1-1-utf-7": "utf-7", "x-unicode20utf8": "utf-8", "utf8": "utf-8",
    "x-user-defined": "cp1252", "ansi_x3.4-1968": "ascii",
    "iso-8859-1": "cp1252", "latin1": "cp1252", "latin-1": "cp1252", "iso8859-1": "cp1252",
    "iso_8859-1": "cp1252", "l1": "cp1252",
}

#: Declared "charsets" that tell nothing: decode by looking at the bytes.
_UNKNOWN_CHARSETS = {"", "x-unknown", "unknown-8bit", "unknown", "8bit", "7bit", "binary",
                     "default", "none", "us-ascii", "ascii", "charset", "x-user-defined"}

_CODEC_OK: dict[str, str | None] = {}


def _codec_for(charset: str | None) -> str | None:
    """The Python codec name for a declared charset, or None when unknown/useless."""
    name = (charset or "").strip().strip("\"'").lower()
    if name in _CODEC_OK:
        return _CODEC_OK[name]
    result: str | None
    if name in _UNKNOWN_CHARSETS:
        result = None
    else:
        candidate = _CHARSET_ALIASES.get(name, name)
        try:
            codec = codecs.lookup(candidate)
        except (LookupError, ValueError, TypeError):
            # "windows1252", "cp-1251", "iso8859_2": try the usual spellings
            fixed = re.sub(r"^(?:x-)?(windows|win|cp)[-_ ]?(\d+)$", r"cp\2", name)
            fixed = re.sub(r"^iso[-_ ]?8859[-_ ]?(\d+)$", r"iso-8859-\1", fixed)
            try:
                codec = codecs.lookup(_CHARSET_ALIASES.get(fixed, fixed))
            except (LookupError, ValueError, TypeError):
                codec = None
        if codec is not None and not getattr(codec, "_is_text_encoding", True):
            codec = None  # "base64", "rot13", "zlib": bytes-to-bytes codecs, not charsets
        result = codec.name if codec is not None else None
    if len(_CODEC_OK) < 1000:
        _CODEC_OK[name] = result
    return result


def _guess(data: bytes) -> str:
    """Decode bytes of unknown charset: utf-8, then charset_normalizer, then cp1252."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    try:
        import charset_normalizer  # optional: listed in pyproject; cp1252 fallback without it
    except ImportError:
        charset_normalizer = None
    if charset_normalizer is not None and len(data) >= 8:
        try:
            best = charset_normalizer.from_bytes(data[:65536]).best()
            if best is not None and best.encoding:
                return data.decode(best.encoding, errors="replace")
        except Exception:  # noqa: BLE001 - a guesser must never break parsing
            log.debug("charset_normalizer failed", exc_info=True)
    return _cp1252(data)


def _latin1_fallback(err: UnicodeDecodeError) -> tuple[str, int]:
    return err.object[err.start:err.end].decode("latin-1"), err.end


codecs.register_error("responder-latin1", _latin1_fallback)


def _cp1252(data: bytes) -> str:
    """cp1252 with its five undefined bytes taken as latin-1 (what browsers do)."""
    return data.decode("cp1252", errors="responder-latin1")


def decode_bytes(data: bytes, charset: str | None) -> str:
    """Bytes in a declared charset -> str. Never raises."""
    if not data:
        return ""
    codec = _codec_for(charset)
    if codec is None:
        # declared nothing useful ("us-ascii" with 8-bit bytes is the common lie)
        return _guess(data)
    if codec == "cp1252" and not data.isascii():
        # iso-8859-1/cp1252 declared: UTF-8 mislabelled as latin-1 is common, and
        # valid multi-byte UTF-8 is vanishingly rare in real latin-1 text.
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError:
            return _cp1252(data)
    try:
        return data.decode(codec)
    except UnicodeDecodeError:
        pass
    except Exception:  # noqa: BLE001 - some codecs raise other errors on garbage
        pass
    if codec.startswith("iso2022_jp"):
        # Japanese mail often uses Windows (NEC/IBM) extensions the strict codec lacks
        text = _iso2022jp_via_cp932(data)
        if text is not None:
            return text
    if codec.startswith("iso2022") or codec == "utf-7":
        # 7-bit encodings: "valid UTF-8" says nothing, keep the declared codec
        return data.decode(codec, errors="replace")
    if codec == "utf-8":
        # "utf-8" declared: a few broken sequences in real UTF-8 keep the declared
        # codec with replacements; mostly-invalid bytes are another charset (latin-1...)
        text = data.decode("utf-8", errors="replace")
        good = sum(1 for ch in text if ord(ch) > 127 and ch != "\ufffd")
        return text if good >= text.count("\ufffd") else _guess(data)
    # declared charset is wrong for these bytes: try utf-8, else the declared one with
    # replacement characters (keeps most of the text)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        try:
            return data.decode(codec, errors="replace")
        except Exception:  # noqa: BLE001
            return _guess(data)


def _iso2022jp_via_cp932(data: bytes) -> str | None:
    """ISO-2022-JP decoded by way of Shift_JIS/cp932 (which has the vendor extensions)."""
    out = bytearray()
    mode = "ascii"
    i, n = 0, len(data)
    while i < n:
        byte = data[i]
        if byte == 0x1B:
            seq = data[i + 1:i + 3]
            if seq in (b"$B", b"$@"):
                mode = "jis"
            elif seq in (b"(B", b"(J"):
                mode = "ascii"
            elif seq == b"(I":
                mode = "kana"
            else:
                return None
            i += 3
            continue
        if mode == "jis" and byte not in (0x0A, 0x0D):
            if i + 1 >= n:
                return None
            j1, j2 = byte, data[i + 1]
            if not (0x21 <= j1 <= 0x7E and 0x21 <= j2 <= 0x7E):
                return None
            if j1 & 1:
                s2 = j2 + 0x1F + (1 if j2 + 0x1F >= 0x7F else 0)
            else:
                s2 = j2 + 0x7E
            s1 = ((j1 + 1) >> 1) + 0x70
            if s1 >= 0xA0:
                s1 += 0x40
            out += bytes((s1, s2))
            i += 2
            continue
        out.append(byte + 0x80 if mode == "kana" and 0x21 <= byte <= 0x5F else byte)
        i += 1
    return out.decode("cp932", errors="replace")


def _clean(text: str, hint: str | None = None) -> str:
    """Decode surrogates (8-bit bytes smuggled by the parser); drop NULs.

    ``hint`` is a charset to try after UTF-8 (for raw 8-bit headers: the body's).
    """
    if not text:
        return ""
    if any(0xD800 <= ord(ch) <= 0xDFFF for ch in text):
        try:
            raw = text.encode("utf-8", "surrogateescape")
        except UnicodeEncodeError:  # lone surrogates that are not escaped bytes
            return text.encode("utf-8", "replace").decode("utf-8").replace("\x00", "")
        decoded: str | None = None
        try:
            decoded = raw.decode("utf-8")
        except UnicodeDecodeError:
            codec = _codec_for(hint)
            if codec:
                try:
                    decoded = raw.decode(codec)
                except Exception:  # noqa: BLE001
                    decoded = None
        text = decoded if decoded is not None else decode_bytes(raw, None)
    return text.replace("\x00", "")


#: Zero-width and bidi control characters: invisible, but they break matching.
_INVISIBLE = re.compile("[\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff\u00ad]")


def _payload_bytes(part: Message) -> bytes:
    """The transfer-decoded payload of a leaf part; bad CTEs give the raw bytes."""
    try:
        data = part.get_payload(decode=True)
    except Exception:  # noqa: BLE001 - broken base64/uuencode
        data = None
    if isinstance(data, bytes):
        return data
    raw = part.get_payload()
    if isinstance(raw, str):
        return raw.encode("ascii", "surrogateescape") if _is_escapable(raw) else raw.encode(
            "utf-8", "replace")
    return b""


def _is_escapable(text: str) -> bool:
    try:
        text.encode("ascii", "surrogateescape")
        return True
    except UnicodeEncodeError:
        return False


def decode_part(part: Message) -> str:
    """The text of one non-multipart part, in its declared charset with fallbacks.

    Transfer encoding is undone (base64, quoted-printable, uuencode); an unknown
    Content-Transfer-Encoding leaves the bytes as they are. Unknown or wrong charsets
    fall back to UTF-8, then to a guess. Line ends become ``\\n``. Never raises.
    """
    if part.is_multipart():
        return ""
    data = _payload_bytes(part)
    try:
        charset = part.get_content_charset()
    except Exception:  # noqa: BLE001
        charset = None
    text = decode_bytes(data, charset)
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\x00", "")
    return text


# ---- HTML ----------------------------------------------------------------------------------

#: Never shown. (Not "head": with a missing </head>, html.parser nests the body in it.)
#: HTML beyond this is not converted (newsletters with inline images run to megabytes).
_HTML_MAX_CHARS = 2_000_000

_DROP_TAGS = {"style", "script", "title", "meta", "link", "noscript", "template",
              "svg", "object", "iframe", "xml", "o:p"}
_BLOCK_TAGS = {"p", "div", "section", "article", "header", "footer", "main", "aside",
               "nav", "h1", "h2", "h3", "h4", "h5", "h6", "ul", "ol", "dl", "dt", "dd",
               "table", "tbody", "thead", "tfoot", "form", "fieldset", "address", "center",
               "pre", "figure", "figcaption", "hr", "body", "html"}
_PARA_TAGS = {"p", "h1", "h2", "h3", "h4", "h5", "h6", "table", "ul", "ol", "pre", "hr",
              "figure"}


def html_to_text(html: str) -> str:
    """Readable plain text from an HTML body.

    Uses BeautifulSoup with the stdlib parser (MIT-licensed, no GPL dependency).
    Drops style, script and head; turns br/p/div/li/tr into line breaks, list
    items into "- ", links into their text, images into their alt text if any,
    and blockquotes into "> "-prefixed lines, so quote stripping works as for
    plain text. Whitespace is collapsed the way a browser shows it.
    """
    if not html or not html.strip():
        return ""
    if len(html) > _HTML_MAX_CHARS:
        html = html[:_HTML_MAX_CHARS]  # a customer's words are at the top
    try:
        from bs4 import BeautifulSoup, Comment, Doctype, NavigableString, Tag
        soup = BeautifulSoup(html, "html.parser")
    except Exception:  # noqa: BLE001 - fall back to a regex strip
        log.debug("BeautifulSoup failed", exc_info=True)
        return _strip_tags(html)

    out: list[str] = []          # finished lines (with quote prefix)
    line: list[str] = []         # pieces of the current line
    state = {"quote": 0, "pre": 0, "pending_blank": False}

    def flush(blank: bool = False) -> None:
        text = "".join(line)
        line.clear()
        if state["pre"]:
            text = text.rstrip()
        else:
            text = re.sub(r"[ \t\u00a0\u200b\u200c\u200d\ufeff]+", " ", text).strip()
        prefix = "> " * state["quote"]
        if text:
            if state["pending_blank"] and out and out[-1].strip(">  ") != "":
                out.append(prefix.rstrip())
            state["pending_blank"] = False
            out.append(prefix + text)
        if blank:
            state["pending_blank"] = True

    def walk(node) -> None:
        for child in list(node.children):
            if isinstance(child, (Comment, Doctype)):
                continue
            if isinstance(child, NavigableString):
                s = str(child)
                if type(child).__name__ in ("CData", "ProcessingInstruction", "Declaration"):
                    continue
                if state["pre"]:
                    parts = s.split("\n")
                    for i, piece in enumerate(parts):
                        if i:
                            flush()
                        line.append(piece)
                else:
                    line.append(re.sub(r"\s+", " ", s))
                continue
            if not isinstance(child, Tag):
                continue
            name = (child.name or "").lower()
            if name in _DROP_TAGS or name.startswith("v:"):  # v: Outlook VML shapes
                continue
            if name == "br":
                flush()
                continue
            if name == "img":
                alt = (child.get("alt") or "").strip()
                if alt and len(alt) < 60:
                    line.append(alt)
                continue
            if name == "blockquote":
                flush(blank=True)
                state["quote"] += 1
                walk(child)
                flush(blank=True)
                state["quote"] -= 1
                continue
            if name == "li":
                flush()
                line.append("- ")
                walk(child)
                flush()
                continue
            if name in ("tr",):
                flush()
                walk(child)
                flush()
                continue
            if name in ("td", "th"):
                if line and "".join(line).strip():
                    line.append(" ")
                walk(child)
                line.append(" ")
                continue
            if name == "pre":
                flush(blank=True)
                state["pre"] += 1
                walk(child)
                flush(blank=True)
                state["pre"] -= 1
                continue
            if name == "hr":
                flush()
                out.append("> " * state["quote"] + "________________________________")
                continue
            if name in _BLOCK_TAGS or name in ("li", "tr"):
                flush(blank=name in _PARA_TAGS)
                walk(child)
                flush(blank=name in _PARA_TAGS)
                continue
            walk(child)  # inline: a, span, b, font...

    try:
        walk(soup)
        flush()
    except RecursionError:
        return _strip_tags(html)
    text = "\n".join(out)
    text = re.sub(r"\n{3,}", "\n\n", text)
    return text.strip("\n")


def _strip_tags(html: str) -> str:
    import html as html_mod
    html = re.sub(r"(?is)<(style|script|head)\b.*?</\1\s*>", " ", html)
    html = re.sub(r"(?i)<br\s*/?>|</p\s*>|</div\s*>|</tr\s*>|</li\s*>", "\n", html)
    text = html_mod.unescape(re.sub(r"(?s)<[^>]*>", " ", html))
    lines = [re.sub(r"[ \t\u00a0]+", " ", ln).strip() for ln in text.splitlines()]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


# ---- the body -----------------------------------------------------------------------------

def _ctype(part: Message) -> str:
    """part.get_content_type(), memoised on the part (the stdlib re-parses each time)."""
    cached = part.__dict__.get("_responder_ctype")
    if cached is None:
        try:
            cached = part.get_content_type()
        except Exception:  # noqa: BLE001
            cached = "application/octet-stream"
        part.__dict__["_responder_ctype"] = cached
    return cached


def _is_attachment(part: Message) -> bool:
    try:
        disposition = (part.get_content_disposition() or "").lower()
    except Exception:  # noqa: BLE001
        disposition = ""
    if disposition == "attachment":
        return True
    try:
        filename = part.get_filename()
    except Exception:  # noqa: BLE001
        filename = None
    # a named text part (Content-Type name= or inline; filename=) is an attached file
    return bool(filename) and not part.is_multipart()


_UUENCODED = re.compile(r"^begin [0-7]{3,4} [^\n]+\n(?:[^\n]*\n)*?end[ \t]*$\n?", re.MULTILINE)
_LOOKS_HTML = re.compile(r"\s*<(?:!doctype\s+html|html|head|body)\b", re.IGNORECASE)


def _leaf_text(part: Message) -> tuple[str, str] | None:
    """(kind, text) for a readable leaf: kind is 'plain' or 'html'."""
    ctype = _ctype(part)
    if ctype == "text/plain":
        text = _UUENCODED.sub("", decode_part(part))
        if _LOOKS_HTML.match(text):
            return "html", html_to_text(text)
        return "plain", text
    if ctype == "text/html":
        return "html", html_to_text(decode_part(part))
    return None


def _collect(part: Message, out: list[str], depth: int = 0) -> None:
    if depth > 30:
        return
    if depth and _is_attachment(part):
        return
    ctype = _ctype(part)
    if ctype.startswith("multipart/") and not part.is_multipart():
        # the boundary was missing or wrong: the parts sit unparsed in the payload
        recovered = _recover_multipart(part)
        if recovered is not None:
            _collect(recovered, out, depth + 1)
        else:
            text = _MIME_PREAMBLE.sub("", decode_part(part))
            if text.strip():
                out.append(text)
        return
    if ctype == "message/rfc822" or ctype == "message/global":
        payload = part.get_payload()
        inner = payload[0] if isinstance(payload, list) and payload else None
        if isinstance(inner, Message):
            sub: list[str] = []
            _collect(inner, sub, depth + 1)
            if any(s.strip() for s in sub):
                out.append("---------- Forwarded message ----------\n" + "\n\n".join(sub))
        return
    if part.is_multipart():
        try:
            children = list(part.iter_parts())
        except Exception:  # noqa: BLE001
            children = []
        if ctype == "multipart/alternative":
            best = _best_alternative(children, depth)
            if best:
                out.append(best)
            return
        if ctype == "multipart/related" and children:
            # the root (first part, or the one named by start=) is the body
            children = children[:1]
        for child in children:
            _collect(child, out, depth + 1)
        return
    leaf = _leaf_text(part)
    if leaf is not None:
        out.append(leaf[1])


_MIME_PREAMBLE = re.compile(r"^\s*This is a multi-?part message in MIME format\.?\s*",
                            re.IGNORECASE)
_BOUNDARY_LINE = re.compile(rb"^--([^\s]{1,200}?)(?:--)?[ \t]*\r?\n(?=[A-Za-z-]+:)", re.MULTILINE)


def _recover_multipart(part: Message) -> Message | None:
    """Re-parse a multipart whose declared boundary does not match its body."""
    data = _payload_bytes(part)
    m = _BOUNDARY_LINE.search(data)
    if not m:
        return None
    boundary = m.group(1).decode("ascii", "replace").replace('"', "")
    head = (f'Content-Type: {part.get_content_type()}; boundary="{boundary}"\r\n'
            "MIME-Version: 1.0\r\n\r\n").encode("ascii", "replace")
    try:
        fixed = _PARSER.parsebytes(head + data)
    except Exception:  # noqa: BLE001
        return None
    return fixed if fixed.is_multipart() else None


def _best_alternative(children: list[Message], depth: int) -> str:
    """text/plain if it says something, else HTML converted; nested trees allowed."""
    plain, html = [], []
    for child in children:
        if _is_attachment(child):
            continue
        if child.is_multipart():
            sub: list[str] = []
            _collect(child, sub, depth + 1)
            text = "\n\n".join(s for s in sub if s.strip())
            (html if _has_html(child) else plain).append(text)
            continue
        leaf = _leaf_text(child)
        if leaf is not None:
            (plain if leaf[0] == "plain" else html).append(leaf[1])
    for text in plain:
        if text.strip() and not _PLACEHOLDER.search(text[:300]):
            return text
    for text in html:
        if text.strip():
            return text
    return next((t for t in plain if t.strip()), "")


_PLACEHOLDER = re.compile(
    r"^\s*(?:this is an? (?:html|multi-?part)|your (?:e-?mail )?(?:client|reader|program) "
    r"does not support html|to view this (?:message|e-?mail)|this message (?:is in|contains) html)",
    re.IGNORECASE)


def _has_html(part: Message) -> bool:
    try:
        return any(_ctype(p) == "text/html" for p in part.walk())
    except Exception:  # noqa: BLE001
        return False


def _body_text(msg: Message) -> str:
    out: list[str] = []
    if not msg.is_multipart() and _is_attachment_root(msg):
        return ""
    _collect(msg, out)
    text = "\n\n".join(s.strip("\n") for s in out if s and s.strip())
    if not text:
        # no unnamed text part: take text parts that are named but not disposed as
        # attachments ("inline; filename=msg.txt" is how some clients send the body)
        found = []
        for part in _walk_inline(msg):
            ctype = _ctype(part)
            if ctype in ("text/plain", "text/html"):
                body = decode_part(part)
                found.append(html_to_text(body) if ctype == "text/html" else body)
        text = "\n\n".join(t.strip("\n") for t in found if t.strip())
    text = _INVISIBLE.sub("", _clean(text))
    text = unicodedata.normalize("NFC", text)
    text = "\n".join(line.rstrip() for line in text.split("\n"))
    return text.strip("\n")


def _walk_inline(part: Message, depth: int = 0):
    """Leaf parts not inside anything disposed as an attachment (an attached .eml
    holds text parts of its own that are not marked as attachments)."""
    if depth > 30 or _is_attachment_root(part):
        return
    if part.is_multipart():
        try:
            children = list(part.iter_parts()) if _ctype(part).startswith("multipart/") \
                else [p for p in (part.get_payload() or []) if isinstance(p, Message)]
        except Exception:  # noqa: BLE001
            children = []
        for child in children:
            yield from _walk_inline(child, depth + 1)
    else:
        yield part


def _is_attachment_root(msg: Message) -> bool:
    try:
        return (msg.get_content_disposition() or "").lower() == "attachment"
    except Exception:  # noqa: BLE001
        return False


# ---- headers -------------------------------------------------------------------------------

_EW = re.compile(r"=\?([^?\s]+?)(?:\*[^?\s]*)?\?([qQbB])\?([^?\s]*?)\?=")


def _decode_ew_text(value: str, hint: str | None = None) -> str:
    """A raw header value with RFC 2047 encoded-words -> str, charset aliases honoured."""
    runs: list[tuple[str | None, bytes | str]] = []
    pos = 0
    for m in _EW.finditer(value):
        between = value[pos:m.start()]
        if between and not (runs and runs[-1][0] is not None and not between.strip()):
            runs.append((None, between))
        charset, enc, payload = m.group(1).lower(), m.group(2).lower(), m.group(3)
        if enc == "q":
            data = re.sub(rb"=([0-9A-Fa-f]{2})", lambda mm: bytes([int(mm.group(1), 16)]),
                          payload.replace("_", " ").encode("utf-8", "surrogateescape"))
        else:
            data = _b64(payload)
        if runs and runs[-1][0] == charset:
            runs[-1] = (charset, runs[-1][1] + data)  # type: ignore[operator]
        else:
            runs.append((charset, data))
        pos = m.end()
    if pos < len(value):
        runs.append((None, value[pos:]))
    pieces = []
    for charset, data in runs:
        if charset is None:
            pieces.append(_clean(data, hint))  # type: ignore[arg-type]
        else:
            pieces.append(decode_bytes(data, charset))  # type: ignore[arg-type]
    return "".join(pieces)


def _b64(payload: str) -> bytes:
    """Lenient base64: junk characters dropped, padding repaired, a dangling char cut."""
    core = re.sub(r"[^A-Za-z0-9+/]", "", payload)
    if len(core) % 4 == 1:
        core = core[:-1]
    try:
        return binascii.a2b_base64(core + "=" * (-len(core) % 4))
    except (binascii.Error, ValueError):
        return b""


def _raw_header(msg: Message, name: str) -> str | None:
    lname = name.lower()
    for key, value in msg.raw_items():
        if key.lower() == lname:
            return str(value)
    return None


def _unfold(value: str) -> str:
    return re.sub(r"\r?\n(?=[ \t])", "", str(value)).replace("\r", " ").replace("\n", " ")


def _header(msg: Message, name: str, hint: str | None = None) -> str:
    """One header as readable str; never raises.

    Decoded from the raw value with our own RFC 2047 decoder rather than the stdlib
    header objects: it knows more charset aliases, decodes raw 8-bit bytes (RFC 6532
    UTF-8, or legacy bytes in ``hint``, the body's charset) instead of replacing
    them with U+FFFD, and is several times faster.
    """
    raw = _raw_header(msg, name)
    if raw is None:
        return ""
    value = _clean(_decode_ew_text(_unfold(raw), hint), hint)
    return re.sub(r"[\r\n\t]+", " ", value).strip()


def _addresses(msg: Message, names: tuple[str, ...], hint: str | None = None
               ) -> list[tuple[str, str]]:
    """(display name, lower-case bare address) for every address in the headers.

    Splits the raw header (encoded-words hold no commas, decoded names may), then
    decodes each display name.
    """
    result: list[tuple[str, str]] = []
    for name in names:
        for key, raw in msg.raw_items():
            if key.lower() != name:
                continue
            raw = _unfold(str(raw))
            try:
                found = [(n, a) for n, a in getaddresses([raw]) if n or a]
            except Exception:  # noqa: BLE001
                found = []
            if not any("@" in a for _, a in found):
                m = re.search(r"[\w.+'=-]+@[\w-]+(?:\.[\w-]+)+", raw)
                if m:
                    found = [("", m.group(0))]
            for display, spec in found:
                spec = _clean(spec).strip().strip("<>").strip().lower()
                display = _decode_ew_text(display, hint).strip().strip('"').strip()
                if spec or display:
                    result.append((display, spec))
    # "MAILER-DAEMON" (no domain) is kept; junk like "@host" or "a b@c" is not
    return [(n, a) for n, a in result if _ADDR_OK.match(a)]


_ADDR_OK = re.compile(r"^[^@\s<>,;:]+(?:@[^@\s<>,;:]+\.?[^@\s<>,;:]*)?$")


_MSGID = re.compile(r"<[^<>\s]+>")


def _message_id(value: str) -> str | None:
    value = value.strip()
    if not value:
        return None
    m = _MSGID.search(value)
    if m:
        return m.group(0)
    token = re.sub(r"\s+", "", value).strip("<>")
    return f"<{token}>" if token else None


def _in_reply_to(value: str) -> str | None:
    """The first message id in In-Reply-To (some clients add "(John's message of...)")."""
    m = _MSGID.search(value)
    return m.group(0) if m else None


def _references(value: str) -> list[str]:
    ids = _MSGID.findall(value)
    if ids:
        return list(dict.fromkeys(ids))
    return [f"<{tok.strip('<>')}>" for tok in value.split() if "@" in tok]


def _date(value: str, defects: list[str]) -> datetime | None:
    if not value:
        return None
    try:
        dt = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError) as exc:
        defects.append(f"Date: unparseable ({exc})")
        return None
    if dt is None:
        return None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)  # "-0000": time given in UTC, zone unknown
    return dt


# ---- own words ------------------------------------------------------------------------------

_VERBS = (r"wrote|writes|schrieb|a écrit|écrit|escribió|scrisse|ha scritto|escreveu|"
          r"schreef|skrev|kirjoitti|kirjutas|napsal\(a\)|napsala|napsal|napisał\(a\)|"
          r"napisała|napisał|napisal|napisala|написал\(а\)|написала|написал|написав|пишет|"
          r"írta|yazdı|έγραψε|viết|写道|작성")

#: Separator lines that start quoted or forwarded mail, in many languages (the dashes
#: around them are stripped before matching).
_WROTE_FIXED = re.compile(
    r"(?:^(?:Original Message|Ursprüngliche Nachricht|Message d'origine|Mensaje original|"
    r"Messaggio originale|Mensagem original|Oorspronkelijk bericht|Originalt meddelande|"
    r"Ursprungligt meddelande|Oprindelig (?:meddelelse|besked)|Opprinnelig melding|"
    r"Alkuperäinen viesti|Původní zpráva|Přeposlaná zpráva|Pôvodná správa|"
    r"Oryginalna wiadomość|Wiadomość oryginalna|Исходное сообщение|Пересылаемое сообщение|"
    r"Пересланное сообщение|Forwarded message|Weitergeleitete Nachricht|Message transféré|"
    r"Mensaje reenviado|Messaggio inoltrato|Mensagem encaminhada|Doorgestuurd bericht|"
    r"Originaalsõnum|Algne kiri|Algsõnum|Edastatud kiri|Edastatud sõnum)\s*:?$"
    r"|^Begin forwarded message:$"
    r"|^Message du\s?:.*\d"
    r")",
    re.IGNORECASE)

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


# ---- language -------------------------------------------------------------------------------

#: What the detector may answer. Slovak is left out on purpose: short Czech is often
#: taken for Slovak, and a Slovak customer is better served in Czech than in English.
_DETECTOR_LANGUAGES = ("en", "fr", "de", "es", "ru", "cs", "et", "it", "pt", "nl", "pl",
                       "fi", "sv", "da", "uk")

_detector = None
_detector_lock = threading.Lock()
detector_build_seconds: float | None = None


def _get_detector():
    """The lingua detector, built once per process (high accuracy: ~8 s to load)."""
    global _detector, detector_build_seconds
    if _detector is not None:
        return _detector
    with _detector_lock:
        if _detector is None:
            import time

            from lingua import IsoCode639_1, Language, LanguageDetectorBuilder
            start = time.perf_counter()
            langs = [Language.from_iso_code_639_1(getattr(IsoCode639_1, code.upper()))
                     for code in _DETECTOR_LANGUAGES]
            builder = LanguageDetectorBuilder.from_languages(*langs)
            if os.environ.get("RESPONDER_LANGDETECT", "").lower() == "low":
                builder = builder.with_low_accuracy_mode()
            _detector = builder.with_preloaded_language_models().build()
            detector_build_seconds = time.perf_counter() - start
            log.info("language detector built in %.2fs", detector_build_seconds)
    return _detector


def warm_up() -> float:
    """Build the language detector now (seconds taken), e.g. at service start."""
    _get_detector()
    return detector_build_seconds or 0.0


_NOISE = re.compile(r"https?://\S+|www\.\S+|\S+@\S+|[#№]?\d[\d\s.,:/-]*|[_*=~<>|\[\]{}()\\]+")


def detect_language(text: str) -> str | None:
    """ISO 639-1 code of the text, or None when it is too short or unclear."""
    if not text:
        return None
    sample = _NOISE.sub(" ", text[:3000])
    letters = sum(ch.isalpha() for ch in sample)
    if letters < 4:
        return None
    try:
        values = _get_detector().compute_language_confidence_values(sample)
    except Exception:  # noqa: BLE001 - detection is a nicety, never a failure
        log.debug("language detection failed", exc_info=True)
        return None
    if not values:
        return None
    scored = [(v.language.iso_code_639_1.name.lower(), v.value) for v in values]
    top_code, top = scored[0]
    second_code, second = scored[1] if len(scored) > 1 else ("", 0.0)
    words = len(re.findall(r"\w{2,}", sample))
    if words < 3:
        # one or two words ("Hello", "Danke"): lingua guesses; accept only a clear winner
        return top_code if top >= 0.5 else None
    if top >= 0.2 and top >= 1.5 * second:
        return top_code
    # close call between a language we answer in and one we do not (es/pt, fr/it in
    # short sentences): take ours
    if top >= 0.2 and top_code in LANGUAGES and second_code not in LANGUAGES:
        return top_code
    return None


# ---- parse ----------------------------------------------------------------------------------

#: At least one of these must be present for the bytes to count as an e-mail.
_MAIL_FIELDS = ("from", "sender", "reply-to", "to", "cc", "subject", "date", "message-id",
                "received", "return-path", "mime-version", "content-type", "in-reply-to",
                "references", "delivered-to", "x-mailer")

_PARSER = BytesParser(policy=policy.default)


def parse(raw: bytes) -> ParsedMessage:
    """Parse the raw bytes of one message. Raises ParseError if it is not an e-mail."""
    if raw is None:
        raise ParseError("no message: got None instead of bytes")
    if isinstance(raw, str):
        raw = raw.encode("utf-8", "surrogateescape")
    if not isinstance(raw, (bytes, bytearray, memoryview)):
        raise ParseError(f"no message: expected bytes, got {type(raw).__name__}")
    raw = bytes(raw)
    if not raw.strip():
        raise ParseError("empty message: no bytes (or only whitespace)")
    try:
        msg = _PARSER.parsebytes(raw)
    except Exception as exc:  # noqa: BLE001 - the stdlib parser is lenient; be safe
        raise ParseError(f"not an e-mail: the MIME parser failed ({type(exc).__name__}: {exc})"
                         ) from exc
    try:
        keys = [k.lower() for k in msg.keys()]
    except Exception:  # noqa: BLE001
        keys = []
    repaired: list[str] = []
    if not keys:
        # RFC 5322 obsolete syntax allows "From  : x" (space before the colon), which
        # the stdlib parser does not; retry with the header block tidied.
        fixed = _fix_obs_headers(raw)
        if fixed is not None:
            try:
                retry = _PARSER.parsebytes(fixed)
                if retry.keys():
                    msg, raw = retry, fixed
                    keys = [k.lower() for k in msg.keys()]
                    repaired.append("RepairedObsoleteHeaderSyntax: space before colon")
            except Exception:  # noqa: BLE001
                pass
    if any(type(d).__name__ == "MissingHeaderBodySeparatorDefect" for d in msg.defects):
        # a continuation line without its leading space ends the header block early
        # and hides From/Subject below it in the body: fold such lines and retry
        fixed = _fix_broken_folding(raw)
        if fixed is not None:
            try:
                retry = _PARSER.parsebytes(fixed)
                if len(retry.keys()) > len(keys):
                    msg, keys = retry, [k.lower() for k in retry.keys()]
                    repaired.append("RepairedHeaderFolding: continuation line without "
                                    "leading whitespace")
            except Exception:  # noqa: BLE001
                pass
    if not keys:
        raise ParseError("not an e-mail: no header fields found (body only or binary data)")
    if not any(k in _MAIL_FIELDS for k in keys):
        shown = ", ".join(sorted(set(keys))[:5])
        raise ParseError(f"not an e-mail: none of From, To, Subject, Date, Message-ID "
                         f"present (headers seen: {shown})")
    try:
        return _build(msg, repaired)
    except RecursionError as exc:
        raise ParseError("cannot read the message: MIME structure nested too deeply") from exc
    except Exception as exc:  # noqa: BLE001 - a bug here must quarantine, not crash intake
        log.exception("unexpected error while reading a message")
        raise ParseError(f"cannot read the message ({type(exc).__name__}: {exc})") from exc


def _charset_hint(msg: Message) -> str | None:
    """The body's declared charset: raw 8-bit headers are usually in it too."""
    try:
        for charset in msg.get_charsets():
            if charset and _codec_for(charset) not in (None, "ascii", "utf-8"):
                return charset
    except Exception:  # noqa: BLE001
        pass
    return None


_OBS_FIELD = re.compile(rb"^([!-9;-~]+)[ \t]+:", re.MULTILINE)


def _fix_obs_headers(raw: bytes) -> bytes | None:
    m = re.search(rb"\r?\n\r?\n", raw)
    head, body = (raw[:m.start()], raw[m.start():]) if m else (raw, b"")
    first = head.split(b"\n", 1)[0]
    if not _OBS_FIELD.match(first):
        return None
    return _OBS_FIELD.sub(rb"\1:", head) + body


_HEADER_LINE = re.compile(rb"^[!-9;-~]+:")
_KNOWN_HEADER_LINE = re.compile(
    rb"^(?:from|to|cc|subject|date|message-id|content-type|mime-version|reply-to):",
    re.IGNORECASE)


def _fix_broken_folding(raw: bytes) -> bytes | None:
    m = re.search(rb"\r?\n\r?\n", raw)
    if not m:
        return None
    head, body = raw[:m.start()], raw[m.start():]
    lines = head.split(b"\n")
    changed = False
    for i, line in enumerate(lines):
        if i == 0 or not line.strip() or line[:1] in (b" ", b"\t") or _HEADER_LINE.match(line):
            continue
        if not any(_KNOWN_HEADER_LINE.match(later) for later in lines[i + 1:]):
            return None  # the body really starts here, without a blank line
        lines[i] = b" " + line
        changed = True
    return b"\n".join(lines) + body if changed else None


def _build(msg: EmailMessage, repaired: list[str]) -> ParsedMessage:
    defects: list[str] = list(repaired)
    try:
        for part in msg.walk():
            for d in getattr(part, "defects", ()) or ():
                defects.append(f"{type(d).__name__}: {d}".rstrip(": "))
    except Exception:  # noqa: BLE001
        pass

    hint = _charset_hint(msg)
    # no From at all: Sender is the next best idea of who wrote it
    froms = _addresses(msg, ("from",), hint) or _addresses(msg, ("sender",), hint)
    from_name, from_addr = froms[0] if froms else ("", "")
    reply = _addresses(msg, ("reply-to",), hint)
    reply_to_name, reply_to = reply[0] if reply else ("", None)
    to_addrs = list(dict.fromkeys(a for _, a in _addresses(msg, ("to", "cc"), hint)
                                  if "@" in a))

    text = _body_text(msg)
    own = extract_own_words(text)
    return ParsedMessage(
        email=msg,
        message_id=_message_id(_header(msg, "message-id")),
        subject=_header(msg, "subject", hint),
        from_addr=from_addr,
        from_name=from_name,
        reply_to=reply_to,
        reply_to_name=reply_to_name,
        to_addrs=to_addrs,
        date=_date(_header(msg, "date"), defects),
        in_reply_to=_in_reply_to(_header(msg, "in-reply-to")),
        references=_references(_header(msg, "references")),
        text=text,
        own_words=own,
        language=detect_language(own or text),
        defects=list(dict.fromkeys(defects)),
    )

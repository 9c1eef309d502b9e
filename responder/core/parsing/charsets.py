"""Bytes in a declared charset -> str, never raising.

Real mail declares charsets Python does not know (``x-mac-cyrillic``,
``X-UNKNOWN``, ``unknown-8bit``), mislabels UTF-8 as latin-1, and carries 8-bit
bytes where none belong. ``decode_bytes`` maps such names to codecs and guesses
undeclared 8-bit text (``charset_normalizer`` when installed, else cp1252);
``decode_part`` undoes one MIME leaf's transfer encoding before decoding it.
"""
from __future__ import annotations

import codecs
import logging
import re
from email.message import Message

log = logging.getLogger(__name__)


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
        return _cp1252(data)
    if len(data) >= 8:
        try:
            best = charset_normalizer.from_bytes(data[:65536]).best()
            if best is not None and best.encoding:
                return data.decode(best.encoding, errors="replace")
        except Exception:  # noqa: BLE001 - a guesser must never break parsing
            log.debug("charset_normalizer failed", exc_info=True)
    return _cp1252(data)


def _latin1_fallback(err: UnicodeError) -> tuple[str, int]:
    if not isinstance(err, UnicodeDecodeError):
        raise err
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

"""Header fields: RFC 2047 decoding, addresses, Message-ID/References, the date,
and repairs of raw header blocks and line ends the stdlib parser cannot read.
"""
from __future__ import annotations

import binascii
import re
from datetime import UTC, datetime
from email.message import Message
from email.utils import getaddresses, parsedate_to_datetime

from responder.core.parsing.charsets import _clean, _codec_for, decode_bytes

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
        data: bytes
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
    for run_charset, run in runs:
        if run_charset is None:
            pieces.append(_clean(run, hint))  # type: ignore[arg-type]
        else:
            pieces.append(decode_bytes(run, run_charset))  # type: ignore[arg-type]
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
        dt = dt.replace(tzinfo=UTC)  # "-0000": time given in UTC, zone unknown
    return dt


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


_BARE_CR = re.compile(rb"\r(?!\n)")


def _fix_bare_cr(raw: bytes) -> bytes | None:
    """CRLF line ends for a message whose lines end in a bare CR (classic Mac OS mail),
    or None when the message does not look like that. A few stray CRs in a message with
    ordinary line ends are left alone."""
    bare = raw.count(b"\r") - raw.count(b"\r\n")
    if not bare or bare < raw.count(b"\n"):
        return None
    return _BARE_CR.sub(b"\r\n", raw)

"""Raw bytes -> ParsedMessage: headers, readable text, the customer's own words, language.

Never trusts the input. Real mail declares charsets Python does not know
(``x-mac-cyrillic``, ``X-UNKNOWN``, ``unknown-8bit``), carries 8-bit bytes in
headers, bad Content-Transfer-Encodings ("7-bit", "plain"), broken base64,
HTML-only bodies, and (old Mac mail) lines that end in a bare CR. Every such
case degrades to readable text with replacement characters, never to an
exception. The only exception raised is ``ParseError``, for input that is not
an e-mail at all (empty, binary, body without headers).

One concern per module, each usable alone:

* ``charsets``: ``decode_bytes(data, charset)`` and ``decode_part(part)``, the
  text of one MIME leaf, charset fallbacks included.
* ``html``: ``html_to_text(html)``, readable plain text from HTML.
* ``body``: the MIME walk that finds the readable text of a message.
* ``headers``: RFC 2047 decoding, addresses, Message-ID/References, the date,
  and repairs of raw header blocks and line ends.
* ``quotes``: ``extract_own_words(text)``, the newest reply without quotes,
  reply headers and signatures, and ``strip_quotes(text, ...)``, the lighter
  filter the scorers, screening and the rep's reply check use.
* ``language``: ``detect_language(text)``, ISO 639-1 code or None.

This module puts them together in ``parse()``.
"""
from __future__ import annotations

import logging
from email.message import EmailMessage

from responder.core.model import ParsedMessage
from responder.core.parsing import language as _language
from responder.core.parsing.body import _PARSER, _body_text
from responder.core.parsing.charsets import decode_bytes, decode_part
from responder.core.parsing.headers import (
    _addresses,
    _charset_hint,
    _date,
    _fix_bare_cr,
    _fix_broken_folding,
    _fix_obs_headers,
    _header,
    _in_reply_to,
    _message_id,
    _references,
)
from responder.core.parsing.html import html_to_text
from responder.core.parsing.language import _get_detector as _get_detector  # tests use it
from responder.core.parsing.language import detect_language, warm_up
from responder.core.parsing.quotes import extract_own_words, strip_quotes

log = logging.getLogger(__name__)

__all__ = ["ParseError", "parse", "decode_part", "decode_bytes", "html_to_text",
           "extract_own_words", "strip_quotes", "detect_language", "warm_up"]


def __getattr__(name: str) -> object:
    # ``detector_build_seconds`` is set in the language module when the detector is built
    if name == "detector_build_seconds":
        return _language.detector_build_seconds
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


class ParseError(Exception):
    """The bytes are not an e-mail message (the sender's problem: quarantine it)."""


#: At least one of these must be present for the bytes to count as an e-mail.
_MAIL_FIELDS = ("from", "sender", "reply-to", "to", "cc", "subject", "date", "message-id",
                "received", "return-path", "mime-version", "content-type", "in-reply-to",
                "references", "delivered-to", "x-mailer")


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
    repaired: list[str] = []
    fixed_ends = _fix_bare_cr(raw)
    if fixed_ends is not None:
        # old Mac mail: the stdlib splits lines on a bare CR, but quoted-printable soft
        # breaks, boundary recovery and the header repairs below expect LF
        raw = fixed_ends
        repaired.append("RepairedLineEnds: lines end in a bare CR (old Mac mail)")
    try:
        msg = _PARSER.parsebytes(raw)
    except Exception as exc:  # noqa: BLE001 - the stdlib parser is lenient; be safe
        raise ParseError(f"not an e-mail: the MIME parser failed ({type(exc).__name__}: {exc})"
                         ) from exc
    try:
        keys = [k.lower() for k in msg.keys()]
    except Exception:  # noqa: BLE001
        keys = []
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

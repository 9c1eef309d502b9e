"""The readable text of a message: the MIME walk that picks the body parts.

Attachments are left out, ``multipart/alternative`` prefers a plain part that
says something, HTML is converted, broken multiparts are re-parsed, and an
inline forwarded message (message/rfc822) is kept under a "Forwarded message"
line so that quote stripping can tell it from the writer's words.
"""
from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator, Sequence
from email import policy
from email.message import EmailMessage, Message
from email.parser import BytesParser
from typing import cast

from responder.core.parsing.charsets import _INVISIBLE, _clean, _payload_bytes, decode_part
from responder.core.parsing.html import html_to_text

_PARSER = BytesParser(policy=policy.default)


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
            children = list(cast(EmailMessage, part).iter_parts())
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


def _best_alternative(children: Sequence[Message], depth: int) -> str:
    """text/plain if it says something, else HTML converted; nested trees allowed."""
    plain: list[str] = []
    html: list[str] = []
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


def _walk_inline(part: Message, depth: int = 0) -> Iterator[Message]:
    """Leaf parts not inside anything disposed as an attachment (an attached .eml
    holds text parts of its own that are not marked as attachments)."""
    if depth > 30 or _is_attachment_root(part):
        return
    if part.is_multipart():
        try:
            children = list(cast(EmailMessage, part).iter_parts()) \
                if _ctype(part).startswith("multipart/") \
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

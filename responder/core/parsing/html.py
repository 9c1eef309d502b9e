"""HTML to readable plain text (BeautifulSoup with the stdlib parser).

``<style>``/``<script>``/``<head>`` are dropped, block tags become line breaks,
and ``<blockquote>`` becomes ``> `` lines so quote stripping sees it.
"""
from __future__ import annotations

import logging
import re
from typing import Any

log = logging.getLogger(__name__)


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
        from bs4 import BeautifulSoup
        from bs4.element import Comment, Doctype, NavigableString, Tag
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
            if state["pending_blank"] and out and out[-1].strip("> ") != "":
                out.append(prefix.rstrip())
            state["pending_blank"] = False
            out.append(prefix + text)
        if blank:
            state["pending_blank"] = True

    def walk(node: Any) -> None:
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
                alt = str(child.get("alt") or "").strip()
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

"""Draft a reply: Jinja template by language and intent, shop facts, threading.

Templates live in ``templates/replies/<language>/<intent>.txt.j2``. A seller may
override any of them from a folder named in config (``drafting.templates_dir``)
laid out the same way; files there win. Jinja runs sandboxed with
StrictUndefined, so a typo in a template is an error, never a silent blank.
"""
from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime, formataddr
from pathlib import Path
from typing import Any, Protocol

from jinja2 import (
    ChoiceLoader,
    FileSystemLoader,
    StrictUndefined,
    TemplateError,
    TemplateNotFound,
    TemplateSyntaxError,
)
from jinja2.sandbox import SandboxedEnvironment

from responder import resources
from responder.config import TRANSLATED_FACTS, ShopSection
from responder.core.model import Draft, HostilityVerdict, IntentVerdict, ParsedMessage

log = logging.getLogger(__name__)

def bundled_templates_dir() -> Path:
    """The templates folder shipped with responder (repo checkout or installed copy)."""
    return resources.templates_dir()


class TemplateRenderer:
    """Renders reply bodies; ``override_dir`` (same layout) takes precedence."""

    def __init__(self, override_dir: str | Path | None = None) -> None:
        loaders = []
        if override_dir:
            loaders.append(FileSystemLoader(str(override_dir)))
        loaders.append(FileSystemLoader(str(bundled_templates_dir())))
        self._loader = ChoiceLoader(loaders)
        self.env = SandboxedEnvironment(
            loader=self._loader,
            undefined=StrictUndefined,
            autoescape=False,          # plain text; the HTML part escapes separately
            keep_trailing_newline=True,
            trim_blocks=True,
            lstrip_blocks=True,
        )

    def has(self, language: str, intent: str) -> bool:
        """Is there a usable template? A broken one counts as none: see :meth:`problem`."""
        return self.problem(language, intent) is None

    def problem(self, language: str, intent: str) -> str | None:
        """None when the template loads; else "missing" or what is wrong with it."""
        name = self.name(language, intent)
        try:
            self.env.get_template(name)
        except TemplateNotFound:
            return "missing"
        except TemplateSyntaxError as exc:
            where = f"{exc.filename or exc.name or name}, line {exc.lineno}"
            log.error("reply template %s is broken: %s", where, exc.message)
            return f"the template {where} is broken ({exc.message})"
        return None

    @staticmethod
    def name(language: str, intent: str) -> str:
        return f"replies/{language}/{intent}.txt.j2"

    def languages(self) -> list[str]:
        found: set[str] = set()
        for loader in self._loader.loaders:
            for path in loader.list_templates():
                parts = path.split("/")
                if len(parts) == 3 and parts[0] == "replies":
                    found.add(parts[1])
        return sorted(found)

    def render(self, language: str, intent: str, context: dict[str, Any]) -> str:
        template = self.env.get_template(self.name(language, intent))
        text = template.render(**context)
        return tidy(text)

    def render_named(self, name: str, context: dict[str, Any]) -> str:
        return tidy(self.env.get_template(name).render(**context))


def tidy(text: str) -> str:
    """Trim trailing spaces and collapse runs of blank lines left by template logic."""
    lines = [line.rstrip() for line in text.strip().splitlines()]
    out: list[str] = []
    for line in lines:
        if line == "" and out and out[-1] == "":
            continue
        out.append(line)
    return "\n".join(out) + "\n"


# ---- building the reply ----------------------------------------------------------------

_REPLY_PREFIX = re.compile(
    r"^\s*((re|aw|sv|vs|odp|antw|ynt|réf|ref|fw|fwd|wg|tr|rv|отв|ответ|на)\s*(\[\d+\])?\s*:\s*)+",
    re.IGNORECASE)
_ORDER_NUMBER = re.compile(
    r"(?:#\s?(\d{3,12})\b"
    r"|\b(?:order|commande|bestellung|auftrag|pedido|orden|заказ\w*|objednávk\w*|objednavk\w*|"
    r"tellimus\w*|ordine|encomenda)\b[^0-9\n]{0,20}(\d{3,12})\b)",
    re.IGNORECASE)
_QUOTE_MAX_LINES = 40


def without_reply_prefixes(subject: str | None) -> str:
    """The subject without its reply/forward prefixes ("Re:", "AW: Fwd:" ...)."""
    return _REPLY_PREFIX.sub("", subject or "").strip()


def reply_subject(subject: str) -> str:
    """Exactly one "Re: " in front of the original subject, whatever prefixes it had."""
    core = without_reply_prefixes(subject)
    return f"Re: {core}" if core else "Re: your message"


def find_order_number(*texts: str) -> str | None:
    for text in texts:
        if not text:
            continue
        m = _ORDER_NUMBER.search(text)
        if m:
            return m.group(1) or m.group(2)
    return None


@dataclass
class ShopFacts:
    """What templates may say about the shop (from the [shop] section of config)."""

    name: str
    signature: str
    website: str
    support_email: str
    return_window_days: int
    refund_method: str
    refund_days: int
    replacement_for_damaged: bool
    shipping_days_domestic: str
    shipping_days_international: str
    support_hours: str
    password_reset_url: str
    downloads_url: str
    orders_url: str
    return_policy: str = ""        # the shop's own words about returns ("" = none)

    @classmethod
    def from_config(cls, shop: ShopSection, language: str | None = None) -> ShopFacts:
        """The facts for a reply in ``language``: its [shop.texts.LANG] values where
        given, else the [shop] defaults (None: the defaults throughout)."""
        def text(fact: str) -> str:
            return shop.text(fact, language)[0]
        return cls(name=text("name"), signature=text("signature"), website=text("website"),
                   support_email=shop.support_email,
                   return_window_days=shop.return_window_days,
                   refund_method=shop.refund_method, refund_days=shop.refund_days,
                   replacement_for_damaged=shop.replacement_for_damaged,
                   shipping_days_domestic=text("shipping_days_domestic"),
                   shipping_days_international=text("shipping_days_international"),
                   support_hours=text("support_hours"), return_policy=text("return_policy"),
                   password_reset_url=text("password_reset_url"),
                   downloads_url=text("downloads_url"), orders_url=text("orders_url"))


def missing_shop_texts(shop: ShopSection, language: str, default_language: str) -> list[str]:
    """The wording facts (``config.TRANSLATED_FACTS``) a reply in ``language`` takes from
    the [shop] defaults because [shop.texts.LANG] does not give them (an empty default,
    such as no return_policy, is not missing). None are missing in
    ``default_language``: the [shop] values are written in it."""
    if language == default_language:
        return []
    return [fact for fact in TRANSLATED_FACTS
            if getattr(shop, fact) and not shop.text(fact, language)[1]]


def shop_texts_note(missing: list[str], language: str) -> str:
    return (f"Shop facts not given in '{language}' ({', '.join(missing)}): the draft uses "
            f"the default wording from [shop]. Check it, or add them under "
            f"[shop.texts.{language}] in the config.")


UPSET_SCORE = 0.3   # below the hold line: an upset but civil message


def is_upset(hostility: HostilityVerdict | None, hold_threshold: float = 1.0) -> bool:
    """Complaining or hostile mail gets a reply that acknowledges the frustration first."""
    if hostility is None:
        return False
    return (hostility.score >= min(UPSET_SCORE, hold_threshold)
            or "reputation_threat" in hostility.labels)


def build_draft(parsed: ParsedMessage, *, intent: IntentVerdict | None,
                hostility: HostilityVerdict | None, shop: ShopSection,
                renderer: TemplateRenderer,
                default_language: str = "en", quote_original: bool = True,
                html: bool = False, hold_threshold: float = 1.0) -> Draft:
    """The reply to ``parsed``: body from the template, headers for correct threading."""
    notes: list[str] = []
    intent_name = intent.intent if intent else "other"
    if intent and intent.low_confidence:
        notes.append(f"Intent unsure (best guess {intent.confidence:.0%}): answered as 'other'; "
                     "check what the customer asks.")
    language = parsed.language or default_language
    fallback = False
    problem = renderer.problem(language, intent_name)
    if problem is not None:
        if problem != "missing":
            notes.append(f"Reply template for '{language}' not used: {problem}. The draft is "
                         f"in '{default_language}'; run 'responder templates check'.")
        elif parsed.language:
            notes.append(f"No reply templates in language '{parsed.language}': "
                         f"the draft is in '{default_language}'. Consider translating it.")
        else:
            notes.append(f"Language not recognised: the draft is in '{default_language}'.")
        language = default_language
        fallback = True
    order_number = find_order_number(parsed.subject, parsed.own_words)
    missing = missing_shop_texts(shop, language, default_language)
    if missing:
        notes.append(shop_texts_note(missing, language))
    tracking_url = shop.text("tracking_url", language)[0]
    tracking_link = (tracking_url.format(order_number=order_number)
                     if order_number and tracking_url else None)
    upset = is_upset(hostility, hold_threshold)
    context = {
        "customer_name": _first_name(parsed.customer_name),
        "upset": upset,
        "order_number": order_number,
        "tracking_link": tracking_link,
        "original_subject": parsed.subject,
        "shop": ShopFacts.from_config(shop, language),
    }
    body = renderer.render(language, intent_name, context)
    if quote_original and parsed.text.strip():
        body = body.rstrip("\n") + "\n\n" + _quote(parsed, language, renderer)
    references = list(parsed.references)
    if parsed.message_id and parsed.message_id not in references:
        references.append(parsed.message_id)
    own = {a.lower() for a in shop.addresses}
    from_addr = next((a for a in parsed.to_addrs if a in own), shop.addresses[0])
    return Draft(to_addr=parsed.customer_addr, to_name=parsed.customer_name,
                 from_addr=from_addr, subject=reply_subject(parsed.subject), body=body,
                 html_body=text_to_html(body) if html else None,
                 in_reply_to=parsed.message_id, references=references,
                 template=f"{language}/{intent_name}" + (".upset" if upset else ""),
                 language=language, fallback_language=fallback, notes=notes)


def text_to_html(body: str) -> str:
    """A simple HTML alternative of the plain reply; everything is escaped."""
    from html import escape
    blocks: list[tuple[str, list[str]]] = []      # ("p" | "quote", lines)
    for line in body.splitlines():
        kind = "quote" if line.startswith(">") else "p"
        text = line[1:].lstrip() if kind == "quote" else line
        if kind == "p" and not line.strip():
            blocks.append(("p", []))
            continue
        if not blocks or blocks[-1][0] != kind:
            blocks.append((kind, []))
        blocks[-1][1].append(escape(text))
    html = ""
    for kind, lines in blocks:
        if not lines:
            continue
        inner = "<br>".join(lines)
        html += f"<blockquote>{inner}</blockquote>" if kind == "quote" else f"<p>{inner}</p>"
    return ("<!DOCTYPE html><html><body style=\"font-family:sans-serif;font-size:16px\">"
            + html + "</body></html>")


def _first_name(name: str) -> str:
    name = (name or "").strip().strip('"')
    if not name or "@" in name:
        return ""
    if "," in name:                       # "Doe, Jane"
        name = name.split(",", 1)[1].strip()
    return name.split()[0] if name.split() else ""


_MONTHS_EN = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov",
              "Dec")


def _quote_date(date: datetime | None, language: str) -> str:
    """The original's date as the sender wrote it (their offset), readable in any language:
    "23 Nov 2026, 09:15" in English, "23.11.2026 09:15" elsewhere."""
    if date is None:
        return ""
    if language == "en":
        return f"{date.day} {_MONTHS_EN[date.month - 1]} {date.year}, {date:%H:%M}"
    return f"{date:%d.%m.%Y %H:%M}"


def _quote(parsed: ParsedMessage, language: str, renderer: TemplateRenderer) -> str:
    when = _quote_date(parsed.date, language)
    who = parsed.customer_name or parsed.customer_addr
    try:
        header = renderer.render_named(f"replies/{language}/_quote_header.txt.j2",
                                       {"date": when, "name": who}).strip()
    except TemplateError as exc:   # a missing or broken quote header must not stop a reply
        if not isinstance(exc, TemplateNotFound):
            log.error("quote header template for %r is broken: %s", language, exc)
        header = f"{who} wrote:"
    lines = parsed.text.strip().splitlines()[:_QUOTE_MAX_LINES]
    return header + "\n" + "\n".join("> " + line if line else ">" for line in lines) + "\n"


class ReplyDraft(Protocol):
    """What :func:`reply_email` reads of a draft: a :class:`~responder.core.model.Draft`
    or the store's row of one."""

    @property
    def from_addr(self) -> str: ...
    @property
    def to_addr(self) -> str: ...
    @property
    def to_name(self) -> str: ...
    @property
    def subject(self) -> str: ...
    @property
    def body(self) -> str: ...
    @property
    def html_body(self) -> str | None: ...
    @property
    def in_reply_to(self) -> str | None: ...
    @property
    def references(self) -> Sequence[str]: ...
    @property
    def language(self) -> str: ...


def reply_email(draft: ReplyDraft, *, loop_header_value: str, date: datetime,
                message_id: str | None = None) -> EmailMessage:
    """The e-mail for a draft: threaded (``In-Reply-To``, ``References``), from the
    shop address written to, with our loop header. A reply a rep approved is human
    mail, so it carries no ``Auto-Submitted`` header (RFC 3834 section 5)."""
    msg = EmailMessage()
    msg["From"] = draft.from_addr
    msg["To"] = formataddr((draft.to_name, draft.to_addr)) if draft.to_name else draft.to_addr
    msg["Subject"] = draft.subject
    msg["Date"] = format_datetime(date)
    if message_id:
        msg["Message-ID"] = message_id
    if draft.in_reply_to:
        msg["In-Reply-To"] = draft.in_reply_to
    if draft.references:
        msg["References"] = " ".join(draft.references)
    msg["X-Loop"] = loop_header_value
    if draft.language:
        msg["Content-Language"] = draft.language
    msg.set_content(draft.body)
    if getattr(draft, "html_body", None):
        msg.add_alternative(draft.html_body, subtype="html")
    return msg

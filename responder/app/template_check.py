"""``responder templates check``: render every reply template with sample data."""
from __future__ import annotations

from typing import Any

from jinja2 import TemplateError, TemplateSyntaxError

from responder.config import Config, ShopSection
from responder.core.drafting import ShopFacts, TemplateRenderer, missing_shop_texts
from responder.core.model import INTENTS


def sample_contexts(shop: ShopSection, language: str | None = None) -> list[dict[str, Any]]:
    facts = ShopFacts.from_config(shop, language)
    facts_url = shop.text("tracking_url", language)[0]
    out: list[dict[str, Any]] = []
    for upset in (False, True):
        for order in (None, "10234"):
            for name in ("", "Ana"):
                out.append({"customer_name": name, "upset": upset, "order_number": order,
                            "tracking_link": (facts_url.format(order_number=order)
                                              if order else None),
                            "original_subject": "Question about my order", "shop": facts})
    return out


def check_all(cfg: Config) -> tuple[list[str], int]:
    renderer = TemplateRenderer(cfg.drafting.templates_dir or None)
    problems: list[str] = []
    rendered = 0
    languages = renderer.languages()
    if not languages:
        return ["no reply templates found"], 0
    for language in languages:
        for intent in INTENTS:
            name = renderer.name(language, intent)
            for ctx in sample_contexts(cfg.shop, language):
                try:
                    text = renderer.render(language, intent, ctx)
                except TemplateSyntaxError as exc:
                    problems.append(f"{exc.filename or name}:{exc.lineno}: syntax error: "
                                    f"{exc.message}")
                    break
                except TemplateError as exc:
                    problems.append(f"{_where(exc, name)}: {type(exc).__name__}: {exc}")
                    break
                rendered += 1
                if "{{" in text or "{%" in text:
                    problems.append(f"{name}: unrendered template markup in the output")
                    break
    return problems, rendered


def shop_text_warnings(cfg: Config) -> list[str]:
    """Shop facts missing per reply language, and [shop.texts] for languages that have
    no reply templates (a typo such as [shop.texts.ry]). Warnings: a reply still goes
    out, with the default wording and a note to the rep."""
    languages = TemplateRenderer(cfg.drafting.templates_dir or None).languages()
    out: list[str] = []
    default = cfg.drafting.default_language
    for language in languages:
        missing = missing_shop_texts(cfg.shop, language, default)
        if missing:
            out.append(f"[shop.texts.{language}]: missing {', '.join(missing)} (replies in "
                       f"'{language}' use the default wording from [shop])")
    for language in sorted(set(cfg.shop.texts) - set(languages)):
        out.append(f"[shop.texts.{language}]: no reply templates in '{language}', so these "
                   "texts are never used")
    return out


def _where(exc: Exception, name: str) -> str:
    """file:line of the template frame in the traceback, if any."""
    tb = exc.__traceback__
    where = name
    while tb is not None:
        filename = tb.tb_frame.f_code.co_filename
        if filename.endswith(".j2"):
            where = f"{filename}:{tb.tb_lineno}"
        tb = tb.tb_next
    return where

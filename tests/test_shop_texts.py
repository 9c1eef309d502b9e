"""Shop facts in every reply language (issue 12, item 6): [shop.texts.LANG] values go
into replies in that language; a language without its own value uses the [shop]
default and the draft's notes say so; `responder templates check` lists what is
missing per language."""
from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from email import message_from_bytes, policy

import pytest
from click.testing import CliRunner
from conftest import sample

from responder import config as config_mod
from responder.cli.main import main
from responder.core import pipeline
from responder.core.drafting import TemplateRenderer, build_draft
from responder.core.model import IntentVerdict, ParsedMessage

TEXTS = {"signature": "The Example Shop team",
         "support_hours": "Monday to Friday, 9:00-17:00",
         "texts": {"ru": {"signature": "Команда магазина Пример",
                          "support_hours": "с понедельника по пятницу, 9:00-17:00",
                          "orders_url": "https://example-shop.test/ru/orders"},
                   "de": {"signature": "Ihr Beispiel-Team"}}}


def shop(**over):
    return config_mod.from_dict({"shop": TEXTS | over}).shop


def parsed(language: str, subject: str = "Question") -> ParsedMessage:
    return ParsedMessage(
        email=message_from_bytes(b"Subject: x\r\n\r\n", policy=policy.default),
        message_id="<m1@customer.test>", subject=subject, from_addr="ana@customer.test",
        from_name="Ana", reply_to=None, reply_to_name="", to_addrs=["support@example-shop.test"],
        date=datetime(2026, 11, 20, 10, 0, tzinfo=UTC), in_reply_to=None, references=[],
        text="text\n", own_words="text", language=language)


def draft(language: str, s=None, intent: str = "refund_request"):
    return build_draft(parsed(language), intent=IntentVerdict(intent, 0.9), hostility=None,
                       shop=s or shop(), renderer=TemplateRenderer(), quote_original=False)


def test_a_language_with_its_own_values_uses_them_without_a_note():
    d = draft("ru")
    assert "Команда магазина Пример" in d.body
    assert "с понедельника по пятницу" in d.body
    assert "The Example Shop team" not in d.body and "Monday to Friday" not in d.body
    assert "https://example-shop.test/ru/orders" in d.body        # any text fact may differ
    assert not [n for n in d.notes if "Shop facts" in n]


def test_a_missing_value_falls_back_to_the_default_and_the_notes_say_so():
    d = draft("de")
    assert "Ihr Beispiel-Team" in d.body                      # given for de
    assert "Monday to Friday, 9:00-17:00" in d.body           # not given: the default
    (note,) = [n for n in d.notes if "Shop facts" in n]
    assert "'de'" in note and "support_hours" in note and "signature" not in note
    assert "[shop.texts.de]" in note
    fr = draft("fr")
    (note,) = [n for n in fr.notes if "Shop facts" in n]
    assert "signature, support_hours" in note and "The Example Shop team" in fr.body


def test_the_default_language_needs_no_texts():
    d = draft("en")
    assert "The Example Shop team" in d.body
    assert not [n for n in d.notes if "Shop facts" in n]


def test_a_fallback_language_draft_is_judged_in_the_language_it_is_written_in():
    d = draft("pt")            # no Portuguese templates: the draft is in English
    assert d.language == "en" and d.fallback_language
    assert not [n for n in d.notes if "Shop facts" in n]


def test_the_live_pipeline_stores_the_note(services, tmp_path):
    cfg = config_mod.from_dict({"shop": {"texts": {"ru": {"signature": "Команда"}}}})
    svc = dataclasses.replace(services, cfg=cfg)
    (decision,) = pipeline.decide([sample("04-where-ru.eml")], svc,
                                  datetime(2026, 11, 23, 9, 0, tzinfo=UTC))
    assert decision.draft is not None and decision.draft.language == "ru"
    assert "Команда" in decision.draft.body
    assert any("support_hours" in n and "'ru'" in n for n in decision.draft.notes)


@pytest.mark.parametrize("data,message", [
    ({"texts": {"ru": {"signatur": "x"}}}, "shop.texts.ru.signatur: unknown key; did you mean "
                                           "signature?"),
    ({"texts": {"russian": {"signature": "x"}}}, "two-letter ISO 639-1 code"),
    ({"texts": {"ru": {"tracking_url": "https://x.test/"}}}, "must contain {order_number}"),
    ({"owner_address": "not an address"}, "is not an e-mail address"),
])
def test_config_errors_name_the_key(data, message):
    with pytest.raises(config_mod.ConfigError) as err:
        config_mod.from_dict({"shop": data}, "c.toml")
    assert message in str(err.value)


def test_templates_check_reports_facts_missing_per_language(tmp_path):
    path = tmp_path / "config.toml"
    path.write_text('[shop.texts.ru]\nsignature = "Команда"\nsupport_hours = "пн-пт"\n'
                    '[shop.texts.de]\nsignature = "Team"\n'
                    '[shop.texts.pt]\nsignature = "Equipe"\n', encoding="utf-8")
    out = CliRunner().invoke(main, ["--config", str(path), "templates", "check"])
    assert out.exit_code == 0, out.output
    lines = out.output.splitlines()
    assert "warning: [shop.texts.de]: missing support_hours" in out.output
    assert "warning: [shop.texts.fr]: missing signature, support_hours" in out.output
    assert not any("[shop.texts.ru]" in line for line in lines)
    assert not any("[shop.texts.en]" in line for line in lines)
    assert "[shop.texts.pt]: no reply templates in 'pt'" in out.output
    assert " 0 problem(s)" in out.output
    strict = CliRunner().invoke(main, ["--config", str(path), "templates", "check", "--strict"])
    assert strict.exit_code == 1


def test_return_policy_wording_per_language():
    s = shop(return_policy="Unused items can be returned in their original box.",
             texts={"ru": {"return_policy": "Неиспользованный товар можно вернуть в коробке."}})
    ru = draft("ru", s)
    assert "Неиспользованный товар можно вернуть" in ru.body
    assert "Unused items" not in ru.body
    de = draft("de", s, intent="damaged_or_wrong_item")
    assert "Unused items can be returned" in de.body
    (note,) = [n for n in de.notes if "Shop facts" in n]
    assert "return_policy" in note
    assert "Unused items" not in draft("en", shop(), intent="refund_request").body
    assert "returned" not in draft("en", shop(), intent="where_is_my_order").body

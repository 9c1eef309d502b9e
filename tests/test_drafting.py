from datetime import UTC, datetime
from email import message_from_bytes, policy

import pytest

from responder import config as config_mod
from responder.core.drafting import TemplateRenderer, build_draft, find_order_number, reply_subject
from responder.core.model import HostilityVerdict, IntentVerdict, ParsedMessage


@pytest.mark.parametrize("given,expected", [
    ("Refund", "Re: Refund"),
    ("Re: Refund", "Re: Refund"),
    ("RE: re: Refund", "Re: Refund"),
    ("AW: Bestellung", "Re: Bestellung"),
    ("Re[2]: x", "Re: x"),
    ("", "Re: your message"),
    ("Ответ: Где заказ?", "Re: Где заказ?"),
])
def test_reply_subject_has_exactly_one_re(given, expected):
    assert reply_subject(given) == expected


@pytest.mark.parametrize("text,number", [
    ("order #10234 is late", "10234"),
    ("Bestellung Nr. 55821 kam nicht", "55821"),
    ("заказ 77120", "77120"),
    ("moje objednávka č. 4411", "4411"),
    ("tellimus 9001 on katki", "9001"),
    ("I called 3 times", None),
])
def test_order_number(text, number):
    assert find_order_number(text) == number


def _parsed(**over):
    base = dict(email=message_from_bytes(b"Subject: x\r\n\r\n", policy=policy.default),
                message_id="<m1@customer.test>", subject="Where is my order #10234",
                from_addr="noreply@shopform.test", from_name="Shop form",
                reply_to="ana@customer.test", reply_to_name="Ana Silva",
                to_addrs=["sales@example-shop.test"],
                date=datetime(2026, 11, 20, 10, 0, tzinfo=UTC),
                in_reply_to=None, references=["<older@customer.test>"],
                text="Where is my parcel?\n", own_words="Where is my parcel?", language="en")
    base.update(over)
    return ParsedMessage(**base)


SHOP = config_mod.from_dict({"shop": {"addresses": ["support@example-shop.test",
                                                   "sales@example-shop.test"]}}).shop


def test_draft_threading_and_addressing():
    draft = build_draft(_parsed(), intent=IntentVerdict("where_is_my_order", 0.9),
                        hostility=HostilityVerdict(0.1), shop=SHOP,
                        renderer=TemplateRenderer())
    assert draft.to_addr == "ana@customer.test", "contact forms: answer the Reply-To person"
    assert draft.from_addr == "sales@example-shop.test", "answer from the address written to"
    assert draft.subject == "Re: Where is my order #10234"
    assert draft.in_reply_to == "<m1@customer.test>"
    assert draft.references == ["<older@customer.test>", "<m1@customer.test>"]
    assert "https://example-shop.test/track/10234" in draft.body
    assert "Ana" in draft.body.splitlines()[0]
    assert "> Where is my parcel?" in draft.body
    assert draft.template == "en/where_is_my_order" and not draft.fallback_language


def test_language_without_templates_falls_back_to_english_and_says_so():
    draft = build_draft(_parsed(language="pt"), intent=IntentVerdict("where_is_my_order", 0.9),
                        hostility=None, shop=SHOP, renderer=TemplateRenderer())
    assert draft.language == "en" and draft.fallback_language
    assert any("'pt'" in note for note in draft.notes)


def test_upset_customer_gets_the_acknowledging_variant():
    calm = build_draft(_parsed(), intent=IntentVerdict("where_is_my_order", 0.9),
                       hostility=HostilityVerdict(0.05), shop=SHOP,
                       renderer=TemplateRenderer())
    upset = build_draft(_parsed(), intent=IntentVerdict("where_is_my_order", 0.9),
                        hostility=HostilityVerdict(0.9, ["insult"]), shop=SHOP,
                        renderer=TemplateRenderer())
    assert upset.template.endswith(".upset") and upset.body != calm.body


def test_low_confidence_intent_is_told_to_the_rep():
    draft = build_draft(_parsed(), intent=IntentVerdict("other", 0.2, low_confidence=True),
                        hostility=None, shop=SHOP, renderer=TemplateRenderer())
    assert draft.template == "en/other" and any("unsure" in n for n in draft.notes)


def test_seller_override_folder_wins(tmp_path):
    folder = tmp_path / "replies" / "en"
    folder.mkdir(parents=True)
    (folder / "where_is_my_order.txt.j2").write_text("Custom reply for {{ shop.name }}.\n")
    draft = build_draft(_parsed(), intent=IntentVerdict("where_is_my_order", 0.9),
                        hostility=None, shop=SHOP, renderer=TemplateRenderer(tmp_path))
    assert draft.body.startswith("Custom reply for Example Shop.")


def test_templates_are_sandboxed_and_strict(tmp_path):
    folder = tmp_path / "replies" / "en"
    folder.mkdir(parents=True)
    (folder / "other.txt.j2").write_text("{{ shop.nmae }}\n")
    (folder / "cancel_order.txt.j2").write_text("{{ shop.__class__.__mro__ }}\n")
    renderer = TemplateRenderer(tmp_path)
    from jinja2 import UndefinedError
    from jinja2.exceptions import SecurityError
    with pytest.raises(UndefinedError):
        build_draft(_parsed(), intent=IntentVerdict("other", 0.9), hostility=None, shop=SHOP,
                    renderer=renderer)
    with pytest.raises((SecurityError, UndefinedError)):
        build_draft(_parsed(), intent=IntentVerdict("cancel_order", 0.9), hostility=None,
                    shop=SHOP, renderer=renderer)


def test_html_alternative_escapes_what_the_customer_wrote():
    parsed = _parsed(text="<script>alert(1)</script> where is it?\n",
                     own_words="<script>alert(1)</script> where is it?")
    draft = build_draft(parsed, intent=IntentVerdict("where_is_my_order", 0.9), hostility=None,
                        shop=SHOP, renderer=TemplateRenderer(), html=True)
    assert "<script>" not in draft.html_body
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in draft.html_body
    assert "<blockquote>" in draft.html_body


def test_a_broken_template_is_named_in_the_notes_not_silently_replaced(tmp_path):
    folder = tmp_path / "replies" / "fr"
    folder.mkdir(parents=True)
    (folder / "where_is_my_order.txt.j2").write_text("Bonjour {% if %}\n")
    draft = build_draft(_parsed(language="fr"), intent=IntentVerdict("where_is_my_order", 0.9),
                        hostility=None, shop=SHOP, renderer=TemplateRenderer(tmp_path))
    assert draft.language == "en" and draft.fallback_language
    note = " ".join(draft.notes)
    assert "where_is_my_order.txt.j2, line 1" in note and "broken" in note
    assert "templates check" in note
    # a template that is simply missing keeps the plain fallback note
    plain = build_draft(_parsed(language="xx"), intent=IntentVerdict("where_is_my_order", 0.9),
                        hostility=None, shop=SHOP, renderer=TemplateRenderer())
    assert "broken" not in " ".join(plain.notes) and plain.fallback_language

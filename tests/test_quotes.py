"""The one quote stripper (responder.core.parsing.quotes) and the callers that use it.

``extract_own_words`` is tested at length in test_parsing.py; these tests cover the
lighter ``strip_quotes`` filter, its parameters, and that the scorers, screening, the
intent fallback and the rep's tone check all go through it.
"""
from __future__ import annotations

import pytest

from responder.app import actions
from responder.core.intent import text as intent_text
from responder.core.parsing import quotes
from responder.core.parsing.quotes import strip_quotes
from responder.core.scoring import text as scoring_text

QUOTED = ("Thanks, that helps.\n\nOn Mon, 23 Nov 2026 at 09:00, Shop <info@shop.test> wrote:\n"
          "> Your order has shipped.\n> Kind regards\n\nOne more thing: the box was open.")


def test_quoted_lines_and_their_header_go_inline_answers_stay():
    assert strip_quotes(QUOTED) == "Thanks, that helps.\n\n\nOne more thing: the box was open."


def test_stop_at_quote_keeps_only_the_text_above_the_quote():
    assert strip_quotes(QUOTED, stop_at_quote=True) == "Thanks, that helps.\n"


@pytest.mark.parametrize("separator", [
    "-----Original Message-----", "---------- Forwarded message ---------",
    "-------- Weitergeleitete Nachricht --------", "Begin forwarded message:",
    "-----Message d'origine-----", "---------- Пересылаемое сообщение ----------",
    "----- Algne sõnum -----", "---------- Forwarded message from Carrier ----------",
])
def test_text_ends_at_a_forwarded_or_original_message(separator):
    text = f"See below.\n\n{separator}\nFrom: Carrier\n\nPlease do not reply."
    assert strip_quotes(text).rstrip() == "See below."


def test_outlook_rule_ends_the_text_only_with_a_header_below():
    outlook = "See below.\n________________________________\nFrom: Carrier <c@x.test>\nhi"
    assert strip_quotes(outlook).rstrip() == "See below."
    plain_rule = "Offers\n________________________________\n\nDo not reply to this email"
    assert strip_quotes(plain_rule) == plain_rule


def test_wrapped_reply_header_goes_with_the_quote():
    text = "Fine.\nOn Mon, 2 Apr 2012 at 18:20, John Smith <john@x.test>\nwrote:\n> old\n"
    assert strip_quotes(text) == "Fine.\n"


def test_signature_parameter():
    text = "Where is my parcel?\n-- \nJohn\n+1 555 0100"
    assert strip_quotes(text, signature=True) == "Where is my parcel?"
    assert strip_quotes(text) == text


def test_a_sentence_with_wrote_is_not_a_reply_header():
    text = "I wrote to you on Monday:\n\nno answer yet."
    assert strip_quotes(text) == text


@pytest.mark.parametrize("text", [QUOTED, "> only a quote", "", "a\r\nb\rc",
                                  "Hi\n-----Original Message-----\nx"])
def test_callers_use_the_one_stripper(text):
    assert scoring_text.strip_quotes(text) == strip_quotes(text)
    assert actions._reply_part(text) == strip_quotes(text, stop_at_quote=True)
    assert intent_text._fallback_own_words(text) == strip_quotes(text, signature=True).strip()


def test_the_reps_reply_is_scored_without_the_quote_header():
    draft = ("Dear Jane,\n\nyour parcel left today.\n\nBest regards,\nSam\n\n"
             "Jane Miller wrote:\n> Where is my parcel, you idiots?\n")
    seen = []

    class Scorer:
        def score(self, texts, languages):
            seen.extend(texts)
            return ["verdict"]

    assert actions.check_tone(Scorer(), draft, "en") == "verdict"
    assert seen == ["Dear Jane,\n\nyour parcel left today.\n\nBest regards,\nSam\n"]


def test_the_module_keeps_one_set_of_recognisers():
    # extract_own_words and strip_quotes share the reply-header test
    header = "Am 23.11.2026 um 09:00 schrieb Shop <info@shop.test>:"
    assert quotes._is_reply_header(header)
    assert strip_quotes(f"Danke.\n{header}\n> alt") == "Danke."
    assert quotes.extract_own_words(f"Danke.\n{header}\n> alt") == "Danke."

"""Reputation threats in a customer's own words (core/threats.py): a table of cases in
every reply language, threats and the look-alikes that are not threats."""
from __future__ import annotations

import pytest

from responder.core.languages import LANGUAGES
from responder.core.model import THREAT_KINDS
from responder.core.threats import CUES, KIND_TITLES, find_threats, kinds

# (language, text, the kinds expected)
CASES = [
    # English
    ("en", "I will leave a bad review on Trustpilot.", {"bad_review"}),
    ("en", "Fix this or I'll post one star reviews everywhere!", {"bad_review"}),
    ("en", "I'm going to file a chargeback with my credit card company.", {"chargeback"}),
    ("en", "I have contacted my lawyer.", {"lawyer"}),
    ("en", "If you don't refund me I will sue you.", {"lawyer"}),
    ("en", "I won't hesitate to take legal action.", {"lawyer"}),
    ("en", "I am reporting you to trading standards.", {"authority"}),
    ("en", "I'll post this all over Facebook and tell everyone.", {"social_media"}),
    ("en", "I left a good review last week, thanks!", set()),
    ("en", "No need for a lawyer, just send the right size.", set()),
    ("en", "I don't want to involve lawyers or my bank.", set()),
    ("en", "I will tell all my friends how wonderful your shop is.", set()),
    ("en", "Hi, this is Sue. Where is my order?", set()),
    ("en", "I found your shop on Instagram and love it.", set()),
    ("en", "I gave you five stars on Trustpilot.", set()),
    # French
    ("fr", "Je vais laisser un avis négatif sur Trustpilot.", {"bad_review"}),
    ("fr", "Je vais faire opposition auprès de ma banque.", {"chargeback"}),
    ("fr", "Mon avocat vous contactera.", {"lawyer"}),
    ("fr", "Je vais porter plainte et prévenir la DGCCRF.", {"authority"}),
    ("fr", "Je vais le publier sur Facebook.", {"social_media"}),
    ("fr", "Pas besoin d'avocat, renvoyez juste le colis.", set()),
    ("fr", "J'ai laissé un bon avis.", set()),
    # German
    ("de", "Ich werde eine schlechte Bewertung schreiben.", {"bad_review"}),
    ("de", "Ich habe eine Rückbuchung bei meiner Bank veranlasst.", {"chargeback"}),
    ("de", "Ich habe eine Rueckbuchung veranlasst.", {"chargeback"}),
    ("de", "Mein Anwalt wird sich melden.", {"lawyer"}),
    ("de", "Ich gehe zur Verbraucherzentrale.", {"authority"}),
    ("de", "Das poste ich auf Facebook.", {"social_media"}),
    ("de", "Einen Anwalt brauche ich nicht, schicken Sie einfach Ersatz.", set()),
    ("de", "Ich habe Ihnen eine gute Bewertung gegeben.", set()),
    ("de", "Ich will keinen Anwalt einschalten.", set()),
    # Spanish
    ("es", "Voy a dejar una mala reseña.", {"bad_review"}),
    ("es", "Llamaré a mi banco para hacer un contracargo.", {"chargeback"}),
    ("es", "Hablaré con mi abogado.", {"lawyer"}),
    ("es", "Pondré una denuncia en la OCU.", {"authority"}),
    ("es", "Lo voy a publicar en redes sociales.", {"social_media"}),
    ("es", "No quiero denunciar a nadie, solo quiero mi pedido.", set()),
    ("es", "Les dejé una buena reseña.", set()),
    # Russian
    ("ru", "Я напишу плохой отзыв.", {"bad_review"}),
    ("ru", "Я оспорю платеж через банк.", {"chargeback"}),
    ("ru", "Я обращусь в суд.", {"lawyer"}),
    ("ru", "Пожалуюсь в Роспотребнадзор.", {"authority"}),
    ("ru", "Расскажу всем в соцсетях.", {"social_media"}),
    ("ru", "В суд подавать не буду, просто верните деньги.", set()),
    ("ru", "Я оставил хороший отзыв.", set()),
    # Czech
    ("cs", "Napíšu špatnou recenzi na Heureku.", {"bad_review"}),
    ("cs", "Kontaktuji banku a platbu rozporuji.", {"chargeback"}),
    ("cs", "Podám žalobu.", {"lawyer"}),
    ("cs", "Obrátím se na ČOI.", {"authority"}),
    ("cs", "Napíšu to na Facebook.", {"social_media"}),
    ("cs", "Nechci podávat žalobu, jen chci své peníze.", set()),
    ("cs", "Dal jsem vám dobrou recenzi.", set()),
    # Estonian
    ("et", "Kirjutan halva arvustuse.", {"bad_review"}),
    ("et", "Vaidlustan makse pangas.", {"chargeback"}),
    ("et", "Pöördun kohtusse.", {"lawyer"}),
    ("et", "Kaeban tarbijakaitsesse.", {"authority"}),
    ("et", "Postitan selle Facebooki.", {"social_media"}),
    ("et", "Kohtusse ma ei lähe, saatke lihtsalt raha tagasi.", set()),
    ("et", "Jätsin teile hea arvustuse.", set()),
]


@pytest.mark.parametrize(("language", "text", "expected"), CASES,
                         ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)])
def test_threat_table(language, text, expected):
    found = find_threats(text, language)
    assert {t.kind for t in found} == expected, [(t.kind, t.cue) for t in found]
    for t in found:
        assert t.evidence == text.strip()          # the customer's sentence is the evidence


def test_every_language_has_cues_for_every_kind_and_cases_both_ways():
    assert set(CUES) == set(LANGUAGES)
    for code in LANGUAGES:
        assert set(CUES[code]) == set(THREAT_KINDS), code
        kinds_here = set().union(*(e for lang, _t, e in CASES if lang == code))
        assert kinds_here == set(THREAT_KINDS), code
        assert any(not e for lang, _t, e in CASES if lang == code), code
    assert set(KIND_TITLES) == set(THREAT_KINDS)


def test_quoted_lines_are_not_the_customers_words():
    text = ("Thanks, the parcel arrived.\n\n"
            "On Mon, 2 Nov 2026 at 10:00, Shop <support@example-shop.test> wrote:\n"
            "> I will leave a bad review and call my lawyer\n")
    assert find_threats(text, "en") == []
    assert kinds(find_threats("I will call my lawyer.\n> thanks", "en")) == ["lawyer"]


def test_unknown_language_tries_every_language_and_keeps_the_sentence():
    text = "Bonjour. Je vais contacter la DGCCRF et mon avocat! Merci."
    found = find_threats(text, None)
    assert kinds(found) == ["lawyer", "authority"]
    assert {t.evidence for t in found} == {"Je vais contacter la DGCCRF et mon avocat!"}
    # a language the shop does not answer in is treated like an unknown one
    assert kinds(find_threats("I will sue you.", "pl")) == ["lawyer"]


def test_one_threat_per_kind_and_sentence_in_text_order():
    text = ("I will sue you. My lawyer, my attorney and the court will hear of it. "
            "And a bad review on Trustpilot.")
    found = find_threats(text, "en")
    assert [t.kind for t in found] == ["lawyer", "lawyer", "bad_review"]
    assert found[0].evidence == "I will sue you."
    assert find_threats("", "en") == [] and find_threats("   ", None) == []

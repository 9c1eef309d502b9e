"""The one registry of languages responder answers in.

Every part of the code that needs the list of reply languages reads it here. A
language listed here must also have its data (see "Adding a reply language" in
CONTRIBUTING.md): reply templates under ``templates/replies/<code>/``, a word
list ``core/scoring/lexicons/<code>.txt``, intent cue words, auto-reply subjects
for screening, and labelled training mail ``data/corpus/<code>.jsonl`` (then
retrain both model heads). ``responder templates check`` and the language tests
fail when one of them is missing.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Language:
    code: str            # ISO 639-1, as detected and as the template folder is named
    name: str            # English name, for people
    function_words: str  # common short words: the scorer's cheap guess when detection fails


REPLY_LANGUAGES: tuple[Language, ...] = (
    Language("en", "English",
             "the and you your is are to of for my it this that not have was with be i me "
             "we what please order refund"),
    Language("fr", "French",
             "le la les et vous votre vos est pour que pas une un des je mon ma mes ce "
             "avec sur commande merci"),
    Language("de", "German",
             "der die das und sie ihr ist nicht ich mein meine ein eine zu mit für fuer "
             "auf bitte bestellung"),
    Language("es", "Spanish",
             "el la los las y usted ustedes su es no por para que mi un una con del "
             "pedido gracias"),
    Language("ru", "Russian",
             "и в не на я что вы вас мой мне это с по заказ пожалуйста"),
    Language("cs", "Czech",
             "a je se na že ze jsem to mi vám vam váš vas vaše vase jste pro objednávka "
             "objednavka děkuji dekuji"),
    Language("et", "Estonian",
             "ja on et ei ma mu te teie see oma kas minu tellimus palun aitäh aitah "
             "olete oli"),
)

#: the reply languages' codes, in the registry's order (also the order of the
#: language features the trained hostility head was fitted with)
LANGUAGES: tuple[str, ...] = tuple(lang.code for lang in REPLY_LANGUAGES)

#: detected, so that a draft can say which language the customer wrote in, but
#: answered in the default language (no templates)
#: (Slovak is left out on purpose: short Czech is often taken for Slovak, and a
#: Slovak customer is better served in Czech than in English.)
DETECT_ONLY: tuple[str, ...] = ("it", "pt", "nl", "pl", "fi", "sv", "da", "uk")

BY_CODE: dict[str, Language] = {lang.code: lang for lang in REPLY_LANGUAGES}

"""responder.core.parsing against real-world mail (the third-party corpora) and small
hand-written cases for the rules the corpora do not cover.

The corpora live outside the repo (../shared/corpora from the repo root, see its
MANIFEST.md); if that folder is missing, RESPONDER_CORPORA may point elsewhere.
Tests that need them are skipped, with the reason, when they are absent.
"""
from __future__ import annotations

import base64
import json
import os
import random
import re
import sys
import time
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path

import pytest

from responder.core import parsing
from responder.core.model import ParsedMessage
from responder.core.parsing import ParseError, parse


def _find_corpora() -> Path | None:
    candidates = [Path(__file__).resolve().parents[2] / "shared" / "corpora"]
    if os.environ.get("RESPONDER_CORPORA"):
        candidates.append(Path(os.environ["RESPONDER_CORPORA"]))
    for path in candidates:
        if (path / "parse-report.tsv").is_file():
            return path
    return None


CORPORA = _find_corpora()
NO_CORPORA = ("third-party mail corpora not found: expected ../shared/corpora next to the "
              "repo or RESPONDER_CORPORA=<folder with parse-report.tsv>")


def corpus_params(make_params, nargs: int = 1):
    """Parameters from the corpora, or one skipped parameter saying why there are none."""
    if CORPORA is None:
        return [pytest.param(*[None] * nargs, marks=pytest.mark.skip(reason=NO_CORPORA))]
    return make_params(CORPORA)


def report_files(corpora: Path) -> list:
    lines = (corpora / "parse-report.tsv").read_text(encoding="utf-8").splitlines()[1:]
    return [pytest.param(line.split("\t")[0], id=line.split("\t")[0]) for line in lines if line]


def no_surrogates(text: str) -> bool:
    try:
        text.encode("utf-8")
        return True
    except UnicodeEncodeError:
        return False


def build(body: str = "Hello, where is my order?", **headers) -> bytes:
    msg = EmailMessage()
    msg["From"] = headers.pop("from_", "Customer <Customer@Example.COM>")
    msg["To"] = headers.pop("to", "support@shop.test")
    msg["Subject"] = headers.pop("subject", "My order")
    msg["Message-ID"] = headers.pop("message_id", "<abc@example.com>")
    msg["Date"] = headers.pop("date", "Mon, 23 Nov 2026 09:00:00 +0100")
    for key, value in headers.items():
        msg[key.replace("_", "-")] = value
    msg.set_content(body)
    return msg.as_bytes()


# ---- every corpus file: a ParsedMessage or a ParseError, nothing else ----------------------

#: Corpus files that are not e-mails: a digest fragment with no header block at all.
NOT_MAIL = {"cpython-test_email/msg_19.txt"}


@pytest.mark.parametrize("name", corpus_params(report_files))
def test_corpus_file_parses_or_raises_parse_error(name):
    raw = (CORPORA / name).read_bytes()
    try:
        pm = parse(raw)
    except ParseError as exc:
        assert str(exc), "ParseError needs a readable message"
        assert name in NOT_MAIL, f"{name} refused: {exc}"
        return
    assert name not in NOT_MAIL
    assert isinstance(pm, ParsedMessage)
    for field in ("subject", "from_addr", "from_name", "reply_to_name", "text", "own_words"):
        value = getattr(pm, field)
        assert isinstance(value, str), field
        assert no_surrogates(value), f"{field} holds undecoded bytes"
        assert "\x00" not in value
    assert pm.from_addr == pm.from_addr.lower()
    assert all(a == a.lower() and "@" in a for a in pm.to_addrs)
    assert pm.reply_to is None or pm.reply_to == pm.reply_to.lower()
    assert pm.message_id is None or (pm.message_id.startswith("<")
                                     and pm.message_id.endswith(">"))
    assert pm.in_reply_to is None or pm.in_reply_to.startswith("<")
    assert all(r.startswith("<") and r.endswith(">") for r in pm.references)
    assert pm.date is None or pm.date.tzinfo is not None
    assert pm.language is None or re.fullmatch(r"[a-z]{2}", pm.language)
    assert all(isinstance(d, str) for d in pm.defects)
    assert pm.email is not None


UNKNOWN_CHARSET_FILES = [
    # (file, declared charset, a piece of the text that must come out)
    ("mikel-mail/plain_emails/raw_email10.eml", "X-UNKNOWN", "Test test. Hi. Waving."),
    ("spamassassin-publiccorpus/spam-1/00319.a99dff9c010e00ec182ed5701556d330.txt",
     "unknown-8bit", "After thirty"),
    ("php-mime-mail-parser/issue230", "x-mac-cyrillic", "Dear Colleague"),
]


@pytest.mark.parametrize("name,charset,expected", corpus_params(
    lambda c: [pytest.param(*row, id=row[1]) for row in UNKNOWN_CHARSET_FILES], nargs=3))
def test_unknown_charsets_give_text(name, charset, expected):
    raw = (CORPORA / name).read_bytes()
    assert charset.lower().encode() in raw.lower()
    pm = parse(raw)
    assert expected in pm.text
    assert expected in pm.own_words


@pytest.mark.parametrize("x", corpus_params(lambda c: [c]))
def test_corpus_charset_and_header_repairs(x):
    # iso-2022-jp with Windows extensions (No.-sign) in an encoded word
    pm = parse((CORPORA / "php-mime-mail-parser/issue116").read_bytes())
    assert pm.subject == "ЖД№41 от 28.09.2016"
    # iso-8859-8-i (Python knows only iso-8859-8)
    pm = parse((CORPORA / "php-mime-mail-parser/issue149").read_bytes())
    assert pm.subject.startswith("מענה")
    # windows-1250 encoded-word
    pm = parse((CORPORA / "php-mime-mail-parser/issue212").read_bytes())
    assert pm.subject.startswith("Automatyczna odpowiedź: Piotrze")
    # raw 8-bit euc-kr subject, decoded with the body's charset
    pm = parse((CORPORA / "spamassassin-publiccorpus/spam-1/"
                "00035.7ce3307b56dd90453027a6630179282e.txt").read_bytes())
    assert pm.subject.startswith("[광고]")
    # a continuation line without leading space hid From/Subject in the body
    pm = parse((CORPORA / "php-mime-mail-parser/issue84").read_bytes())
    assert pm.from_addr == "tyra3l@gmail.com" and pm.from_name == "Ferenc Kovacs"
    assert pm.subject == "Re: [PHP-DEV] [RFC] Remove PHP 4 Constructors"
    assert any(d.startswith("RepairedHeaderFolding") for d in pm.defects)
    # "From  : x" (RFC 2822 obsolete syntax, space before the colon)
    pm = parse((CORPORA / "mikel-mail/rfc2822/example13.eml").read_bytes())
    assert pm.from_addr and pm.subject == "Saying Hello"
    # declared utf-8, really latin-1
    pm = parse((CORPORA / "hunnysoft-mime-samples/m1010.txt").read_bytes())
    assert "Die Hasen und die Frösche" in pm.text and "\ufffd" not in pm.text
    # a multipart whose boundary parameter does not match: parts recovered
    pm = parse((CORPORA / "mikel-mail/plain_emails/raw_email_bad_time.eml").read_bytes())
    assert pm.text.strip()
    # a uuencoded file inside a text/plain body is not text
    pm = parse((CORPORA / "hunnysoft-mime-samples/m0018.txt").read_bytes())
    assert "begin 666" not in pm.text and "M````" not in pm.text


@pytest.mark.parametrize("x", corpus_params(lambda c: [c]))
def test_truncated_and_corrupted_corpus_mail_never_crashes(x):
    rng = random.Random(20261123)
    names = sorted(p.name for p in (CORPORA / "hunnysoft-mime-samples").glob("m*.txt"))
    names = [f"hunnysoft-mime-samples/{n}" for n in names[:15]] + [
        "php-mime-mail-parser/issue230", "mikel-mail/plain_emails/raw_email10.eml",
        "mailgun-talon/fixtures/standard_replies/android.eml"]
    for name in names:
        raw = (CORPORA / name).read_bytes()
        variants = [raw[:rng.randrange(1, len(raw))] for _ in range(4)]
        for _ in range(4):
            mutated = bytearray(raw)
            for _ in range(20):
                mutated[rng.randrange(len(mutated))] = rng.randrange(256)
            variants.append(bytes(mutated))
        for variant in variants:
            try:
                pm = parse(variant)
            except ParseError:
                continue
            assert no_surrogates(pm.text) and no_surrogates(pm.subject)


# ---- own words: the talon fixtures ----------------------------------------------------------

def talon_replies(corpora: Path) -> list:
    folder = corpora / "mailgun-talon" / "fixtures" / "standard_replies"
    return [pytest.param(p.name, id=p.stem) for p in sorted(folder.glob("*.eml"))]


@pytest.mark.parametrize("name", corpus_params(talon_replies))
def test_talon_standard_replies_reduce_to_the_reply(name):
    folder = CORPORA / "mailgun-talon" / "fixtures" / "standard_replies"
    pm = parse((folder / name).read_bytes())
    assert pm.own_words == "Hello"
    # talon's expected reply keeps the signature ("Sent from my iPhone", Sparrow's
    # "-- "); own_words removes it on purpose, so it is that reply minus the signature
    expected = folder / f"{Path(name).stem}_reply_text"
    if expected.exists():
        reply = expected.read_text(encoding="utf-8")
        assert reply.strip().startswith(pm.own_words)
        assert len(reply.strip()) > len(pm.own_words)


def talon_html(corpora: Path) -> list:
    folder = corpora / "mailgun-talon" / "fixtures" / "html_replies"
    return [pytest.param(p.name, id=p.stem) for p in sorted(folder.glob("*.html"))]


@pytest.mark.parametrize("name", corpus_params(talon_html))
def test_talon_html_replies(name):
    html = (CORPORA / "mailgun-talon" / "fixtures" / "html_replies" / name).read_bytes()
    text = parsing.html_to_text(html.decode("utf-8", "replace"))
    assert "<" not in re.sub(r"<[^<>\s]+@[^<>\s]+>", "", text)  # no tags (addresses are ok)
    # talon's expectation is "Hi. I am fine.\n\nThanks,\nAlex" with whitespace removed;
    # the text has it, own_words also drops the sign-off block
    squeezed = re.sub(r"\s+", "", text)
    assert squeezed.startswith("Hi.Iamfine.Thanks,Alex")
    own = parsing.extract_own_words(text)
    assert re.sub(r"\s+", " ", own) == "Hi. I am fine."


# ---- own words: the crisp fixtures ----------------------------------------------------------

#: Where own_words differs from crisp on purpose.
CRISP_KNOWN_GAPS = {
    "email_emoji": "crisp keeps an em-dash signature block ('—\\nJohn Doe\\nCEO...') in the "
                   "visible text; own_words drops signatures by design",
}


def crisp_cases(corpora: Path) -> list:
    data = json.loads((corpora / "crisp-email-reply-parser" / "expected.json").read_text())
    common = data["_COMMON_FIRST_FRAGMENT"]
    cases = []
    for name, tests in data["fixtures"].items():
        for test in tests:
            for assertion in test["assertions"]:
                check = _crisp_check(assertion, common)
                if check is None:
                    continue
                marks = ()
                if name in CRISP_KNOWN_GAPS:
                    marks = pytest.mark.xfail(strict=True, reason=CRISP_KNOWN_GAPS[name])
                cases.append(pytest.param(name, *check, marks=marks,
                                          id=f"{name}:{test['test']}:{len(cases)}"))
    return cases


def _crisp_check(assertion: str, common: str) -> tuple[str, str] | None:
    """A test.js assertion on the first fragment as ("equal"|"regex", expected)."""
    if "COMMON_FIRST_FRAGMENT" in assertion and ("fragments[0]" in assertion
                                                 or ", text)" in assertion):
        return "equal", common
    m = re.match(r"test\.equal\(true, /(.*)/\.test\(fragments\[0\](?:\.toString\(\))?\)\);",
                 assertion)
    if m:
        return "regex", m.group(1).replace("\\/", "/")
    m = re.match(r"test\.equal\((\".*\"), (?:(?:reply\.)?fragments\[0\](?:\.toString\(\))?"
                 r"|email\.getVisibleText\(\))\);", assertion)
    if m:
        return "equal", json.loads(m.group(1))
    return None


@pytest.mark.parametrize("name,kind,expected", corpus_params(crisp_cases, nargs=3))
def test_crisp_fixtures_first_fragment(name, kind, expected):
    text = (CORPORA / "crisp-email-reply-parser" / "fixtures" / f"{name}.txt").read_text(
        encoding="utf-8")
    own = parsing.extract_own_words(text)
    if kind == "equal":
        assert own == expected.strip()
    else:
        assert re.search(expected, own), own


@pytest.mark.parametrize("x", corpus_params(lambda c: [c]))
def test_reply_parser_fixtures_fast_and_inline_replies_kept(x):
    folder = CORPORA / "github-email_reply_parser" / "emails"
    start = time.perf_counter()
    for path in folder.glob("*.txt"):
        parsing.extract_own_words(path.read_text(encoding="utf-8", errors="replace"))
    assert time.perf_counter() - start < 5, "pathological input must not blow up"
    inline = parsing.extract_own_words((folder / "email_1_8.txt").read_text(encoding="utf-8"))
    assert inline == "I will reply under this one\n\nand under this."
    sig = parsing.extract_own_words((folder / "correct_sig.txt").read_text(encoding="utf-8"))
    assert sig == "this is an email with a correct -- signature."


# ---- own words: rules for languages and clients the library lacks ---------------------------

QUOTE = "> Dear customer, your order has shipped.\n> Kind regards, the shop\n"


@pytest.mark.parametrize("text,expected", [
    ("Kus on minu pakk?\n\nE, 23. nov 2026 kell 09:00 kirjutas Pood <info@shop.test>:\n"
     + QUOTE, "Kus on minu pakk?"),
    ("Kde je můj balík?\n\nDne po 23. 11. 2026 v 9:00 odesílatel Obchod <info@shop.test> "
     "napsal:\n" + QUOTE, "Kde je můj balík?"),
    ("Kde je můj balík?\n\nJan Novák napsal(a):\n" + QUOTE, "Kde je můj balík?"),
    ("Где моя посылка?\n\n23.11.2026 9:00, Магазин написал(а):\n" + QUOTE, "Где моя посылка?"),
    ("Где моя посылка?\n\nпн, 23 нояб. 2026 г. в 09:00, Магазин <info@shop.test>:\n" + QUOTE,
     "Где моя посылка?"),
    ("Wo ist mein Paket?\n\nAm 23.11.2026 um 09:00 schrieb Shop <info@shop.test>:\n" + QUOTE,
     "Wo ist mein Paket?"),
    ("Où est mon colis ?\n\nLe lun. 23 nov. 2026 à 09:00, Boutique <info@shop.test> a écrit :\n"
     + QUOTE, "Où est mon colis ?"),
    ("Where is my parcel?\n\n-----Original Message-----\nFrom: Shop\nSent: Monday\n"
     "Subject: Your order\n\nIt shipped.", "Where is my parcel?"),
    ("Where is my parcel?\n\nFrom: Shop <info@shop.test>\nSent: Monday, 23 November 2026\n"
     "To: me@example.com\nSubject: Your order\n\nIt shipped.", "Where is my parcel?"),
    ("Where is my parcel?\n" + QUOTE, "Where is my parcel?"),
    ("Where is my parcel?\n\nSent from my iPhone", "Where is my parcel?"),
    ("Where is my parcel?\n\n-- \nJohn Smith\nACME Ltd\n+1 555 0100", "Where is my parcel?"),
    ("Where is my parcel?\n\nBest regards,\nJohn Smith\n+1 555 0100", "Where is my parcel?"),
    ("Kus on minu pakk?\n\nLugupidamisega\nMari Maasikas", "Kus on minu pakk?"),
    ("Kde je můj balík?\n\nS pozdravem\nJan Novák", "Kde je můj balík?"),
    ("Где моя посылка?\n\nС уважением,\nИван", "Где моя посылка?"),
], ids=["et-kirjutas", "cs-napsal", "cs-napsal(a)", "ru-napisal(a)", "ru-gmail-date",
        "de-schrieb", "fr-a-ecrit", "original-message", "outlook-block", "gt-quote",
        "sent-from-iphone", "sig-delimiter", "en-sign-off", "et-sign-off", "cs-sign-off",
        "ru-sign-off"])
def test_own_words_rules(text, expected):
    assert parsing.extract_own_words(text) == expected


@pytest.mark.parametrize("text", [
    # "wrote" in a sentence is not a reply header
    "Hello,\n\nI wrote to you yesterday about my order and this is what I need:\n\n"
    "A refund of 20 EUR to my card.",
    # a sign-off word followed by real sentences is not a signature
    "Thanks\nbut I still have not received the parcel and I want my money back.",
    "Thanks, but the item is broken. I want a refund.",
    # markdown-ish rules inside the message
    "Order details:\n---\nItem: blue mug\nPrice: 10 EUR\n---\nPlease send a new one.",
    # a date and an address in a sentence
    "On 12 May I wrote to info@shop.test and nobody answered. Please help.",
    "Sent from my desk, because my phone is broken. Where is my order?",
], ids=["wrote-in-sentence", "thanks-then-sentence", "thanks-comma", "dashes",
        "date-and-address", "sent-from-sentence"])
def test_own_words_keeps_the_customers_sentences(text):
    assert parsing.extract_own_words(text) == text


def test_only_quote_falls_back_to_the_text():
    assert parsing.extract_own_words("> You ruined my day!\n> Refund now.") == \
        "You ruined my day!\nRefund now."


def test_reply_written_below_the_quote_is_found():
    text = ("On Mon, 23 Nov 2026 at 09:00, Shop <info@shop.test> wrote:\n" + QUOTE +
            "\nIt did not arrive. I want a refund.")
    assert parsing.extract_own_words(text) == "It did not arrive. I want a refund."


# ---- language -----------------------------------------------------------------------------

LANGUAGE_SAMPLES = {
    "en": ["Where is my order? I paid two weeks ago and nothing has arrived.",
           "I can't download the file, the link says it has expired.",
           "Please cancel my order, I bought the wrong size."],
    "fr": ["Bonjour, je n'arrive pas à télécharger le fichier que j'ai acheté.",
           "Où est ma commande ? J'attends depuis deux semaines.",
           "Je voudrais être remboursé, l'article est arrivé cassé."],
    "de": ["Wo ist meine Bestellung? Ich warte schon seit zwei Wochen.",
           "Ich möchte mein Geld zurück, die Ware ist kaputt angekommen.",
           "Mein Passwort funktioniert nicht mehr, bitte helfen Sie mir."],
    "es": ["¿Dónde está mi pedido? Lo pagué hace dos semanas.",
           "Quiero que me devuelvan el dinero, el producto llegó roto.",
           "No puedo descargar el archivo que compré ayer."],
    "ru": ["Где мой заказ? Я жду уже две недели.",
           "Верните мне деньги, товар пришёл сломанным.",
           "Не могу скачать файл, который купил вчера."],
    "cs": ["Kde je moje objednávka? Čekám už dva týdny.",
           "Chci vrátit peníze, zboží přišlo rozbité.",
           "Nemohu stáhnout soubor, který jsem včera koupil."],
    "et": ["Kus on minu tellimus? Ootan juba kaks nädalat.",
           "Ma tahan oma raha tagasi, kaup saabus katkisena.",
           "Ma ei saa faili alla laadida, mille eile ostsin."],
}


@pytest.mark.parametrize("lang,sentence", [
    pytest.param(lang, s, id=f"{lang}{i}") for lang, ss in LANGUAGE_SAMPLES.items()
    for i, s in enumerate(ss)])
def test_language_detection(lang, sentence):
    assert parsing.detect_language(sentence) == lang


@pytest.mark.parametrize("text", ["", "ok", "Hi", "12345 ???", "https://example.com/x"])
def test_language_unknown_for_too_little_text(text):
    assert parsing.detect_language(text) is None


def test_language_of_a_parsed_message_comes_from_own_words():
    body = ("Wo ist meine Bestellung? Ich warte schon seit zwei Wochen.\n\n"
            "On Mon, 23 Nov 2026 at 09:00, Shop <info@shop.test> wrote:\n"
            "> Thank you for your order. It will be shipped within two days.\n"
            "> We will send you an e-mail with the tracking number.\n")
    pm = parse(build(body))
    assert pm.own_words.startswith("Wo ist meine Bestellung?")
    assert pm.language == "de"


def test_detector_is_built_once():
    first = parsing._get_detector()
    assert parsing._get_detector() is first
    assert parsing.detector_build_seconds is not None


# ---- headers -------------------------------------------------------------------------------

def test_rfc2047_koi8r_subject_and_name():
    subject = "Где мой заказ?"
    encoded = base64.b64encode(subject.encode("koi8-r")).decode()
    name = base64.b64encode("Иван Петров".encode("koi8-r")).decode()
    raw = (f"From: =?KOI8-R?B?{name}?= <Ivan@Example.RU>\r\n"
           f"To: shop@example.com\r\nSubject: =?koi8-r?B?{encoded}?=\r\n"
           "Message-ID: <1@example.ru>\r\n\r\nТекст\r\n").encode("ascii", "replace")
    pm = parse(raw)
    assert pm.subject == subject
    assert pm.from_name == "Иван Петров"
    assert pm.from_addr == "ivan@example.ru"


CORPUS_LANGUAGES = [
    # (file, subject start, language of the body)
    ("spamscope-mail-parser/mail_test_6", "Быстрее вкладывайте в золото!", "ru"),
    ("spamscope-mail-parser/mail_test_5", "Je prépare mon été zéro complexe", "fr"),
    ("hunnysoft-mime-samples/m0001.txt", "Die Hasen und", "de"),
    ("php-mime-mail-parser/m0021", "occurs when divided into an array", "en"),
]


@pytest.mark.parametrize("name,subject,lang", corpus_params(
    lambda c: [pytest.param(*row, id=row[0]) for row in CORPUS_LANGUAGES], nargs=3))
def test_corpus_subjects_and_languages(name, subject, lang):
    pm = parse((CORPORA / name).read_bytes())
    assert pm.subject.startswith(subject)
    assert pm.language == lang


def test_header_oddities_do_not_crash():
    raw = (b"From: \"Doe, John\" <JOHN@Example.com>\r\n"
           b"Reply-To: =?utf-8?q?M=C3=BCller=2C_Anna?= <Anna@Example.DE>\r\n"
           b"To: a@shop.test, B@Shop.Test\r\nCc: a@shop.test, c@shop.test\r\n"
           b"Subject: =?x-unknown?q?caf=C3=A9?= and raw \xc3\xa9t\xc3\xa9 =?utf-8?B?broken\r\n"
           b"Message-ID: abc@example.com\r\n"
           b"In-Reply-To: <prev@shop.test> (John's message of Monday)\r\n"
           b"References: <one@shop.test>\r\n <two@shop.test>\r\n"
           b"Date: not a date at all\r\n"
           b"Content-Type: text/plain; charset=utf-8\r\n\r\nbody\r\n")
    pm = parse(raw)
    assert pm.from_addr == "john@example.com" and pm.from_name == "Doe, John"
    assert pm.reply_to == "anna@example.de" and pm.reply_to_name == "Müller, Anna"
    assert pm.customer_addr == "anna@example.de"
    assert pm.to_addrs == ["a@shop.test", "b@shop.test", "c@shop.test"]
    assert pm.subject.startswith("café and raw été")
    assert pm.message_id == "<abc@example.com>"
    assert pm.in_reply_to == "<prev@shop.test>"
    assert pm.references == ["<one@shop.test>", "<two@shop.test>"]
    assert pm.date is None
    assert any("Date" in d for d in pm.defects)


def test_latin1_raw_subject_uses_the_body_charset():
    raw = (b"From: a@example.com\r\nSubject: R\xe9clamation\r\n"
           b"Content-Type: text/plain; charset=iso-8859-1\r\n\r\n"
           b"J'ai re\xe7u un colis ab\xeem\xe9.\r\n")
    pm = parse(raw)
    assert pm.subject == "Réclamation"
    assert pm.text == "J'ai reçu un colis abîmé."


def test_dates_are_timezone_aware():
    assert parse(build(date="Mon, 23 Nov 2026 09:00:00 -0000")).date == \
        datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
    assert parse(build(date="Mon, 23 Nov 2026 09:00:00 +0200")).date.utcoffset().seconds == 7200


def test_missing_headers_give_empty_values():
    pm = parse(b"Subject: only a subject\r\n\r\nbody\r\n")
    assert (pm.from_addr, pm.from_name, pm.reply_to, pm.message_id, pm.date) == \
        ("", "", None, None, None)
    assert pm.to_addrs == [] and pm.references == [] and pm.in_reply_to is None


# ---- bodies --------------------------------------------------------------------------------

def test_html_only_mail_gives_text_without_tags():
    msg = EmailMessage()
    msg["From"] = "c@example.com"
    msg["Subject"] = "help"
    msg.set_content(
        "<html><head><style>p { color: red; font-family: Arial }</style>"
        "<script>alert('x')</script><title>Mail</title></head><body>"
        "<p>Hello,<br>my order <b>#1234</b> never arrived &amp; I am waiting.</p>"
        "<ul><li>blue mug</li><li>red plate</li></ul>"
        "<div>On Mon, 23 Nov 2026 at 09:00, Shop &lt;info@shop.test&gt; wrote:</div>"
        "<blockquote>Your order has shipped.</blockquote></body></html>", subtype="html")
    pm = parse(msg.as_bytes())
    assert "<" not in pm.text.replace("<info@shop.test>", "")
    assert "color" not in pm.text and "alert" not in pm.text and "Mail" not in pm.text
    assert "Hello,\nmy order #1234 never arrived & I am waiting." in pm.text
    assert "- blue mug\n- red plate" in pm.text
    assert "> Your order has shipped." in pm.text
    assert "shipped" not in pm.own_words
    assert pm.own_words.startswith("Hello,\nmy order #1234")


def test_plain_part_is_preferred_and_empty_plain_falls_back_to_html():
    msg = EmailMessage()
    msg["From"] = "c@example.com"
    msg.set_content("plain words")
    msg.add_alternative("<p>html words</p>", subtype="html")
    assert parse(msg.as_bytes()).text == "plain words"
    msg = EmailMessage()
    msg["From"] = "c@example.com"
    msg.set_content("\n")
    msg.add_alternative("<p>html words</p>", subtype="html")
    assert parse(msg.as_bytes()).text == "html words"


def test_attachment_content_never_leaks_into_text():
    msg = EmailMessage()
    msg["From"] = "c@example.com"
    msg["Subject"] = "invoice"
    msg.set_content("Please see the attached invoice.")
    msg.add_attachment("ATTACHED-TEXT-SECRET", filename="notes.txt")
    msg.add_attachment(b"%PDF-1.4 ATTACHED-PDF-SECRET", maintype="application",
                       subtype="pdf", filename="invoice.pdf")
    inner = EmailMessage()
    inner["From"] = "x@example.com"
    inner["Subject"] = "old"
    inner.set_content("ATTACHED-MESSAGE-SECRET")
    msg.add_attachment(inner, filename="old.eml")
    html_att = EmailMessage()
    html_att.set_content("<p>ATTACHED-HTML-SECRET</p>", subtype="html",
                         disposition="attachment", filename="page.html")
    msg.attach(html_att)
    pm = parse(msg.as_bytes())
    assert pm.text == "Please see the attached invoice."
    assert "SECRET" not in pm.own_words


def test_attachment_only_mail_has_empty_text():
    msg = EmailMessage()
    msg["From"] = "c@example.com"
    msg.add_attachment("ATTACHED-TEXT-SECRET", filename="notes.txt")
    pm = parse(msg.as_bytes())
    assert "SECRET" not in pm.text


def test_inline_forwarded_message_is_text_but_not_own_words():
    inner = EmailMessage()
    inner["From"] = "shop@example.com"
    inner["Subject"] = "Your order"
    inner.set_content("Your order 1234 has shipped.")
    msg = EmailMessage()
    msg["From"] = "c@example.com"
    msg.set_content("It has not arrived, see below.")
    msg.add_attachment(inner, disposition="inline")
    pm = parse(msg.as_bytes())
    assert "Your order 1234 has shipped." in pm.text
    assert pm.own_words == "It has not arrived, see below."


@pytest.mark.parametrize("cte", ["7-bit", "plain", "spam", "base64", "quoted-printable",
                                 "x-uuencode"])
def test_bad_content_transfer_encodings(cte):
    raw = (f"From: a@example.com\r\nSubject: x\r\nContent-Type: text/plain; charset=utf-8\r\n"
           f"Content-Transfer-Encoding: {cte}\r\n\r\nHello th=E9re !!! %%% \xe9\r\n"
           ).encode("latin-1")
    pm = parse(raw)
    assert isinstance(pm.text, str) and no_surrogates(pm.text)


def test_decode_part_with_charsets_python_does_not_know():
    text = "Где мой заказ?"
    for charset, data in [("x-mac-cyrillic", text.encode("mac-cyrillic")),
                          ("windows1251", text.encode("cp1251")),
                          ("X-UNKNOWN", text.encode("utf-8")),
                          ("unknown-8bit", text.encode("utf-8")),
                          ("base64", text.encode("utf-8")),
                          ("utf-8", text.encode("utf-8"))]:
        msg = EmailMessage()
        msg["Content-Type"] = f"text/plain; charset={charset}"
        msg["Content-Transfer-Encoding"] = "8bit"
        msg.set_payload(data.decode("ascii", "surrogateescape"))
        assert parsing.decode_part(msg) == text, charset


def test_unknown_charset_without_guesser_still_gives_text(monkeypatch):
    monkeypatch.setitem(sys.modules, "charset_normalizer", None)  # as if not installed
    assert parsing.decode_bytes(b"caf\xe9 cr\xe8me", "unknown-8bit") == "café crème"
    assert parsing.decode_bytes(b"caf\xe9", "iso-8859-1") == "café"
    assert parsing.decode_bytes("café".encode(), "iso-8859-1") == "café"
    assert parsing.decode_bytes(b"\x81\x8d", "windows-1252") == "\x81\x8d"


def test_unknown_charset_with_guesser():
    pytest.importorskip("charset_normalizer", reason="charset_normalizer not installed: "
                        "unknown 8-bit charsets fall back to cp1252")
    text = "Добрый день! Где мой заказ? Я жду уже две недели, ответьте, пожалуйста."
    assert parsing.decode_bytes(text.encode("cp1251"), "unknown-8bit") == text


def test_own_words_is_fast_on_hostile_input():
    hostile = [("On " + "x " * 5000 + "wrote\n") * 50,
               ("On " + "x " * 120 + "wrote\n") * 300,
               "Hello there\n" * 20000,
               "> " * 50000]
    start = time.perf_counter()
    for text in hostile:
        parsing.extract_own_words(text)
    assert time.perf_counter() - start < 10, "quote stripping must stay near-linear"


def test_deeply_nested_mime_does_not_crash():
    raw = b"From: a@example.com\r\nContent-Type: multipart/mixed; boundary=b0\r\n\r\n"
    for i in range(1, 400):
        raw += f"--b{i - 1}\r\nContent-Type: multipart/mixed; boundary=b{i}\r\n\r\n".encode()
    raw += b"--b399\r\nContent-Type: text/plain\r\n\r\ndeep text\r\n"
    try:
        pm = parse(raw)
    except ParseError:
        return
    assert isinstance(pm.text, str)


def test_html_to_text_handles_garbage():
    assert parsing.html_to_text("") == ""
    assert parsing.html_to_text("<p>unclosed <b>bold <i>it") == "unclosed bold it"
    assert parsing.html_to_text("<div>" * 3000 + "deep" + "</div>" * 3000).strip() == "deep"
    assert parsing.html_to_text("<pre>  a\n  b</pre>") == "  a\n  b"
    assert parsing.html_to_text("x<table><tr><td>a</td><td>b</td></tr></table>") == "x\n\na b"


# ---- not e-mail -----------------------------------------------------------------------------

@pytest.mark.parametrize("raw", [
    b"", b"   \r\n\r\n  ", random.Random(7).randbytes(4096),
    b"\x89PNG\r\n\x1a\n" + random.Random(8).randbytes(2000),
    b"Just some text someone pasted,\nwith no headers at all.\n",
    b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog >>\nendobj\n",
], ids=["empty", "whitespace", "random", "png", "body-only", "pdf"])
def test_not_email_raises_parse_error(raw):
    with pytest.raises(ParseError) as info:
        parse(raw)
    assert "e-mail" in str(info.value) or "empty" in str(info.value)


def test_wrong_type_raises_parse_error():
    with pytest.raises(ParseError):
        parse(None)  # type: ignore[arg-type]
    with pytest.raises(ParseError):
        parse(12)  # type: ignore[arg-type]


# ---- speed (printed, not asserted) ------------------------------------------------------------

@pytest.mark.parametrize("x", corpus_params(lambda c: [c]))
def test_parse_speed_over_the_corpus(x, capsys):
    build_seconds = parsing.warm_up()
    lines = (CORPORA / "parse-report.tsv").read_text(encoding="utf-8").splitlines()[1:]
    raws = [(CORPORA / line.split("\t")[0]).read_bytes() for line in lines if line]
    start = time.perf_counter()
    for raw in raws:
        try:
            parse(raw)
        except ParseError:
            pass
    elapsed = time.perf_counter() - start
    with capsys.disabled():
        print(f"\n[parsing] {len(raws)} corpus messages in {elapsed:.2f}s = "
              f"{len(raws) / elapsed:.0f} msgs/s; language detector built in "
              f"{parsing.detector_build_seconds or build_seconds:.2f}s (once per process)")


# ---- line ends (issue 9, item 8) -------------------------------------------------------------

#: Classic Mac OS mail (Eudora, Claris Emailer, Outlook Express for Mac) wrote files whose
#: lines end in a bare CR; the corpora hold none, so this one is written by hand with that
#: structure: Mac charset, quoted-printable with soft breaks, a quoted reply below.
OLD_MAC_MAIL = (
    b"From: Old Mac <Mac@Example.COM>\r"
    b"To: support@shop.test\r"
    b"Subject: =?macintosh?Q?Caf=8E_cr=8Fme?=\r"
    b"Date: Mon, 23 Nov 1998 09:00:00 +0100\r"
    b"Message-ID: <19981123090000.mac@example.com>\r"
    b"MIME-Version: 1.0\r"
    b"Content-Type: text/plain; charset=macintosh\r"
    b"Content-Transfer-Encoding: quoted-printable\r"
    b"\r"
    b"Hello, my order of caf=8E cr=8Fme has not arrived, and this line is long enou=\r"
    b"gh to be wrapped with a soft line break.\r"
    b"\r"
    b"On Sun, 22 Nov 1998 18:00:00, Shop <info@shop.test> wrote:\r"
    b"> Your order has shipped.\r")


def test_bare_cr_line_ends_parse():
    pm = parse(OLD_MAC_MAIL)
    assert pm.from_addr == "mac@example.com" and pm.from_name == "Old Mac"
    assert pm.subject == "Café crème"
    assert pm.message_id == "<19981123090000.mac@example.com>"
    assert pm.date == datetime(1998, 11, 23, 8, 0, tzinfo=UTC)
    assert pm.own_words == ("Hello, my order of café crème has not arrived, and this line is "
                            "long enough to be wrapped with a soft line break.")
    assert "> Your order has shipped." in pm.text
    assert any(d.startswith("RepairedLineEnds") for d in pm.defects)


def test_bare_cr_with_an_mbox_from_line_parses():
    pm = parse(b"From mac@example.com Mon Nov 23 09:00:00 1998\r" + OLD_MAC_MAIL)
    assert pm.subject == "Café crème" and pm.own_words.startswith("Hello, my order")


def test_a_stray_cr_in_ordinary_mail_is_left_alone():
    raw = build("Line one\rstill line one\nline two\n")
    pm = parse(raw)
    assert not any(d.startswith("RepairedLineEnds") for d in pm.defects)
    assert pm.text == parse(raw).text and "line two" in pm.text

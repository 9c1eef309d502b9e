"""Screening rules: every rule fires with its name and a readable reason, the near
misses stay human, and the real corpora (DSNs, mailing lists) are screened as expected.

Messages are built from raw bytes with the stdlib parser only (``_parsed``), so these
tests do not depend on responder.core.parsing.
"""
from __future__ import annotations

import os
import re
from collections import Counter, defaultdict
from email import policy
from email.parser import BytesParser
from email.utils import getaddresses, parseaddr
from pathlib import Path

import pytest

from responder.core.model import ParsedMessage, SkipVerdict
from responder.core.screening import RULES, Rule, ScreenContext, human_sender, screen

SHOP = "support@shop.test"
OWN_DOMAIN = "responder.shop.test"
REPO = Path(__file__).resolve().parents[1]
DEMO_MAIL = REPO / "responder" / "app" / "demo_mail"


# ---- building a ParsedMessage from raw bytes (stdlib only) ---------------------------------

def _header(msg, name) -> str:
    try:
        value = msg.get(name)
        return str(value) if value is not None else ""
    except Exception:  # noqa: BLE001 - a malformed header: fall back to the raw value
        for key, raw in msg.raw_items():
            if key.lower() == name.lower():
                return str(raw)
        return ""


def _address(msg, name) -> tuple[str, str]:
    name_, addr = parseaddr(_header(msg, name))
    return name_, addr.strip().lower()


def _text(msg) -> str:
    chunks = []
    for part in msg.walk():
        if part.get_content_maintype() != "text" or part.is_attachment():
            continue
        try:
            content = part.get_content()
        except Exception:  # noqa: BLE001 - unknown charset and the like
            payload = part.get_payload(decode=True) or b""
            content = payload.decode("utf-8", "replace")
        if not isinstance(content, str):
            continue
        chunks.append(content)
    return "\n".join(chunks)


def _parsed(raw: bytes | str) -> ParsedMessage:
    if isinstance(raw, str):
        raw = raw.encode("utf-8")
    msg = BytesParser(policy=policy.default).parsebytes(raw)
    from_name, from_addr = _address(msg, "From")
    reply_name, reply_to = _address(msg, "Reply-To")
    to_addrs = [a.lower() for _, a in getaddresses([_header(msg, "To"), _header(msg, "Cc")])
                if a]
    text = _text(msg)
    return ParsedMessage(
        email=msg, message_id=_header(msg, "Message-ID").strip() or None,
        subject=" ".join(_header(msg, "Subject").split()), from_addr=from_addr,
        from_name=from_name, reply_to=reply_to or None, reply_to_name=reply_name,
        to_addrs=to_addrs, date=None, in_reply_to=_header(msg, "In-Reply-To") or None,
        references=_header(msg, "References").split(), text=text, own_words=text,
        language=None, defects=[type(d).__name__ for d in msg.defects])


def mail(*headers: str, body: str = "Hello, where is my order #1001? Thanks, Jane",
         sender: str | None = "Jane Miller <jane@customer.test>",
         subject: str | None = "Where is my order?") -> ParsedMessage:
    lines = []
    if sender is not None:
        lines.append(f"From: {sender}")
    lines += [f"To: {SHOP}", "Message-ID: <abc123@customer.test>"]
    if subject is not None:
        lines.append(f"Subject: {subject}")
    lines += list(headers)
    if not any(h.lower().startswith("content-type:") for h in headers):
        lines += ["MIME-Version: 1.0", "Content-Type: text/plain; charset=utf-8"]
    return _parsed("\r\n".join(lines) + "\r\n\r\n" + body + "\r\n")


def ctx(replied: set[str] | None = None, **kw) -> ScreenContext:
    replied = replied or set()
    return ScreenContext(own_addresses=frozenset({SHOP, "orders@shop.test"}),
                         own_message_id_domains=frozenset({OWN_DOMAIN}),
                         loop_header_value="responder",
                         replied_recently=lambda addr: addr in replied, **kw)


def skipped_by(msg: ParsedMessage, context: ScreenContext | None = None) -> SkipVerdict:
    verdict = screen(msg, context or ctx())
    assert verdict is not None, f"expected a skip for {msg.subject!r}"
    assert verdict.reason and len(verdict.reason) > 10
    return verdict


def human(msg: ParsedMessage, context: ScreenContext | None = None) -> None:
    verdict = screen(msg, context or ctx())
    assert verdict is None, f"{msg.subject!r} wrongly skipped: {verdict}"


# ---- the table ---------------------------------------------------------------------------

def test_rules_are_named_described_and_unique():
    names = [rule.name for rule in RULES]
    assert len(names) == len(set(names))
    assert {"own-mail", "report", "auto-submitted", "precedence", "autoreply-headers",
            "vendor-autoreply", "mailing-list", "system-sender", "no-reply-relay",
            "autoreply-subject", "throttle"} == set(names)
    for rule in RULES:
        assert isinstance(rule, Rule) and rule.description
    # heuristics come after the headers; the throttle is last of all
    assert names.index("autoreply-subject") > names.index("vendor-autoreply")
    assert names[-1] == "throttle"


def test_plain_customer_mail_is_human():
    human(mail())


# ---- auto-submitted ---------------------------------------------------------------------

@pytest.mark.parametrize("value", ["auto-replied", "auto-generated", "auto-notified",
                                   "auto-generated (failure)", "Auto-Replied; owner-email=x@y"])
def test_auto_submitted_fires(value):
    v = skipped_by(mail(f"Auto-Submitted: {value}"))
    assert v.rule == "auto-submitted" and "Auto-Submitted" in v.reason


def test_auto_submitted_no_is_human():
    human(mail("Auto-Submitted: no"))
    human(mail("Auto-Submitted: No (sent by a person)"))


# ---- precedence ------------------------------------------------------------------------

@pytest.mark.parametrize("header", ["Precedence: bulk", "Precedence: junk", "Precedence: list",
                                    "Precedence: auto_reply", "X-Precedence: bulk",
                                    "Precedence: BULK"])
def test_precedence_fires(header):
    v = skipped_by(mail(header))
    assert v.rule == "precedence" and header.split(":")[0] in v.reason


def test_precedence_first_class_is_human():
    human(mail("Precedence: first-class"))


# ---- autoreply headers -----------------------------------------------------------------

@pytest.mark.parametrize("header", ["X-Autoreply: yes", "X-Autorespond: Vacation",
                                    "X-Auto-Response-Suppress: All",
                                    "X-Auto-Response-Suppress: DR, OOF",
                                    "X-Auto-Response-Suppress: AutoReply"])
def test_autoreply_headers_fire(header):
    v = skipped_by(mail(header))
    assert v.rule == "autoreply-headers" and header.split(":")[0] in v.reason


def test_auto_response_suppress_without_oof_is_human():
    # Outlook asks for no delivery or read receipts on ordinary mail too
    human(mail("X-Auto-Response-Suppress: DR, RN, NRN"))


# ---- vendor markers ----------------------------------------------------------------------

@pytest.mark.parametrize("header", [
    "X-Autogenerated: Reply", "X-AutoReply-From: jane@customer.test", "X-Mail-Autoreply: yes",
    "X-FC-MachineGenerated: true", "X-POST-MessageClass: 9; Autoresponder",
    "X-MS-Exchange-Inbox-Rules-Loop: jane@customer.test",
    "X-MS-Exchange-Generated-Message-Source: Mailbox Rules Agent",
    "X-Autoresponder: 1", "Delivered-To: Autoresponder", "X-Mailer: vacation 1.2"])
def test_vendor_markers_fire(header):
    v = skipped_by(mail(header))
    assert v.rule == "vendor-autoreply" and header.split(":")[0] in v.reason


def test_vendor_near_misses_are_human():
    human(mail("X-FC-MachineGenerated: false", "Delivered-To: support@shop.test",
               "X-Mailer: Apple Mail (2.3774)", "Feedback-ID: 123:abc:gmail"))


# ---- mailing lists ---------------------------------------------------------------------

@pytest.mark.parametrize("header", ["List-Id: Knitters <knit.lists.test>",
                                    "List-Unsubscribe: <mailto:leave@lists.test>",
                                    "List-Post: <mailto:knit@lists.test>"])
def test_mailing_list_fires(header):
    v = skipped_by(mail(header))
    assert v.rule == "mailing-list" and header.split(":")[0] in v.reason


# ---- system senders ----------------------------------------------------------------------

@pytest.mark.parametrize("sender, kind", [
    ("MAILER-DAEMON@mx.customer.test", "MAILER-DAEMON"),
    ("Mail Delivery Subsystem <mailer-daemon@mx.customer.test>", "MAILER-DAEMON"),
    ("postmaster@customer.test", "postmaster"),
    ("noreply@bank.test", "no-reply"), ("no-reply@bank.test", "no-reply"),
    ("do_not_reply@bank.test", "no-reply"), ("DoNotReply@bank.test", "no-reply"),
    ("notifications-noreply@social.test", "no-reply"), ("no.reply@bank.test", "no-reply"),
    ("owner-knitting@lists.test", "owner"), ("knitting-request@lists.test", "request"),
    ("LISTSERV@lists.test", "LISTSERV"), ("majordomo@lists.test", "majordomo"),
])
def test_system_sender_fires(sender, kind):
    v = skipped_by(mail(sender=sender, subject="Your account"))
    assert v.rule == "system-sender" and kind.lower() in v.reason.lower()


def test_empty_return_path_is_a_system_sender():
    v = skipped_by(mail("Return-Path: <>"))
    assert v.rule == "system-sender" and "<>" in v.reason


def test_no_sender_at_all_is_skipped():
    v = skipped_by(mail(sender=None))
    assert v.rule == "system-sender" and "no sender" in v.reason


def test_contact_form_from_noreply_with_customer_in_reply_to_is_human():
    msg = mail("Reply-To: Tomas Kral <tomas@customer.test>",
               sender="Shop Website <noreply@shop.test>", subject="Contact form: cannot log in",
               body="Name: Tomas\nMessage: I cannot log in to my account.")
    human(msg)
    assert human_sender(msg) == "tomas@customer.test"


def test_contact_form_from_the_shops_own_address_is_human():
    msg = mail("Reply-To: Tomas Kral <tomas@customer.test>", sender=f"Shop <{SHOP}>",
               subject="New message from your contact form")
    human(msg)
    assert human_sender(msg, ctx()) == "tomas@customer.test"


def test_noreply_with_noreply_reply_to_is_still_a_system_sender():
    v = skipped_by(mail("Reply-To: no-reply@bank.test", sender="noreply@bank.test"))
    assert v.rule == "system-sender"


def test_human_sender_prefers_the_person():
    assert human_sender(mail()) == "jane@customer.test"
    assert human_sender(mail("Reply-To: noreply@x.test")) == "jane@customer.test"
    assert human_sender(mail("Reply-To: Bob <bob@customer.test>")) == "bob@customer.test"
    assert human_sender(mail(sender="noreply@x.test")) == "noreply@x.test"


# ---- marketplace relay ---------------------------------------------------------------------

RELAY_BODY = ("Jane sent you a message about order 1001:\n\n  Where is my parcel?\n\n"
              "Reply in your marketplace messages. Please do not reply to this email, "
              "replies to this address are not read.")


def test_marketplace_relay_saying_replies_are_not_read_is_skipped():
    v = skipped_by(mail(sender="Marketplace <messages@market.test>",
                        subject="New message from a buyer", body=RELAY_BODY))
    assert v.rule == "no-reply-relay" and "do not reply to this email" in v.reason.lower()


@pytest.mark.parametrize("sentence", [
    "Bitte antworten Sie nicht auf diese E-Mail.",
    "Merci de ne pas répondre à ce message.",
    "Por favor, no responda a este correo.",
    "Пожалуйста, не отвечайте на это письмо.",
    "Na tento e-mail prosím neodpovídejte.",
    "Palun ärge vastake sellele e-kirjale.",
    "This mailbox is not monitored.",
])
def test_relay_wording_in_the_supported_languages(sentence):
    v = skipped_by(mail(sender="Marktplatz <nachrichten@market.test>",
                        body=f"Käufer fragt: Wo ist mein Paket?\n\n{sentence}"))
    assert v.rule == "no-reply-relay"


def test_relay_with_a_person_in_reply_to_is_human():
    human(mail("Reply-To: Jane <jane@customer.test>",
               sender="Marketplace <messages@market.test>", body=RELAY_BODY))


def test_customer_forwarding_a_no_reply_notice_is_human():
    body = ("Hi, I never got my parcel, see below.\n\n"
            "---------- Forwarded message ---------\nFrom: Carrier <info@carrier.test>\n\n"
            "Your parcel is delayed. Please do not reply to this email.")
    human(mail(body=body))
    human(mail(body="Hi, see below.\n\n> Please do not reply to this email.\n"))
    human(mail(body="Hi, see below.\n\n________________________________\n"
                    "From: Carrier <info@carrier.test>\nSent: Monday\n\n"
                    "Please do not reply to this email."))


def test_relay_wording_after_a_plain_rule_line_still_counts():
    body = "Offers of the week\n________________________________\n\n(Do Not Reply to this email)"
    v = skipped_by(mail(sender="announcements@store.test", body=body))
    assert v.rule == "no-reply-relay"


# ---- reports and bounces --------------------------------------------------------------------

def _multipart(ctype: str, inner: str, boundary: str = "b1") -> tuple[str, str]:
    header = f'Content-Type: {ctype}; boundary="{boundary}"'
    body = (f"--{boundary}\r\nContent-Type: text/plain\r\n\r\nSee attached.\r\n"
            f"--{boundary}\r\n{inner}\r\n--{boundary}--")
    return header, body


@pytest.mark.parametrize("report_type, inner", [
    ("delivery-status", "Content-Type: message/delivery-status\r\n\r\n"
                        "Reporting-MTA: dns; mx.test\r\n\r\nFinal-Recipient: rfc822; a@b.test\r\n"
                        "Action: failed\r\nStatus: 5.1.1\r\n"),
    ("feedback-report", "Content-Type: message/feedback-report\r\n\r\n"
                        "Feedback-Type: abuse\r\nUser-Agent: x/1\r\nVersion: 1\r\n"),
    ("disposition-notification", "Content-Type: message/disposition-notification\r\n\r\n"
                                 "Disposition: manual-action/MDN-sent-manually; displayed\r\n"),
])
def test_multipart_report_of_any_kind_fires(report_type, inner):
    header, body = _multipart(f"multipart/report; report-type={report_type}", inner)
    v = skipped_by(mail(header, body=body, subject="Read: Where is my order?"))
    assert v.rule == "report" and report_type in v.reason


def test_delivery_status_part_without_multipart_report_fires():
    header, body = _multipart("multipart/mixed",
                              "Content-Type: message/delivery-status\r\n\r\nAction: failed\r\n")
    v = skipped_by(mail(header, body=body))
    assert v.rule == "report" and "message/delivery-status" in v.reason


def test_x_failed_recipients_fires():
    v = skipped_by(mail("X-Failed-Recipients: gone@customer.test",
                        sender="Mail Delivery System <Mailer-Daemon@mx.test>",
                        subject="Mail delivery failed: returning message to sender"))
    assert v.rule == "report" and "X-Failed-Recipients" in v.reason


@pytest.mark.parametrize("subject", [
    "Undelivered Mail Returned to Sender", "Delivery Status Notification (Failure)",
    "Mail delivery failed: returning message to sender", "failure notice",
    "Returned mail: see transcript for details"])
def test_bounce_subjects_fire_on_their_own(subject):
    v = skipped_by(mail(subject=subject, sender="Mail System <mail@mx.test>"))
    assert v.rule == "report" and subject in v.reason


def test_weak_bounce_subject_needs_a_system_sender_or_a_returned_message():
    v = skipped_by(mail(subject="Undeliverable: Where is my order?",
                        sender="Microsoft Outlook <postmaster@outlook.test>"))
    assert v.rule == "report" and "Undeliverable" in v.reason
    header, body = _multipart("multipart/mixed",
                              "Content-Type: message/rfc822\r\n\r\nSubject: hi\r\n\r\nhi\r\n")
    v = skipped_by(mail(header, body=body, subject="Mail delivery failed",
                        sender="mail@mx.test"))
    assert v.rule == "report" and "returned message" in v.reason
    # a person writing about a parcel, and a customer forwarding a bounce, are human
    human(mail(subject="Delivery failed - order 1001 came back to you?"))
    human(mail(header, body=body, subject="Fwd: Undeliverable: my order question"))


def test_bounce_forwarded_as_attachment_is_human():
    inner = ("Content-Type: message/rfc822\r\n\r\nFrom: MAILER-DAEMON@mx.test\r\n"
             'Content-Type: multipart/report; report-type=delivery-status; boundary="x"\r\n'
             "\r\n--x\r\nContent-Type: message/delivery-status\r\n\r\nAction: failed\r\n--x--\r\n")
    header, body = _multipart("multipart/mixed", inner)
    human(mail(header, body=body, subject="My mail to you bounced, see attached"))


# ---- own mail -----------------------------------------------------------------------------

def test_own_mail_by_x_loop():
    v = skipped_by(mail("X-Loop: responder"))
    assert v.rule == "own-mail" and "X-Loop" in v.reason


def test_own_mail_by_message_id_domain():
    msg = mail()
    msg.message_id = f"<172.1.2@{OWN_DOMAIN}>"
    v = skipped_by(msg)
    assert v.rule == "own-mail" and OWN_DOMAIN in v.reason


def test_own_mail_by_from_address():
    v = skipped_by(mail(sender=f"Shop <{SHOP}>"))
    assert v.rule == "own-mail" and SHOP in v.reason
    v = skipped_by(mail(sender="Orders <ORDERS@shop.test>"))   # case does not matter
    assert v.rule == "own-mail"


def test_notification_with_our_address_in_reply_to_is_own_mail():
    v = skipped_by(mail(f"Reply-To: {SHOP}", sender="Shop platform <noreply@platform.test>",
                        subject="New order #1001"))
    assert v.rule == "own-mail" and SHOP in v.reason


def test_own_addresses_in_config_case_are_recognised():
    context = ScreenContext(own_addresses=frozenset({"Support@Shop.test"}),
                            own_message_id_domains=frozenset({"Responder.Shop.Test"}),
                            loop_header_value="Responder")
    assert screen(mail(sender=SHOP), context).rule == "own-mail"
    assert screen(mail("X-Loop: responder"), context).rule == "own-mail"


def test_customer_at_the_shop_domain_is_human():
    human(mail(sender="Bob <bob@shop.test>"))
    human(mail("X-Loop: someone-else"))


# ---- throttle ------------------------------------------------------------------------------

def test_throttle_fires_for_a_recent_correspondent():
    v = skipped_by(mail(), ctx(replied={"jane@customer.test"}))
    assert v.rule == "throttle" and "jane@customer.test" in v.reason
    human(mail(sender="Bob <bob@customer.test>"), ctx(replied={"jane@customer.test"}))


def test_throttle_asks_about_the_reply_to_person():
    asked = []
    context = ScreenContext(own_addresses=frozenset({SHOP}),
                            replied_recently=lambda a: asked.append(a) or True)
    msg = mail("Reply-To: tomas@customer.test", sender="noreply@shop.test")
    assert screen(msg, context).rule == "throttle"
    assert asked == ["tomas@customer.test"]


# ---- auto-reply subjects --------------------------------------------------------------------

AUTO_SUBJECTS = [
    # en
    "Automatic reply: Where is my order?", "Out of Office",
    "Out of Office: Re: Your order", "Out of office until 3 June", "Autoreply",
    "Auto-Reply: Your order", "Away from the office", "Re: Automatic reply: order 1001",
    "[Auto-Reply] Your order", "Jane Miller is out of the office.", "Auto Response",
    # de
    "Abwesenheitsnotiz: Ihre Bestellung", "Automatische Antwort: Ihre Bestellung",
    "AW: Abwesenheitsnotiz",
    # fr
    "Réponse automatique : Votre commande", "Absence du bureau", "RÉPONSE AUTOMATIQUE",
    # es
    "Respuesta automática: Su pedido", "Fuera de la oficina",
    # ru
    "Автоматический ответ: Ваш заказ", "Вне офиса", "автоответ",
    # cs
    "Automatická odpověď: Vaše objednávka", "Mimo kancelář",
    # et
    "Automaatne vastus: Teie tellimus", "Kontorist väljas",
    # nl, it, pt, pl, sv, da, fi
    "Automatisch antwoord: Uw bestelling", "Afwezig", "Risposta automatica: ordine",
    "Fuori sede", "Resposta automática: encomenda", "Fora do escritório",
    "Automatyczna odpowiedź: zamówienie", "Odpowiedź automatyczna: zamówienie",
    "Poza biurem", "Automatiskt svar: Din beställning", "Frånvaro",
    "Automatisk svar: Din ordre", "Ikke på kontoret",
    "Automaattinen vastaus: Tilauksesi", "Poissa toimistolta",
]


@pytest.mark.parametrize("subject", AUTO_SUBJECTS)
def test_auto_reply_subjects_fire(subject):
    v = skipped_by(mail(subject=subject))
    assert v.rule == "autoreply-subject" and subject in v.reason


@pytest.mark.parametrize("subject", [
    "Automatic coffee grinder broken", "Auto: Ersatzteil defekt",
    "Auto reply not working on your site?",
    "Away from home when the parcel came", "Out of stock?", "Automatic renewal charge",
    "Autofocus lens question", "Absent parcel", "Re: Where is my order?",
    "Frage zur automatischen Verlängerung", "Réponse à votre question",
])
def test_ordinary_subjects_with_similar_words_are_human(subject):
    human(mail(subject=subject))


def test_extra_auto_reply_subjects_from_config():
    context = ctx(extra_auto_reply_subjects=(r"otomatik\s+yan[ıi]t",))
    v = skipped_by(mail(subject="Otomatik yanıt: siparişiniz"), context)
    assert v.rule == "autoreply-subject" and "configured" in v.reason


# ---- order: which reason a rep sees -----------------------------------------------------------

def test_out_of_office_to_our_reply_is_an_auto_reply_not_a_throttle():
    msg = mail(subject="Automatic reply: Re: Where is my order?")
    assert screen(msg, ctx(replied={"jane@customer.test"})).rule == "autoreply-subject"


def test_a_bounce_from_mailer_daemon_is_reported_as_a_report():
    header, body = _multipart("multipart/report; report-type=delivery-status",
                              "Content-Type: message/delivery-status\r\n\r\nAction: failed\r\n")
    v = skipped_by(mail(header, "Auto-Submitted: auto-replied", "Return-Path: <>", body=body,
                        sender="MAILER-DAEMON@mx.test"))
    assert v.rule == "report"


# ---- the project's own demo mail --------------------------------------------------------------

def test_demo_mail():
    if not DEMO_MAIL.is_dir():
        pytest.skip(f"no demo mail at {DEMO_MAIL}")
    context = ScreenContext(own_addresses=frozenset({"support@example-shop.test"}),
                            own_message_id_domains=frozenset({"responder.example-shop.test"}))
    got = {p.name: screen(_parsed(p.read_bytes()), context) for p in DEMO_MAIL.glob("*.eml")}
    expected_skips = {"03-out-of-office.eml": "auto-submitted", "07-bounce.eml": "report"}
    for name, verdict in got.items():
        if name in expected_skips:
            assert verdict is not None and verdict.rule == expected_skips[name], (name, verdict)
        else:
            assert verdict is None, (name, verdict)


# ---- the real corpora -------------------------------------------------------------------------

def _corpora() -> Path:
    env = os.environ.get("RESPONDER_CORPORA")
    path = Path(env) if env else Path(__file__).resolve().parents[2] / "shared" / "corpora"
    if not path.is_dir():
        pytest.skip(f"corpora not found at {path} (set RESPONDER_CORPORA to the folder)")
    return path


_NOT_MAIL = {".md", ".tsv", ".json", ".py", ".rb", ".js", ".ts", ".html"}
# reply-parser fixtures: message bodies without any header (see the corpora's MANIFEST)
_BODIES_ONLY = {"crisp-email-reply-parser", "github-email_reply_parser",
                "zapier-email-reply-parser"}
_HEADER_LINE = re.compile(rb"^(?:From |[!-9;-~]+:)")


def _messages(root: Path):
    """(path, raw bytes) of every file in the corpora that is a whole message."""
    for path in sorted(root.rglob("*")):
        if not path.is_file() or path.suffix.lower() in _NOT_MAIL:
            continue
        if path.relative_to(root).parts[0] in _BODIES_ONLY:
            continue
        if "LICENSE" in path.name or path.name.startswith("README"):
            continue
        raw = path.read_bytes()
        head = raw[:4000].lower()
        if not _HEADER_LINE.match(raw.lstrip()) or (
                b"\nfrom:" not in b"\n" + head and b"\nsubject:" not in b"\n" + head):
            continue   # not a message: a body, a signature fixture, an expected output
        yield path, raw


def test_every_dsn_in_the_corpus_is_a_report():
    folder = _corpora() / "mikel-mail" / "multipart_report_emails"
    if not folder.is_dir():
        pytest.skip(f"{folder} not found")
    files = sorted(p for p in folder.iterdir() if p.is_file())
    assert files
    for path in files:
        verdict = screen(_parsed(path.read_bytes()), ctx())
        assert verdict is not None and verdict.rule == "report", (path.name, verdict)


def test_spamassassin_mailing_list_mail_is_skipped():
    folder = _corpora() / "spamassassin-publiccorpus"
    if not folder.is_dir():
        pytest.skip(f"{folder} not found")
    listed = 0
    for path, raw in _messages(folder):
        msg = _parsed(raw)
        if not any(k.lower() == "list-id" for k, _ in msg.email.raw_items()):
            continue
        listed += 1
        verdict = screen(msg, ctx())
        assert verdict is not None, path
    assert listed > 0


def test_corpus_skip_counts(capsys):
    root = _corpora()
    by_rule: Counter[str] = Counter()
    by_folder: dict[str, Counter[str]] = defaultdict(Counter)
    total = 0
    for path, raw in _messages(root):
        verdict = screen(_parsed(raw), ctx())   # must never raise
        rule = verdict.rule if verdict else "(answered)"
        total += 1
        by_rule[rule] += 1
        by_folder[path.relative_to(root).parts[0]][rule] += 1
    with capsys.disabled():
        print(f"\nscreening over {total} corpus messages:")
        for rule, n in by_rule.most_common():
            print(f"  {rule:18} {n}")
        for folder, counts in sorted(by_folder.items()):
            print(f"  {folder}: " + ", ".join(f"{r} {n}" for r, n in counts.most_common()))
    assert total > 0


# ---- automatic mail outside the standard forms (issue 9, item 8) --------------------------------
# The corpora hold no such messages (no X-MLServer/X-ML-Name, no post_master@ sender, no
# abuse complaint outside ARF; grep ../shared/corpora), so each test writes one by hand
# with the structure of the real ones, as its docstring says.

def _with_attached_message(text: str, inner: str, boundary: str = "att1") -> tuple[str, str]:
    """multipart/mixed: a text/plain part, then a message/rfc822 part holding ``inner``."""
    header = f'Content-Type: multipart/mixed; boundary="{boundary}"'
    body = (f"--{boundary}\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{text}\r\n"
            f"--{boundary}\r\nContent-Type: message/rfc822\r\n"
            f'Content-Disposition: attachment; filename="message.eml"\r\n\r\n{inner}\r\n'
            f"--{boundary}--")
    return header, body


OFFENDING = ("From: Example Shop <news@shop.test>\r\nTo: someone@isp-customer.test\r\n"
             "Subject: Autumn sale: 30% off\r\nMessage-ID: <n1@shop.test>\r\n\r\n"
             "Autumn sale! Everything 30% off this week only.\r\n")


def test_abuse_desk_complaint_with_the_message_attached_is_a_report():
    """Reproduces the plain (non-ARF) complaint an ISP abuse desk sends by hand or from its
    ticket system: abuse@ sender, "spam complaint" wording, a short text naming the
    sending IP, and the offending message attached as message/rfc822. No
    multipart/report, no message/feedback-report part."""
    header, body = _with_attached_message(
        "Hello,\r\n\r\nWe received a spam complaint about the attached message, sent from "
        "your network (192.0.2.25). Please investigate and stop this traffic.\r\n\r\n"
        "Abuse Team, Example ISP", OFFENDING)
    v = skipped_by(mail(header, body=body, sender="Example ISP Abuse <abuse@isp.test>",
                        subject="[Ticket#20261123] Spam complaint: unsolicited e-mail "
                                "from 192.0.2.25"))
    assert v.rule == "report"
    assert "abuse complaint" in v.reason and "abuse@isp.test" in v.reason
    assert "message/rfc822" in v.reason


def test_abuse_report_wording_with_attachment_from_a_ticket_address_is_a_report():
    """Reproduces a hosting provider's abuse-case mail sent from its ticket address (not
    abuse@): "Abuse report" subject, the reported message attached as message/rfc822."""
    header, body = _with_attached_message(
        "Dear customer,\r\n\r\nthis is an abuse report concerning the message attached "
        "below. Reply to this ticket within 24 hours.", OFFENDING)
    v = skipped_by(mail(header, body=body, sender="Hosting NOC <tickets@hosting.test>",
                        subject="Abuse report #88412"))
    assert v.rule == "report" and "abuse complaint" in v.reason


def test_abuse_desk_complaint_without_attachment_is_a_report():
    """Reproduces an abuse desk's notice that quotes the offending headers inline
    instead of attaching the message: abuse desk sender plus abuse wording."""
    body = ("Hello,\r\n\r\nThis is a spam complaint for mail from your server.\r\n\r\n"
            "Received: from mail.shop.test (192.0.2.25)\r\nSubject: Autumn sale\r\n")
    v = skipped_by(mail(body=body, sender="spam-reports@isp.test",
                        subject="Complaint about spam"))
    assert v.rule == "report" and "spam-reports@isp.test" in v.reason


@pytest.mark.parametrize("subject, text", [
    ("Fwd: Your order confirmation",
     "Hi, I got this mail from you but the address in it is wrong. See the attached mail."),
    ("Your mails go to spam",
     "Your newsletters end up in my spam folder, I attach one. Can you fix it?"),
    ("Complaint about my delivery",
     "I want to make a complaint, the carrier's message is attached. Where is my parcel?"),
])
def test_customer_forwarding_a_message_as_attachment_is_human(subject, text):
    """A customer forwarding an e-mail as an attachment (message/rfc822) is not an abuse
    report: no abuse desk wording, a person as the sender."""
    header, body = _with_attached_message(text, OFFENDING)
    human(mail(header, body=body, subject=subject))


def test_abuse_wording_inside_the_attached_message_does_not_count():
    """The attached message (spam often carries such disclaimers) is not what the
    customer wrote."""
    inner = OFFENDING.replace("Autumn sale! Everything 30% off this week only.",
                              "This is not unsolicited commercial e-mail. Abuse report: none.")
    header, body = _with_attached_message("Is this mail really from you?", inner)
    human(mail(header, body=body, subject="Fwd: Autumn sale"))


@pytest.mark.parametrize("local", ["post_master", "post-master", "Post.Master", "POSTMASTER",
                                   "Post_Master"])
def test_bounce_from_a_post_master_address_without_delivery_status(local):
    """Reproduces the hand-rolled bounces of small mail servers: sender post_master@
    (or post-master@...), a plain text notice, no message/delivery-status part."""
    body = ("This message was created automatically by the mail system.\r\n\r\n"
            "Your message to ghost@customer.test could not be delivered: mailbox unknown.\r\n")
    v = skipped_by(mail(sender=f"Mail System <{local}@mx.customer.test>",
                        subject="Delivery problem", body=body))
    assert v.rule == "system-sender" and "postmaster" in v.reason
    # with the returned message attached, it is reported as the bounce it is
    header, body = _with_attached_message(body, OFFENDING)
    v = skipped_by(mail(header, sender=f"{local}@mx.customer.test", subject="Delivery problem",
                        body=body))
    assert v.rule == "report" and "returned message" in v.reason


FML_HEADERS = ("X-MLServer: fml [fml 4.0.3 release (20011202/4.0.3)]", "X-ML-Name: elena",
               "X-ML-Info: If you have a question, send e-mail with the body "
               '"help" to the address elena-ctl@ml.example.test')


@pytest.mark.parametrize("header", FML_HEADERS)
def test_fml_list_manager_notice_is_skipped(header):
    """Reproduces an fml command reply (the Japanese list manager): one of its X-ML*
    headers, from the list's -admin address, no List-Id."""
    v = skipped_by(mail(header, sender="elena-admin@example.test",
                        subject="Subscribe request result (elena ML)",
                        body="Your subscribe request was accepted.\r\n"))
    assert v.rule == "mailing-list" and header.split(":")[0] in v.reason
    assert "mailing-list manager" in v.reason


def test_mailman_admin_notice_without_list_id_is_skipped():
    """Reproduces a Mailman 2 moderation notice: X-Mailman-Version and
    X-List-Administrivia, sent from the list's -bounces address, with no List-Id."""
    v = skipped_by(mail("X-Mailman-Version: 2.1.39", "X-List-Administrivia: yes",
                        sender="knitting-bounces@lists.example.test",
                        subject="Your message to Knitting awaits moderator approval",
                        body="Your mail to 'Knitting' with the subject\r\n\r\n    Where is my "
                             "order?\r\n\r\nIs being held until the list moderator can "
                             "review it for approval.\r\n"))
    assert v.rule == "mailing-list" and "X-Mailman-Version" in v.reason


@pytest.mark.parametrize("sender", ["listmaster@example.test", "list-manager@example.test",
                                    "List_Manager@example.test", "sympa@lists.example.test"])
def test_list_manager_senders_are_skipped(sender):
    """Reproduces list-server notices sent by the server's own robot address."""
    v = skipped_by(mail(sender=sender, subject="Welcome", body="You are now subscribed.\r\n"))
    assert v.rule == "mailing-list" and sender.lower() in v.reason


@pytest.mark.parametrize("sender, subject", [
    ("knitting-admin@lists.example.test", "Welcome"),
    ("elena-admin@example.test", "Unsubscribe request result (elena ML)"),
    ("club-admin@example.test", "Your mailing list membership"),
])
def test_list_admin_address_with_list_signs_is_skipped(sender, subject):
    """Reproduces Mailman 2 and fml notices from the list's -admin address without any
    list header: the list host or a list manager's subject settles it."""
    v = skipped_by(mail(sender=sender, subject=subject, body="Notice.\r\n"))
    assert v.rule == "mailing-list" and "admin address" in v.reason


@pytest.mark.parametrize("sender, subject", [
    ("it-admin@customer.test", "Where is my order?"),
    ("office-admin@customer.test", "Our subscription renewal"),
    ("Jane Admin <shop-admin@customer.test>", "500 ML bottle broken"),
    ("it-admin@customer.test", "Re: Where is my order? (order ML-1001)"),
])
def test_admin_addresses_of_customers_are_human(sender, subject):
    human(mail(sender=sender, subject=subject))

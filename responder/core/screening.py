"""Screening: which incoming mail must never be answered (RFC 3834, RFC 5230).

Pure policy, no I/O. Each rule is a small named object with a one-line
description and a ``check`` that returns a readable reason (shown to reps) or
None. ``screen`` runs the rules in order and returns the first that fires as a
:class:`~responder.core.model.SkipVerdict`; None means "human mail, go on".

Order matters only for the reason a rep sees, never for whether mail is skipped:
the most specific and most certain rules come first (our own mail, reports,
the standard headers), heuristics after them (sender names, relay wording,
subjects), and the throttle last, so that an out-of-office answer to a reply we
just sent is recorded as an auto-reply, not as "throttled".

Who wrote it: contact forms and shop relays send a person's words from a system
address with the person in ``Reply-To``. :func:`human_sender` picks that person,
and the sender rules judge the person, not the relay.
"""
from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from email.message import Message
from email.utils import parseaddr

from responder.core.addresses import (
    _addr,
    _local,
    abuse_desk_address,
    person_address,
    system_address_kind,
)
from responder.core.model import ParsedMessage, SkipVerdict
from responder.core.parsing.charsets import decode_part
from responder.core.parsing.quotes import strip_quotes

__all__ = ["ScreenContext", "Rule", "RULES", "screen", "human_sender",
           "system_address_kind"]


# ---- context ------------------------------------------------------------------------

@dataclass(frozen=True)
class ScreenContext:
    """What the rules need to know about us. Built from the config by the pipeline."""

    own_addresses: frozenset[str] = frozenset()           # configured shop addresses
    own_message_id_domains: frozenset[str] = frozenset()  # domains of our Message-IDs
    loop_header_value: str = "responder"                  # our X-Loop value
    # address -> True if we replied to it within the throttle window
    replied_recently: Callable[[str], bool] = field(default=lambda addr: False)
    # extra auto-reply subject patterns (regular expressions, matched case-insensitively
    # at the start of the subject after any "Re:"), for languages not built in
    extra_auto_reply_subjects: tuple[str, ...] = ()

    @property
    def own(self) -> frozenset[str]:
        return frozenset(a.strip().lower() for a in self.own_addresses if a)

    @property
    def own_domains(self) -> frozenset[str]:
        return frozenset(d.strip().lower().lstrip("@") for d in self.own_message_id_domains
                         if d)


# ---- the rule object ----------------------------------------------------------------

@dataclass(frozen=True)
class Rule:
    name: str
    description: str
    _check: Callable[[ParsedMessage, ScreenContext], str | None] = field(repr=False)

    def check(self, msg: ParsedMessage, ctx: ScreenContext) -> str | None:
        """A readable reason when this rule says "do not answer", else None."""
        return self._check(msg, ctx)


def screen(msg: ParsedMessage, ctx: ScreenContext) -> SkipVerdict | None:
    """The first rule that fires, or None for human mail that may be answered."""
    for rule in RULES:
        reason = rule.check(msg, ctx)
        if reason:
            return SkipVerdict(rule=rule.name, reason=reason)
    return None


# ---- header and address helpers ------------------------------------------------------

_FOLD = re.compile(r"\r?\n[ \t]*")


def _values(email: Message, name: str) -> list[str]:
    """Every value of header ``name`` as received (unfolded, stripped, not decoded).

    Uses the raw items so that a malformed header can never make screening raise.
    """
    lname = name.lower()
    out = []
    for key, value in email.raw_items():
        if key.lower() == lname:
            out.append(_FOLD.sub(" ", str(value)).strip())
    return out


def _first(email: Message, name: str) -> str | None:
    values = _values(email, name)
    return values[0] if values else None


def _token(value: str) -> str:
    """First token of a structured value, lower-case, comments removed."""
    value = re.sub(r"\([^)]*\)", " ", value)
    return value.split(";")[0].strip().lower()


def _norm(text: str) -> str:
    return unicodedata.normalize("NFC", text or "")


def human_sender(msg: ParsedMessage, ctx: ScreenContext | None = None) -> str:
    """The address a reply would go to: the person behind the mail.

    ``Reply-To`` when it names a person (contact forms and shop relays put the
    customer there), else ``From``; with ``ctx``, our own addresses are passed over
    too (see :func:`responder.core.addresses.person_address`).
    """
    own = ctx.own if ctx is not None else frozenset()
    return person_address(msg.reply_to, msg.from_addr, own=own)


def _has_person_reply_to(msg: ParsedMessage, ctx: ScreenContext) -> bool:
    """Reply-To names a person other than the From address (a contact form)."""
    reply_to = _addr(msg.reply_to)
    return bool(reply_to and reply_to != _addr(msg.from_addr)
                and reply_to not in ctx.own and not system_address_kind(reply_to))


def _parts(email: Message) -> Iterator[Message]:
    """Every MIME part, without descending into attached messages (message/*):
    a customer forwarding a bounce as an attachment is not a bounce."""
    stack: list[Message] = [email]
    while stack:
        part = stack.pop()
        yield part
        if part.is_multipart() and part.get_content_maintype() == "multipart":
            payload = part.get_payload()
            if isinstance(payload, list):
                stack.extend(p for p in reversed(payload) if isinstance(p, Message))


# ---- the rules ------------------------------------------------------------------------

def _own_mail(msg: ParsedMessage, ctx: ScreenContext) -> str | None:
    ours = {(ctx.loop_header_value or "").strip().lower()} | ctx.own
    ours.discard("")
    for value in _values(msg.email, "X-Loop"):
        if _addr(value) in ours:
            return f"X-Loop: {value} is our own loop header (a reply we sent came back)"
    domains = ctx.own_domains
    if msg.message_id and domains:
        mid = msg.message_id.strip().strip("<>")
        domain = mid.rsplit("@", 1)[-1].lower() if "@" in mid else ""
        if domain in domains:
            return f"Message-ID {msg.message_id} has our own domain {domain}"
    from_addr = _addr(msg.from_addr)
    if from_addr and from_addr in ctx.own:
        if _has_person_reply_to(msg, ctx):
            return None   # a contact form sending from the shop's address: human mail
        return f"From {from_addr} is one of the shop's own addresses"
    sender = human_sender(msg, ctx)
    if sender and sender in ctx.own:
        return (f"the only address to answer is our own ({sender}); "
                f"From {from_addr or '(none)'} is not a person")
    return None


_REPORT_PART_TYPES = {
    "message/delivery-status": "delivery status (bounce)",
    "message/global-delivery-status": "delivery status (bounce)",
    "message/disposition-notification": "read receipt",
    "message/global-disposition-notification": "read receipt",
    "message/feedback-report": "abuse/feedback report",
}
_RETURNED_PART_TYPES = {"message/rfc822", "message/global", "text/rfc822-headers",
                        "message/rfc822-headers", "message/global-headers"}

# Bounce subjects that no person writes: enough on their own (matched at the start).
_BOUNCE_SUBJECT_STRONG = re.compile(
    r"^(?:undelivered mail returned to sender"
    r"|delivery status notification"
    r"|mail delivery failed\s*:\s*returning message"
    r"|returned mail\s*:\s*(?:see transcript|user unknown|too many hops|host unknown"
    r"|service unavailable|unable to deliver|could not send|data format error)"
    r"|failure notice\s*$"
    r"|mail system error\s*-\s*returned mail"
    r"|warning\s*:\s*could not send message for past"
    r"|delivery notification\s*:\s*delivery has failed"
    r"|undeliverable mail returned"
    r"|non-?deliverable mail\b"
    r"|message delivery failure\s*$)",
    re.IGNORECASE)
# Bounce-like subjects a person might write about a parcel: need corroboration
# (a system sender, an empty Return-Path, Auto-Submitted, or a returned message).
# Outlook's localized "Undeliverable:" prefixes are here too.
_BOUNCE_SUBJECT_WEAK = re.compile(
    r"^(?:undeliverable\s*:|undelivered\s*:|undeliverable mail|mail delivery fail"
    r"|delivery fail|delivery has failed|returned mail|could not be delivered"
    r"|message not delivered|non remis\s*:|unzustellbar\s*:|nicht zustellbar\s*:"
    r"|onbestelbaar\s*:|non recapitabile\s*:|no se puede entregar\s*:"
    r"|não é possível entregar\s*:|не доставлено\s*:|nedoručitelné\s*:"
    r"|niedostarczalne\s*:|kan ikke leveres\s*:|kunde inte levereras\s*:"
    r"|ei voitu toimittaa\s*:)",
    re.IGNORECASE)


def _report(msg: ParsedMessage, ctx: ScreenContext) -> str | None:
    email = msg.email
    if email.get_content_type() == "multipart/report":
        report_type = email.get_param("report-type") or "unspecified"
        return f"Content-Type multipart/report (report-type={report_type})"
    returned = None
    for part in _parts(email):
        ctype = part.get_content_type()
        if ctype in _REPORT_PART_TYPES:
            return f"contains a {ctype} part: {_REPORT_PART_TYPES[ctype]}"
        if ctype in _RETURNED_PART_TYPES and returned is None:
            returned = ctype
    failed = _first(email, "X-Failed-Recipients")
    if failed is not None:
        return f"X-Failed-Recipients: {failed} (a bounce)"
    subject = _norm(" ".join((msg.subject or "").split()))
    if _BOUNCE_SUBJECT_STRONG.match(subject):
        return f"bounce subject {subject!r}"
    from_kind = system_address_kind(msg.from_addr)
    empty_return_path = _empty_return_path(email)
    auto = _auto_submitted_value(email)
    if _BOUNCE_SUBJECT_WEAK.match(subject):
        why = (f"from {msg.from_addr}" if from_kind else
               "empty Return-Path" if empty_return_path else
               f"Auto-Submitted: {auto}" if auto else
               f"a returned message ({returned}) inside" if returned else
               "no sender address" if not msg.from_addr else None)
        if why:
            return f"bounce subject {subject!r}, {why}"
    if returned and from_kind in ("MAILER-DAEMON", "postmaster"):
        return f"a returned message ({returned}) from {msg.from_addr}"
    return _abuse_complaint(msg, subject, returned)


# What abuse desks write (and customers do not write about an order): "Abuse report",
# "Spam complaint", "unsolicited commercial e-mail", SpamCop, in several languages.
_ABUSE_WORDING = re.compile("|".join((
    r"\b(?:abuse|spam|phishing|uce|ube)[\s-]+(?:report|complaint|notification|notice"
    r"|alert|case|ticket)s?\b",
    r"\b(?:complaint|report)s?\s+(?:of|about|regarding|concerning)\s+(?:spam|abuse"
    r"|unsolicited|phishing)\b",
    r"\breported\s+as\s+(?:spam|abuse|phishing)\b",
    r"\bunsolicited\s+(?:commercial\s+|bulk\s+)?e-?mails?\b",
    r"\bspamcop\b",
    r"\bspam-?beschwerde\b", r"\b(?:missbrauchs|abuse)-?(?:meldung|beschwerde)\b",
    r"\bplainte\s+(?:pour|de)\s+(?:spam|abus)\b", r"\bsignalement\s+d['’]abus\b",
    r"\b(?:denuncia|queja)\s+(?:de|por)\s+(?:spam|abuso)\b",
    r"жалоба\s+на\s+(?:спам|рассылку)", r"\bstížnost\s+na\s+spam\b",
)), re.IGNORECASE)


def _abuse_complaint(msg: ParsedMessage, subject: str, returned: str | None) -> str | None:
    """An abuse complaint that is not an ARF report: an abuse desk's wording, and the
    reported message attached or an abuse desk as the sender. A customer forwarding a
    message as an attachment writes no such wording and is answered."""
    said = _ABUSE_WORDING.search(subject) or _ABUSE_WORDING.search(_top_text(msg)[:4000])
    if not said:
        return None
    desk = next((addr for addr in (_addr(msg.from_addr), _addr(msg.reply_to),
                                   _addr(parseaddr(_first(msg.email, "Sender") or "")[1]))
                 if addr and abuse_desk_address(addr)), None)
    wording = " ".join(said.group(0).split())
    if returned and desk:
        return (f"an abuse complaint ({wording!r}) from the abuse desk {desk} with the "
                f"reported message attached ({returned})")
    if returned:
        return f"an abuse complaint ({wording!r}) with the reported message attached ({returned})"
    if desk:
        return f"an abuse complaint ({wording!r}) from the abuse desk {desk}"
    return None


def _top_text(msg: ParsedMessage) -> str:
    """The writer's text: plain parts outside any attached message, quotes removed."""
    chunks = []
    for part in _parts(msg.email):
        if (part.get_content_type() == "text/plain" and not part.is_multipart()
                and (part.get_content_disposition() or "") != "attachment"):
            chunks.append(decode_part(part))
    return strip_quotes("\n".join(chunks) if chunks else msg.text)


def _auto_submitted_value(email: Message) -> str | None:
    """The first Auto-Submitted value other than "no", if any."""
    for value in _values(email, "Auto-Submitted"):
        if _token(value) != "no":
            return value or "(empty)"
    return None


def _auto_submitted(msg: ParsedMessage, ctx: ScreenContext) -> str | None:
    value = _auto_submitted_value(msg.email)
    if value is not None:
        return f"Auto-Submitted: {value} (only \"no\" means a person sent it)"
    return None


_AUTORESPONSE_SUPPRESS = {"all", "oof", "autoreply"}
_NEGATIVE = {"no", "false", "0", "off", "none"}


def _autoreply_headers(msg: ParsedMessage, ctx: ScreenContext) -> str | None:
    email = msg.email
    for name in ("X-Autoreply", "X-Autorespond"):
        for value in _values(email, name):
            if _token(value) not in _NEGATIVE:
                return f"{name}: {value}"
    for value in _values(email, "X-Auto-Response-Suppress"):
        tokens = {t.strip().lower() for t in re.split(r"[,;\s]+", value) if t.strip()}
        hit = tokens & _AUTORESPONSE_SUPPRESS
        if hit:
            return f"X-Auto-Response-Suppress: {value} (marks an automatic message)"
    return None


# (header, test on the value or None for "present", what it means)
_VENDOR_MARKERS: tuple[tuple[str, Callable[[str], bool] | None, str], ...] = (
    ("X-Autogenerated", None, "CommuniGate Pro automatic message"),
    ("X-Auto-Generated", None, "automatic message"),
    ("X-AutoReply-From", None, "Domain Technologies Control auto-reply"),
    ("X-Mail-Autoreply", None, "auto-reply"),
    ("X-Autoresponder", None, "auto-responder"),
    ("X-Autoresponse", None, "auto-response"),
    ("X-FC-MachineGenerated", lambda v: _token(v) == "true", "FirstClass auto-reply"),
    ("X-POST-MessageClass", lambda v: "autoresponder" in v.lower()
     or v.strip().startswith("9"), "Mailtraq auto-responder"),
    ("X-MS-Exchange-Inbox-Rules-Loop", None, "Exchange inbox rule (forward/auto-reply)"),
    ("X-MS-Exchange-Generated-Message-Source", None, "generated by Exchange"),
    ("Delivered-To", lambda v: v.strip().lower() == "autoresponder", "qmail autoresponder"),
    ("X-Loop", lambda v: "vacation" in v.lower(), "vacation program"),
    ("X-Mailer", lambda v: bool(re.search(r"\bvacation\b|auto-?respond|auto-?reply",
                                          v, re.IGNORECASE)), "auto-responder program"),
    ("X-Cron-Env", None, "cron job output"),
)
# Feedback-ID is deliberately not a marker: ESPs stamp it on transactional mail
# too, contact-form relays included, so it does not mean "automatic".


def _vendor_autoreply(msg: ParsedMessage, ctx: ScreenContext) -> str | None:
    for name, test, meaning in _VENDOR_MARKERS:
        for value in _values(msg.email, name):
            if test is None or test(value):
                return f"{name}: {value or '(empty)'} ({meaning})"
    return None


_LIST_HEADERS = ("List-Id", "List-Unsubscribe", "List-Post", "List-Subscribe",
                 "List-Help", "List-Owner", "List-Archive", "Mailing-List",
                 "X-Mailing-List", "X-BeenThere")


#: Headers that list managers put on their own notices (subscription results, command
#: replies, moderation and bounce notices), which carry no List-Id.
_LIST_MANAGER_HEADERS = (
    ("X-MLServer", "fml"), ("X-ML-Name", "fml"), ("X-ML-Info", "fml"),
    ("X-Mailman-Version", "Mailman"), ("X-List-Administrivia", "Mailman"),
    ("X-Ecartis-Version", "Ecartis"), ("X-Listprocessor-Version", "ListProc"),
    ("X-Listserver", "list server"), ("X-Majordomo-Version", "Majordomo"))

#: "knitting-admin@" is a list's admin address (Mailman 2, fml), but "it-admin@" may be a
#: person: it counts on a list host or with a list manager's subject.
_LIST_HOST = re.compile(r"^(?:lists?|ml|mailman|listserv|majordomo)\.", re.IGNORECASE)
_LIST_NOTICE_SUBJECT = re.compile(
    r"\bmailing[\s-]?list\b|\blist\s+(?:command|request|subscription|membership)\b"
    r"|\bmoderat(?:or|ion)\b|\b(?:subscribe|unsubscribe|command)\s+request\s+result"
    r"|\(\s*[\w.-]+\s+(?-i:ML)\s*\)",      # fml: "Subscribe request result (elena ML)"
    re.IGNORECASE)


def _mailing_list(msg: ParsedMessage, ctx: ScreenContext) -> str | None:
    for name in _LIST_HEADERS:
        value = _first(msg.email, name)
        if value is not None:
            shown = value if len(value) <= 120 else value[:117] + "..."
            return f"{name}: {shown} (mailing list or newsletter)"
    for name, manager in _LIST_MANAGER_HEADERS:
        value = _first(msg.email, name)
        if value is not None:
            shown = value if len(value) <= 80 else value[:77] + "..."
            return f"{name}: {shown or '(empty)'} (sent by the {manager} mailing-list manager)"
    sender = _addr(msg.from_addr)
    kind = system_address_kind(sender)
    if kind and kind.startswith("list manager"):
        return f"From {sender} is a mailing-list manager ({kind})"
    local = _local(sender)
    if local.endswith("-admin") and len(local) > len("-admin"):
        domain = sender.rsplit("@", 1)[-1] if "@" in sender else ""
        subject = " ".join((msg.subject or "").split())
        if _LIST_HOST.match(domain) or _LIST_NOTICE_SUBJECT.search(subject):
            why = (f"on the list host {domain}" if _LIST_HOST.match(domain)
                   else f"subject {subject!r}")
            return f"From {sender} is a mailing list's admin address ({why})"
    return None


_BULK_PRECEDENCE = {"bulk", "junk", "list", "auto_reply", "auto-reply"}


def _precedence(msg: ParsedMessage, ctx: ScreenContext) -> str | None:
    for name in ("Precedence", "X-Precedence", "Preference"):
        for value in _values(msg.email, name):
            if _token(value) in _BULK_PRECEDENCE:
                return f"{name}: {value}"
    return None


def _empty_return_path(email: Message) -> bool:
    value = _first(email, "Return-Path")
    return value is not None and re.fullmatch(r"<\s*>|", value.strip()) is not None


def _system_sender(msg: ParsedMessage, ctx: ScreenContext) -> str | None:
    email = msg.email
    if _empty_return_path(email):
        return "Return-Path is empty (<>): a bounce or other automatic mail"
    for name in ("Return-Path", "Sender"):
        value = _first(email, name)
        if value:
            addr = _addr(parseaddr(value)[1] or value)
            kind = system_address_kind(addr, strict_only=True)
            if kind:
                return f"{name} {addr} is a system address ({kind})"
    sender = human_sender(msg, ctx)
    if not sender:
        return "no sender address (From and Reply-To are empty)"
    kind = system_address_kind(sender)
    if kind:
        also = ""
        if msg.reply_to and _addr(msg.reply_to) != sender:
            also = f" (Reply-To {_addr(msg.reply_to)} is not a person either)"
        elif msg.reply_to and _addr(msg.from_addr) != sender:
            also = f" (From {_addr(msg.from_addr)} is not a person either)"
        return f"sender {sender} is a system address ({kind}){also}"
    return None


# "Replies are not read": said by marketplace relays and notification senders.
_NO_REPLY_TEXT = re.compile("|".join((
    # en
    r"\b(?:please\s+)?(?:do\s+not|don['’]?t|dont)\s+(?:directly\s+)?(?:reply|respond)"
    r"\s+(?:directly\s+)?(?:to\s+)?(?:this|the)\s+(?:e-?mail|message|address|notification|mail)",
    r"\breplies\s+(?:to\s+this\s+(?:e-?mail|message|address)\s+)?(?:are|will)\s+not\s+"
    r"(?:be\s+)?(?:read|monitored|answered|seen|received|delivered)",
    r"\bthis\s+(?:e-?mail\s+address|mailbox|inbox|address|e-?mail)\s+is\s+(?:not\s+monitored"
    r"|unmonitored|unattended|not\s+read|not\s+attended)",
    r"\b(?:sent\s+from\s+an?\s+)?(?:unmonitored|unattended|send-only|outgoing-only)\s+"
    r"(?:e-?mail\s+)?(?:address|mailbox|inbox)",
    # de
    r"\bbitte\s+(?:antworten\s+sie\s+nicht|nicht\s+(?:direkt\s+)?(?:auf\s+diese\s+"
    r"(?:e-?mail|nachricht)\s+)?antworten)",
    r"\bantworten\s+sie\s+(?:bitte\s+)?nicht\s+auf\s+diese\s+(?:e-?mail|nachricht)",
    r"\bdiese\s+(?:e-?mail-?adresse|adresse|mailbox)\s+wird\s+nicht\s+(?:überwacht|gelesen)",
    # fr
    r"\bne\s+(?:pas\s+)?r[ée]pon(?:dre|dez)\s+(?:pas\s+)?(?:directement\s+)?[àa]\s+"
    r"(?:ce|cet|cette)\s+(?:e-?mail|message|courriel|mail|adresse)",
    r"\bcette\s+(?:adresse|bo[îi]te)\s+(?:e-?mail\s+|mail\s+)?n['’]est\s+pas\s+"
    r"(?:surveill[ée]e|consult[ée]e|lue)",
    # es
    r"\bno\s+(?:responda|respondas|conteste)\s+(?:a\s+)?(?:este|esta)\s+"
    r"(?:correo|mensaje|e-?mail|direcci[óo]n)",
    # it
    r"\bnon\s+rispondere\s+a\s+quest[oa]\s+(?:e-?mail|mail|messaggio)",
    r"\bsi\s+prega\s+di\s+non\s+rispondere",
    # nl
    r"\b(?:gelieve\s+)?niet\s+(?:te\s+)?(?:antwoorden|reageren)\s+op\s+(?:deze|dit)\s+"
    r"(?:e-?mail|bericht|mail)",
    # pt
    r"\bn[ãa]o\s+responda\s+(?:a\s+)?(?:este|esta)\s+(?:e-?mail|mensagem)",
    # pl
    r"\b(?:prosimy\s+)?nie\s+odpowiada[jć]\s+na\s+(?:t[ęeą]|ten)\s+(?:wiadomo[śs][ćc]|e-?mail)",
    # sv, da
    r"\bsvara\s+inte\s+p[åa]\s+(?:detta|det\s+h[äa]r)\s+(?:e-?postmeddelande|meddelande|mejl)",
    r"\bsvar\s+ikke\s+p[åa]\s+denne\s+(?:e-?mail|mail|besked)",
    # fi
    r"\b[äa]l[äa]\s+vastaa\s+t[äa]h[äa]n\s+(?:viestiin|s[äa]hk[öo]postiin)",
    # ru
    r"не\s+отвечайте\s+на\s+(?:это|данное)\s+(?:письмо|сообщение)",
    r"на\s+это\s+(?:письмо|сообщение)\s+(?:не\s+нужно|не\s+надо)\s+отвечать",
    # cs
    r"\bneodpov[íi]dejte\s+na\s+(?:tento|tuto)\s+(?:e-?mail|zpr[áa]vu)",
    r"\bna\s+(?:tento|tuto)\s+(?:e-?mail|zpr[áa]vu)\s+(?:pros[íi]m\s+)?neodpov[íi]dejte",
    # et
    r"\b(?:palun\s+)?[äa]rge\s+vastake\s+(?:sellele|k[äa]esolevale)\s+"
    r"(?:e-?kirjale|kirjale|s[õo]numile)",
)), re.IGNORECASE)

def _no_reply_relay(msg: ParsedMessage, ctx: ScreenContext) -> str | None:
    if _has_person_reply_to(msg, ctx):
        return None   # the person in Reply-To reads replies; the relay's footer is moot
    # what the writer says, not a notice quoted or forwarded below it
    found = _NO_REPLY_TEXT.search(_norm(strip_quotes(msg.text)))
    if found:
        said = " ".join(found.group(0).split())
        return (f"a relay or notification from {msg.from_addr or 'an unknown sender'} "
                f"says replies are not read ({said!r}) and names no person in Reply-To")
    return None


# Auto-reply subjects. Each phrase must stand at the start of the subject (after
# any "Re:"/"AW:"/... prefixes and an optional bracket) and be followed by the end,
# punctuation, or a word that continues an absence notice ("until", "bis", ...),
# so "Automatic coffee grinder broken" or "Away from home when the parcel came"
# stay human.
_REPLY_PREFIX = re.compile(
    r"^(?:\s*(?:re|aw|sv|vs|antw|odp|ynt|res|ref|ha|r|отв|ответ)\s*(?:\[\d+\]|\(\d+\))?"
    r"\s*[:：]\s*)*", re.IGNORECASE)
_ABSENCE_PHRASES = (
    # en
    r"auto(?:matic|mated)?[\s\-_]*(?:reply|replied|response|responder|answer)",
    r"autoresponse",
    r"out\s+of\s+(?:the\s+)?office(?:\s+(?:auto-?reply|reply|notice|message|notification"
    r"|response|alert))?",
    r"away\s+from\s+(?:the\s+|my\s+)?(?:office|desk|e-?mail|keyboard|work)",
    r"vacation\s+(?:auto-?reply|reply|response|notice|message)",
    # de
    r"automatische\s+(?:antwort|rückantwort|beantwortung|abwesenheitsnotiz|e-?mail-?antwort)",
    r"abwesenheits(?:notiz|nachricht|meldung|benachrichtigung|info)",
    r"abwesenheit", r"abwesend", r"nicht\s+im\s+büro", r"autoantwort",
    # fr
    r"r[ée]ponse\s+automatique", r"absen(?:ce|t|te)\s+du\s+bureau",
    r"message\s+d['’]absence", r"notification\s+d['’]absence", r"hors\s+du\s+bureau",
    # es
    r"respuesta\s+autom[aá]tica", r"fuera\s+de\s+(?:la\s+)?oficina",
    r"mensaje\s+de\s+ausencia", r"ausente\s+de\s+la\s+oficina",
    # it
    r"risposta\s+automatica", r"fuori\s+(?:sede|ufficio)",
    r"assente\s+dall['’]\s*ufficio", r"(?:messaggio|notifica|avviso)\s+di\s+assenza",
    # nl
    r"automatisch\s+(?:antwoord|bericht)", r"afwezig(?:heidsbericht|heidsmelding|heid)?",
    r"niet\s+op\s+kantoor", r"buiten\s+kantoor",
    # pt
    r"resposta\s+autom[aá]tica", r"fora\s+do\s+escrit[óo]rio",
    r"ausente\s+do\s+escrit[óo]rio", r"mensagem\s+de\s+aus[êe]ncia",
    # pl
    r"odpowied[źz]\s+automatyczna", r"automatyczna\s+odpowied[źz]", r"autoodpowied[źz]",
    r"poza\s+biurem", r"nieobecno[śs][ćc](?:\s+w\s+biurze)?",
    # sv, da (and no)
    r"automatiskt\s+svar", r"automatisk\s+svar", r"autosvar",
    r"fr[åa]nvaro(?:meddelande)?", r"(?:inte|ej)\s+p[åa]\s+kontoret",
    r"frav[æa]r(?:ende|smeddelelse|sbesked)?", r"ikke\s+p[åa]\s+kontoret",
    r"ude\s+af\s+kontoret",
    # fi
    r"automaattinen\s+vastaus", r"poissa\s+toimistolta", r"poissaolo(?:ilmoitus|viesti)?",
    # ru
    r"автоматический\s+ответ", r"автоответ(?:чик)?", r"вне\s+офиса", r"нет\s+на\s+месте",
    r"отсутствие\s+(?:на\s+рабочем\s+месте|в\s+офисе)",
    # cs
    r"automatick[áa]\s+odpov[ěe]ď", r"automatick[áa]\s+zpr[áa]va", r"mimo\s+kancel[áa]ř",
    r"nep[řr][íi]tomnost", r"nep[řr][íi]tomn(?:[ýy]|[áa])",
    # et
    r"automaatne\s+vastus", r"automaatvastus", r"kontorist\s+v[äa]ljas",
    r"eemal\s+kontorist",
)
_CONTINUATION = (r"until|till|til|from|on|through|thru|for|re|aw|sv|bis|ab|vom|am|zum"
                 r"|jusqu|du|au|le|hasta|desde|del|el|fino|dal|al|tot|van|vanaf|t/m|at[ée]"
                 r"|de|do|od|fr[åa]n|fra|frem|kuni|alates|saakka|asti|до|с|по")
_AFTER = (r"(?:(?=\s*(?:$|[:：\-–—|()\[\],.;!/<>«»\"']))|\s+(?:" + _CONTINUATION + r")\b)")
_AUTO_SUBJECT = re.compile(
    r"^[\[(]?\s*(?:(?:" + "|".join(_ABSENCE_PHRASES) + r")" + _AFTER + r")",
    re.IGNORECASE)
_AUTO_SUBJECT_ANYWHERE = re.compile(
    r"\b(?:is|am|are)\s+out\s+of\s+(?:the\s+)?office\b"      # Lotus Notes: "X is out of..."
    r"|[\[(]\s*auto-?(?:reply|response|matic\s+reply)\s*[\])]",  # "... [Auto-Reply]"
    re.IGNORECASE)


def _auto_reply_subject(msg: ParsedMessage, ctx: ScreenContext) -> str | None:
    subject = _norm(" ".join((msg.subject or "").split()))
    if not subject:
        return None
    rest = _REPLY_PREFIX.sub("", subject, count=1)
    if _AUTO_SUBJECT.match(rest) or _AUTO_SUBJECT_ANYWHERE.search(subject):
        return f"subject {subject!r} is an automatic reply or absence notice"
    for pattern in ctx.extra_auto_reply_subjects:
        if re.match(pattern, rest, re.IGNORECASE):
            return f"subject {subject!r} matches the configured auto-reply pattern {pattern!r}"
    return None


def _throttle(msg: ParsedMessage, ctx: ScreenContext) -> str | None:
    addr = human_sender(msg, ctx)
    if addr and ctx.replied_recently(addr):
        return f"we already replied to {addr} within the throttle window"
    return None


# ---- the table --------------------------------------------------------------------------

RULES: tuple[Rule, ...] = (
    Rule("own-mail", "our own mail: our X-Loop, our Message-ID domain, or From one of "
         "the shop's configured addresses", _own_mail),
    Rule("report", "a report: multipart/report (bounce, read receipt, abuse report), "
         "a bounce sent without it (X-Failed-Recipients, bounce subject), or an abuse "
         "complaint outside ARF (abuse wording with the reported message attached or "
         "from an abuse desk)", _report),
    Rule("auto-submitted", "Auto-Submitted present and not \"no\" (RFC 3834)",
         _auto_submitted),
    Rule("autoreply-headers", "X-Autoreply, X-Autorespond, or X-Auto-Response-Suppress "
         "with All, OOF or AutoReply", _autoreply_headers),
    Rule("vendor-autoreply", "vendor auto-reply markers (X-Autogenerated, X-POST-"
         "MessageClass, X-FC-MachineGenerated, Exchange inbox rules, ...)",
         _vendor_autoreply),
    Rule("mailing-list", "mailing list or newsletter: List-Id, List-Unsubscribe, "
         "List-Post and other List-* headers; list manager notices (X-MLServer, X-ML-Name, "
         "X-Mailman-Version, listmaster@, list-manager@, *-admin@ on a list)", _mailing_list),
    Rule("precedence", "Precedence or X-Precedence bulk, junk, list or auto_reply",
         _precedence),
    Rule("system-sender", "sent by a system address (empty Return-Path, MAILER-DAEMON, "
         "postmaster, no-reply, list robots) with no person in Reply-To", _system_sender),
    Rule("no-reply-relay", "a relay or notification that says replies are not read, "
         "with no person in Reply-To", _no_reply_relay),
    Rule("autoreply-subject", "an auto-reply or absence subject in any supported "
         "language (\"Automatic reply\", \"Abwesenheitsnotiz\", ...)", _auto_reply_subject),
    Rule("throttle", "we already replied to this sender within the throttle window",
         _throttle),
)

"""Who is behind an address: a person, or a system (daemon, list robot, no-reply).

Pure functions on address strings, used by screening (which mail is automatic)
and by the data model (who a reply goes to).
"""
from __future__ import annotations

import re


def _addr(value: str | None) -> str:
    return (value or "").strip().strip("<>").strip().lower()


def _local(addr: str) -> str:
    local = addr.rsplit("@", 1)[0] if "@" in addr else addr
    return local.split("+", 1)[0].strip().strip('"').lower()


# System local parts. "strict" ones are never a person, wherever they appear
# (From, Sender, Return-Path); the no-reply family only matters in From/Reply-To,
# because contact forms legitimately use a noreply envelope sender.
_DAEMONS = {"mailer-daemon", "mailerdaemon", "mailer_daemon", "mail-daemon",
            "maildaemon", "mailer.daemon"}
_STRICT_EXACT = {"postmaster": "postmaster", "listserv": "LISTSERV",
                 "majordomo": "majordomo", "mailman": "mailman"}
#: The same, compared with "-", "_" and "." removed: "post_master", "Post-Master",
#: "list.master" are the same robots.
_STRICT_SQUASHED = {"postmaster": "postmaster", "listmaster": "list manager (listmaster)",
                    "listmanager": "list manager", "listmgr": "list manager",
                    "listadmin": "list manager", "listproc": "list manager (ListProc)",
                    "listserver": "list manager", "sympa": "list manager (Sympa)",
                    "ecartis": "list manager (Ecartis)"}
_NOREPLY_WORDS = ("noreply", "donotreply", "dontreply", "noreplies", "noresponse",
                  "nepasrepondre", "nichtantworten", "bittenichtantworten",
                  "noresponder", "noresponda", "naoresponda", "nonrispondere",
                  "nietbeantwoorden", "nieodpowiadac", "neodpovidat", "neotvechat",
                  "svaraej", "svarikke", "alavastaa", "argevasta")


def system_address_kind(addr: str, *, strict_only: bool = False) -> str | None:
    """Why ``addr`` is a system address (a short phrase), or None for a person."""
    addr = _addr(addr)
    if not addr:
        return None
    local = _local(addr)
    if local in _DAEMONS or local.startswith("mailer-daemon"):
        return "MAILER-DAEMON"
    if local in _STRICT_EXACT:
        return _STRICT_EXACT[local]
    squashed = re.sub(r"[-_.\s]", "", local)
    if squashed in _STRICT_SQUASHED:
        return _STRICT_SQUASHED[squashed]
    if local.startswith("owner-"):
        return "list owner (owner-*)"
    if local.endswith("-owner"):
        return "list owner (*-owner)"
    if local.endswith("-request"):
        return "list robot (*-request)"
    if strict_only:
        return None
    if local in ("bounce", "bounces") or local.endswith(("-bounces", "-bounce")):
        return "bounce handler"
    for word in _NOREPLY_WORDS:
        if word in squashed:
            return "no-reply address"
    return None


#: Local parts of abuse desks ("abuse@", "spam-reports@", "abuse_desk@"), compared with
#: "-", "_" and "." removed.
_ABUSE_DESK = re.compile(
    r"^(?:abuse|spam|fbl|phish(?:ing)?)(?:desk|team|dept|department|reports?|complaints?"
    r"|mailbox|box|center|centre)?$|^(?:report|reports)(?:abuse|spam|phish(?:ing)?)$")


def abuse_desk_address(addr: str | None) -> bool:
    """Is ``addr`` an abuse desk (abuse@, spam-reports@, report-phishing@...)?

    Not a system address: abuse desks are often read by people, so this only
    counts together with other signs of an abuse report."""
    local = _local(_addr(addr))
    return bool(local) and bool(_ABUSE_DESK.match(re.sub(r"[-_.\s]", "", local)))


def person_address(reply_to: str | None, from_addr: str | None, *,
                   own: frozenset[str] = frozenset()) -> str:
    """The address a reply goes to: ``Reply-To`` when it names a person (contact
    forms and shop relays put the customer there), else ``From``.

    A system address, or one of ``own`` (the shop's own addresses), is passed over
    when the other one is a person; when neither is, the first non-empty one is
    returned so the screening rules can name it.
    """
    candidates = [_addr(reply_to), _addr(from_addr)]
    for cand in candidates:
        if cand and cand not in own and not system_address_kind(cand):
            return cand
    for cand in candidates:
        if cand:
            return cand
    return ""

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
    squashed = re.sub(r"[-_.\s]", "", local)
    for word in _NOREPLY_WORDS:
        if word in squashed:
            return "no-reply address"
    return None


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

"""Presets for common mail providers: hosts, ports, folder names, and quirks.

``provider = "gmail"`` in an ``[[inbox]]`` section fills ``host``, ``port`` and
``security`` when they are not given (values written in the config always win).
The preset also tells the rest of responder what the provider does by itself
(Gmail files every message sent through its SMTP server in Sent Mail, so
responder must not append a second copy) and what the doctor should say when
something fails (app passwords, OAuth2-only login).

This module imports nothing from responder: config.py uses it while validating.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Preset:
    name: str
    title: str
    imap_host: str
    imap_port: int = 993
    imap_security: str = "tls"
    smtp_host: str = ""
    smtp_port: int = 587
    smtp_security: str = "starttls"
    # Folder names used when the server does not mark folders with SPECIAL-USE.
    sent_names: tuple[str, ...] = ("Sent",)
    drafts_names: tuple[str, ...] = ("Drafts",)
    # The provider files mail sent through its SMTP server in Sent by itself.
    saves_sent_copy: bool = False
    # Password login is switched off: XOAUTH2 is the only way in.
    oauth2_only: bool = False
    # What to tell a seller whose password login was refused.
    login_hint: str = ""
    aliases: tuple[str, ...] = field(default_factory=tuple)


PRESETS: dict[str, Preset] = {p.name: p for p in (
    Preset("gmail", "Gmail / Google Workspace", "imap.gmail.com",
           smtp_host="smtp.gmail.com", smtp_port=587,
           sent_names=("[Gmail]/Sent Mail", "[Google Mail]/Sent Mail"),
           drafts_names=("[Gmail]/Drafts", "[Google Mail]/Drafts"),
           saves_sent_copy=True,
           login_hint="Google accepts only an app password (Google Account > Security > "
                      "2-Step Verification > App passwords) or OAuth2 (auth = \"xoauth2\"); "
                      "your normal Google password does not work here. Also check that "
                      "IMAP is enabled in Gmail's settings (Forwarding and POP/IMAP)."),
    Preset("outlook", "Outlook.com / Microsoft 365", "outlook.office365.com",
           smtp_host="smtp.office365.com", smtp_port=587,
           sent_names=("Sent Items", "Sent"), drafts_names=("Drafts",),
           oauth2_only=True,
           login_hint="Microsoft has switched off password login for IMAP: set "
                      "auth = \"xoauth2\" with oauth2_token_command or oauth2_token_file. "
                      "For Microsoft 365 an administrator may also need to allow IMAP "
                      "for the mailbox.",
           aliases=("microsoft365", "office365", "hotmail")),
    Preset("fastmail", "Fastmail", "imap.fastmail.com",
           smtp_host="smtp.fastmail.com", smtp_port=465, smtp_security="tls",
           sent_names=("Sent",), drafts_names=("Drafts",),
           login_hint="Fastmail needs an app password (Settings > Privacy & Security > "
                      "App passwords), not your normal password."),
    Preset("icloud", "iCloud Mail", "imap.mail.me.com",
           smtp_host="smtp.mail.me.com", smtp_port=587,
           sent_names=("Sent Messages", "Sent"), drafts_names=("Drafts",),
           login_hint="iCloud needs an app-specific password (account.apple.com > "
                      "Sign-In and Security > App-Specific Passwords)."),
    Preset("yahoo", "Yahoo Mail", "imap.mail.yahoo.com",
           smtp_host="smtp.mail.yahoo.com", smtp_port=465, smtp_security="tls",
           sent_names=("Sent",), drafts_names=("Draft", "Drafts"),
           login_hint="Yahoo needs an app password (Account Info > Account security > "
                      "Generate app password), not your normal password."),
    Preset("zoho", "Zoho Mail", "imap.zoho.com",
           smtp_host="smtp.zoho.com", smtp_port=465, smtp_security="tls",
           sent_names=("Sent",), drafts_names=("Drafts",),
           login_hint="Zoho needs IMAP access switched on (Settings > Mail Accounts > "
                      "IMAP) and, with two-factor sign-in, an application-specific "
                      "password. Accounts in the EU use imap.zoho.eu: set host."),
)}

_ALIASES = {alias: p.name for p in PRESETS.values() for alias in p.aliases}

# Names mail programs commonly give these folders, tried after SPECIAL-USE flags.
COMMON_SENT_NAMES = ("Sent", "Sent Items", "Sent Messages", "Sent Mail", "INBOX.Sent",
                     "INBOX/Sent")
COMMON_DRAFTS_NAMES = ("Drafts", "Draft", "INBOX.Drafts", "INBOX/Drafts")


def names() -> list[str]:
    return sorted(PRESETS) + sorted(_ALIASES)


def get(name: str) -> Preset | None:
    """The preset called ``name`` (case-insensitive, aliases allowed), else None."""
    if not name:
        return None
    key = name.strip().lower()
    return PRESETS.get(_ALIASES.get(key, key))


def apply_preset(data: dict[str, Any], side: str = "imap") -> dict[str, Any]:
    """Fill host/port/security of an ``[[inbox]]`` (side "imap") or ``[smtp]`` (side
    "smtp") dict from its ``provider``.

    Keys written in the config win; returns a new dict (the input is untouched).
    Raises ValueError for an unknown provider name.
    """
    name = data.get("provider") or ""
    if not name:
        return data
    preset = get(str(name))
    if preset is None:
        raise ValueError(f"unknown provider {name!r}; known: {', '.join(names())} "
                         "(or leave provider empty and set host, port and security)")
    out = dict(data)
    out.setdefault("host", getattr(preset, f"{side}_host"))
    out.setdefault("port", getattr(preset, f"{side}_port"))
    out.setdefault("security", getattr(preset, f"{side}_security"))
    return out


def for_box(box: object) -> Preset | None:
    """The preset of an inbox section: by its provider key, else guessed by host.

    ``box`` is any object; its ``provider`` and ``host`` are read when it has them."""
    preset = get(getattr(box, "provider", "") or "")
    if preset is not None:
        return preset
    host = (getattr(box, "host", "") or "").lower()
    for p in PRESETS.values():
        if host == p.imap_host:
            return p
    return None


def server_saves_sent(box: object) -> bool:
    """True when responder must NOT append a Sent copy for this inbox."""
    mode = getattr(box, "sent_copy", "auto")
    if mode == "always":
        return False
    if mode == "never":
        return True
    preset = for_box(box)
    return bool(preset and preset.saves_sent_copy)


def sent_fallbacks(box: object) -> tuple[str, ...]:
    preset = for_box(box)
    return (preset.sent_names if preset else ()) + COMMON_SENT_NAMES


def drafts_fallbacks(box: object) -> tuple[str, ...]:
    preset = for_box(box)
    return (preset.drafts_names if preset else ()) + COMMON_DRAFTS_NAMES

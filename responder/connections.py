"""Every network connection responder opens goes through these factories.

Tests point them at real local servers (Dovecot, aiosmtpd) through config alone.
Errors are split by who must act: ``ConnectError`` (retry later: network) and
``AuthError`` (the operator must fix a password or token).
"""
from __future__ import annotations

import logging
import smtplib
import ssl

from imapclient import IMAPClient
from imapclient.exceptions import LoginError

log = logging.getLogger(__name__)


class ConnectError(Exception):
    """The server could not be reached or broke the connection: retry later."""


class AuthError(Exception):
    """The server refused the login: the operator must fix the credentials."""


def tls_context(verify: bool = True, ca_file: str = "") -> ssl.SSLContext:
    ctx = ssl.create_default_context(cafile=ca_file or None)
    if not verify:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    return ctx


def connect_imap(box) -> IMAPClient:
    """A logged-in IMAPClient for an ``[[inbox]]`` config section."""
    ctx = tls_context(box.verify_certificate, box.ca_file)
    try:
        client = IMAPClient(box.host, port=box.port, ssl=box.security == "tls",
                            ssl_context=ctx, timeout=box.timeout_seconds)
        if box.security == "starttls":
            client.starttls(ctx)
    except (OSError, ssl.SSLError) as exc:
        raise ConnectError(f"inbox {box.name!r}: cannot connect to {box.host}:{box.port} "
                           f"({box.security}): {exc}") from exc
    password = box.password()
    if password is None:
        client.logout()
        raise AuthError(f"inbox {box.name!r}: no password: set the environment variable "
                        f"{box.password_env or '(password_env)'} or inbox.password_file")
    try:
        client.login(box.username, password)
    except LoginError as exc:
        try:
            client.logout()
        except Exception:  # noqa: BLE001
            pass
        raise AuthError(f"inbox {box.name!r}: login refused for {box.username}: {exc}") from exc
    return client


def connect_smtp(cfg) -> smtplib.SMTP:
    """A connected (and, if configured, authenticated) SMTP client for ``[smtp]``."""
    ctx = tls_context(cfg.verify_certificate, cfg.ca_file)
    try:
        if cfg.security == "tls":
            client: smtplib.SMTP = smtplib.SMTP_SSL(cfg.host, cfg.port, context=ctx,
                                                    timeout=cfg.timeout_seconds)
        else:
            client = smtplib.SMTP(cfg.host, cfg.port, timeout=cfg.timeout_seconds)
            client.ehlo()
            if cfg.security == "starttls":
                client.starttls(context=ctx)
                client.ehlo()
    except (OSError, smtplib.SMTPException, ssl.SSLError) as exc:
        raise ConnectError(f"smtp: cannot connect to {cfg.host}:{cfg.port} "
                           f"({cfg.security}): {exc}") from exc
    if cfg.username:
        password = cfg.password()
        if password is None:
            client.close()
            raise AuthError(f"smtp: no password for {cfg.username}: set the environment "
                            f"variable {cfg.password_env} or smtp.password_file")
        try:
            client.login(cfg.username, password)
        except smtplib.SMTPAuthenticationError as exc:
            client.close()
            raise AuthError(f"smtp: login refused for {cfg.username}: "
                            f"{exc.smtp_code} {exc.smtp_error!r}") from exc
    return client


def find_special_folder(client: IMAPClient, flag: bytes, fallbacks: tuple[str, ...]) -> str | None:
    """The folder with SPECIAL-USE ``flag`` (e.g. rb'\\Sent'), else a usual name."""
    folders = client.list_folders()
    for flags, _delim, name in folders:
        if flag in flags:
            return name
    names = {name.lower(): name for _f, _d, name in folders}
    for candidate in fallbacks:
        if candidate.lower() in names:
            return names[candidate.lower()]
    return None

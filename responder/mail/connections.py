"""Every network connection responder opens goes through these factories.

Tests point them at real local servers (Dovecot, aiosmtpd) through config alone.
Errors are split by who must act: ``ConnectError`` (retry later: network) and
``AuthError`` (the operator must fix a password or token).
"""
from __future__ import annotations

import logging
import smtplib
import ssl
from typing import TYPE_CHECKING

from imapclient import IMAPClient
from imapclient.exceptions import IMAPClientError, LoginError

if TYPE_CHECKING:
    from responder.config import InboxSection, SmtpSection

log = logging.getLogger(__name__)

#: IMAPClient.list_folders(): (flags, delimiter, name) per folder
FolderList = list[tuple[tuple[bytes, ...], bytes, str]]


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


def open_imap(box: InboxSection) -> IMAPClient:
    """A connected IMAPClient for an ``[[inbox]]`` section, TLS done, not logged in.

    Certificates are checked unless ``verify_certificate = false``; every read and
    write has ``timeout_seconds``, so a hung server raises instead of hanging.
    """
    ctx = tls_context(box.verify_certificate, box.ca_file)
    try:
        client = IMAPClient(box.host, port=box.port, ssl=box.security == "tls",
                            ssl_context=ctx, timeout=box.timeout_seconds)
    except (OSError, ssl.SSLError, IMAPClientError) as exc:
        raise ConnectError(f"inbox {box.name!r}: cannot connect to {box.host}:{box.port} "
                           f"({box.security}): {exc}") from exc
    if box.security == "starttls":
        try:
            client.starttls(ctx)
        except (OSError, ssl.SSLError, IMAPClientError) as exc:
            close_imap(client)
            raise ConnectError(f"inbox {box.name!r}: STARTTLS with {box.host}:{box.port} "
                               f"failed: {exc}") from exc
    return client


def login_imap(client: IMAPClient, box: InboxSection) -> None:
    """Log in by password or OAuth2 (XOAUTH2). An expired token is refreshed once."""
    auth = getattr(box, "auth", "password")
    try:
        if auth == "xoauth2":
            from responder.mail.oauth import TokenError, source_for
            try:
                tokens = source_for(box)
                try:
                    client.oauth2_login(box.username, tokens.get())
                except LoginError:
                    # The cached token may have expired a moment ago: ask once more.
                    tokens.invalidate()
                    client.oauth2_login(box.username, tokens.get())
            except TokenError as exc:
                raise AuthError(str(exc)) from exc
        else:
            password = box.password()
            if password is None:
                raise AuthError(f"inbox {box.name!r}: no password: set the environment "
                                f"variable {box.password_env or '(password_env)'} or "
                                "inbox.password_file")
            client.login(box.username, password)
    except LoginError as exc:
        raise AuthError(f"inbox {box.name!r}: login refused for {box.username}: {exc}") from exc
    except (OSError, IMAPClientError) as exc:
        raise ConnectError(f"inbox {box.name!r}: connection lost while logging in to "
                           f"{box.host}:{box.port}: {exc}") from exc


def enable_condstore(client: IMAPClient) -> bool:
    """ENABLE CONDSTORE (RFC 7162) when offered, so SELECT reports HIGHESTMODSEQ."""
    try:
        if client.has_capability("CONDSTORE") and client.has_capability("ENABLE"):
            return b"CONDSTORE" in (client.enable("CONDSTORE") or [])
    except IMAPClientError as exc:   # a server that offers but refuses: carry on without
        log.debug("ENABLE CONDSTORE refused: %s", exc)
    return False


def connect_imap(box: InboxSection) -> IMAPClient:
    """A logged-in IMAPClient for an ``[[inbox]]`` config section (CONDSTORE enabled)."""
    client = open_imap(box)
    try:
        login_imap(client, box)
        enable_condstore(client)
    except BaseException:
        close_imap(client)
        raise
    return client


def close_imap(client: IMAPClient | None) -> None:
    """Log out, or drop the socket when the server is already gone. Never raises:
    every IMAP connection responder opens is closed through here."""
    if client is None:
        return
    try:
        client.logout()
    except (IMAPClientError, OSError, ssl.SSLError, ValueError) as exc:
        # the connection is broken or already closed; nothing to tell the server
        log.debug("IMAP logout failed (%s); closing the socket", exc)
        try:
            client.shutdown()
        except (IMAPClientError, OSError, ssl.SSLError, ValueError):
            pass


def close_smtp(client: smtplib.SMTP | None) -> None:
    """QUIT, or drop the socket when the server is already gone. Never raises."""
    if client is None:
        return
    try:
        client.quit()
    except (smtplib.SMTPException, OSError, ssl.SSLError) as exc:
        log.debug("SMTP QUIT failed (%s); closing the socket", exc)
        client.close()


def open_smtp(cfg: SmtpSection) -> smtplib.SMTP:
    """The bare connection for ``[smtp]``: implicit TLS (with the configured certificate
    checks) or plain, with the configured timeout; no EHLO, no STARTTLS, no login.
    Raises what smtplib and ssl raise: callers say what failed (``connect_smtp``,
    ``responder doctor``)."""
    if cfg.security == "tls":
        return smtplib.SMTP_SSL(cfg.host, cfg.port,
                                context=tls_context(cfg.verify_certificate, cfg.ca_file),
                                timeout=cfg.timeout_seconds)
    return smtplib.SMTP(cfg.host, cfg.port, timeout=cfg.timeout_seconds)


def connect_smtp(cfg: SmtpSection) -> smtplib.SMTP:
    """A connected (and, if configured, authenticated) SMTP client for ``[smtp]``."""
    try:
        client = open_smtp(cfg)
        if cfg.security != "tls":
            client.ehlo()
            if cfg.security == "starttls":
                client.starttls(context=tls_context(cfg.verify_certificate, cfg.ca_file))
                client.ehlo()
    except (OSError, smtplib.SMTPException, ssl.SSLError) as exc:
        raise ConnectError(f"smtp: cannot connect to {cfg.host}:{cfg.port} "
                           f"({cfg.security}): {exc}") from exc
    if getattr(cfg, "auth", "password") == "xoauth2":
        smtp_xoauth2_login(client, cfg)
    elif cfg.username:
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


def smtp_xoauth2_login(client: smtplib.SMTP, cfg: SmtpSection) -> None:
    """SMTP AUTH XOAUTH2 with a token from the configured source; one retry with a
    fresh token when the server refuses an expired one."""
    from responder.mail.oauth import TokenError, source_for
    try:
        source = source_for(cfg)
    except TokenError as exc:
        client.close()
        raise AuthError(str(exc)) from exc
    for attempt in (1, 2):
        try:
            token = source.get()
        except TokenError as exc:
            client.close()
            raise AuthError(str(exc)) from exc
        sasl = f"user={cfg.username}\x01auth=Bearer {token}\x01\x01"
        try:
            client.auth("XOAUTH2", lambda challenge=None, sasl=sasl: sasl,
                        initial_response_ok=True)
            return
        except smtplib.SMTPAuthenticationError as exc:
            if attempt == 1:
                source.invalidate()
                continue
            client.close()
            raise AuthError(f"smtp: XOAUTH2 login refused for {cfg.username}: "
                            f"{exc.smtp_code} {exc.smtp_error!r}") from exc


def find_special_folder(client: IMAPClient, flag: bytes, fallbacks: tuple[str, ...]) -> str | None:
    """The folder with SPECIAL-USE ``flag`` (RFC 6154, e.g. rb'\\Sent'), else a usual name.

    ``fallbacks`` are tried first, then the names mail programs commonly use.
    """
    from responder.providers import COMMON_DRAFTS_NAMES, COMMON_SENT_NAMES
    folders: FolderList = client.list_folders()
    for flags, _delim, name in folders:
        if flag in flags:
            return name
    common = {b"\\Sent": COMMON_SENT_NAMES, b"\\Drafts": COMMON_DRAFTS_NAMES}.get(flag, ())
    names = {name.lower(): name for _f, _d, name in folders}
    for candidate in tuple(fallbacks) + common:
        if candidate.lower() in names:
            return names[candidate.lower()]
    return None

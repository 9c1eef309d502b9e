"""``responder doctor``: check every connection step by step, explain failures plainly.

For each ``[[inbox]]``: DNS, TCP connection, TLS (certificate checked), login
(password or XOAUTH2), capabilities (IDLE, CONDSTORE, QRESYNC, SPECIAL-USE,
MOVE) and folders (the watched folder, Sent, Drafts). For ``[smtp]``: DNS,
connection, greeting, STARTTLS or TLS, and login. Each check is one line,
``OK``, ``WARN`` or ``FAIL``, with what it found or what to do. A failed step
skips the steps that need it.
"""
from __future__ import annotations

import smtplib
import socket
import ssl
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, NoReturn, cast

from imapclient.exceptions import CapabilityError, IMAPClientError

from responder import providers
from responder.config import ConfigError
from responder.core.clock import utcnow
from responder.mail.connections import (
    AuthError,
    ConnectError,
    close_imap,
    close_smtp,
    find_special_folder,
    login_imap,
    open_imap,
    open_smtp,
    tls_context,
)
from responder.providers import Preset

if TYPE_CHECKING:
    from imapclient import IMAPClient

    from responder.config import Config, InboxSection, SmtpSection

OK, WARN, FAIL = "OK", "WARN", "FAIL"
CERT_WARN_DAYS = 14


@dataclass
class Check:
    status: str
    scope: str
    name: str
    text: str

    def line(self) -> str:
        return f"{self.status:<4} {self.scope}: {self.name}: {self.text}"


class _Stop(Exception):
    """A step failed; the steps after it cannot run."""


class _Report:
    def __init__(self, scope: str) -> None:
        self.scope = scope
        self.checks: list[Check] = []

    def add(self, status: str, name: str, text: str) -> Check:
        check = Check(status, self.scope, name, text)
        self.checks.append(check)
        return check

    def fail(self, name: str, text: str) -> NoReturn:
        self.add(FAIL, name, text)
        raise _Stop()


def run(cfg: Config) -> list[Check]:
    """Every check for every inbox and the SMTP server."""
    checks: list[Check] = []
    if not cfg.inbox:
        checks.append(Check(WARN, "config", "inboxes",
                            "no [[inbox]] section: responder watches no mailbox (add one, "
                            "or use the SMTP ingress)"))
    for box in cfg.inbox:
        checks += check_inbox(box)
    checks += check_smtp(cfg.smtp)
    return checks


def failed(checks: list[Check]) -> bool:
    return any(c.status == FAIL for c in checks)


# ---- shared steps ----------------------------------------------------------------------
def _dns(r: _Report, host: str, port: int) -> None:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        r.fail("DNS", f"cannot find {host!r} in DNS ({exc.strerror}). Check the spelling of "
                      "host; if it is right, this computer may have no working internet or "
                      "DNS connection.")
    except UnicodeError:
        r.fail("DNS", f"{host!r} is not a valid host name: check host in the config.")
    addrs = sorted({str(info[4][0]) for info in infos})
    if addrs == [host]:
        r.add(OK, "DNS", f"{host} is an IP address: no DNS lookup needed")
        return
    r.add(OK, "DNS", f"{host} is {', '.join(addrs[:3])}" + (" ..." if len(addrs) > 3 else ""))


def _tcp(r: _Report, host: str, port: int, timeout: float, usual: str) -> None:
    start = time.monotonic()
    try:
        socket.create_connection((host, port), timeout=timeout).close()
    except ConnectionRefusedError:
        r.fail("connect", f"nothing accepts connections on port {port} of {host}: the port is "
                          f"probably wrong ({usual}), or the server is down.")
    except TimeoutError:
        r.fail("connect", f"no answer from {host} port {port} within {timeout:g} s: a firewall "
                          "may block this port (some networks block mail ports), or the host "
                          "or port is wrong.")
    except OSError as exc:
        r.fail("connect", f"cannot reach {host} port {port}: {exc.strerror or exc}. Check the "
                          "network connection, host and port.")
    r.add(OK, "connect", f"{host} port {port} accepts connections "
                         f"({(time.monotonic() - start) * 1000:.0f} ms)")


def _explain_tls(exc: BaseException, host: str, port: int, security: str, usual: str) -> str:
    cause = exc
    while cause.__cause__ is not None and not isinstance(cause, (ssl.SSLError, OSError,
                                                                 CapabilityError)):
        cause = cause.__cause__
    if isinstance(cause, ssl.SSLCertVerificationError):
        reason = cause.verify_message or str(cause)
        if "hostname" in reason.lower() or "ip address mismatch" in reason.lower():
            return (f"the server's certificate is not made out for {host!r} ({reason}). Use "
                    "the host name the provider documents (the one on the certificate).")
        if "expired" in reason.lower():
            return (f"the server's certificate has expired ({reason}). The server's "
                    "administrator must renew it; do not switch certificate checks off.")
        return (f"the server's certificate is not trusted ({reason}). If this is your own "
                "server with a self-signed certificate, set ca_file to its certificate; do "
                "not set verify_certificate = false for a server on the internet.")
    if isinstance(cause, CapabilityError) or "STARTTLS" in str(cause):
        return (f"the server does not offer STARTTLS on port {port}: use security = \"tls\" "
                f"({usual}).")
    text = str(cause)
    if isinstance(cause, ssl.SSLError) and ("WRONG_VERSION_NUMBER" in text.upper()
                                            or "wrong version" in text.lower()):
        return (f"port {port} does not speak TLS from the start: use security = \"starttls\" "
                f"or the TLS port ({usual}).")
    if isinstance(cause, (socket.timeout, TimeoutError)) or "timed out" in text:
        return (f"the server said nothing in time on port {port}: it probably expects TLS "
                f"from the start (security = \"tls\"), or it is overloaded ({usual}).")
    return f"secure connection failed: {text}"


def _cert_text(sock: socket.socket | None) -> tuple[str, str]:
    """(status, description) of the peer certificate of a TLS socket."""
    if not isinstance(sock, ssl.SSLSocket):
        return OK, "TLS in use"
    try:
        version = sock.version()
        cert = sock.getpeercert()
    except ValueError:
        return OK, "TLS in use"
    if not cert:
        return WARN, (f"{version}, but the certificate is NOT checked (verify_certificate = "
                      "false): anyone on the network path could read the password")
    # getpeercert() types every value as any of its shapes; "subject" is a tuple of RDNs
    rdns = cast("tuple[tuple[tuple[str, str], ...], ...]", cert.get("subject", ()))
    subject = dict(x[0] for x in rdns)
    name = subject.get("commonName", "?")
    try:
        until = datetime.fromtimestamp(ssl.cert_time_to_seconds(str(cert["notAfter"])), UTC)
    except (KeyError, ValueError):
        return OK, f"{version}, certificate for {name} checked"
    days = (until - utcnow()).days
    text = f"{version}, certificate for {name} checked, valid until {until:%Y-%m-%d}"
    if days < CERT_WARN_DAYS:
        return WARN, text + f": it expires in {days} day(s); the server must renew it"
    return OK, text


# ---- IMAP ------------------------------------------------------------------------------
CAPABILITIES = (
    ("IDLE", True, "new mail is pushed to responder within seconds",
     "no IDLE: responder polls every {poll} s instead (mail waits up to that long)"),
    ("CONDSTORE", True, "changes are tracked by modification sequence (RFC 7162)",
     "no CONDSTORE: fine, responder checks for new mail by UID (UIDNEXT)"),
    ("QRESYNC", True, "quick resynchronisation offered (RFC 7162)",
     "no QRESYNC: fine, responder needs only new arrivals, found by UID"),
    ("SPECIAL-USE", True, "the server names its Sent and Drafts folders (RFC 6154)",
     "no SPECIAL-USE: Sent and Drafts are found by their usual names; set sent_folder / "
     "drafts_folder if they are not found below"),
    ("MOVE", True, "MOVE offered (RFC 6851)",
     "no MOVE: responder does not need it today"),
)


def check_inbox(box: InboxSection) -> list[Check]:
    r = _Report(f"inbox {box.name}")
    preset = providers.for_box(box)
    usual = '993 with security = "tls", 143 with "starttls"'
    try:
        _config(r, box, preset)
        _dns(r, box.host, box.port)
        _tcp(r, box.host, box.port, box.timeout_seconds, usual)
        client = _imap_tls(r, box, usual)
        try:
            _imap_login(r, box, client, preset)
            _imap_capabilities(r, box, client)
            _imap_folders(r, box, client)
        finally:
            close_imap(client)
    except _Stop:
        pass
    return r.checks


def _config(r: _Report, box: InboxSection, preset: Preset | None) -> None:
    if preset is not None and box.provider:
        r.add(OK, "provider", f"{preset.title}: {box.host} port {box.port} ({box.security})")
    if preset is not None and preset.oauth2_only and box.auth == "password":
        r.add(WARN, "auth", f"{preset.title} has switched off password login for IMAP: "
                            "set auth = \"xoauth2\" with oauth2_token_command or "
                            "oauth2_token_file")
    if box.security == "none":
        r.add(WARN, "security", "security = \"none\": the password and all mail cross the "
                                "network unencrypted; use \"tls\" or \"starttls\"")
    if not box.verify_certificate:
        r.add(WARN, "certificate", "verify_certificate = false: anyone on the network path "
                                   "could pose as the server; set ca_file instead")
    if box.auth == "xoauth2":
        from responder.mail.oauth import TokenError, source_for
        try:
            source_for(box).get()
        except TokenError as exc:
            r.fail("token", f"{exc}. Fix the command or file so it prints a current access "
                            "token.")
        r.add(OK, "token", "an access token was obtained from "
                           + ("oauth2_token_command" if box.oauth2_token_command
                              else "oauth2_token_file"))


def _imap_tls(r: _Report, box: InboxSection, usual: str) -> IMAPClient:
    try:
        client = open_imap(box)
    except ConnectError as exc:
        name = "TLS" if box.security != "none" else "greeting"
        if box.security == "none":
            r.fail(name, f"no IMAP greeting from {box.host} port {box.port}: {exc.__cause__ or exc}"
                         f". Is this an IMAP port ({usual})?")
        r.fail(name, _explain_tls(exc, box.host, box.port, box.security, usual))
    if box.security == "none":
        r.add(WARN, "TLS", "not used (security = \"none\")")
    else:
        status, text = _cert_text(client.socket())
        r.add(status, "TLS", ("STARTTLS: " if box.security == "starttls" else "") + text)
    return client


def _imap_login(r: _Report, box: InboxSection, client: IMAPClient,
                preset: Preset | None) -> None:
    try:
        login_imap(client, box)
    except AuthError as exc:
        hint = preset.login_hint if preset is not None else (
            "Check username (often the full e-mail address) and the password; many "
            "providers require an app password for mail programs.")
        r.fail("login", f"the server refused the login for {box.username!r} ({_short(exc)}). "
                        + hint)
    except ConnectError as exc:
        r.fail("login", f"the connection broke during login: {_short(exc)}")
    r.add(OK, "login", f"logged in as {box.username} "
                       + ("with OAuth2 (XOAUTH2)" if box.auth == "xoauth2" else "with password"))


def _imap_capabilities(r: _Report, box: InboxSection, client: IMAPClient) -> None:
    try:
        caps = {c.decode("ascii", "replace").upper() for c in client.capabilities()}
    except IMAPClientError as exc:
        r.fail("capabilities", f"the server did not list its capabilities: {exc}")
    for name, _wanted, present, missing in CAPABILITIES:
        if name in caps:
            r.add(OK, name, present)
        else:
            r.add(WARN, name, missing.format(poll=box.poll_seconds))


def _imap_folders(r: _Report, box: InboxSection, client: IMAPClient) -> None:
    try:
        folders = client.list_folders()
    except IMAPClientError as exc:
        r.fail("folders", f"cannot list folders: {exc}")
    names = [name for _f, _d, name in folders]
    try:
        info = client.select_folder(box.folder, readonly=True)
    except IMAPClientError as exc:
        shown = ", ".join(names[:12]) + (" ..." if len(names) > 12 else "")
        r.add(FAIL, "folder", f"cannot open folder {box.folder!r} ({_short(exc)}). Set folder "
                              f"to one of: {shown}")
    else:
        r.add(OK, "folder", f"{box.folder}: {info.get(b'EXISTS', '?')} message(s), UIDVALIDITY "
                            f"{info.get(b'UIDVALIDITY', '?')}, next UID "
                            f"{info.get(b'UIDNEXT', '?')}")
    sent = box.sent_folder or find_special_folder(client, b"\\Sent",
                                                  providers.sent_fallbacks(box))
    if providers.server_saves_sent(box):
        r.add(OK, "Sent", f"{sent or 'Sent'}: the provider files sent replies itself; "
                          "responder appends no copy")
    elif sent:
        if box.sent_folder and box.sent_folder not in names:
            r.add(FAIL, "Sent", f"sent_folder {box.sent_folder!r} does not exist on the server")
        else:
            r.add(OK, "Sent", f"sent replies are copied to {sent!r}")
    else:
        r.add(WARN, "Sent", "no Sent folder found: sent replies will not be copied anywhere; "
                            "set sent_folder to the folder your mail program uses")
    drafts = box.drafts_folder or find_special_folder(client, b"\\Drafts",
                                                      providers.drafts_fallbacks(box))
    if drafts and (not box.drafts_folder or box.drafts_folder in names):
        r.add(OK, "Drafts", f"{drafts!r}" + (": drafts are put there for reps"
                                              if box.drafts_to_folder else ""))
    elif box.drafts_to_folder:
        r.add(FAIL, "Drafts", "drafts_to_folder = true but no Drafts folder was found: set "
                              "drafts_folder to the folder your mail program uses")
    else:
        r.add(WARN, "Drafts", "no Drafts folder found (only needed with drafts_to_folder)")


def _short(exc: BaseException) -> str:
    text = str(exc)
    return text if len(text) <= 200 else text[:200] + "..."


# ---- SMTP ------------------------------------------------------------------------------
def check_smtp(cfg: SmtpSection) -> list[Check]:
    r = _Report("smtp")
    usual = '587 with security = "starttls", 465 with "tls"'
    try:
        if cfg.security == "none":
            r.add(WARN, "security", "security = \"none\": replies and the password cross the "
                                    "network unencrypted")
        if not cfg.verify_certificate:
            r.add(WARN, "certificate", "verify_certificate = false: the server is not "
                                       "authenticated; set ca_file instead")
        _dns(r, cfg.host, cfg.port)
        _tcp(r, cfg.host, cfg.port, cfg.timeout_seconds, usual)
        client = _smtp_connect(r, cfg, usual)
        try:
            _smtp_login(r, cfg, client)
        finally:
            close_smtp(client)
    except _Stop:
        pass
    return r.checks


def _smtp_connect(r: _Report, cfg: SmtpSection, usual: str) -> smtplib.SMTP:
    ctx = tls_context(cfg.verify_certificate, cfg.ca_file)
    try:
        client = open_smtp(cfg)
    except (ssl.SSLError, TimeoutError) as exc:
        err = ConnectError(str(exc))
        err.__cause__ = exc
        r.fail("TLS" if cfg.security == "tls" else "greeting",
               _explain_tls(err, cfg.host, cfg.port, cfg.security, usual))
    except (OSError, smtplib.SMTPException) as exc:
        r.fail("greeting", f"no SMTP greeting from {cfg.host} port {cfg.port}: {exc}. Is this "
                           f"an SMTP port ({usual})?")
    try:
        code, _msg = client.ehlo()
    except (OSError, smtplib.SMTPException) as exc:
        r.fail("greeting", f"the server broke off after connecting: {exc}")
    r.add(OK, "greeting", f"{cfg.host} port {cfg.port} answers EHLO ({code})")
    if cfg.security == "tls":
        status, text = _cert_text(client.sock)
        r.add(status, "TLS", text)
    elif cfg.security == "starttls":
        if not client.has_extn("starttls"):
            client.close()
            r.fail("STARTTLS", f"the server does not offer STARTTLS on port {cfg.port}: use "
                               f"security = \"tls\" ({usual}), or ask the provider for the "
                               "submission port")
        try:
            client.starttls(context=ctx)
            client.ehlo()
        except (ssl.SSLError, OSError, smtplib.SMTPException) as exc:
            client.close()
            err = ConnectError(str(exc))
            err.__cause__ = exc
            r.fail("STARTTLS", _explain_tls(err, cfg.host, cfg.port, cfg.security, usual))
        status, text = _cert_text(client.sock)
        r.add(status, "STARTTLS", text)
    return client


def _smtp_login(r: _Report, cfg: SmtpSection, client: smtplib.SMTP) -> None:
    if not cfg.username:
        r.add(OK, "login", "no username: replies are sent without login (fine for a relay "
                           "that trusts this machine)")
        return
    if not client.has_extn("auth"):
        r.fail("login", "the server offers no login (AUTH) here"
                        + (" even after STARTTLS" if cfg.security == "starttls" else
                           ": most servers offer it only after STARTTLS (security = "
                           "\"starttls\")"))
    if getattr(cfg, "auth", "password") == "xoauth2":
        from responder.mail.connections import AuthError, smtp_xoauth2_login
        try:
            smtp_xoauth2_login(client, cfg)
        except AuthError as exc:
            r.fail("login", f"{exc}. Check the token command or file and that the token "
                            "allows sending mail (the SMTP scope).")
        r.add(OK, "login", f"logged in as {cfg.username} with XOAUTH2")
        return
    try:
        password = cfg.password()
    except ConfigError as exc:    # an unreadable password file
        r.fail("login", str(exc))
    if password is None:
        r.fail("login", f"no SMTP password: set the environment variable {cfg.password_env} "
                        "or smtp.password_file")
    try:
        client.login(cfg.username, password)
    except smtplib.SMTPAuthenticationError as exc:
        text = exc.smtp_error.decode("utf-8", "replace") if isinstance(
            exc.smtp_error, bytes) else str(exc.smtp_error)
        r.fail("login", f"the server refused the login for {cfg.username!r} ({exc.smtp_code} "
                        f"{text}). Check username and password; many providers need an app "
                        "password for mail programs.")
    except (smtplib.SMTPException, OSError) as exc:
        r.fail("login", f"login failed: {exc}")
    r.add(OK, "login", f"logged in as {cfg.username}")

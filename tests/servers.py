"""Real mail servers for tests: a private Dovecot (IMAP) and an SMTP capture sink.

Neither class depends on pytest.  Typical use (tests/ is on sys.path under
pytest's default import mode, so ``from servers import ...``)::

    from servers import Dovecot, SmtpSink

    with Dovecot() as imap:            # plain IMAP on imap.port, IMAPS on imap.tls_port
        c = imap.client()              # logged-in imapclient.IMAPClient
        c.append("INBOX", b"From: a@b\\r\\nSubject: hi\\r\\n\\r\\nbody\\r\\n")

    with SmtpSink(username="u", password="p", starttls=True) as smtp:
        ...                             # send to smtp.host:smtp.port
        msgs = smtp.wait_for(1)         # [CapturedMessage(mail_from, rcpt_tos, data, ...)]

Fixtures for conftest.py (the generators below are plain functions; wrap them)::

    import pytest
    from servers import dovecot_fixture, smtp_sink_fixture

    dovecot = pytest.fixture(scope="module")(dovecot_fixture)
    smtp_sink = pytest.fixture(smtp_sink_fixture)

Dovecot config notes: auth_failure_delay is 0 and the anvil auth penalty is
off (Dovecot's defaults would delay every login from 127.0.0.1 by 2-15 s after a
failed one); passwords live in one passwd-file per user so ``add_user`` works
while the server runs; ``reset_uidvalidity`` removes the INBOX's uidlist and
index files (the uidlist alone is not enough: Dovecot keeps UIDVALIDITY in its
index).

Dovecot is installed on demand by scripts/install-system-deps.sh (apt) when the
``dovecot`` binary is missing; see ``Dovecot.ensure_installed``.
"""

from __future__ import annotations

import dataclasses
import grp
import os
import pwd
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]
INSTALL_SCRIPT = PROJECT_ROOT / "scripts" / "install-system-deps.sh"
LOOPBACK = "127.0.0.1"
_SBIN_PATH = os.pathsep.join(["/usr/local/sbin", "/usr/sbin", "/sbin"])


# --------------------------------------------------------------------------- helpers


def _which(cmd: str) -> str | None:
    return shutil.which(cmd) or shutil.which(cmd, path=_SBIN_PATH)


def free_ports(n: int = 1, host: str = LOOPBACK) -> list[int]:
    """Return ``n`` distinct currently-free TCP ports on ``host``."""
    socks = []
    try:
        for _ in range(n):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind((host, 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def _port_bindable(host: str, port: int) -> bool:
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        s.bind((host, port))
        return True
    except OSError:
        return False
    finally:
        s.close()


def make_self_signed_cert(directory: os.PathLike, name: str = "cert") -> tuple[Path, Path]:
    """Create ``<name>.pem`` / ``<name>-key.pem`` in ``directory`` (CN=localhost,
    SAN DNS:localhost, IP:127.0.0.1).  The cert doubles as its own CA file."""
    directory = Path(directory)
    cert, key = directory / f"{name}.pem", directory / f"{name}-key.pem"
    openssl = _which("openssl")
    if not openssl:
        raise RuntimeError("openssl not found; run scripts/install-system-deps.sh")
    subprocess.run(
        [openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "3650",
         "-subj", "/CN=localhost",
         "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
         "-keyout", str(key), "-out", str(cert)],
        check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    return cert, key


# --------------------------------------------------------------------------- Dovecot


class Dovecot:
    """A private Dovecot IMAP server on loopback, started from a temp dir.

    Attributes after ``start()``: host, port (plain IMAP, STARTTLS available),
    tls_port (implicit TLS), user, password (the default account), cafile
    (self-signed cert for localhost/127.0.0.1, usable as CA), dir (temp dir).
    """

    def __init__(self, user: str = "seller@example.test", password: str = "secret",
                 *, auth_failure_delay: float = 0) -> None:
        self.host = LOOPBACK
        self.user = user
        self.password = password
        self.users = {user: password}
        # Dovecot's default is 2 s; 0 keeps failed-login tests fast.
        self.auth_failure_delay = auth_failure_delay
        self.port: int | None = None
        self.tls_port: int | None = None
        self.dir: Path | None = None
        self.cafile: Path | None = None
        self.proc: subprocess.Popen | None = None

    # ---- installation

    @staticmethod
    def ensure_installed() -> str:
        """Return the dovecot binary path, installing system deps if needed."""
        def found() -> str | None:
            path = _which("dovecot")
            # Debian layout: dovecot-imapd provides /usr/lib/dovecot/imap.
            libdir = Path("/usr/lib/dovecot")
            if path and (not libdir.is_dir() or (libdir / "imap").exists()):
                return path
            return None

        path = found()
        if path:
            return path
        if INSTALL_SCRIPT.exists():
            subprocess.run(["bash", str(INSTALL_SCRIPT)], check=False)
        path = found()
        if not path:
            raise RuntimeError(
                "dovecot (with IMAP) is not installed and scripts/install-system-deps.sh "
                "could not install it (needs apt-get and root or sudo); install "
                "dovecot-core dovecot-imapd openssl")
        return path

    # ---- users / paths

    def add_user(self, user: str, password: str) -> None:
        """Add an account; works before start() and while running."""
        self.users[user] = password
        if self.dir is not None:
            self._write_users()

    def maildir(self, user: str | None = None) -> Path:
        """The INBOX Maildir of ``user`` (default: the main user)."""
        assert self.dir is not None, "not started"
        local, _, domain = (user or self.user).partition("@")
        base = self.dir / "mail"
        if domain:
            base = base / domain
        return base / local / "Maildir"

    def _write_users(self) -> None:
        # One passwd-file per user (path with %u): Dovecot re-checks a loaded
        # passwd-file at most once per second, so a single shared file would
        # make a user added while running invisible for up to a second; a new
        # per-user file is always read fresh.
        assert self.dir is not None
        pdir = self.dir / "passwd"
        pdir.mkdir(exist_ok=True)
        for u, p in self.users.items():
            if "/" in u or u.startswith("."):
                raise ValueError(f"unsupported user name {u!r}")
            target = pdir / u
            line = f"{u}:{{PLAIN}}{p}\n"
            if target.exists() and target.read_text() == line:
                continue
            tmp = pdir / f".{u}.tmp"
            tmp.write_text(line)
            os.chmod(tmp, 0o644)
            os.replace(tmp, target)

    # ---- config

    def _config(self) -> str:
        d = self.dir
        root = os.geteuid() == 0
        if root:
            uid, gid = "nobody", _nogroup()
        else:
            uid = pwd.getpwuid(os.geteuid()).pw_name
            gid = grp.getgrgid(os.getegid()).gr_name
        lines = [
            f"base_dir = {d}/run",
            f"state_dir = {d}/state",
            f"log_path = {d}/dovecot.log",
            "protocols = imap",
            f"listen = {self.host}",
            "ssl = yes",
            f"ssl_cert = <{d}/cert.pem",
            f"ssl_key = <{d}/cert-key.pem",
            "disable_plaintext_auth = no",
            "auth_mechanisms = plain login",
            f"auth_failure_delay = {int(self.auth_failure_delay)} secs",
            "mail_fsync = never",
            # No anvil auth penalty: after a failed login Dovecot would otherwise
            # delay every later login from 127.0.0.1 by 2, 4, ... 15 s.
            "service anvil {",
            "  unix_listener anvil-auth-penalty {",
            "    mode = 0",
            "  }",
            "  chroot =" if os.geteuid() != 0 else "",
            "}",
            "passdb {",
            "  driver = passwd-file",
            f"  args = scheme=PLAIN username_format=%u {d}/passwd/%u",
            "}",
            "userdb {",
            "  driver = static",
            f"  args = uid={uid} gid={gid} home={d}/mail/%d/%n",
            "}",
            "mail_location = maildir:~/Maildir",
            "namespace inbox {",
            "  inbox = yes",
            "  separator = /",
            "  mailbox Drafts {",
            "    special_use = \\Drafts",
            "    auto = subscribe",
            "  }",
            "  mailbox Sent {",
            "    special_use = \\Sent",
            "    auto = subscribe",
            "  }",
            "}",
            "service imap-login {",
            "  inet_listener imap {",
            f"    address = {self.host}",
            f"    port = {self.port}",
            "  }",
            "  inet_listener imaps {",
            f"    address = {self.host}",
            f"    port = {self.tls_port}",
            "    ssl = yes",
            "  }",
        ]
        if not root:
            lines.append("  chroot =")
        lines.append("}")
        if not root:
            lines += [
                f"default_internal_user = {uid}",
                f"default_internal_group = {gid}",
                f"default_login_user = {uid}",
                "service imap-urlauth-login {",
                "  chroot =",
                "}",
            ]
        return "\n".join(lines) + "\n"

    # ---- lifecycle

    def start(self) -> Dovecot:
        binary = self.ensure_installed()
        if self.proc is not None:
            return self
        if self.dir is None:
            self.dir = Path(tempfile.mkdtemp(prefix="dovecot-"))
            os.chmod(self.dir, 0o755)  # mail uid (nobody) must traverse it
            self.cafile, _ = make_self_signed_cert(self.dir, "cert")
            mail = self.dir / "mail"
            mail.mkdir()
            if os.geteuid() == 0:
                os.chown(mail, pwd.getpwnam("nobody").pw_uid, grp.getgrnam(_nogroup()).gr_gid)
            self.port, self.tls_port = free_ports(2, self.host)
            self._write_users()
            (self.dir / "dovecot.conf").write_text(self._config())
        log = open(self.dir / "dovecot.stderr", "ab")
        try:
            self.proc = subprocess.Popen(
                [binary, "-F", "-c", str(self.dir / "dovecot.conf")],
                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True,  # own process group: killpg stops everything
            )
        finally:
            log.close()
        try:
            self._wait_ready(10.0)
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        pending = [self.port, self.tls_port]
        while pending:
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"dovecot exited with code {self.proc.returncode} during start\n"
                    + self.log_text())
            try:
                socket.create_connection((self.host, pending[0]), timeout=0.5).close()
                pending.pop(0)
                continue
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"dovecot did not accept on {self.host}:{pending[0]} within "
                    f"{timeout} s\n" + self.log_text())
            time.sleep(0.01)

    def log_text(self) -> str:
        """dovecot.log plus captured stdout/stderr (for error messages)."""
        out = []
        for name in ("dovecot.log", "dovecot.stderr"):
            p = self.dir / name if self.dir else None
            if p and p.exists():
                out.append(f"--- {name} ---\n" + p.read_text(errors="replace"))
        return "\n".join(out)

    def stop(self) -> None:
        """Kill the whole process group (SIGKILL) and wait; keeps the temp dir."""
        proc, self.proc = self.proc, None
        if proc is None:
            return
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait()
        # Child processes may hold the listening sockets a moment longer.
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and not all(
                _port_bindable(self.host, p) for p in (self.port, self.tls_port)):
            time.sleep(0.01)

    def restart(self) -> None:
        """Stop and start again with the same dir, ports, cert and mail."""
        self.stop()
        self.start()

    def reset_uidvalidity(self, user: str | None = None) -> None:
        """Stop, delete the INBOX's dovecot-uidlist (so Dovecot assigns a new
        UIDVALIDITY and renumbers UIDs), start again."""
        self.stop()
        # The uidlist alone is not enough: Dovecot would restore the old
        # UIDVALIDITY from its index, so drop the INBOX index files too.
        maildir = self.maildir(user)
        for pattern in ("dovecot-uidlist*", "dovecot.index*"):
            for f in maildir.glob(pattern):
                f.unlink()
        self.start()

    def close(self) -> None:
        """Stop and delete the temp dir."""
        self.stop()
        if self.dir is not None:
            shutil.rmtree(self.dir, ignore_errors=True)
            self.dir = None

    def __enter__(self) -> Dovecot:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.close()

    # ---- clients

    def ssl_context(self) -> ssl.SSLContext:
        """A client context that verifies this server's certificate."""
        return ssl.create_default_context(cafile=str(self.cafile))

    def client(self, user: str | None = None, password: str | None = None,
               *, tls: bool = False, timeout: float = 10):
        """A logged-in imapclient.IMAPClient (plain port, or the TLS port if tls)."""
        from imapclient import IMAPClient

        if user is None:
            user, password = self.user, self.password
        elif password is None:
            password = self.users[user]
        if tls:
            c = IMAPClient(self.host, port=self.tls_port, ssl=True,
                           ssl_context=self.ssl_context(), timeout=timeout)
        else:
            c = IMAPClient(self.host, port=self.port, ssl=False, timeout=timeout)
        c.login(user, password)
        return c


def _nogroup() -> str:
    for name in ("nogroup", "nobody"):
        try:
            grp.getgrnam(name)
            return name
        except KeyError:
            pass
    raise RuntimeError("no 'nogroup' or 'nobody' group on this system")


# --------------------------------------------------------------------------- SMTP sink


@dataclasses.dataclass
class CapturedMessage:
    mail_from: str
    rcpt_tos: list[str]
    data: bytes                 # raw DATA as received (after dot-unstuffing)
    tls: bool = False           # STARTTLS was in effect
    auth_user: str | None = None  # login name if the client authenticated
    peer: object = None


@dataclasses.dataclass
class Rejection:
    stage: str                  # "mail", "rcpt" or "data"
    code: int
    mail_from: str | None
    rcpt_tos: list[str]


class SmtpSink:
    """aiosmtpd Controller on 127.0.0.1 (free port) capturing every message.

    SmtpSink(username=None, password=None, *, starttls=False, require_starttls=False,
             auth_required=None)
      - username/password: offer AUTH PLAIN/LOGIN; wrong credentials get 535.
        ``auth_required`` (default: True when credentials are given) makes
        MAIL FROM fail with 530 until authenticated.  Without starttls, AUTH is
        allowed over plaintext.
      - starttls: offer STARTTLS with a self-signed cert (``cafile``).
    Failure injection: ``fail_next(n, code=451, stage="data")``.
    """

    def __init__(self, username: str | None = None, password: str | None = None,
                 *, starttls: bool = False, require_starttls: bool = False,
                 auth_required: bool | None = None) -> None:
        self.host = LOOPBACK
        self.port: int | None = None
        self.username = username
        self.password = password
        self.starttls = starttls or require_starttls
        self.require_starttls = require_starttls
        self.auth_required = (username is not None) if auth_required is None else auth_required
        self.cafile: Path | None = None
        self.dir: Path | None = None
        self.messages: list[CapturedMessage] = []
        self.rejections: list[Rejection] = []
        self.auth_failures = 0
        self._lock = threading.Lock()
        self._cond = threading.Condition(self._lock)
        self._fail: dict = {}   # stage -> [remaining, code, text]
        self._controller = None

    # ---- failure injection

    def fail_next(self, n: int = 1, code: int = 451, message: str | None = None,
                  stage: str = "data") -> None:
        """Reject the next ``n`` commands at ``stage`` ("mail", "rcpt", "data")
        with ``code`` (4xx temporary, 5xx permanent)."""
        if stage not in ("mail", "rcpt", "data"):
            raise ValueError(stage)
        if message is None:
            message = ("4.3.0 Temporary failure (test)" if code < 500
                       else "5.7.1 Rejected (test)")
        with self._lock:
            self._fail[stage] = [n, code, message]

    def _maybe_fail(self, stage: str, envelope) -> str | None:
        with self._lock:
            f = self._fail.get(stage)
            if not f or f[0] <= 0:
                return None
            f[0] -= 1
            self.rejections.append(Rejection(stage, f[1], envelope.mail_from,
                                             list(envelope.rcpt_tos)))
            return f"{f[1]} {f[2]}"

    # ---- aiosmtpd hooks (run in the controller's thread)

    async def handle_MAIL(self, server, session, envelope, address, mail_options):
        reply = self._maybe_fail("mail", envelope)
        if reply:
            return reply
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        reply = self._maybe_fail("rcpt", envelope)
        if reply:
            return reply
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(rcpt_options)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        reply = self._maybe_fail("data", envelope)
        if reply:
            return reply
        login = getattr(session.auth_data, "login", None)
        if isinstance(login, (bytes, bytearray)):
            login = login.decode("utf-8", "replace")
        data = envelope.original_content
        if data is None:
            data = envelope.content
        if isinstance(data, str):
            data = data.encode("utf-8", "surrogateescape")
        msg = CapturedMessage(
            mail_from=envelope.mail_from, rcpt_tos=list(envelope.rcpt_tos),
            data=bytes(data), tls=session.ssl is not None,
            auth_user=login if session.authenticated else None, peer=session.peer)
        with self._cond:
            self.messages.append(msg)
            self._cond.notify_all()
        return "250 OK: queued"

    def _authenticator(self, server, session, envelope, mechanism, auth_data):
        from aiosmtpd.smtp import AuthResult, LoginPassword

        if (isinstance(auth_data, LoginPassword)
                and auth_data.login == self.username.encode()
                and auth_data.password == self.password.encode()):
            return AuthResult(success=True, auth_data=auth_data)
        with self._lock:
            self.auth_failures += 1
        # handled=False makes aiosmtpd send "535 5.7.8"; success=False alone hangs.
        return AuthResult(success=False, handled=False)

    # ---- lifecycle

    def start(self) -> SmtpSink:
        import logging

        if self._controller is not None:
            return self
        logging.getLogger("mail.log").setLevel(logging.WARNING)
        kwargs = {}
        if self.starttls:
            if self.dir is None:
                self.dir = Path(tempfile.mkdtemp(prefix="smtpsink-"))
                self.cafile, self._keyfile = make_self_signed_cert(self.dir, "cert")
            ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            ctx.load_cert_chain(str(self.cafile), str(self._keyfile))
            kwargs["tls_context"] = ctx
            kwargs["require_starttls"] = self.require_starttls
        if self.username is not None:
            kwargs["authenticator"] = self._authenticator
            kwargs["auth_required"] = self.auth_required
            kwargs["auth_require_tls"] = self.starttls
        last_error = None
        for _ in range(5):  # free-port race: retry with another port
            self.port = free_ports(1, self.host)[0]
            controller = _SinkController(self, hostname=self.host, port=self.port,
                                         ready_timeout=10, **kwargs)
            try:
                controller.start()
            except Exception as e:  # pragma: no cover - rare
                last_error = e
                continue
            self._controller = controller
            return self
        raise RuntimeError(f"could not start SMTP sink: {last_error!r}")

    def stop(self) -> None:
        c, self._controller = self._controller, None
        if c is not None:
            c.stop()

    def close(self) -> None:
        self.stop()
        if self.dir is not None:
            shutil.rmtree(self.dir, ignore_errors=True)
            self.dir = None

    def __enter__(self) -> SmtpSink:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.close()

    # ---- inspection

    def ssl_context(self) -> ssl.SSLContext:
        """A client context that verifies this sink's STARTTLS certificate."""
        return ssl.create_default_context(cafile=str(self.cafile))

    def clear(self) -> None:
        with self._lock:
            self.messages.clear()
            self.rejections.clear()
            self._fail.clear()
            self.auth_failures = 0

    def wait_for(self, n: int = 1, timeout: float = 5.0) -> list[CapturedMessage]:
        """Block until at least ``n`` messages arrived; return a copy of them.
        Raises TimeoutError (with what did arrive) otherwise."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while len(self.messages) < n:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(
                        f"expected {n} message(s) within {timeout} s, got "
                        f"{len(self.messages)}; rejections: {self.rejections!r}")
                self._cond.wait(min(left, 0.05))
            return list(self.messages)


class SlowSmtpSink(SmtpSink):
    """An SmtpSink that records each message as soon as its DATA has arrived, then
    answers late: after ``reply_delay`` seconds, or never when ``drop_after_data``
    (the connection is closed instead of answering, as a server that crashed after
    taking the message would).  Both may be changed while the sink runs."""

    def __init__(self, *args, reply_delay: float = 0.0, drop_after_data: bool = False,
                 **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.reply_delay = reply_delay
        self.drop_after_data = drop_after_data

    async def handle_DATA(self, server, session, envelope):
        import asyncio

        reply = await super().handle_DATA(server, session, envelope)
        if not reply.startswith("250"):
            return reply
        if self.drop_after_data:
            server.transport.close()
            return reply                 # written to a closed transport: never arrives
        if self.reply_delay > 0:
            await asyncio.sleep(self.reply_delay)
        return reply

    def message_ids(self) -> list[str]:
        """The Message-ID header of every recorded message, in arrival order."""
        from email import message_from_bytes, policy

        with self._lock:
            return [str(message_from_bytes(m.data, policy=policy.default)["Message-ID"])
                    for m in self.messages]


def _make_sink_controller_class():
    from aiosmtpd.controller import Controller
    from aiosmtpd.smtp import SMTP

    class SinkController(Controller):
        def factory(self):
            kwargs = dict(self.SMTP_kwargs)
            # aiosmtpd warns (per connection) when AUTH is required without TLS;
            # that is deliberate here, so set the flag after construction.
            auth_required = kwargs.pop("auth_required", False)
            smtp = SMTP(self.handler, **kwargs)
            smtp._auth_required = auth_required
            return smtp

    return SinkController


def _SinkController(*args, **kwargs):
    global _sink_controller_class
    if _sink_controller_class is None:
        _sink_controller_class = _make_sink_controller_class()
    return _sink_controller_class(*args, **kwargs)


_sink_controller_class = None


# --------------------------------------------------------------------------- fixtures


def dovecot_fixture() -> Iterator[Dovecot]:
    """Generator for ``pytest.fixture(scope="module")(dovecot_fixture)``."""
    with Dovecot() as d:
        yield d


def smtp_sink_fixture() -> Iterator[SmtpSink]:
    """Generator for ``pytest.fixture(smtp_sink_fixture)``: plain sink, no AUTH/TLS."""
    with SmtpSink() as s:
        yield s


def smtp_sink_auth_tls_fixture() -> Iterator[SmtpSink]:
    """Sink offering STARTTLS and requiring AUTH as user/secret."""
    with SmtpSink(username="user", password="secret", starttls=True) as s:
        yield s

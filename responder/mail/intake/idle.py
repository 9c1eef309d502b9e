"""IMAP IDLE push (RFC 2177), one watcher thread per inbox, with reconnects.

Each ``IdleWatcher`` keeps one connection to its inbox:

    connect -> sync (catch up) -> IDLE -> wait for the server ...
        EXISTS (new mail) ........ DONE -> sync -> IDLE
        IDLE open for idle_renew_minutes (default 25; servers may end it at 30)
                                   DONE -> sync -> IDLE
        server silent for idle_keepalive_seconds (a hung connection, a NAT that
        forgot us) ............... DONE -> sync -> IDLE; a dead connection
                                   fails here within timeout_seconds
        BYE, EOF, time-out, error  reconnect after an exponential back-off with
                                   jitter (reconnect_min_seconds doubling up to
                                   reconnect_max_seconds), then sync again

Every sync goes by UID (intake/imap.py), so mail that arrived while the
connection was down or being rebuilt is picked up by the next sync, and nothing
is stored twice. A server without IDLE (or ``idle = false``) is polled by the
scheduler's ``poll:<inbox>`` job instead.

The state of every watcher (connecting, idling, backing off until T, last
error) is logged on each change and written to a small JSON status file that
``responder status`` reads (see ``status_path``).

Tests inject ``sleep`` (the back-off wait) and ``rng`` (the jitter) to check the
back-off schedule without waiting.
"""
from __future__ import annotations

import imaplib
import json
import logging
import os
import random
import select
import socket
import ssl
import tempfile
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from hashlib import sha1
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from imapclient import IMAPClient
from imapclient.exceptions import IMAPClientError

from responder.core.clock import utcnow
from responder.mail.connections import AuthError, ConnectError, close_imap, connect_imap

if TYPE_CHECKING:
    from responder.config import Config, InboxSection

log = logging.getLogger(__name__)

STATUS_FILE_ENV = "RESPONDER_STATUS_FILE"

# Errors after which the watcher reconnects (anything else is logged as a bug and
# handled the same way: a watcher thread never dies while responder runs).
NETWORK_ERRORS = (ConnectError, OSError, ssl.SSLError, socket.timeout, IMAPClientError,
                  imaplib.IMAP4.error, EOFError)




_ROUTINE = {"syncing", "idling"}


class ConnectionLost(Exception):
    """The server closed the connection or said BYE."""


# ---- back-off ----------------------------------------------------------------------
class Backoff:
    """Exponential back-off with "equal jitter": attempt n waits between half and all
    of min(maximum, first * factor**n) seconds. ``rng`` returns floats in [0, 1)."""

    def __init__(self, first: float = 1.0, maximum: float = 300.0, factor: float = 2.0,
                 rng: Callable[[], float] = random.random):
        self.first = first
        self.maximum = max(maximum, first)
        self.factor = factor
        self.rng = rng
        self.attempt = 0

    def ceiling(self, attempt: int) -> float:
        return min(self.maximum, self.first * self.factor ** min(attempt, 64))

    def next(self) -> float:
        base = self.ceiling(self.attempt)
        self.attempt += 1
        return base / 2 + (base / 2) * self.rng()

    def reset(self) -> None:
        self.attempt = 0


def announced(client: IMAPClient, *, after_select: bool) -> bool:
    """Has the server announced new (or removed) mail in lines imaplib kept aside?

    Mail that arrives after a sync's SELECT/EXAMINE is announced ("* n EXISTS") in the
    answers to the sync's later commands, or to IDLE itself before "+ idling"; imaplib
    files such lines in ``untagged_responses`` and they never reach the socket a watcher
    waits on, so without this check the mail would wait for the next keep-alive.
    ``after_select``: the SELECT's own EXISTS/RECENT lines are still there (the first).
    """
    kept = client._imap.untagged_responses
    skip = 1 if after_select else 0
    return (len(kept.get("EXISTS", [])) > skip or len(kept.get("RECENT", [])) > skip
            or bool(kept.get("EXPUNGE")))


_CHANGES = (b"EXISTS", b"RECENT", b"EXPUNGE")


def news_since_sync(client: IMAPClient) -> bool:
    """Did mail arrive (or go) since the sync that just ran on this connection?

    Call it right before IDLE. A server need not announce, to an IDLE that starts
    later, mail that landed after the sync's SELECT (Dovecot here did not within 40 s),
    so without this the mail would wait for the next keep-alive. A NOOP makes the
    server report such changes now; lines imaplib filed away during the sync count too.
    Clears those filed lines, so that :func:`announced` then sees only newer ones.
    """
    news = announced(client, after_select=True)
    _, lines = client.noop()
    news = news or any(len(r) >= 2 and r[1] in _CHANGES for r in lines)
    client._imap.untagged_responses.clear()
    return news


def idle_wakeup(started: float, last_traffic: float, renew_seconds: float,
                keepalive_seconds: float) -> tuple[float, str]:
    """When to end the current IDLE and why: ("renew") RFC 2177 asks clients to
    re-issue IDLE at least every 29 minutes; ("keepalive") the server has been
    silent too long, so check that the connection still works."""
    renew_at = started + renew_seconds
    quiet_at = last_traffic + keepalive_seconds
    if renew_at <= quiet_at:
        return renew_at, "renew"
    return quiet_at, "keepalive"


# ---- status --------------------------------------------------------------------------
@dataclass
class InboxStatus:
    inbox: str
    state: str = "starting"        # connecting, syncing, idling, polling, backing off, stopped
    since: str = ""
    detail: str = ""
    retry_at: str | None = None
    attempt: int = 0
    last_error: str | None = None
    last_error_at: str | None = None
    last_sync_at: str | None = None
    capabilities: list[str] = field(default_factory=list)
    pid: int = field(default_factory=os.getpid)
    updated_at: str = ""


#: one inbox's status as stored in the JSON file (``asdict`` of an InboxStatus)
StatusEntry = dict[str, Any]


def status_path(cfg: Config) -> Path:
    """Where the running service writes inbox connection states: $RESPONDER_STATUS_FILE,
    else next to an SQLite database file, else in the temp folder."""
    env = os.environ.get(STATUS_FILE_ENV)
    if env:
        return Path(env).expanduser()
    url = cfg.database_url
    if url.startswith("sqlite:///") and ":memory:" not in url:
        db = Path(url[len("sqlite:///"):].split("?", 1)[0])
        return db.with_name(db.name + ".inbox-status.json")
    digest = sha1(url.encode()).hexdigest()[:12]
    return Path(tempfile.gettempdir()) / f"responder-inbox-status-{digest}.json"


class StatusBoard:
    """The JSON file holding one ``InboxStatus`` per inbox (atomic rewrite)."""

    def __init__(self, path: Path | str | None) -> None:
        self.path = Path(path) if path else None
        self._lock = threading.Lock()
        self._entries: dict[str, StatusEntry] = {}

    def put(self, status: InboxStatus) -> None:
        status.updated_at = utcnow().isoformat(timespec="seconds")
        with self._lock:
            self._entries[status.inbox] = asdict(status)
            if self.path is None:
                return
            try:
                current = self.read()
                current.update(self._entries)
                self.path.parent.mkdir(parents=True, exist_ok=True)
                tmp = self.path.with_name(self.path.name + f".{os.getpid()}.tmp")
                tmp.write_text(json.dumps(current, indent=1, sort_keys=True), encoding="utf-8")
                os.replace(tmp, self.path)
            except OSError as exc:
                log.warning("cannot write inbox status file %s: %s", self.path, exc)

    def get(self, inbox: str) -> StatusEntry | None:
        with self._lock:
            if inbox in self._entries:
                return dict(self._entries[inbox])
        return self.read().get(inbox)

    def read(self) -> dict[str, StatusEntry]:
        if self.path is None:
            return {}
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def describe(entry: StatusEntry | None) -> str:
    """One line for ``responder status``: the connection state of one inbox."""
    if not entry:
        return "connection: unknown (responder run has not watched this inbox yet)"

    def hm(iso: str | None) -> str:
        if not iso:
            return "?"
        try:
            return datetime.fromisoformat(iso).strftime("%Y-%m-%d %H:%M:%S UTC")
        except ValueError:
            return iso

    state = entry.get("state", "?")
    text = f"connection: {state}"
    if state == "backing off":
        text += f" until {hm(entry.get('retry_at'))} (attempt {entry.get('attempt', 0)})"
    elif entry.get("since"):
        text += f" since {hm(entry.get('since'))}"
    if entry.get("detail"):
        text += f" ({entry['detail']})"
    if entry.get("last_error"):
        text += f"; last error at {hm(entry.get('last_error_at'))}: {entry['last_error']}"
    pid = entry.get("pid")
    if pid and state != "stopped" and not _pid_alive(int(pid)):
        text += f" [as last written by process {pid}, which is no longer running]"
    return text


# ---- the watcher ---------------------------------------------------------------------
class IdleWatcher:
    """Watch one inbox with IDLE in a thread; sync on every change; never give up.

    ``sync(client)`` runs one sync on the watcher's open connection (see
    ``service_sync``). ``connect(box)`` opens a logged-in connection
    (``connections.connect_imap``). ``sleep(seconds)`` is the back-off wait
    (default: interruptible by ``stop``). ``on_no_idle(box)`` is called once when
    the server has no IDLE: the scheduler then polls.
    """

    def __init__(self, box: InboxSection, sync: Callable[[IMAPClient], object], *,
                 connect: Callable[[InboxSection], IMAPClient] = connect_imap,
                 sleep: Callable[[float], object] | None = None,
                 rng: Callable[[], float] = random.random,
                 monotonic: Callable[[], float] = time.monotonic,
                 wallclock: Callable[[], datetime] = utcnow,
                 board: StatusBoard | None = None,
                 on_no_idle: Callable[[InboxSection], object] | None = None) -> None:
        self.box = box
        self._sync_fn = sync
        self._connect = connect
        self._stop = threading.Event()
        self._sleep = sleep or self._stop.wait
        self._mono = monotonic
        self._wallclock = wallclock
        self.board = board or StatusBoard(None)
        self.on_no_idle = on_no_idle
        self.backoff = Backoff(box.reconnect_min_seconds, box.reconnect_max_seconds, rng=rng)
        self.status = InboxStatus(inbox=box.name)
        self.client: IMAPClient | None = None
        self.thread: threading.Thread | None = None
        # stop() wakes the IDLE wait through this pair (objects, not bare fds: a write
        # after close fails instead of landing in a reused descriptor)
        self._wake_r, self._wake_w = socket.socketpair()
        # counters (logs, status, tests)
        self.connects = 0
        self.syncs = 0
        self.idles = 0
        self.idle_ends: deque[str] = deque(maxlen=100)     # why each IDLE ended
        self.delays: deque[float] = deque(maxlen=100)      # back-off waits

    # ---- lifecycle
    def start(self) -> IdleWatcher:
        self.thread = threading.Thread(target=self.run, name=f"idle:{self.box.name}",
                                       daemon=True)
        self.thread.start()
        return self

    def stop(self, timeout: float | None = 10.0) -> None:
        self._stop.set()
        try:
            self._wake_w.send(b"x")
        except OSError:
            pass
        if self.thread is not None and self.thread is not threading.current_thread():
            self.thread.join(timeout)

    @property
    def stopped(self) -> bool:
        return self._stop.is_set()

    def _set(self, state: str, detail: str = "", *, retry_at: str | None = None,
             **extra: object) -> None:
        now = self._wallclock().isoformat(timespec="seconds")
        before = self.status.state
        changed = state != before or detail != self.status.detail
        routine = {state, before} <= _ROUTINE     # the sync/IDLE cycle of a live connection
        if state != before and not routine:
            self.status.since = now
        self.status.state = state
        self.status.detail = detail
        self.status.retry_at = retry_at
        for key, value in extra.items():
            setattr(self.status, key, value)
        if changed:
            log.log(logging.DEBUG if routine else logging.INFO, "inbox %s: %s%s",
                    self.box.name, state, f" ({detail})" if detail else "")
        self.board.put(self.status)

    # ---- main loop
    def run(self) -> None:
        try:
            while not self.stopped:
                try:
                    if self._session() == "no-idle":
                        return
                except AuthError as exc:
                    self._failed(exc, level=logging.ERROR)
                except NETWORK_ERRORS + (ConnectionLost,) as exc:
                    self._failed(exc)
                except Exception as exc:  # noqa: BLE001 - a bug must not end the watcher
                    log.exception("inbox %s: unexpected error in the IDLE watcher",
                                  self.box.name)
                    self._failed(exc)
                finally:
                    self._drop_client()
        finally:
            if self.status.state != "polling":      # handed over to the poll job: keep that
                self._set("stopped")
            self._wake_r.close()
            self._wake_w.close()

    def _failed(self, exc: BaseException, level: int = logging.WARNING) -> None:
        if self.stopped:
            return
        delay = self.backoff.next()
        self.delays.append(delay)
        until = self._wallclock() + timedelta(seconds=delay)
        text = f"{type(exc).__name__}: {exc}" if not isinstance(
            exc, (ConnectError, AuthError, ConnectionLost)) else str(exc)
        log.log(level, "inbox %s: %s; reconnecting in %.3g s (attempt %d)",
                self.box.name, text, delay, self.backoff.attempt)
        self._set("backing off", retry_at=until.isoformat(timespec="seconds"),
                  attempt=self.backoff.attempt, last_error=text[:500],
                  last_error_at=self._wallclock().isoformat(timespec="seconds"))
        self._sleep(delay)

    def _drop_client(self) -> None:
        client, self.client = self.client, None
        if client is None:
            return
        try:
            client.shutdown()
        except Exception as exc:  # noqa: BLE001 - in a finally: must not end the watcher
            log.debug("inbox %s: closing the dropped connection: %s", self.box.name, exc)

    def _session(self) -> str:
        box = self.box
        self._set("connecting", f"{box.host}:{box.port} ({box.security})",
                  attempt=self.backoff.attempt)
        self.client = client = self._connect(box)
        self.connects += 1
        caps = [c.decode("ascii", "replace") for c in client.capabilities()]
        self.status.capabilities = caps
        if "IDLE" not in caps:
            self._set("polling", f"the server has no IDLE: polling every {box.poll_seconds} s")
            close_imap(client)
            self.client = None
            if self.on_no_idle is not None:
                self.on_no_idle(box)
            return "no-idle"
        self._do_sync(client)          # catch up on whatever arrived while we were away
        self.backoff.reset()
        while not self.stopped:
            self._idle_once(client)
            if self.stopped:
                break
            self._do_sync(client)
        self._logout(client)
        return "stopped"

    def _do_sync(self, client: IMAPClient) -> None:
        self._set("syncing", self.status.detail if self.status.state == "syncing" else "")
        self._sync_fn(client)
        self.syncs += 1
        self.status.last_sync_at = self._wallclock().isoformat(timespec="seconds")

    def _idle_once(self, client: IMAPClient) -> str:
        """One IDLE command: returns why it ended (new mail, renew, keepalive, check)."""
        box = self.box
        renew = box.idle_renew_minutes * 60
        keepalive = box.idle_keepalive_seconds
        news = news_since_sync(client)      # every IDLE follows a sync of this connection
        client.idle()
        self.idles += 1
        started = last_traffic = self._mono()
        self._set("idling", f"IDLE re-issued every {box.idle_renew_minutes:g} min")
        why = "stop"
        try:
            if news or announced(client, after_select=False):
                why = "announced"            # arrived during the sync: sync again now
            while why != "announced" and not self.stopped:
                wake_at, reason = idle_wakeup(started, last_traffic, renew, keepalive)
                remaining = wake_at - self._mono()
                if remaining <= 0:
                    why = reason
                    break
                readable = self._wait_readable(client, remaining)
                if readable == "stop":
                    break
                if not readable:
                    continue
                responses = client.idle_check(timeout=0)
                if not responses:
                    # Readable but nothing to read: the server closed the connection
                    # (or half a TLS record came in). DONE tells which.
                    why = "check"
                    break
                last_traffic = self._mono()
                for resp in responses:
                    if len(resp) >= 1 and resp[0] == b"BYE":
                        raise ConnectionLost(f"inbox {box.name!r}: the server ended the "
                                             f"connection: {resp!r}")
                if any(len(r) >= 2 and r[1] in (b"EXISTS", b"RECENT") for r in responses):
                    why = "new mail"
                    break
        finally:
            self.idle_ends.append(why)
            # DONE is answered within timeout_seconds by a live server; a dead or hung
            # connection raises here and the watcher reconnects.
            client.idle_done()
        return why

    def _wait_readable(self, client: IMAPClient, timeout: float) -> bool | Literal["stop"]:
        poller = select.poll()
        sock = client.socket()
        poller.register(sock.fileno(), select.POLLIN | select.POLLPRI)
        poller.register(self._wake_r.fileno(), select.POLLIN)
        events = poller.poll(max(0, timeout) * 1000)
        fds = {fd for fd, _ev in events}
        if self._wake_r.fileno() in fds or self.stopped:
            return "stop"
        if not events:
            # SSL may hold decrypted bytes the kernel socket no longer shows.
            pending = getattr(sock, "pending", None)
            return bool(pending and pending())
        return True

    def _logout(self, client: IMAPClient) -> None:
        close_imap(client)
        self.client = None


# ---- wiring to the service and the scheduler -------------------------------------------

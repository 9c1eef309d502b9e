"""Many IDLE connections in one worker, without a thread per inbox.

One *selector thread* waits (``select.poll``) on the sockets of every connection
that is in IDLE, and on the timers of all of them (IDLE renewal, keep-alive check,
reconnect back-off). When a socket turns readable or a timer is due, the inbox is
handed to a small *thread pool* (``[cluster] connection_threads``) that does the
blocking part: read the server's lines, DONE, sync by UID through the fenced
repository, IDLE again; then the socket goes back to the selector. An inbox is in at
most one place at a time (selector, pool, or back-off), so its connection is never
used by two threads.

Limits: a sync occupies a pool thread for its duration (a large first sync of one
inbox delays others behind it when all threads are busy); the selector thread wakes
at least every second; each connection costs one socket and one IMAPClient object,
and the process's open file limit (``ulimit -n``) is the real bound.

The IMAP state machine (IDLE, renew, keep-alive, back-off) is the one of
``mail/intake/idle.py`` (its ``Backoff`` and ``idle_wakeup`` are used here); only
the scheduling differs.
"""
from __future__ import annotations

import logging
import select
import socket
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from responder.cluster.leases import Lease, LeaseLost
from responder.mail.connections import AuthError, close_imap, connect_imap
from responder.mail.intake.idle import (
    NETWORK_ERRORS,
    Backoff,
    ConnectionLost,
    announced,
    idle_wakeup,
    news_since_sync,
)

if TYPE_CHECKING:
    from imapclient import IMAPClient

    from responder.config import InboxSection

log = logging.getLogger(__name__)

SyncFn = Callable[["InboxSection", Lease, "IMAPClient"], None]


@dataclass
class Watch:
    box: InboxSection
    lease: Lease
    backoff: Backoff
    client: IMAPClient | None = None
    state: str = "waiting"            # waiting (connect at retry_at), busy, idle, closed
    retry_at: float = 0.0
    idle_started: float = 0.0
    last_traffic: float = 0.0
    stopping: bool = False
    idling: bool = False              # an IDLE command is open on the connection
    then: list[Callable[[], None]] = field(default_factory=list)
    syncs: int = 0
    last_error: str = ""


class Watchers:
    """The inboxes one worker watches. ``add`` starts watching (under a lease),
    ``remove`` stops (then runs a callback, e.g. releasing the lease)."""

    def __init__(self, sync: SyncFn, *, threads: int, worker_id: str,
                 connect: Callable[[InboxSection], IMAPClient] = connect_imap,
                 on_lost: Callable[[Lease], None] | None = None) -> None:
        self._sync = sync
        self._connect = connect
        self._on_lost = on_lost
        self.worker_id = worker_id
        self._pool = ThreadPoolExecutor(threads, thread_name_prefix="imap")
        self._lock = threading.Lock()
        self._watches: dict[str, Watch] = {}
        self._stop = threading.Event()
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._thread: threading.Thread | None = None

    # ---- control
    def start(self) -> Watchers:
        self._thread = threading.Thread(target=self._loop, name="imap-selector", daemon=True)
        self._thread.start()
        return self

    def watching(self) -> dict[str, Watch]:
        with self._lock:
            return dict(self._watches)

    def add(self, box: InboxSection, lease: Lease) -> None:
        with self._lock:
            current = self._watches.get(box.name)
            if current is not None and not current.stopping:
                current.lease = lease          # the next sync writes under the new token
                return
            # (a watch still closing after a lost lease finishes on its own: _close only
            # removes the entry that is its own)
            self._watches[box.name] = Watch(box, lease, Backoff(
                box.reconnect_min_seconds, box.reconnect_max_seconds))
        self._wake()

    def remove(self, inbox: str, then: Callable[[], None] | None = None) -> None:
        """Stop watching ``inbox``: close its connection (at once if idle or waiting,
        else when its current sync ends), then call ``then``."""
        with self._lock:
            w = self._watches.get(inbox)
            if w is None:
                if then is not None:
                    then()
                return
            w.stopping = True
            if then is not None:
                w.then.append(then)
            if w.state in ("idle", "waiting"):
                w.state = "busy"
                self._pool.submit(self._guarded, w, "stop")
        self._wake()

    def stop(self, timeout: float = 10.0) -> None:
        for name in list(self.watching()):
            self.remove(name)
        deadline = time.monotonic() + timeout
        while self.watching() and time.monotonic() < deadline:
            time.sleep(0.05)
        self._stop.set()
        self._wake()
        if self._thread is not None:
            self._thread.join(timeout)
        self._pool.shutdown(wait=False, cancel_futures=True)

    def _wake(self) -> None:
        try:
            self._wake_w.send(b"x")
        except OSError:
            pass

    # ---- the selector thread
    def _loop(self) -> None:
        while not self._stop.is_set():
            now = time.monotonic()
            poller = select.poll()
            poller.register(self._wake_r.fileno(), select.POLLIN)
            by_fd: dict[int, Watch] = {}
            timeout = 1.0
            due: list[tuple[Watch, str]] = []
            with self._lock:
                for w in self._watches.values():
                    if w.state == "waiting":
                        if w.retry_at <= now:
                            due.append((w, "connect"))
                        else:
                            timeout = min(timeout, w.retry_at - now)
                    elif w.state == "idle" and w.client is not None:
                        box = w.box
                        wake_at, why = idle_wakeup(w.idle_started, w.last_traffic,
                                                   box.idle_renew_minutes * 60,
                                                   box.idle_keepalive_seconds)
                        sock = w.client.socket()
                        pending = getattr(sock, "pending", None)
                        if pending is not None and pending():
                            due.append((w, "readable"))
                        elif wake_at <= now:
                            due.append((w, why))
                        else:
                            timeout = min(timeout, wake_at - now)
                            by_fd[sock.fileno()] = w
                            poller.register(sock.fileno(), select.POLLIN | select.POLLPRI)
                for w, _why in due:
                    w.state = "busy"
            for w, why in due:
                self._pool.submit(self._guarded, w, why)
            if due:
                continue
            try:
                events = poller.poll(max(0.0, timeout) * 1000)
            except InterruptedError:
                continue
            ready: list[Watch] = []
            with self._lock:
                for fd, _ev in events:
                    if fd == self._wake_r.fileno():
                        self._drain()
                        continue
                    w = by_fd[fd]
                    if w.state == "idle":
                        w.state = "busy"
                        ready.append(w)
            for w in ready:
                self._pool.submit(self._guarded, w, "readable")

    def _drain(self) -> None:
        try:
            while self._wake_r.recv(4096):
                pass
        except (BlockingIOError, OSError):
            pass

    # ---- the pool's work on one inbox
    def _guarded(self, w: Watch, why: str) -> None:
        try:
            self._step(w, why)
        except LeaseLost as exc:
            log.warning("%s; closing the connection", exc)
            self._close(w)
            if self._on_lost is not None:
                self._on_lost(w.lease)
        except AuthError as exc:
            self._failed(w, exc, logging.ERROR)
        except NETWORK_ERRORS + (ConnectionLost,) as exc:
            self._failed(w, exc, logging.WARNING)
        except Exception as exc:  # noqa: BLE001 - a bug must not end the watch; logged
            log.exception("inbox %s: unexpected error while watching", w.box.name)
            self._failed(w, exc, logging.ERROR)
        finally:
            self._wake()

    def _step(self, w: Watch, why: str) -> None:
        if w.stopping:
            self._close(w)
            return
        client = w.client
        if client is None:
            client = w.client = self._connect(w.box)
            if b"ID" in client.capabilities():
                # names this worker in the server's log (the chaos benchmark's ground truth)
                client.id_({"name": "responder-watch", "x-worker": self.worker_id})
            w.backoff.reset()
        else:
            if why == "readable":
                responses = client.idle_check(timeout=0)
                for resp in responses:
                    if len(resp) >= 1 and resp[0] == b"BYE":
                        raise ConnectionLost(f"inbox {w.box.name!r}: the server ended the "
                                             f"connection: {resp!r}")
                news = any(len(r) >= 2 and r[1] in (b"EXISTS", b"RECENT", b"EXPUNGE")
                           for r in responses)
                if responses and not news:          # "* OK still here": keep idling
                    w.last_traffic = time.monotonic()
                    self._back_to_idle(w)
                    return
            w.idling = False
            client.idle_done()
        self._sync(w.box, w.lease, client)
        w.syncs += 1
        if w.stopping:
            self._close(w)
            return
        # Mail that arrived during the sync is not always announced to the IDLE that
        # follows (see news_since_sync); lines announced in IDLE's own answer are filed
        # away by imaplib and never reach the socket the selector watches (announced).
        news = news_since_sync(client)
        client.idle()
        w.idling = True
        w.idle_started = w.last_traffic = time.monotonic()
        self._back_to_idle(w, due_now=news or announced(client, after_select=False))

    def _back_to_idle(self, w: Watch, due_now: bool = False) -> None:
        with self._lock:
            if w.stopping:
                w.state = "busy"
                self._pool.submit(self._guarded, w, "stop")
            elif due_now:
                w.state = "busy"
                self._pool.submit(self._guarded, w, "new mail")
            else:
                w.state = "idle"

    def _failed(self, w: Watch, exc: BaseException, level: int) -> None:
        client, w.client = w.client, None
        w.idling = False
        if client is not None:
            try:
                client.shutdown()
            except (OSError, *NETWORK_ERRORS):
                pass
        if w.stopping:
            self._close(w)
            return
        delay = w.backoff.next()
        w.last_error = f"{type(exc).__name__}: {exc}"[:300]
        log.log(level, "inbox %s: %s; reconnecting in %.3g s", w.box.name, w.last_error, delay)
        with self._lock:
            w.retry_at = time.monotonic() + delay
            w.state = "waiting"

    def _close(self, w: Watch) -> None:
        client, w.client = w.client, None
        if client is not None and w.idling:
            w.idling = False
            try:
                client.idle_done()          # end IDLE so that LOGOUT is understood
            except (OSError, *NETWORK_ERRORS) as exc:
                log.debug("inbox %s: ending IDLE before logout: %s", w.box.name, exc)
        close_imap(client)
        with self._lock:
            w.state = "closed"
            if self._watches.get(w.box.name) is w:
                del self._watches[w.box.name]
            callbacks, w.then = w.then, []
        for callback in callbacks:
            try:
                callback()
            except Exception:  # noqa: BLE001 - a callback's failure is logged, not fatal
                log.exception("inbox %s: after closing", w.box.name)

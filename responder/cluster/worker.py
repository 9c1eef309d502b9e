"""``responder worker``: one of any number of processes sharing one PostgreSQL database.

A worker does two things at once:

* runs procrastinate's worker (``[cluster] concurrency`` jobs at a time) for the
  jobs of ``jobs.py``: decide, release a hold, send, the sweeps;
* watches its share of the inboxes: a *lease keeper* thread renews its leases every
  ``heartbeat_seconds``, gives up those it lost, takes expired ones up to its fair
  share (inboxes / workers alive) and hands extra ones back when other workers join;
  the inboxes it holds are watched with IDLE by ``watch.Watchers``.

A worker that dies leaves its leases to expire: another worker takes each inbox
within ``lease_seconds + heartbeat_seconds`` (plus the time to log in), and any job
it was running goes back to the queue when procrastinate sees its heartbeat stop.
A worker that was stopped (SIGSTOP, a long GC pause, a frozen VM) and wakes up after
its lease expired cannot store anything for the inboxes it lost (fencing, see
leases.py) and closes those connections on its next heartbeat.
"""
from __future__ import annotations

import asyncio
import logging
import math
import signal
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from imapclient.exceptions import IMAPClientError
from sqlalchemy import event, text
from sqlalchemy.exc import SQLAlchemyError

from responder.cluster.jobs import (
    ClusterRepository,
    Jobs,
    build_app,
    ensure_schema,
    run_procrastinate,
)
from responder.cluster.leases import FencedRepository, Lease, LeaseStore, new_worker_id
from responder.cluster.watch import Watchers
from responder.config import Config
from responder.core.clock import Clock, utcnow
from responder.core.cooling import CoolingPolicy
from responder.mail.connections import AuthError, ConnectError
from responder.mail.drafts_folder import scan_sent
from responder.mail.intake.imap import sync_inbox
from responder.store.repository import Repository, make_engine

if TYPE_CHECKING:
    from imapclient import IMAPClient

    from responder.app.service import Service
    from responder.config import InboxSection

log = logging.getLogger(__name__)

# pg_advisory_lock key: one worker at a time migrates the schema at start-up
SCHEMA_LOCK = 0x7265_7370_6F6E


WARM_UP_MAIL = (b"From: Warm Up <warm-up@example.test>\r\nTo: support@example.test\r\n"
                b"Subject: Where is my order?\r\nMessage-ID: <warm-up@example.test>\r\n\r\n"
                b"Hello, where is my order 123? Thank you.\r\n")


class ClusterError(Exception):
    """The cluster mode cannot start: the message says what to change."""


def require_cluster(cfg: Config) -> None:
    if not cfg.cluster.enabled:
        raise ClusterError("the cluster mode is off: set enabled = true in the [cluster] "
                           "section of the config (and use PostgreSQL), or use "
                           "`responder run` on one machine")
    url = cfg.database_url
    if not url.startswith("postgresql"):
        shown = url.split("://", 1)[0]
        raise ClusterError(f"[cluster] needs PostgreSQL: database_url is a {shown} database; "
                           "set database_url = \"postgresql+psycopg://user@host/db\" (all "
                           "workers share it). SQLite works only with `responder run`.")


def open_cluster_repository(cfg: Config) -> Repository:
    """Migrate (responder's tables and procrastinate's schema) under an advisory lock,
    so that workers starting together do not race, and open the repository."""
    from responder.store import migrations
    engine = make_engine(cfg.database_url)
    idle_ms = int(cfg.cluster.lease_seconds * 1000)

    @event.listens_for(engine, "connect")
    def _bounded_transactions(dbapi_conn: Any, _record: Any) -> None:
        # A worker frozen inside a transaction (SIGSTOP) must not keep its lease row
        # locked forever: the server ends such a session after one lease.
        cur = dbapi_conn.cursor()
        cur.execute(f"SET idle_in_transaction_session_timeout = {idle_ms}")
        cur.close()
        dbapi_conn.commit()

    app = build_app(cfg.database_url, None)
    with engine.connect() as conn:
        conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": SCHEMA_LOCK})
        try:
            conn.commit()
            migrations.upgrade(engine)
            with engine.begin() as schema_conn:
                if ensure_schema(app, schema_conn):
                    log.info("procrastinate's schema applied to the database")
        finally:
            conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": SCHEMA_LOCK})
            conn.commit()
    return Repository(engine)


class ClusterWorker:
    def __init__(self, cfg: Config, *, service: Service | None = None,
                 clock: Clock = utcnow, worker_id: str | None = None) -> None:
        require_cluster(cfg)
        self.cfg = cfg
        self.clock = clock
        self.worker_id = worker_id or new_worker_id()
        base = open_cluster_repository(cfg)
        self.repo = ClusterRepository(base, cfg.cluster.release_horizon_seconds)
        if service is None:
            from responder.app.service import Service
            service = Service(cfg, self.repo, clock=clock)
        self.service = service
        cl = cfg.cluster
        self.leases = LeaseStore(self.repo.engine, self.worker_id, cl.lease_seconds)
        self.boxes: dict[str, InboxSection] = {box.name: box for box in cfg.inbox}
        self.policy = CoolingPolicy.from_config(cfg)
        self.watchers = Watchers(self._sync, threads=cl.connection_threads,
                                 worker_id=self.worker_id, on_lost=self._lost)
        self.jobs = Jobs(service, cl.sweep_seconds, clock,
                         release_horizon_seconds=cl.release_horizon_seconds)
        self._held: dict[str, Lease] = {}
        self._held_lock = threading.Lock()
        self._stop = threading.Event()
        self._keeper: threading.Thread | None = None

    # ---- the watcher's sync: everything it writes goes through the fenced repository
    def _sync(self, box: InboxSection, lease: Lease, client: IMAPClient) -> None:
        fenced = FencedRepository(self.repo, lease)
        try:        # replies a rep sent from a mail program (selects the Sent folder)
            scan_sent(fenced, self.cfg, box, self.clock(), client=client)
        except (AuthError, ConnectError, OSError, IMAPClientError) as exc:
            log.warning("inbox %s: Sent folder not scanned now: %s", box.name, exc)
        # last, so that the inbox stays selected for IDLE, and what arrives after its
        # EXAMINE is announced on this connection (mail.intake.idle.announced)
        sync_inbox(box, fenced, self.clock(), policy=self.policy, client=client)

    def _lost(self, lease: Lease) -> None:
        with self._held_lock:
            if self._held.get(lease.inbox) == lease:
                del self._held[lease.inbox]

    # ---- the lease keeper
    def keep_leases_once(self) -> None:
        """One heartbeat: renew, drop what was lost, take or hand back inboxes."""
        alive = max(1, self.leases.beat())
        with self._held_lock:
            held = list(self._held.values())
        kept, lost = self.leases.renew(held)
        for lease in lost:
            log.warning("inbox %s: lease %d lost (expired or taken over); stopping its "
                        "watcher", lease.inbox, lease.token)
            self._lost(lease)
            self.watchers.remove(lease.inbox)
        share = math.ceil(len(self.boxes) / alive)
        with self._held_lock:
            mine = dict(self._held)
        free = [name for name in self.boxes if name not in mine]
        # Inboxes whose watcher died are taken at once, whatever the share (a worker
        # that replaces it may take a minute to load its models): the orphan time is
        # the lease plus one heartbeat. Inboxes handed back, or never watched, are
        # taken up to the fair share; a worker above it hands the surplus back.
        taken = self.leases.acquire(free, len(free), orphans_only=True)
        if len(mine) + len(taken) < share:
            taken += self.leases.acquire(free, share - len(mine) - len(taken))
        for lease in taken:
            log.info("inbox %s: lease %d taken", lease.inbox, lease.token)
            with self._held_lock:
                self._held[lease.inbox] = lease
            self.watchers.add(self.boxes[lease.inbox], lease)
        mine.update({lease.inbox: lease for lease in taken})
        fresh = 2 * self.cfg.cluster.heartbeat_seconds
        if len(mine) > share and not taken and self.leases.hungry(share, fresh):
            for name in sorted(mine)[share:]:
                lease = mine[name]
                log.info("inbox %s: handing lease %d back (%d workers share %d inboxes)",
                         name, lease.token, alive, len(self.boxes))
                self._lost(lease)
                self.watchers.remove(name, then=self._releaser(lease))

    def _releaser(self, lease: Lease) -> Callable[[], None]:
        def release() -> None:
            try:
                self.leases.release(lease)
            except SQLAlchemyError as exc:        # it expires by itself
                log.warning("inbox %s: lease not released (%s); it expires in %g s",
                            lease.inbox, exc, self.cfg.cluster.lease_seconds)
        return release

    def _keep_leases(self) -> None:
        # wait one heartbeat before the first take, so that workers starting together
        # see each other and share the inboxes instead of one taking all
        interval = self.cfg.cluster.heartbeat_seconds
        while not self._stop.wait(interval):
            try:
                self.keep_leases_once()
            except SQLAlchemyError as exc:
                log.warning("lease heartbeat failed (%s); leases expire unless renewed", exc)

    # ---- lifecycle
    def warm_up(self) -> None:
        """Load the models (seconds of CPU) before taking any lease: a worker busy
        loading them could miss its own heartbeats."""
        from responder.core import pipeline
        pipeline.decide([WARM_UP_MAIL], self.service.services, self.clock())

    def start(self) -> None:
        self.warm_up()
        self.leases.register()
        self.leases.ensure_rows(list(self.boxes))
        self.watchers.start()
        self._keeper = threading.Thread(target=self._keep_leases, name="lease-keeper",
                                        daemon=True)
        self._keeper.start()
        log.info("worker %s started: %d inbox(es) configured, %d job(s) at a time",
                 self.worker_id, len(self.boxes), self.cfg.cluster.concurrency)

    def shutdown(self) -> None:
        self._stop.set()
        if self._keeper is not None:
            self._keeper.join(10)
        self.watchers.stop()
        try:
            self.leases.release_all()
            self.leases.unregister()
        except SQLAlchemyError as exc:
            log.warning("leases not released at shutdown (%s); they expire by themselves", exc)
        log.info("worker %s stopped", self.worker_id)

    def run(self) -> None:
        """Run until SIGINT or SIGTERM."""
        self.start()
        try:
            asyncio.run(self._main())
        finally:
            self.shutdown()

    async def _main(self) -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        cl, sched = self.cfg.cluster, self.cfg.scheduler
        app = build_app(self.cfg.database_url, self.jobs, sweep_seconds=cl.sweep_seconds,
                        send_retry_seconds=sched.send_retry_seconds,
                        stalled_seconds=2 * cl.lease_seconds,
                        deadline_seconds=sched.release_check_seconds)
        await run_procrastinate(app, name=self.worker_id, concurrency=cl.concurrency,
                                poll_seconds=cl.poll_seconds,
                                heartbeat_seconds=cl.heartbeat_seconds,
                                stalled_seconds=2 * cl.lease_seconds, stop=stop)

"""The cluster's jobs on procrastinate (PostgreSQL): the same Service methods as
``responder run``, run by whichever worker fetches them.

=================  ======================================  ==========================
job                what it calls                           its compare-and-set
=================  ======================================  ==========================
responder.decide   ``Service.process([pk])``               received/scored -> ...
responder.release  the body of ``release_due`` for one pk  held -> drafted
responder.send     ``Service.send_approved(only=pk)``      approved -> sending (claim)
responder.sweep    re-derives missing jobs (below)         (defers only)
responder.send_all ``Service.send_approved()``             settles interrupted sends
responder.drafts   ``push_drafts`` (Drafts-folder catch-up) (the folder follows the store)
responder.deadlines ``Service.watch_deadlines()``         (its own)
responder.digest   ``Service.send_digest()`` from its time (once per local day)
responder.retry_stalled  procrastinate's stalled jobs      (re-queues only)
=================  ======================================  ==========================

A job that runs twice changes nothing the second time: each effect is a
compare-and-set on the message's stage (``Repository.transition(expect=...)`` or
``compare_and_set``), so a job retried after its worker died, or run at the same
time by two workers, moves a message once.

Jobs are written to ``procrastinate_jobs`` *inside the transaction that makes them
needed*: a ``ClusterRepository`` session hook adds a ``decide`` job in the
transaction that stores a new message, and a ``release`` job scheduled at
``release_at`` in the transaction that holds one. A crash can therefore not leave
a stored message without its decision or a hold without its release. The periodic
sweep re-derives any job still missing (mail stored by ``responder run`` or the
SMTP ingress, replies approved on the web page, jobs that failed) from the
messages' stages: the store is the truth, the job table an index of work to do.

Every job carries a ``queueing_lock`` (``decide:<pk>``, ``release:<pk>``,
``send:<pk>``): at most one waiting job per message and purpose. Sends also carry a
``lock`` (``send:<pk>``): procrastinate never runs two of them at once.
"""
from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import event, inspect, text
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session, UOWTransaction

from responder.core.clock import Clock, utcnow
from responder.core.model import Stage
from responder.mail import sending
from responder.store.repository import Repository, StageConflict
from responder.store.tables import MessageRow

if TYPE_CHECKING:
    import procrastinate

    from responder.app.service import Service

log = logging.getLogger(__name__)

QUEUE = "responder"
# Releases go first when due (a hold's end is a promise of time; they are cheap), even
# behind a backlog of decisions. procrastinate fetches by (priority desc, id), so each
# fetch walks the pending holds that are not due yet: the release horizon keeps only
# the holds of the next minutes in the table (benchmarks/bench_due_jobs.py measures it).
RELEASE_PRIORITY = 1
DECIDE, RELEASE, SEND = "responder.decide", "responder.release", "responder.send"
SWEEP, SEND_ALL = "responder.sweep", "responder.send_all"
DEADLINES, RETRY_STALLED = "responder.deadlines", "responder.retry_stalled"
DRAFTS, DIGEST = "responder.drafts", "responder.digest"

# The insert procrastinate's own procrastinate_defer_jobs_v1() does (same columns, so
# its NOTIFY and event triggers fire as for any deferred job), plus "skip if a job with
# this queueing lock is already waiting" instead of raising: it runs inside our own
# transactions, where an error would undo the message write it belongs to.
_INSERT = ("INSERT INTO procrastinate_jobs "
           "(queue_name, task_name, priority, lock, queueing_lock, args, scheduled_at) ")
_ON_CONFLICT = " ON CONFLICT (queueing_lock) WHERE status = 'todo' DO NOTHING"


def enqueue(conn: Connection | Session, task: str, pk: int, *,
            at: datetime | None = None, lock: bool = False) -> None:
    """Defer job ``task`` for message ``pk`` in the caller's transaction."""
    key = f"{task.rsplit('.', 1)[-1]}:{pk}"
    conn.execute(text(_INSERT + "VALUES (:q, :t, :p, :lock, :ql, CAST(:args AS jsonb), :at)"
                      + _ON_CONFLICT),
                 {"q": QUEUE, "t": task, "p": RELEASE_PRIORITY if task == RELEASE else 0,
                  "lock": key if lock else None, "ql": key,
                  "args": json.dumps({"pk": pk}), "at": at})


# ---- the repository that defers jobs with its writes ----------------------------------------

class ClusterRepository(Repository):
    """The worker's repository: each session that stores a new message or holds one
    also writes the job that continues it, in the same transaction.

    ``release_horizon_seconds`` (0: no limit): a hold that ends later than that from
    now gets its release job from the sweep once it is that close, so the job table
    holds the holds of the next minutes, not of the next hours (an idle worker's
    fetch walks every pending job; benchmarks/bench_due_jobs.py)."""

    def __init__(self, base: Repository, release_horizon_seconds: float = 0) -> None:
        super().__init__(base.engine)
        horizon = timedelta(seconds=release_horizon_seconds)

        def defer_follow_ups(session: Session, _flush: UOWTransaction) -> None:
            for obj in list(session.new) + list(session.dirty):
                if not isinstance(obj, MessageRow):
                    continue
                if not inspect(obj).attrs.stage.history.added:
                    continue
                conn = session.connection()    # the flush's own connection and transaction
                if obj.stage == Stage.RECEIVED.value:
                    enqueue(conn, DECIDE, obj.id)
                elif obj.stage == Stage.HELD.value and obj.release_at is not None:
                    if not horizon or obj.release_at <= datetime.now(UTC) + horizon:
                        enqueue(conn, RELEASE, obj.id, at=obj.release_at)
                elif obj.stage == Stage.APPROVED.value:
                    enqueue(conn, SEND, obj.id, lock=True)

        event.listen(self._sessions, "after_flush", defer_follow_ups)


# ---- the jobs ---------------------------------------------------------------------------------

class Jobs:
    """The job bodies (plain methods: tests call them directly)."""

    def __init__(self, service: Service, sweep_seconds: float, clock: Clock = utcnow,
                 release_horizon_seconds: float = 0) -> None:
        self.service = service
        self.repo = service.repo
        self.sweep_seconds = sweep_seconds
        self.clock = clock
        self.horizon = timedelta(seconds=release_horizon_seconds)

    def decide(self, pk: int) -> str:
        self.service.process([pk])
        return self.repo.get(pk).stage

    def release(self, pk: int) -> str:
        """Held message ``pk`` becomes a draft once its release time has come (the
        per-message form of ``service.release_due``)."""
        row = self.repo.get(pk)
        if row.stage != Stage.HELD.value:
            return f"not held ({row.stage})"
        now = self.clock()
        if row.release_at is not None and row.release_at > now:
            # fetched early (this machine's clock is behind the database's): again at the time
            with self.repo.session() as s:
                enqueue(s, RELEASE, pk, at=row.release_at)
            return "not due yet"
        try:
            self.repo.transition(pk, Stage.DRAFTED, actor="scheduler", action="released",
                                 reason="cooling-off period over", now=now,
                                 expect=[Stage.HELD])
        except StageConflict:
            return "moved by someone else"
        self.service.drafts.changed([pk])
        return "released"

    def send(self, pk: int) -> str:
        row = self.repo.get(pk)
        if row.stage == Stage.APPROVED.value and row.draft is not None:
            due = sending.next_attempt_at(row.draft)
            if due is not None and due > self.clock():
                with self.repo.session() as s:       # backing off after a temporary failure
                    enqueue(s, SEND, pk, at=due, lock=True)
                return "backing off"
        if row.stage not in (Stage.APPROVED.value, Stage.SENDING.value):
            return f"nothing to send ({row.stage})"
        outcome = self.service.send_approved(only=pk)
        return ",".join(f"{k}={v}" for k, v in outcome.items() if v) or "skipped"

    def sweep(self) -> dict[str, int]:
        """Defer every job the stages call for and that is not waiting already."""
        before = (self.clock() - timedelta(seconds=self.sweep_seconds)).astimezone(UTC)
        before_naive = before.replace(tzinfo=None)    # messages.* are naive UTC columns
        counts: dict[str, int] = {}
        with self.repo.session() as s:
            def run(name: str, select: str, **params: Any) -> None:
                res = s.execute(text(_INSERT + select + _ON_CONFLICT), params)
                counts[name] = int(getattr(res, "rowcount", 0) or 0)

            run("decide", "SELECT :q, :t, 0, NULL, 'decide:' || m.id, "
                "jsonb_build_object('pk', m.id), NULL FROM messages m "
                "WHERE m.stage IN ('received', 'scored') AND m.updated_at < :before",
                q=QUEUE, t=DECIDE, before=before_naive)
            until = (self.clock() + self.horizon).astimezone(UTC).replace(tzinfo=None)
            run("release", "SELECT :q, :t, :p, NULL, 'release:' || m.id, "
                "jsonb_build_object('pk', m.id), m.release_at AT TIME ZONE 'UTC' "
                "FROM messages m WHERE m.stage = 'held' AND m.release_at IS NOT NULL "
                "AND (CAST(:all AS boolean) OR m.release_at <= :until)",
                q=QUEUE, t=RELEASE, p=RELEASE_PRIORITY, all=not self.horizon, until=until)
            run("send", "SELECT :q, :t, 0, 'send:' || m.id, 'send:' || m.id, "
                "jsonb_build_object('pk', m.id), NULL FROM messages m "
                "WHERE m.stage IN ('approved', 'sending') AND m.updated_at < :before",
                q=QUEUE, t=SEND, before=before_naive)
        if any(counts.values()):
            log.info("sweep deferred %s", ", ".join(f"{k} {v}" for k, v in counts.items() if v))
        return counts

    def send_all(self) -> dict[str, int]:
        return self.service.send_approved()

    def drafts(self) -> int:
        """The Drafts-folder catch-up (``responder run``'s drafts-to-folder job): retries
        what the at-once updates of decide and release could not do."""
        cfg = self.service.cfg
        if not any(box.drafts_to_folder for box in cfg.inbox):
            return 0
        from responder.mail.drafts_folder import push_drafts
        return push_drafts(self.repo, cfg, self.clock())

    def digest(self) -> str:
        """The owner's daily digest, as ``responder run`` sends it: once per local day,
        from its configured time on (``Service.send_digest`` keeps it to once)."""
        cfg: Any = self.service.cfg
        digest = getattr(cfg, "digest", None)
        send: Callable[[], Any] | None = getattr(self.service, "send_digest", None)
        if digest is None or send is None or not digest.enabled:
            return "no digest"
        from zoneinfo import ZoneInfo
        zone = ZoneInfo(digest.timezone or cfg.local_timezone)
        if self.clock().astimezone(zone).strftime("%H:%M") < digest.time:
            return "not yet"
        return str(send())

    def deadlines(self) -> str:
        watch: Callable[[], Any] | None = getattr(self.service, "watch_deadlines", None)
        if watch is None:
            return "this version has no deadline watch"
        return str(watch())


# ---- the procrastinate app ---------------------------------------------------------------------

def conninfo(database_url: str) -> str:
    """libpq connection string from the SQLAlchemy URL (postgresql+psycopg://...)."""
    from sqlalchemy.engine import make_url
    url = make_url(database_url).set(drivername="postgresql")
    return url.render_as_string(hide_password=False)


def _every(seconds: int) -> str:
    """A procrastinate cron line (6th field: seconds) for "every ``seconds`` s"."""
    if seconds < 60:
        return f"* * * * * */{seconds}"
    return f"*/{max(1, seconds // 60)} * * * *"


def build_app(database_url: str, jobs: Jobs | None, *, sweep_seconds: int = 30,
              send_retry_seconds: int = 300, stalled_seconds: float = 30.0,
              deadline_seconds: int = 60) -> procrastinate.App:
    """The procrastinate App with responder's tasks bound to ``jobs`` (None: an app that
    can only defer and inspect, for ``responder cluster status``)."""
    import procrastinate

    app = procrastinate.App(connector=procrastinate.PsycopgConnector(
        conninfo=conninfo(database_url), min_size=1, max_size=4))

    def need() -> Jobs:
        if jobs is None:
            raise RuntimeError("this procrastinate app only defers; no worker is bound")
        return jobs

    @app.task(name=DECIDE, queue=QUEUE)
    def decide(pk: int) -> str:
        return need().decide(pk)

    @app.task(name=RELEASE, queue=QUEUE)
    def release(pk: int) -> str:
        return need().release(pk)

    @app.task(name=SEND, queue=QUEUE)
    def send(pk: int) -> str:
        return need().send(pk)

    @app.periodic(cron=_every(sweep_seconds), periodic_id="sweep")
    @app.task(name=SWEEP, queue=QUEUE, lock="sweep", queueing_lock="sweep")
    def sweep(timestamp: int) -> dict[str, int]:
        return need().sweep()

    @app.periodic(cron=_every(send_retry_seconds), periodic_id="send_all")
    @app.task(name=SEND_ALL, queue=QUEUE, lock="send_all", queueing_lock="send_all")
    def send_all(timestamp: int) -> dict[str, int]:
        return need().send_all()

    @app.periodic(cron=_every(deadline_seconds), periodic_id="drafts")
    @app.task(name=DRAFTS, queue=QUEUE, lock="drafts", queueing_lock="drafts")
    def drafts(timestamp: int) -> int:
        return need().drafts()

    @app.periodic(cron=_every(60), periodic_id="digest")
    @app.task(name=DIGEST, queue=QUEUE, lock="digest", queueing_lock="digest")
    def digest(timestamp: int) -> str:
        return need().digest()

    @app.periodic(cron=_every(deadline_seconds), periodic_id="deadlines")
    @app.task(name=DEADLINES, queue=QUEUE, lock="deadlines", queueing_lock="deadlines")
    def deadlines(timestamp: int) -> str:
        return need().deadlines()

    @app.periodic(cron=_every(sweep_seconds), periodic_id="retry_stalled")
    @app.task(name=RETRY_STALLED, queue=QUEUE, lock="retry_stalled",
              queueing_lock="retry_stalled")
    async def retry_stalled(timestamp: int) -> int:
        """Jobs left 'doing' by a worker whose procrastinate heartbeat stopped go back to
        the queue (procrastinate finds them; retrying is the application's call)."""
        stalled = await app.job_manager.get_stalled_jobs(
            seconds_since_heartbeat=stalled_seconds)
        n = 0
        for job in stalled:
            if job.task_name == RETRY_STALLED:
                continue
            try:
                await app.job_manager.retry_job(job)
            except procrastinate.exceptions.UniqueViolation:
                # the sweep already queued the same work (same queueing lock): this one
                # is a duplicate; close it instead
                await app.job_manager.finish_job(job, procrastinate.jobs.Status.FAILED,
                                                 delete_job=True)
            n += 1
        if n:
            log.warning("re-queued %d job(s) of stalled workers", n)
        return n

    return app


def ensure_schema(app: procrastinate.App, conn: Connection) -> bool:
    """Apply procrastinate's schema once (the caller holds the cluster's advisory lock).
    Returns True when it was applied now."""
    exists = conn.execute(text("SELECT to_regclass('procrastinate_jobs')")).scalar()
    if exists is not None:
        return False
    schema = app.schema_manager.get_schema()
    conn.exec_driver_sql(schema.replace("%", "%%"))
    return True


async def run_procrastinate(app: procrastinate.App, *, name: str, concurrency: int,
                            poll_seconds: float, heartbeat_seconds: float,
                            stalled_seconds: float, stop: asyncio.Event) -> None:
    """Run procrastinate's worker until ``stop`` is set, then shut it down gracefully."""
    async with app.open_async():
        task = asyncio.create_task(app.run_worker_async(
            queues=[QUEUE], name=name, concurrency=concurrency, wait=True,
            delete_jobs="successful", fetch_job_polling_interval=poll_seconds,
            update_heartbeat_interval=heartbeat_seconds,
            stalled_worker_timeout=stalled_seconds, install_signal_handlers=False))
        stopper = asyncio.create_task(stop.wait())
        done, _ = await asyncio.wait({task, stopper}, return_when=asyncio.FIRST_COMPLETED)
        if task in done:
            stopper.cancel()
            task.result()          # the worker ended by itself: raise its error
            return
        task.cancel()
        try:
            await task
        except asyncio.CancelledError:
            pass

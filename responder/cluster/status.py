"""``responder cluster status``: what the workers are doing, read from the database."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import Engine

from responder.config import Config

LATE_SECONDS = 60        # a due job waiting longer than this is "late"


@dataclass
class WorkerInfo:
    worker_id: str
    host: str
    pid: int
    started_at: datetime
    heartbeat_age_seconds: float
    inboxes: list[str] = field(default_factory=list)


@dataclass
class ClusterStatus:
    workers: list[WorkerInfo]
    inboxes_configured: int
    inboxes_unwatched: list[str]
    jobs_waiting: int                 # due now, not yet started
    jobs_late: int                    # due for more than LATE_SECONDS
    jobs_running: int
    jobs_scheduled: int               # due later (holds, back-offs)
    jobs_failed: int
    holds_pending: int
    next_release_at: datetime | None
    oldest_unprocessed_at: datetime | None
    oldest_unprocessed_pk: int | None

    def as_json(self) -> dict[str, Any]:
        def conv(value: Any) -> Any:
            if isinstance(value, datetime):
                return value.isoformat()
            if isinstance(value, list):
                return [conv(v) for v in value]
            if isinstance(value, dict):
                return {k: conv(v) for k, v in value.items()}
            return value
        return {k: conv(v) for k, v in asdict(self).items()}


def cluster_status(engine: Engine, cfg: Config) -> ClusterStatus:
    lease = cfg.cluster.lease_seconds
    with engine.connect() as conn:
        rows = conn.execute(text(
            "SELECT worker_id, host, pid, started_at, "
            "EXTRACT(EPOCH FROM now() - heartbeat_at) FROM cluster_workers "
            "WHERE stopped_at IS NULL AND heartbeat_at > now() - make_interval(secs => :s) "
            "ORDER BY started_at"), {"s": lease}).all()
        workers = {r[0]: WorkerInfo(r[0], r[1], int(r[2]), r[3], float(r[4])) for r in rows}
        held = conn.execute(text(
            "SELECT inbox, owner FROM inbox_leases WHERE owner IS NOT NULL "
            "AND expires_at > now() ORDER BY inbox")).all()
        watched = set()
        for inbox, owner in held:
            watched.add(inbox)
            if owner in workers:
                workers[owner].inboxes.append(inbox)
        jobs = conn.execute(text(
            "SELECT "
            " count(*) FILTER (WHERE j.status = 'todo' AND coalesce(j.scheduled_at, d.at) "
            "   <= now()), "
            " count(*) FILTER (WHERE j.status = 'todo' AND coalesce(j.scheduled_at, d.at) "
            "   <= now() - make_interval(secs => :late)), "
            " count(*) FILTER (WHERE j.status = 'doing'), "
            " count(*) FILTER (WHERE j.status = 'todo' AND j.scheduled_at > now()), "
            " count(*) FILTER (WHERE j.status = 'failed') "
            "FROM procrastinate_jobs j LEFT JOIN LATERAL (SELECT min(e.at) AS at "
            " FROM procrastinate_events e WHERE e.job_id = j.id AND e.type = 'deferred') d "
            " ON j.scheduled_at IS NULL AND j.status = 'todo' "
            "WHERE j.queue_name = 'responder'"), {"late": LATE_SECONDS}).one()
        holds = conn.execute(text(
            "SELECT count(*), min(release_at) FROM messages WHERE stage = 'held'")).one()
        oldest = conn.execute(text(
            "SELECT id, received_at FROM messages WHERE stage IN ('received', 'scored') "
            "ORDER BY received_at, id LIMIT 1")).first()
    from datetime import UTC
    next_release = holds[1].replace(tzinfo=UTC) if holds[1] is not None else None
    return ClusterStatus(
        workers=list(workers.values()),
        inboxes_configured=len(cfg.inbox),
        inboxes_unwatched=[box.name for box in cfg.inbox if box.name not in watched],
        jobs_waiting=int(jobs[0]), jobs_late=int(jobs[1]), jobs_running=int(jobs[2]),
        jobs_scheduled=int(jobs[3]), jobs_failed=int(jobs[4]),
        holds_pending=int(holds[0]), next_release_at=next_release,
        oldest_unprocessed_at=(oldest[1].replace(tzinfo=UTC) if oldest else None),
        oldest_unprocessed_pk=(int(oldest[0]) if oldest else None))


def describe(st: ClusterStatus, now: datetime) -> list[str]:
    """The lines ``responder cluster status`` prints."""
    lines = [f"workers alive: {len(st.workers)}"]
    for w in st.workers:
        shown = ", ".join(w.inboxes[:8]) + (" ..." if len(w.inboxes) > 8 else "")
        lines.append(f"  {w.worker_id} (pid {w.pid} on {w.host}, heartbeat "
                     f"{w.heartbeat_age_seconds:.0f} s ago): {len(w.inboxes)} inbox(es)"
                     + (f": {shown}" if shown else ""))
    unwatched = st.inboxes_unwatched
    lines.append(f"inboxes: {st.inboxes_configured} configured, "
                 f"{st.inboxes_configured - len(unwatched)} watched"
                 + (f"; NOT watched now: {', '.join(unwatched[:10])}"
                    + (" ..." if len(unwatched) > 10 else "") if unwatched else ""))
    lines.append(f"jobs: {st.jobs_waiting} waiting ({st.jobs_late} late by more than "
                 f"{LATE_SECONDS} s), {st.jobs_running} running, {st.jobs_scheduled} "
                 f"scheduled for later, {st.jobs_failed} failed")
    nxt = (f", next release {st.next_release_at:%Y-%m-%d %H:%M:%S} UTC"
           if st.next_release_at else "")
    lines.append(f"holds pending: {st.holds_pending}{nxt}")
    if st.oldest_unprocessed_at is not None:
        age = (now - st.oldest_unprocessed_at).total_seconds()
        lines.append(f"oldest unprocessed message: #{st.oldest_unprocessed_pk}, received "
                     f"{st.oldest_unprocessed_at:%Y-%m-%d %H:%M:%S} UTC ({age:.0f} s ago)")
    else:
        lines.append("oldest unprocessed message: none (every message is decided)")
    return lines

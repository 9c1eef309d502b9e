"""Inbox leases with fencing tokens: one watcher per inbox, across all workers.

Each inbox has one row in ``inbox_leases``. A worker *takes* an inbox whose lease
has expired (or was never held) by raising its ``token`` by one and setting itself
as owner until ``now() + lease_seconds``; it *renews* every ``heartbeat_seconds``.
All times are the database server's (``now()``), so the clocks of the machines do
not matter.

Fencing: every write a watcher makes goes through a ``FencedRepository``, whose
sessions first run ``SELECT ... FOR SHARE`` on the inbox's lease row with the
watcher's (owner, token) and ``expires_at > now()`` in the same transaction. A
worker that lost its lease (killed, or stopped for longer than the lease) fails
that check and stores nothing (``LeaseLost``); and because the check holds a
share lock until commit, a take-over (an UPDATE of that row) waits for a write in
flight to commit first, so a new owner never reads folder state older than the
last write of the old one.
"""
from __future__ import annotations

import os
import secrets
import socket
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from responder.store.repository import Repository


class LeaseLost(Exception):
    """This worker no longer holds the inbox's lease: it must not write for it."""


def new_worker_id() -> str:
    """``host:pid:random``: unique per process start (a restarted worker is a new owner)."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"


@dataclass(frozen=True)
class Lease:
    inbox: str
    owner: str
    token: int


class LeaseStore:
    """The SQL of leases and worker heartbeats (PostgreSQL)."""

    def __init__(self, engine: Engine, worker_id: str, lease_seconds: float) -> None:
        self.engine = engine
        self.worker_id = worker_id
        self.lease_seconds = float(lease_seconds)

    # ---- workers
    def register(self) -> None:
        host, pid = socket.gethostname(), os.getpid()
        with self.engine.begin() as conn:
            conn.execute(text(
                "INSERT INTO cluster_workers (worker_id, host, pid, started_at, heartbeat_at) "
                "VALUES (:w, :h, :p, now(), now()) ON CONFLICT (worker_id) DO UPDATE "
                "SET heartbeat_at = now(), stopped_at = NULL"),
                {"w": self.worker_id, "h": host, "p": pid})

    def beat(self) -> int:
        """Refresh this worker's heartbeat; returns how many workers are alive."""
        with self.engine.begin() as conn:
            conn.execute(text("UPDATE cluster_workers SET heartbeat_at = now() "
                              "WHERE worker_id = :w"), {"w": self.worker_id})
            alive = conn.execute(text(
                "SELECT count(*) FROM cluster_workers WHERE stopped_at IS NULL AND "
                "heartbeat_at > now() - make_interval(secs => :s)"),
                {"s": self.lease_seconds}).scalar_one()
        return int(alive)

    def hungry(self, share: int, fresh_seconds: float) -> int:
        """How many workers that beat within ``fresh_seconds`` (alive for sure: a dead
        one stops counting before its leases expire) hold fewer than ``share - 1``
        inboxes: when none does, nobody needs the inboxes a worker has above its share."""
        with self.engine.begin() as conn:
            n = conn.execute(text(
                "SELECT count(*) FROM cluster_workers w WHERE w.stopped_at IS NULL "
                "AND w.heartbeat_at > now() - make_interval(secs => :f) "
                "AND (SELECT count(*) FROM inbox_leases l WHERE l.owner = w.worker_id "
                "     AND l.expires_at > now()) < :share - 1"),
                {"f": fresh_seconds, "share": share}).scalar_one()
        return int(n)

    def unregister(self) -> None:
        with self.engine.begin() as conn:
            conn.execute(text("UPDATE cluster_workers SET stopped_at = now() "
                              "WHERE worker_id = :w"), {"w": self.worker_id})

    # ---- leases
    def ensure_rows(self, inboxes: Sequence[str]) -> None:
        """One lease row per configured inbox (never held yet: token 0, no owner)."""
        if not inboxes:
            return
        with self.engine.begin() as conn:
            conn.execute(text("INSERT INTO inbox_leases (inbox, token) "
                              "SELECT unnest(CAST(:names AS varchar[])), 0 "
                              "ON CONFLICT (inbox) DO NOTHING"), {"names": list(inboxes)})

    def acquire(self, inboxes: Sequence[str], limit: int, *,
                orphans_only: bool = False) -> list[Lease]:
        """Take up to ``limit`` of ``inboxes`` whose lease expired or was released
        (``orphans_only``: only those whose owner stopped renewing, not those handed
        back). Rows locked by a fenced write in flight are skipped (taken next round)."""
        if limit <= 0 or not inboxes:
            return []
        free = ("owner IS NOT NULL AND expires_at <= now()" if orphans_only else
                "(owner IS NULL OR expires_at IS NULL OR expires_at <= now())")
        with self.engine.begin() as conn:
            rows = conn.execute(text(
                "UPDATE inbox_leases SET owner = :w, token = token + 1, acquired_at = now(), "
                "heartbeat_at = now(), expires_at = now() + make_interval(secs => :s) "
                "WHERE inbox IN (SELECT inbox FROM inbox_leases "
                "  WHERE inbox = ANY(CAST(:names AS varchar[])) AND " + free +
                "  ORDER BY expires_at NULLS FIRST, inbox LIMIT :n FOR UPDATE SKIP LOCKED) "
                "RETURNING inbox, token"),
                {"w": self.worker_id, "s": self.lease_seconds, "names": list(inboxes),
                 "n": limit}).all()
        return [Lease(inbox, self.worker_id, int(token)) for inbox, token in rows]

    def renew(self, held: Sequence[Lease]) -> tuple[list[Lease], list[Lease]]:
        """Extend the leases still ours and unexpired; returns (kept, lost)."""
        if not held:
            return [], []
        with self.engine.begin() as conn:
            rows = conn.execute(text(
                "UPDATE inbox_leases SET heartbeat_at = now(), "
                "expires_at = now() + make_interval(secs => :s) "
                "WHERE owner = :w AND expires_at > now() "
                "AND inbox = ANY(CAST(:names AS varchar[])) RETURNING inbox, token"),
                {"w": self.worker_id, "s": self.lease_seconds,
                 "names": [lease.inbox for lease in held]}).all()
        current = {(inbox, int(token)) for inbox, token in rows}
        kept = [lease for lease in held if (lease.inbox, lease.token) in current]
        lost = [lease for lease in held if (lease.inbox, lease.token) not in current]
        return kept, lost

    def release(self, lease: Lease) -> None:
        """Give the inbox up at once (its watcher is already closed)."""
        with self.engine.begin() as conn:
            conn.execute(text(
                "UPDATE inbox_leases SET owner = NULL, expires_at = now() "
                "WHERE inbox = :i AND owner = :w AND token = :t"),
                {"i": lease.inbox, "w": lease.owner, "t": lease.token})

    def release_all(self) -> None:
        with self.engine.begin() as conn:
            conn.execute(text("UPDATE inbox_leases SET owner = NULL, expires_at = now() "
                              "WHERE owner = :w"), {"w": self.worker_id})


def check_lease(session: Session, lease: Lease) -> None:
    """In ``session``'s transaction: is ``lease`` still current? Locks the lease row
    (FOR SHARE) until the transaction ends, so no take-over can commit in between."""
    held = session.execute(text(
        "SELECT token FROM inbox_leases WHERE inbox = :i AND owner = :w AND token = :t "
        "AND expires_at > now() FOR SHARE"),
        {"i": lease.inbox, "w": lease.owner, "t": lease.token}).first()
    if held is None:
        raise LeaseLost(f"inbox {lease.inbox}: lease token {lease.token} of {lease.owner} "
                        "is no longer current; nothing written")


class FencedRepository(Repository):
    """A repository whose every transaction first checks the watcher's lease.

    ``sync_inbox`` and the Sent-folder scan write through it unchanged: the check
    sits in ``session()``, the one door every read and write of the repository uses.
    """

    def __init__(self, base: Repository, lease: Lease) -> None:
        super().__init__(base.engine)
        self._sessions = base._sessions        # the same session factory (and its hooks)
        self.lease = lease

    @contextmanager
    def session(self) -> Iterator[Session]:
        with super().session() as s:
            check_lease(s, self.lease)
            yield s

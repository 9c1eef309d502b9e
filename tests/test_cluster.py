"""The cluster mode's parts, on a real PostgreSQL (and Dovecot, aiosmtpd where needed):
the clear errors, leases and fencing, jobs written in the transaction that makes
them needed, idempotent jobs, the sweep, ``responder cluster status``, and the IDLE
multiplexer. The whole under chaos: tests/test_cluster_chaos.py.

Time is the injected clock for the application and the database's own clock for
leases, which the tests move by writing ``expires_at``; nothing sleeps.
"""
from __future__ import annotations

import json
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from click.testing import CliRunner
from conftest import Clock, sample
from servers import Dovecot, SmtpSink
from sqlalchemy import text

from responder import config as config_mod
from responder.app import actions
from responder.app.service import Service
from responder.cli.main import main as cli
from responder.cluster.jobs import ClusterRepository, Jobs, enqueue
from responder.cluster.leases import FencedRepository, Lease, LeaseLost, LeaseStore
from responder.cluster.watch import Watchers
from responder.cluster.worker import ClusterError, open_cluster_repository, require_cluster
from responder.core.model import Stage
from responder.store import migrations, open_repository


def _cfg(url: str, **sections: object) -> config_mod.Config:
    data: dict[str, object] = {"responder": {"database_url": url},
                               "cluster": {"enabled": True, "lease_seconds": 10,
                                           "heartbeat_seconds": 2}}
    data.update(sections)
    return config_mod.from_dict(data, "<cluster test>")


@pytest.fixture
def pg_url(postgres, request):
    return postgres.create_database(f"cl_{uuid.uuid4().hex[:12]}")


@pytest.fixture
def crepo(pg_url):
    repo = ClusterRepository(open_cluster_repository(_cfg(pg_url)))
    yield repo
    repo.engine.dispose()


def _jobs(repo) -> list[tuple[str, str, object]]:
    with repo.engine.connect() as conn:
        return [tuple(r) for r in conn.execute(text(
            "SELECT task_name, queueing_lock, scheduled_at FROM procrastinate_jobs "
            "WHERE status = 'todo' ORDER BY id"))]


def _mail(n: int, hostile: bool = False) -> bytes:
    raw = sample("02-hostile-en.eml" if hostile else "01-refund-en.eml")
    return raw.replace(b"Message-ID: <", f"Message-ID: <c{n}-".encode(), 1)


# ---- clear errors ----------

def test_worker_needs_cluster_enabled_and_postgresql(tmp_path):
    with pytest.raises(ClusterError, match=r"\[cluster\]"):
        require_cluster(config_mod.from_dict({}))
    sqlite = config_mod.from_dict({"cluster": {"enabled": True},
                                   "responder": {"database_url": "sqlite:///x.db"}})
    with pytest.raises(ClusterError, match="needs PostgreSQL"):
        require_cluster(sqlite)
    path = tmp_path / "config.toml"
    path.write_text('[responder]\ndatabase_url = "sqlite:///%s"\n[cluster]\nenabled = true\n'
                    % (tmp_path / "r.db"))
    for args in (["worker"], ["cluster", "status"]):
        result = CliRunner().invoke(cli, ["--config", str(path), *args])
        assert result.exit_code == 1, result.output
        assert "needs PostgreSQL" in result.output
        assert "Traceback" not in result.output
    result = CliRunner().invoke(cli, ["--config", str(path), "run"])
    assert result.exit_code == 1 and "responder worker" in result.output


def test_heartbeat_must_fit_twice_in_the_lease():
    with pytest.raises(config_mod.ConfigError, match="heartbeat_seconds"):
        config_mod.from_dict({"cluster": {"lease_seconds": 10, "heartbeat_seconds": 6}})
    assert config_mod.from_dict({}).cluster.enabled is False


def test_migration_0007_up_and_down_on_sqlite(tmp_path):
    from alembic import command
    from sqlalchemy import inspect

    repo = open_repository(f"sqlite:///{tmp_path / 'm.db'}")
    names = set(inspect(repo.engine).get_table_names())
    assert {"inbox_leases", "cluster_workers"} <= names
    command.downgrade(migrations.alembic_config(str(repo.engine.url)), "0006")
    assert "inbox_leases" not in set(inspect(repo.engine).get_table_names())
    migrations.upgrade(repo.engine)
    assert "inbox_leases" in set(inspect(repo.engine).get_table_names())


# ---- leases and fencing ----------

def test_a_worker_that_lost_its_lease_cannot_store_anything(crepo, clock):
    a = LeaseStore(crepo.engine, "host:1:a", 10)
    b = LeaseStore(crepo.engine, "host:2:b", 10)
    a.register()
    b.register()
    a.ensure_rows(["shop"])
    [la] = a.acquire(["shop"], 5)
    assert la.token == 1
    assert b.acquire(["shop"], 5) == []            # held and unexpired: not taken
    fenced_a = FencedRepository(crepo, la)
    now = clock()
    pk, new = fenced_a.store_raw(_mail(1), source="imap", received_at=now,
                                 deadline_at=now + timedelta(days=1), inbox="shop",
                                 message_id="<c1@x>")
    assert new
    # A is frozen past its lease (the database's clock decides): expire it
    with crepo.engine.begin() as conn:
        conn.execute(text("UPDATE inbox_leases SET expires_at = now() - interval '1 s'"))
    with pytest.raises(LeaseLost):
        fenced_a.store_raw(_mail(2), source="imap", received_at=now,
                           deadline_at=now + timedelta(days=1), inbox="shop",
                           message_id="<c2@x>")
    with pytest.raises(LeaseLost):
        fenced_a.save_folder_state("shop", "INBOX", uidvalidity=1, last_uid=99, now=now)
    assert not crepo.is_known(_mail(2), "<c2@x>")
    assert crepo.folder_state("shop", "INBOX") is None
    [lb] = b.acquire(["shop"], 5)                  # taken over, with a higher token
    assert lb.token == 2
    kept, lost = a.renew([la])                     # A wakes up: its lease is gone
    assert (kept, lost) == ([], [la])
    # even with its old expiry restored, A's token is stale: still nothing
    with crepo.engine.begin() as conn:
        conn.execute(text("UPDATE inbox_leases SET expires_at = now() + interval '1 h'"))
    with pytest.raises(LeaseLost):
        fenced_a.save_folder_state("shop", "INBOX", uidvalidity=1, last_uid=99, now=now)
    FencedRepository(crepo, lb).save_folder_state("shop", "INBOX", uidvalidity=1,
                                                  last_uid=3, now=now)
    assert crepo.folder_state("shop", "INBOX").last_uid == 3
    kept, lost = b.renew([lb])
    assert (kept, lost) == ([lb], [])


def test_leases_are_shared_and_released(crepo):
    a = LeaseStore(crepo.engine, "host:1:a", 10)
    a.ensure_rows([f"i{n}" for n in range(6)])
    got = a.acquire([f"i{n}" for n in range(6)], 4)
    assert len(got) == 4 and len({lease.inbox for lease in got}) == 4
    b = LeaseStore(crepo.engine, "host:2:b", 10)
    rest = b.acquire([f"i{n}" for n in range(6)], 10)
    assert {lease.inbox for lease in rest} == {f"i{n}" for n in range(6)} - {
        lease.inbox for lease in got}
    a.release(got[0])
    [again] = b.acquire([got[0].inbox], 1)
    assert again.token == got[0].token + 1
    a.release_all()
    assert len(b.acquire([f"i{n}" for n in range(6)], 10)) == 3


# ---- jobs: in the same transaction, idempotent ----------

def test_jobs_are_written_with_the_message_and_run_once(crepo, pg_url, services):
    clock = Clock()
    with SmtpSink() as sink:
        cfg = _cfg(pg_url, smtp={"host": "127.0.0.1", "port": sink.port,
                                 "security": "none", "timeout_seconds": 10})
        service = Service(cfg, crepo, services=services, clock=clock)
        jobs = Jobs(service, sweep_seconds=30, clock=clock)
        now = clock()
        pk, _ = crepo.store_raw(_mail(1, hostile=True), source="imap", received_at=now,
                                deadline_at=now + timedelta(days=1), message_id="<c1@x>")
        assert _jobs(crepo) == [("responder.decide", f"decide:{pk}", None)]
        # a store that rolls back leaves no job behind
        with pytest.raises(RuntimeError), crepo.session() as s:
            from responder.store.tables import MessageRow
            s.add(MessageRow(source="cli", raw=b"x", content_hash="0" * 64,
                             received_at=now, deadline_at=now, stage="received",
                             updated_at=now))
            s.flush()
            raise RuntimeError("rolled back")
        assert len(_jobs(crepo)) == 1

        assert jobs.decide(pk) == Stage.HELD.value
        assert jobs.decide(pk) == Stage.HELD.value          # twice: nothing more
        assert [e.action for e in crepo.events(pk)].count("held") == 1
        row = crepo.get(pk)
        [release] = [j for j in _jobs(crepo) if j[0] == "responder.release"]
        assert release[1] == f"release:{pk}" and release[2] == row.release_at

        assert jobs.release(pk) == "not due yet"            # fetched early: not released
        assert crepo.get(pk).stage == Stage.HELD.value
        clock.advance(hours=5)
        assert jobs.release(pk) == "released"
        assert jobs.release(pk) == "not held (drafted)"
        assert [e.action for e in crepo.events(pk)].count("released") == 1

        actions.approve(crepo, pk, actor="rep:ann", now=clock(),
                        message_id_domain=cfg.shop.message_id_domain)
        assert ("responder.send", f"send:{pk}", None) in _jobs(crepo)
        assert jobs.send(pk) == "sent=1"
        assert jobs.send(pk) == "nothing to send (sent)"
        assert len(sink.messages) == 1
        assert crepo.get(pk).stage == Stage.SENT.value


def test_the_sweep_rederives_lost_jobs_once(crepo, pg_url, services):
    clock = Clock()
    service = Service(_cfg(pg_url), crepo, services=services, clock=clock)
    jobs = Jobs(service, sweep_seconds=30, clock=clock)
    now = clock()
    held, _ = crepo.store_raw(_mail(1, hostile=True), source="smtp", received_at=now,
                              deadline_at=now + timedelta(days=1), message_id="<c1@x>")
    jobs.decide(held)
    waiting, _ = crepo.store_raw(_mail(2), source="smtp", received_at=now,
                                 deadline_at=now + timedelta(days=1), message_id="<c2@x>")
    with crepo.engine.begin() as conn:             # jobs lost (or never written)
        conn.execute(text("DELETE FROM procrastinate_jobs"))
    clock.advance(minutes=1)
    assert jobs.sweep() == {"decide": 1, "release": 1, "send": 0}
    assert jobs.sweep() == {"decide": 0, "release": 0, "send": 0}   # already waiting
    locks = sorted(j[1] for j in _jobs(crepo))
    assert locks == sorted([f"decide:{waiting}", f"release:{held}"])
    with crepo.session() as s:                      # a second enqueue is skipped too
        enqueue(s, "responder.decide", waiting)
    assert len(_jobs(crepo)) == 2
    # the periodic jobs call the service as `responder run` does
    assert jobs.drafts() == 0                      # no inbox puts drafts in its folder
    assert jobs.digest() == "no digest"            # [digest] enabled = false
    assert jobs.deadlines()                        # Service.watch_deadlines ran


def test_cluster_status_reports_workers_inboxes_jobs_and_holds(crepo, pg_url, services,
                                                             tmp_path):
    clock = Clock(datetime.now(UTC))     # the database's clock decides what is due
    service = Service(_cfg(pg_url), crepo, services=services, clock=clock)
    jobs = Jobs(service, sweep_seconds=30, clock=clock)
    now = clock()
    held, _ = crepo.store_raw(_mail(1, hostile=True), source="smtp", received_at=now,
                              deadline_at=now + timedelta(days=1), message_id="<c1@x>")
    jobs.decide(held)
    waiting, _ = crepo.store_raw(_mail(2), source="smtp", received_at=now,
                                 deadline_at=now + timedelta(days=1), message_id="<c2@x>")
    w = LeaseStore(crepo.engine, "host:7:w", 10)
    w.register()
    w.ensure_rows(["shop", "other"])
    w.acquire(["shop"], 1)
    path = tmp_path / "config.toml"
    path.write_text(f'[responder]\ndatabase_url = "{pg_url}"\n[cluster]\nenabled = true\n'
                    'lease_seconds = 10\nheartbeat_seconds = 2\n'
                    + "".join(f'[[inbox]]\nname = "{n}"\nhost = "127.0.0.1"\n'
                              f'username = "{n}@x.test"\n' for n in ("shop", "other")))
    result = CliRunner().invoke(cli, ["--config", str(path), "cluster", "status", "--json"])
    assert result.exit_code == 0, result.output
    st = json.loads(result.output)
    assert [(x["worker_id"], x["inboxes"]) for x in st["workers"]] == [("host:7:w", ["shop"])]
    assert st["inboxes_unwatched"] == ["other"]
    assert st["holds_pending"] == 1
    assert st["jobs_scheduled"] == 1              # the hold's release, at release_at
    # the two decide jobs (the test ran the first one's body directly, not the job)
    assert st["jobs_waiting"] == 2 and st["jobs_late"] == 0
    assert st["oldest_unprocessed_pk"] == waiting
    text_out = CliRunner().invoke(cli, ["--config", str(path), "cluster", "status"]).output
    assert "workers alive: 1" in text_out and "NOT watched now: other" in text_out
    assert "holds pending: 1" in text_out


# ---- many IDLE connections in one thread pool ----------

@pytest.mark.imap
def test_watchers_sync_on_new_mail_and_stop_on_a_lost_lease():
    with Dovecot() as imap:
        users = [f"w{n}@example.test" for n in range(3)]
        for u in users:
            imap.add_user(u, "pw")
        cfg = config_mod.from_dict({"inbox": [
            {"name": u.split("@")[0], "host": "127.0.0.1", "port": imap.port,
             "security": "none", "username": u, "password_env": "T_W_PW",
             "reconnect_min_seconds": 0.1}
            for u in users]})
        import os
        os.environ["T_W_PW"] = "pw"
        syncs: dict[str, int] = {}
        lost: list[Lease] = []
        fail = threading.Event()
        changed = threading.Condition()

        def sync(box, lease, client):
            if fail.is_set() and box.name == "w2":
                raise LeaseLost("w2: taken over")
            client.select_folder("INBOX", readonly=True)
            with changed:
                syncs[box.name] = syncs.get(box.name, 0) + 1
                changed.notify_all()

        def wait_for(pred, what, timeout=15.0):
            deadline = time.monotonic() + timeout
            with changed:
                while not pred():
                    left = deadline - time.monotonic()
                    assert left > 0, f"timed out waiting for {what}: {syncs}"
                    changed.wait(min(left, 0.1))

        watchers = Watchers(sync, threads=2, worker_id="t:1:x", on_lost=lost.append).start()
        try:
            for n, box in enumerate(cfg.inbox):
                watchers.add(box, Lease(box.name, "t:1:x", n + 1))
            wait_for(lambda: all(syncs.get(b.name) == 1 for b in cfg.inbox), "first syncs")
            imap.client(users[1], "pw").append("INBOX", _mail(1))
            wait_for(lambda: syncs.get("w1") == 2, "a sync after new mail")
            assert syncs["w0"] == 1 and syncs["w2"] == 1   # the others stayed in IDLE
            released = threading.Event()
            watchers.remove("w0", then=released.set)
            assert released.wait(10)
            fail.set()
            imap.client(users[2], "pw").append("INBOX", _mail(2))
            deadline = time.monotonic() + 15
            while "w2" in watchers.watching() and time.monotonic() < deadline:
                time.sleep(0.05)
            assert [lease.inbox for lease in lost] == ["w2"]
            assert set(watchers.watching()) == {"w1"}
        finally:
            watchers.stop()
            os.environ.pop("T_W_PW", None)
        assert watchers.watching() == {}


def test_holds_far_ahead_enter_the_job_table_within_the_horizon(pg_url, services):
    clock = Clock(datetime.now(UTC))        # the hook compares with the real time
    repo = ClusterRepository(open_cluster_repository(_cfg(pg_url)), 900)
    try:
        service = Service(_cfg(pg_url), repo, services=services, clock=clock)
        jobs = Jobs(service, sweep_seconds=30, clock=clock, release_horizon_seconds=900)
        now = clock()
        pk, _ = repo.store_raw(_mail(1, hostile=True), source="smtp", received_at=now,
                               deadline_at=now + timedelta(days=1), message_id="<c1@x>")
        assert jobs.decide(pk) == Stage.HELD.value       # held for 4 hours
        assert [j for j in _jobs(repo) if j[0] == "responder.release"] == []
        assert jobs.sweep()["release"] == 0              # not within 15 minutes yet
        clock.advance(hours=3, minutes=50)
        assert jobs.sweep()["release"] == 1
        [release] = [j for j in _jobs(repo) if j[0] == "responder.release"]
        assert release[2] == repo.get(pk).release_at
    finally:
        repo.engine.dispose()


def test_orphaned_inboxes_are_taken_at_once_and_shared_out_later(pg_url, services):
    from responder.cluster.worker import ClusterWorker

    names = [f"i{n}" for n in range(6)]
    cfg = _cfg(pg_url, inbox=[{"name": n, "host": "127.0.0.1", "port": 9,
                               "security": "none", "username": f"{n}@x.test"}
                              for n in names])

    started: list[ClusterWorker] = []

    def worker(wid: str) -> ClusterWorker:
        repo = ClusterRepository(open_cluster_repository(cfg))
        w = ClusterWorker(cfg, service=Service(cfg, repo, services=services),
                          worker_id=wid)
        started.append(w)
        w.leases.register()
        w.leases.ensure_rows(names)
        return w                      # its Watchers are not started: no IMAP here

    def held(w: ClusterWorker) -> set[str]:
        return set(w._held)

    a, b = worker("h:1:a"), worker("h:2:b")
    try:
        a.keep_leases_once()
        b.keep_leases_once()
        assert len(held(a)) == len(held(b)) == 3          # the fair share each
        # b dies (its leases run out); c starts at the same time
        with a.repo.engine.begin() as conn:
            conn.execute(text("UPDATE inbox_leases SET expires_at = now() - interval '1 s' "
                              "WHERE owner = 'h:2:b'"))
            conn.execute(text("UPDATE cluster_workers SET heartbeat_at = now() - "
                              "interval '1 h' WHERE worker_id = 'h:2:b'"))
        c = worker("h:3:c")
        a.keep_leases_once()
        assert held(a) == set(names)                      # orphans: taken at once
        c.keep_leases_once()
        assert held(c) == set()                           # nothing free yet
        a.keep_leases_once()                              # c is hungry: a hands 3 back
        assert len(held(a)) == 3
        # the leases are released once those watchers are closed (a pool thread)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and a.watchers.watching().keys() - held(a):
            time.sleep(0.05)
        c.keep_leases_once()
        assert held(c) == set(names) - held(a)
        with a.repo.engine.connect() as conn:
            tokens = dict(conn.execute(text("SELECT inbox, token FROM inbox_leases")).all())
        assert all(tokens[n] >= 2 for n in held(c))       # each take-over raised it
    finally:
        for w in started:
            w.watchers.stop(timeout=2)
            w.repo.engine.dispose()

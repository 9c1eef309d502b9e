"""Chaos run of the cluster mode, all on loopback. Not a test: prints a report
(tests/test_cluster_chaos.py runs a short version of the same function and asserts).

    .venv/bin/python benchmarks/chaos_cluster.py [--mailboxes 200] [--workers 4]
        [--minutes 6] [--kill-every 60] [--lease 30] [--heartbeat 10] [--rate 2]
        [--hold-seconds 20] [--settle 600] [--throughput 1,2,4] [--backlog 400]
        [--json report.json]

Needs root for Dovecot's mail user and to raise fs.inotify.max_user_instances (one
inotify instance per IDLE session); run as root on a machine where that is fine.

What runs: a private PostgreSQL (tests/pg.py), a private Dovecot with ``--mailboxes``
accounts (tests/servers.py; one IDLE session per mailbox and worker), an aiosmtpd sink
(the SMTP server replies are sent to), and ``--workers`` real ``responder worker``
processes. Mail is APPENDed to random mailboxes throughout (a fifth of it hostile,
so it is held for ``--hold-seconds``); a "rep" thread approves every draft, so the
workers send replies. Every ``--kill-every`` seconds one worker is SIGKILLed and
started again; once, one worker is SIGSTOPped for 2.5 leases and then continued.

Ground truth comes from the servers, not from the workers:

* Dovecot's log (``imap_id_log``: each watcher connection sends IMAP ID with its
  worker's id; Login and Disconnected lines carry the session and microsecond
  times): which worker had a watching session on which mailbox, when. Two workers'
  sessions on one mailbox at the same moment is a double watch; the time from a
  SIGKILL to the next watcher login on each mailbox the killed worker held is the
  orphan time.
* The sink's received messages: a reply whose In-Reply-To repeats is a double send.
* The database: every APPENDed Message-ID must be stored and decided (else lost);
  hold lateness is the "released" event's time minus ``release_at``.

Throughput (``--throughput``): for each worker count, a backlog of mail is put in
the mailboxes first, then the workers start; messages decided per second between
the first and the last decision.

For 1,000 mailboxes: ``--mailboxes 1000`` (Dovecot's process limits are raised
here; the machine needs about 3 MB of memory per IMAP session, so 1,000 watched
mailboxes need about 3 GB plus the workers).
"""
from __future__ import annotations

import argparse
import json
import os
import random
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from email import message_from_bytes, policy
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
TESTS = ROOT / "tests"
if str(TESTS) not in sys.path:
    sys.path.insert(0, str(TESTS))

from pg import Postgres  # noqa: E402
from servers import Dovecot, SmtpSink  # noqa: E402

PYTHON = sys.executable
PASSWORD = "secret-chaos"

NEUTRAL = """From: Customer {n} <customer{n}@customer.test>
To: support@example-shop.test
Subject: Refund for order #{n}
Date: {date}
Message-ID: <chaos-{n}@customer.test>
MIME-Version: 1.0
Content-Type: text/plain; charset=utf-8

Hello,

I bought the knitting pattern book last week (order #{n}) but it is not
what I expected. Could I please get my money back?

Thank you,
Customer {n}
"""

HOSTILE = """From: Angry {n} <angry{n}@customer.test>
To: support@example-shop.test
Subject: WHERE IS MY PARCEL {n}
Date: {date}
Message-ID: <chaos-{n}@customer.test>
MIME-Version: 1.0
Content-Type: text/plain; charset=utf-8

You useless idiots. Order {n} was supposed to be here a week ago.
What a pathetic joke of a shop, you are a bunch of lying crooks.
Answer me today.
"""


class ChaosDovecot(Dovecot):
    """The test Dovecot with watcher sessions named in its log and room for many
    sessions (one process per IMAP session)."""

    def _config(self) -> str:
        return super()._config() + "\n".join([
            "imap_id_log = *",
            'log_timestamp = "%Y-%m-%d %H:%M:%S.%{usecs} "',
            "default_process_limit = 5000",
            "default_client_limit = 10000",
            "default_vsz_limit = 0",
            "mail_max_userip_connections = 50",
            "",
        ])


INOTIFY = Path("/proc/sys/fs/inotify/max_user_instances")


def ensure_inotify(sessions: int, say: Any = print) -> None:
    """Dovecot's IDLE uses one inotify instance per session, all under the mail user
    (nobody): Linux's default limit of 128 per user would make the sessions beyond it
    fall back to checking every 30 s (Dovecot logs "Inotify instance limit ...
    exceeded"). Raise the limit when running as root; else say what to do."""
    try:
        current = int(INOTIFY.read_text())
    except (OSError, ValueError):
        return
    wanted = sessions + 512
    if current >= wanted:
        return
    if os.geteuid() == 0:
        INOTIFY.write_text(str(wanted))
        say(f"  fs.inotify.max_user_instances raised from {current} to {wanted}")
    else:
        say(f"  WARNING: fs.inotify.max_user_instances is {current}; run "
            f"`sysctl fs.inotify.max_user_instances={wanted}` as root, or IDLE on the "
            "sessions beyond it is checked only every 30 s")


def mailbox_name(i: int) -> str:
    return f"box{i:04d}"


def write_config(path: Path, *, db_url: str, imap: Dovecot, sink: SmtpSink, mailboxes: int,
                 lease: float, heartbeat: float, sweep: int, hold_seconds: float,
                 concurrency: int = 4, threads: int = 8) -> None:
    lines = [
        "[responder]", f'database_url = "{db_url}"', 'log_level = "INFO"', "",
        "[cluster]", "enabled = true", f"lease_seconds = {lease}",
        f"heartbeat_seconds = {heartbeat}", f"sweep_seconds = {sweep}",
        f"concurrency = {concurrency}", f"connection_threads = {threads}",
        "poll_seconds = 0.5", "",
        "[scheduler]", "send_retry_seconds = 30", "release_check_seconds = 60", "",
        "[cooling]", f"hold_hours = {hold_seconds / 3600:.6f}", "",
        "[screening]", "throttle_hours = 0", "",
        "[smtp]", f'host = "{sink.host}"', f"port = {sink.port}", 'security = "none"', "",
    ]
    for i in range(mailboxes):
        name = mailbox_name(i)
        lines += ["[[inbox]]", f'name = "{name}"', f'host = "{imap.host}"',
                  f"port = {imap.port}", 'security = "none"',
                  f'username = "{name}@shop.test"', 'password_env = "CHAOS_IMAP_PASSWORD"',
                  'start_from = "all"', "reconnect_min_seconds = 0.2",
                  "reconnect_max_seconds = 5", "poll_seconds = 5", ""]
    path.write_text("\n".join(lines))


# ---- the pieces ----------------------------------------------------------------------------

class Worker:
    """One ``responder worker`` process (restartable under the same slot)."""

    def __init__(self, slot: int, config: Path, logdir: Path, env: dict[str, str]) -> None:
        self.slot = slot
        self.config = config
        self.logdir = logdir
        self.env = env
        self.proc: subprocess.Popen[bytes] | None = None
        self.pids: list[int] = []

    def start(self) -> None:
        log = open(self.logdir / f"worker{self.slot}-{len(self.pids)}.log", "wb")
        self.proc = subprocess.Popen(
            [PYTHON, "-m", "responder", "--config", str(self.config), "worker"],
            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, env=self.env,
            cwd=str(ROOT))
        log.close()
        self.pids.append(self.proc.pid)

    def kill(self) -> None:
        if self.proc is not None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()

    def terminate(self, timeout: float = 20) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def tune_postgres(server: Postgres, max_connections: int = 400) -> None:
    """More connections than the default 100 (each worker keeps about 20)."""
    from sqlalchemy import create_engine, text
    engine = create_engine(server.url(), isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f"ALTER SYSTEM SET max_connections = {max_connections}"))
    engine.dispose()
    from pg import _bin
    server._run(_bin("pg_ctl"), "-D", str(server.dir / "data"), "-l", str(server.dir / "log"),
                "-w", "-m", "fast", "restart", "-o",
                f"-p {server.port} -c listen_addresses=127.0.0.1 -k {server.dir} -F")


class Producer(threading.Thread):
    """APPENDs mail to random mailboxes at ``rate`` messages per second."""

    def __init__(self, imap: Dovecot, mailboxes: int, rate: float, hostile_share: float,
                 seed: int = 7, start_n: int = 0) -> None:
        super().__init__(name="producer", daemon=True)
        self.imap, self.mailboxes, self.rate = imap, mailboxes, rate
        self.hostile_share = hostile_share
        self.rng = random.Random(seed)
        self.stop = threading.Event()
        self.sent: dict[str, tuple[str, float, bool]] = {}   # Message-ID -> (box, t, hostile)
        self.errors = 0
        self.n = start_n

    def append_one(self) -> None:
        self.n += 1
        n = self.n
        box = mailbox_name(self.rng.randrange(self.mailboxes))
        hostile = self.rng.random() < self.hostile_share
        text = (HOSTILE if hostile else NEUTRAL).format(
            n=n, date=datetime.now(UTC).strftime("%a, %d %b %Y %H:%M:%S +0000"))
        raw = text.replace("\n", "\r\n").encode()
        try:
            c = self.imap.client(f"{box}@shop.test", PASSWORD)
            try:
                c.append("INBOX", raw)
            finally:
                c.logout()
        except Exception:  # noqa: BLE001 - counted; the harness reports it
            self.errors += 1
            return
        self.sent[f"<chaos-{n}@customer.test>"] = (box, time.time(), hostile)

    def run(self) -> None:
        interval = 1.0 / self.rate
        next_at = time.monotonic()
        while not self.stop.is_set():
            self.append_one()
            next_at += interval
            delay = next_at - time.monotonic()
            if delay > 0:
                self.stop.wait(delay)


class Rep(threading.Thread):
    """Approves every draft (as a rep would), so that the workers send replies."""

    def __init__(self, db_url: str) -> None:
        super().__init__(name="rep", daemon=True)
        from responder.store import open_repository
        self.repo = open_repository(db_url, migrate=False)
        self.stop = threading.Event()
        self.approved = 0

    def run(self) -> None:
        from responder.app.actions import ApprovalError, approve
        from responder.core.model import Stage
        while not self.stop.wait(0.5):
            for pk in self.repo.pks_in_stage(Stage.DRAFTED):
                try:
                    approve(self.repo, pk, actor="rep:chaos", now=datetime.now(UTC),
                            message_id_domain="responder.example-shop.test")
                    self.approved += 1
                except ApprovalError:
                    pass


# ---- ground truth from Dovecot's log ---------------------------------------------------------

LINE = re.compile(r"^(\S+ \S+) (imap-login|imap\(([^)]*)\)<(\d+)><([^>]*)>): Info: (.*)$")


@dataclass
class Session:
    user: str
    session: str
    login: float
    worker: str | None = None
    logout: float | None = None


def _ts(text: str) -> float:
    return datetime.strptime(text, "%Y-%m-%d %H:%M:%S.%f").timestamp()


def dovecot_sessions(log_text: str) -> list[Session]:
    sessions: dict[str, Session] = {}
    login_re = re.compile(r"Login: user=<([^>]*)>.*session=<([^>]*)>")
    for line in log_text.splitlines():
        m = LINE.match(line)
        if not m:
            continue
        at, who, user, _pid, sess, msg = m.groups()
        if who == "imap-login":
            lm = login_re.search(msg)
            if lm:
                sessions[lm.group(2)] = Session(lm.group(1), lm.group(2), _ts(at))
            continue
        s = sessions.get(sess)
        if s is None:
            continue
        if msg.startswith("ID sent:"):
            wm = re.search(r"x-worker=([^,\s]+)", msg)
            if wm and "name=responder-watch" in msg:
                s.worker = wm.group(1)
        elif msg.startswith("Disconnected"):
            s.logout = _ts(at)
    return list(sessions.values())


def worker_pid(worker_id: str) -> int:
    return int(worker_id.rsplit(":", 2)[1])


@dataclass
class Overlap:
    user: str
    workers: tuple[str, str]
    start: float
    seconds: float
    stopped_side: bool          # one of the two was SIGSTOPped at the time


def double_watches(sessions: list[Session], end: float,
                   stopped: list[tuple[int, float, float]]) -> list[Overlap]:
    """Pairs of watcher sessions of two workers on one mailbox open at once."""
    by_user: dict[str, list[Session]] = {}
    for s in sessions:
        if s.worker:
            by_user.setdefault(s.user, []).append(s)
    found = []
    for user, ss in by_user.items():
        ss.sort(key=lambda s: s.login)
        for i, a in enumerate(ss):
            a_end = a.logout if a.logout is not None else end
            for b in ss[i + 1:]:
                if b.login >= a_end:
                    break
                if b.worker == a.worker:
                    continue
                b_end = b.logout if b.logout is not None else end
                secs = min(a_end, b_end) - b.login
                was_stopped = any(
                    pid in (worker_pid(a.worker or ""), worker_pid(b.worker or ""))
                    and t0 <= min(a_end, b_end) and b.login <= t1 + 60
                    for pid, t0, t1 in stopped)
                found.append(Overlap(user, (a.worker or "", b.worker or ""), b.login, secs,
                                     was_stopped))
    return found


def orphan_times(sessions: list[Session], kills: list[tuple[int, float]]) -> list[float]:
    """For each SIGKILL: for every mailbox the killed worker was watching, the time
    until another watcher logged in to it."""
    out = []
    watchers = [s for s in sessions if s.worker]
    for pid, t in kills:
        held = {s.user for s in watchers if worker_pid(s.worker or "") == pid
                and s.login <= t and (s.logout is None or s.logout >= t - 0.5)}
        for user in held:
            later = [s.login for s in watchers if s.user == user and s.login > t - 0.5
                     and worker_pid(s.worker or "") != pid]
            if later:
                out.append(max(0.0, min(later) - t))
            else:
                out.append(float("inf"))
    return out


def pct(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    k = min(len(ordered) - 1, max(0, int(round(q / 100 * (len(ordered) - 1)))))
    return ordered[k]


# ---- the run -----------------------------------------------------------------------------------

@dataclass
class Report:
    mailboxes: int
    workers: int
    seconds: float
    appended: int
    append_errors: int
    stored: int
    decided: int
    lost: list[str]                   # APPENDed, never stored
    undecided: int                    # stored, not decided when the run ended
    held: int
    released: int
    hold_late_p50: float | None
    hold_late_p99: float | None
    hold_late_max: float | None
    hold_late_min: float | None
    replies_sent: int
    double_sends: list[str]
    unexpected_replies: list[str]
    uncertain: int
    unsent_approved: int
    kills: int
    stops: int
    orphan_p50: float | None
    orphan_p99: float | None
    orphan_max: float | None
    overlaps_running: list[dict[str, Any]]
    overlaps_with_stopped: list[dict[str, Any]]
    fenced_writes_refused: int
    stage_counts: dict[str, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def _db_truth(db_url: str, ids: list[str]) -> dict[str, Any]:
    from sqlalchemy import create_engine, text
    engine = create_engine(db_url)
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT message_id, stage, id FROM messages "
                                 "WHERE message_id LIKE '<chaos-%'")).all()
        late = conn.execute(text(
            "SELECT EXTRACT(EPOCH FROM e.at - m.release_at) FROM events e "
            "JOIN messages m ON m.id = e.message_pk WHERE e.action = 'released' "
            "AND m.release_at IS NOT NULL")).scalars().all()
        held = conn.execute(text("SELECT count(DISTINCT message_pk) FROM events "
                                 "WHERE action = 'held'")).scalar_one()
        counts = dict(conn.execute(text(
            "SELECT stage, count(*) FROM messages GROUP BY stage")).all())
    engine.dispose()
    return {"rows": rows, "late": [float(x) for x in late], "held": int(held),
            "counts": {k: int(v) for k, v in counts.items()}}


def _settled(db_url: str, expected: int) -> tuple[bool, dict[str, int]]:
    from sqlalchemy import create_engine, text
    engine = create_engine(db_url)
    try:
        with engine.connect() as conn:
            counts = dict(conn.execute(text(
                "SELECT stage, count(*) FROM messages WHERE message_id LIKE '<chaos-%' "
                "GROUP BY stage")).all())
    finally:
        engine.dispose()
    total = sum(counts.values())
    busy = sum(counts.get(s, 0) for s in ("received", "scored", "held", "drafted",
                                           "approved", "sending"))
    return total >= expected and busy == 0, {k: int(v) for k, v in counts.items()}


class Cluster:
    """PostgreSQL + Dovecot + sink + worker processes, for one run."""

    def __init__(self, *, mailboxes: int, workers: int, lease: float, heartbeat: float,
                 sweep: int, hold_seconds: float, workdir: Path | None = None,
                 env: dict[str, str] | None = None) -> None:
        self.dir = workdir or Path(tempfile.mkdtemp(prefix="chaos-cluster-"))
        self.mailboxes, self.n_workers = mailboxes, workers
        self.lease, self.heartbeat, self.sweep = lease, heartbeat, sweep
        self.hold_seconds = hold_seconds
        self.extra_env = env or {}
        self.pg: Postgres | None = None
        self.imap: ChaosDovecot | None = None
        self.sink: SmtpSink | None = None
        self.workers: list[Worker] = []
        self.db_url = ""

    def __enter__(self) -> Cluster:
        ensure_inotify(self.mailboxes * (self.n_workers + 1))
        self.pg = Postgres().start()
        try:
            tune_postgres(self.pg)
        except BaseException:
            self.pg.stop()
            raise
        self.db_url = self.pg.create_database("chaos")
        self.imap = ChaosDovecot()
        for i in range(self.mailboxes):
            self.imap.add_user(f"{mailbox_name(i)}@shop.test", PASSWORD)
        self.imap.start()
        self.sink = SmtpSink().start()
        self.config = self.dir / "config.toml"
        write_config(self.config, db_url=self.db_url, imap=self.imap, sink=self.sink,
                     mailboxes=self.mailboxes, lease=self.lease, heartbeat=self.heartbeat,
                     sweep=self.sweep, hold_seconds=self.hold_seconds)
        env = dict(os.environ, CHAOS_IMAP_PASSWORD=PASSWORD, **self.extra_env)
        env.pop("RESPONDER_CONFIG", None)
        env.pop("RESPONDER_DATABASE_URL", None)
        self.workers = [Worker(i, self.config, self.dir, env) for i in range(self.n_workers)]
        # the schema first, once (workers would do it too, under an advisory lock)
        from responder.store import open_repository
        open_repository(self.db_url).engine.dispose()
        return self

    def start_workers(self, n: int | None = None) -> None:
        for w in self.workers[: n if n is not None else len(self.workers)]:
            w.start()

    def wait_ready(self, workers: int, timeout: float = 180) -> float:
        """Wait until ``workers`` workers are alive and every mailbox is leased (the
        workers load their models before taking leases). Returns the seconds waited."""
        from sqlalchemy import create_engine, text
        engine = create_engine(self.db_url)
        t0 = time.time()
        try:
            while time.time() - t0 < timeout:
                with engine.connect() as conn:
                    alive = conn.execute(text(
                        "SELECT count(*) FROM cluster_workers WHERE stopped_at IS NULL "
                        "AND heartbeat_at > now() - make_interval(secs => :s)"),
                        {"s": self.lease}).scalar_one()
                    leased = conn.execute(text(
                        "SELECT count(*) FROM inbox_leases WHERE owner IS NOT NULL "
                        "AND expires_at > now()")).scalar_one()
                if alive >= workers and leased >= self.mailboxes:
                    return time.time() - t0
                time.sleep(0.3)
        finally:
            engine.dispose()
        raise TimeoutError(f"{workers} workers watching {self.mailboxes} mailboxes not "
                           f"ready within {timeout} s; logs in {self.dir}")

    def __exit__(self, exc_type: object, *exc: object) -> None:
        for w in self.workers:
            if w.proc is not None and w.proc.poll() is None:
                try:
                    os.kill(w.proc.pid, signal.SIGCONT)
                except ProcessLookupError:
                    pass
            w.terminate(10)
        if self.sink is not None:
            self.sink.close()
        if self.imap is not None:
            self.imap.close()
        if self.pg is not None:
            self.pg.stop()
        if exc_type is None and not os.environ.get("CHAOS_KEEP"):
            import shutil
            shutil.rmtree(self.dir, ignore_errors=True)    # the logs, kept on failure

    def dovecot_log(self) -> str:
        assert self.imap is not None and self.imap.dir is not None
        return (self.imap.dir / "dovecot.log").read_text(errors="replace")

    def worker_logs(self) -> str:
        return "\n".join(p.read_text(errors="replace")
                         for p in sorted(self.dir.glob("worker*.log")))


def run_chaos(*, mailboxes: int = 200, workers: int = 4, seconds: float = 360,
              kill_every: float = 60, lease: float = 30, heartbeat: float = 10,
              sweep: int = 5, rate: float = 8, hostile_share: float = 0.2,
              hold_seconds: float = 20, stop_at: float | None = None,
              settle_timeout: float = 240, env: dict[str, str] | None = None,
              say: Any = print) -> Report:
    """One chaos run; returns the report (the caller asserts or prints)."""
    with Cluster(mailboxes=mailboxes, workers=workers, lease=lease, heartbeat=heartbeat,
                 sweep=sweep, hold_seconds=hold_seconds, env=env) as cl:
        assert cl.imap is not None and cl.sink is not None
        say(f"chaos: {mailboxes} mailboxes, {workers} workers, lease {lease} s, "
            f"heartbeat {heartbeat} s, {seconds:.0f} s of mail at {rate}/s; dir {cl.dir}")
        cl.start_workers()
        say(f"  workers ready (models loaded, every mailbox leased) after "
            f"{cl.wait_ready(workers):.1f} s")
        producer = Producer(cl.imap, mailboxes, rate, hostile_share)
        rep = Rep(cl.db_url)
        producer.start()
        rep.start()
        rng = random.Random(11)
        kills: list[tuple[int, float]] = []
        stops: list[tuple[int, float, float]] = []
        t0 = time.time()
        next_kill = t0 + kill_every
        stop_time = t0 + (stop_at if stop_at is not None else seconds / 2)
        stopped_done = False
        while time.time() - t0 < seconds:
            now = time.time()
            if not stopped_done and now >= stop_time:
                w = cl.workers[rng.randrange(len(cl.workers))]
                assert w.proc is not None
                pause = 2.5 * lease
                say(f"  t={now - t0:5.1f}s SIGSTOP worker {w.slot} (pid {w.proc.pid}) "
                    f"for {pause:.0f} s")
                os.kill(w.proc.pid, signal.SIGSTOP)
                time.sleep(pause)   # the scenario: a worker frozen past its lease
                os.kill(w.proc.pid, signal.SIGCONT)
                stops.append((w.proc.pid, now, time.time()))
                stopped_done = True
                while next_kill <= time.time():     # kills due during the stop: skipped
                    next_kill += kill_every
                continue
            if now >= next_kill:
                w = cl.workers[rng.randrange(len(cl.workers))]
                assert w.proc is not None
                say(f"  t={now - t0:5.1f}s SIGKILL worker {w.slot} (pid {w.proc.pid}); "
                    "started again")
                pid = w.proc.pid
                w.kill()
                kills.append((pid, time.time()))
                w.start()
                next_kill += kill_every
                continue
            time.sleep(0.2)
        producer.stop.set()
        producer.join()
        say(f"  mail stopped after {time.time() - t0:.0f} s: {len(producer.sent)} appended; "
            "waiting for every message to be settled")
        deadline = time.time() + settle_timeout
        counts: dict[str, int] = {}
        while time.time() < deadline:
            done, counts = _settled(cl.db_url, len(producer.sent))
            if done:
                break
            time.sleep(1)
        if not done:
            from sqlalchemy import create_engine, text
            engine = create_engine(cl.db_url)
            with engine.connect() as conn:
                found = dict(conn.execute(text(
                    "SELECT message_id, stage FROM messages "
                    "WHERE message_id LIKE '<chaos-%'")).all())
            engine.dispose()
            pending = {mid: found.get(mid, "not stored") for mid in producer.sent
                       if found.get(mid) not in ("sent", "skipped", "uncertain")}
            say(f"  NOT SETTLED after {settle_timeout:.0f} s: {len(pending)} message(s): "
                + ", ".join(f"{mid} ({producer.sent[mid][0]}: {st})"
                            for mid, st in list(pending.items())[:20]))
        rep.stop.set()
        rep.join()
        end = time.time()
        for w in cl.workers:
            w.terminate()
        truth = _db_truth(cl.db_url, list(producer.sent))
        stored = {mid: stage for mid, stage, _pk in truth["rows"]}
        lost = [mid for mid in producer.sent if mid not in stored]
        replies: dict[str, int] = {}
        for m in list(cl.sink.messages):
            msg = message_from_bytes(m.data, policy=policy.default)
            key = str(msg.get("In-Reply-To", "")).strip()
            replies[key] = replies.get(key, 0) + 1
        sessions = dovecot_sessions(cl.dovecot_log())
        overlaps = double_watches(sessions, end, stops)
        orphans = orphan_times(sessions, kills)
        logs = cl.worker_logs()
        report = Report(
            mailboxes=mailboxes, workers=workers, seconds=round(end - t0, 1),
            appended=len(producer.sent), append_errors=producer.errors,
            stored=sum(1 for mid in producer.sent if mid in stored),
            decided=sum(1 for mid in producer.sent
                        if stored.get(mid) not in (None, "received", "scored")),
            lost=lost, held=truth["held"],
            undecided=sum(1 for mid in producer.sent
                          if stored.get(mid) in ("received", "scored")),
            released=len(truth["late"]),
            hold_late_p50=pct(truth["late"], 50), hold_late_p99=pct(truth["late"], 99),
            hold_late_max=max(truth["late"], default=None),
            hold_late_min=min(truth["late"], default=None),
            replies_sent=sum(replies.values()),
            double_sends=[k for k, v in replies.items() if v > 1],
            unexpected_replies=[k for k in replies if k not in producer.sent],
            uncertain=counts.get("uncertain", 0),
            unsent_approved=counts.get("approved", 0) + counts.get("sending", 0),
            kills=len(kills), stops=len(stops),
            orphan_p50=pct(orphans, 50), orphan_p99=pct(orphans, 99),
            orphan_max=max(orphans, default=None),
            overlaps_running=[asdict(o) for o in overlaps if not o.stopped_side],
            overlaps_with_stopped=[asdict(o) for o in overlaps if o.stopped_side],
            fenced_writes_refused=logs.count("is no longer current; nothing written"),
            stage_counts=counts)
        if not all(s.worker for s in sessions if s.worker is not None):
            report.notes.append("some watcher sessions had no worker id")
        return report


def run_throughput(n_workers: int, *, mailboxes: int, backlog: int, say: Any = print,
                   timeout: float = 600) -> dict[str, Any]:
    """Messages decided per second by ``n_workers`` on a backlog put in first."""
    from sqlalchemy import create_engine, text
    with Cluster(mailboxes=mailboxes, workers=n_workers, lease=30, heartbeat=5, sweep=5,
                 hold_seconds=3600) as cl:
        assert cl.imap is not None
        producer = Producer(cl.imap, mailboxes, rate=1e9, hostile_share=0.2, seed=n_workers)
        for _ in range(backlog):
            producer.append_one()
        t0 = time.time()
        cl.start_workers()
        engine = create_engine(cl.db_url)
        decided = 0
        try:
            while time.time() - t0 < timeout:
                with engine.connect() as conn:
                    decided = conn.execute(text(
                        "SELECT count(*) FROM messages WHERE stage NOT IN "
                        "('received', 'scored')")).scalar_one()
                if decided >= len(producer.sent):
                    break
                time.sleep(0.5)
            with engine.connect() as conn:
                first, last = conn.execute(text(
                    "SELECT min(at), max(at) FROM events WHERE action IN "
                    "('held', 'drafted', 'screened', 'quarantined')")).one()
        finally:
            engine.dispose()
        for w in cl.workers:
            w.terminate()
        span = (last - first).total_seconds() if first and last else float("nan")
        rate = decided / span if span and span > 0 else float("nan")
        say(f"  {n_workers} worker(s): {decided} of {len(producer.sent)} decided in "
            f"{span:.1f} s of deciding: {rate:.1f} messages/s "
            f"(wall {time.time() - t0:.0f} s incl. start-up and model loading)")
        return {"workers": n_workers, "decided": decided, "appended": len(producer.sent),
                "seconds": round(span, 2), "per_second": round(rate, 1)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--mailboxes", type=int, default=200)
    ap.add_argument("--workers", type=int, default=4)
    ap.add_argument("--minutes", type=float, default=6)
    ap.add_argument("--kill-every", type=float, default=60)
    ap.add_argument("--lease", type=float, default=30)
    ap.add_argument("--heartbeat", type=float, default=10)
    ap.add_argument("--rate", type=float, default=2, help="messages APPENDed per second")
    ap.add_argument("--settle", type=float, default=600,
                    help="seconds to wait, after the mail stops, for every message to settle")
    ap.add_argument("--hold-seconds", type=float, default=20)
    ap.add_argument("--throughput", default="1,2,4",
                    help="worker counts for the throughput runs ('' = none)")
    ap.add_argument("--backlog", type=int, default=400)
    ap.add_argument("--json", help="write the report here too")
    args = ap.parse_args()
    report = run_chaos(mailboxes=args.mailboxes, workers=args.workers,
                       seconds=args.minutes * 60, kill_every=args.kill_every,
                       lease=args.lease, heartbeat=args.heartbeat, rate=args.rate,
                       hold_seconds=args.hold_seconds, settle_timeout=args.settle)
    out: dict[str, Any] = {"chaos": asdict(report), "throughput": []}
    r = report
    print(f"\nmailboxes {r.mailboxes}, workers {r.workers}, {r.seconds:.0f} s, "
          f"{r.kills} SIGKILL(s), {r.stops} SIGSTOP(s)")
    print(f"messages appended {r.appended} (append errors {r.append_errors}), stored "
          f"{r.stored}, decided {r.decided}, LOST (never stored) {len(r.lost)}, "
          f"stored but undecided at the end {r.undecided}")
    print(f"replies sent {r.replies_sent}, SENT TWICE {len(r.double_sends)}, uncertain "
          f"(interrupted by a kill, waiting for a person) {r.uncertain}, approved but "
          f"unsent at the end {r.unsent_approved}")
    print(f"holds {r.held}, released {r.released}; release lateness p50 "
          f"{r.hold_late_p50} s, p99 {r.hold_late_p99} s, max {r.hold_late_max} s")
    print(f"orphan time after SIGKILL: p50 {r.orphan_p50} s, p99 {r.orphan_p99} s, "
          f"max {r.orphan_max} s")
    print(f"double watches between running workers: {len(r.overlaps_running)}"
          + (f" (longest {max(o['seconds'] for o in r.overlaps_running):.2f} s)"
             if r.overlaps_running else ""))
    print(f"sessions of the SIGSTOPped worker still open while another watched: "
          f"{len(r.overlaps_with_stopped)} (longest "
          f"{max((o['seconds'] for o in r.overlaps_with_stopped), default=0):.1f} s); "
          f"fenced writes refused: {r.fenced_writes_refused}")
    for n in [int(x) for x in args.throughput.split(",") if x.strip()]:
        out["throughput"].append(run_throughput(n, mailboxes=args.mailboxes,
                                                backlog=args.backlog))
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=1, default=str))


if __name__ == "__main__":
    main()

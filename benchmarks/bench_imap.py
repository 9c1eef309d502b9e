"""IMAP sync cost against a real Dovecot on loopback. Not a test: prints tables.

    .venv/bin/python benchmarks/bench_imap.py [--sizes 1000,10000,100000]
                                              [--repeat 20] [--latency 50] [--on-disk]

1. A sync that finds no new mail, on mailboxes of each size: seconds (median of
   ``--repeat`` runs) and round trips (tagged IMAP commands counted on the wire),
   on a kept connection (what the IDLE watcher does) and with a fresh
   connection per sync (what the poll job does: login, ENABLE, EXAMINE, logout).
   Mailboxes are built by writing Maildir files directly, the way a delivery
   agent does; the first sync (Dovecot indexes the folder, responder notes
   "from now on") is timed separately.
2. Arrival-to-stored latency with IDLE: ``--latency`` messages APPENDed one at a
   time by another client; the time from APPEND's completion to the message
   being stored by the watcher's sync. Median and 95th percentile.

Dovecot's folder lives on tmpfs (/dev/shm) unless ``--on-disk``: building a
100k-message Maildir on a busy shared disk takes minutes and measures the disk.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from servers import Dovecot  # noqa: E402

from responder import config as config_mod  # noqa: E402
from responder import connections  # noqa: E402
from responder.mail.connections import connect_imap  # noqa: E402
from responder.mail.intake.idle import IdleWatcher  # noqa: E402
from responder.mail.intake.imap import sync_inbox  # noqa: E402
from responder.store import open_repository  # noqa: E402


def count_commands(client) -> list[str]:
    sent: list[str] = []
    imap = client._imap
    original, prefix = imap.send, imap.tagpre

    def send(data):
        if data.startswith(prefix):
            sent.append(data.strip().split(b" ")[1].decode())
        return original(data)
    imap.send = send
    return sent


def deliver(server: Dovecot, user: str, n: int) -> None:
    cur = server.maildir(user) / "cur"
    root = os.geteuid() == 0
    if root:
        import grp
        import pwd
        uid = pwd.getpwnam("nobody").pw_uid
        gid = next(grp.getgrnam(g).gr_gid for g in ("nogroup", "nobody")
                   if _group(g))
    stamp = int(time.time()) - 86400
    for i in range(n):
        raw = (f"From: Buyer {i} <buyer{i}@customer.test>\r\nTo: shop@example.test\r\n"
               f"Subject: order {i}\r\nMessage-ID: <bench-{i}@customer.test>\r\n"
               f"Date: Mon, 23 Nov 2026 09:00:00 +0000\r\n\r\nWhere is order {i}?\r\n").encode()
        fd = os.open(cur / f"{stamp}.M{i}P1.bench:2,", os.O_WRONLY | os.O_CREAT | os.O_EXCL,
                     0o600)
        try:
            os.write(fd, raw)
            if root:
                os.fchown(fd, uid, gid)
        finally:
            os.close(fd)


def _group(name: str) -> bool:
    import grp
    try:
        grp.getgrnam(name)
        return True
    except KeyError:
        return False


def make_box(server: Dovecot, user: str, **extra):
    section = {"name": "bench", "host": server.host, "port": server.tls_port,
               "security": "tls", "ca_file": str(server.cafile), "username": user,
               "password_env": "BENCH_IMAP_PW", "timeout_seconds": 30}
    section.update(extra)
    return config_mod.from_dict({"inbox": [section]}).inbox[0]


def new_user(server: Dovecot, name: str) -> str:
    user = f"{name}@example.test"
    server.add_user(user, "pw")
    c = server.client(user, "pw")
    c.select_folder("INBOX")
    c.logout()
    return user


def bench_no_new_mail(server: Dovecot, sizes: list[int], repeat: int, workdir: Path) -> None:
    print(f"no-new-mail sync (median of {repeat})")
    print(f"{'messages':>9} {'build s':>8} {'1st sync s':>10} {'kept conn s':>11} "
          f"{'RT':>3} {'new conn s':>10} {'RT':>3}  commands (new connection)")
    now = datetime.now(UTC)
    for size in sizes:
        user = new_user(server, f"b{size}")
        t0 = time.perf_counter()
        deliver(server, user, size)
        build = time.perf_counter() - t0
        repo = open_repository(f"sqlite:///{workdir / f'bench-{size}.db'}")
        box = make_box(server, user)
        t0 = time.perf_counter()
        sync_inbox(box, repo, now)
        first = time.perf_counter() - t0
        sync_inbox(box, repo, now)                 # Dovecot caches warm

        client = connect_imap(box)
        cmds = count_commands(client)
        kept = []
        for _ in range(repeat):
            t0 = time.perf_counter()
            result = sync_inbox(box, repo, now, client=client)
            kept.append(time.perf_counter() - t0)
            assert not result.new_pks
        kept_rt = len(cmds) / repeat
        client.logout()

        log: list[list[str]] = []
        base = connections.IMAPClient

        class Counting(base):
            def __init__(self, *a, **k):
                super().__init__(*a, **k)
                log.append(count_commands(self))  # noqa: B023 - used within this iteration
        connections.IMAPClient = Counting
        fresh = []
        try:
            for _ in range(repeat):
                t0 = time.perf_counter()
                sync_inbox(box, repo, now)
                fresh.append(time.perf_counter() - t0)
        finally:
            connections.IMAPClient = base
        fresh_rt = statistics.mean(len(x) for x in log)
        print(f"{size:>9} {build:>8.2f} {first:>10.3f} {statistics.median(kept):>11.4f} "
              f"{kept_rt:>3g} {statistics.median(fresh):>10.4f} {fresh_rt:>3g}  "
              f"{' '.join(log[-1])}")


def bench_latency(server: Dovecot, n: int, workdir: Path) -> None:
    user = new_user(server, "latency")
    repo = open_repository(f"sqlite:///{workdir / 'latency.db'}")
    box = make_box(server, user)
    stored_at: dict[int, float] = {}
    cond = threading.Condition()

    def sync(client):
        result = sync_inbox(box, repo, datetime.now(UTC), client=client)
        t = time.perf_counter()
        with cond:
            for pk in result.new_pks:
                stored_at[pk] = t
            cond.notify_all()
        return result

    watcher = IdleWatcher(box, sync).start()
    deadline = time.monotonic() + 10
    while watcher.status.state != "idling" and time.monotonic() < deadline:
        time.sleep(0.01)
    other = server.client(user, "pw")
    lat = []
    try:
        for i in range(n):
            raw = (f"From: b{i}@customer.test\r\nSubject: latency {i}\r\nMessage-ID: "
                   f"<lat-{i}-{time.time_ns()}@customer.test>\r\n\r\nhello {i}\r\n").encode()
            before = len(stored_at)
            other.append("INBOX", raw)
            appended = time.perf_counter()
            with cond:
                if not cond.wait_for(lambda: len(stored_at) > before,  # noqa: B023
                                     timeout=30):
                    raise RuntimeError(f"message {i} was not stored within 30 s")
                got = max(stored_at.values())
            lat.append(got - appended)
            # wait for the watcher to be back in IDLE before the next message
            deadline = time.monotonic() + 10
            while watcher.status.state != "idling" and time.monotonic() < deadline:
                time.sleep(0.002)
    finally:
        other.logout()
        watcher.stop()
    lat.sort()
    p95 = lat[min(len(lat) - 1, int(round(0.95 * len(lat))) - 1)]
    print(f"\narrival-to-stored latency with IDLE over {n} messages: "
          f"median {statistics.median(lat) * 1000:.0f} ms, 95th percentile {p95 * 1000:.0f} ms, "
          f"min {lat[0] * 1000:.0f} ms, max {lat[-1] * 1000:.0f} ms")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", default="1000,10000,100000")
    ap.add_argument("--repeat", type=int, default=20)
    ap.add_argument("--latency", type=int, default=50)
    ap.add_argument("--on-disk", action="store_true", help="keep Dovecot's mail on disk")
    args = ap.parse_args()
    os.environ["BENCH_IMAP_PW"] = "pw"
    sizes = [int(s) for s in args.sizes.split(",") if s]
    if not args.on_disk and Path("/dev/shm").is_dir():
        tempfile.tempdir = "/dev/shm"
    Dovecot.ensure_installed()
    server = Dovecot()
    server.start()
    tempfile.tempdir = None
    workdir = Path(tempfile.mkdtemp(prefix="bench-imap-"))
    try:
        bench_no_new_mail(server, sizes, args.repeat, workdir)
        if args.latency:
            bench_latency(server, args.latency, workdir)
    finally:
        server.close()
        import shutil
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()

"""Inbox sync that never loses, repeats or misses mail, against a real Dovecot.

Covered: constant round trips for a no-new-mail sync on a 10k-message mailbox
(commands counted on the wire), first connection takes mail from now on, a
UIDVALIDITY reset with mail arriving around it, another client marking mail
read, the IDLE watcher through a server restart (mail delivered while down and
during the reconnect), a hung connection found by the IDLE keep-alive, the
back-off schedule (injected sleep and jitter: nothing waits for it), providers,
XOAUTH2 with an expiring token, Drafts and the status shown by ``responder status``.
Waiting is only ever for a real server event, in bounded poll loops.
"""
from __future__ import annotations

import grp
import json
import os
import pwd
import socket
import tempfile
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from types import SimpleNamespace
from urllib.parse import parse_qs

import pytest
from click.testing import CliRunner
from servers import Dovecot

from responder import config as config_mod
from responder import providers
from responder.app.watchers import start_watchers
from responder.config import ConfigError
from responder.core.model import Draft, Stage
from responder.mail import connections
from responder.mail.connections import AuthError, ConnectError, connect_imap
from responder.mail.drafts_folder import append_draft, push_drafts
from responder.mail.intake.idle import (
    Backoff,
    IdleWatcher,
    StatusBoard,
    describe,
    idle_wakeup,
    status_path,
)
from responder.mail.intake.imap import sync_inbox
from responder.mail.oauth import TokenSource, parse_token
from responder.store import open_repository

pytestmark = pytest.mark.imap

NOW = datetime.now(UTC).replace(microsecond=0) + timedelta(minutes=5)


# ---- fixtures and helpers ---------------------------------------------------------------
def start_in_ram(server: Dovecot) -> Dovecot:
    """Start with the server's folder on tmpfs when there is one: writing 10k Maildir
    files on a busy shared disk takes seconds, in RAM a fraction of one."""
    saved = tempfile.tempdir
    shm = Path("/dev/shm")
    if shm.is_dir() and os.access(shm, os.W_OK):
        tempfile.tempdir = str(shm)
    try:
        return server.start()
    finally:
        tempfile.tempdir = saved


@pytest.fixture(scope="module")
def dovecot():
    Dovecot.ensure_installed()
    server = start_in_ram(Dovecot())
    yield server
    server.close()


@pytest.fixture
def user(dovecot, request, monkeypatch):
    """A fresh mailbox account (its INBOX created) for each test."""
    name = f"u{uuid.uuid4().hex[:10]}@example.test"
    dovecot.add_user(name, "pw")
    monkeypatch.setenv("T_IMAP_PW", "pw")
    c = dovecot.client(name, "pw")
    c.select_folder("INBOX")
    c.logout()
    return name


def make_box(dovecot, user, **overrides):
    section = {"name": "shop", "host": "127.0.0.1", "port": dovecot.tls_port,
               "security": "tls", "ca_file": str(dovecot.cafile), "username": user,
               "password_env": "T_IMAP_PW", "timeout_seconds": 5,
               "reconnect_min_seconds": 0.05, "reconnect_max_seconds": 1}
    section.update(overrides)
    return config_mod.from_dict({"inbox": [section]}, "<test>").inbox[0]


def message(n: int | str, *, with_id: bool = True) -> bytes:
    mid = f"Message-ID: <m{n}-{uuid.uuid4().hex[:8]}@customer.test>\r\n" if with_id else ""
    return (f"From: Buyer {n} <buyer{n}@customer.test>\r\nTo: shop@example.test\r\n"
            f"Subject: order {n}\r\n{mid}Date: Mon, 23 Nov 2026 09:00:00 +0000\r\n\r\n"
            f"Where is my order {n}? {uuid.uuid4().hex}\r\n").encode()


def deliver(dovecot, user, raws, sub: str = "new") -> None:
    """Deliver like an MDA does: write Maildir files directly (works while stopped)."""
    target = dovecot.maildir(user) / sub
    target.mkdir(parents=True, exist_ok=True)
    root = os.geteuid() == 0
    if root:
        uid = pwd.getpwnam("nobody").pw_uid
        gid = grp.getgrnam("nogroup").gr_gid if _has_group("nogroup") else \
            grp.getgrnam("nobody").gr_gid
    stamp = int(time.time())
    for i, raw in enumerate(raws):
        name = f"{stamp}.M{i}P{os.getpid()}R{uuid.uuid4().hex[:6]}.test"
        if sub == "cur":
            name += ":2,"
        fd = os.open(target / name, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            os.write(fd, raw)
            if root:
                os.fchown(fd, uid, gid)
        finally:
            os.close(fd)


def _has_group(name: str) -> bool:
    try:
        grp.getgrnam(name)
        return True
    except KeyError:
        return False


def count_commands(client) -> list[str]:
    """Record every tagged IMAP command this client sends (one round trip each)."""
    sent: list[str] = []
    imap = client._imap
    original = imap.send
    prefix = imap.tagpre

    def send(data):
        if data.startswith(prefix):
            words = data.strip().split(b" ")
            cmd = words[1].decode().upper()
            if cmd == "UID" and len(words) > 2:
                cmd += " " + words[2].decode().upper()
            sent.append(cmd)
        return original(data)
    imap.send = send
    return sent


@pytest.fixture
def counted_connections(monkeypatch):
    """Every connection opened through connections.connect_imap, with its commands."""
    log: list[list[str]] = []
    base = connections.IMAPClient

    class Counting(base):
        def __init__(self, *a, **k):
            super().__init__(*a, **k)
            log.append(count_commands(self))
    monkeypatch.setattr(connections, "IMAPClient", Counting)
    return log


def wait_until(predicate, timeout: float = 10.0, what: str = "condition"):
    """Bounded poll for a real server event (never a wait for a policy's time)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def stored(repo) -> list:
    rows = repo.list(None, limit=100000)
    return rows


def assert_no_repeats(repo, expected: int) -> None:
    rows = stored(repo)
    hashes = [r.content_hash for r in rows]
    assert len(rows) == expected, f"{len(rows)} stored, expected {expected}"
    assert len(set(hashes)) == len(hashes)


# ---- sync: round trips, first connection, UIDVALIDITY, \Seen ----------------------------
def test_no_new_mail_sync_is_constant_round_trips_on_a_10k_mailbox(dovecot, user, repo,
                                                                      counted_connections):
    small_user = f"s{uuid.uuid4().hex[:8]}@example.test"
    dovecot.add_user(small_user, "pw")
    c = dovecot.client(small_user, "pw")
    c.select_folder("INBOX")                  # creates the Maildir, owned by the mail user
    c.logout()
    deliver(dovecot, small_user, [message(i) for i in range(3)], sub="cur")
    deliver(dovecot, user, [message(i) for i in range(10_000)], sub="cur")
    big, small = make_box(dovecot, user), make_box(dovecot, small_user, name="small")

    # first connection: mail already there is not taken (start_from = "now")
    result = sync_inbox(big, repo, NOW)
    assert result.first_sync and result.new_pks == []
    state = repo.folder_state("shop", "INBOX")
    assert state.last_uid == 10_000 and state.highest_modseq, "HIGHESTMODSEQ is stored"
    assert sync_inbox(small, repo, NOW).first_sync

    counted_connections.clear()
    assert sync_inbox(big, repo, NOW).new_pks == []
    assert sync_inbox(small, repo, NOW).new_pks == []
    big_cmds, small_cmds = counted_connections
    assert big_cmds == small_cmds == ["LOGIN", "ENABLE", "EXAMINE", "LOGOUT"]

    # on a kept connection (the IDLE watcher's), a no-new-mail sync is one EXAMINE
    client = connect_imap(big)
    cmds = count_commands(client)
    for _ in range(3):
        assert sync_inbox(big, repo, NOW, client=client).new_pks == []
    assert cmds == ["EXAMINE"] * 3

    # one new message: EXAMINE, UID SEARCH, UID FETCH, whatever the mailbox size
    other = dovecot.client(user, "pw")
    other.append("INBOX", message("new"))
    cmds.clear()
    result = sync_inbox(big, repo, NOW, client=client)
    assert len(result.new_pks) == 1
    assert cmds == ["EXAMINE", "UID SEARCH", "UID FETCH"]
    cmds.clear()
    assert sync_inbox(big, repo, NOW, client=client).new_pks == []
    assert cmds == ["EXAMINE"]
    assert repo.folder_state("shop", "INBOX").last_uid == 10_001
    assert_no_repeats(repo, 1)
    client.logout()
    other.logout()


def test_start_from_date_takes_only_mail_since_then(dovecot, user, repo):
    c = dovecot.client(user, "pw")
    old = datetime(2020, 1, 1, tzinfo=UTC)
    c.append("INBOX", message("old"), msg_time=old)
    c.append("INBOX", message("recent"))
    box = make_box(dovecot, user, start_from=(NOW - timedelta(days=2)).date().isoformat(),
                   security="starttls", port=dovecot.port)      # STARTTLS, certificate checked
    result = sync_inbox(box, repo, NOW)
    assert len(result.new_pks) == 1
    assert b"order recent" in repo.get(result.new_pks[0]).raw
    c.logout()


def test_uidvalidity_reset_reads_again_but_stores_nothing_twice(dovecot, user, repo):
    box = make_box(dovecot, user)
    c = dovecot.client(user, "pw")
    c.append("INBOX", message("before-start"))      # there before responder: never taken
    assert sync_inbox(box, repo, NOW).first_sync
    raws = [message(i, with_id=i % 5 != 0) for i in range(12)]   # some without Message-ID
    for raw in raws:
        c.append("INBOX", raw)
    assert len(sync_inbox(box, repo, NOW).new_pks) == 12
    old_validity = repo.folder_state("shop", "INBOX").uidvalidity
    # mail that arrives after the last sync, before and after the server renumbers
    c.append("INBOX", message("before-reset-1"))
    c.append("INBOX", message("before-reset-2"))
    c.logout()
    dovecot.reset_uidvalidity(user)
    c = dovecot.client(user, "pw")
    c.append("INBOX", message("after-reset"))
    c.logout()

    result = sync_inbox(box, repo, NOW)
    assert result.resync
    subjects = sorted(repo.get(pk).raw.split(b"Subject: ")[1].split(b"\r\n")[0]
                      for pk in result.new_pks)
    assert subjects == [b"order after-reset", b"order before-reset-1", b"order before-reset-2"]
    assert_no_repeats(repo, 15)
    state = repo.folder_state("shop", "INBOX")
    assert state.uidvalidity != old_validity and state.last_uid == 16
    assert sync_inbox(box, repo, NOW).new_pks == []


def test_mail_another_client_read_or_flagged_is_taken_and_left_as_it_was(dovecot, user, repo):
    box = make_box(dovecot, user)
    sync_inbox(box, repo, NOW)
    c = dovecot.client(user, "pw")
    for i in range(3):
        c.append("INBOX", message(i))
    c.select_folder("INBOX")
    uids = c.search(["ALL"])
    c.add_flags(uids[:2], [b"\\Seen"])           # the rep read two of them in their client
    assert len(sync_inbox(box, repo, NOW).new_pks) == 3
    flags = c.get_flags(uids)
    assert [b"\\Seen" in flags[u] for u in uids] == [True, True, False], \
        "responder reads with BODY.PEEK on EXAMINE: it never marks mail read"
    assert_no_repeats(repo, 3)
    c.logout()


def test_concurrent_syncs_of_one_inbox_store_each_message_once(dovecot, user, repo):
    box = make_box(dovecot, user)
    sync_inbox(box, repo, NOW)
    c = dovecot.client(user, "pw")
    for i in range(20):
        c.append("INBOX", message(i))
    c.logout()
    results = []
    threads = [threading.Thread(target=lambda: results.append(sync_inbox(box, repo, NOW)))
               for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert sum(len(r.new_pks) for r in results) == 20
    assert_no_repeats(repo, 20)


# ---- the IDLE watcher -----------------------------------------------------------------
class Gate:
    """An injected back-off sleep: records the delay, then waits for the test."""

    def __init__(self):
        self.delays: list[float] = []
        self._sem = threading.Semaphore(0)

    def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)
        self._sem.acquire(timeout=10)

    def release(self) -> None:
        self._sem.release()


def watcher_for(box, repo, **kwargs) -> IdleWatcher:
    def sync(client):
        return sync_inbox(box, repo, NOW, client=client)
    kwargs.setdefault("rng", lambda: 0.0)
    return IdleWatcher(box, sync, **kwargs)


def test_idle_watcher_survives_a_server_restart_and_misses_nothing(dovecot, user, repo, tmp_path):
    box = make_box(dovecot, user)
    gate = Gate()
    board = StatusBoard(tmp_path / "status.json")
    w = watcher_for(box, repo, sleep=gate, board=board).start()
    try:
        wait_until(lambda: w.status.state == "idling", what="IDLE")
        c = dovecot.client(user, "pw")
        c.append("INBOX", message("pushed"))
        c.logout()
        wait_until(lambda: len(stored(repo)) == 1, what="pushed mail stored")

        dovecot.stop()                                         # restart in the middle of IDLE
        deliver(dovecot, user, [message("while-down")])         # delivered while it is down
        wait_until(lambda: w.status.state == "backing off", what="drop noticed")
        dovecot.start()
        c = dovecot.client(user, "pw")
        c.append("INBOX", message("during-reconnect"))          # arrives before we are back
        c.logout()
        gate.release()
        wait_until(lambda: len(stored(repo)) == 3, what="catch-up after reconnect")
        wait_until(lambda: w.status.state == "idling", what="IDLE again")
        c = dovecot.client(user, "pw")
        c.append("INBOX", message("after"))
        c.logout()
        wait_until(lambda: len(stored(repo)) == 4, what="push after reconnect")
    finally:
        w.stop()
    assert_no_repeats(repo, 4)
    assert w.connects == 2 and gate.delays == [0.025]          # first back-off: min/2 (rng 0)
    entry = board.read()["shop"]
    assert entry["state"] == "stopped" and entry["last_error"]
    assert "backing off" not in describe(entry)


def test_mail_arriving_during_a_sync_is_fetched_at_once_not_at_the_next_keepalive(
        dovecot, user, repo):
    """Mail appended between a sync's SELECT and the next IDLE is announced in answers
    imaplib files away; the watcher must see it there instead of waiting (here 29
    minutes) for a keep-alive."""
    box = make_box(dovecot, user, idle_keepalive_seconds=1740)
    arrivals = iter(["during-first-sync"])

    def sync(client):
        result = sync_inbox(box, repo, NOW, client=client)
        label = next(arrivals, None)
        if label is not None:                  # a customer's mail lands mid-sync
            c = dovecot.client(user, "pw")
            c.append("INBOX", message(label))
            c.logout()
        return result

    w = IdleWatcher(box, sync, rng=lambda: 0.0).start()
    try:
        wait_until(lambda: len(stored(repo)) == 1, what="mail announced during the sync")
    finally:
        w.stop()
    assert "announced" in w.idle_ends
    assert_no_repeats(repo, 1)


class FreezableProxy:
    """A TCP relay that can stop relaying (a hung connection: nothing closes)."""

    def __init__(self, target: tuple[str, int]):
        self.target = target
        self.frozen = threading.Event()
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        self.conns: list[socket.socket] = []
        self.connections = 0
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                client, _ = self.server.accept()
            except OSError:
                return
            upstream = socket.create_connection(self.target)
            self.connections += 1
            frozen = threading.Event()
            if self.frozen.is_set():
                frozen.set()
            self.conns += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(a, b, frozen), daemon=True).start()
            self._current = frozen

    def _pump(self, src, dst, frozen):
        while True:
            try:
                data = src.recv(65536)
            except OSError:
                return
            if not data:
                return
            if frozen.is_set():
                continue                     # swallowed: the peer hears nothing
            try:
                dst.sendall(data)
            except OSError:
                return

    def freeze_current(self):
        self._current.set()

    def close(self):
        self.server.close()
        for s in self.conns:
            try:
                s.close()
            except OSError:
                pass


def test_hung_connection_is_found_by_the_idle_keepalive(dovecot, user, repo):
    proxy = FreezableProxy((dovecot.host, dovecot.tls_port))
    box = make_box(dovecot, user, port=proxy.port, idle_keepalive_seconds=1,
                   timeout_seconds=1)
    gate = Gate()
    w = watcher_for(box, repo, sleep=gate).start()
    try:
        wait_until(lambda: w.status.state == "idling", what="IDLE")
        proxy.freeze_current()                  # the network path silently dies
        c = dovecot.client(user, "pw")
        c.append("INBOX", message("while-hung"))
        c.logout()
        wait_until(lambda: w.status.state == "backing off", what="hang detected")
        assert "keepalive" in w.idle_ends
        assert "timed out" in w.status.last_error or "timeout" in w.status.last_error.lower()
        gate.release()
        wait_until(lambda: len(stored(repo)) == 1, what="mail picked up after reconnect")
    finally:
        gate.release()
        w.stop()
        proxy.close()
    assert proxy.connections == 2
    assert_no_repeats(repo, 1)


def test_connect_time_out_on_a_silent_server_is_a_retry_not_a_hang(dovecot, user):
    silent = socket.create_server(("127.0.0.1", 0))     # accepts, never greets
    try:
        box = make_box(dovecot, user, port=silent.getsockname()[1], timeout_seconds=0.3)
        start = time.monotonic()
        with pytest.raises(ConnectError):
            connect_imap(box)
        assert time.monotonic() - start < 3
    finally:
        silent.close()


def test_backoff_schedule_doubles_with_jitter_and_resets_after_success(dovecot, user, repo,
                                                                         tmp_path):
    b = Backoff(1, 60, rng=lambda: 0.0)
    assert [b.next() for _ in range(8)] == [0.5, 1, 2, 4, 8, 16, 30, 30]
    b = Backoff(1, 60, rng=lambda: 0.999999)
    assert [round(b.next(), 3) for _ in range(8)] == [1, 2, 4, 8, 16, 32, 60, 60]
    b.reset()
    assert b.next() < 1.0001

    box = make_box(dovecot, user, reconnect_min_seconds=2, reconnect_max_seconds=20)
    failures = {"left": 5}
    delays: list[float] = []
    clock = SimpleNamespace(now=datetime(2026, 11, 23, 9, 0, tzinfo=UTC))

    def flaky_connect(b):
        if failures["left"]:
            failures["left"] -= 1
            raise ConnectError("inbox 'shop': cannot connect (test)")
        return connect_imap(b)

    def fake_sleep(seconds):
        delays.append(seconds)
        clock.now += timedelta(seconds=seconds)

    board = StatusBoard(tmp_path / "s.json")
    seen_retry: list[str] = []
    original_put = board.put

    def put(status):
        if status.state == "backing off":
            seen_retry.append(describe(json.loads(json.dumps(status.__dict__))))
        original_put(status)
    board.put = put
    w = watcher_for(box, repo, connect=flaky_connect, sleep=fake_sleep,
                    rng=lambda: 0.5, wallclock=lambda: clock.now, board=board).start()
    try:
        wait_until(lambda: w.status.state == "idling", what="IDLE after the failures")
    finally:
        w.stop()
    assert delays == [1.5, 3.0, 6.0, 12.0, 15.0]           # 3/4 of 2, 4, 8, 16, 20 (max)
    assert w.backoff.attempt == 0, "a working connection resets the back-off"
    assert "backing off until 2026-11-23 09:00:01 UTC (attempt 1)" in seen_retry[0]
    assert "cannot connect (test)" in seen_retry[0]


def test_idle_is_renewed_before_29_minutes_and_keepalive_checks_a_silent_server():
    box = config_mod.from_dict({"inbox": [{"host": "h", "username": "u"}]}).inbox[0]
    renew, keepalive = box.idle_renew_minutes * 60, box.idle_keepalive_seconds
    assert renew < 29 * 60
    assert idle_wakeup(0, 0, renew, keepalive) == (keepalive, "keepalive")
    # a server that says "still here" every 2 minutes: IDLE is renewed at 25 minutes
    assert idle_wakeup(0, 1440, renew, keepalive) == (renew, "renew")
    with pytest.raises(ConfigError):
        config_mod.from_dict({"inbox": [{"host": "h", "username": "u",
                                         "idle_renew_minutes": 30}]})


def test_without_idle_the_scheduler_polls(dovecot, user, repo, tmp_path):
    from responder.app.scheduler import build_scheduler

    cfg = config_mod.from_dict({
        "responder": {"database_url": f"sqlite:///{tmp_path / 'r.db'}"},
        "inbox": [make_box(dovecot, user).model_dump(),
                  make_box(dovecot, user, name="polled", idle=False).model_dump()]})
    service = SimpleNamespace(cfg=cfg, repo=repo, clock=lambda: NOW, process=lambda pks: None,
                              poll_inbox=lambda box: [], process_pending=lambda: 0,
                              release_due=lambda: [], send_approved=lambda: {},
                              send_due=lambda: {}, watch_deadlines=lambda: None,
                              send_digest=lambda: None)
    scheduler = build_scheduler(service)

    def no_idle_connect(box):
        client = connect_imap(box)
        caps = client.capabilities()
        client.capabilities = lambda: tuple(c for c in caps if c != b"IDLE")
        return client
    watchers = start_watchers(service, scheduler, connect=no_idle_connect)
    try:
        assert len(watchers) == 1, "idle = false: no watcher"
        assert scheduler.get_job("poll:polled").next_run_time is not None
        wait_until(lambda: watchers[0].status.state == "polling", what="fallback")
        wait_until(lambda: scheduler.get_job("poll:shop").next_run_time is not None,
                   what="poll job resumed")
        board = StatusBoard(status_path(cfg)).read()
        assert "no IDLE" in board["shop"]["detail"] and "idle = false" in board["polled"]["detail"]
    finally:
        for w in watchers:
            w.stop()


def test_status_command_shows_each_inbox_connection_state(dovecot, user, tmp_path, monkeypatch):
    from responder.cli.main import main

    db = tmp_path / "r.db"
    conf = tmp_path / "c.toml"
    conf.write_text(f'[responder]\ndatabase_url = "sqlite:///{db}"\n[[inbox]]\n'
                    f'name = "shop"\nhost = "127.0.0.1"\nport = {dovecot.tls_port}\n'
                    f'ca_file = "{dovecot.cafile}"\nusername = "{user}"\n'
                    f'password_env = "T_IMAP_PW"\n')
    cfg = config_mod.load(conf)
    repo = open_repository(cfg.database_url)
    board = StatusBoard(status_path(cfg))
    w = watcher_for(cfg.inbox[0], repo, board=board).start()
    try:
        wait_until(lambda: w.status.state == "idling", what="IDLE")
        out = CliRunner().invoke(main, ["--config", str(conf), "status"])
        assert out.exit_code == 0, out.output
        assert "connection: idling since" in out.output
        assert "HIGHESTMODSEQ" in out.output
    finally:
        w.stop()
    out = CliRunner().invoke(main, ["--config", str(conf), "status"])
    assert "connection: stopped" in out.output


# ---- providers, OAuth2, Drafts -----------------------------------------------------------
def test_provider_presets_fill_host_port_security_and_flags():
    def box(**kw):
        return config_mod.from_dict({"inbox": [{"username": "me@x.test", **kw}]}).inbox[0]
    gmail = box(provider="gmail")
    assert (gmail.host, gmail.port, gmail.security) == ("imap.gmail.com", 993, "tls")
    assert providers.server_saves_sent(gmail), "Gmail files sent mail itself"
    assert not providers.server_saves_sent(box(provider="gmail", sent_copy="always"))
    assert box(provider="gmail", port=1993).port == 1993, "written values win"
    for name in ("outlook", "microsoft365", "fastmail", "icloud", "yahoo", "zoho"):
        b = box(provider=name)
        assert b.host and b.port == 993 and b.security == "tls"
        assert not providers.server_saves_sent(b)
    assert providers.get("office365").oauth2_only
    assert "[Gmail]/Sent Mail" in providers.sent_fallbacks(gmail)
    with pytest.raises(ConfigError, match="unknown provider 'gmial'"):
        box(provider="gmial")
    with pytest.raises(ConfigError, match="host: required"):
        box()
    with pytest.raises(ConfigError, match="oauth2_token_command"):
        box(provider="gmail", auth="xoauth2")


def test_token_source_caches_until_expiry_and_refreshes():
    now = [1000.0]
    outputs = iter(['{"access_token": "t1", "expires_in": 3600}', "t2\n"])
    calls = []

    def run(cmd, **kw):
        calls.append(cmd)
        return SimpleNamespace(returncode=0, stdout=next(outputs), stderr="")
    src = TokenSource(command="get-token", clock=lambda: now[0], run=run)
    assert src.get() == "t1" and src.get() == "t1" and len(calls) == 1
    now[0] += 3600 - 30                      # inside the refresh margin: ask again
    assert src.get() == "t2" and len(calls) == 2
    assert parse_token('{"token": "x", "expires_at": 5}', 0) == ("x", 5.0)


class _OAuthDovecot(Dovecot):
    """Dovecot with an OAuth2 passdb that asks a local token-introspection endpoint."""

    def __init__(self, introspection_url: str, **kw):
        super().__init__(**kw)
        self.url = introspection_url

    def _config(self) -> str:
        text = super()._config().replace("auth_mechanisms = plain login",
                                         "auth_mechanisms = plain login xoauth2")
        ext = self.dir / "oauth2.conf.ext"
        ext.write_text(f"introspection_mode = post\nintrospection_url = {self.url}\n"
                       "username_attribute = username\nactive_attribute = active\n"
                       "active_value = true\n")
        return text + f"passdb {{\n  driver = oauth2\n  mechanisms = xoauth2\n  args = {ext}\n}}\n"


def test_xoauth2_login_refreshes_an_expired_token(tmp_path, repo):
    valid: dict[str, str] = {}

    class Introspect(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()
            token = parse_qs(body).get("token", [""])[0]
            user = valid.get(token)
            out = json.dumps({"active": True, "username": user} if user
                             else {"active": False}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(out)))
            self.end_headers()
            self.wfile.write(out)

        def log_message(self, *args):
            pass

    http = HTTPServer(("127.0.0.1", 0), Introspect)
    threading.Thread(target=http.serve_forever, daemon=True).start()
    server = _OAuthDovecot(f"http://127.0.0.1:{http.server_port}/introspect")
    try:
        start_in_ram(server)
        token_file = tmp_path / "token"
        counter = tmp_path / "n"
        counter.write_text("0")
        # the seller's refresher: each run mints a new token
        script = tmp_path / "mint.sh"
        script.write_text(f'n=$(( $(cat {counter}) + 1 )); echo $n > {counter}; '
                          f'echo "{{\\"access_token\\": \\"tok$n\\", \\"expires_in\\": 3600}}"\n')
        box = config_mod.from_dict({"inbox": [{
            "host": "127.0.0.1", "port": server.tls_port, "ca_file": str(server.cafile),
            "username": server.user, "auth": "xoauth2",
            "oauth2_token_command": f"sh {script}"}]}).inbox[0]
        valid["tok1"] = server.user
        connect_imap(box).logout()
        connect_imap(box).logout()                    # cached: no second run
        assert counter.read_text().strip() == "1"
        del valid["tok1"]                              # the token expired at the provider
        valid["tok2"] = server.user
        client = connect_imap(box)                     # refused once, refreshed, in
        assert counter.read_text().strip() == "2"
        assert sync_inbox(box, repo, NOW, client=client).first_sync
        client.logout()
        valid.clear()
        with pytest.raises(AuthError, match="login refused"):
            connect_imap(box)
        # a token file kept fresh by another tool
        token_file.write_text("tok9\n")
        valid["tok9"] = server.user
        fbox = box.model_copy(update={"oauth2_token_command": "",
                                      "oauth2_token_file": str(token_file)})
        connect_imap(fbox).logout()
    finally:
        server.close()
        http.shutdown()


def test_draft_is_appended_to_the_special_use_drafts_folder_once(dovecot, user, repo):
    box = make_box(dovecot, user, drafts_to_folder=True)
    folder, uid = append_draft(box, b"From: a@b.test\r\nSubject: hand-made\r\n\r\nx\r\n")
    assert folder == "Drafts" and uid

    pk, _ = repo.store_raw(message(1), source="imap", received_at=NOW, deadline_at=NOW,
                           inbox="shop", folder="INBOX")
    draft = Draft(to_addr="buyer1@customer.test", to_name="Buyer 1",
                  from_addr="shop@example.test", subject="Re: order 1",
                  body="Hello,\n\nyour parcel left today.\n", in_reply_to="<m1@customer.test>",
                  references=["<m1@customer.test>"], template="en/where_is_my_order",
                  language="en", fallback_language=False)
    repo.transition(pk, Stage.DRAFTED, actor="test", action="drafted", reason="test",
                    now=NOW, draft=draft)
    cfg = config_mod.from_dict({"inbox": [box.model_dump()]})
    assert push_drafts(repo, cfg, NOW) == 1
    assert push_drafts(repo, cfg, NOW) == 0, "each draft goes to Drafts once"
    c = dovecot.client(user, "pw")
    c.select_folder("Drafts", readonly=True)
    uids = c.search(["HEADER", "In-Reply-To", "<m1@customer.test>"])
    assert len(uids) == 1
    assert b"\\Draft" in c.get_flags(uids)[uids[0]]
    c.logout()
    off = config_mod.from_dict({"inbox": [make_box(dovecot, user).model_dump()]})
    assert push_drafts(repo, off, NOW) == 0


@pytest.mark.parametrize("sent_copy, copies", [("auto", 1), ("never", 0)])
def test_sent_copy_is_skipped_where_the_provider_files_it(dovecot, user, repo, sent_copy,
                                                          copies):
    from email.message import EmailMessage

    from responder.mail import sending

    box = make_box(dovecot, user, sent_copy=sent_copy)
    sync_inbox(box, repo, NOW)
    c = dovecot.client(user, "pw")
    original = message("sent-test")
    c.append("INBOX", original)
    [pk] = sync_inbox(box, repo, NOW).new_pks
    reply = EmailMessage()
    reply["From"], reply["To"], reply["Subject"] = "shop@example.test", "b@c.test", "Re: x"
    reply["Message-ID"] = f"<reply-{uuid.uuid4().hex}@shop.test>"
    reply.set_content("Thank you.")
    cfg = config_mod.from_dict({"inbox": [box.model_dump()]})
    sending._after_send(repo, cfg, repo.get(pk), reply, NOW)
    c.select_folder("Sent", readonly=True)
    assert len(c.search(["HEADER", "Message-ID", reply["Message-ID"]])) == copies
    c.select_folder("INBOX", readonly=True)
    [uid] = c.search(["ALL"])
    assert b"\\Answered" in c.get_flags([uid])[uid]
    c.logout()


def test_one_watcher_thread_per_inbox_each_storing_its_own_mail(dovecot, user, repo, tmp_path):
    second = f"v{uuid.uuid4().hex[:10]}@example.test"
    dovecot.add_user(second, "pw")
    cfg = config_mod.from_dict({
        "responder": {"database_url": f"sqlite:///{tmp_path / 'r.db'}"},
        "inbox": [make_box(dovecot, user, name="shop-a").model_dump(),
                  make_box(dovecot, second, name="shop-b").model_dump()]})
    processed: list[int] = []
    service = SimpleNamespace(cfg=cfg, repo=repo, clock=lambda: NOW,
                              process=lambda pks: processed.extend(pks))
    watchers = start_watchers(service)
    try:
        assert {w.thread.name for w in watchers} == {"idle:shop-a", "idle:shop-b"}
        wait_until(lambda: all(w.status.state == "idling" for w in watchers), what="IDLE")
        for who in (user, second):
            c = dovecot.client(who, "pw")
            c.append("INBOX", message(who))
            c.logout()
        wait_until(lambda: len(processed) == 2, what="both inboxes")
    finally:
        for w in watchers:
            w.stop()
    assert sorted(repo.get(pk).inbox for pk in processed) == ["shop-a", "shop-b"]

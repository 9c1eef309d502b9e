"""Issue 14: a send that is interrupted never goes out twice by itself.

Real ``responder send`` subprocesses (``python -m responder --config ... send``) are
killed with SIGKILL at each of the three moments of a send, against a real aiosmtpd
sink that records a message as soon as its DATA has arrived (before it answers):

  after-marker  the claim (stage "sending") is committed, SMTP not started
                (test-only failpoint $RESPONDER_TEST_KILL_AT, see mail/sending.py)
  in-data       the sink has the message but has not answered 250 yet (real timing:
                the sink answers 2 s late; the process is killed when it has the message)
  after-250     the 250 was read but not yet recorded (test-only failpoint)

Then ``responder send`` runs three more times. No Message-ID may reach the sink
twice; every approved reply ends sent exactly once or "uncertain", waiting for a
person, with the reason in ``list``/``show``/``status``; ``send --resend ID --as
NAME`` sends it exactly once more and the audit trail names that person.

Also here: the issue's own reproduction on the demo database, the Sent-folder path
on a real Dovecot, the scheduler-versus-CLI race, a lost connection after DATA, the
time rule for a claim held by a live sender elsewhere (injected clock), and the
migration of the old free-text marker.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from conftest import Clock, sample
from servers import Dovecot, SlowSmtpSink
from sqlalchemy import text

from responder import config as config_mod
from responder.app.actions import approve
from responder.app.service import Service
from responder.core.model import Stage
from responder.mail.sending import FAILPOINT_ENV, sending_grace
from responder.store import migrations, open_repository
from responder.store.repository import make_engine


def migrations_head() -> str | None:
    from alembic.script import ScriptDirectory
    return ScriptDirectory.from_config(migrations.alembic_config("sqlite://")).get_current_head()

ROOT = Path(__file__).resolve().parents[1]
APPROVED_SAMPLES = ("01-refund-en.eml", "04-where-ru.eml", "05-download-fr.eml")
PROCESS_TIMEOUT = 180


# ---- helpers ------------------------------------------------------------------------------

def write_config(path: Path, db: Path, sink: SlowSmtpSink, inbox: str = "") -> Path:
    path.write_text(f'[responder]\ndatabase_url = "sqlite:///{db}"\nlog_level = "WARNING"\n'
                    f'[smtp]\nhost = "127.0.0.1"\nport = {sink.port}\nsecurity = "none"\n'
                    'timeout_seconds = 20\n' + inbox)
    return path


def responder_cmd(cfg_path: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "responder", "--config", str(cfg_path), *args]


def run_responder(cfg_path: Path, *args: str, env: dict[str, str] | None = None,
                  ok: bool = True) -> subprocess.CompletedProcess[str]:
    full_env = {k: v for k, v in os.environ.items() if k != FAILPOINT_ENV}
    full_env.update(env or {})
    done = subprocess.run(responder_cmd(cfg_path, *args), capture_output=True, text=True,
                          env=full_env, timeout=PROCESS_TIMEOUT, cwd=cfg_path.parent,
                          check=False)
    if ok:
        assert done.returncode == 0, done.stdout + done.stderr
    return done


def killed_send(cfg_path: Path, sink: SlowSmtpSink, moment: str,
                env: dict[str, str] | None = None) -> None:
    """Run ``responder send`` and see it die by SIGKILL at ``moment``."""
    full_env = {k: v for k, v in os.environ.items() if k != FAILPOINT_ENV}
    full_env.update(env or {})
    if moment != "in-data":
        full_env[FAILPOINT_ENV] = moment
    proc = subprocess.Popen(responder_cmd(cfg_path, "send"), env=full_env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            cwd=cfg_path.parent)
    try:
        if moment == "in-data":
            sink.wait_for(1, timeout=PROCESS_TIMEOUT)   # DATA arrived; 250 not sent yet
            proc.send_signal(signal.SIGKILL)
        out, err = proc.communicate(timeout=PROCESS_TIMEOUT)   # also reaps the pid
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == -signal.SIGKILL, f"not killed at {moment}:\n{out}\n{err}"


def assert_no_duplicates(sink: SlowSmtpSink) -> Counter[str]:
    counts = Counter(sink.message_ids())
    twice = {mid: n for mid, n in counts.items() if n > 1}
    assert not twice, f"sent more than once: {twice}"
    return counts


def approved_world(tmp_path: Path, services, sink: SlowSmtpSink, *, inbox_toml: str = "",
                   inbox: str | None = None):
    """A database with three approved replies (and one drafted, due sooner, unapproved)."""
    db = tmp_path / "r.db"
    cfg_path = write_config(tmp_path / "config.toml", db, sink, inbox_toml)
    cfg = config_mod.load(cfg_path)
    repo = open_repository(cfg.database_url)
    now = datetime.now(UTC).replace(microsecond=0)
    pks = []
    for name in APPROVED_SAMPLES + ("06-contact-form.eml",):
        due = now + (timedelta(hours=1) if name.startswith("06") else timedelta(days=2))
        pk, _ = repo.store_raw(sample(name), source="imap" if inbox else "cli",
                               received_at=now, deadline_at=due, inbox=inbox,
                               folder="INBOX" if inbox else None)
        pks.append(pk)
    Service(cfg, repo, services=services).process(pks)   # binds the throttle to this repo
    for pk in pks:
        assert repo.get(pk).stage == Stage.DRAFTED.value, repo.get(pk).error
    for pk in pks[:3]:
        approve(repo, pk, actor="rep:alice", now=now,
                message_id_domain=cfg.shop.message_id_domain)
    return cfg_path, repo, pks[:3], pks[3]


def reply_id(repo, pk: int) -> str:
    return repo.get(pk).draft.reply_message_id


def claims(repo, pk: int) -> list[tuple[str, str]]:
    """Every event that started an SMTP transaction for message ``pk``."""
    return [(e.actor, e.action) for e in repo.events(pk) if e.to_stage == "sending"]


@pytest.fixture
def sink():
    server = SlowSmtpSink()
    server.start()
    yield server
    server.close()


# ---- the three moments ----------------------------------------------------------------------

@pytest.mark.parametrize("moment", ["after-marker", "in-data", "after-250"])
def test_killed_send_is_never_repeated_and_waits_for_a_person(moment, tmp_path, services,
                                                             sink):
    cfg_path, repo, approved, drafted = approved_world(tmp_path, services, sink)
    first = approved[0]
    sink.reply_delay = 2.0 if moment == "in-data" else 0.0
    killed_send(cfg_path, sink, moment)
    sink.reply_delay = 0.0

    row = repo.get(first)
    assert row.stage == Stage.SENDING.value, "the claim was committed before SMTP"
    assert row.draft.send_owner and row.draft.send_started_at
    reached = sink.message_ids()
    assert reached == ([] if moment == "after-marker" else [reply_id(repo, first)])
    assert all(repo.get(pk).stage == Stage.APPROVED.value for pk in approved[1:])

    for _ in range(3):
        done = run_responder(cfg_path, "send")
        assert done.stdout.strip().endswith("unknown: 1"), done.stdout
        counts = assert_no_duplicates(sink)

    expected_first = 0 if moment == "after-marker" else 1
    assert counts[reply_id(repo, first)] == expected_first
    for pk in approved[1:]:
        assert repo.get(pk).stage == Stage.SENT.value
        assert counts[reply_id(repo, pk)] == 1
    row = repo.get(first)
    assert row.stage == Stage.UNCERTAIN.value
    assert claims(repo, first) == [("system", "sending")], "never claimed again by a machine"
    assert [e.action for e in repo.events(first)].count("send-uncertain") == 1

    listed = run_responder(cfg_path, "list").stdout.splitlines()
    assert listed[1].split()[:2] == [str(first), "uncertain"], listed
    assert "UNCERTAIN" in listed[2] and f"responder send --resend {first}" in listed[2]
    assert "no Sent folder to look in" in listed[2]
    assert any(line.split()[:2] == [str(drafted), "drafted"] for line in listed[3:]), \
        "the drafted reply, due sooner, is listed after the uncertain send"
    shown = run_responder(cfg_path, "show", str(first)).stdout
    assert f"#{first}  stage: uncertain" in shown
    assert "SEND STATE: uncertain: waiting for a person" in shown
    assert "may or may not have gone out" in shown
    status = run_responder(cfg_path, "status").stdout
    assert status.startswith("UNCERTAIN SENDS waiting for a person: 1")
    assert f"#{first} to " in status

    before = len(sink.messages)
    done = run_responder(cfg_path, "send", "--resend", str(first), "--as", "carol")
    assert f"#{first}: sent" in done.stdout, done.stdout
    assert len(sink.messages) == before + 1
    assert Counter(sink.message_ids())[reply_id(repo, first)] == expected_first + 1
    assert repo.get(first).stage == Stage.SENT.value
    assert claims(repo, first) == [("system", "sending"), ("rep:carol", "resend")]
    run_responder(cfg_path, "send")
    assert len(sink.messages) == before + 1, "nothing more after the resend"


# ---- the issue's reproduction --------------------------------------------------------------

def test_issue_14_reproduction_on_the_demo_database(tmp_path, sink):
    demo_dir = tmp_path / "demo"
    done = subprocess.run([sys.executable, "-m", "responder", "demo", "--dir", str(demo_dir)],
                          capture_output=True, text=True, timeout=PROCESS_TIMEOUT,
                          cwd=tmp_path, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    cfg_path = write_config(tmp_path / "config.toml", demo_dir / "demo.db", sink)
    repo = open_repository(f"sqlite:///{demo_dir / 'demo.db'}")
    drafted = repo.pks_in_stage(Stage.DRAFTED)
    assert len(drafted) >= 2, "the demo leaves drafts for a rep"
    # as the issue's reproduction does: unedited drafts, approved without --override-tone
    run_responder(cfg_path, "approve", "--no-send", "--as", "dave",
                  *map(str, drafted))
    assert all(repo.get(pk).stage == Stage.APPROVED.value for pk in drafted)

    sink.reply_delay = 2.0          # records at DATA, answers 250 two seconds later
    killed_send(cfg_path, sink, "in-data")
    for _ in range(3):
        run_responder(cfg_path, "send")
    counts = assert_no_duplicates(sink)
    stages = {pk: repo.get(pk).stage for pk in drafted}
    assert sorted(stages.values()) == ["sent"] * (len(drafted) - 1) + ["uncertain"], stages
    for pk in stages:
        assert counts[reply_id(repo, pk)] == 1, "each reply reached the server exactly once"
        assert len(claims(repo, pk)) == 1


# ---- Sent folder on a real Dovecot ---------------------------------------------------------

@pytest.fixture(scope="module")
def dovecot():
    Dovecot.ensure_installed()
    server = Dovecot()
    server.start()
    yield server
    server.close()


@pytest.mark.imap
def test_interrupted_send_found_in_sent_is_marked_sent_not_uncertain(tmp_path, services,
                                                                     sink, dovecot,
                                                                     monkeypatch):
    user = f"crash{tmp_path.name[-10:].replace('_', '')}@example.test".lower()
    dovecot.add_user(user, "imap-pw")
    monkeypatch.setenv("T_IMAP_PW", "imap-pw")
    inbox = (f'[[inbox]]\nname = "shop"\nhost = "127.0.0.1"\nport = {dovecot.tls_port}\n'
             f'security = "tls"\nca_file = "{dovecot.cafile}"\nusername = "{user}"\n'
             'password_env = "T_IMAP_PW"\ntimeout_seconds = 10\n')
    cfg_path, repo, approved, _ = approved_world(tmp_path, services, sink, inbox_toml=inbox,
                                                 inbox="shop")
    imap = dovecot.client(user, "imap-pw")
    try:
        # 1: killed after the 250; the provider filed the reply in Sent itself
        first, second, third = approved
        killed_send(cfg_path, sink, "after-250")
        [got] = sink.messages
        imap.append("Sent", got.data)
        # the next run marks it sent from the Sent folder, then is killed after the
        # 250 of the second reply
        killed_send(cfg_path, sink, "after-250")
        row = repo.get(first)
        assert row.stage == Stage.SENT.value
        assert "found in shop/Sent after an interrupted send" in repo.events(first)[-1].reason
        assert "send-uncertain" not in [e.action for e in repo.events(first)]
        assert sink.message_ids() == [reply_id(repo, first), reply_id(repo, second)]
        second_data = sink.messages[-1].data

        # 2: the second is not in Sent: uncertain; filed late: sent on a later run
        run_responder(cfg_path, "send")
        assert repo.get(third).stage == Stage.SENT.value
        row = repo.get(second)
        assert row.stage == Stage.UNCERTAIN.value
        assert "not in shop/Sent" in row.draft.send_error
        assert "proves nothing" in row.draft.send_error
        run_responder(cfg_path, "send")                  # still not there: still waiting
        assert repo.get(second).stage == Stage.UNCERTAIN.value
        imap.append("Sent", second_data)
        run_responder(cfg_path, "send")
        assert repo.get(second).stage == Stage.SENT.value
        assert "(was uncertain)" in repo.events(second)[-1].reason

        counts = assert_no_duplicates(sink)
        assert all(counts[reply_id(repo, pk)] == 1 for pk in approved)
        assert all(repo.get(pk).stage == Stage.SENT.value for pk in approved)
    finally:
        imap.logout()


# ---- the race: scheduler job and CLI send at once ----------------------------------------

def test_two_senders_at_once_send_each_reply_once(tmp_path, services, sink):
    cfg_path, repo, approved, _ = approved_world(tmp_path, services, sink)
    sink.reply_delay = 2.0           # long enough for the two runs to overlap
    env = {k: v for k, v in os.environ.items() if k != FAILPOINT_ENV}
    procs = [subprocess.Popen(responder_cmd(cfg_path, "send"), env=env, text=True,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              cwd=tmp_path) for _ in range(2)]
    outputs = [p.communicate(timeout=PROCESS_TIMEOUT) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outputs
    counts = assert_no_duplicates(sink)
    assert all(counts[reply_id(repo, pk)] == 1 for pk in approved)
    assert all(repo.get(pk).stage == Stage.SENT.value for pk in approved), \
        "a live sender's claim is not declared uncertain by the other"
    assert sum(len(claims(repo, pk)) for pk in approved) == len(approved)
    owners = {repo.get(pk).draft.send_owner.rsplit(":", 2)[1] for pk in approved}
    assert len(owners) == 2, "both runs sent (they overlapped), none sent twice"


# ---- in-process: lost connection, time rule, migration ------------------------------------

def _service(tmp_path, services, sink, clock):
    cfg = config_mod.from_dict({
        "responder": {"database_url": f"sqlite:///{tmp_path / 's.db'}"},
        "smtp": {"host": "127.0.0.1", "port": sink.port, "security": "none",
                 "timeout_seconds": 5}}, "<test>")
    repo = open_repository(cfg.database_url)
    pk, _ = repo.store_raw(sample("01-refund-en.eml"), source="cli", received_at=clock(),
                           deadline_at=clock() + timedelta(days=1))
    service = Service(cfg, repo, services=services, clock=clock)   # binds the throttle
    service.process([pk])
    approve(repo, pk, actor="rep:alice", now=clock(),
            message_id_domain=cfg.shop.message_id_domain)
    return cfg, repo, service, pk


def test_connection_lost_after_data_is_uncertain_not_retried(tmp_path, services, sink):
    clock = Clock(datetime.now(UTC).replace(microsecond=0))
    _cfg, repo, service, pk = _service(tmp_path, services, sink, clock)
    sink.drop_after_data = True
    assert service.send_approved() == {"sent": 0, "failed": 0, "unknown": 1}
    sink.drop_after_data = False
    row = repo.get(pk)
    assert row.stage == Stage.UNCERTAIN.value
    assert "failed after the message was handed over" in row.draft.send_error
    clock.advance(hours=1)
    assert service.send_approved() == {"sent": 0, "failed": 0, "unknown": 1}
    assert len(sink.messages) == 1


def test_temporary_refusal_stays_approved_permanent_goes_back(tmp_path, services, sink):
    clock = Clock(datetime.now(UTC).replace(microsecond=0))
    _cfg, repo, service, pk = _service(tmp_path, services, sink, clock)
    sink.fail_next(1, code=451)
    assert service.send_approved() == {"sent": 0, "failed": 1, "unknown": 0}
    row = repo.get(pk)
    assert row.stage == Stage.APPROVED.value and "451" in row.draft.send_error
    clock.advance(minutes=1)      # the backoff after a temporary failure
    sink.fail_next(1, code=554, message="5.7.1 Spam detected")
    assert service.send_approved() == {"sent": 0, "failed": 1, "unknown": 0}
    row = repo.get(pk)
    assert row.stage == Stage.DRAFTED.value
    assert "permanent" in row.draft.send_error and "Spam detected" in row.draft.send_error
    assert not sink.messages


def test_a_claim_held_elsewhere_is_interrupted_only_after_the_grace(tmp_path, services,
                                                                    sink):
    clock = Clock(datetime.now(UTC).replace(microsecond=0))
    cfg, repo, service, pk = _service(tmp_path, services, sink, clock)
    # another machine claimed it: its process cannot be checked from here
    assert repo.compare_and_set(pk, Stage.APPROVED, Stage.SENDING, actor="system",
                                action="sending", reason="elsewhere", now=clock(),
                                draft_fields={"send_owner": "other-host:4242:beef",
                                              "send_started_at": clock()})
    grace = sending_grace(cfg.smtp.timeout_seconds)
    clock.now += grace
    assert service.send_approved() == {"sent": 0, "failed": 0, "unknown": 0}
    assert repo.get(pk).stage == Stage.SENDING.value, "a live sender may still be on it"
    from responder.app.actions import ApprovalError, resend
    with pytest.raises(ApprovalError, match="being sent right now"):
        resend(repo, cfg, pk, actor="rep:bob", clock=clock)
    clock.advance(seconds=1)
    assert service.send_approved() == {"sent": 0, "failed": 0, "unknown": 1}
    assert repo.get(pk).stage == Stage.UNCERTAIN.value
    assert not sink.messages


def test_compare_and_set_lets_one_claimer_win(tmp_path, services, sink):
    clock = Clock(datetime.now(UTC).replace(microsecond=0))
    cfg, repo, _svc, pk = _service(tmp_path, services, sink, clock)
    other = open_repository(cfg.database_url)
    wins = [r.compare_and_set(pk, Stage.APPROVED, Stage.SENDING, actor="system",
                              action="sending", reason="race", now=clock(),
                              draft_fields={"send_owner": f"h:1:{i}"})
            for i, r in enumerate((repo, other, repo))]
    assert wins == [True, False, False]
    assert repo.get(pk).draft.send_owner == "h:1:0"


def test_old_free_text_marker_is_migrated_to_explicit_states(tmp_path, sink):
    db = tmp_path / "old.db"
    engine = make_engine(f"sqlite:///{db}")
    migrations.upgrade(engine, "0001")
    t = "2026-11-20 10:00:00"
    with engine.begin() as c:
        for pk, note in ((1, "sending: outcome not yet known"),
                         (2, ("an earlier send was interrupted and may have gone out; "
                              "check the Sent folder, then run 'responder send --resend 2' "
                              "if it did not")),
                         (3, "temporary send failure: (451, b'later')")):
            c.execute(text(
                "INSERT INTO messages (id, source, raw, content_hash, received_at, "
                "deadline_at, stage, updated_at) VALUES (:pk, 'cli', x'00', :h, :t, :t, "
                "'approved', :t)"), {"pk": pk, "h": f"h{pk}", "t": t})
            c.execute(text(
                "INSERT INTO drafts (message_pk, to_addr, to_name, from_addr, subject, body, "
                "\"references\", template, language, fallback_language, notes, edited, "
                "reply_message_id, approved_by, approved_at, send_attempts, send_error, "
                "created_at, updated_at) "
                "VALUES (:pk, 'c@x.test', '', 's@shop.test', 'Re: x', 'hi', '[]', 'en/x', "
                "'en', 0, '[]', 0, :mid, 'rep:old', :t, 1, :note, :t, :t)"),
                {"pk": pk, "mid": f"<m{pk}@shop.test>", "note": note, "t": t})
    engine.dispose()
    repo = open_repository(f"sqlite:///{db}")
    assert migrations.current(repo.engine) == migrations_head()
    assert [repo.get(pk).stage for pk in (1, 2, 3)] == ["sending", "uncertain", "approved"]
    assert repo.get(1).draft.send_owner == "legacy"
    assert repo.events(1)[-1].action == "migrated"

    cfg_path = write_config(tmp_path / "config.toml", db, sink)
    out = run_responder(cfg_path, "send").stdout
    assert out.strip().endswith("unknown: 2"), out
    assert [repo.get(pk).stage for pk in (1, 2, 3)] == ["uncertain", "uncertain", "sent"]
    assert sink.message_ids() == ["<m3@shop.test>"], "only the plain approved reply is sent"
    run_responder(cfg_path, "send", "--mark-sent", "1", "--as", "erin")
    assert repo.get(1).stage == "sent"
    assert (repo.events(1)[-1].actor, repo.events(1)[-1].action) == ("rep:erin", "sent")
    refused = run_responder(cfg_path, "send", "--mark-sent", "3", ok=False)
    assert refused.returncode == 1 and "only an uncertain send" in refused.stderr


def test_compare_and_set_checks_stage_and_owner_on_every_backend(any_repo, clock):
    import threading

    from responder.core.model import Draft
    repo = any_repo
    pk, _ = repo.store_raw(b"From: a@b.test\r\nSubject: x\r\n\r\nhi\r\n", source="smtp",
                           received_at=clock(), deadline_at=clock() + timedelta(days=1))
    repo.transition(pk, Stage.APPROVED, actor="rep:a", action="approved", reason="ok",
                    now=clock(), draft=Draft(to_addr="c@x.test", to_name="",
                                             from_addr="s@x.test", subject="Re: x",
                                             body="hi", in_reply_to=None, references=[],
                                             template="en/x", language="en",
                                             fallback_language=False))
    barrier = threading.Barrier(6)
    wins: list[str] = []

    def claim(i: int) -> None:
        barrier.wait()
        if repo.compare_and_set(pk, Stage.APPROVED, Stage.SENDING, actor="system",
                                action="sending", reason=f"claimer {i}", now=clock(),
                                draft_fields={"send_owner": f"h:{i}:t",
                                              "send_started_at": clock(),
                                              "send_attempts": 1}):
            wins.append(f"h:{i}:t")

    threads = [threading.Thread(target=claim, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(wins) == 1, wins
    row = repo.get(pk)
    assert row.stage == "sending" and row.draft.send_owner == wins[0]
    assert row.draft.send_started_at == clock() and row.draft.send_attempts == 1
    # only the owner of the attempt may record its outcome
    assert not repo.compare_and_set(pk, Stage.SENDING, Stage.SENT, actor="system",
                                    action="sent", reason="x", now=clock(),
                                    send_owner="someone:else:x")
    assert repo.compare_and_set(pk, Stage.SENDING, Stage.SENT, actor="system", action="sent",
                                reason="250", now=clock(), send_owner=wins[0],
                                draft_fields={"sent_at": clock()})
    assert [(e.from_stage, e.to_stage) for e in repo.events(pk)][-2:] == [
        ("approved", "sending"), ("sending", "sent")]

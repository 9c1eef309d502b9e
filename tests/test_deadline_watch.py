"""The deadline watch, the owner's notices and the daily digest (issue 12, items 3 and 5).

Real SQLite with the real migrations, a real aiosmtpd sink for the owner's mail, the
real pipeline; an injected clock (no sleeping). The crash tests kill a real
``responder deadlines`` subprocess with SIGKILL at the failpoints of mail/sending.py:
between the claim and the SMTP transaction, and after the server's 250.
"""
from __future__ import annotations

import dataclasses
import os
import signal
import subprocess
import sys
from collections import Counter
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import Clock, sample
from servers import SlowSmtpSink
from sqlalchemy import text

from responder import config as config_mod
from responder.app import deadlines
from responder.app.queue import queue
from responder.app.scheduler import build_scheduler
from responder.app.service import Service
from responder.cli.main import main
from responder.core.model import Stage
from responder.mail.sending import FAILPOINT_ENV
from responder.store import migrations, open_repository
from responder.store import notices as outbox
from responder.store.repository import make_engine

OWNER = "owner@example-shop.test"
PROCESS_TIMEOUT = 120


@pytest.fixture
def sink():
    server = SlowSmtpSink()
    server.start()
    yield server
    server.close()


def write_config(tmp_path: Path, sink, *, owner: str = OWNER, extra: str = "") -> Path:
    path = tmp_path / "config.toml"
    path.write_text(f'[responder]\ndatabase_url = "sqlite:///{tmp_path / "r.db"}"\n'
                    'log_level = "WARNING"\ntimezone = "Europe/Berlin"\n'
                    f'[shop]\nowner_address = "{owner}"\n'
                    f'[smtp]\nhost = "127.0.0.1"\nport = {sink.port}\nsecurity = "none"\n'
                    'timeout_seconds = 20\n' + extra)
    return path


def world(tmp_path, sink, services, clock, *, names=("01-refund-en.eml",), **kw):
    cfg_path = write_config(tmp_path, sink, **kw)
    cfg = config_mod.load(cfg_path)
    repo = open_repository(cfg.database_url)
    # the models of the session, with this test's config (cooling, shop)
    service = Service(cfg, repo, services=dataclasses.replace(services, cfg=cfg), clock=clock)
    pks = []
    for name in names:
        now = clock()
        pk, _ = repo.store_raw(sample(name), source="cli", received_at=now,
                               deadline_at=now + timedelta(hours=24))
        pks.append(pk)
    service.process(pks)
    return cfg_path, cfg, repo, service, pks


def to_owner(sink) -> list:
    return [message_from_bytes(m.data, policy=policy.default) for m in sink.messages
            if OWNER in m.rcpt_tos]


# ---- escalation and the notice ----------------------------------------------------------------

def test_escalation_marks_orders_and_notifies_once(tmp_path, sink, services, clock):
    cfg_path, cfg, repo, service, (pk,) = world(tmp_path, sink, services, clock)
    assert repo.get(pk).stage == Stage.DRAFTED.value

    clock.advance(hours=20, minutes=59)                # 3 h 01 min before the deadline
    assert service.watch_deadlines().escalated == []
    assert sink.messages == []

    clock.advance(minutes=1)                           # exactly 3 h before
    result = service.watch_deadlines()
    assert result.escalated == [pk] and result.notices["sent"] == 1
    again = service.watch_deadlines()                  # a second run: nothing more
    assert again.escalated == [] and again.notices.get("sent", 0) == 0
    mails = to_owner(sink)
    assert len(mails) == 1
    mail = mails[0]
    assert mail["Auto-Submitted"] == "auto-generated" and mail["X-Loop"] == "responder"
    assert mail["From"] == "support@example-shop.test"
    assert f"#{pk}" in mail["Subject"]
    body = mail.get_content()
    assert f"responder show {pk}" in body and "only once" in body
    row = repo.get(pk)
    assert row.escalated_at == clock.now
    assert [e.action for e in row.events].count("escalated") == 1
    (notice,) = outbox.notices(repo)
    assert notice.state == "sent" and notice.message_id == mail["Message-ID"]
    assert notice.attempts == 1

    # a new message due sooner still comes after the escalated one in every queue
    newer, _ = repo.store_raw(sample("05-download-fr.eml"), source="cli",
                              received_at=clock.now, deadline_at=clock.now + timedelta(hours=1))
    service.process([newer])
    items = queue(repo, cfg, clock.now)
    assert [i.row.id for i in items][:2] == [pk, newer]
    assert "escalated" in [b.kind for b in items[0].badges]
    listed = CliRunner().invoke(main, ["--config", str(cfg_path), "list"])
    assert listed.exit_code == 0, listed.output
    lines = listed.output.splitlines()
    assert lines[1].split()[0] == str(pk) and "[ESCALATED" in lines[1]
    shown = CliRunner().invoke(main, ["--config", str(cfg_path), "show", str(pk)])
    assert "ESCALATED:" in shown.output


def test_held_drafts_escalate_and_approved_ones_do_not(tmp_path, sink, services, clock):
    cfg_path, cfg, repo, service, (held, calm) = world(
        tmp_path, sink, services, clock, names=("02-hostile-en.eml", "01-refund-en.eml"),
        extra="[cooling]\nhold_hours = 23\n")
    assert repo.get(held).stage == Stage.HELD.value
    from responder.app.actions import approve
    approve(repo, calm, actor="rep:alice", now=clock.now,
            message_id_domain=cfg.shop.message_id_domain)
    clock.advance(hours=21, minutes=30)
    result = service.watch_deadlines()
    assert result.escalated == [held]
    (mail,) = to_owner(sink)
    assert "still cooling off" in mail.get_content()


def test_without_owner_address_escalation_still_marks(tmp_path, sink, services, clock):
    cfg_path, cfg, repo, service, (pk,) = world(tmp_path, sink, services, clock, owner="")
    clock.advance(hours=22)
    assert service.watch_deadlines().escalated == [pk]
    assert sink.messages == [] and outbox.notices(repo) == []
    assert "no [shop] owner_address" in repo.get(pk).events[-1].reason


def test_missed_deadlines_are_recorded_once_and_counted(tmp_path, sink, services, clock):
    cfg_path, cfg, repo, service, (late, on_time, held) = world(
        tmp_path, sink, services, clock,
        names=("01-refund-en.eml", "05-download-fr.eml", "02-hostile-en.eml"))
    from responder.app.actions import approve
    clock.advance(hours=4)
    assert service.release_due() == [held]             # released on time: held 4 h
    clock.advance(hours=1)
    approve(repo, on_time, actor="rep:alice", now=clock.now,
            message_id_domain=cfg.shop.message_id_domain)
    service.send_approved(only=on_time)
    assert repo.get(on_time).stage == Stage.SENT.value
    clock.advance(hours=20)                            # 25 h after arrival
    result = service.watch_deadlines()
    assert sorted(result.missed) == sorted([late, held])
    assert service.watch_deadlines().missed == []
    assert outbox.deadline_counts(repo)[1] == 2
    (day,) = deadlines.daily_figures(repo, cfg, clock.now)
    assert (day.received, day.on_time, day.missed, day.held) == (3, 1, 2, 1)
    assert day.mean_hold == timedelta(hours=4)         # hold_hours, released on time
    table = deadlines.figures_table([day], cfg.local_timezone)
    assert table[0].startswith("per day (Europe/Berlin)")
    assert table[1].split()[:5] == [day.day, "3", "1", "2", "1"]


def test_status_shows_the_per_day_table_and_keeps_its_lines(tmp_path, sink, services):
    real = Clock(datetime.now(UTC) - timedelta(hours=30))
    cfg_path, cfg, repo, service, (pk,) = world(tmp_path, sink, services, real)
    out = CliRunner().invoke(main, ["--config", str(cfg_path), "status"])
    assert out.exit_code == 0, out.output
    assert out.output.startswith("messages: drafted 1")
    assert "per day (Europe/Berlin)" in out.output
    assert "deadlines: 0 escalated and waiting, 0 missed in all" in out.output
    done = CliRunner().invoke(main, ["--config", str(cfg_path), "deadlines"])
    assert "escalated: 1" in done.output and "deadlines missed: 1" in done.output
    out = CliRunner().invoke(main, ["--config", str(cfg_path), "status"])
    assert "1 escalated and waiting, 1 missed in all" in out.output
    row = [line for line in out.output.splitlines() if line.startswith(
        f"{real.now.astimezone(deadlines.zone(cfg)):%Y-%m-%d}")]
    assert row and row[0].split()[1:4] == ["1", "0", "1"]


def test_temporary_failure_backs_off_then_sends_once(tmp_path, sink, services, clock):
    cfg_path, cfg, repo, service, (pk,) = world(tmp_path, sink, services, clock)
    clock.advance(hours=22)
    sink.fail_next(1, 451)
    result = service.watch_deadlines()
    assert result.notices == {"sent": 0, "failed": 1, "unknown": 0}
    (notice,) = outbox.notices(repo)
    assert notice.state == "pending" and notice.error.startswith("temporary send failure")
    assert service.watch_deadlines().notices["sent"] == 0       # backing off (1 min)
    clock.advance(minutes=1)
    assert service.watch_deadlines().notices["sent"] == 1
    assert len(to_owner(sink)) == 1
    assert outbox.get(repo, notice.id).attempts == 2


def test_permanent_refusal_is_failed_and_waits_for_a_person(tmp_path, sink, services, clock):
    cfg_path, cfg, repo, service, (pk,) = world(tmp_path, sink, services, clock)
    clock.advance(hours=22)
    sink.fail_next(1, 550, stage="rcpt")
    assert service.watch_deadlines().notices["failed"] == 1
    clock.advance(hours=2)
    assert service.watch_deadlines().notices.get("sent", 0) == 0
    (notice,) = outbox.notices(repo)
    assert notice.state == "failed"
    out = CliRunner().invoke(main, ["--config", str(cfg_path), "notices", "--resend",
                                    str(notice.id)])
    assert out.exit_code == 0 and "sent" in out.output, out.output
    assert len(to_owner(sink)) == 1


# ---- crashes: a real process killed by SIGKILL ---------------------------------------------

def run_deadlines(cfg_path: Path, kill_at: str | None = None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != FAILPOINT_ENV}
    if kill_at:
        env[FAILPOINT_ENV] = kill_at
    return subprocess.run([sys.executable, "-m", "responder", "--config", str(cfg_path),
                           "deadlines"], capture_output=True, text=True, env=env,
                          timeout=PROCESS_TIMEOUT, cwd=cfg_path.parent, check=False)


def near_deadline_world(tmp_path, sink, services):
    """One drafted message whose deadline (real time) is an hour away."""
    clock = Clock(datetime.now(UTC) - timedelta(hours=23))
    return world(tmp_path, sink, services, clock)


def test_crash_between_claim_and_send_sends_exactly_once(tmp_path, sink, services):
    cfg_path, cfg, repo, service, (pk,) = near_deadline_world(tmp_path, sink, services)
    killed = run_deadlines(cfg_path, "after-marker")
    assert killed.returncode == -signal.SIGKILL, killed.stdout + killed.stderr
    (notice,) = outbox.notices(repo)
    assert notice.state == "sending" and notice.data_at is None and notice.owner
    assert sink.messages == []
    assert repo.get(pk).escalated_at is not None        # escalation and notice together

    for _ in range(2):                                  # the next runs: once, then nothing
        done = run_deadlines(cfg_path)
        assert done.returncode == 0, done.stdout + done.stderr
        assert "escalated: 0" in done.stdout
    counts = Counter(sink.message_ids())
    assert counts == {notice.message_id: 1}
    final = outbox.get(repo, notice.id)
    assert final.state == "sent" and final.attempts == 2
    assert "interrupted before the DATA command" not in (final.error or "")


def test_crash_after_the_250_is_never_sent_again(tmp_path, sink, services):
    cfg_path, cfg, repo, service, (pk,) = near_deadline_world(tmp_path, sink, services)
    killed = run_deadlines(cfg_path, "after-250")
    assert killed.returncode == -signal.SIGKILL, killed.stdout + killed.stderr
    assert len(sink.messages) == 1
    for _ in range(2):
        done = run_deadlines(cfg_path)
        assert done.returncode == 0, done.stdout + done.stderr
    assert len(sink.messages) == 1, "an interrupted notice is never sent again by itself"
    (notice,) = outbox.notices(repo)
    assert notice.state == "uncertain" and "may or may not have gone out" in notice.error
    status = CliRunner().invoke(main, ["--config", str(cfg_path), "status"])
    assert f"NOTICE #{notice.id} (deadline)" in status.output
    marked = CliRunner().invoke(main, ["--config", str(cfg_path), "notices", "--mark-sent",
                                       str(notice.id)])
    assert marked.exit_code == 0, marked.output
    assert outbox.get(repo, notice.id).state == "sent"
    assert len(sink.messages) == 1


def test_two_watchers_at_once_make_one_notice(tmp_path, sink, services, clock):
    cfg_path, cfg, repo, service, (pk,) = world(tmp_path, sink, services, clock)
    clock.advance(hours=22)
    other = Service(cfg, open_repository(cfg.database_url), services=services, clock=clock)
    import threading
    results = []
    threads = [threading.Thread(target=lambda s=s: results.append(s.watch_deadlines()))
               for s in (service, other)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(len(r.escalated) for r in results) == [0, 1]
    assert len(to_owner(sink)) == 1


# ---- the owner's digest ---------------------------------------------------------------------

def test_digest_is_sent_once_a_day_with_what_the_owner_needs(tmp_path, sink, services, clock):
    cfg_path, cfg, repo, service, (held, calm) = world(
        tmp_path, sink, services, clock, names=("02-hostile-en.eml", "01-refund-en.eml"),
        extra='[digest]\nenabled = true\ntime = "08:00"\n')
    clock.advance(hours=1)
    assert service.send_digest() is True
    assert service.send_digest() is False               # same local day: not again
    (mail,) = to_owner(sink)
    assert mail["Subject"].startswith(f"Daily summary {clock.now:%Y-%m-%d}: 1 held")
    body = mail.get_content()
    assert f"#{held} from" in body and "hostility" in body       # held and why
    assert "Messages received:            2" in body
    assert "Held to cool off:             1" in body
    assert "== New difficult customers ==" in body
    assert "None new since yesterday" in body
    clock.advance(days=1)
    assert service.send_digest() is True
    assert len(to_owner(sink)) == 2
    assert [n.kind for n in outbox.notices(repo)] == ["digest", "digest"]


def test_scheduler_registers_the_watch_and_the_digest(tmp_path, sink, services, clock):
    cfg_path, cfg, repo, service, _ = world(
        tmp_path, sink, services, clock,
        extra='[digest]\nenabled = true\ntime = "07:30"\ntimezone = "America/New_York"\n')
    scheduler = build_scheduler(service)
    jobs = {job.id: job for job in scheduler.get_jobs()}
    assert "watch-deadlines" in jobs
    trigger = jobs["owner-digest"].trigger
    assert str(trigger.timezone) == "America/New_York"
    fire = trigger.get_next_fire_time(None, datetime(2026, 11, 23, 0, 0, tzinfo=UTC))
    assert fire.astimezone(UTC) == datetime(2026, 11, 23, 12, 30, tzinfo=UTC)


def test_digest_off_by_default_and_needs_an_owner():
    assert config_mod.from_dict({}).digest.enabled is False
    with pytest.raises(config_mod.ConfigError, match="owner_address"):
        config_mod.from_dict({"digest": {"enabled": True}})


# ---- the migration ------------------------------------------------------------------------------

def test_migration_0006_upgrades_in_place_and_downgrades(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'm.db'}")
    migrations.upgrade(engine, "0005")
    with engine.begin() as conn:
        conn.execute(text(
            "INSERT INTO messages (source, raw, content_hash, received_at, deadline_at, stage,"
            " updated_at) VALUES ('cli', x'00', 'h', '2026-11-23 09:00:00',"
            " '2026-11-24 09:00:00', 'held', '2026-11-23 09:00:00')"))
    migrations.upgrade(engine, "0006")
    with engine.connect() as conn:
        row = conn.execute(text("SELECT stage, hold_band, escalated_at FROM messages")).one()
        assert tuple(row) == ("held", None, None)
        assert conn.execute(text("SELECT count(*) FROM notices")).scalar() == 0
    from alembic import command
    cfg = migrations.alembic_config(str(engine.url))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0005")
    with engine.connect() as conn:
        cols = [r[1] for r in conn.execute(text("PRAGMA table_info(messages)"))]
        assert "escalated_at" not in cols and "hold_band" not in cols
        assert conn.execute(text("SELECT count(*) FROM messages")).scalar() == 1


# ---- every hold records its band and rule (item 2), shown by `show` and the web page -----------

def test_hold_band_and_rule_are_stored_and_shown(tmp_path, sink, services, clock):
    cfg_path, cfg, repo, service, (held,) = world(
        tmp_path, sink, services, clock, names=("02-hostile-en.eml",),
        extra="[[cooling.bands]]\nmin_score = 0.5\nhours = 3\n")
    row = repo.get(held)
    assert row.stage == Stage.HELD.value
    assert (row.hold_band, row.hold_rule) == ("0.50-1.00: 3 h", "band")
    assert row.release_at == row.received_at + timedelta(hours=3)
    shown = CliRunner().invoke(main, ["--config", str(cfg_path), "show", str(held)])
    assert "hold band: 0.50-1.00: 3 h   set by rule: band (the score's band)" in shown.output

    import re

    from responder.app import accounts
    from responder.web import WebContext, create_app
    accounts.add_user(repo, "olga", "owner", "correct horse battery", now=clock.now)
    app = create_app(WebContext(cfg, repo, service, clock=clock, secret_key="k" * 40),
                     testing=True)
    client = app.test_client()
    page = client.get("/login")
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    client.post("/login", data={"csrf_token": csrf, "name": "olga",
                                "password": "correct horse battery"})
    view = client.get(f"/m/{held}")
    assert view.status_code == 200
    assert re.search(r'id="hold-rule">band 0.50-1.00: 3 h; rule band \(the score&#39;s band\)',
                     view.text), view.text[:3000]


THREAT = (b"From: Bo Brandt <bo@customer.test>\r\nTo: support@example-shop.test\r\n"
          b"Subject: Broken lamp, order 55210\r\nMessage-ID: <threat-%d@customer.test>\r\n"
          b"Date: Mon, 23 Nov 2026 09:00:00 +0000\r\nContent-Type: text/plain\r\n\r\n"
          b"The lamp arrived broken. If I do not get my money back this week I will leave a "
          b"bad review everywhere and dispute the charge with my bank.\r\n")


def test_digest_lists_new_difficult_customers_and_threats(tmp_path, sink, services, clock):
    cfg_path, cfg, repo, service, _ = world(
        tmp_path, sink, services, clock, names=(),
        extra='[digest]\nenabled = true\n')
    pk, _ = repo.store_raw(THREAT % 1, source="cli", received_at=clock.now,
                           deadline_at=clock.now + timedelta(hours=24))
    service.process([pk])
    clock.advance(hours=2)
    digest = deadlines.build_digest(repo, cfg, clock.now)
    assert "bo@customer.test: 1 message(s)" in digest.body, digest.body
    assert f"#{pk} from bo@customer.test" in digest.body
    assert "bad review" in digest.body and "1 reputation threat(s)" in digest.subject
    printed = CliRunner().invoke(main, ["--config", str(cfg_path), "digest"])
    assert printed.exit_code == 0 and "Subject: Daily summary" in printed.output
    assert sink.messages == [], "printing the digest sends nothing"


# ---- the outbox's compare-and-set steps on every backend ---------------------------------------

def test_outbox_steps_are_compare_and_set_on_every_backend(any_repo, clock):
    repo = any_repo
    pk, _ = repo.store_raw(b"Subject: x\r\n\r\nhello\r\n", source="cli", received_at=clock.now,
                           deadline_at=clock.now + timedelta(hours=2))
    repo.transition(pk, Stage.DRAFTED, actor="system", action="drafted", reason="test",
                    now=clock.now)
    notice = outbox.NewNotice(kind="deadline", ref=str(pk), day="2026-11-23",
                              to_addr=OWNER, from_addr="support@example-shop.test",
                              subject="s", body="b", message_id="<n1@responder.test>",
                              message_pk=pk)
    assert [r.id for r in outbox.escalation_candidates(repo, clock.now)] == []
    assert [r.id for r in outbox.escalation_candidates(
        repo, clock.now + timedelta(hours=3))] == [pk]
    assert outbox.escalate(repo, pk, clock.now, "near", notice) is True
    assert outbox.escalate(repo, pk, clock.now, "near", notice) is False
    assert outbox.queue_notice(repo, notice, clock.now) is False      # (kind, ref, day) taken
    (row,) = outbox.notices(repo)
    assert outbox.claim(repo, row.id, "a:1:x", clock.now) is True
    assert outbox.claim(repo, row.id, "b:2:y", clock.now) is False    # one winner
    assert outbox.mark_data(repo, row.id, "b:2:y", clock.now) is False
    assert outbox.mark_data(repo, row.id, "a:1:x", clock.now) is True
    assert outbox.move(repo, row.id, "sending", "sent", clock.now, held_by="b:2:y") is False
    assert outbox.move(repo, row.id, "sending", "sent", clock.now, held_by="a:1:x",
                       sent_at=clock.now) is True
    final = outbox.get(repo, row.id)
    assert (final.state, final.attempts, final.sent_at) == ("sent", 1, clock.now)
    clock.advance(hours=3)
    assert outbox.missed_candidates(repo, clock.now) == [pk]
    assert outbox.mark_missed(repo, pk, clock.now) and not outbox.mark_missed(repo, pk, clock.now)
    assert outbox.deadline_counts(repo) == (1, 1)


def test_a_superseded_message_counts_as_answered_by_the_conversation_reply(repo, clock):
    cfg = config_mod.from_dict({}, "<test>")
    first, _ = repo.store_raw(b"Subject: a\r\n\r\none\r\n", source="cli",
                              received_at=clock.now, deadline_at=clock.now + timedelta(hours=24))
    clock.advance(hours=2)
    second, _ = repo.store_raw(b"Subject: a\r\n\r\ntwo\r\n", source="cli",
                               received_at=clock.now, deadline_at=clock.now + timedelta(hours=22))
    from responder.core.model import Draft
    draft = Draft(to_addr="c@x.test", to_name="", from_addr="s@x.test", subject="Re: a",
                  body="b", in_reply_to=None, references=[], template="en/other",
                  language="en", fallback_language=False)
    repo.transition(first, Stage.SUPERSEDED, actor="system", action="superseded",
                    reason="the customer wrote again", now=clock.now, draft=draft)
    repo.update_draft(first, now=clock.now, superseded_by=second)
    repo.transition(second, Stage.SENT, actor="system", action="sent", reason="test",
                    now=clock.now, draft=draft)
    repo.update_draft(second, now=clock.now, sent_at=clock.now + timedelta(hours=1))
    clock.advance(days=2)
    (day,) = deadlines.daily_figures(repo, cfg, clock.now)
    assert (day.received, day.on_time, day.missed) == (2, 2, 0)
    assert outbox.missed_candidates(repo, clock.now) == []

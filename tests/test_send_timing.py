"""Send timing: an approved reply is sent when it is due (just approved, or its backoff
of 1, 2, 4 ... minutes over), not at the next full send run; nothing is attempted and
no connection opened while nothing is due.

Real SQLite with the real migrations, the real pipeline, a real aiosmtpd server that
refuses on demand (451); an injected clock (no sleeping).
"""
from __future__ import annotations

import dataclasses
from datetime import timedelta

import pytest
from conftest import sample
from servers import SmtpSink

from responder import config as config_mod
from responder.app.actions import approve
from responder.app.scheduler import build_scheduler
from responder.app.service import Service
from responder.core.model import Stage
from responder.mail import sending
from responder.store import open_repository


@pytest.fixture
def sink():
    with SmtpSink() as s:
        yield s


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request, tmp_path):
    """The same checks on every supported backend (a private PostgreSQL, tests/pg.py)."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 's.db'}"
    server = request.getfixturevalue("postgres")
    return server.create_database(f"t_{abs(hash(request.node.nodeid)) % 10**12}")


def make_shop(tmp_path, sink, services, clock, extra="", db_url=None):
    db_url = db_url or f"sqlite:///{tmp_path / 's.db'}"
    path = tmp_path / "config.toml"
    path.write_text(f'[responder]\ndatabase_url = "{db_url}"\n'
                    'log_level = "WARNING"\n'
                    f'[smtp]\nhost = "127.0.0.1"\nport = {sink.port}\nsecurity = "none"\n'
                    + extra)
    cfg = config_mod.load(path)
    repo = open_repository(cfg.database_url)
    service = Service(cfg, repo, services=dataclasses.replace(services, cfg=cfg), clock=clock)
    pks = []
    for name in ("01-refund-en.eml", "05-download-fr.eml"):
        pk, _ = repo.store_raw(sample(name), source="cli", received_at=clock(),
                               deadline_at=clock() + timedelta(hours=24))
        pks.append(pk)
    service.process(pks)
    return cfg, repo, service, pks


def test_nothing_due_means_no_attempt_and_no_connection(tmp_path, sink, services, clock):
    cfg, repo, service, (pk, other) = make_shop(tmp_path, sink, services, clock)
    assert sending.next_send_due(repo, clock()) is None          # drafted, not approved
    assert service.send_due() == {}
    assert sink.messages == [] and sink.rejections == []

    approve(repo, pk, actor="rep:alice", now=clock(),
            message_id_domain=cfg.shop.message_id_domain)
    assert sending.next_send_due(repo, clock()) == clock()       # due at once
    assert service.send_due() == {"sent": 1, "failed": 0, "unknown": 0}
    assert repo.get(pk).stage == Stage.SENT.value and len(sink.messages) == 1
    assert repo.get(other).stage == Stage.DRAFTED.value          # only approved ones
    assert service.send_due() == {} and len(sink.messages) == 1


def test_a_backoff_is_sent_when_it_ends_not_at_the_next_full_run(tmp_path, sink, services,
                                                                  clock, db_url):
    cfg, repo, service, (pk, _) = make_shop(tmp_path, sink, services, clock, db_url=db_url)
    assert cfg.scheduler.send_retry_seconds == 300 and cfg.scheduler.send_check_seconds == 10
    approve(repo, pk, actor="rep:alice", now=clock(),
            message_id_domain=cfg.shop.message_id_domain)
    sink.fail_next(2, 451)
    assert service.send_due()["failed"] == 1                     # attempt 1: 451
    failed_at = clock()
    assert repo.get(pk).draft.send_error.startswith(sending.TEMPORARY)
    assert sending.next_send_due(repo, clock()) == failed_at + timedelta(minutes=1)

    clock.advance(seconds=59)                                    # still backing off
    assert service.send_due() == {}
    assert len(sink.rejections) == 1 and repo.get(pk).draft.send_attempts == 1

    clock.advance(seconds=1)                                     # 1 min: attempt 2, 451
    assert service.send_due()["failed"] == 1
    assert len(sink.rejections) == 2
    assert sending.next_send_due(repo, clock()) == clock() + timedelta(minutes=2)
    clock.advance(minutes=1, seconds=59)
    assert service.send_due() == {}
    clock.advance(seconds=1)                                     # 2 min: attempt 3, sent
    assert service.send_due()["sent"] == 1
    row = repo.get(pk)
    assert row.stage == Stage.SENT.value and row.draft.send_attempts == 3
    assert len(sink.messages) == 1
    # three minutes after the first failure, well before the 300 s full run
    assert row.draft.sent_at - failed_at == timedelta(minutes=3)


def test_the_full_run_keeps_its_own_interval_and_keeps_the_backoff(tmp_path, sink, services,
                                                                   clock):
    cfg, repo, service, (pk, _) = make_shop(
        tmp_path, sink, services, clock,
        extra="[scheduler]\nsend_retry_seconds = 600\nsend_check_seconds = 15\n")
    jobs = {job.id: job for job in build_scheduler(service).get_jobs()}
    assert jobs["send-approved"].trigger.interval == timedelta(seconds=600)
    assert jobs["send-approved"].func == service.send_approved
    assert jobs["send-due"].trigger.interval == timedelta(seconds=15)
    assert jobs["send-due"].func == service.send_due
    approve(repo, pk, actor="rep:alice", now=clock(),
            message_id_domain=cfg.shop.message_id_domain)
    sink.fail_next(1, 451)
    assert service.send_approved()["failed"] == 1
    clock.advance(seconds=30)
    assert service.send_approved()["sent"] == 0                  # the full run backs off too
    clock.advance(seconds=30)
    assert service.send_due()["sent"] == 1


def test_send_check_off_leaves_only_the_full_run(tmp_path, sink, services, clock):
    cfg, repo, service, _ = make_shop(tmp_path, sink, services, clock,
                                      extra="[scheduler]\nsend_check_seconds = 0\n")
    ids = {job.id for job in build_scheduler(service).get_jobs()}
    assert "send-approved" in ids and "send-due" not in ids
    with pytest.raises(config_mod.ConfigError):
        config_mod.from_dict({"scheduler": {"send_check_seconds": -1}}, "<test>")

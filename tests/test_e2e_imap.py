"""The whole flow on real peers: Dovecot (IMAP, TLS) in, aiosmtpd (STARTTLS + AUTH) out.

Mail is APPENDed to a real INBOX, synced, decided by the real offline models,
approved, sent over SMTP, copied to Sent and flagged \\Answered. Time is an
injected clock: no test sleeps for a hold to pass.
"""
from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy

import pytest
from conftest import Clock, sample
from servers import Dovecot, SmtpSink

from responder import config as config_mod
from responder.app.actions import ApprovalError, approve
from responder.app.service import Service
from responder.core.model import Stage
from responder.mail.sending import IN_PROGRESS
from responder.store import open_repository

pytestmark = pytest.mark.imap


@pytest.fixture(scope="module")
def dovecot():
    Dovecot.ensure_installed()
    server = Dovecot()
    server.start()
    yield server
    server.close()


@pytest.fixture(scope="module")
def sink():
    server = SmtpSink(username="mailer", password="smtp-pw", starttls=True)
    server.start()
    yield server
    server.close()


@pytest.fixture
def world(dovecot, sink, tmp_path, monkeypatch, services):
    """A fresh mailbox user, database and service for each test."""
    user = f"seller{tmp_path.name[-12:].replace('_', '')}@example.test".lower()
    dovecot.add_user(user, "imap-pw")
    monkeypatch.setenv("T_IMAP_PW", "imap-pw")
    monkeypatch.setenv("T_SMTP_PW", "smtp-pw")
    sink.clear()
    cfg = config_mod.from_dict({
        "responder": {"database_url": f"sqlite:///{tmp_path / 'r.db'}"},
        "inbox": [{"name": "shop", "host": "127.0.0.1", "port": dovecot.tls_port,
                   "security": "tls", "ca_file": str(dovecot.cafile), "username": user,
                   "password_env": "T_IMAP_PW", "timeout_seconds": 10}],
        "smtp": {"host": "127.0.0.1", "port": sink.port, "security": "starttls",
                 "ca_file": str(sink.cafile), "username": "mailer",
                 "password_env": "T_SMTP_PW", "timeout_seconds": 10},
    }, "<e2e>")
    clock = Clock(datetime.now(UTC).replace(microsecond=0) + timedelta(minutes=1))
    repo = open_repository(cfg.database_url)
    services.cfg = cfg
    service = Service(cfg, repo, services=services, clock=clock)
    box = cfg.inbox[0]
    imap = dovecot.client(user, "imap-pw")
    # first connection: responder takes mail from now on, never the old mail
    imap.append("INBOX", sample("05-download-fr.eml"))
    assert service.poll_inbox(box) == []
    yield cfg, repo, service, box, imap, sink, clock
    try:
        imap.logout()
    except Exception:  # noqa: BLE001 - a test may have restarted the server
        pass


def _flags(imap, folder, message_id):
    imap.select_folder(folder, readonly=True)
    uids = imap.search(["HEADER", "Message-ID", message_id])
    assert uids, f"{message_id} not in {folder}"
    return imap.get_flags(uids)[uids[0]]


def test_customer_mail_ends_as_a_threaded_reply_after_approval(world):
    cfg, repo, service, box, imap, sink, clock = world
    imap.append("INBOX", sample("01-refund-en.eml"))
    [pk] = service.poll_inbox(box)
    row = repo.get(pk)
    assert row.stage == Stage.DRAFTED.value, row.error
    assert row.raw == sample("01-refund-en.eml").replace(b"\n", b"\r\n") or \
        row.raw.replace(b"\r\n", b"\n") == sample("01-refund-en.eml")
    assert row.intent == "refund_request" and row.language == "en"
    assert not sink.messages, "nothing is sent before a rep approves"

    reply_id = approve(repo, pk, actor="rep:test", now=clock(),
                       message_id_domain=cfg.shop.message_id_domain)
    assert service.send_approved() == {"sent": 1, "failed": 0, "unknown": 0}
    [got] = sink.wait_for(1)
    assert got.tls and got.auth_user == "mailer"
    assert got.rcpt_tos == ["jane.miller@customer.test"]
    msg = message_from_bytes(got.data, policy=policy.default)
    assert msg["Subject"] == "Re: Refund for order #10234"
    assert msg["In-Reply-To"] == "<jane-10234@customer.test>"
    assert "<jane-10234@customer.test>" in msg["References"]
    assert msg["Message-ID"] == reply_id and reply_id.endswith(f"@{cfg.shop.message_id_domain}>")
    assert msg["From"] == "support@example-shop.test"
    assert msg["Auto-Submitted"] is None, "a rep-approved reply is human mail"
    assert "10234" in msg.get_content()
    assert repo.get(pk).stage == Stage.SENT.value

    flags = _flags(imap, "INBOX", "<jane-10234@customer.test>")
    assert b"\\Answered" in flags and b"\\Seen" not in flags
    assert _flags(imap, "Sent", reply_id) is not None
    # sending again sends nothing
    assert service.send_approved() == {"sent": 0, "failed": 0, "unknown": 0}
    assert len(sink.messages) == 1


def test_hostile_mail_is_held_until_its_release_time(world):
    cfg, repo, service, box, imap, sink, clock = world
    imap.append("INBOX", sample("02-hostile-en.eml"))
    [pk] = service.poll_inbox(box)
    row = repo.get(pk)
    assert row.stage == Stage.HELD.value
    assert row.hostility >= cfg.scoring.hold_threshold
    assert row.release_at == row.received_at + timedelta(hours=cfg.cooling.hold_hours)
    with pytest.raises(ApprovalError, match="cooling off"):
        approve(repo, pk, actor="rep:test", now=clock(),
                message_id_domain=cfg.shop.message_id_domain)

    clock.now = row.release_at - timedelta(seconds=1)
    assert service.release_due() == []
    assert repo.get(pk).stage == Stage.HELD.value
    clock.now = row.release_at
    assert service.release_due() == [pk]
    row = repo.get(pk)
    assert row.stage == Stage.DRAFTED.value and row.draft.template.endswith(".upset")
    assert "idiot" not in row.draft.body.split(">")[0].lower(), "never repeats an insult"
    assert [e.action for e in repo.events(pk)][-2:] == ["held", "released"]
    assert not sink.messages


def test_out_of_office_and_bounce_are_skipped_and_never_answered(world):
    cfg, repo, service, box, imap, sink, clock = world
    imap.append("INBOX", sample("03-out-of-office.eml"))
    imap.append("INBOX", sample("07-bounce.eml"))
    pks = service.poll_inbox(box)
    assert len(pks) == 2
    rows = [repo.get(pk) for pk in pks]
    assert [r.stage for r in rows] == ["skipped", "skipped"]
    assert all(r.skip_rule and r.skip_reason and r.draft is None for r in rows)
    assert service.send_approved()["sent"] == 0
    assert not sink.messages


def test_mail_another_client_already_read_is_still_processed(world):
    cfg, repo, service, box, imap, sink, clock = world
    imap.append("INBOX", sample("04-where-ru.eml"), flags=[b"\\Seen"])
    [pk] = service.poll_inbox(box)
    row = repo.get(pk)
    assert row.stage == "drafted" and row.language == "ru"
    assert row.draft.language == "ru"


def test_uidvalidity_change_reprocesses_nothing(world, dovecot):
    cfg, repo, service, box, imap, sink, clock = world
    imap.append("INBOX", sample("01-refund-en.eml"))
    assert len(service.poll_inbox(box)) == 1
    dovecot.reset_uidvalidity(box.username)   # restarts the server; old connections die
    assert service.poll_inbox(box) == []
    assert repo.count_by_stage() == {"drafted": 1}
    state = repo.folder_state("shop", "INBOX")
    assert state.last_error is None


def test_interrupted_send_is_never_repeated_blindly(world):
    cfg, repo, service, box, imap, sink, clock = world
    imap.append("INBOX", sample("01-refund-en.eml"))
    [pk] = service.poll_inbox(box)
    approve(repo, pk, actor="rep:test", now=clock(), message_id_domain=cfg.shop.message_id_domain)
    # a crash right after the send started: the marker is there, the result is not
    repo.update_draft(pk, now=clock(), send_error=IN_PROGRESS, send_attempts=1)
    assert service.send_approved() == {"sent": 0, "failed": 0, "unknown": 1}
    assert not sink.messages
    assert "responder send --resend" in repo.get(pk).draft.send_error
    # the rep checked: it did not go out; resend explicitly
    assert service.send_approved(only=pk, resend=True)["sent"] == 1
    assert len(sink.wait_for(1)) == 1


def test_interrupted_send_found_in_sent_folder_is_marked_sent(world):
    cfg, repo, service, box, imap, sink, clock = world
    imap.append("INBOX", sample("01-refund-en.eml"))
    [pk] = service.poll_inbox(box)
    reply_id = approve(repo, pk, actor="rep:test", now=clock(),
                       message_id_domain=cfg.shop.message_id_domain)
    repo.update_draft(pk, now=clock(), send_error=IN_PROGRESS, send_attempts=1)
    imap.append("Sent", f"Message-ID: {reply_id}\r\nSubject: copy\r\n\r\nx\r\n".encode())
    assert service.send_approved() == {"sent": 1, "failed": 0, "unknown": 0}
    assert repo.get(pk).stage == "sent" and not sink.messages


def test_smtp_failures_temporary_retry_permanent_back_to_queue(world):
    cfg, repo, service, box, imap, sink, clock = world
    imap.append("INBOX", sample("01-refund-en.eml"))
    [pk] = service.poll_inbox(box)
    approve(repo, pk, actor="rep:test", now=clock(), message_id_domain=cfg.shop.message_id_domain)
    sink.fail_next(1, code=451)
    assert service.send_approved()["failed"] == 1
    row = repo.get(pk)
    assert row.stage == "approved" and "temporary" in row.draft.send_error
    assert service.send_approved()["sent"] == 0, "backs off after a temporary failure"
    clock.advance(minutes=1)
    assert service.send_approved()["sent"] == 1

    imap.append("INBOX", sample("04-where-ru.eml"))
    [pk2] = service.poll_inbox(box)
    approve(repo, pk2, actor="rep:test", now=clock(), message_id_domain=cfg.shop.message_id_domain)
    sink.fail_next(1, code=550)
    assert service.send_approved()["failed"] == 1
    row = repo.get(pk2)
    assert row.stage == "drafted" and "permanent" in row.draft.send_error


def test_wrong_imap_password_is_reported_not_crashing(world, monkeypatch):
    cfg, repo, service, box, imap, sink, clock = world
    monkeypatch.setenv("T_IMAP_PW", "wrong")
    assert service.poll_inbox(box) == []
    assert "login refused" in repo.folder_state("shop", "INBOX").last_error

"""Drafts in the mailbox at once, and replies sent from a rep's own mail program.

Real Dovecot (Drafts and Sent special-use folders), real aiosmtpd sink, real SQLite
store with migrations, the real offline models. The periodic drafts job is never
run here except where a test says so: the Drafts folder must follow at once.
Time is an injected clock; nothing sleeps.
"""
from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy

import pytest
from conftest import Clock, sample
from servers import Dovecot, SmtpSink

from responder import config as config_mod
from responder.app import actions
from responder.app.service import Service
from responder.core.model import Stage
from responder.mail.drafts_folder import DRAFT_HEADER, draft_tag
from responder.mail.sending import next_attempt_at, retry_delay
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
    server = SmtpSink()
    server.start()
    yield server
    server.close()


@pytest.fixture
def world(dovecot, sink, tmp_path, monkeypatch, services):
    user = f"d{uuid.uuid4().hex[:10]}@example.test"
    dovecot.add_user(user, "imap-pw")
    monkeypatch.setenv("T_IMAP_PW", "imap-pw")
    sink.clear()
    cfg = config_mod.from_dict({
        "responder": {"database_url": f"sqlite:///{tmp_path / 'r.db'}"},
        "inbox": [{"name": "shop", "host": "127.0.0.1", "port": dovecot.tls_port,
                   "security": "tls", "ca_file": str(dovecot.cafile), "username": user,
                   "password_env": "T_IMAP_PW", "timeout_seconds": 10,
                   "drafts_to_folder": True}],
        "smtp": {"host": "127.0.0.1", "port": sink.port, "security": "none",
                 "timeout_seconds": 10},
    }, "<drafts>")
    clock = Clock(datetime.now(UTC).replace(microsecond=0) + timedelta(minutes=1))
    repo = open_repository(cfg.database_url)
    services.cfg = cfg
    service = Service(cfg, repo, services=services, clock=clock)
    box = cfg.inbox[0]
    imap = dovecot.client(user, "imap-pw")
    assert service.poll_inbox(box) == []          # from now on
    yield cfg, repo, service, box, imap, sink, clock
    imap.logout()


def drafts_for(imap, repo, pk) -> list[bytes]:
    """The raw drafts in Drafts for message ``pk`` (found by our header)."""
    imap.select_folder("Drafts", readonly=True)
    uids = imap.search(["HEADER", DRAFT_HEADER, draft_tag(repo.get(pk))])
    if not uids:
        return []
    return [d[b"BODY[]"] for d in imap.fetch(uids, [b"BODY.PEEK[]"]).values()]


def body_of(raw: bytes) -> str:
    return str(message_from_bytes(raw, policy=policy.default).get_body(("plain",))
               .get_content()).replace("\r\n", "\n")


def test_draft_is_in_drafts_right_after_process_and_edit_replaces_it(world):
    cfg, repo, service, box, imap, sink, clock = world
    imap.append("INBOX", sample("01-refund-en.eml"))
    [pk] = service.poll_inbox(box)
    assert repo.get(pk).stage == Stage.DRAFTED.value
    [raw] = drafts_for(imap, repo, pk)
    assert message_from_bytes(raw)["In-Reply-To"] == "<jane-10234@customer.test>"

    actions.edit(repo, pk, "Hello Jane,\n\nYour refund is on its way.\n", actor="rep:ann",
                 now=clock(), drafts=service.drafts)
    [raw] = drafts_for(imap, repo, pk)
    assert "Your refund is on its way." in body_of(raw)

    actions.redraft(repo, service.services, pk, actor="rep:ann", now=clock(),
                    intent="where_is_my_order", drafts=service.drafts)
    [raw] = drafts_for(imap, repo, pk)
    assert "Your refund is on its way." not in body_of(raw)
    assert body_of(raw).strip() == repo.get(pk).draft.body.strip()

    actions.approve(repo, pk, actor="rep:ann", now=clock(),
                    message_id_domain=cfg.shop.message_id_domain, drafts=service.drafts)
    assert drafts_for(imap, repo, pk) == [], "approved: responder sends it, not the rep"
    assert service.send_approved()["sent"] == 1
    assert len(sink.wait_for(1)) == 1


def test_held_draft_goes_to_drafts_on_release_and_reject_removes_it(world):
    cfg, repo, service, box, imap, sink, clock = world
    imap.append("INBOX", sample("02-hostile-en.eml"))
    imap.append("INBOX", sample("01-refund-en.eml").replace(b"jane-10234", b"jane-2"))
    held, drafted = service.poll_inbox(box)
    assert repo.get(held).stage == Stage.HELD.value
    assert drafts_for(imap, repo, held) == [], "a held draft waits for its release"
    assert len(drafts_for(imap, repo, drafted)) == 1

    actions.release_early(repo, held, actor="rep:ann", now=clock(), reason="regular customer",
                          drafts=service.drafts)
    assert len(drafts_for(imap, repo, held)) == 1

    actions.reject(repo, held, actor="rep:ann", now=clock(), reason="spam",
                   drafts=service.drafts)
    assert drafts_for(imap, repo, held) == []
    assert len(drafts_for(imap, repo, drafted)) == 1, "only that message's draft goes"


def test_scheduled_release_puts_the_draft_in_drafts(world):
    cfg, repo, service, box, imap, sink, clock = world
    imap.append("INBOX", sample("02-hostile-en.eml"))
    [pk] = service.poll_inbox(box)
    clock.now = repo.get(pk).release_at
    assert service.release_due() == [pk]
    assert len(drafts_for(imap, repo, pk)) == 1


def test_reply_from_the_reps_mail_program_marks_sent_and_responder_sends_nothing(world):
    cfg, repo, service, box, imap, sink, clock = world
    imap.append("INBOX", sample("01-refund-en.eml"))
    [pk] = service.poll_inbox(box)
    actions.approve(repo, pk, actor="rep:ann", now=clock(),
                    message_id_domain=cfg.shop.message_id_domain, drafts=service.drafts)
    # our own reply in Sent (e.g. an earlier one) is not taken for a rep's
    own = (f"From: support@example-shop.test\r\nMessage-ID: <x1@{cfg.shop.message_id_domain}>"
           "\r\nIn-Reply-To: <jane-10234@customer.test>\r\nSubject: Re\r\n\r\nours\r\n")
    imap.append("Sent", own.encode())
    assert service.scan_sent(box) == []
    assert repo.get(pk).stage == Stage.APPROVED.value

    imap.append("Sent", b"From: Ann Rep <ann@example-shop.test>\r\n"
                        b"To: jane.miller@customer.test\r\nSubject: Re: Refund\r\n"
                        b"Message-ID: <thunderbird-1@example-shop.test>\r\n"
                        b"In-Reply-To: <jane-10234@customer.test>\r\n"
                        b"References: <jane-10234@customer.test>\r\n\r\nDone by hand.\r\n")
    assert service.poll_inbox(box) == []       # the sync scans Sent too
    row = repo.get(pk)
    assert row.stage == Stage.SENT.value
    last = repo.events(pk)[-1] if repo.events(pk)[-1].action == "sent-elsewhere" else \
        next(e for e in repo.events(pk) if e.action == "sent-elsewhere")
    assert "ann@example-shop.test" in last.actor and last.action == "sent-elsewhere"
    assert service.send_approved() == {"sent": 0, "failed": 0, "unknown": 0}
    assert sink.messages == [], "responder never sends its own draft afterwards"
    assert service.scan_sent(box) == [], "each Sent message is looked at once"


def test_reply_in_sent_removes_the_draft_from_drafts(world):
    cfg, repo, service, box, imap, sink, clock = world
    imap.append("INBOX", sample("01-refund-en.eml"))
    [pk] = service.poll_inbox(box)
    assert len(drafts_for(imap, repo, pk)) == 1
    imap.append("Sent", b"From: ann@example-shop.test\r\nMessage-ID: <tb-2@example-shop.test>\r\n"
                        b"References: <other@x.test> <jane-10234@customer.test>\r\n\r\nhi\r\n")
    assert service.scan_sent(box) == [pk]
    assert repo.get(pk).stage == Stage.SENT.value
    assert drafts_for(imap, repo, pk) == []


def test_temporary_smtp_failures_back_off_exponentially(world):
    cfg, repo, service, box, imap, sink, clock = world
    assert [retry_delay(n) for n in (1, 2, 3, 7, 8, 20)] == [
        timedelta(minutes=1), timedelta(minutes=2), timedelta(minutes=4),
        timedelta(minutes=60), timedelta(hours=1), timedelta(hours=1)]
    imap.append("INBOX", sample("01-refund-en.eml"))
    [pk] = service.poll_inbox(box)
    actions.approve(repo, pk, actor="rep:ann", now=clock(),
                    message_id_domain=cfg.shop.message_id_domain, drafts=service.drafts)
    start = clock()
    sink.fail_next(3, code=451)
    for attempt, wait in ((1, 1), (2, 2), (3, 4)):
        assert service.send_approved()["failed"] == 1, f"attempt {attempt} fails (451)"
        d = repo.get(pk).draft
        assert d.send_attempts == attempt
        assert next_attempt_at(d) == clock() + timedelta(minutes=wait)
        clock.advance(minutes=wait, seconds=-1)
        assert service.send_approved() == {"sent": 0, "failed": 0, "unknown": 0}, \
            "skipped until its next attempt time"
        clock.advance(seconds=1)
    assert service.send_approved()["sent"] == 1
    assert clock() == start + timedelta(minutes=7)
    assert len(sink.wait_for(1)) == 1


def test_show_prints_the_next_attempt_time(world, monkeypatch):
    from click.testing import CliRunner

    from responder.cli.main import main
    cfg, repo, service, box, imap, sink, clock = world
    imap.append("INBOX", sample("01-refund-en.eml"))
    [pk] = service.poll_inbox(box)
    actions.approve(repo, pk, actor="rep:ann", now=clock(),
                    message_id_domain=cfg.shop.message_id_domain)
    sink.fail_next(1, code=451)
    assert service.send_approved()["failed"] == 1
    due = next_attempt_at(repo.get(pk).draft)
    assert due is not None
    path = cfg.database_url.removeprefix("sqlite:///")
    cfg_file = f"{path}.toml"
    with open(cfg_file, "w") as f:
        f.write(f'[responder]\ndatabase_url = "{cfg.database_url}"\n')
    out = CliRunner().invoke(main, ["--config", cfg_file, "show", str(pk)])
    assert out.exit_code == 0, out.output
    assert f"NEXT ATTEMPT: {due:%Y-%m-%d %H:%M:%S} UTC" in out.output


def test_cli_edit_and_reject_update_the_drafts_folder_at_once(world, tmp_path, monkeypatch):
    """The CLI front end goes through the same hook: no periodic job needed."""
    from click.testing import CliRunner

    from responder.cli import main
    cfg, repo, service, box, imap, sink, clock = world
    conf = tmp_path / "cli.toml"
    conf.write_text(
        f'[responder]\ndatabase_url = "{cfg.database_url}"\n'
        f'[[inbox]]\nname = "shop"\nhost = "127.0.0.1"\nport = {box.port}\n'
        f'security = "tls"\nca_file = "{box.ca_file}"\nusername = "{box.username}"\n'
        f'password_env = "T_IMAP_PW"\ntimeout_seconds = 10\ndrafts_to_folder = true\n')
    imap.append("INBOX", sample("01-refund-en.eml").replace(b"jane-10234", b"jane-cli"))
    [pk] = service.poll_inbox(box)
    new_text = tmp_path / "reply.txt"
    new_text.write_text("Hello Jane,\n\nThe refund went out today.\n")
    runner = CliRunner()
    done = runner.invoke(main, ["--config", str(conf), "edit", str(pk), "--file",
                                str(new_text), "--as", "ann"])
    assert done.exit_code == 0, done.output
    [raw] = drafts_for(imap, repo, pk)
    assert "The refund went out today." in body_of(raw)
    done = runner.invoke(main, ["--config", str(conf), "reject", str(pk), "--reason", "dup",
                                "--as", "ann"])
    assert done.exit_code == 0, done.output
    assert drafts_for(imap, repo, pk) == []

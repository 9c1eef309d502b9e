"""The rep's CLI on a real database: list, show, edit, approve (sends), reject."""
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy

import pytest
from click.testing import CliRunner
from conftest import sample
from servers import SmtpSink

from responder.app.service import process_stored
from responder.cli.main import main
from responder.core.pipeline import Services
from responder.store import open_repository


@pytest.fixture
def setup(tmp_path, monkeypatch):
    sink = SmtpSink()
    sink.start()
    db = tmp_path / "cli.db"
    cfg_file = tmp_path / "config.toml"
    cfg_file.write_text(f'[responder]\ndatabase_url = "sqlite:///{db}"\nlog_level = "WARNING"\n'
                        f'[smtp]\nhost = "127.0.0.1"\nport = {sink.port}\nsecurity = "none"\n')
    monkeypatch.setenv("RESPONDER_CONFIG", str(cfg_file))
    monkeypatch.setenv("RESPONDER_REP", "alice")
    from responder import config as config_mod
    cfg = config_mod.load(cfg_file)
    repo = open_repository(cfg.database_url)
    now = datetime.now(UTC)
    pks = []
    for name in ("01-refund-en.eml", "02-hostile-en.eml"):
        pk, _ = repo.store_raw(sample(name), source="cli", received_at=now,
                               deadline_at=now + timedelta(hours=24))
        pks.append(pk)
    process_stored(repo, Services.from_config(cfg), pks, now)
    yield repo, pks, sink
    sink.close()


def run(*args, input=None):
    return CliRunner().invoke(main, list(args), input=input, catch_exceptions=False)


def test_list_show_edit_approve_and_reject(setup, tmp_path):
    repo, (refund, hostile), sink = setup
    out = run("list").output
    assert f"{refund}  drafted" in out and f"{hostile}  held" in out and "cooling until" in out
    shown = run("show", str(refund)).output
    assert "Re: Refund for order #10234" in shown and "audit trail" in shown

    new_body = "Hello Jane,\n\nYour refund is on its way.\n\nThe Example Shop team\n"
    (tmp_path / "body.txt").write_text(new_body)
    assert run("edit", str(refund), "--file", str(tmp_path / "body.txt")).exit_code == 0
    result = run("approve", str(hostile))
    assert result.exit_code == 1 and "cooling off" in result.stderr
    result = run("approve", str(refund))
    assert result.exit_code == 0, result.output
    [got] = sink.wait_for(1)
    body = message_from_bytes(got.data, policy=policy.default).get_content()
    assert body.replace("\r\n", "\n") == new_body
    actions = [(e.actor, e.action) for e in repo.events(refund)]
    assert ("rep:alice", "edited") in actions and ("rep:alice", "approved") in actions
    assert actions[-1][1] in ("sent",)

    assert run("reject", str(hostile), "--reason", "duplicate").exit_code == 0
    assert repo.get(hostile).stage == "rejected"
    assert "sent 1" in run("status").output


def test_hostile_reply_is_blocked_unless_overridden(setup, tmp_path):
    repo, (refund, hostile), sink = setup
    (tmp_path / "rude.txt").write_text("You idiot, read the damn page, you stupid moron.\n")
    edited = run("edit", str(refund), "--file", str(tmp_path / "rude.txt"))
    assert "warning: this reply reads as hostile" in edited.stderr
    result = run("approve", str(refund))
    assert result.exit_code == 1 and "reads as hostile" in result.stderr
    assert not sink.messages
    result = run("approve", str(refund), "--override-tone")
    assert result.exit_code == 0
    assert ("rep:alice", "tone-override") in [(e.actor, e.action) for e in repo.events(refund)]


def test_bad_config_stops_with_the_key_named(tmp_path, monkeypatch):
    bad = tmp_path / "bad.toml"
    bad.write_text("[cooling]\nhold_hours = -1\n")
    result = CliRunner().invoke(main, ["--config", str(bad), "status"])
    assert result.exit_code == 1
    assert "cooling.hold_hours" in result.output and "greater than or equal to 0" in result.output


def test_release_early_and_redraft_from_the_terminal(setup):
    """The CLI calls the same actions as the web page: release a hold, re-draft."""
    repo, (refund, hostile), sink = setup
    result = run("release", str(refund), "--reason", "calm now")
    assert result.exit_code == 1 and "only held messages" in result.stderr
    result = run("release", str(hostile), "--reason", "customer apologised by phone")
    assert result.exit_code == 0, result.output
    assert repo.get(hostile).stage == "drafted"
    released = [e for e in repo.events(hostile) if e.actor == "rep:alice"]
    assert released and "customer apologised by phone" in released[-1].reason

    result = run("redraft", str(refund), "--language", "fr", "--intent", "where_is_my_order")
    assert result.exit_code == 0, result.output
    draft = repo.get(refund).draft
    assert draft.language == "fr" and draft.template.startswith("fr/where_is_my_order")
    assert run("redraft", str(refund)).exit_code == 2            # nothing asked for
    bad = run("redraft", str(refund), "--intent", "nonsense")
    assert bad.exit_code == 1 and "unknown intent" in bad.stderr

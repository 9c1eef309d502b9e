"""`responder replay` through the real CLI: files, folders, mbox, Maildir, --json keys."""
import json
import mailbox

from click.testing import CliRunner
from conftest import SAMPLES, sample

from responder.cli.main import main

KEYS = {"file", "message_id", "language", "skipped", "skip_rule", "hostility", "held",
        "release_at", "intent", "template", "draft_language", "draft", "quarantined",
        "error", "draft_to", "draft_subject", "in_reply_to", "intent_confidence",
        "fallback_language"}


def _replay(*args):
    result = CliRunner().invoke(main, ["replay", "--json", "--no-progress", *args],
                                catch_exceptions=False)
    assert result.exit_code == 0, result.output
    lines = [line for line in result.stdout.splitlines() if line.startswith("{")]
    return [json.loads(line) for line in lines], result


def test_replay_folder_gives_every_key_and_the_expected_decisions(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    records, result = _replay(str(SAMPLES))
    assert len(records) == len(list(SAMPLES.glob("*.eml")))
    for rec in records:
        assert KEYS <= set(rec), KEYS - set(rec)
    by_file = {rec["file"].rsplit("/", 1)[-1]: rec for rec in records}
    hostile = by_file["02-hostile-en.eml"]
    assert hostile["held"] and hostile["release_at"] and hostile["hostility"] >= 0.5
    ooo = by_file["03-out-of-office.eml"]
    assert ooo["skipped"] and ooo["skip_rule"] and ooo["draft"] is None
    refund = by_file["01-refund-en.eml"]
    assert not refund["held"] and refund["intent"] == "refund_request"
    assert refund["draft_subject"] == "Re: Refund for order #10234"
    assert refund["in_reply_to"] == "<jane-10234@customer.test>"
    ru = by_file["04-where-ru.eml"]
    assert ru["language"] == "ru" and ru["draft_language"] == "ru"
    form = by_file["06-contact-form.eml"]
    assert not form["skipped"] and form["draft_to"] == "tomas.kral@customer.test"
    assert "replay: 7 message(s)" in result.stderr
    assert not list(tmp_path.iterdir()), "replay writes no database"


def test_replay_mbox_maildir_and_broken_input(tmp_path):
    box = mailbox.mbox(str(tmp_path / "in.mbox"))
    box.add(sample("01-refund-en.eml"))
    box.add(sample("03-out-of-office.eml"))
    box.close()
    md = mailbox.Maildir(str(tmp_path / "md"))
    md.add(sample("04-where-ru.eml"))
    md.close()
    (tmp_path / "junk.eml").write_bytes(b"\x00\x01\x02 not mail at all \xff\xfe")
    # a path that does not exist stops the run instead: see test_terminal.py
    records, result = _replay(str(tmp_path / "in.mbox"), str(tmp_path / "md"),
                              str(tmp_path / "junk.eml"))
    assert [r["file"].rsplit("/", 1)[-1] for r in records] == [
        "in.mbox:0", "in.mbox:1", records[2]["file"].rsplit("/", 1)[-1], "junk.eml"]
    assert records[0]["intent"] == "refund_request" and records[1]["skipped"]
    assert records[2]["language"] == "ru"
    assert records[3]["quarantined"] and records[3]["error"]

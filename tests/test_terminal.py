"""Friendlier at the terminal: quiet libraries, clear errors, paste-able hints, whole
--help summaries, eval progress, and config keys with a suggested spelling."""
from __future__ import annotations

import importlib
import json
import logging
import os
import re
import shlex
import smtplib
import socket
import subprocess
import sys
import threading
from datetime import UTC, datetime
from pathlib import Path

import click
import pytest
from click.testing import CliRunner
from conftest import ROOT, SAMPLES

from responder import config as config_mod
from responder.cli.main import main

cli = importlib.import_module("responder.cli.main")  # the module (the package exports main)

RESPONDER = Path(sys.executable).parent / "responder"
ALEMBIC_LINES = ("Context impl SQLiteImpl", "Will assume non-transactional DDL",
                 "Running upgrade")


@pytest.fixture
def restore_logging():
    """The CLI sets up logging for the whole process: put it back after the test."""
    root = logging.getLogger()
    own = logging.getLogger("responder")
    saved = (root.level, list(root.handlers), own.level)
    yield
    root.setLevel(saved[0])
    for handler in list(root.handlers):
        if handler not in saved[1]:
            root.removeHandler(handler)
    own.setLevel(saved[2])


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if k not in ("RESPONDER_CONFIG", "RESPONDER_DATABASE_URL", "COLUMNS")}
    env.update(extra)
    return env


def _cli(*args: str, cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(RESPONDER), *args], cwd=cwd, env=_env(**env), text=True,
                          capture_output=True, timeout=300)


# ---- 1. no INFO noise from libraries ------------------------------------------------------
def test_alembic_start_up_lines_only_with_verbose_or_debug(tmp_path):
    def upgrade(*flags: str, level: str = "INFO") -> str:
        db = tmp_path / f"{len(list(tmp_path.glob('*.db')))}.db"   # a fresh database each time
        cfg = tmp_path / "c.toml"
        cfg.write_text(f'[responder]\ndatabase_url = "sqlite:///{db}"\nlog_level = "{level}"\n')
        done = _cli(*flags, "--config", str(cfg), "db", "upgrade", cwd=tmp_path)
        assert done.returncode == 0, done.stderr
        assert "database at revision" in done.stdout
        return done.stderr

    quiet = upgrade()
    assert not [line for line in ALEMBIC_LINES if line in quiet], quiet
    for loud in (upgrade("--verbose"), upgrade("-v"), upgrade(level="DEBUG")):
        assert all(line in loud for line in ALEMBIC_LINES), loud


@pytest.mark.parametrize("level, verbose, libraries_shown", [
    ("INFO", False, False), ("WARNING", False, False), ("INFO", True, True),
    ("DEBUG", False, True)])
def test_scheduler_and_smtp_lines_quiet_but_responders_own_stay(
        level, verbose, libraries_shown, restore_logging, caplog, monkeypatch):
    from aiosmtpd.controller import Controller
    from apscheduler.schedulers.background import BackgroundScheduler

    cli._setup_logging(level, verbose)   # pytest's own handler catches what gets through
    caplog.clear()

    ran = threading.Event()
    scheduler = BackgroundScheduler(timezone="UTC")
    scheduler.add_job(ran.set, "interval", hours=1, id="tick",   # first run: at once
                      next_run_time=datetime.now(UTC))
    scheduler.start()
    assert ran.wait(30)
    scheduler.shutdown(wait=True)           # the executor has logged by now

    class Sink:
        async def handle_DATA(self, server, session, envelope):
            return "250 OK"

    # a real aiosmtpd server on loopback, its "mail.log" logger as aiosmtpd leaves it
    # (tests/servers.py's SmtpSink quiets it for the whole session)
    monkeypatch.setattr(logging.getLogger("mail.log"), "level", logging.NOTSET)
    logging.getLogger("mail.log").manager._clear_cache()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    smtp_server = Controller(Sink(), hostname="127.0.0.1", port=port)
    smtp_server.start()
    try:
        with smtplib.SMTP("127.0.0.1", port, timeout=30) as client:
            client.noop()
    finally:
        smtp_server.stop()
    logging.getLogger("responder.app.scheduler").info("responder's own line")
    for name in ("urllib3.connectionpool", "filelock", "sentence_transformers"):
        logging.getLogger(name).info("a library's line from %s", name)

    err = caplog.text
    library_lines = ["Added job", "Running job", "executed successfully", "Peer:",
                     "a library's line from urllib3", "a library's line from filelock",
                     "a library's line from sentence_transformers"]
    if libraries_shown:
        assert all(line in err for line in library_lines), err
    else:
        assert not [line for line in library_lines if line in err], err
    assert ("responder's own line" in err) == (level != "WARNING" or verbose), err


# ---- 2. replay on a path that does not exist -------------------------------------------------
def test_replay_missing_path_is_one_clear_line(tmp_path):
    missing = tmp_path / "nope.eml"
    done = _cli("replay", str(missing), cwd=tmp_path)
    assert done.returncode != 0
    assert done.stdout == ""
    assert done.stderr.strip().splitlines() == [f"Error: no such file or folder: {missing}"]


def test_replay_mix_of_good_and_missing_paths_names_the_missing_ones(tmp_path):
    good = SAMPLES / "01-refund-en.eml"
    gone = [tmp_path / "a.eml", tmp_path / "folder that is not"]
    out = tmp_path / "out.jsonl"
    done = _cli("replay", "--json", "-o", str(out), str(gone[0]), str(good), str(gone[1]),
                cwd=tmp_path)
    assert done.returncode != 0
    [line] = done.stderr.strip().splitlines()
    assert "Traceback" not in done.stderr
    assert line.startswith(f"Error: no such file or folder: {gone[0]}, "
                           f"{shlex.quote(str(gone[1]))} ")
    assert str(good) not in line and "nothing was replayed" in line and "1 path(s)" in line
    assert not out.exists() and done.stdout == ""


# ---- 3. the demo's closing hints work as pasted ----------------------------------------------
def test_demo_hints_are_commands_that_work_as_pasted(tmp_path, monkeypatch, restore_logging):
    bare_path = "/usr/bin:/bin"            # responder is not on PATH: the hint must say where
    monkeypatch.setenv("PATH", bare_path)
    monkeypatch.delenv("RESPONDER_CONFIG", raising=False)
    monkeypatch.delenv("RESPONDER_DATABASE_URL", raising=False)
    demo_dir = tmp_path / "demo"
    result = CliRunner().invoke(main, ["demo", "--dir", str(demo_dir)],
                                catch_exceptions=False)
    assert result.exit_code == 0, result.output
    tail = result.output.split("paste these as they are")[1]
    hints = [line.strip() for line in tail.splitlines() if line.startswith("   ")]
    assert len(hints) == 2 and hints[0].endswith(" list --all"), hints
    assert hints[0].startswith(f"{RESPONDER} --config {demo_dir / 'demo.toml'}")

    elsewhere = tmp_path / "elsewhere"     # not the demo folder, not the checkout
    elsewhere.mkdir()
    listed, shown = (subprocess.run(["bash", "-c", hint], cwd=elsewhere, text=True,
                                    capture_output=True, env=_env(PATH=bare_path),
                                    timeout=120)
                     for hint in hints)
    assert listed.returncode == 0 and shown.returncode == 0, (listed.stderr, shown.stderr)
    rows = [line for line in listed.stdout.splitlines() if re.match(r"\s+\d+\s", line)]
    assert len(rows) == len(list(SAMPLES.glob("*.eml"))), listed.stdout
    assert "sent" in listed.stdout and "skipped" in listed.stdout
    assert "Re: Refund for order #10234" in shown.stdout and "audit trail" in shown.stdout
    assert not list(elsewhere.iterdir()), "the hints must not create a database where run"


def test_demo_hint_is_plain_responder_when_that_is_on_path(monkeypatch):
    from responder.app.demo import responder_command
    monkeypatch.setenv("PATH", f"{RESPONDER.parent}:/usr/bin:/bin")
    assert responder_command() == "responder"
    monkeypatch.setenv("PATH", "/usr/bin:/bin")
    assert responder_command() == str(RESPONDER)


# ---- 4. --help summaries are whole ------------------------------------------------------------
def _groups(group: click.Group, prefix: tuple[str, ...] = ()):
    yield prefix, group
    for name, cmd in group.commands.items():
        if isinstance(cmd, click.Group):
            yield from _groups(cmd, prefix + (name,))


@pytest.mark.parametrize("columns", [80, 120])
def test_help_lists_every_summary_in_full(columns, monkeypatch):
    monkeypatch.setenv("COLUMNS", str(columns))
    for prefix, group in _groups(main):
        out = CliRunner().invoke(main, [*prefix, "--help"], catch_exceptions=False).output
        listing = out.split("Commands:\n", 1)[1]
        assert not [line for line in listing.splitlines() if line.rstrip().endswith("...")], \
            listing
        assert max(len(line) for line in out.splitlines()) <= columns
        flat = " ".join(listing.split())
        for name, cmd in group.commands.items():
            summary = " ".join(cmd.get_short_help_str(limit=10_000).split())  # 1st sentence
            assert summary and f"{name} {summary}" in flat, (prefix, name, summary, listing)


def test_own_summaries_fit_one_line_at_80_columns(monkeypatch):
    monkeypatch.setenv("COLUMNS", "80")
    out = CliRunner().invoke(main, ["--help"], catch_exceptions=False).output
    for name in ("demo", "sync", "replay", "doctor", "eval", "run", "config"):
        [line] = [line for line in out.splitlines() if line.startswith(f"  {name} ")]
        assert line.rstrip().endswith("."), line


# ---- 5. eval progress ------------------------------------------------------------------------
@pytest.fixture
def small_corpus(tmp_path) -> Path:
    folder = tmp_path / "corpus"
    folder.mkdir()
    lines = (ROOT / "data" / "corpus" / "en.jsonl").read_text(encoding="utf-8").splitlines()
    dev = [line for line in lines if json.loads(line).get("split") == "dev"][:6]
    (folder / "en.jsonl").write_text("\n".join(dev) + "\n", encoding="utf-8")
    return folder


def test_eval_progress_goes_to_stderr_and_leaves_json_clean(small_corpus, restore_logging,
                                                            tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)                 # built-in defaults, not a ./config.toml
    monkeypatch.delenv("RESPONDER_CONFIG", raising=False)
    result = CliRunner().invoke(main, ["eval", "--corpus", str(small_corpus), "--json",
                                       "--progress"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["records"] == 6
    assert re.search(r"hostility\s*: 100%.*6/6", result.stderr), result.stderr
    assert re.search(r"intent\s*: 100%.*6/6", result.stderr), result.stderr

    quiet = CliRunner().invoke(main, ["eval", "--corpus", str(small_corpus), "--json"],
                               catch_exceptions=False)   # standard error is no terminal
    assert quiet.exit_code == 0 and "6/6" not in quiet.stderr
    assert json.loads(quiet.stdout) == report


def test_eval_progress_by_default_only_on_a_terminal(monkeypatch):
    leader, follower = os.openpty()
    with open(follower, "w") as tty:
        monkeypatch.setattr(sys, "stderr", tty)
        assert cli._progress_wanted(None) is True
        assert cli._progress_wanted(False) is False
    os.close(leader)
    read_end, write_end = os.pipe()
    with open(write_end, "w") as pipe:
        monkeypatch.setattr(sys, "stderr", pipe)
        assert cli._progress_wanted(None) is False
        assert cli._progress_wanted(True) is True
    os.close(read_end)


def test_eval_reports_progress_through_a_callback_with_the_same_figures(small_corpus):
    from responder.core import corpus
    from responder.core.evaluation import run_eval
    records = corpus.load(small_corpus, split="dev")
    cfg = config_mod.from_dict({})
    told: list[tuple[str, int, int]] = []
    with_progress = run_eval(cfg, records, progress=lambda *step: told.append(step))
    assert with_progress == run_eval(cfg, records)
    assert told[0] == ("hostility", 0, 6) and ("hostility", 6, 6) in told
    assert told[-1] == ("intent", 6, 6)


# ---- 6. a wrong config key suggests the closest valid name ----------------------------------
@pytest.mark.parametrize("toml, expected", [
    ("[scoring]\nhold_treshold = 0.7\n",
     "scoring.hold_treshold: unknown key; did you mean hold_threshold?"),
    ("[scorring]\nhold_threshold = 0.7\n", "scorring: unknown key; did you mean scoring?"),
    ("[responder]\nloglevel = \"DEBUG\"\n",
     "responder.loglevel: unknown key; did you mean log_level?"),
    ('[[inbox]]\nhost = "h"\nusername = "u"\npasword_env = "X"\n',
     "inbox.0.pasword_env: unknown key; did you mean password_env?"),
    ("[scoring]\nhold_hours = 2\n",
     "scoring.hold_hours: unknown key; did you mean cooling.hold_hours?"),
    ("[drafting]\nwibble = 1\n",
     "drafting.wibble: unknown key (check the spelling; see the bundled config.toml)"),
])
def test_unknown_key_suggests_the_closest_name(tmp_path, toml, expected):
    path = tmp_path / "c.toml"
    path.write_text(toml)
    with pytest.raises(config_mod.ConfigError) as err:
        config_mod.load(path)
    assert f"  {expected}" in str(err.value).splitlines()


@pytest.mark.parametrize("command", [["config"], ["status"], ["list"], ["eval"]])
def test_suggestion_shows_at_every_commands_start_up(tmp_path, command):
    bad = tmp_path / "bad.toml"
    bad.write_text("[cooling]\nhold_hour = 3\n")
    result = CliRunner().invoke(main, ["--config", str(bad), *command])
    assert result.exit_code == 1
    assert "cooling.hold_hour: unknown key; did you mean hold_hours?" in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)

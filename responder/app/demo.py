"""``responder demo``: the real pipeline on bundled sample mail, on loopback only.

Starts responder's own SMTP ingress and a local capture server standing in for
the shop's outgoing mail server, sends the sample mail in over SMTP, decides it,
approves one draft and sends it, then moves the clock past the cooling-off
period to show the held message released. SQLite in a temp folder.
"""
from __future__ import annotations

import json
import shlex
import shutil
import smtplib
import socket
import sys
import textwrap
import threading
import time
import tomllib
from collections.abc import Callable
from datetime import datetime, timedelta
from email import message_from_bytes, policy
from pathlib import Path
from typing import TYPE_CHECKING

import click
from aiosmtpd.controller import Controller

from responder import config as config_mod
from responder import resources
from responder.core.clock import Clock, utcnow
from responder.core.model import Stage

if TYPE_CHECKING:
    from aiosmtpd.smtp import SMTP, Envelope, Session

    from responder.app.service import Service
    from responder.config import Config
    from responder.store.repository import Repository
    from responder.store.tables import MessageRow

SAMPLES = resources.demo_mail_dir()


class _Capture:
    """Stands in for the shop's outgoing SMTP server: keeps what it receives."""

    def __init__(self) -> None:
        self.messages: list[bytes] = []
        self.lock = threading.Lock()

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        with self.lock:    # aiosmtpd fills original_content in before calling this
            self.messages.append(envelope.original_content or b"")
        return "250 OK"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class _Clock:
    def __init__(self) -> None:
        self.now = utcnow().replace(microsecond=0)
        self.live = False          # True: the real time (while the web page is served)

    def __call__(self) -> datetime:
        return utcnow() if self.live else self.now


def _say(text: str = "", *, bold: bool | None = None, fg: str | None = None) -> None:
    click.secho(text, bold=bold, fg=fg)


def _boxed(text: str) -> str:
    return textwrap.indent(text, "   | ", lambda line: True)


def _outcome(r: MessageRow) -> str:
    if r.stage == "skipped":
        return f"SKIPPED ({r.skip_rule}): {r.skip_reason}"
    if r.stage == "held":
        return (f"HELD until {r.release_at:%H:%M} UTC: hostility {r.hostility:.2f} "
                f"({', '.join(r.hostility_labels or [])})")
    if r.stage == "drafted" and r.draft is not None:
        return (f"DRAFTED in '{r.draft.language}' to {r.draft.to_addr} "
                f"(intent {r.intent}, hostility {r.hostility:.2f})")
    if r.stage == "quarantined":
        return f"QUARANTINED: {r.error}"
    return r.stage


def responder_command() -> str:
    """How to call this very installation from any shell: ``responder`` when that is on
    PATH and is this installation's script, else the script's full path (for example
    .../.venv/bin/responder when the virtualenv is not activated), else this
    interpreter's full path with ``-m responder``."""
    bindir = Path(sys.executable).parent
    for name in ("responder", "responder.exe"):
        script = bindir / name
        if script.is_file():
            on_path = shutil.which("responder")
            if on_path and Path(on_path).resolve() == script.resolve():
                return "responder"
            return shlex.quote(str(script))
    return f"{shlex.quote(sys.executable)} -m responder"


def _write_config(workdir: Path) -> Path:
    """The demo's config file: its database, so that ``--config`` this file lets
    ``responder list`` and ``show`` look at the demo's messages afterwards. (The loopback
    servers' ports are added for the run only: they are gone when the demo ends.)"""
    path = workdir / "demo.toml"
    database_url = f"sqlite:///{workdir / 'demo.db'}"
    path.write_text("# written by `responder demo`\n"
                    "[responder]\n"
                    f"database_url = {json.dumps(database_url)}\n"
                    'log_level = "WARNING"\n', encoding="utf-8")
    return path


def run_demo(workdir: Path,
             serve: Callable[[Config, Repository, Service, Clock], object] | None = None,
             ) -> None:
    """The demo in ``workdir``. With ``serve`` (the CLI's web page starter, called as
    ``serve(cfg, repo, service, clock)`` and returning when the person stops it), the
    held message is left held and the page is served on the demo data at the end,
    while the loopback mail servers keep running."""
    from responder.app.service import Service
    from responder.mail.intake.smtp import start_ingress
    from responder.store import open_repository

    workdir.mkdir(parents=True, exist_ok=True)
    workdir = workdir.resolve()
    ingress_port, outgoing_port = _free_port(), _free_port()
    config_file = _write_config(workdir)
    cfg = config_mod.from_dict({
        **tomllib.loads(config_file.read_text(encoding="utf-8")),
        "ingress": {"enabled": True, "host": "127.0.0.1", "port": ingress_port},
        "smtp": {"host": "127.0.0.1", "port": outgoing_port, "security": "none"},
    }, str(config_file))
    import logging
    logging.basicConfig(level=logging.WARNING)
    _say(f"responder demo  (database: {workdir / 'demo.db'})", bold=True)
    _say("Loading the offline hostility and intent models...")
    clock = _Clock()
    repo = open_repository(cfg.database_url)
    service = Service(cfg, repo, clock=clock)

    capture = _Capture()
    outgoing = Controller(capture, hostname="127.0.0.1", port=outgoing_port)
    outgoing.start()
    ingress = start_ingress(repo, cfg, clock=clock)
    try:
        samples = sorted(SAMPLES.glob("*.eml"))
        _say(f"\n1. Sending {len(samples)} sample messages to responder's SMTP ingress "
             f"(127.0.0.1:{ingress_port})", bold=True)
        with smtplib.SMTP("127.0.0.1", ingress_port, timeout=30) as smtp:
            for path in samples:
                raw = path.read_bytes()
                reply = smtp.sendmail("demo@customer.test", [cfg.shop.addresses[0]], raw)
                _say(f"   {path.name}: accepted{'' if not reply else reply}")
        started = time.monotonic()
        service.process_pending()
        _say(f"   decided in {time.monotonic() - started:.1f} s")

        _say("\n2. The queue", bold=True)
        rows = repo.list(None)
        for r in rows:
            _say(f"   #{r.id} {r.subject!s:.45}")
            _say(f"       {_outcome(r)}", fg={"held": "yellow", "skipped": "cyan",
                                             "quarantined": "red"}.get(r.stage, "green"))

        drafted = [r for r in rows if r.stage == Stage.DRAFTED.value]
        if not drafted:
            raise click.ClickException("the demo drafted nothing: something is wrong")
        first = drafted[0]
        _say(f"\n3. The draft for #{first.id}, as a rep sees it "
             f"(`responder show {first.id}`)", bold=True)
        d = first.draft
        assert d is not None, "a drafted message has its draft"
        _say(_boxed(f"To: {d.to_addr}\nSubject: {d.subject}\n\n{d.body}"))

        from responder.app.actions import approve
        _say(f"\n4. A rep approves #{first.id}; it is sent over SMTP", bold=True)
        approve(repo, first.id, actor="rep:demo", now=clock(),
                message_id_domain=cfg.shop.message_id_domain, scorer=service.services.scorer)
        service.send_approved()
        with capture.lock:
            sent = list(capture.messages)
        if not sent:
            raise click.ClickException("nothing reached the outgoing server")
        msg = message_from_bytes(sent[-1], policy=policy.default)
        for header in ("From", "To", "Subject", "Message-ID", "In-Reply-To", "References"):
            _say(f"   {header}: {msg[header]}")
        _say(f"   stage now: {repo.get(first.id).stage}")

        held = [r for r in rows if r.stage == Stage.HELD.value]
        if held and serve is not None:
            _say(f"\n5. #{held[0].id} stays held until {held[0].release_at:%H:%M} UTC: on the "
                 "web page you see its countdown and can release it early", bold=True)
        elif held:
            h = held[0]
            assert h.release_at is not None, "a held message has its release time"
            clock.now = h.release_at + timedelta(minutes=1)
            _say(f"\n5. The clock moves to {clock.now:%H:%M} UTC: the cooling-off of "
                 f"#{h.id} is over", bold=True)
            released = service.release_due()
            row = repo.get(h.id)
            assert row.draft is not None, "a released message has its draft"
            _say(f"   released: {', '.join(f'#{p}' for p in released)}; #{h.id} is now "
                 f"{row.stage}; its draft acknowledges the frustration first:")
            _say(_boxed("\n".join(row.draft.body.splitlines()[:6])))
        _say("\nDone. Everything ran on 127.0.0.1; nothing left this machine.", bold=True)
        command = f"{responder_command()} --config {shlex.quote(str(config_file))}"
        _say("Look around (paste these as they are):")
        _say(f"   {command} list --all")
        _say(f"   {command} show {first.id}")
        if serve is not None:
            clock.live = True
            serve(cfg, repo, service, clock)
    finally:
        ingress.stop()
        outgoing.stop()

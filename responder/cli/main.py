"""The ``responder`` command. Every command is documented in README.md."""
from __future__ import annotations

import json
import logging
import os
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

import click

from responder import config as config_mod
from responder.core.model import Stage

if TYPE_CHECKING:  # the commands import these where they run, to start fast
    from responder.app.service import Service
    from responder.core.clock import Clock
    from responder.mail.drafts_folder import DraftsMailbox
    from responder.store.customers import CustomerHistory
    from responder.store.repository import Repository
    from responder.store.tables import MessageRow
    from responder.web import WebServer

log = logging.getLogger("responder")


class _StderrHandler(logging.StreamHandler[TextIO]):
    """Writes to whatever ``sys.stderr`` is at the time of each record (so a test runner
    or a redirect that swaps it later still gets the lines)."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)
        self.setFormatter(logging.Formatter(
            "%(asctime)s %(levelname)-7s %(name)s: %(message)s"))

    @property
    def stream(self) -> TextIO:
        return sys.stderr

    @stream.setter
    def stream(self, value: TextIO) -> None:
        pass  # always the current sys.stderr


def _setup_logging(level: str, verbose: bool = False) -> None:
    """responder's own loggers at ``level``; other libraries (Alembic, APScheduler,
    aiosmtpd, urllib3, filelock, sentence-transformers...) only from WARNING up, so their
    INFO start-up and per-job lines stay quiet. At DEBUG (``--verbose``, or
    ``log_level = "DEBUG"``) everything is let through."""
    chosen = logging.DEBUG if verbose else logging.getLevelNamesMapping().get(
        level.upper(), logging.INFO)
    root = logging.getLogger()
    if not root.handlers:  # as logging.basicConfig: whoever set up handlers (a test) keeps them
        root.addHandler(_StderrHandler())
    root.setLevel(chosen if chosen <= logging.DEBUG else max(chosen, logging.WARNING))
    logging.getLogger("responder").setLevel(chosen)


def _load_config(path: str | None) -> config_mod.Config:
    if path is None and not os.environ.get(config_mod.CONFIG_ENV) and Path("config.toml").is_file():
        path = "config.toml"
    try:
        return config_mod.load(path)
    except config_mod.ConfigError as exc:
        raise click.ClickException(str(exc)) from None


class Ctx:
    def __init__(self, config_path: str | None, verbose: bool = False) -> None:
        self.config_path = config_path
        self.verbose = verbose
        self._cfg: config_mod.Config | None = None
        self._repo: Repository | None = None

    @property
    def cfg(self) -> config_mod.Config:
        if self._cfg is None:
            self._cfg = _load_config(self.config_path)
            _setup_logging(self._cfg.responder.log_level, self.verbose)
        return self._cfg

    @property
    def repo(self) -> Repository:
        if self._repo is None:
            from responder.store import open_repository
            self._repo = open_repository(self.cfg.database_url)
        return self._repo

    def service(self) -> Service:
        from responder.app.service import Service
        return Service(self.cfg, self.repo)

    def drafts(self) -> DraftsMailbox:
        """The Drafts-folder hook without loading the models (for edit and reject)."""
        from responder.core.clock import utcnow
        from responder.mail.drafts_folder import DraftsMailbox
        return DraftsMailbox(self.repo, self.cfg, utcnow)


pass_ctx = click.make_pass_decorator(Ctx)


class _Group(click.Group):
    """Lists each command with the whole first sentence of its help (wrapped to the
    terminal), where click would cut it with "..." at a width-dependent limit."""

    group_class = type  # sub-groups (templates, model, db) list theirs the same way

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = []
        for name in self.list_commands(ctx):
            cmd = self.get_command(ctx, name)
            if cmd is not None and not cmd.hidden:
                rows.append((name, cmd.get_short_help_str(limit=10_000)))
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"],
                                           "max_content_width": 120})
@click.option("--config", "config_path", type=click.Path(dir_okay=False),
              help="config file (default: $RESPONDER_CONFIG, else ./config.toml, "
                   "else built-in defaults)")
@click.option("--verbose", "-v", is_flag=True,
              help='log at DEBUG, other libraries included (as log_level = "DEBUG"); '
                   "by default libraries log only warnings")
@click.version_option(package_name="responder")
@click.pass_context
def main(click_ctx: click.Context, config_path: str | None, verbose: bool) -> None:
    """responder: drafts polite replies to customer mail, with a cooling-off delay for
    hostile messages, for a rep to review and send."""
    click_ctx.obj = Ctx(config_path, verbose)


# ---- running -------------------------------------------------------------------------
@main.command()
@pass_ctx
def run(ctx: Ctx) -> None:
    """Watch the configured inboxes (and SMTP ingress) until stopped."""
    from responder.app.scheduler import run_forever
    from responder.mail.intake.smtp import start_ingress
    cfg = ctx.cfg
    if cfg.cluster.enabled:
        raise click.ClickException("[cluster] enabled = true: the inboxes are watched by "
                                   "`responder worker` processes; start those instead "
                                   "(`responder cluster status` shows them)")
    if not cfg.inbox and not cfg.ingress.enabled:
        raise click.ClickException("nothing to watch: add an [[inbox]] section or set "
                                   "ingress.enabled = true in the config")
    service = ctx.service()
    ingress = start_ingress(ctx.repo, cfg, on_stored=lambda pk: service.process([pk])) \
        if cfg.ingress.enabled else None
    web = _start_web(ctx, service) if cfg.web.enabled else None
    try:
        run_forever(service, ingress)
    finally:
        if web is not None:
            web.close()


def _start_web(ctx: Ctx, service: Service, host: str | None = None,
               port: int | None = None) -> WebServer:
    """The rep's web page on its own thread (waitress); returns the running server."""
    from responder.config import ConfigError
    from responder.web import WebContext, create_app, start_server
    cfg = ctx.cfg
    try:
        app = create_app(WebContext(cfg, ctx.repo, service, clock=service.clock))
        server = start_server(app, host or cfg.web.host, port if port is not None
                              else cfg.web.port, cfg.web.threads)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None
    except OSError as exc:
        raise click.ClickException(f"web page: cannot listen on {host or cfg.web.host}:"
                                   f"{port if port is not None else cfg.web.port}: "
                                   f"{exc.strerror or exc}") from None
    click.echo(f"web page: {server.url}", err=True)
    return server


@main.command()
@click.option("--host", help="address to listen on (default: [web] host, 127.0.0.1)")
@click.option("--port", type=int, help="port (default: [web] port, 8080; 0 = any free one)")
@pass_ctx
def web(ctx: Ctx, host: str | None, port: int | None) -> None:
    """Serve the reps' web page (queue, messages, actions) until stopped.

    Log in with an account made by `responder user add`. Listens on 127.0.0.1 unless
    told otherwise; see README "The web page" for running it behind a TLS proxy."""
    import signal
    import threading

    from responder.app import accounts
    if not accounts.list_users(ctx.repo):
        click.echo("no accounts yet: add one with 'responder user add NAME --role owner'",
                   err=True)
    server = _start_web(ctx, ctx.service(), host, port)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    try:
        stop.wait()
    finally:
        server.close()


@main.group()
def user() -> None:
    """Accounts for the web page."""


@user.command("add")
@click.argument("name")
@click.option("--role", type=click.Choice(["owner", "rep"]), required=True,
              help="owner: everything, including the users page; rep: the queue and its "
                   "actions")
@click.option("--password-stdin", is_flag=True,
              help="read the password from the first line of standard input (also the "
                   "default when standard input is not a terminal)")
@pass_ctx
def user_add(ctx: Ctx, name: str, role: str, password_stdin: bool) -> None:
    """Add an account (or give an existing one a new role and password).

    The password is asked for twice at a terminal, or read from standard input; it is
    stored only as an argon2 hash."""
    from responder.app import accounts
    from responder.core.clock import utcnow
    if password_stdin or not sys.stdin.isatty():
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt(f"password for {name}", hide_input=True,
                                confirmation_prompt=True)
    try:
        created = accounts.add_user(ctx.repo, name, role, password, now=utcnow())
    except accounts.AccountError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"user {name} ({role}) {'added' if created else 'updated'}")


@user.command("list")
@pass_ctx
def user_list(ctx: Ctx) -> None:
    """The accounts, their roles and last logins."""
    from responder.app import accounts
    rows = accounts.list_users(ctx.repo)
    if not rows:
        click.echo("no accounts")
    for u, disabled, last in rows:
        click.echo(f"{u.name:<24} {u.role:<6} "
                   f"{'disabled' if disabled else 'active':<9} last login "
                   f"{f'{last:%Y-%m-%d %H:%M} UTC' if last else 'never'}")


@main.command()
@click.option("--dir", "workdir", type=click.Path(file_okay=False),
              help="keep the demo's database and config here (default: a temp folder)")
@click.option("--web/--no-web", "with_web", default=None,
              help="then serve the web page on the demo data until Ctrl-C (default: only "
                   "when run at a terminal, so scripts and CI end by themselves)")
@click.option("--web-port", type=int, default=8080, show_default=True,
              help="port of the demo's web page (a free one if this is taken)")
@pass_ctx
def demo(ctx: Ctx, workdir: str | None, with_web: bool | None, web_port: int) -> None:
    """Feed the bundled sample mail through the pipeline, on loopback.

    Real SMTP servers on 127.0.0.1, a real SQLite database; nothing leaves the machine.
    It ends with commands to look at the result (list, show) and, at a terminal, serves
    the web page on the demo data with a demo login."""
    from responder.app.demo import run_demo
    _setup_logging("WARNING", ctx.verbose)
    if with_web is None:
        with_web = sys.stdin.isatty() and sys.stdout.isatty()
    run_demo(Path(workdir) if workdir else Path(tempfile.mkdtemp(prefix="responder-demo-")),
             serve=_demo_web(web_port) if with_web else None)


def _demo_web(port: int) -> Callable[[config_mod.Config, Repository, Service, Clock], None]:
    """Serve the page on the demo's data with a fresh demo owner, until Ctrl-C."""
    def serve(cfg: config_mod.Config, repo: Repository, service: Service,
              clock: Clock) -> None:
        import secrets
        import signal
        import threading

        from responder.app import accounts
        from responder.web import WebContext, create_app, start_server
        password = secrets.token_urlsafe(9)
        accounts.add_user(repo, "demo", "owner", password, now=clock())
        app = create_app(WebContext(cfg, repo, service, clock=clock))
        try:
            server = start_server(app, "127.0.0.1", port)
        except OSError:
            server = start_server(app, "127.0.0.1", 0)   # the port is taken: any free one
        click.secho(f"\nWeb page: {server.url}   log in as: demo / {password}", bold=True)
        click.echo("Click through the held message, the drafts and the audit trail. "
                   "Ctrl-C stops the demo.")
        stop = threading.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: stop.set())
        try:
            stop.wait()
            click.echo("stopped")
        finally:
            server.close()
    return serve


@main.command()
@pass_ctx
def sync(ctx: Ctx) -> None:
    """Poll every inbox once, decide new mail, release due holds."""
    service = ctx.service()
    if not ctx.cfg.inbox:
        raise click.ClickException("no [[inbox]] configured")
    for box in ctx.cfg.inbox:
        new = service.poll_inbox(box)
        click.echo(f"{box.name}: {len(new)} new message(s)")
    service.process_pending()
    released = service.release_due()
    if released:
        click.echo(f"released from cooling-off: {', '.join(f'#{p}' for p in released)}")


@main.command()
@click.argument("paths", nargs=-1, required=True)
@click.option("--json", "as_json", is_flag=True, help="one JSON object per message per line")
@click.option("--output", "-o", type=click.File("w", encoding="utf-8"), default="-",
              help="write results here (default: standard output)")
@click.option("--no-progress", is_flag=True, help="no progress bar")
@click.option("--report", "report_path", type=click.Path(dir_okay=False, writable=True),
              help="also write a self-contained HTML report here (plots, difficult "
                   "senders, every message with its decision; opens without network)")
@pass_ctx
def replay(ctx: Ctx, paths: tuple[str, ...], as_json: bool, output: TextIO,
           no_progress: bool, report_path: str | None) -> None:
    """Run the decision pipeline on mail files; sends nothing.

    PATHS: .eml files, folders of them, mbox files or Maildirs. Touches no inbox and
    no database; a summary goes to standard error. A path that does not exist stops
    the run before anything is replayed."""
    from responder.app import replay as replay_mod
    missing = replay_mod.missing_paths(paths)
    if missing:
        raise click.ClickException(replay_mod.missing_message(paths, missing))
    from responder.core.clock import utcnow
    from responder.core.pipeline import Services
    report = None
    if report_path is not None:
        from responder.app.report import Report
        folder = Path(report_path).resolve().parent
        if not folder.is_dir():
            raise click.ClickException(f"--report: no such folder: {folder}")
        report = Report(ctx.cfg, utcnow(), sources=paths)
    svc = Services.from_config(ctx.cfg)
    counts = replay_mod.run(paths, svc, utcnow(), output, as_json=as_json,
                            progress=not no_progress and sys.stderr.isatty() or False,
                            err=sys.stderr, on_record=report.add if report else None)
    click.echo(replay_mod.summary(counts), err=True)
    if report is not None and report_path is not None:
        try:
            written = report.write(report_path)
        except OSError as exc:
            raise click.ClickException(f"--report: cannot write {report_path}: "
                                       f"{exc.strerror or exc}") from None
        click.echo(f"report: {written}", err=True)


# ---- customers: the owner's view (store/customers.py) ----------------------------------
@main.command()
@click.option("--difficult", is_flag=True,
              help="only the difficult ones: repeatedly hostile or threatening the shop's "
                   "reputation ([customers] in the config)")
@click.option("--json", "as_json", is_flag=True, help="one JSON list of customers")
@click.option("--limit", type=click.IntRange(min=1), default=None,
              help="at most this many customers")
@pass_ctx
def customers(ctx: Ctx, difficult: bool, as_json: bool, limit: int | None) -> None:
    """Each customer's history: messages, hostile ones, reputation threats (bad review,
    chargeback, lawyer, authority, social media) with their words, refunds asked, replies
    sent.

    It informs the owner; nothing is decided automatically for anyone listed."""
    from responder.store import customers as customers_mod
    rules = customers_mod.DifficultyRules.from_config(ctx.cfg)
    found = (customers_mod.difficult_customers(ctx.repo, rules=rules) if difficult
             else customers_mod.histories(ctx.repo, rules=rules))[:limit]
    if as_json:
        click.echo(json.dumps([h.as_dict() for h in found], indent=1, ensure_ascii=False))
        return
    if not found:
        click.echo("no difficult customers" if difficult else "no customers yet")
        return
    for h in found:
        _echo_customer(h)
    if difficult:
        click.echo("This list only informs: responder decides nothing for these customers; "
                   "their mail is handled like everyone's. You decide.")


def _echo_customer(h: CustomerHistory) -> None:
    """One customer's history as a few lines."""
    from responder.core.threats import KIND_TITLES
    mark = click.style("DIFFICULT", fg="red", bold=True) + " " if h.difficult else ""
    click.echo(f"{mark}{h.address}: {h.messages} message(s), {h.hostile} hostile, "
               f"{h.refunds_asked} refund(s) asked, {h.replies_sent} reply(ies) sent; "
               f"last {h.last_at:%Y-%m-%d %H:%M} UTC")
    if h.threats:
        click.echo("  threats: " + ", ".join(f"{KIND_TITLES[k]} ({n})"
                                              for k, n in h.threats.items()))
    for reason in h.reasons:
        click.echo(f"  why listed: {reason}")
    for item, threat in h.threat_evidence:
        click.echo(f"  #{item.pk} {KIND_TITLES[threat.kind]}: \"{threat.evidence}\"")
    for item in h.items:
        score = "-" if item.hostility is None else f"{item.hostility:.2f}"
        click.echo(f"  #{item.pk:<5} {item.received_at:%Y-%m-%d %H:%M} {item.stage:<10} "
                   f"hostility {score}{' HOSTILE' if item.hostile else ''} "
                   f"{item.intent or '-'}  {item.subject or '(no subject)'}")


# ---- the queue -----------------------------------------------------------------------
@main.command("list")
@click.option("--stage", "stages", multiple=True,
              type=click.Choice([s.value for s in Stage]),
              help="only these stages (repeatable); default: uncertain, drafted, held, "
                   "approved, sending, quarantined")
@click.option("--all", "show_all", is_flag=True, help="every stage")
@pass_ctx
def list_cmd(ctx: Ctx, stages: tuple[str, ...], show_all: bool) -> None:
    """The queue: uncertain sends (waiting for a person), then escalated drafts
    (deadline near), then reputation threats, then the rest; each soonest reply
    deadline first."""
    chosen = None if show_all else [Stage(s) for s in stages] or [
        Stage.UNCERTAIN, Stage.DRAFTED, Stage.HELD, Stage.APPROVED, Stage.SENDING,
        Stage.QUARANTINED]
    rows = ctx.repo.list(chosen)
    if chosen is None or Stage.UNCERTAIN in chosen:
        first = ctx.repo.list([Stage.UNCERTAIN])
        rows = first + [r for r in rows if r.stage != Stage.UNCERTAIN.value]
    from responder.app.deadlines import is_escalated
    from responder.app.queue import priority_key, raises_priority, reputation_threats
    rows.sort(key=priority_key)      # the web queue's order (app/queue.py)
    if not rows:
        click.echo("nothing here")
        return
    click.echo(f"{'id':>5}  {'stage':<11} {'deadline (UTC)':<16} {'lang':<4} {'host.':>5} "
               f"{'intent':<26} from / subject")
    for r in rows:
        host = f"{r.hostility:.2f}" if r.hostility is not None else "-"
        extra = ""
        if r.stage == "held" and r.release_at:
            extra = f" [cooling until {r.release_at:%H:%M}]"
        if r.stage == "skipped":
            extra = f" [{r.skip_rule}]"
        if r.stage == Stage.SENDING.value and r.draft and r.draft.send_started_at:
            extra = f" [sending since {r.draft.send_started_at:%H:%M:%S}]"
        if raises_priority(r):
            kinds = sorted({k.replace("_", " ") for k, _ in reputation_threats(r)
                            if k != "reputation_threat"})
            extra = (" [REPUTATION THREAT" + (f": {', '.join(kinds)}" if kinds else "") + "]"
                     + extra)
        if is_escalated(r):
            extra = " [ESCALATED: deadline near]" + extra
        click.echo(f"{r.id:>5}  {r.stage:<11} {r.deadline_at:%Y-%m-%d %H:%M} "
                   f"{(r.language or '-'):<4} {host:>5} {(r.intent or '-'):<26} "
                   f"{r.customer_addr or r.from_addr or '?'} / {r.subject or ''}{extra}")
        if r.stage == Stage.UNCERTAIN.value and r.draft:
            click.echo(f"{'':>7}! " + (r.draft.send_error or "interrupted send: check, then "
                                         f"'responder send --resend {r.id}'"))


@main.command()
@click.argument("pk", type=int)
@click.option("--raw", is_flag=True, help="print the original message's exact bytes")
@pass_ctx
def show(ctx: Ctx, pk: int, raw: bool) -> None:
    """One message: verdicts, draft, and its audit trail."""
    row = _get(ctx, pk)
    if raw:
        sys.stdout.buffer.write(row.raw)
        return
    click.echo(f"#{row.id}  stage: {row.stage}   received {row.received_at:%Y-%m-%d %H:%M} UTC"
               f"   reply due {row.deadline_at:%Y-%m-%d %H:%M} UTC")
    click.echo(f"from: {row.from_addr}   reply to: {row.customer_addr}")
    click.echo(f"subject: {row.subject}")
    click.echo(f"language: {row.language}   intent: {row.intent} "
               f"({(row.intent_confidence or 0):.0%})")
    if row.model_version:
        click.echo(f"judged by: {row.model_version}")
    if row.hostility is not None:
        click.echo(f"hostility: {row.hostility:.2f} {', '.join(row.hostility_labels or [])}")
        for sentence in row.hostility_evidence or []:
            click.echo(f"  because: {sentence}")
    if row.release_at:
        click.echo(f"cooling off until: {row.release_at:%Y-%m-%d %H:%M} UTC")
    if row.hold_band or row.hold_rule:
        from responder.core.cooling import RULES
        click.echo(f"hold band: {row.hold_band or '-'}   set by rule: {row.hold_rule or '-'}"
                   + (f" ({RULES[row.hold_rule]})" if row.hold_rule in RULES else ""))
    if row.escalated_at:
        click.echo(f"ESCALATED: {row.escalated_at:%Y-%m-%d %H:%M} UTC (deadline near, "
                   "owner notified)")
    if row.deadline_missed_at:
        click.echo(f"DEADLINE MISSED: noticed {row.deadline_missed_at:%Y-%m-%d %H:%M} UTC")
    if row.skip_rule:
        click.echo(f"skipped by rule {row.skip_rule}: {row.skip_reason}")
    if row.error:
        click.echo(f"error: {row.error}")
    _show_conversation(ctx, row)
    if row.draft:
        d = row.draft
        click.echo("\n--- draft " + "-" * 60)
        click.echo(f"To: {d.to_name} <{d.to_addr}>\nFrom: {d.from_addr}\nSubject: {d.subject}")
        click.echo(f"In-Reply-To: {d.in_reply_to}\nTemplate: {d.template}"
                   + ("  (fallback language)" if d.fallback_language else ""))
        for note in d.notes or []:
            click.echo(f"NOTE: {note}")
        if row.stage == Stage.SENDING.value:
            click.echo(f"SEND STATE: sending since "
                       f"{(d.send_started_at or row.updated_at):%Y-%m-%d %H:%M:%S} UTC by "
                       f"{d.send_owner or '?'} (attempt {d.send_attempts or 0}); outcome "
                       "not yet recorded")
        elif row.stage == Stage.UNCERTAIN.value:
            click.echo("SEND STATE: uncertain: waiting for a person "
                       f"(attempt {d.send_attempts or 0}, reply {d.reply_message_id})")
        if d.send_error:
            click.echo(f"SEND: {d.send_error}")
        from responder.mail.sending import next_attempt_at
        retry_at = next_attempt_at(d) if row.stage == Stage.APPROVED.value else None
        if retry_at is not None:
            click.echo(f"NEXT ATTEMPT: {retry_at:%Y-%m-%d %H:%M:%S} UTC "
                       f"(attempt {(d.send_attempts or 0) + 1}, backing off after a "
                       "temporary failure)")
        click.echo("")
        click.echo(d.body)
    click.echo("--- audit trail " + "-" * 54)
    for e in ctx.repo.events(pk):
        click.echo(f"{e.at:%Y-%m-%d %H:%M:%S}  {e.actor:<14} {e.action:<12} "
                   f"{(e.from_stage or '-')}->{e.to_stage}: {e.reason}")


def _show_conversation(ctx: Ctx, row: MessageRow) -> None:
    """The conversation's messages (when there are several) and the superseded note."""
    from responder.app import conversations
    members = conversations.messages_of(ctx.repo, row)
    if len(members) > 1:
        click.echo(f"conversation #{row.conversation_id}: {len(members)} messages")
        words = conversations.words_of(members, limit=160)
        for m in members:
            host = f"{m.hostility:.2f}" if m.hostility is not None else "-"
            mark = ">" if m.id == row.id else " "
            click.echo(f" {mark} #{m.id:<5} {m.received_at:%Y-%m-%d %H:%M}  {m.stage:<11} "
                       f"host. {host:<5} {(m.intent or '-'):<26} {m.subject or ''}")
            click.echo(f"          \"{words[m.id]}\"")
    note = conversations.superseded_note(row)
    if note:
        click.echo(f"SUPERSEDED: {note}")


def _get(ctx: Ctx, pk: int) -> MessageRow:
    try:
        return ctx.repo.get(pk)
    except KeyError:
        raise click.ClickException(f"no message #{pk}") from None


def _actor(name: str | None) -> str:
    import getpass
    return f"rep:{name or os.environ.get('RESPONDER_REP') or getpass.getuser()}"


@main.command()
@click.argument("pk", type=int)
@click.option("--file", "from_file", type=click.File("r", encoding="utf-8"),
              help="take the new reply text from this file ('-' for standard input)")
@click.option("--as", "rep", help="your name for the audit trail (default: $RESPONDER_REP "
                                  "or your login)")
@pass_ctx
def edit(ctx: Ctx, pk: int, from_file: TextIO | None, rep: str | None) -> None:
    """Edit a draft in $EDITOR, or replace it from a file."""
    from responder.app.actions import ApprovalError
    from responder.app.actions import edit as do_edit
    from responder.core.clock import utcnow
    row = _get(ctx, pk)
    if row.draft is None:
        raise click.ClickException(f"message #{pk} has no draft")
    if from_file is not None:
        body = from_file.read()
    else:
        edited = click.edit(row.draft.body, extension=".txt", require_save=True)
        if edited is None:
            click.echo("no change")
            return
        body = edited
    try:
        do_edit(ctx.repo, pk, body, actor=_actor(rep), now=utcnow(), drafts=ctx.drafts())
    except ApprovalError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"draft #{pk} saved")
    from responder.app.actions import check_tone
    from responder.core.cooling import is_hostile
    verdict = check_tone(ctx.service().services.scorer, body, row.draft.language)
    if is_hostile(verdict, ctx.cfg.scoring.hold_threshold):
        click.secho(f"warning: this reply reads as hostile (score {verdict.score:.2f}"
                    + (f": {'; '.join(verdict.evidence)}" if verdict.evidence else "")
                    + "). It will not be sent unless approved with --override-tone.",
                    fg="yellow", err=True)


@main.command()
@click.argument("pks", type=int, nargs=-1, required=True)
@click.option("--as", "rep", help="your name for the audit trail")
@click.option("--no-send", is_flag=True, help="approve only; the scheduler sends it later")
@click.option("--override-tone", is_flag=True,
              help="send even though the reply itself reads as hostile (recorded)")
@pass_ctx
def approve(ctx: Ctx, pks: tuple[int, ...], rep: str | None, no_send: bool,
            override_tone: bool) -> None:
    """Approve drafts and send them."""
    from responder.app.actions import ApprovalError
    from responder.app.actions import approve as do_approve
    from responder.core.clock import utcnow
    service = ctx.service()
    failed = False
    for pk in pks:
        try:
            reply_id = do_approve(ctx.repo, pk, actor=_actor(rep), now=utcnow(),
                                  message_id_domain=ctx.cfg.shop.message_id_domain,
                                  scorer=service.services.scorer,
                                  hold_threshold=ctx.cfg.scoring.hold_threshold,
                                  override_tone=override_tone, drafts=service.drafts)
        except ApprovalError as exc:
            click.echo(f"#{pk}: {exc}", err=True)
            failed = True
            continue
        click.echo(f"#{pk}: approved as {reply_id}")
        if not no_send:
            outcome = service.send_approved(only=pk)
            row = ctx.repo.get(pk)
            error = row.draft.send_error if row.draft is not None else None
            click.echo(f"#{pk}: {row.stage}" + (f" ({error})" if error else ""))
            failed = failed or not outcome["sent"]
    if failed:
        sys.exit(1)


@main.command()
@click.argument("pk", type=int)
@click.option("--reason", default="", help="why (kept in the audit trail)")
@click.option("--as", "rep", help="your name for the audit trail")
@pass_ctx
def reject(ctx: Ctx, pk: int, reason: str, rep: str | None) -> None:
    """Decide not to answer a message."""
    from responder.app.actions import ApprovalError
    from responder.app.actions import reject as do_reject
    from responder.core.clock import utcnow
    try:
        do_reject(ctx.repo, pk, actor=_actor(rep), now=utcnow(), reason=reason,
                  drafts=ctx.drafts())
    except ApprovalError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"#{pk} rejected")


@main.command()
@click.argument("pk", type=int)
@click.option("--reason", required=True, help="why the cooling-off ends early (kept in the "
                                                "audit trail)")
@click.option("--not-hostile", is_flag=True,
              help="the message is not hostile: the hold was the model's mistake (kept as "
                   "a label for `responder train`)")
@click.option("--as", "rep", help="your name for the audit trail")
@pass_ctx
def release(ctx: Ctx, pk: int, reason: str, rep: str | None, not_hostile: bool) -> None:
    """End a held message's cooling-off now, so its draft is ready."""
    from responder.app.actions import ApprovalError, release_early
    from responder.core.clock import utcnow
    try:
        release_early(ctx.repo, pk, actor=_actor(rep), now=utcnow(), reason=reason,
                      drafts=ctx.drafts(), not_hostile=not_hostile)
    except ApprovalError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"#{pk} released: its draft is ready")


@main.command()
@click.argument("pk", type=int)
@click.option("--intent", help="answer with this intent's template (see README: Intent)")
@click.option("--language", help="answer in this language (en, fr, de, es, ru, cs, et)")
@click.option("--as", "rep", help="your name for the audit trail")
@pass_ctx
def redraft(ctx: Ctx, pk: int, intent: str | None, language: str | None,
            rep: str | None) -> None:
    """Make the draft again with another intent or language."""
    from responder.app.actions import ApprovalError
    from responder.app.actions import redraft as do_redraft
    from responder.core.clock import utcnow
    if not intent and not language:
        raise click.UsageError("give --intent, --language or both")
    service = ctx.service()
    try:
        template = do_redraft(ctx.repo, service.services, pk, actor=_actor(rep), now=utcnow(),
                              intent=intent, language=language, drafts=service.drafts)
    except ApprovalError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"#{pk} re-drafted from template {template}")


@main.command()
@click.argument("pk", type=int)
@click.option("--as", "rep", help="your name for the audit trail")
@pass_ctx
def answer(ctx: Ctx, pk: int, rep: str | None) -> None:
    """Answer a message the per-sender throttle skipped (the customer wrote again soon
    after our reply): decide it again without the throttle, so it gets a draft."""
    from responder.app.actions import ApprovalError, answer_anyway
    from responder.core.clock import utcnow
    service = ctx.service()
    try:
        stage = answer_anyway(ctx.repo, service.services, pk, actor=_actor(rep), now=utcnow(),
                              drafts=service.drafts)
    except ApprovalError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"#{pk} decided again without the throttle: now {stage}")


# ---- learning from the reps (app/learning.py) ----------------------------------------
@main.command()
@click.argument("pk", type=int)
@click.option("--abusive/--not-abusive", default=None,
              help="whether the customer's message is abusive (one is required)")
@click.option("--as", "rep", help="your name for the audit trail")
@pass_ctx
def label(ctx: Ctx, pk: int, abusive: bool | None, rep: str | None) -> None:
    """Say whether a message is abusive, for `responder train` to learn from.

    Only a label: it neither holds nor releases the message (use release
    --not-hostile for a held one)."""
    from responder.app.actions import ApprovalError, mark_abusive
    from responder.core.clock import utcnow
    if abusive is None:
        raise click.UsageError("give --abusive or --not-abusive")
    try:
        mark_abusive(ctx.repo, pk, abusive=abusive, actor=_actor(rep), now=utcnow())
    except ApprovalError as exc:
        raise click.ClickException(str(exc)) from None
    except KeyError:
        raise click.ClickException(f"no message #{pk}") from None
    click.echo(f"#{pk} labelled {'abusive' if abusive else 'not abusive'}")


@main.command()
@click.option("--kind", "kinds", multiple=True, type=click.Choice(["hostility", "intent"]),
              help="only this model (repeatable; default: both)")
@click.option("--force", is_flag=True,
              help="switch to the new version even when it is not better (still needs labels)")
@click.option("--dry-run", is_flag=True, help="fit and report; write no version")
@click.option("--json", "as_json", is_flag=True, help="the reports as JSON")
@pass_ctx
def train(ctx: Ctx, kinds: tuple[str, ...], force: bool, dry_run: bool, as_json: bool) -> None:
    """Refit the offline models on the reps' labels; switch when not worse.

    Fits on the labels outside a fixed held-out part, reports the figures of the
    version in use and of the new one on that part (and on the shipped dev split),
    keeps the new version and switches to it only when it is not worse. See README
    "Learning from the reps"."""
    from responder.app import learning as learning_mod
    from responder.core.learning import VersionError
    cfg = ctx.cfg
    try:
        reports = learning_mod.train(
            ctx.repo, cfg, force=force, dry_run=dry_run,
            kinds=kinds or ("hostility", "intent"),
            progress=None if as_json else (lambda text: click.echo(text, err=True)))
    except VersionError as exc:
        raise click.ClickException(str(exc)) from None
    except OSError as exc:
        raise click.ClickException(f"cannot write the new version: {exc}") from None
    root = cfg.learning.models_path(cfg.database_url)
    if as_json:
        click.echo(json.dumps([r.as_dict() for r in reports], indent=2))
    else:
        click.echo(learning_mod.describe(reports, root))


@main.command()
@click.option("--resend", "resend_pk", type=int,
              help="send this message again after an interrupted send you checked by hand "
                   "(recorded under your name)")
@click.option("--mark-sent", "mark_sent_pk", type=int,
              help="record that this uncertain send did go out (you checked); sends nothing")
@click.option("--as", "rep", help="your name for the audit trail (with --resend or "
                                  "--mark-sent; default: $RESPONDER_REP or your login)")
@pass_ctx
def send(ctx: Ctx, resend_pk: int | None, mark_sent_pk: int | None, rep: str | None) -> None:
    """Send every approved reply now (the scheduler also does this).

    A send that was interrupted is never sent again by itself: it is looked for in the
    Sent folder on every run, and otherwise waits as 'uncertain' (listed first by
    `responder list`) until a person runs --resend or --mark-sent."""
    from responder.app.actions import ApprovalError, mark_sent, resend, send_approved
    from responder.core.clock import utcnow
    if resend_pk is not None and mark_sent_pk is not None:
        raise click.UsageError("--resend and --mark-sent exclude each other")
    if mark_sent_pk is not None:
        try:
            mark_sent(ctx.repo, mark_sent_pk, actor=_actor(rep), now=utcnow())
        except ApprovalError as exc:
            raise click.ClickException(str(exc)) from None
        click.echo(f"#{mark_sent_pk}: marked sent")
        return
    if resend_pk is not None:
        try:
            result = resend(ctx.repo, ctx.cfg, resend_pk, actor=_actor(rep), clock=utcnow)
        except ApprovalError as exc:
            raise click.ClickException(str(exc)) from None
        outcome = {"sent": 0, "failed": 0, "unknown": 0}
        outcome[result] += 1
        row = ctx.repo.get(resend_pk)
        last = ctx.repo.events(resend_pk)[-1]
        click.echo(f"#{resend_pk}: {row.stage} ({last.reason})")
    else:
        outcome = send_approved(ctx.repo, ctx.cfg, clock=utcnow)
    click.echo(", ".join(f"{k}: {v}" for k, v in outcome.items()))
    if outcome["unknown"]:
        click.echo(f"{outcome['unknown']} uncertain send(s) wait for a person: see "
                   "'responder list'", err=True)


@main.command()
@pass_ctx
def status(ctx: Ctx) -> None:
    """Uncertain sends first, then counts by stage and the state of every inbox."""
    uncertain = ctx.repo.list([Stage.UNCERTAIN])
    if uncertain:
        click.echo(f"UNCERTAIN SENDS waiting for a person: {len(uncertain)}")
        for r in uncertain:
            click.echo(f"  #{r.id} to {r.draft.to_addr if r.draft else '?'}: "
                       f"{r.draft.send_error if r.draft else ''}")
    counts = ctx.repo.count_by_stage()
    click.echo("messages: " + (", ".join(f"{k} {v}" for k, v in sorted(counts.items()))
                               or "none"))
    states = {(s.inbox, s.folder): s for s in ctx.repo.all_folder_states()}
    from responder.mail.intake.idle import StatusBoard, describe, status_path
    board = StatusBoard(status_path(ctx.cfg)).read()
    for box in ctx.cfg.inbox:
        st = states.get((box.name, box.folder))
        if st is None:
            click.echo(f"inbox {box.name} ({box.username}@{box.host}/{box.folder}): never synced")
        else:
            click.echo(f"inbox {box.name} ({box.username}@{box.host}/{box.folder}): "
                       f"last sync {st.last_sync_at:%Y-%m-%d %H:%M:%S} UTC, UIDVALIDITY "
                       f"{st.uidvalidity}, last UID {st.last_uid}"
                       + (f", HIGHESTMODSEQ {st.highest_modseq}" if st.highest_modseq else "")
                       + (f", LAST ERROR: {st.last_error}" if st.last_error else ""))
        click.echo(f"  {describe(board.get(box.name))}")
    if ctx.cfg.ingress.enabled:
        click.echo(f"ingress: {ctx.cfg.ingress.host}:{ctx.cfg.ingress.port}")
    _status_deadlines(ctx)


def _status_deadlines(ctx: Ctx) -> None:
    """The deadline watch's part of `status`: escalations, missed deadlines, notices
    waiting for a person, and the per-day table."""
    from responder.app.deadlines import daily_figures, figures_table
    from responder.core.clock import utcnow
    from responder.store import notices as outbox
    escalated, missed = outbox.deadline_counts(ctx.repo)
    click.echo(f"deadlines: {escalated} escalated and waiting, {missed} missed "
               "in all")
    stuck = outbox.notices(ctx.repo, [outbox.UNCERTAIN, outbox.FAILED])
    for n in stuck:
        click.echo(f"  NOTICE #{n.id} ({n.kind}) to {n.to_addr}: {n.state}: {n.error}")
    figures = daily_figures(ctx.repo, ctx.cfg, utcnow())
    if figures:
        for line in figures_table(figures, ctx.cfg.local_timezone):
            click.echo(line)


@main.command()
@click.option("--no-send", is_flag=True, help="escalate and record only; the notices are "
                                              "sent by the next run (or the scheduler)")
@pass_ctx
def deadlines(ctx: Ctx, no_send: bool) -> None:
    """Run the deadline watch once now (the scheduler also does this).

    Unapproved drafts near their reply deadline are escalated (listed first, one
    notice to [shop] owner_address, sent exactly once); missed deadlines are recorded."""
    from responder.app.deadlines import watch_deadlines
    from responder.core.clock import utcnow
    result = watch_deadlines(ctx.repo, ctx.cfg, utcnow, send=not no_send)
    click.echo(f"escalated: {len(result.escalated)}"
               + (f" (#{', #'.join(map(str, result.escalated))})" if result.escalated else "")
               + (f" ({len(result.summarised)} missed before the look-back: one summary "
                  "notice)" if result.summarised else "")
               + f", deadlines missed: {len(result.missed)}")
    if result.notices:
        click.echo("notices: " + ", ".join(f"{k}: {v}" for k, v in result.notices.items()))


@main.command()
@click.option("--send", "do_send", is_flag=True,
              help="queue today's digest (once per day) and send it to [shop] owner_address")
@pass_ctx
def digest(ctx: Ctx, do_send: bool) -> None:
    """Print the owner's daily digest; with --send, e-mail it (once per day)."""
    from responder.app.deadlines import build_digest, send_digest
    from responder.core.clock import utcnow
    if not do_send:
        d = build_digest(ctx.repo, ctx.cfg, utcnow())
        click.echo(f"Subject: {d.subject}\n\n{d.body}")
        return
    try:
        queued = send_digest(ctx.repo, ctx.cfg, utcnow)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo("digest queued and sent" if queued else "today's digest was queued already")


@main.command()
@click.option("--resend", "resend_id", type=int,
              help="send this uncertain or failed notice again (you checked it did not arrive)")
@click.option("--mark-sent", "mark_sent_id", type=int,
              help="record that this uncertain notice did arrive; sends nothing")
@pass_ctx
def notices(ctx: Ctx, resend_id: int | None, mark_sent_id: int | None) -> None:
    """The owner-notice outbox (deadline notices, digests), newest first."""
    from responder.core.clock import utcnow
    from responder.mail import notices as notice_mail
    from responder.store import notices as outbox
    try:
        if resend_id is not None:
            click.echo(f"notice #{resend_id}: "
                       f"{notice_mail.resend(ctx.repo, ctx.cfg, resend_id, utcnow)}")
            return
        if mark_sent_id is not None:
            notice_mail.mark_sent(ctx.repo, mark_sent_id, utcnow())
            click.echo(f"notice #{mark_sent_id}: marked sent")
            return
    except (KeyError, ValueError) as exc:
        raise click.ClickException(str(exc).strip("'\"")) from None
    rows = outbox.notices(ctx.repo)
    if not rows:
        click.echo("no notices")
    for n in rows:
        click.echo(f"{n.id:>5}  {n.state:<9} {n.kind:<8} {n.day}  to {n.to_addr}: {n.subject}"
                   + (f"\n{'':>7}! {n.error}" if n.error and n.state != outbox.SENT else ""))


@main.command()
@pass_ctx
def doctor(ctx: Ctx) -> None:
    """Check every inbox and the SMTP server; explain each failure.

    DNS, connection, TLS, login, capabilities and folders of every inbox, and the SMTP
    server. Exit code 1 when a check failed."""
    from responder.mail import doctor as doctor_mod
    checks = doctor_mod.run(ctx.cfg)
    for check in checks:
        click.echo(check.line())
    bad = sum(c.status == doctor_mod.FAIL for c in checks)
    warn = sum(c.status == doctor_mod.WARN for c in checks)
    click.echo(f"{len(checks)} check(s): {bad} failed, {warn} warning(s)")
    if bad:
        sys.exit(1)


# ---- models, templates, config ---------------------------------------------------------
@main.command("eval")
@click.option("--corpus", type=click.Path(file_okay=False), help="corpus folder "
              "(default: the project's data/corpus)")
@click.option("--split", default="dev", show_default=True, type=click.Choice(["dev", "train"]))
@click.option("--json", "as_json", is_flag=True, help="the report as JSON")
@click.option("--progress/--no-progress", default=None,
              help="progress bars on standard error (default: only when standard error "
                   "is a terminal, with or without --json)")
@click.option("--datasets", default=None, help="folder of the public labelled sets whose "
              "held-out test split is also scored (default: $RESPONDER_DATASETS, else "
              "../shared/datasets beside a checkout when present; 'none' to skip)")
@pass_ctx
def eval_cmd(ctx: Ctx, corpus: str | None, split: str, as_json: bool, progress: bool | None,
             datasets: str | None) -> None:
    """Measure hostility and intent figures on the labelled corpus."""
    from responder.core import corpus as corpus_mod
    from responder.core.evaluation import run_eval
    from responder.core.scoring import heldout
    try:
        records = corpus_mod.load(corpus, split=split)
    except FileNotFoundError as exc:
        raise click.ClickException(str(exc)) from None
    public = [] if datasets == "none" else heldout.eval_items(datasets)
    cfg = ctx.cfg  # logging is set up here, before the bars redirect it
    if _progress_wanted(progress):
        from tqdm.contrib.logging import logging_redirect_tqdm
        bars = _Bars()
        try:
            with logging_redirect_tqdm():  # log lines above the bar, not through it
                report, text = run_eval(cfg, records, progress=bars, public=public)
        finally:
            bars.close()
    else:
        report, text = run_eval(cfg, records, public=public)
    click.echo(json.dumps(report, indent=2, ensure_ascii=False) if as_json else text)


def _progress_wanted(flag: bool | None) -> bool:
    """--progress/--no-progress as given, else bars only when standard error is a terminal
    (a log file or a CI capture gets no carriage-return lines). --json does not matter:
    the bars never touch standard output."""
    return sys.stderr.isatty() if flag is None else flag


class _Bars:
    """One tqdm bar per step of a long command, on standard error."""

    def __init__(self) -> None:
        from tqdm import tqdm
        self._tqdm = tqdm
        self._bars: dict[str, Any] = {}

    def __call__(self, step: str, done: int, total: int) -> None:
        bar = self._bars.get(step)
        if bar is None:
            self.close()  # one step at a time: the previous one is over
            bar = self._bars[step] = self._tqdm(total=total, desc=f"{step:<9}", unit="msg",
                                                file=sys.stderr, dynamic_ncols=True)
        bar.update(done - bar.n)

    def close(self) -> None:
        for bar in self._bars.values():
            bar.close()  # closing twice is harmless


@main.group()
def templates() -> None:
    """Reply templates."""


@templates.command("check")
@click.option("--strict", is_flag=True,
              help="also fail when a shop fact is missing in a reply language")
@pass_ctx
def templates_check(ctx: Ctx, strict: bool) -> None:
    """Render every reply template with sample data; report errors with file and line,
    and shop facts ([shop.texts.LANG]) missing per reply language."""
    from responder.app.template_check import check_all, shop_text_warnings
    problems, rendered = check_all(ctx.cfg)
    for p in problems:
        click.echo(p, err=True)
    warnings = shop_text_warnings(ctx.cfg)
    for w in warnings:
        click.echo(f"warning: {w}", err=True)
    click.echo(f"{rendered} template renderings checked, {len(problems)} problem(s)"
               + (f", {len(warnings)} language(s) with shop facts missing" if warnings else ""))
    if problems or (strict and warnings):
        sys.exit(1)


@main.group()
def model() -> None:
    """Scoring models."""


@model.command("pull")
@click.argument("model_id", required=False)
@click.option("--cache-dir", type=click.Path(file_okay=False))
@pass_ctx
def model_pull(ctx: Ctx, model_id: str | None, cache_dir: str | None) -> None:
    """Download a Hugging Face model ahead of time (default: scoring.model)."""
    from responder.core.scoring import ModelUnavailable, pull_model
    chosen = model_id or ctx.cfg.scoring.model
    if not chosen:
        raise click.ClickException("no model given and scoring.model is empty")
    try:
        path = pull_model(chosen, cache_dir)
    except ModelUnavailable as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"{chosen}: ready at {path}")


@model.command("versions")
@pass_ctx
def model_versions(ctx: Ctx) -> None:
    """The shop's model versions made by `responder train`, and which are in use."""
    from responder.app.learning import list_versions
    from responder.core.learning import VersionError
    try:
        rows = list_versions(ctx.cfg)
    except VersionError as exc:
        raise click.ClickException(str(exc)) from None
    for kind, version, in_use, info in rows:
        after = info.get("after") or {}
        figure = (f"held-out AUC {after['auc']:.3f}" if after.get("auc") is not None else
                  f"held-out accuracy {after['accuracy']:.1%}"
                  if after.get("accuracy") is not None else "")
        fitted = f"fitted on {info['fit']} labels" if info.get("fit") else ""
        line = (f"{'*' if in_use else ' '} {kind:<10} {version:<8} "
                f"{str(info.get('made_at', ''))[:16]:<17}{fitted:<24}{figure}")
        click.echo(line.rstrip())
    click.echo(f"models folder: {ctx.cfg.learning.models_path(ctx.cfg.database_url)}")


@model.command("use")
@click.argument("kind", type=click.Choice(["hostility", "intent"]))
@click.argument("version")
@pass_ctx
def model_use(ctx: Ctx, kind: str, version: str) -> None:
    """Put a version in use (vNNNN, or `shipped`): how to roll back a switch."""
    from responder.app.learning import use_version
    from responder.core.learning import VersionError
    try:
        root = use_version(ctx.cfg, kind, version)
    except VersionError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"{kind}: {version} in use ({root}); restart `responder run` to load it")


@main.group()
def db() -> None:
    """Database."""


@db.command("upgrade")
@pass_ctx
def db_upgrade(ctx: Ctx) -> None:
    """Create or migrate the database to the newest schema."""
    from responder.store import migrations
    repo = ctx.repo
    click.echo(f"database at revision {migrations.current(repo.engine)}")


@main.command("config")
@click.option("--show", is_flag=True, help="print the effective configuration")
@pass_ctx
def config_cmd(ctx: Ctx, show: bool) -> None:
    """Validate the configuration (and show it)."""
    cfg = ctx.cfg
    click.echo(f"{cfg.source}: valid")
    if show:
        click.echo(json.dumps(cfg.model_dump(mode="json"), indent=2))


# ---- cluster mode (responder/cluster): workers sharing one PostgreSQL database ----------
@main.command()
@pass_ctx
def worker(ctx: Ctx) -> None:
    """Run one cluster worker (needs [cluster] enabled = true and PostgreSQL) until stopped."""
    from responder.cluster.worker import ClusterError, ClusterWorker
    try:
        ClusterWorker(ctx.cfg).run()
    except ClusterError as exc:
        raise click.ClickException(str(exc)) from None


@main.group()
def cluster() -> None:
    """The cluster of workers."""


@cluster.command("status")
@click.option("--json", "as_json", is_flag=True, help="print one JSON object")
@pass_ctx
def cluster_status_cmd(ctx: Ctx, as_json: bool) -> None:
    """Workers alive, inboxes per worker, jobs waiting and late, holds, oldest unprocessed."""
    from sqlalchemy.exc import ProgrammingError

    from responder.cluster.status import cluster_status, describe
    from responder.cluster.worker import ClusterError, require_cluster
    from responder.core.clock import utcnow
    from responder.store.repository import make_engine
    try:
        require_cluster(ctx.cfg)
    except ClusterError as exc:
        raise click.ClickException(str(exc)) from None
    engine = make_engine(ctx.cfg.database_url)
    try:
        st = cluster_status(engine, ctx.cfg)
    except ProgrammingError as exc:
        raise click.ClickException("the database has no cluster tables yet: start a "
                                   f"`responder worker` first ({exc.orig})") from None
    finally:
        engine.dispose()
    if as_json:
        click.echo(json.dumps(st.as_json(), indent=1))
    else:
        for line in describe(st, utcnow()):
            click.echo(line)


if __name__ == "__main__":  # pragma: no cover
    main()

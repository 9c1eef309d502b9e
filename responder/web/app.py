"""The Flask application: routes, login, roles. No business rules here: every action
is a call to ``responder.app`` (the same functions the CLI calls)."""
from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import wraps
from typing import Any, TypeVar
from urllib.parse import urlsplit

from flask import Flask, abort, flash, g, redirect, render_template, request, session, url_for
from flask_wtf.csrf import CSRFError, CSRFProtect
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.wrappers import Response

from responder import resources
from responder.app import accounts, actions, conversations
from responder.app import queue as queue_mod
from responder.config import Config
from responder.core.clock import utcnow
from responder.core.cooling import RULES as HOLD_RULES
from responder.core.cooling import is_hostile
from responder.core.languages import REPLY_LANGUAGES
from responder.core.model import INTENTS, Stage
from responder.store.repository import Repository, StageConflict
from responder.web import security

log = logging.getLogger(__name__)
access_log = logging.getLogger("responder.web.access")

F = TypeVar("F", bound=Callable[..., Any])
PUBLIC_ENDPOINTS = frozenset({"login", "static"})


@dataclass
class WebContext:
    """What the page works with: the config, the store, the service (models for the
    tone check and re-drafting; the send job), and the clock."""

    cfg: Config
    repo: Repository
    service: Any                        # responder.app.service.Service
    clock: Callable[[], datetime] = utcnow
    secret_key: str = ""
    secret_source: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def scorer(self) -> Any:
        return self.service.services.scorer


def _ctx() -> WebContext:
    ctx: WebContext = g.web
    return ctx


def create_app(ctx: WebContext, *, testing: bool = False) -> Flask:
    if not ctx.secret_key:
        ctx.secret_key, ctx.secret_source = security.load_secret_key(ctx.cfg)
    web = ctx.cfg.web
    app = Flask("responder.web", template_folder=str(resources.templates_dir() / "web"),
                static_folder="static")
    secure = web.cookie_secure == "always" or (web.cookie_secure == "auto" and web.behind_proxy)
    app.config.update(
        SECRET_KEY=ctx.secret_key,
        SESSION_COOKIE_NAME="responder_session",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=secure,
        PERMANENT_SESSION_LIFETIME=timedelta(hours=web.session_hours),
        WTF_CSRF_TIME_LIMIT=int(web.session_hours * 3600),
        MAX_CONTENT_LENGTH=1024 * 1024,
        TESTING=testing,
    )
    if web.behind_proxy:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=1, x_proto=1, x_host=1)  # type: ignore[method-assign]
    CSRFProtect(app)
    app.jinja_env.globals.update(STAGES=[s.value for s in Stage], INTENTS=INTENTS,
                                 LANGUAGES=REPLY_LANGUAGES)
    app.jinja_env.filters["utc"] = lambda d: f"{d:%Y-%m-%d %H:%M} UTC" if d else "-"
    app.jinja_env.filters["pct"] = lambda x: f"{x:.0%}" if x is not None else "-"
    app.jinja_env.filters["who"] = lambda actor: str(actor).removeprefix("rep:")

    @app.before_request
    def _load_user() -> Response | None:
        g.web = ctx
        g.user = None
        name = session.get("user")
        if isinstance(name, str):
            g.user = accounts.find_user(ctx.repo, name)
            if g.user is None:
                session.clear()      # removed or disabled since: logged out
        if g.user is None and request.endpoint not in PUBLIC_ENDPOINTS:
            return redirect(url_for("login", next=request.full_path.rstrip("?")))
        return None

    @app.after_request
    def _headers(response: Response) -> Response:
        for key, value in security.HEADERS.items():
            response.headers.setdefault(key, value)
        if request.endpoint != "static":
            response.headers["Cache-Control"] = "no-store"
        access_log.info('%s "%s %s" %s %s', request.remote_addr, request.method,
                        request.full_path.rstrip("?"), response.status_code,
                        g.get("user").name if g.get("user") else "-")
        return response

    @app.errorhandler(CSRFError)
    def _csrf(exc: CSRFError) -> tuple[str, int]:
        return render_template("error.html", title="Form refused",
                               text="The form was refused: its security token is missing or "
                                    f"expired ({exc.description}). Go back, reload the page "
                                    "and try again."), 400

    @app.errorhandler(403)
    def _forbidden(exc: Exception) -> tuple[str, int]:
        return render_template("error.html", title="Not allowed",
                               text="This page is for the shop's owners only."), 403

    @app.errorhandler(404)
    def _not_found(exc: Exception) -> tuple[str, int]:
        return render_template("error.html", title="Not found",
                               text="There is no such page or message."), 404

    _routes(app)
    return app


def owner_only(view: F) -> F:
    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if g.user is None or not g.user.is_owner:
            abort(403)
        return view(*args, **kwargs)
    return wrapper  # type: ignore[return-value]


def _safe_next(target: str | None) -> str:
    """Only a path on this site (no scheme, no host, no //) is followed after login."""
    if not target:
        return url_for("queue")
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//") \
            or "\\" in target:
        return url_for("queue")
    return target


def _routes(app: Flask) -> None:  # noqa: C901 - the route table, one function per route
    @app.route("/login", methods=["GET", "POST"])
    def login() -> Any:
        ctx = _ctx()
        if request.method == "GET":
            if g.user is not None:
                return redirect(url_for("queue"))
            return render_template("login.html", next=request.args.get("next", ""))
        name = request.form.get("name", "").strip()
        password = request.form.get("password", "")
        throttle = accounts.Throttle(ctx.cfg.web.login_max_failures,
                                     timedelta(minutes=ctx.cfg.web.login_lockout_minutes))
        try:
            user = accounts.authenticate(ctx.repo, name, password,
                                         request.remote_addr or "?", now=ctx.clock(),
                                         throttle=throttle)
        except accounts.LoginThrottled as exc:
            log.warning("login throttled for %r from %s", name, request.remote_addr)
            return render_template("login.html", error=str(exc),
                                   next=request.form.get("next", ""), name=name), 429
        if user is None:
            log.info("failed login for %r from %s", name, request.remote_addr)
            return render_template("login.html", error="wrong name or password",
                                   next=request.form.get("next", ""), name=name), 401
        session.clear()           # a fresh session (and CSRF token) for the new login
        session["user"] = user.name
        session.permanent = True
        log.info("%s logged in from %s", user.name, request.remote_addr)
        return redirect(_safe_next(request.form.get("next")))

    @app.post("/logout")
    def logout() -> Any:
        session.clear()
        flash("Logged out.", "info")
        return redirect(url_for("login"))

    @app.get("/")
    def queue() -> Any:
        ctx = _ctx()
        now = ctx.clock()
        stage = request.args.get("stage", "")
        inbox = request.args.get("inbox", "")
        stages = None
        if stage:
            try:
                stages = [Stage(stage)]
            except ValueError:
                abort(404)
        items = queue_mod.queue(ctx.repo, ctx.cfg, now, stages=stages, inbox=inbox or None)
        counts = ctx.repo.count_by_stage()
        return render_template("queue.html", items=items, counts=counts, stage=stage,
                               inbox=inbox, inboxes=queue_mod.inboxes(ctx.repo, ctx.cfg),
                               waiting=[s.value for s in queue_mod.WAITING], now=now)

    @app.get("/m/<int:pk>")
    def message(pk: int) -> Any:
        ctx = _ctx()
        row = _row(pk)
        content = queue_mod.customer_content(row.raw)
        evidence = list(row.hostility_evidence or [])
        tone = None
        if (row.draft is not None and row.draft.edited
                and row.stage in (Stage.DRAFTED.value, Stage.HELD.value)):
            verdict = actions.check_tone(ctx.scorer, row.draft.body, row.draft.language)
            if is_hostile(verdict, ctx.cfg.scoring.hold_threshold):
                tone = verdict
        return render_template(
            "message.html", row=row, content=content,
            text=security.highlight(content.text, evidence),
            html=security.sanitise_html(content.html) if content.html else None,
            badges=queue_mod.badges(row, ctx.cfg, ctx.clock()), tone=tone, now=ctx.clock(),
            earlier=queue_mod.earlier_messages(ctx.repo, row), events=ctx.repo.events(pk),
            conversation=(members := conversations.messages_of(ctx.repo, row)),
            conversation_words=conversations.words_of(members) if len(members) > 1 else {},
            superseded=conversations.superseded_note(row),
            low_confidence=(row.intent_confidence is not None
                            and row.intent_confidence < ctx.cfg.intent.min_confidence),
            editable=row.stage in (Stage.DRAFTED.value, Stage.HELD.value),
            hold_rules=HOLD_RULES)

    @app.post("/m/<int:pk>/edit")
    def edit(pk: int) -> Any:
        ctx = _ctx()
        row = _row(pk)
        body = request.form.get("body", "").replace("\r\n", "\n")
        if _act(lambda: actions.edit(ctx.repo, pk, body, actor=g.user.actor, now=ctx.clock(),
                                     drafts=ctx.service.drafts)):
            flash("Draft saved.", "ok")
            language = row.draft.language if row.draft is not None else row.language
            verdict = actions.check_tone(ctx.scorer, body, language)
            if is_hostile(verdict, ctx.cfg.scoring.hold_threshold):
                flash(f"Tone warning: this reply reads as hostile (score {verdict.score:.2f})"
                      + (f": {'; '.join(verdict.evidence).rstrip('.')}"
                         if verdict.evidence else "")
                      + ". It will not be sent unless you approve it anyway.", "warning")
        return _back(pk)

    @app.post("/m/<int:pk>/approve")
    def approve(pk: int) -> Any:
        ctx = _ctx()
        _row(pk)
        override = request.form.get("override_tone") == "yes"
        result: list[str] = []

        def run() -> None:
            result.append(actions.approve(
                ctx.repo, pk, actor=g.user.actor, now=ctx.clock(),
                message_id_domain=ctx.cfg.shop.message_id_domain, scorer=ctx.scorer,
                hold_threshold=ctx.cfg.scoring.hold_threshold, override_tone=override,
                drafts=ctx.service.drafts))
        if not _act(run):
            return _back(pk)
        ctx.service.send_approved(only=pk, actor=g.user.actor)
        row = ctx.repo.get(pk)
        if row.stage == Stage.SENT.value:
            flash(f"Approved and sent as {result[0]}.", "ok")
        else:
            flash(f"Approved as {result[0]}; now {row.stage}"
                  + (f": {row.draft.send_error}" if row.draft and row.draft.send_error else "")
                  + ". The send job retries it.", "warning")
        return _back(pk)

    @app.post("/m/<int:pk>/reject")
    def reject(pk: int) -> Any:
        ctx = _ctx()
        _row(pk)
        reason = request.form.get("reason", "").strip()
        if not reason:
            flash("Say why the message is rejected.", "error")
        elif _act(lambda: actions.reject(ctx.repo, pk, actor=g.user.actor, now=ctx.clock(),
                                         reason=reason, drafts=ctx.service.drafts)):
            flash("Rejected.", "ok")
        return _back(pk)

    @app.post("/m/<int:pk>/release")
    def release(pk: int) -> Any:
        ctx = _ctx()
        _row(pk)
        reason = request.form.get("reason", "")
        not_hostile = request.form.get("not_hostile") == "yes"
        if _act(lambda: actions.release_early(ctx.repo, pk, actor=g.user.actor,
                                              now=ctx.clock(), reason=reason,
                                              drafts=ctx.service.drafts,
                                              not_hostile=not_hostile)):
            flash("Hold released: the draft is ready."
                  + (" Kept as a label: not hostile." if not_hostile else ""), "ok")
        return _back(pk)

    @app.post("/m/<int:pk>/answer")
    def answer(pk: int) -> Any:
        ctx = _ctx()
        _row(pk)
        made: list[str] = []
        if _act(lambda: made.append(actions.answer_anyway(
                ctx.repo, ctx.service.services, pk, actor=g.user.actor, now=ctx.clock(),
                drafts=ctx.service.drafts))):
            flash(f"Decided again without the throttle: now {made[0]}.", "ok")
        return _back(pk)

    @app.post("/m/<int:pk>/label")
    def label(pk: int) -> Any:
        ctx = _ctx()
        _row(pk)
        choice = request.form.get("abusive", "")
        if choice not in ("yes", "no"):
            flash("Choose abusive or not abusive.", "error")
        elif _act(lambda: actions.mark_abusive(ctx.repo, pk, abusive=choice == "yes",
                                               actor=g.user.actor, now=ctx.clock())):
            flash("Kept as a label: " + ("abusive." if choice == "yes" else "not abusive."),
                  "ok")
        return _back(pk)

    @app.post("/m/<int:pk>/redraft")
    def redraft(pk: int) -> Any:
        ctx = _ctx()
        _row(pk)
        intent = request.form.get("intent") or None
        language = request.form.get("language") or None
        made: list[str] = []
        if _act(lambda: made.append(actions.redraft(
                ctx.repo, ctx.service.services, pk, actor=g.user.actor, now=ctx.clock(),
                intent=intent, language=language, drafts=ctx.service.drafts))):
            flash(f"Re-drafted from template {made[0]}.", "ok")
        return _back(pk)

    @app.post("/m/<int:pk>/resend")
    def resend(pk: int) -> Any:
        ctx = _ctx()
        _row(pk)
        outcome: list[str] = []
        if _act(lambda: outcome.append(actions.resend(ctx.repo, ctx.cfg, pk,
                                                      actor=g.user.actor,
                                                      clock=ctx.clock))):
            flash(f"Resend: {outcome[0]}.", "ok" if outcome[0] == "sent" else "warning")
        return _back(pk)

    @app.post("/m/<int:pk>/mark-sent")
    def mark_sent(pk: int) -> Any:
        ctx = _ctx()
        _row(pk)
        note = request.form.get("note", "")
        if _act(lambda: actions.mark_sent(ctx.repo, pk, actor=g.user.actor, now=ctx.clock(),
                                          note=note)):
            flash("Marked as sent.", "ok")
        return _back(pk)

    @app.route("/users", methods=["GET", "POST"])
    @owner_only
    def users() -> Any:
        ctx = _ctx()
        if request.method == "POST":
            name = request.form.get("name", "").strip()
            try:
                created = accounts.add_user(ctx.repo, name, request.form.get("role", ""),
                                            request.form.get("password", ""), now=ctx.clock())
            except accounts.AccountError as exc:
                flash(str(exc), "error")
            else:
                log.info("%s %s user %s", g.user.name, "added" if created else "reset", name)
                flash(f"User {name} {'added' if created else 'updated'}.", "ok")
            return redirect(url_for("users"))
        return render_template("users.html", users=accounts.list_users(ctx.repo),
                               roles=accounts.ROLES)

    @app.get("/customers")
    @owner_only
    def customers() -> Any:
        """The owner's view of customers' histories (store/customers.py): it informs,
        nothing is decided for anyone listed."""
        from responder.core.threats import KIND_TITLES
        from responder.store import customers as customers_mod
        ctx = _ctx()
        show_all = request.args.get("all") == "1"
        rules = customers_mod.DifficultyRules.from_config(ctx.cfg)
        found = (customers_mod.histories(ctx.repo, rules=rules) if show_all
                 else customers_mod.difficult_customers(ctx.repo, rules=rules))
        return render_template("customers.html", customers=found, show_all=show_all,
                               kind_titles=KIND_TITLES, rules=rules)


def _row(pk: int) -> Any:
    try:
        return _ctx().repo.get(pk)
    except KeyError:
        abort(404)


def _act(action: Callable[[], Any]) -> bool:
    """Run one application action; show its refusal to the rep instead of failing."""
    try:
        action()
    except actions.ToneWarning as exc:
        flash(str(exc).replace("approve with --override-tone", "tick \"send anyway\""),
              "tone")
        return False
    except (actions.ApprovalError, StageConflict) as exc:
        flash(str(exc), "error")
        return False
    return True


def _back(pk: int) -> Response:
    return redirect(url_for("message", pk=pk) + "#actions")

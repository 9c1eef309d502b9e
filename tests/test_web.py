"""The reps' web page through Flask's test client, on a real SQLite database with the
real migrations and the real offline models: login, roles, CSRF, throttling, every
action recorded under the rep's name, and the customer's HTML made inert."""
from __future__ import annotations

import os
import re
import stat
from datetime import timedelta

import pytest
from click.testing import CliRunner
from conftest import Clock, sample
from servers import SmtpSink

from responder import config as config_mod
from responder.app import accounts
from responder.app.service import Service, process_stored
from responder.cli.main import main
from responder.store import open_repository
from responder.web import WebContext, create_app
from responder.web.security import load_secret_key, sanitise_html

PASSWORD = "correct horse battery"


@pytest.fixture(scope="module")
def sink():
    with SmtpSink() as s:
        yield s


@pytest.fixture
def site(tmp_path, sink, services):
    clock = Clock()
    cfg = config_mod.from_dict({
        "responder": {"database_url": f"sqlite:///{tmp_path / 'web.db'}"},
        "smtp": {"host": "127.0.0.1", "port": sink.port, "security": "none"},
        "web": {"login_max_failures": 3}}, "<test>")
    repo = open_repository(cfg.database_url)
    service = Service(cfg, repo, services=services, clock=clock)
    now = clock()
    pks = {}
    for name in ("01-refund-en.eml", "02-hostile-en.eml"):
        pk, _ = repo.store_raw(sample(name), source="smtp", received_at=now,
                               deadline_at=now + timedelta(hours=24))
        pks[name[:2]] = pk
    process_stored(repo, services, list(pks.values()), now)
    accounts.add_user(repo, "olga", "owner", PASSWORD, now=now)
    accounts.add_user(repo, "ralf", "rep", PASSWORD, now=now)
    app = create_app(WebContext(cfg, repo, service, clock=clock, secret_key="k" * 40),
                     testing=True)
    sink.messages.clear()
    return app, repo, pks, clock


def token(client, path="/login") -> str:
    page = client.get(path)
    m = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert m, page.text
    return m.group(1)


def login(client, name="ralf", password=PASSWORD):
    return client.post("/login", data={"csrf_token": token(client), "name": name,
                                       "password": password})


def post(client, path, page, **data):
    return client.post(path, data={"csrf_token": token(client, page), **data},
                       follow_redirects=True)


ROUTES_GET = ["/", "/?stage=held", "/m/1", "/users", "/customers"]
ROUTES_POST = ["/logout", "/m/1/edit", "/m/1/approve", "/m/1/reject", "/m/1/release",
               "/m/1/redraft", "/m/1/resend", "/m/1/mark-sent", "/m/1/label", "/m/1/answer",
               "/users"]


def test_every_route_without_a_session_goes_to_login(site):
    app, repo, pks, _ = site
    rules = {r.rule for r in app.url_map.iter_rules()} - {"/login", "/static/<path:filename>"}
    covered = {re.sub(r"\d+", "<int:pk>", p.split("?")[0]) for p in ROUTES_GET + ROUTES_POST}
    assert rules <= covered, f"routes not tested: {rules - covered}"
    client = app.test_client()
    for path in ROUTES_GET:
        r = client.get(path)
        assert r.status_code == 302 and r.headers["Location"].startswith("/login?next="), path
    for path in ROUTES_POST:
        r = client.post(path, data={"csrf_token": token(client)})
        assert r.status_code == 302 and "/login" in r.headers["Location"], path
    assert repo.get(pks["01"]).stage == "drafted"


def test_login_logout_and_security_headers(site):
    app, *_ = site
    client = app.test_client()
    r = login(client, password="wrong password!")
    assert r.status_code == 401 and "wrong name or password" in r.text
    r = login(client)
    assert r.status_code == 302 and r.headers["Location"] == "/"
    cookie = r.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" not in cookie
    page = client.get("/")
    assert page.status_code == 200 and "WHERE IS MY PARCEL" in page.text
    csp = page.headers["Content-Security-Policy"]
    assert "default-src 'self'" in csp and "script-src 'self'" in csp
    assert "img-src 'self' data:" in csp
    assert page.headers["X-Frame-Options"] == "DENY"
    r = post(client, "/logout", "/")
    assert "Log in" in r.text and client.get("/").status_code == 302


def test_after_login_only_local_next_paths_are_followed(site):
    app, *_ = site
    client = app.test_client()
    r = client.post("/login", data={"csrf_token": token(client), "name": "ralf",
                                    "password": PASSWORD, "next": "//evil.test/x"})
    assert r.headers["Location"] == "/"
    client = app.test_client()
    r = client.post("/login", data={"csrf_token": token(client), "name": "ralf",
                                    "password": PASSWORD, "next": "/m/2"})
    assert r.headers["Location"] == "/m/2"


def test_secure_cookie_behind_a_tls_proxy(tmp_path, services):
    cfg = config_mod.from_dict({"responder": {"database_url": f"sqlite:///{tmp_path / 'p.db'}"},
                                "web": {"behind_proxy": True}}, "<test>")
    repo = open_repository(cfg.database_url)
    accounts.add_user(repo, "ralf", "rep", PASSWORD, now=Clock()())
    app = create_app(WebContext(cfg, repo, Service(cfg, repo, services=services),
                                secret_key="k" * 40), testing=True)
    client = app.test_client()
    headers = {"X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.9"}
    page = client.get("/login", headers=headers, base_url="https://desk.example")
    tok = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    r = client.post("/login", headers={**headers, "Referer": "https://desk.example/login"},
                    data={"csrf_token": tok, "name": "ralf", "password": PASSWORD},
                    base_url="https://desk.example")
    assert r.status_code == 302 and "Secure" in r.headers["Set-Cookie"]


def test_a_form_without_its_csrf_token_is_refused(site):
    app, repo, pks, _ = site
    client = app.test_client()
    r = client.post("/login", data={"name": "ralf", "password": PASSWORD})
    assert r.status_code == 400 and "security token" in r.text
    login(client)
    r = client.post(f"/m/{pks['01']}/reject", data={"reason": "spam"})
    assert r.status_code == 400
    r = client.post(f"/m/{pks['01']}/reject", data={"reason": "spam", "csrf_token": "forged"})
    assert r.status_code == 400
    assert repo.get(pks["01"]).stage == "drafted"


def test_a_rep_cannot_open_owner_pages_an_owner_can(site):
    app, repo, *_ = site
    rep = app.test_client()
    login(rep)
    assert rep.get("/users").status_code == 403
    r = rep.post("/users", data={"csrf_token": token(rep, "/"), "name": "mallory",
                                 "role": "owner", "password": "x" * 12})
    assert r.status_code == 403 and accounts.find_user(repo, "mallory") is None
    assert "Users</a>" not in rep.get("/").text
    owner = app.test_client()
    login(owner, "olga")
    assert owner.get("/users").status_code == 200
    r = post(owner, "/users", "/users", name="nina", role="rep", password="n" * 12)
    assert "User nina added" in r.text and accounts.find_user(repo, "nina").role == "rep"


def test_login_throttled_per_name_and_address(site):
    app, repo, _, clock = site
    client = app.test_client()
    for _ in range(3):
        assert login(client, password="guess guess").status_code == 401
    r = login(client)          # the right password, but locked out for now
    assert r.status_code == 429 and "too many failed logins" in r.text
    other = app.test_client()   # another name from the same address is not locked
    assert login(other, "olga").status_code == 302
    clock.advance(minutes=16)
    assert login(client).status_code == 302


def test_release_edit_tone_warning_approve_send_all_under_the_reps_name(site, sink):
    app, repo, pks, _ = site
    client = app.test_client()
    login(client)
    held = pks["02"]
    page = client.get(f"/m/{held}")
    assert 'class="evidence"' in page.text and "held until" in page.text
    r = post(client, f"/m/{held}/approve", f"/m/{held}")
    assert "cooling off" in r.text and repo.get(held).stage == "held"
    r = post(client, f"/m/{held}/release", f"/m/{held}", reason="")
    assert "say why" in r.text and repo.get(held).stage == "held"
    r = post(client, f"/m/{held}/release", f"/m/{held}", reason="customer called, calm now")
    assert "Hold released" in r.text and repo.get(held).stage == "drafted"
    rude = "You idiot, read the damn page, you stupid moron.\n"
    r = post(client, f"/m/{held}/edit", f"/m/{held}", body=rude)
    assert "Tone warning" in r.text and 'id="tone-warning"' in r.text
    r = post(client, f"/m/{held}/approve", f"/m/{held}")
    assert "reads as hostile" in r.text and repo.get(held).stage == "drafted"
    polite = "Hello Mark,\n\nSorry for the wait: order 55821 ships today.\n\nThe team\n"
    r = post(client, f"/m/{held}/edit", f"/m/{held}", body=polite)
    assert "Tone warning" not in r.text
    r = post(client, f"/m/{held}/approve", f"/m/{held}")
    assert "Approved and sent" in r.text, r.text
    assert repo.get(held).stage == "sent"
    [got] = sink.wait_for(1)
    assert b"order 55821 ships today" in got.data
    mine = [(e.action, e.reason) for e in repo.events(held) if e.actor == "rep:ralf"]
    assert [a for a, _ in mine][:4] == ["released-early", "edited", "edited", "approved"]
    assert "customer called, calm now" in mine[0][1]


def test_reject_and_redraft(site):
    app, repo, pks, _ = site
    client = app.test_client()
    login(client)
    pk = pks["01"]
    r = post(client, f"/m/{pk}/redraft", f"/m/{pk}", intent="where_is_my_order", language="de")
    assert "Re-drafted from template de/where_is_my_order" in r.text
    row = repo.get(pk)
    assert row.draft.template.startswith("de/where_is_my_order") and row.draft.language == "de"
    assert row.intent == "refund_request"       # the classifier's verdict is kept
    r = post(client, f"/m/{pk}/reject", f"/m/{pk}", reason="")
    assert "Say why" in r.text and repo.get(pk).stage == "drafted"
    post(client, f"/m/{pk}/reject", f"/m/{pk}", reason="duplicate of #9")
    assert repo.get(pk).stage == "rejected"
    trail = [(e.actor, e.action, e.reason) for e in repo.events(pk)][-2:]
    assert trail[0][:2] == ("rep:ralf", "redrafted")
    assert trail[1] == ("rep:ralf", "rejected", "duplicate of #9")


def test_answer_anyway_drafts_a_follow_up_the_throttle_skipped(site, sink, services):
    from dataclasses import replace

    app, repo, pks, clock = site
    client = app.test_client()
    login(client)
    first = pks["01"]
    post(client, f"/m/{first}/approve", f"/m/{first}")
    assert repo.get(first).stage == "sent" and len(sink.messages) == 1
    reply_id = repo.get(first).draft.reply_message_id
    raw = (b"From: Jane Miller <jane.miller@customer.test>\r\nTo: support@example-shop.test"
           b"\r\nSubject: Re: Refund for order #10234\r\nMessage-ID: <jane-2@customer.test>"
           b"\r\nIn-Reply-To: " + reply_id.encode() + b"\r\nDate: Mon, 23 Nov 2026 09:30:00"
           b" +0000\r\n\r\nThank you, but which address do I send the book back to?\r\n")
    pk, _ = repo.store_raw(raw, source="smtp", received_at=clock(),
                           deadline_at=clock() + timedelta(hours=24))
    throttled = replace(services, replied_recently=lambda addr: repo.replied_recently(
        addr, clock() - timedelta(hours=24)))
    process_stored(repo, throttled, [pk], clock())
    assert (repo.get(pk).stage, repo.get(pk).skip_rule) == ("skipped", "throttle")
    assert 'id="answer-anyway"' in client.get(f"/m/{pk}").text
    assert 'id="answer-anyway"' not in client.get(f"/m/{pks['02']}").text   # held: no
    r = post(client, f"/m/{pk}/answer", f"/m/{pk}")
    assert "Decided again without the throttle: now drafted" in r.text
    assert repo.get(pk).stage == "drafted" and repo.get(pk).conversation_id == first
    assert ("rep:ralf", "answer-anyway") in [(e.actor, e.action) for e in repo.events(pk)]


def test_queue_filters_counts_and_badges(site):
    app, repo, pks, clock = site
    client = app.test_client()
    login(client)
    page = client.get("/").text
    ids = [int(x) for x in re.findall(r'class="item stage-\w+" data-id="(\d+)"', page)]
    assert sorted(ids) == sorted(pks.values())
    assert "badge-held" in page and "badge-hostile" in page and 'data-stage="held"' in page
    held_only = client.get("/?stage=held").text
    assert re.findall(r'data-id="(\d+)"', held_only) == [str(pks["02"])]
    assert 'data-id' not in client.get("/?inbox=nowhere").text
    clock.advance(hours=23)
    assert "deadline in" in client.get("/").text and "badge-deadline-near" in client.get("/").text
    clock.advance(hours=2)
    assert "deadline missed" in client.get("/").text
    assert client.get("/?stage=bogus").status_code == 404


PAYLOAD = ('<p>Hi <b>there</b></p><script>window.pwned=1</script>'
           '<img src="http://127.0.0.1:9/pixel.png" onerror="window.pwned=2">'
           '<svg onload="window.pwned=3"><circle r="9"/></svg>'
           '<a href="javascript:window.pwned=4">click</a><div style="background:url(http://x/)">'
           'styled</div><iframe src="http://x/"></iframe>')


def test_the_sanitiser_keeps_text_and_drops_everything_active():
    out = str(sanitise_html(PAYLOAD))
    assert "<b>there</b>" in out and "styled" in out and "click" in out
    for bad in ("<script", "onerror", "onload", "<svg", "javascript:", "style=", "src=",
                "<iframe", "pwned"):
        assert bad not in out, (bad, out)
    assert 'alt="[image not loaded]"' in out


def test_secret_key_is_made_once_with_mode_0600_and_env_wins(tmp_path, monkeypatch):
    cfg = config_mod.from_dict({"responder": {"database_url": f"sqlite:///{tmp_path / 'x.db'}"}},
                               "<test>")
    monkeypatch.delenv("RESPONDER_WEB_SECRET_KEY", raising=False)
    key, where = load_secret_key(cfg)
    path = tmp_path / "web-secret.key"
    assert where == str(path) and len(key) >= 32
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert load_secret_key(cfg) == (key, where)
    monkeypatch.setenv("RESPONDER_WEB_SECRET_KEY", "e" * 40)
    assert load_secret_key(cfg) == ("e" * 40, "$RESPONDER_WEB_SECRET_KEY")


def test_user_add_from_stdin_hashes_with_argon2(tmp_path, monkeypatch):
    db = tmp_path / "u.db"
    monkeypatch.setenv("RESPONDER_DATABASE_URL", f"sqlite:///{db}")
    monkeypatch.delenv("RESPONDER_CONFIG", raising=False)
    monkeypatch.chdir(tmp_path)
    run = CliRunner().invoke
    r = run(main, ["user", "add", "anna", "--role", "owner"], input="short\n")
    assert r.exit_code != 0 and "at least 10" in r.output
    r = run(main, ["user", "add", "anna", "--role", "owner"], input=PASSWORD + "\n")
    assert r.exit_code == 0 and "user anna (owner) added" in r.output
    assert "anna" in run(main, ["user", "list"]).output
    repo = open_repository(f"sqlite:///{db}")
    from responder.store.accounts import AccountStore
    stored = AccountStore(repo).get("anna").password_hash
    assert stored.startswith("$argon2id$") and PASSWORD not in stored
    assert accounts.authenticate(repo, "anna", PASSWORD, "127.0.0.1", now=Clock()()) is not None
    r = run(main, ["user", "add", "bob", "--role", "admin"], input=PASSWORD + "\n")
    assert r.exit_code == 2


def test_run_serves_the_page_when_enabled_and_stops_on_sigterm(tmp_path):
    """``responder run`` with ``[web] enabled = true``: a real subprocess, the page on
    127.0.0.1, stopped cleanly by SIGTERM."""
    import signal
    import subprocess
    import sys
    import time
    import urllib.request

    from servers import free_ports
    web_port, ingress_port = free_ports(2)
    cfg_file = tmp_path / "config.toml"
    cfg_file.write_text(f'[responder]\ndatabase_url = "sqlite:///{tmp_path / "r.db"}"\n'
                        f'[ingress]\nenabled = true\nport = {ingress_port}\n'
                        f'[web]\nenabled = true\nport = {web_port}\n'
                        f'secret_key_file = "{tmp_path / "key"}"\n')
    env = {**os.environ, "RESPONDER_CONFIG": str(cfg_file)}
    env.pop("RESPONDER_WEB_SECRET_KEY", None)
    proc = subprocess.Popen([sys.executable, "-m", "responder", "run"], env=env,
                            stderr=subprocess.PIPE, text=True, cwd=tmp_path)
    try:
        lines = []
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline:
            line = proc.stderr.readline()
            if not line:
                break
            lines.append(line)
            if "web page: http://127.0.0.1:" in line:
                break
        assert any(f"web page: http://127.0.0.1:{web_port}/" in x for x in lines), lines
        with urllib.request.urlopen(f"http://127.0.0.1:{web_port}/login", timeout=30) as r:
            assert r.status == 200 and b"Log in" in r.read()
        assert stat.S_IMODE(os.stat(tmp_path / "key").st_mode) == 0o600
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=60)
        finally:
            proc.kill()
    assert proc.returncode == 0, "".join(lines) + proc.stderr.read()

"""The web page in a real browser: Debian's headless Chromium driven by Selenium
(/usr/bin/chromedriver), against the page served by waitress on 127.0.0.1, with the
real database, models and an aiosmtpd sink as the shop's SMTP server.

A rep logs in, sees the queue in deadline order, opens the held message, releases it,
edits the draft into a rude one and sees the tone warning, fixes it, approves it, and
the reply reaches the sink with correct threading. Security: a customer message full
of script, event-handler, SVG and remote-image payloads shows as inert text (no script
runs, no request leaves: the page's access log and a catch server are watched); routes
without a session go to login; a form without its CSRF token is refused; a rep cannot
open the owners' page. Screenshots of the queue and the message page at desktop
(1280 px) and phone (390 px) widths go to test-artifacts/screenshots/.

scripts/install-system-deps.sh installs chromium and chromium-driver; without them
these tests skip and say so (CI runs the set-up script first, so it never skips).
"""
from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy

import pytest
from browsers import SHOTS, Catcher, chromium, require_chromium
from conftest import Clock, sample
from servers import SmtpSink

from responder import config as config_mod
from responder.app import accounts
from responder.app.service import Service, process_stored
from responder.store import open_repository
from responder.web import WebContext, create_app, start_server

PASSWORD = "correct horse battery"
require_chromium()

from selenium.common.exceptions import NoAlertPresentException  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402


class AccessLog(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


def payload_mail(port: int) -> bytes:
    remote = f"http://127.0.0.1:{port}"
    html = (f'<html><head><link rel="stylesheet" href="{remote}/sheet.css">'
            f'<script src="{remote}/x.js"></script></head>'
            '<body onload="window.pwned=1">'
            '<p>Where is my <b>order 777</b>?</p>'
            '<script>window.pwned=2; alert("script")</script>'
            f'<img src="{remote}/pixel.png" onerror="window.pwned=3">'
            f'<svg onload="window.pwned=4"><image href="{remote}/svg.png"/>'
            '<script>window.pwned=5</script></svg>'
            f'<div style="background-image:url({remote}/bg.png)">styled</div>'
            f'<iframe src="{remote}/frame"></iframe>'
            f'<video poster="{remote}/poster.png"></video>'
            '<a href="javascript:window.pwned=6">click me</a>'
            '<form action="https://evil.test/"><input name="q"></form>'
            '</body></html>')
    text = ('Where is my order 777?\n'
            '<script>window.pwned=7</script><img src=x onerror="window.pwned=8">\n')
    boundary = "b-1234"
    return (f"From: Eve <eve@customer.test>\r\nTo: support@example-shop.test\r\n"
            f"Subject: <img src=x onerror=window.pwned=9> order 777\r\n"
            f"Message-ID: <eve-777@customer.test>\r\nDate: Mon, 23 Nov 2026 08:00:00 +0000\r\n"
            f"MIME-Version: 1.0\r\n"
            f'Content-Type: multipart/alternative; boundary="{boundary}"\r\n\r\n'
            f"--{boundary}\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{text}\r\n"
            f"--{boundary}\r\nContent-Type: text/html; charset=utf-8\r\n\r\n{html}\r\n"
            f"--{boundary}--\r\n").encode()


@pytest.fixture(scope="module")
def site(tmp_path_factory, services):
    tmp = tmp_path_factory.mktemp("web")
    sink = SmtpSink()
    sink.start()
    catcher = Catcher()
    clock = Clock(datetime.now(UTC).replace(microsecond=0))
    cfg = config_mod.from_dict({
        "responder": {"database_url": f"sqlite:///{tmp / 'web.db'}"},
        "smtp": {"host": "127.0.0.1", "port": sink.port, "security": "none"}}, "<test>")
    repo = open_repository(cfg.database_url)
    service = Service(cfg, repo, services=services, clock=clock)
    now = clock()
    pks = {}
    # deadlines deliberately not in arrival order: the queue must sort by them
    for name, raw, hours in (("refund", sample("01-refund-en.eml"), 20),
                             ("hostile", sample("02-hostile-en.eml"), 6),
                             ("payload", payload_mail(catcher.port), 12)):
        pks[name], _ = repo.store_raw(raw, source="smtp", received_at=now,
                                      deadline_at=now + timedelta(hours=hours))
    process_stored(repo, services, list(pks.values()), now)
    assert repo.get(pks["hostile"]).stage == "held"
    accounts.add_user(repo, "ralf", "rep", PASSWORD, now=now)
    accounts.add_user(repo, "olga", "owner", PASSWORD, now=now)
    access = AccessLog()
    access_logger = logging.getLogger("responder.web.access")
    old_level = access_logger.level
    access_logger.setLevel(logging.INFO)
    access_logger.addHandler(access)
    app = create_app(WebContext(cfg, repo, service, clock=clock, secret_key="s" * 48))
    server = start_server(app, "127.0.0.1", 0, threads=4)
    yield {"url": server.url.rstrip("/"), "repo": repo, "pks": pks, "sink": sink,
           "catcher": catcher, "access": access}
    server.close()
    access_logger.removeHandler(access)
    access_logger.setLevel(old_level)
    catcher.close()
    sink.close()


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    yield from chromium(tmp_path_factory.mktemp("chromium"))


def login(browser, url: str, name: str = "ralf") -> None:
    browser.delete_all_cookies()
    browser.get(url + "/login")
    browser.find_element(By.ID, "name").send_keys(name)
    browser.find_element(By.ID, "password").send_keys(PASSWORD)
    click(browser, By.ID, "login-button")
    assert browser.current_url.rstrip("/") == url, browser.current_url


def shoot(browser, name: str) -> None:
    """Screenshots at desktop and phone widths (the whole page height)."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    for label, width in (("desktop", 1280), ("phone", 390)):
        browser.set_window_size(width, 900)
        height = browser.execute_script("return document.documentElement.scrollHeight")
        browser.set_window_size(width, min(max(int(height), 700), 4000))
        browser.execute_script("window.scrollTo(0, 0)")
        browser.save_screenshot(str(SHOTS / f"{name}-{label}.png"))
    browser.set_window_size(1280, 900)


def click(browser, by: str, what: str) -> None:
    """Click something that loads a page, and wait until the new page has replaced the
    old one (so no check can read the page from before the click)."""
    from selenium.webdriver.support.wait import WebDriverWait
    browser.execute_script("window.__beforeClick = true")   # gone with the old page
    browser.find_element(by, what).click()
    WebDriverWait(browser, 30).until(lambda b: b.execute_script(
        "return window.__beforeClick === undefined && document.readyState === 'complete'"))


def text(browser, element_id: str) -> str:
    return browser.find_element(By.ID, element_id).text


def test_a_rep_works_the_queue_in_the_browser(site, browser):
    url, repo, pks, sink = site["url"], site["repo"], site["pks"], site["sink"]
    browser.get(url + f"/m/{pks['hostile']}")
    assert "/login?next=" in browser.current_url        # no session: the login page
    login(browser, url)

    items = browser.find_elements(By.CSS_SELECTOR, "#queue li.item")
    order = [int(li.get_attribute("data-id")) for li in items]
    assert order == [pks["hostile"], pks["payload"], pks["refund"]], order
    deadlines = [li.get_attribute("data-deadline") for li in items]
    assert deadlines == sorted(deadlines)
    held_badge = browser.find_element(By.CSS_SELECTOR, f'li[data-id="{pks["hostile"]}"] '
                                                       ".badge-held")
    assert "held until" in held_badge.text and "in 3 h" in held_badge.text
    shoot(browser, "queue")

    click(browser, By.CSS_SELECTOR, f'li[data-id="{pks["hostile"]}"] a.subject')
    assert text(browser, "stage") == "held"
    marks = browser.find_elements(By.CSS_SELECTOR, "#customer-text mark.evidence")
    assert any("useless idiots" in m.text for m in marks)
    assert "insult" in text(browser, "hostility")
    shoot(browser, "message")

    browser.find_element(By.ID, "release-reason").send_keys("customer phoned, calm now")
    click(browser, By.ID, "release")
    assert text(browser, "stage") == "drafted"
    assert "Hold released" in browser.page_source

    body = browser.find_element(By.ID, "body")
    body.clear()
    body.send_keys("You idiot, read the damn page, you stupid moron.")
    click(browser, By.ID, "save")
    assert "reads as hostile" in text(browser, "tone-warning")
    shoot(browser, "message-tone-warning")

    body = browser.find_element(By.ID, "body")
    body.clear()
    body.send_keys("Hello Mark,\n\nSorry for the wait. Order 55821 leaves our warehouse "
                   "today; you will get the tracking link by mail.\n\nThe Example Shop team")
    click(browser, By.ID, "save")
    assert not browser.find_elements(By.ID, "tone-warning")
    click(browser, By.ID, "approve")
    assert "Approved and sent" in browser.page_source
    assert text(browser, "stage") == "sent"

    [got] = sink.wait_for(1)
    reply = message_from_bytes(got.data, policy=policy.default)
    assert reply["In-Reply-To"] == "<mark-55821@customer.test>"
    assert "<mark-55821@customer.test>" in reply["References"]
    assert "Order 55821 leaves our warehouse today" in reply.get_content()
    assert got.rcpt_tos == ["mark.stone@customer.test"]
    audit = text(browser, "audit")
    for action in ("released-early", "edited", "approved", "sent"):
        assert action in audit
    mine = [e.action for e in repo.events(pks["hostile"]) if e.actor == "rep:ralf"]
    assert mine[:4] == ["released-early", "edited", "edited", "approved"], mine


def test_customer_payloads_are_inert_and_nothing_leaves(site, browser):
    url, pks, catcher, access = site["url"], site["pks"], site["catcher"], site["access"]
    login(browser, url)
    start = len(access.lines)
    browser.get(url + f"/m/{pks['payload']}")
    browser.find_element(By.CSS_SELECTOR, ".customer-html summary").click()  # render the HTML
    assert "order 777" in text(browser, "customer-html")
    assert "styled" in text(browser, "customer-html")
    shown = text(browser, "customer-text")
    assert "<script>window.pwned=7</script>" in shown       # the customer's words, as text
    assert "<img src=x" in text(browser, "subject")
    # give any (wrongly) loaded image, frame or handler the time a page needs to fire
    browser.execute_script("return new Promise(r => setTimeout(r, 500))")
    assert browser.execute_script("return typeof window.pwned") == "undefined"
    with pytest.raises(NoAlertPresentException):
        browser.switch_to.alert.text  # noqa: B018 - raises when no alert is open
    html = browser.find_element(By.ID, "customer-html").get_attribute("innerHTML")
    for bad in ("<script", "onerror", "onload", "<svg", "<iframe", "javascript:", "style=",
                "src=", "<form", "<video"):
        assert bad not in html, (bad, html)
    resources = browser.execute_script(
        "return performance.getEntriesByType('resource').map(e => e.name)")
    assert all(r.startswith(url + "/static/") for r in resources), resources
    shoot(browser, "message-payload")
    assert catcher.requests == [], catcher.requests
    paths = [line.split('"')[1] for line in access.lines[start:]]
    allowed = ("GET /m/", "GET /static/", "GET /login", "POST /login", "GET /")
    assert all(p.startswith(allowed) for p in paths), paths
    assert not any("pixel" in p or "sheet" in p for p in paths)


def test_routes_need_a_session_forms_need_their_token_owners_pages(site, browser):
    url, repo, pks = site["url"], site["repo"], site["pks"]
    browser.delete_all_cookies()
    for path in ("/", "/?stage=held", f"/m/{pks['refund']}", "/users"):
        browser.get(url + path)
        assert "/login?next=" in browser.current_url, path
        assert browser.find_elements(By.ID, "login-button")

    login(browser, url)                                      # ralf is a rep
    browser.get(url + "/users")
    assert text(browser, "error-text") == "This page is for the shop's owners only."
    assert not browser.find_elements(By.ID, "users")

    browser.get(url + f"/m/{pks['refund']}")
    browser.execute_script(
        "document.querySelectorAll('form input[name=csrf_token]').forEach(e => e.remove())")
    browser.find_element(By.ID, "reject-reason").send_keys("forged")
    click(browser, By.ID, "reject")
    assert "Form refused" in browser.page_source and "security token" in browser.page_source
    assert repo.get(pks["refund"]).stage == "drafted"

    login(browser, url, "olga")                              # an owner
    browser.get(url + "/users")
    names = text(browser, "users")
    assert "ralf" in names and "olga" in names

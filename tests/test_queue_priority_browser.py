"""The reputation-threat badge and queue order in a real browser: Debian's headless
Chromium driven by Selenium (the set-up of tests/test_web_browser.py, whose browser
fixture and login helper are reused), against the page served by waitress on
127.0.0.1, with the real database and models. Without chromium these tests skip and
say so (see tests/test_web_browser.py)."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from conftest import Clock, sample
from test_queue_priority import THREAT
from test_web_browser import PASSWORD, browser, click, login  # noqa: F401 - fixture

from responder import config as config_mod
from responder.app import accounts
from responder.app.service import Service, process_stored
from responder.store import open_repository
from responder.web import WebContext, create_app, start_server

from selenium.webdriver.common.by import By  # isort: skip  (after the skip above)


@pytest.fixture
def site(tmp_path, services):
    clock = Clock(datetime.now(UTC).replace(microsecond=0))
    cfg = config_mod.from_dict({
        "responder": {"database_url": f"sqlite:///{tmp_path / 'p.db'}"}}, "<test>")
    repo = open_repository(cfg.database_url)
    service = Service(cfg, repo, services=services, clock=clock)
    now = clock()
    pks = {}
    for name, raw, hours in (("calm", sample("05-download-fr.eml"), 6),
                             ("threat", THREAT, 20)):
        pks[name], _ = repo.store_raw(raw, source="smtp", received_at=now,
                                      deadline_at=now + timedelta(hours=hours))
    process_stored(repo, services, list(pks.values()), now)
    accounts.add_user(repo, "ralf", "rep", PASSWORD, now=now)
    app = create_app(WebContext(cfg, repo, service, clock=clock, secret_key="p" * 48))
    server = start_server(app, "127.0.0.1", 0, threads=2)
    yield server.url.rstrip("/"), pks
    server.close()


def test_the_threat_is_first_with_a_visible_badge(site, browser):  # noqa: F811
    url, pks = site
    login(browser, url)
    items = browser.find_elements(By.CSS_SELECTOR, "#queue li.item")
    assert [int(li.get_attribute("data-id")) for li in items] == [pks["threat"], pks["calm"]]
    badge = browser.find_element(By.CSS_SELECTOR,
                                 f'li[data-id="{pks["threat"]}"] .badge-reputation')
    assert badge.is_displayed() and badge.text == "reputation threat: bad review"
    assert "one-star review on Trustpilot" in badge.get_attribute("title")
    assert not browser.find_elements(By.CSS_SELECTOR,
                                     f'li[data-id="{pks["calm"]}"] .badge-reputation')
    click(browser, By.CSS_SELECTOR, f'li[data-id="{pks["threat"]}"] a.subject')
    assert browser.find_element(By.CSS_SELECTOR, "#badges .badge-reputation").is_displayed()
    fact = browser.find_element(By.ID, "reputation")
    assert fact.is_displayed() and "never held or delayed" in fact.text
    assert browser.find_element(By.ID, "stage").text == "drafted"

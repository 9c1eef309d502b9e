"""The replay report in a real browser: Debian's headless Chromium driven by Selenium
(/usr/bin/chromedriver, installed by scripts/install-system-deps.sh) opens the report
file from disk. It renders; its plots show (SVG charts and bars with a size on the
page); its number links lead to the lists of messages and on to each message; and the
customers' script, event-handler and remote-image payloads are inert: no script runs,
no alert opens, no request leaves (a catch server on loopback is watched). The page's
Content-Security-Policy is also checked on its own: a copy with a script and a remote
image slipped in (as if escaping had failed) runs and loads nothing either.
"""
from __future__ import annotations

from datetime import UTC, datetime
from io import StringIO

import pytest
from browsers import SHOTS, Catcher, chromium, require_chromium
from conftest import SAMPLES

from responder import config as config_mod
from responder.app import replay
from responder.app.report import Report

require_chromium()

from selenium.common.exceptions import NoAlertPresentException  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402


def payload_mail(port: int) -> bytes:
    remote = f"http://127.0.0.1:{port}"
    html = (f'<html><head><link rel="stylesheet" href="{remote}/sheet.css">'
            f'<script src="{remote}/x.js"></script></head><body onload="window.pwned=1">'
            '<p>I will leave a bad review on Trustpilot and tell my bank.</p>'
            '<script>window.pwned=2; alert("script")</script>'
            f'<img src="{remote}/pixel.png" onerror="window.pwned=3">'
            f'<svg onload="window.pwned=4"><image href="{remote}/svg.png"/></svg>'
            '</body></html>')
    text = ("I will leave a bad review on Trustpilot, you useless idiots!\n"
            f'<script>window.pwned=5; alert(1)</script><img src="{remote}/text.png" '
            'onerror="window.pwned=6">\n')
    boundary = "b-42"
    return (f"From: Eve <eve@customer.test>\r\nTo: support@example-shop.test\r\n"
            f'Subject: <img src="{remote}/subject.png" onerror=window.pwned=7> order 777\r\n'
            "Message-ID: <eve-777@customer.test>\r\nDate: Mon, 23 Nov 2026 08:00:00 +0000\r\n"
            f'MIME-Version: 1.0\r\nContent-Type: multipart/alternative; boundary="{boundary}"'
            f"\r\n\r\n--{boundary}\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{text}\r\n"
            f"--{boundary}\r\nContent-Type: text/html; charset=utf-8\r\n\r\n{html}\r\n"
            f"--{boundary}--\r\n").encode()


@pytest.fixture(scope="module")
def report_file(tmp_path_factory, services):
    tmp = tmp_path_factory.mktemp("report-browser")
    catcher = Catcher()
    folder = tmp / "mail"
    folder.mkdir()
    for eml in sorted(SAMPLES.glob("*.eml")):
        (folder / eml.name).write_bytes(eml.read_bytes())
    (folder / "payload.eml").write_bytes(payload_mail(catcher.port))
    now = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
    report = Report(config_mod.from_dict({}, "<test>"), now, sources=[str(folder)])
    replay.run([str(folder)], services, now, StringIO(), as_json=True, progress=False,
               err=StringIO(), on_record=report.add)
    path = report.write(tmp / "report.html")
    yield {"path": path, "catcher": catcher, "remote": f"http://127.0.0.1:{catcher.port}"}
    catcher.close()


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    yield from chromium(tmp_path_factory.mktemp("chromium"))


def settle(browser) -> None:
    """Give any (wrongly) loaded image or handler the time a page needs to fire."""
    browser.execute_script("return new Promise(r => setTimeout(r, 500))")


def assert_inert(browser, catcher, tried: set[str] | None = None) -> None:
    """No script ran, no alert is open, nothing was fetched. ``tried``: elements that
    asked for these URLs are on the page (the policy test); Chrome lists such a request
    among the page's resources even when the policy blocked it, with status 0 and no
    bytes, and the catch server shows whether anything really left."""
    assert browser.execute_script("return typeof window.pwned") == "undefined"
    with pytest.raises(NoAlertPresentException):
        browser.switch_to.alert.text  # noqa: B018 - raises when no alert is open
    resources = browser.execute_script(
        "return performance.getEntriesByType('resource')"
        ".map(e => [e.name, e.responseStatus, e.transferSize])")
    assert {name for name, _status, _size in resources} == (tried or set()), resources
    assert all(status == 0 and size == 0 for _name, status, size in resources), resources
    assert catcher.requests == [], catcher.requests


def test_the_report_renders_its_plots_show_and_its_numbers_lead_to_messages(report_file,
                                                                             browser):
    browser.get(report_file["path"].as_uri())
    assert browser.title.startswith("responder replay report")
    charts = browser.find_elements(By.CSS_SELECTOR, "svg.chart")
    assert len(charts) == 5
    for chart in charts:
        box = browser.execute_script("const r = arguments[0].getBoundingClientRect();"
                                     "return [r.width, r.height]", chart)
        assert box[0] > 100 and box[1] > 20, box
    bars = browser.find_elements(By.CSS_SELECTOR, "svg.chart rect.value")
    sizes = [browser.execute_script("const r = arguments[0].getBoundingClientRect();"
                                    "return [r.width, r.height]", b) for b in bars]
    assert len(sizes) >= 5 and all(w > 1 and h > 10 for w, h in sizes), sizes
    held = browser.find_element(By.CSS_SELECTOR, 'svg.chart a[href="#g-hold-4-6-h"] text.num')
    assert held.text == "2"          # the hostile sample and the payload mail
    SHOTS.mkdir(parents=True, exist_ok=True)
    browser.save_screenshot(str(SHOTS / "replay-report.png"))

    # a number in a plot leads to the list of its messages, and on to the message
    browser.execute_script("arguments[0].dispatchEvent(new MouseEvent('click', "
                           "{bubbles: true}))", held)
    assert browser.execute_script("return location.hash") == "#g-hold-4-6-h"
    group = browser.find_element(By.ID, "g-hold-4-6-h")
    link = group.find_element(By.CSS_SELECTOR, "li a")
    target = link.get_attribute("hash")
    link.click()
    assert browser.execute_script("return location.hash") == target
    message = browser.find_element(By.ID, target[1:])
    assert "WHERE IS MY PARCEL" in message.text and "held" in message.text
    # a summary figure as well
    browser.find_element(By.CSS_SELECTOR, '#figures a[href="#g-summary-threats"]').click()
    assert "eve@customer.test" in browser.find_element(By.ID, "g-summary-threats").text


def test_customer_payloads_in_the_report_are_inert_and_nothing_leaves(report_file, browser):
    browser.get(report_file["path"].as_uri())
    settle(browser)
    payload = next(a for a in browser.find_elements(By.CSS_SELECTOR, "article.message")
                   if "eve@customer.test" in a.text)
    for details in payload.find_elements(By.TAG_NAME, "summary"):
        details.click()                                    # open the customer's words
    shown = payload.text
    assert "<script>window.pwned=5; alert(1)</script>" in shown   # as text, not a script
    assert 'onerror="window.pwned=6"' in shown
    assert "<img src=" in payload.find_element(By.TAG_NAME, "h3").text
    assert payload.find_elements(By.CSS_SELECTOR, "img, script, svg, iframe") == []
    assert "bad review" in shown
    settle(browser)
    assert_inert(browser, report_file["catcher"])


def test_the_pages_own_policy_blocks_scripts_and_remote_loads(report_file, browser, tmp_path):
    remote = report_file["remote"]
    html = report_file["path"].read_text(encoding="utf-8").replace(
        "<main>", f'<main><script>window.pwned="csp"; alert("csp")</script>'
                  f'<img id="remote" src="{remote}/csp.png" onerror="window.pwned=8">'
                  f'<link rel="stylesheet" href="{remote}/csp.css">', 1)
    broken = tmp_path / "escaping-failed.html"
    broken.write_text(html, encoding="utf-8")
    browser.get(broken.as_uri())
    settle(browser)
    assert browser.find_elements(By.ID, "remote")            # the element is there ...
    assert_inert(browser, report_file["catcher"], tried={f"{remote}/csp.png",
                                                         f"{remote}/csp.css"})

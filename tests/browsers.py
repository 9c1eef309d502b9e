"""What the real-browser tests share: Debian's headless Chromium driven by Selenium
(/usr/bin/chromedriver; scripts/install-system-deps.sh installs both), a driver
factory, and a catch server on loopback that records every request (nothing may reach
it). A test module calls :func:`require_chromium` at import: without the browser its
tests skip and say why (CI runs the set-up script first, so there they never skip)."""
from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHOTS = ROOT / "test-artifacts" / "screenshots"
CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")


def require_chromium() -> None:
    """Skip the calling test module, saying why, when Selenium or Chromium is missing."""
    pytest.importorskip("selenium.webdriver",
                        reason="selenium is not installed: pip install -e '.[test]'")
    if not (CHROMIUM.exists() and CHROMEDRIVER.exists()):
        pytest.skip(f"{CHROMIUM} or {CHROMEDRIVER} missing: run scripts/install-system-deps.sh"
                    " (apt-get install chromium chromium-driver)", allow_module_level=True)


def chromium(profile_dir: Path) -> Iterator[Any]:
    """A headless Chromium (1280x900, no background traffic) for a fixture to yield."""
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service as DriverService
    opts = Options()
    opts.binary_location = str(CHROMIUM)
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--disable-dev-shm-usage", "--window-size=1280,900",
                 f"--user-data-dir={profile_dir}"):
        opts.add_argument(flag)
    driver = webdriver.Chrome(service=DriverService(executable_path=str(CHROMEDRIVER)),
                              options=opts)
    driver.set_page_load_timeout(60)
    try:
        yield driver
    finally:
        driver.quit()


class Catcher:
    """A web server on loopback that records every request: nothing may reach it."""

    def __init__(self) -> None:
        self.requests: list[str] = []
        catcher = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's name
                catcher.requests.append(self.path)
                self.send_response(200)
                self.send_header("Content-Type", "image/png")
                self.end_headers()

            do_POST = do_GET  # noqa: N815

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

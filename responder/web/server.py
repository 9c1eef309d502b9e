"""Serving the page with waitress (a production WSGI server, pure Python)."""
from __future__ import annotations

import logging
import threading
from typing import Any

from flask import Flask
from waitress.server import create_server

log = logging.getLogger(__name__)


class WebServer:
    """A waitress server on its own thread; ``close()`` stops it."""

    def __init__(self, app: Flask, host: str, port: int, threads: int = 4):
        self._server: Any = create_server(app, host=host, port=port, threads=threads,
                                          ident="responder", clear_untrusted_proxy_headers=False)
        self.host = host
        self.port: int = int(self._server.effective_port)
        self._thread = threading.Thread(target=self._server.run, name="responder-web",
                                        daemon=True)

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/"

    def start(self) -> WebServer:
        self._thread.start()
        log.info("web page on %s", self.url)
        return self

    def serve_forever(self) -> None:
        """Serve on the calling thread until interrupted (Ctrl-C / SIGTERM)."""
        log.info("web page on %s", self.url)
        try:
            self._server.run()
        finally:
            self._server.close()

    def close(self) -> None:
        self._server.close()
        if self._thread.is_alive():
            self._thread.join(timeout=10)


def start_server(app: Flask, host: str, port: int, threads: int = 4) -> WebServer:
    return WebServer(app, host, port, threads).start()

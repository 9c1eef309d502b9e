"""OAuth2 access tokens for XOAUTH2 login, from a command or a file.

responder does not run an OAuth2 flow itself: the seller's own tool (for
example ``oauth2l``, ``gcloud auth print-access-token``, a small script around
``msal``, or a refresher that keeps a file up to date) hands over an access
token. Two sources:

- ``oauth2_token_command``: run (through the shell) when a token is needed;
  standard output is the token, or JSON ``{"access_token": ..., "expires_in": N}``
  (``expires_at``, seconds since the epoch, also works).
- ``oauth2_token_file``: read whenever a token is needed; same two formats.

A token from the command is cached until it expires (JSON) or for
``PLAIN_TOKEN_SECONDS`` (a bare token); the file is read again for every login.
When the server refuses a token, ``invalidate()`` drops the cached one and the
next ``get()`` asks again: an expired token is refreshed on the spot. Tokens
are never logged.
"""
from __future__ import annotations

import json
import logging
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from responder.config import InboxSection, SmtpSection

log = logging.getLogger(__name__)

PLAIN_TOKEN_SECONDS = 30 * 60     # a bare token is trusted this long (OAuth2 tokens: ~1 h)
EXPIRY_MARGIN_SECONDS = 60        # refresh this long before the stated expiry
COMMAND_TIMEOUT_SECONDS = 60


class TokenError(Exception):
    """No token could be obtained: the operator must fix the command or file."""


@dataclass
class _Cached:
    token: str
    expires_at: float


def parse_token(text: str, now: float) -> tuple[str, float]:
    """(token, expires_at) from a command's output or a file's content."""
    text = text.strip()
    if not text:
        raise TokenError("empty output: no token")
    if text.startswith("{"):
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise TokenError(f"output looks like JSON but is not valid: {exc}") from None
        token = data.get("access_token") or data.get("token")
        if not token:
            raise TokenError("JSON output has no access_token")
        if data.get("expires_at"):
            expires = float(data["expires_at"])
        elif data.get("expires_in"):
            expires = now + float(data["expires_in"])
        else:
            expires = now + PLAIN_TOKEN_SECONDS
        return str(token).strip(), expires
    token = text.splitlines()[0].strip()
    return token, now + PLAIN_TOKEN_SECONDS


class TokenSource:
    """Where one inbox's access tokens come from; thread-safe, cached."""

    def __init__(self, command: str = "", file: str = "", *, what: str = "oauth2",
                 clock: Callable[[], float] = time.time,
                 run: Callable[..., subprocess.CompletedProcess[str]] = subprocess.run) -> None:
        if not command and not file:
            raise TokenError(f"{what}: auth = \"xoauth2\" needs oauth2_token_command or "
                             "oauth2_token_file")
        self.command = command
        self.file = file
        self.what = what
        self._clock = clock
        self._run = run
        self._cached: _Cached | None = None
        self._lock = threading.Lock()
        self.fetches = 0          # how many times the command ran / the file was read

    def get(self) -> str:
        with self._lock:
            now = self._clock()
            if self._cached and now < self._cached.expires_at - EXPIRY_MARGIN_SECONDS:
                return self._cached.token
            token, expires = self._fetch(now)
            self._cached = _Cached(token, expires)
            return token

    def invalidate(self) -> None:
        with self._lock:
            self._cached = None

    def _fetch(self, now: float) -> tuple[str, float]:
        self.fetches += 1
        if self.command:
            try:
                done = self._run(self.command, shell=True, capture_output=True, text=True,
                                 timeout=COMMAND_TIMEOUT_SECONDS)
            except subprocess.TimeoutExpired:
                raise TokenError(f"{self.what}: oauth2_token_command did not finish within "
                                 f"{COMMAND_TIMEOUT_SECONDS} s") from None
            except OSError as exc:
                raise TokenError(f"{self.what}: cannot run oauth2_token_command: {exc}") from None
            if done.returncode != 0:
                err = (done.stderr or "").strip().splitlines()[-1:] or ["(no error output)"]
                raise TokenError(f"{self.what}: oauth2_token_command failed with exit code "
                                 f"{done.returncode}: {err[0][:300]}")
            try:
                return parse_token(done.stdout, now)
            except TokenError as exc:
                raise TokenError(f"{self.what}: oauth2_token_command: {exc}") from None
        path = Path(self.file).expanduser()
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise TokenError(f"{self.what}: cannot read oauth2_token_file {path}: "
                             f"{exc.strerror}") from None
        try:
            token, expires = parse_token(text, now)
        except TokenError as exc:
            raise TokenError(f"{self.what}: oauth2_token_file {path}: {exc}") from None
        # A file is cheap to read and a refresher may rewrite it at any time: read
        # it again for every login rather than caching what it said.
        del expires
        return token, now


_sources: dict[tuple[str, str, str], TokenSource] = {}
_sources_lock = threading.Lock()


def source_for(box: InboxSection | SmtpSection) -> TokenSource:
    """The shared TokenSource of an inbox section (one cache per command/file)."""
    key = (box.name, box.oauth2_token_command, box.oauth2_token_file)
    with _sources_lock:
        src = _sources.get(key)
        if src is None:
            src = TokenSource(box.oauth2_token_command, box.oauth2_token_file,
                              what=f"inbox {box.name!r}")
            _sources[key] = src
        return src

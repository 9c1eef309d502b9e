"""What keeps the page safe: the customer's HTML made inert, the response headers,
and the key that signs session cookies and CSRF tokens."""
from __future__ import annotations

import logging
import os
import re
import secrets
from pathlib import Path

import nh3
from markupsafe import Markup, escape

from responder.config import Config, ConfigError

log = logging.getLogger(__name__)

# The page loads nothing from anywhere but itself; the customer's HTML cannot run
# script (it is sanitised too, so this is the second fence) or load a remote image.
CSP = ("default-src 'self'; img-src 'self' data:; script-src 'self'; style-src 'self'; "
       "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
}

_TAGS = {"a", "abbr", "b", "blockquote", "br", "caption", "code", "dd", "del", "div", "dl",
         "dt", "em", "h1", "h2", "h3", "h4", "h5", "h6", "hr", "i", "img", "ins", "li", "ol",
         "p", "pre", "q", "s", "small", "span", "strong", "sub", "sup", "table", "tbody",
         "td", "tfoot", "th", "thead", "tr", "u", "ul"}
# no src on img (remote images, tracking pixels), no style (url() loads), no event
# handlers, no class/id (would mix with the page's own); links keep only href/title.
_ATTRIBUTES = {"a": {"href", "title"}, "td": {"colspan", "rowspan"},
               "th": {"colspan", "rowspan"}, "img": {"width", "height"}}
_BLOCKED_IMAGE = {"img": {"alt": "[image not loaded]", "data-blocked": "remote image"}}


def sanitise_html(html: str) -> Markup:
    """The customer's HTML with everything active removed (nh3, i.e. ammonia)."""
    cleaned = nh3.clean(html, tags=_TAGS, attributes=_ATTRIBUTES,
                        clean_content_tags={"script", "style", "template", "noscript",
                                            "title", "head", "svg", "math", "object",
                                            "iframe", "frame", "frameset", "embed"},
                        url_schemes={"http", "https", "mailto"},
                        link_rel="noopener noreferrer nofollow", strip_comments=True,
                        set_tag_attribute_values=_BLOCKED_IMAGE)
    return Markup(cleaned)  # noqa: S704 - nh3's output is safe by construction


def highlight(text: str, sentences: list[str]) -> Markup:
    """``text`` escaped, with each of ``sentences`` (whitespace-insensitive) in <mark>."""
    patterns = [r"\s+".join(re.escape(word) for word in s.split())
                for s in sentences if s.split()]
    if not patterns:
        return escape(text)
    finder = re.compile("|".join(f"(?:{p})" for p in sorted(patterns, key=len, reverse=True)),
                        re.IGNORECASE)
    out: list[str] = []
    last = 0
    for m in finder.finditer(text):
        out.append(str(escape(text[last:m.start()])))
        out.append(f'<mark class="evidence">{escape(m.group(0))}</mark>')
        last = m.end()
    out.append(str(escape(text[last:])))
    return Markup("".join(out))  # noqa: S704 - every piece escaped above


def default_secret_file(cfg: Config) -> Path:
    """``web-secret.key`` in the data folder: next to the SQLite database, else here."""
    url = cfg.database_url
    if url.startswith("sqlite:///") and url != "sqlite:///:memory:":
        return Path(url.removeprefix("sqlite:///")).expanduser().resolve().parent \
            / "web-secret.key"
    return Path.cwd() / "web-secret.key"


def load_secret_key(cfg: Config) -> tuple[str, str]:
    """(key, where it came from). From ``[web] secret_key_env``, else the key file;
    when the file does not exist a random key is written there (mode 0600, created
    exclusively so two starting processes cannot both write one)."""
    from_env = cfg.web.secret_key()
    if from_env:
        return from_env, f"${cfg.web.secret_key_env}"
    path = Path(cfg.web.secret_key_file).expanduser() if cfg.web.secret_key_file \
        else default_secret_file(cfg)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        pass
    except OSError as exc:
        raise ConfigError(f"web secret key: cannot create {path}: {exc.strerror}") from None
    else:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(secrets.token_urlsafe(48) + "\n")
        log.warning("made a new web secret key in %s (mode 0600); keep it private", path)
    try:
        key = path.read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise ConfigError(f"web secret key: cannot read {path}: {exc.strerror}") from None
    if len(key) < 32:
        raise ConfigError(f"web secret key in {path} is too short (32 characters at least)")
    if path.stat().st_mode & 0o077:
        log.warning("%s is readable by others; run: chmod 600 %s", path, path)
    return key, str(path)

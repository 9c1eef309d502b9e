"""Load config.toml once, validate it, and resolve secrets from the environment.

Every key has a default (the same one written, commented, in the bundled
config.toml), so an empty file is a valid config. An unknown key or a bad value
stops start-up with a ConfigError that names the key and what is expected.
Passwords never live in config.toml: each secret is read from an environment
variable (``*_env``) or a file (``*_file``).
"""
from __future__ import annotations

import difflib
import os
import tomllib
import typing
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar, Literal, Self

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from responder import resources

CONFIG_ENV = "RESPONDER_CONFIG"
DATABASE_ENV = "RESPONDER_DATABASE_URL"
BUNDLED_CONFIG = resources.default_config_file()


class ConfigError(Exception):
    """Bad configuration: the operator must act. The message names the key."""


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


def read_secret(env: str, file: str, what: str) -> str | None:
    """The secret from ``env`` (variable name) or ``file`` (path), else None."""
    if env:
        value = os.environ.get(env)
        if value:
            return value
    if file:
        path = Path(file).expanduser()
        try:
            return path.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ConfigError(f"{what}: cannot read secret file {path}: {exc.strerror}") from exc
    return None


class ResponderSection(_Section):
    database_url: str = "sqlite:///responder.db"
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    timezone: str = "UTC"


class ShopSection(_Section):
    name: str = "Example Shop"
    addresses: list[str] = Field(default_factory=lambda: ["support@example-shop.test"])
    signature: str = "The Example Shop team"
    website: str = "https://example-shop.test"
    message_id_domain: str = "responder.example-shop.test"
    return_window_days: int = Field(30, ge=0, le=3650)
    refund_method: Literal["original_payment", "store_credit"] = "original_payment"
    refund_days: int = Field(5, ge=0, le=90)
    replacement_for_damaged: bool = True
    shipping_days_domestic: str = "2-4"
    shipping_days_international: str = "7-14"
    tracking_url: str = "https://example-shop.test/track/{order_number}"
    support_hours: str = "Monday to Friday, 9:00-17:00"
    password_reset_url: str = "https://example-shop.test/account/reset-password"
    downloads_url: str = "https://example-shop.test/account/downloads"
    orders_url: str = "https://example-shop.test/account/orders"

    @field_validator("addresses")
    @classmethod
    def _addresses(cls, value: list[str]) -> list[str]:
        if not value:
            raise ValueError("at least one address is needed")
        out = []
        for item in value:
            if "@" not in item:
                raise ValueError(f"{item!r} is not an e-mail address")
            out.append(item.strip().lower())
        return out

    @field_validator("tracking_url")
    @classmethod
    def _tracking(cls, value: str) -> str:
        if value and "{order_number}" not in value:
            raise ValueError("must contain {order_number}")
        return value

    @property
    def support_email(self) -> str:
        return self.addresses[0]


class _ServerLogin(_Section):
    """What an inbox and the SMTP side share: a provider preset and the login method."""

    preset_side: ClassVar[str] = "imap"

    provider: str = ""             # "gmail", "outlook", ...: fills host/port/security
    auth: Literal["password", "xoauth2"] = "password"
    oauth2_token_command: str = ""
    oauth2_token_file: str = ""

    @model_validator(mode="before")
    @classmethod
    def _provider_preset(cls, data: Any) -> Any:   # the raw input: any shape
        if isinstance(data, dict) and data.get("provider"):
            from responder.providers import apply_preset
            data = apply_preset(data, cls.preset_side)
        return data

    @model_validator(mode="after")
    def _auth_source(self) -> Self:
        if self.auth == "xoauth2" and not (self.oauth2_token_command or self.oauth2_token_file):
            raise ValueError('auth = "xoauth2" needs oauth2_token_command or oauth2_token_file')
        return self


class InboxSection(_ServerLogin):
    name: str = "shop"
    host: str
    port: int = Field(993, ge=1, le=65535)
    security: Literal["tls", "starttls", "none"] = "tls"
    verify_certificate: bool = True
    ca_file: str = ""
    username: str
    password_env: str = "RESPONDER_IMAP_PASSWORD"
    password_file: str = ""
    folder: str = "INBOX"
    sent_folder: str = ""          # "" = find the \Sent folder automatically
    poll_seconds: int = Field(60, ge=5, le=86400)
    start_from: str = "now"        # "now", "all" or an ISO date (YYYY-MM-DD)
    timeout_seconds: float = Field(30.0, gt=0, le=600)
    # special folders, IDLE and reconnect (intake/idle.py)
    drafts_folder: str = ""        # "" = find the \Drafts folder automatically
    drafts_to_folder: bool = False
    sent_copy: Literal["auto", "always", "never"] = "auto"
    idle: bool = True
    idle_renew_minutes: float = Field(25.0, gt=0, le=29)
    idle_keepalive_seconds: float = Field(240.0, ge=1, le=1740)
    reconnect_min_seconds: float = Field(1.0, gt=0, le=3600)
    reconnect_max_seconds: float = Field(300.0, gt=0, le=86400)

    @field_validator("start_from")
    @classmethod
    def _start(cls, value: str) -> str:
        if value in ("now", "all"):
            return value
        from datetime import date
        try:
            date.fromisoformat(value)
        except ValueError as exc:
            raise ValueError('must be "now", "all" or a date like 2026-01-31') from exc
        return value

    def password(self) -> str | None:
        return read_secret(self.password_env, self.password_file, f"inbox {self.name!r} password")


class SmtpSection(_ServerLogin):
    preset_side: ClassVar[str] = "smtp"

    host: str = "127.0.0.1"
    port: int = Field(587, ge=1, le=65535)
    security: Literal["tls", "starttls", "none"] = "starttls"
    verify_certificate: bool = True
    ca_file: str = ""
    username: str = ""
    password_env: str = "RESPONDER_SMTP_PASSWORD"
    password_file: str = ""
    timeout_seconds: float = Field(30.0, gt=0, le=600)

    @model_validator(mode="after")
    def _xoauth2_user(self) -> Self:
        if self.auth == "xoauth2" and not self.username:
            raise ValueError('auth = "xoauth2" needs username')
        return self

    @property
    def name(self) -> str:          # for the OAuth2 token cache and messages
        return "smtp"

    def password(self) -> str | None:
        return read_secret(self.password_env, self.password_file, "smtp password")


class IngressSection(_Section):
    enabled: bool = False
    host: str = "127.0.0.1"
    port: int = Field(8025, ge=1, le=65535)
    max_message_bytes: int = Field(25 * 1024 * 1024, ge=1024)


class ScreeningSection(_Section):
    throttle_hours: float = Field(24.0, ge=0)
    loop_header_value: str = "responder"


class ScoringSection(_Section):
    backend: Literal["builtin", "transformers"] = "builtin"
    model: str = ""
    hold_threshold: float = Field(0.5, ge=0.0, le=1.0)
    batch_size: int = Field(16, ge=1, le=1024)
    hostile_labels: list[str] = Field(default_factory=lambda: [
        "toxic", "toxicity", "insult", "obscene", "threat", "identity_hate",
        "severe_toxic", "severe_toxicity", "identity_attack", "sexual_explicit", "LABEL_1"])
    device: str = "cpu"

    @field_validator("model")
    @classmethod
    def _model(cls, value: str, info: ValidationInfo) -> str:
        return value.strip()


class IntentSection(_Section):
    backend: Literal["builtin", "transformers"] = "builtin"
    model: str = ""
    min_confidence: float = Field(0.4, ge=0.0, le=1.0)
    batch_size: int = Field(16, ge=1, le=1024)


class CoolingSection(_Section):
    hold_hours: float = Field(4.0, ge=0, le=23)
    reply_deadline_hours: float = Field(24.0, gt=0, le=168)
    ready_before_deadline_hours: float = Field(2.0, ge=0, le=24)


class DraftingSection(_Section):
    templates_dir: str = ""
    default_language: str = "en"
    quote_original: bool = True
    html: bool = False


class SchedulerSection(_Section):
    release_check_seconds: int = Field(60, ge=1, le=3600)
    send_retry_seconds: int = Field(300, ge=5, le=86400)


class WebSection(_Section):
    """The rep's web page (``responder web``; inside ``responder run`` when enabled)."""

    enabled: bool = False              # also serve the page inside `responder run`
    host: str = "127.0.0.1"
    port: int = Field(8080, ge=1, le=65535)
    threads: int = Field(4, ge=1, le=64)
    secret_key_env: str = "RESPONDER_WEB_SECRET_KEY"
    secret_key_file: str = ""          # "" = web-secret.key in the data folder (made once)
    behind_proxy: bool = False         # trust X-Forwarded-For/-Proto/-Host from one proxy
    cookie_secure: Literal["auto", "always", "never"] = "auto"   # auto: when behind_proxy
    session_hours: float = Field(12.0, gt=0, le=24 * 30)
    login_max_failures: int = Field(5, ge=1, le=1000)
    login_lockout_minutes: float = Field(15.0, gt=0, le=24 * 60)

    def secret_key(self) -> str | None:
        return read_secret(self.secret_key_env, "", "web secret key")


class Config(_Section):
    responder: ResponderSection = Field(default_factory=ResponderSection)
    shop: ShopSection = Field(default_factory=ShopSection)
    inbox: list[InboxSection] = Field(default_factory=list)
    smtp: SmtpSection = Field(default_factory=SmtpSection)
    ingress: IngressSection = Field(default_factory=IngressSection)
    screening: ScreeningSection = Field(default_factory=ScreeningSection)
    scoring: ScoringSection = Field(default_factory=ScoringSection)
    intent: IntentSection = Field(default_factory=IntentSection)
    cooling: CoolingSection = Field(default_factory=CoolingSection)
    drafting: DraftingSection = Field(default_factory=DraftingSection)
    scheduler: SchedulerSection = Field(default_factory=SchedulerSection)
    web: WebSection = Field(default_factory=WebSection)

    source: str = Field("<defaults>", exclude=True)

    @field_validator("inbox")
    @classmethod
    def _unique_inboxes(cls, value: list[InboxSection]) -> list[InboxSection]:
        names = [box.name for box in value]
        dupes = {n for n in names if names.count(n) > 1}
        if dupes:
            raise ValueError(f"inbox names must be unique; repeated: {', '.join(sorted(dupes))}")
        return value

    @property
    def database_url(self) -> str:
        return os.environ.get(DATABASE_ENV) or self.responder.database_url


def _keys_at(loc: Sequence[str | int]) -> list[str]:
    """The valid key names of the table at ``loc`` (a pydantic error location, list
    indexes included), or [] when ``loc`` does not lead to a known table."""
    model: type[BaseModel] = Config
    for part in loc:
        if isinstance(part, int):
            continue
        field = model.model_fields.get(part)
        if field is None:
            return []
        inner = field.annotation
        if typing.get_origin(inner) is list:
            (inner,) = typing.get_args(inner)
        if not (isinstance(inner, type) and issubclass(inner, BaseModel)):
            return []
        model = inner
    return [name for name, field in model.model_fields.items() if not field.exclude]


def _suggest(loc: Sequence[str | int]) -> str | None:
    """The closest valid name for the unknown key at ``loc``: a spelling neighbour in the
    same table, else the same key in another top-level section (``section.key``)."""
    *parent, key = loc
    if not isinstance(key, str):
        return None
    close = difflib.get_close_matches(key, _keys_at(parent), n=1, cutoff=0.6)
    if close:
        return close[0]
    if len(parent) == 1:
        elsewhere = [f"{section}.{key}" for section in _keys_at([])
                     if section != parent[0] and key in _keys_at([section])]
        if elsewhere:
            return " or ".join(elsewhere)
    return None


def _format_errors(exc: ValidationError, source: str) -> str:
    lines = [f"{source}: invalid configuration"]
    for err in exc.errors():
        loc = ".".join(str(p) for p in err["loc"])
        if err["type"] == "extra_forbidden":
            hint = _suggest(err["loc"])
            lines.append(f"  {loc}: unknown key; did you mean {hint}?" if hint else
                         f"  {loc}: unknown key (check the spelling; see the bundled config.toml)")
        elif err["type"] == "missing":
            lines.append(f"  {loc}: required key is missing")
        else:
            got = err.get("input")
            shown = f" (got {got!r})" if not isinstance(got, (dict, list)) else ""
            lines.append(f"  {loc}: {err['msg']}{shown}")
    return "\n".join(lines)


def from_dict(data: dict[str, Any], source: str = "<dict>") -> Config:
    try:
        cfg = Config.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_format_errors(exc, source)) from None
    cfg.source = source
    return cfg


def load(path: str | Path | None = None) -> Config:
    """Load and validate the config: ``path``, else $RESPONDER_CONFIG, else built-in defaults."""
    chosen = path or os.environ.get(CONFIG_ENV)
    if not chosen:
        return from_dict({}, "<defaults>")
    file = Path(chosen).expanduser()
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{file}: cannot read config: {exc.strerror}") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{file}: not valid TOML: {exc}") from None
    return from_dict(data, str(file))

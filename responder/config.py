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
import re
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

    @field_validator("timezone")
    @classmethod
    def _tz(cls, value: str) -> str:
        return check_timezone(value)


# [shop] facts inserted into replies as written, which may be given per reply language
# in [shop.texts.LANG]. TRANSLATED_FACTS are wording a customer reads (reported by
# `responder templates check` and noted in a draft when missing for its language);
# the others usually stay the same in every language but may be overridden.
TRANSLATED_FACTS: tuple[str, ...] = ("signature", "support_hours", "return_policy")
TEXT_FACTS: tuple[str, ...] = TRANSLATED_FACTS + (
    "name", "website", "shipping_days_domestic", "shipping_days_international",
    "tracking_url", "password_reset_url", "downloads_url", "orders_url")


class ShopTexts(_Section):
    """[shop.texts.LANG]: text facts of [shop] in one reply language (unset: the default)."""

    signature: str | None = None
    support_hours: str | None = None
    return_policy: str | None = None
    name: str | None = None
    website: str | None = None
    shipping_days_domestic: str | None = None
    shipping_days_international: str | None = None
    tracking_url: str | None = None
    password_reset_url: str | None = None
    downloads_url: str | None = None
    orders_url: str | None = None

    @field_validator("tracking_url")
    @classmethod
    def _tracking(cls, value: str | None) -> str | None:
        if value and "{order_number}" not in value:
            raise ValueError("must contain {order_number}")
        return value


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
    # your own words about returns, added to refund and damaged-item replies ("" = none)
    return_policy: str = ""
    password_reset_url: str = "https://example-shop.test/account/reset-password"
    downloads_url: str = "https://example-shop.test/account/downloads"
    orders_url: str = "https://example-shop.test/account/orders"
    # deadline notices and the daily digest go here ("" = none sent; see [digest])
    owner_address: str = ""
    # the text facts above in other reply languages: [shop.texts.ru] signature = "..."
    texts: dict[str, ShopTexts] = Field(default_factory=dict)

    @field_validator("owner_address")
    @classmethod
    def _owner(cls, value: str) -> str:
        value = value.strip().lower()
        if value and ("@" not in value or " " in value):
            raise ValueError(f"{value!r} is not an e-mail address")
        return value

    @field_validator("texts")
    @classmethod
    def _texts(cls, value: dict[str, ShopTexts]) -> dict[str, ShopTexts]:
        for code in value:
            if not re.fullmatch(r"[a-z]{2}", code):
                raise ValueError(f"[shop.texts.{code}]: the language must be a two-letter "
                                 "ISO 639-1 code such as ru or de")
        return value

    def text(self, fact: str, language: str | None) -> tuple[str, bool]:
        """The value of text fact ``fact`` for a reply in ``language``, and whether it
        was given for that language ([shop.texts.LANG]); else the [shop] default."""
        own = self.texts.get(language or "")
        value = getattr(own, fact, None) if own is not None else None
        if value is not None:
            return value, True
        default: str = getattr(self, fact)
        return default, False

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


class CoolingBand(_Section):
    """[[cooling.bands]]: scores from ``min_score`` (inclusive) up to ``max_score``
    (exclusive; default: the next band's min_score, or 1.0 inclusive) hold ``hours``."""

    min_score: float = Field(ge=0.0, le=1.0)
    max_score: float | None = Field(None, ge=0.0, le=1.0)
    hours: float = Field(ge=0, le=168)

    @model_validator(mode="after")
    def _order(self) -> Self:
        if self.max_score is not None and self.max_score <= self.min_score:
            raise ValueError(f"max_score {self.max_score:g} must be above min_score "
                             f"{self.min_score:g}")
        return self


_DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def parse_working_hours(value: str) -> tuple[int, int] | None:
    """ "09:00-18:00" -> (540, 1080) minutes after midnight; "" -> None (around the clock)."""
    value = value.strip()
    if not value:
        return None
    m = re.fullmatch(r"(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})", value)
    if not m:
        raise ValueError('must look like "09:00-18:00" (or "" for around the clock)')
    h1, m1, h2, m2 = (int(x) for x in m.groups())
    if h1 > 23 or h2 > 24 or m1 > 59 or m2 > 59 or (h2 == 24 and m2):
        raise ValueError(f"{value!r} is not a time range of one day")
    start, end = h1 * 60 + m1, h2 * 60 + m2
    if end <= start:
        raise ValueError(f"{value!r}: the end must be after the start on the same day "
                         "(shifts past midnight are not supported)")
    return start, end


def parse_working_days(value: str) -> frozenset[int]:
    """ "Mon-Fri", "Mon,Wed,Fri", "Sun-Thu" -> weekday numbers (Monday = 0)."""
    days: set[int] = set()
    for part in value.replace(" ", "").lower().split(","):
        if not part:
            continue
        first, _, last = part.partition("-")
        if first[:3] not in _DAY_NAMES or (last and last[:3] not in _DAY_NAMES):
            raise ValueError(f"{part!r}: use day names Mon Tue Wed Thu Fri Sat Sun, as "
                             '"Mon-Fri" or "Mon,Wed,Fri"')
        a = _DAY_NAMES.index(first[:3])
        b = _DAY_NAMES.index(last[:3]) if last else a
        days.update((a + i) % 7 for i in range((b - a) % 7 + 1))
    if not days:
        raise ValueError("no working day given")
    return frozenset(days)


def check_timezone(value: str) -> str:
    """A valid IANA time zone name (zoneinfo), else ValueError naming it."""
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"{value!r} is not a time zone name (zoneinfo), such as "
                         '"Europe/Berlin" or "UTC"') from exc
    return value


class LearningSection(_Section):
    """Learning from the reps (``responder train``): where the shop's own model versions
    live, how much of the reps' labels is kept apart for checking, how many are needed."""

    models_dir: str = ""               # "" = responder-models/ beside the SQLite database
    holdout_percent: int = Field(30, ge=5, le=90)
    min_labels: int = Field(8, ge=1, le=100000)
    prior_strength: float = Field(0.3, gt=0.0, le=1000.0)

    def models_path(self, database_url: str) -> Path:
        """The models folder: ``models_dir``, else ``responder-models`` next to an SQLite
        database file, else in the current folder."""
        if self.models_dir:
            return Path(self.models_dir).expanduser()
        if database_url.startswith("sqlite:///") and ":memory:" not in database_url:
            db = Path(database_url.removeprefix("sqlite:///").split("?", 1)[0]).expanduser()
            return db.resolve().parent / "responder-models"
        return Path.cwd() / "responder-models"


class CoolingSection(_Section):
    hold_hours: float = Field(4.0, ge=0, le=23)   # every hostile score, when no bands
    reply_deadline_hours: float = Field(24.0, gt=0, le=168)
    ready_before_deadline_hours: float = Field(2.0, ge=0, le=24)
    # hold length by hostility score ([[cooling.bands]]); none: hold_hours for all
    bands: list[CoolingBand] = Field(default_factory=list)
    min_hold_hours: float = Field(0.0, ge=0, le=168)
    max_hold_hours: float = Field(23.0, ge=0, le=168)
    # the shop's working time: a hold leaves the reps ready_before_deadline_hours of it
    working_hours: str = ""           # "09:00-18:00"; "" = around the clock
    working_days: str = "Mon-Fri"
    timezone: str = ""                # "" = [responder] timezone
    # deadline watch: unapproved drafts this close to the deadline are escalated
    escalate_before_hours: float = Field(3.0, ge=0, le=168)
    # ... each with its own owner notice, unless its deadline passed more than this
    # long ago (after an upgrade or an outage): those share ONE summary notice
    notice_lookback_hours: float = Field(6.0, ge=0, le=24 * 365)

    @field_validator("working_hours")
    @classmethod
    def _hours(cls, value: str) -> str:
        parse_working_hours(value)
        return value

    @field_validator("working_days")
    @classmethod
    def _days(cls, value: str) -> str:
        parse_working_days(value)
        return value

    @field_validator("timezone")
    @classmethod
    def _tz(cls, value: str) -> str:
        return check_timezone(value) if value else value

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.min_hold_hours > self.max_hold_hours:
            raise ValueError(f"min_hold_hours {self.min_hold_hours:g} is more than "
                             f"max_hold_hours {self.max_hold_hours:g}")
        if self.ready_before_deadline_hours >= self.reply_deadline_hours:
            raise ValueError("ready_before_deadline_hours must be less than "
                             "reply_deadline_hours")
        bands = sorted(self.bands, key=lambda b: b.min_score)
        for low, high in zip(bands, bands[1:]):
            if low.min_score == high.min_score:
                raise ValueError(f"two bands start at min_score {low.min_score:g}")
            if low.max_score is not None and low.max_score > high.min_score:
                raise ValueError(f"bands overlap: {low.min_score:g}-{low.max_score:g} and "
                                 f"the band from {high.min_score:g}")
        return self


class DigestSection(_Section):
    """The owner's daily digest e-mail to [shop] owner_address (off by default)."""

    enabled: bool = False
    time: str = "08:00"               # local time of day it is sent
    timezone: str = ""                # "" = [cooling] timezone, else [responder] timezone

    @field_validator("time")
    @classmethod
    def _time(cls, value: str) -> str:
        if not re.fullmatch(r"([01]?\d|2[0-3]):[0-5]\d", value.strip()):
            raise ValueError('must be a time of day like "08:00"')
        return value.strip()

    @field_validator("timezone")
    @classmethod
    def _tz(cls, value: str) -> str:
        return check_timezone(value) if value else value


class DraftingSection(_Section):
    templates_dir: str = ""
    default_language: str = "en"
    quote_original: bool = True
    html: bool = False


class ConversationsSection(_Section):
    """Grouping messages into conversations (core/conversation.py)."""

    # same sender + same order number or subject within this many days of the
    # conversation's latest message joins it (In-Reply-To/References always do); 0 = off
    window_days: float = Field(14.0, ge=0, le=365)


class SchedulerSection(_Section):
    release_check_seconds: int = Field(60, ge=1, le=3600)
    # the full send run: interrupted sends settled, uncertain ones looked for in Sent,
    # every approved reply that is due sent
    send_retry_seconds: int = Field(300, ge=5, le=86400)
    # how often the database is asked whether an approved reply is due (just approved,
    # or its backoff over); sent then, without waiting for the full run. 0 = off
    send_check_seconds: int = Field(10, ge=0, le=3600)


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


class ClusterSection(_Section):
    """Many inboxes on many machines: ``responder worker`` processes sharing one
    PostgreSQL database (responder/cluster). Off: ``responder run`` does everything."""

    enabled: bool = False              # true: run `responder worker` (PostgreSQL only)
    lease_seconds: float = Field(30.0, ge=2, le=3600)      # an inbox's lease; orphan bound
    heartbeat_seconds: float = Field(10.0, gt=0, le=600)   # renew leases, take free inboxes
    concurrency: int = Field(4, ge=1, le=256)              # jobs one worker runs at once
    connection_threads: int = Field(8, ge=1, le=256)       # threads serving all IDLE sockets
    poll_seconds: float = Field(1.0, gt=0, le=60)          # due-job fetch interval (holds)
    sweep_seconds: int = Field(30, ge=1, le=3600)          # re-derive lost jobs, retry stalled
    release_horizon_seconds: int = Field(900, ge=0, le=30 * 86400)  # holds in the job table

    @model_validator(mode="after")
    def _heartbeat_within_lease(self) -> Self:
        if self.heartbeat_seconds * 2 > self.lease_seconds:
            raise ValueError("heartbeat_seconds must be at most half of lease_seconds "
                             f"(got {self.heartbeat_seconds:g} and {self.lease_seconds:g})")
        if self.release_horizon_seconds and self.release_horizon_seconds < 2 * self.sweep_seconds:
            raise ValueError("release_horizon_seconds must be 0 (every hold in the job table) "
                             "or at least twice sweep_seconds (got "
                             f"{self.release_horizon_seconds} and {self.sweep_seconds})")
        return self



class CustomersSection(_Section):
    """[customers]: who the owner's list of difficult customers shows (responder
    customers --difficult, the web page's Customers view, the digest). It only informs:
    nothing is decided automatically for a customer on it."""

    # a sender with at least this many hostile messages (score >= scoring.hold_threshold)
    difficult_min_hostile: int = Field(2, ge=1, le=1000)
    # ... which are at least this share of all their messages (0 = the count alone decides)
    difficult_min_hostile_share: float = Field(0.0, ge=0.0, le=1.0)
    # any reputation threat (bad review, chargeback, lawyer...) lists the sender too
    difficult_on_threat: bool = True


class Config(_Section):
    responder: ResponderSection = Field(default_factory=ResponderSection)
    shop: ShopSection = Field(default_factory=ShopSection)
    inbox: list[InboxSection] = Field(default_factory=list)
    smtp: SmtpSection = Field(default_factory=SmtpSection)
    ingress: IngressSection = Field(default_factory=IngressSection)
    screening: ScreeningSection = Field(default_factory=ScreeningSection)
    scoring: ScoringSection = Field(default_factory=ScoringSection)
    intent: IntentSection = Field(default_factory=IntentSection)
    learning: LearningSection = Field(default_factory=LearningSection)
    cooling: CoolingSection = Field(default_factory=CoolingSection)
    drafting: DraftingSection = Field(default_factory=DraftingSection)
    conversations: ConversationsSection = Field(default_factory=ConversationsSection)
    scheduler: SchedulerSection = Field(default_factory=SchedulerSection)
    web: WebSection = Field(default_factory=WebSection)
    cluster: ClusterSection = Field(default_factory=ClusterSection)
    digest: DigestSection = Field(default_factory=DigestSection)
    customers: CustomersSection = Field(default_factory=CustomersSection)

    source: str = Field("<defaults>", exclude=True)

    @field_validator("inbox")
    @classmethod
    def _unique_inboxes(cls, value: list[InboxSection]) -> list[InboxSection]:
        names = [box.name for box in value]
        dupes = {n for n in names if names.count(n) > 1}
        if dupes:
            raise ValueError(f"inbox names must be unique; repeated: {', '.join(sorted(dupes))}")
        return value

    @model_validator(mode="after")
    def _cooling_bands_hold(self) -> Self:
        low = min((b.min_score for b in self.cooling.bands), default=None)
        if low is not None and low < self.scoring.hold_threshold:
            raise ValueError(f"cooling.bands: a band starts at {low:g}, below "
                             f"scoring.hold_threshold {self.scoring.hold_threshold:g}; "
                             "scores under the threshold are never held")
        if self.digest.enabled and not self.shop.owner_address:
            raise ValueError("digest.enabled needs shop.owner_address (where it is sent)")
        return self

    @property
    def local_timezone(self) -> str:
        """The shop's time zone: [cooling] timezone, else [responder] timezone."""
        return self.cooling.timezone or self.responder.timezone

    @property
    def database_url(self) -> str:
        return os.environ.get(DATABASE_ENV) or self.responder.database_url


def _keys_at(loc: Sequence[str | int]) -> list[str]:
    """The valid key names of the table at ``loc`` (a pydantic error location, list
    indexes included), or [] when ``loc`` does not lead to a known table."""
    model: type[BaseModel] = Config
    skip_key = False                   # the next part is a key of a dict table
    for part in loc:
        if isinstance(part, int) or skip_key:
            skip_key = False
            continue
        field = model.model_fields.get(part)
        if field is None:
            return []
        inner = field.annotation
        if typing.get_origin(inner) is list:
            (inner,) = typing.get_args(inner)
        elif typing.get_origin(inner) is dict:   # [shop.texts.LANG]
            inner = typing.get_args(inner)[1]
            skip_key = True
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
        loc = ".".join(str(p) for p in err["loc"]) or "config"
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

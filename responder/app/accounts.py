"""The people who use the web page: owners and reps, their passwords, their logins.

Passwords are hashed with argon2id (argon2-cffi, its recommended parameters); a
hash made with older parameters is replaced at the next good login. Failed logins
are counted per (name, client address) in the database, so the throttle holds
across restarts and across several server threads: after ``max_failures`` within
``window`` the pair is refused until the window has passed, even with the right
password. Shared by ``responder user add`` and the page's login form.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from responder.store.accounts import AccountStore
from responder.store.repository import Repository

Role = Literal["owner", "rep"]
ROLES: tuple[Role, ...] = ("owner", "rep")
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,99}$")
MIN_PASSWORD = 10

_hasher = PasswordHasher()


class AccountError(Exception):
    """A user cannot be added or changed as asked; the message says why."""


class LoginThrottled(Exception):
    """Too many failed logins for this name from this address; try again later."""

    def __init__(self, retry_after: timedelta):
        minutes = max(1, int(retry_after.total_seconds() // 60) + 1)
        super().__init__(f"too many failed logins; try again in about {minutes} minute(s)")
        self.retry_after = retry_after


@dataclass(frozen=True)
class User:
    name: str
    role: Role

    @property
    def actor(self) -> str:
        """How the audit trail names this person (as the CLI's ``--as``)."""
        return f"rep:{self.name}"

    @property
    def is_owner(self) -> bool:
        return self.role == "owner"


@dataclass(frozen=True)
class Throttle:
    max_failures: int = 5
    window: timedelta = timedelta(minutes=15)


def add_user(repo: Repository, name: str, role: str, password: str, *,
             now: datetime) -> bool:
    """Create user ``name`` (or reset role and password of an existing one).

    Returns True when the user is new."""
    if not NAME_RE.match(name):
        raise AccountError("a user name is 1-100 letters, digits or . _ @ - "
                           "(starting with a letter or digit)")
    if role not in ROLES:
        raise AccountError(f"role must be one of: {', '.join(ROLES)}")
    if len(password) < MIN_PASSWORD:
        raise AccountError(f"the password must have at least {MIN_PASSWORD} characters")
    return AccountStore(repo).put(name, role=role, password_hash=_hasher.hash(password),
                                  now=now)


def list_users(repo: Repository) -> list[tuple[User, bool, datetime | None]]:
    """(user, disabled, last login) for everyone, by name."""
    return [(User(row.name, _role(row.role)), row.disabled, row.last_login_at)
            for row in AccountStore(repo).all()]


def find_user(repo: Repository, name: str) -> User | None:
    """The active user ``name``, or None (unknown or disabled)."""
    row = AccountStore(repo).get(name)
    if row is None or row.disabled:
        return None
    return User(row.name, _role(row.role))


def authenticate(repo: Repository, name: str, password: str, address: str, *,
                 now: datetime, throttle: Throttle = Throttle()) -> User | None:
    """The user if ``password`` is right; None if not. LoginThrottled when the pair
    (name, address) failed too often lately (checked before the password)."""
    store = AccountStore(repo)
    since = now - throttle.window
    if store.failures_since(name, address, since) >= throttle.max_failures:
        raise LoginThrottled(throttle.window)
    row = store.get(name)
    ok = False
    if row is not None and not row.disabled:
        try:
            ok = _hasher.verify(row.password_hash, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            ok = False
    else:
        # the same work for an unknown name, so timing does not tell which names exist
        try:
            _hasher.verify(_DUMMY_HASH, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            pass
    if not ok or row is None:
        store.add_failure(name, address, now)
        return None
    if _hasher.check_needs_rehash(row.password_hash):
        store.set_hash(name, _hasher.hash(password), now)
    store.clear_failures(name, address, before=since)
    store.note_login(name, now)
    return User(row.name, _role(row.role))


def _role(value: str) -> Role:
    return "owner" if value == "owner" else "rep"


_DUMMY_HASH = _hasher.hash("not a password of anyone")

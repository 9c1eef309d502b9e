"""Shared fixtures. Real peers only: Dovecot for IMAP, aiosmtpd for SMTP, SQLite
(and the real Alembic migrations) for the store, the real offline models."""
from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from responder import config as config_mod
from responder.store import open_repository

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "responder" / "app" / "demo_mail"


class Clock:
    """An injected clock: tests move time, never sleep."""

    def __init__(self, now: datetime | None = None):
        self.now = now or datetime(2026, 11, 23, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta) -> datetime:
        from datetime import timedelta
        self.now = self.now + timedelta(**delta)
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def repo(tmp_path):
    return open_repository(f"sqlite:///{tmp_path / 'test.db'}")


@pytest.fixture(scope="session")
def postgres():
    from pg import Postgres
    server = Postgres().start()
    yield server
    server.stop()


@pytest.fixture(params=["sqlite", "postgresql"])
def any_repo(request, tmp_path):
    """The same storage tests on every supported backend."""
    if request.param == "sqlite":
        return open_repository(f"sqlite:///{tmp_path / 'test.db'}")
    server = request.getfixturevalue("postgres")
    url = server.create_database(f"t_{abs(hash(request.node.nodeid)) % 10**12}")
    repo = open_repository(url)
    request.addfinalizer(repo.engine.dispose)
    return repo


@pytest.fixture
def make_config(tmp_path):
    def make(**sections):
        data = {"responder": {"database_url": f"sqlite:///{tmp_path / 'test.db'}"}}
        data.update(sections)
        return config_mod.from_dict(data, "<test>")
    return make


@pytest.fixture(scope="session")
def services():
    """The real offline models and bundled templates, loaded once for the session."""
    from responder.core.pipeline import Services
    return Services.from_config(config_mod.from_dict({}, "<test>"))


def sample(name: str) -> bytes:
    return (SAMPLES / name).read_bytes()

"""The one clock. Everything that needs the time takes a :data:`Clock` (a callable
returning an aware UTC datetime), so tests inject their own and never sleep."""
from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

Clock = Callable[[], datetime]


def utcnow() -> datetime:
    """The real clock: now, aware, in UTC."""
    return datetime.now(UTC)

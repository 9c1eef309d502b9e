"""The one clock. Everything that needs the time takes a :data:`Clock` (a callable
returning an aware UTC datetime), so tests inject their own and never sleep."""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Callable

Clock = Callable[[], datetime]


def utcnow() -> datetime:
    """The real clock: now, aware, in UTC."""
    return datetime.now(timezone.utc)

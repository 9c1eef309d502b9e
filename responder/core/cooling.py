"""Cooling-off policy: pure functions of the verdict, the arrival time and ``now``.

A hostile message is held for ``cooling.hold_hours`` after it arrived, so the
reply is read and written calmly, but its draft is always ready at least
``ready_before_deadline_hours`` before the reply deadline (``reply_deadline_hours``
after arrival): the cooling-off never breaks the 24-hour promise.
"""
from __future__ import annotations

from datetime import datetime, timedelta

from responder.core.model import Hold, HostilityVerdict


def reply_deadline(received_at: datetime, reply_deadline_hours: float) -> datetime:
    return received_at + timedelta(hours=reply_deadline_hours)


def hold_for(verdict: HostilityVerdict | None, received_at: datetime, *, hold_hours: float,
             reply_deadline_hours: float, ready_before_deadline_hours: float) -> Hold | None:
    """The hold for a message, or None when it need not cool off."""
    if verdict is None or not verdict.hostile or hold_hours <= 0:
        return None
    wanted = received_at + timedelta(hours=hold_hours)
    latest = reply_deadline(received_at, reply_deadline_hours) - timedelta(
        hours=ready_before_deadline_hours)
    release_at = max(received_at, min(wanted, latest))
    why = (f"hostility {verdict.score:.2f}"
           + (f" ({', '.join(verdict.labels)})" if verdict.labels else "")
           + f": cooling off {hold_hours:g} h after arrival")
    if release_at < wanted:
        why += ", shortened to keep the reply deadline"
    return Hold(release_at=release_at, reason=why)


def is_due(release_at: datetime | None, now: datetime) -> bool:
    return release_at is not None and release_at <= now

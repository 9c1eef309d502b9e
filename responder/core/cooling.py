"""Cooling-off policy: pure functions of the verdict, the arrival time and ``now``.

Whether a hostility score holds a message is decided here, not by the scorer: a
score at or above ``hold_threshold`` (config key ``scoring.hold_threshold``, kept
there for compatibility) holds the message for ``cooling.hold_hours`` after it
arrived, so the reply is read and written calmly; but its draft is always ready at
least ``ready_before_deadline_hours`` before the reply deadline
(``reply_deadline_hours`` after arrival): the cooling-off never breaks the
24-hour promise.

:func:`reply_deadline` is the one place that computes a reply deadline; intake
stores it with the message and every later step reads the stored value.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from responder.config import Config
from responder.core.model import Hold, HostilityVerdict


@dataclass(frozen=True)
class CoolingPolicy:
    """The cooling-off settings, gathered from the config once."""

    hold_threshold: float
    hold_hours: float
    reply_deadline_hours: float
    ready_before_deadline_hours: float

    @classmethod
    def from_config(cls, cfg: Config) -> CoolingPolicy:
        return cls(hold_threshold=cfg.scoring.hold_threshold,
                   hold_hours=cfg.cooling.hold_hours,
                   reply_deadline_hours=cfg.cooling.reply_deadline_hours,
                   ready_before_deadline_hours=cfg.cooling.ready_before_deadline_hours)


def reply_deadline(received_at: datetime, policy: CoolingPolicy) -> datetime:
    """When the reply is due: ``reply_deadline_hours`` after arrival."""
    return received_at + timedelta(hours=policy.reply_deadline_hours)


def is_hostile(verdict: HostilityVerdict | None, hold_threshold: float) -> bool:
    """Does this score call for cooling off? (Also used to judge a rep's own reply.)"""
    return verdict is not None and verdict.score >= hold_threshold


def hold_for(verdict: HostilityVerdict | None, received_at: datetime, policy: CoolingPolicy,
             deadline_at: datetime | None = None) -> Hold | None:
    """The hold for a message, or None when it need not cool off.

    ``deadline_at`` is the message's stored reply deadline (computed from the
    policy when not given, e.g. for mail that was never stored).
    """
    if not is_hostile(verdict, policy.hold_threshold) or policy.hold_hours <= 0:
        return None
    assert verdict is not None
    wanted = received_at + timedelta(hours=policy.hold_hours)
    deadline = deadline_at or reply_deadline(received_at, policy)
    latest = deadline - timedelta(hours=policy.ready_before_deadline_hours)
    release_at = max(received_at, min(wanted, latest))
    why = (f"hostility {verdict.score:.2f}"
           + (f" ({', '.join(verdict.labels)})" if verdict.labels else "")
           + f": cooling off {policy.hold_hours:g} h after arrival")
    if release_at < wanted:
        why += ", shortened to keep the reply deadline"
    return Hold(release_at=release_at, reason=why)


def is_due(release_at: datetime | None, now: datetime) -> bool:
    return release_at is not None and release_at <= now

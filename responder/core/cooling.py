"""Cooling-off policy: pure functions of the verdict, the arrival time and the config.

Whether a hostility score holds a message is decided here, not by the scorer: a
score at or above ``hold_threshold`` (config key ``scoring.hold_threshold``, kept
there for compatibility) holds the message after it arrived, so the reply is read
and written calmly. How long depends on the score's band (``[[cooling.bands]]``;
without bands every hostile score holds ``cooling.hold_hours``), kept between
``min_hold_hours`` and ``max_hold_hours``. But the draft is always ready at least
``ready_before_deadline_hours`` before the reply deadline (``reply_deadline_hours``
after arrival): the cooling-off never breaks the 24-hour promise.

With working hours (``cooling.working_hours``, ``working_days``, ``timezone``) the
review margin is counted in working time: a deadline that falls in the night or on
a Sunday moves the latest release back to the last working hours before it, so a
rep is there to review the draft before the customer's deadline. A hold that ends
at night is simply ready when the first rep starts.

Every hold records which band chose its length and which rule set its release time
(:data:`RULES`), so a rep can see why a draft waits.

:func:`reply_deadline` is the one place that computes a reply deadline; intake
stores it with the message and every later step reads the stored value.
"""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from responder.config import Config, parse_working_days, parse_working_hours
from responder.core.model import Hold, HostilityVerdict

# the rule that set a hold's release time (stored with the message as hold_rule)
RULES = {
    "band": "the score's band",
    "hold_hours": "cooling.hold_hours (no bands configured)",
    "min_hold": "raised to cooling.min_hold_hours",
    "max_hold": "capped at cooling.max_hold_hours",
    "deadline": "shortened to keep the review margin before the reply deadline",
    "deadline_working_hours": "shortened so reps have the review margin in working hours "
                              "before the reply deadline",
    "arrival": "released at once: less working time than the review margin before the "
               "deadline",
}
_SEARCH_DAYS = 9   # a working interval is looked for at most this far from a moment


@dataclass(frozen=True)
class Band:
    """Scores in [min_score, max_score) hold ``hours`` (the top band includes 1.0)."""

    min_score: float
    max_score: float | None
    hours: float

    def label(self) -> str:
        top = f"{self.max_score:.2f}" if self.max_score is not None else "1.00"
        return f"{self.min_score:.2f}-{top}: {self.hours:g} h"


@dataclass(frozen=True)
class WorkingTime:
    """The shop's working hours: the same span on each working day, in ``zone``."""

    start_minute: int              # minutes after local midnight
    end_minute: int                # exclusive; 1440 = midnight at the end of the day
    days: frozenset[int]           # weekday numbers, Monday = 0
    zone: str

    @classmethod
    def parse(cls, hours: str, days: str, zone: str) -> WorkingTime | None:
        span = parse_working_hours(hours)
        if span is None:
            return None
        return cls(span[0], span[1], parse_working_days(days), zone)

    def _day_interval(self, day: date) -> tuple[datetime, datetime]:
        tz = ZoneInfo(self.zone)
        start = datetime.combine(day, time(self.start_minute // 60, self.start_minute % 60),
                                 tzinfo=tz)
        end_day = day + timedelta(days=self.end_minute // 1440)
        end_min = self.end_minute % 1440
        end = datetime.combine(end_day, time(end_min // 60, end_min % 60), tzinfo=tz)
        return start.astimezone(UTC), end.astimezone(UTC)

    def intervals(self, start: datetime, end: datetime) -> Iterator[tuple[datetime, datetime]]:
        """The working intervals overlapping [start, end], clipped to it, in order (UTC)."""
        tz = ZoneInfo(self.zone)
        day = start.astimezone(tz).date() - timedelta(days=1)
        last = end.astimezone(tz).date() + timedelta(days=1)
        while day <= last:
            if day.weekday() in self.days:
                a, b = self._day_interval(day)
                a, b = max(a, start), min(b, end)
                if a < b:
                    yield a, b
            day += timedelta(days=1)

    def contains(self, moment: datetime) -> bool:
        return any(a <= moment < b for a, b in
                   self.intervals(moment - timedelta(days=1), moment + timedelta(days=1)))

    def next_start(self, moment: datetime) -> datetime | None:
        """``moment`` when it is working time, else the next start of working hours."""
        for a, _b in self.intervals(moment, moment + timedelta(days=_SEARCH_DAYS)):
            return a
        return None

    def describe(self) -> str:
        def hhmm(m: int) -> str:
            return f"{m // 60:02d}:{m % 60:02d}"
        names = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
        days = ",".join(names[d] for d in sorted(self.days))
        return f"{hhmm(self.start_minute)}-{hhmm(self.end_minute)} {days} ({self.zone})"


@dataclass(frozen=True)
class CoolingPolicy:
    """The cooling-off settings, gathered from the config once."""

    hold_threshold: float
    hold_hours: float
    reply_deadline_hours: float
    ready_before_deadline_hours: float
    bands: tuple[Band, ...] = ()
    min_hold_hours: float = 0.0
    max_hold_hours: float = 23.0
    working: WorkingTime | None = None
    escalate_before_hours: float = 3.0

    @classmethod
    def from_config(cls, cfg: Config) -> CoolingPolicy:
        c = cfg.cooling
        bands = tuple(sorted((Band(b.min_score, b.max_score, b.hours) for b in c.bands),
                             key=lambda b: b.min_score))
        return cls(hold_threshold=cfg.scoring.hold_threshold,
                   hold_hours=c.hold_hours,
                   reply_deadline_hours=c.reply_deadline_hours,
                   ready_before_deadline_hours=c.ready_before_deadline_hours,
                   bands=bands, min_hold_hours=c.min_hold_hours,
                   max_hold_hours=c.max_hold_hours,
                   working=WorkingTime.parse(c.working_hours, c.working_days,
                                             cfg.local_timezone),
                   escalate_before_hours=c.escalate_before_hours)


def reply_deadline(received_at: datetime, policy: CoolingPolicy) -> datetime:
    """When the reply is due: ``reply_deadline_hours`` after arrival."""
    return received_at + timedelta(hours=policy.reply_deadline_hours)


def is_hostile(verdict: HostilityVerdict | None, hold_threshold: float) -> bool:
    """Does this score call for cooling off? (Also used to judge a rep's own reply.)"""
    return verdict is not None and verdict.score >= hold_threshold


def band_for(score: float, policy: CoolingPolicy) -> tuple[float, str, str]:
    """(hours, band label, rule) for a hostile ``score``: its band, else hold_hours."""
    bands = policy.bands
    for i, band in enumerate(bands):
        top = band.max_score if band.max_score is not None else (
            bands[i + 1].min_score if i + 1 < len(bands) else None)
        if score >= band.min_score and (top is None or score < top):
            shown = Band(band.min_score, top, band.hours)
            return band.hours, shown.label(), "band"
    if bands:
        return policy.hold_hours, f"no band for {score:.2f}: hold_hours {policy.hold_hours:g} h", \
            "hold_hours"
    return policy.hold_hours, f"hold_hours: {policy.hold_hours:g} h", "hold_hours"


def latest_release(received_at: datetime, deadline: datetime,
                   policy: CoolingPolicy) -> tuple[datetime, str]:
    """The latest a held draft may be released, and the rule behind it.

    Without working hours: ``ready_before_deadline_hours`` before the deadline. With
    them: the moment that leaves reps that much *working* time before the deadline
    (at the end of the last working hours before a deadline at night); when there is
    some working time before the deadline but less than that, at once (on arrival);
    when there is none at all, the plain margin (nobody works before the deadline:
    the deadline watch escalates it).
    """
    margin = timedelta(hours=policy.ready_before_deadline_hours)
    plain = deadline - margin
    if policy.working is None:
        return plain, "deadline"
    spans = list(policy.working.intervals(received_at, deadline))
    if not spans:
        return plain, "deadline"
    need = margin
    for a, b in reversed(spans):
        if b - a >= need:
            return b - need, "deadline_working_hours"
        need -= b - a
    return received_at, "arrival"


def hold_for(verdict: HostilityVerdict | None, received_at: datetime, policy: CoolingPolicy,
             deadline_at: datetime | None = None) -> Hold | None:
    """The hold for a message, or None when it need not cool off.

    ``deadline_at`` is the message's stored reply deadline (computed from the
    policy when not given, e.g. for mail that was never stored). For a conversation,
    give its most hostile verdict, the newest message's arrival and the oldest
    unanswered message's deadline.
    """
    if not is_hostile(verdict, policy.hold_threshold):
        return None
    assert verdict is not None
    hours, band, rule = band_for(verdict.score, policy)
    if hours <= 0:
        return None
    if hours < policy.min_hold_hours:
        hours, rule = policy.min_hold_hours, "min_hold"
    if hours > policy.max_hold_hours:
        hours, rule = policy.max_hold_hours, "max_hold"
    wanted = received_at + timedelta(hours=hours)
    deadline = deadline_at or reply_deadline(received_at, policy)
    latest, latest_rule = latest_release(received_at, deadline, policy)
    release_at = max(received_at, min(wanted, latest))
    if release_at < wanted:
        rule = latest_rule
    why = (f"hostility {verdict.score:.2f}"
           + (f" ({', '.join(verdict.labels)})" if verdict.labels else "")
           + f": cooling off {hours:g} h after arrival [band {band}]")
    if rule in ("min_hold", "max_hold"):
        why += f", {RULES[rule]}"
    if release_at < wanted:
        why += (", shortened to keep the reply deadline" if rule == "deadline"
                else f", {RULES[rule]}")
    if policy.working is not None and not policy.working.contains(release_at):
        first = policy.working.next_start(release_at)
        if first is not None and first < deadline:
            why += (f"; released outside working hours, ready for the first rep at "
                    f"{first.astimezone(ZoneInfo(policy.working.zone)):%a %H:%M %Z}")
        else:
            why += "; no working hours before the reply deadline"
    return Hold(release_at=release_at, reason=why, band=band, rule=rule)


def escalation_due(deadline_at: datetime, now: datetime, policy: CoolingPolicy) -> bool:
    """Is an unapproved draft due for escalation (its deadline near or passed)?"""
    return deadline_at - timedelta(hours=policy.escalate_before_hours) <= now


def is_due(release_at: datetime | None, now: datetime) -> bool:
    return release_at is not None and release_at <= now

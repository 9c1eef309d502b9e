"""The cooling policy by strength (issue 12, item 2), over a table of cases.

Bands, minimum and maximum hold, the deadline cap, working hours at night and at
weekends, the DST changes of Europe/Berlin, a deadline inside the night. Every case
checks the release time, the band and the rule that set it; every hold also keeps the
invariants (never before arrival, never after the deadline minus the margin when
working time allows).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from responder import config as config_mod
from responder.config import ConfigError
from responder.core.cooling import (
    CoolingPolicy,
    WorkingTime,
    escalation_due,
    hold_for,
    latest_release,
    reply_deadline,
)
from responder.core.model import HostilityVerdict

BERLIN = "Europe/Berlin"
BANDS = [{"min_score": 0.5, "hours": 2}, {"min_score": 0.7, "hours": 4},
         {"min_score": 0.9, "hours": 6}]


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def policy(**cooling: Any) -> CoolingPolicy:
    data: dict[str, Any] = {"bands": BANDS}
    data.update(cooling)
    return CoolingPolicy.from_config(config_mod.from_dict({"cooling": data}, "<test>"))


WORK = {"working_hours": "09:00-18:00", "working_days": "Mon-Fri", "timezone": BERLIN}


@dataclass
class Case:
    name: str
    score: float
    arrival: str                      # UTC, ISO
    release: str | None               # UTC, ISO; None: no hold
    band: str = ""
    rule: str = ""
    cooling: dict[str, Any] = field(default_factory=dict)
    reason_has: str = ""


CASES = [
    # ---- bands (2026-11-23 is a Monday; Berlin is UTC+1 in November)
    Case("below the threshold", 0.45, "2026-11-23T10:00", None),
    Case("low band", 0.6, "2026-11-23T10:00", "2026-11-23T12:00", "0.50-0.70: 2 h", "band"),
    Case("middle band", 0.75, "2026-11-23T10:00", "2026-11-23T14:00", "0.70-0.90: 4 h", "band"),
    Case("band edge belongs to the upper band", 0.7, "2026-11-23T10:00", "2026-11-23T14:00",
         "0.70-0.90: 4 h", "band"),
    Case("top band includes 1.0", 1.0, "2026-11-23T10:00", "2026-11-23T16:00",
         "0.90-1.00: 6 h", "band"),
    Case("a band of 0 h does not hold", 0.55, "2026-11-23T10:00", None,
         cooling={"bands": [{"min_score": 0.5, "hours": 0}, {"min_score": 0.7, "hours": 4}]}),
    Case("a gap between bands falls back to hold_hours", 0.65, "2026-11-23T10:00",
         "2026-11-23T13:00", "no band for 0.65: hold_hours 3 h", "hold_hours",
         cooling={"hold_hours": 3, "bands": [{"min_score": 0.5, "max_score": 0.6, "hours": 1},
                                             {"min_score": 0.8, "hours": 5}]}),
    Case("no bands: hold_hours as before", 0.95, "2026-11-23T10:00", "2026-11-23T14:00",
         "hold_hours: 4 h", "hold_hours", cooling={"bands": []}),
    # ---- minimum and maximum
    Case("raised to the minimum", 0.6, "2026-11-23T10:00", "2026-11-23T13:00",
         "0.50-0.70: 2 h", "min_hold", cooling={"min_hold_hours": 3}),
    Case("capped at the maximum", 0.95, "2026-11-23T10:00", "2026-11-23T15:00",
         "0.90-1.00: 6 h", "max_hold", cooling={"max_hold_hours": 5}),
    # ---- the deadline cap, around the clock
    Case("deadline cap", 0.95, "2026-11-23T10:00", "2026-11-24T08:00", "0.90-1.00: 23 h",
         "deadline", cooling={"bands": [{"min_score": 0.9, "hours": 23}]},
         reason_has="shortened to keep the reply deadline"),
    Case("the deadline beats the minimum", 0.6, "2026-11-23T10:00", "2026-11-24T06:00",
         "0.50-0.70: 2 h", "deadline",
         cooling={"min_hold_hours": 30, "max_hold_hours": 40, "reply_deadline_hours": 24,
                  "ready_before_deadline_hours": 4}),
    # ---- working hours: nights
    Case("released at night: ready for the first rep", 0.95, "2026-11-23T21:00",
         "2026-11-24T03:00", "0.90-1.00: 6 h", "band", cooling=WORK,
         reason_has="ready for the first rep at Tue 09:00 CET"),
    Case("deadline inside the night: review margin in the last working hours", 0.95,
         "2026-11-23T02:00", "2026-11-23T15:00", "0.90-1.00: 20 h", "deadline_working_hours",
         cooling=WORK | {"bands": [{"min_score": 0.9, "hours": 20}]}),
    Case("same message around the clock: released in the night", 0.95,
         "2026-11-23T02:00", "2026-11-24T00:00", "0.90-1.00: 23 h", "deadline",
         cooling={"bands": [{"min_score": 0.9, "hours": 23}]}),
    Case("deadline early in the morning: margin split over two days", 0.95,
         "2026-11-23T09:00", "2026-11-23T16:00", "0.90-1.00: 23 h", "deadline_working_hours",
         cooling=WORK | {"bands": [{"min_score": 0.9, "hours": 23}]}),
    # ---- weekends
    Case("friday evening: less working time than the margin: at once", 0.95,
         "2026-11-27T16:00", "2026-11-27T16:00", "0.90-1.00: 6 h", "arrival", cooling=WORK),
    Case("saturday: no working time before the deadline: plain margin", 0.95,
         "2026-11-28T10:00", "2026-11-28T16:00", "0.90-1.00: 6 h", "band", cooling=WORK,
         reason_has="no working hours before the reply deadline"),
    Case("saturday with a long hold: capped by the plain margin", 0.95,
         "2026-11-28T10:00", "2026-11-29T08:00", "0.90-1.00: 23 h", "deadline",
         cooling=WORK | {"bands": [{"min_score": 0.9, "hours": 23}]}),
    Case("sunday evening: ready on monday morning", 0.95, "2026-11-29T18:00",
         "2026-11-30T00:00", "0.90-1.00: 6 h", "band", cooling=WORK,
         reason_has="ready for the first rep at Mon 09:00 CET"),
    Case("sunday noon, deadline monday noon: margin in monday morning", 0.95,
         "2026-11-29T12:00", "2026-11-30T10:00", "0.90-1.00: 23 h", "deadline_working_hours",
         cooling=WORK | {"bands": [{"min_score": 0.9, "hours": 23}]}),
    # ---- DST: Berlin leaves summer time on 2026-10-25 and enters it on 2026-03-29
    Case("autumn DST: monday works 08:00-17:00 UTC", 0.95, "2026-10-24T22:00",
         "2026-10-26T15:00", "0.90-1.00: 44 h", "deadline_working_hours",
         cooling=WORK | {"reply_deadline_hours": 48, "max_hold_hours": 44,
                         "bands": [{"min_score": 0.9, "hours": 44}]}),
    Case("spring DST: monday works 07:00-16:00 UTC", 0.95, "2026-03-29T18:00",
         "2026-03-30T14:00", "0.90-1.00: 23 h", "deadline_working_hours",
         cooling=WORK | {"bands": [{"min_score": 0.9, "hours": 23}]}),
    Case("autumn DST weekend: no working time before the deadline", 0.95, "2026-10-24T20:00",
         "2026-10-25T02:00", "0.90-1.00: 6 h", "band", cooling=WORK,
         reason_has="no working hours before the reply deadline"),
    Case("autumn DST sunday night: ready at monday 09:00 CET", 0.95, "2026-10-25T20:00",
         "2026-10-26T02:00", "0.90-1.00: 6 h", "band", cooling=WORK,
         reason_has="ready for the first rep at Mon 09:00 CET"),
]


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_cooling_policy_table(case: Case) -> None:
    pol = policy(**case.cooling)
    arrival = utc(case.arrival)
    hold = hold_for(HostilityVerdict(case.score, ["insult"]), arrival, pol)
    if case.release is None:
        assert hold is None
        return
    assert hold is not None
    assert hold.release_at == utc(case.release), hold.reason
    assert (hold.band, hold.rule) == (case.band, case.rule), hold.reason
    assert case.reason_has in hold.reason
    assert hold.band in hold.reason
    # invariants
    deadline = reply_deadline(arrival, pol)
    assert arrival <= hold.release_at < deadline
    latest, _ = latest_release(arrival, deadline, pol)
    assert hold.release_at <= max(latest, arrival)


def test_stored_conversation_deadline_caps_a_later_message() -> None:
    """A follow-up held by the conversation's oldest deadline (as engineer B calls it)."""
    pol = policy()
    first_deadline = utc("2026-11-24T10:00")
    hold = hold_for(HostilityVerdict(0.95, []), utc("2026-11-24T05:00"), pol,
                    deadline_at=first_deadline)
    assert hold is not None and hold.release_at == utc("2026-11-24T08:00")
    assert hold.rule == "deadline"


def test_working_time_intervals_follow_local_time_across_dst() -> None:
    work = WorkingTime.parse("09:00-18:00", "Mon-Fri", BERLIN)
    assert work is not None
    before = list(work.intervals(utc("2026-10-23T00:00"), utc("2026-10-24T00:00")))
    after = list(work.intervals(utc("2026-10-26T00:00"), utc("2026-10-27T00:00")))
    assert before == [(utc("2026-10-23T07:00"), utc("2026-10-23T16:00"))]
    assert after == [(utc("2026-10-26T08:00"), utc("2026-10-26T17:00"))]
    assert work.next_start(utc("2026-10-24T12:00")) == utc("2026-10-26T08:00")
    assert work.contains(utc("2026-10-26T08:00")) and not work.contains(utc("2026-10-26T17:00"))


def test_working_days_wrap_and_lists() -> None:
    assert config_mod.parse_working_days("Sun-Tue") == frozenset({6, 0, 1})
    assert config_mod.parse_working_days("mon,wed,Fri") == frozenset({0, 2, 4})


def test_escalation_is_due_near_the_deadline() -> None:
    pol = policy(escalate_before_hours=3)
    deadline = utc("2026-11-24T10:00")
    assert not escalation_due(deadline, utc("2026-11-24T06:59"), pol)
    assert escalation_due(deadline, utc("2026-11-24T07:00"), pol)


@pytest.mark.parametrize("cooling,message", [
    ({"bands": [{"min_score": 0.5, "max_score": 0.8, "hours": 2},
                {"min_score": 0.7, "hours": 4}]}, "bands overlap"),
    ({"bands": [{"min_score": 0.6, "hours": 2}, {"min_score": 0.6, "hours": 4}]},
     "two bands start at min_score 0.6"),
    ({"bands": [{"min_score": 0.8, "max_score": 0.6, "hours": 2}]},
     "max_score 0.6 must be above min_score 0.8"),
    ({"bands": [{"min_score": 0.3, "hours": 2}]}, "below scoring.hold_threshold"),
    ({"min_hold_hours": 5, "max_hold_hours": 3}, "min_hold_hours 5 is more than max_hold_hours 3"),
    ({"timezone": "Europe/Berln"}, "cooling.timezone"),
    ({"working_hours": "18:00-09:00"}, "shifts past midnight are not supported"),
    ({"working_hours": "9-18"}, 'must look like "09:00-18:00"'),
    ({"working_days": "Mon-Fryday"}, "use day names"),
    ({"ready_before_deadline_hours": 24, "reply_deadline_hours": 24},
     "ready_before_deadline_hours must be less than reply_deadline_hours"),
])
def test_config_errors_are_clear(cooling: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError) as err:
        config_mod.from_dict({"cooling": cooling}, "c.toml")
    assert message in str(err.value)


def test_the_old_keys_keep_working() -> None:
    cfg = config_mod.from_dict({"scoring": {"hold_threshold": 0.6},
                                "cooling": {"hold_hours": 5, "reply_deadline_hours": 12,
                                            "ready_before_deadline_hours": 1}}, "<old>")
    pol = CoolingPolicy.from_config(cfg)
    arrival = utc("2026-11-23T10:00")
    assert hold_for(HostilityVerdict(0.55, []), arrival, pol) is None
    hold = hold_for(HostilityVerdict(0.61, []), arrival, pol)
    assert hold is not None and hold.release_at == arrival + timedelta(hours=5)
    assert reply_deadline(arrival, pol) == arrival + timedelta(hours=12)


def test_a_week_of_arrivals_always_leaves_the_review_margin_in_working_time() -> None:
    """Every 15 minutes for a week (three scores in turn): wherever the deadline leaves
    reps at least the margin of working time, the release leaves them all of it."""
    pol = policy(**WORK)
    assert pol.working is not None
    margin = timedelta(hours=pol.ready_before_deadline_hours)
    arrival, end = utc("2026-11-23T00:00"), utc("2026-11-30T00:00")
    checked = n = 0
    while arrival < end:
        hold = hold_for(HostilityVerdict((0.55, 0.75, 0.95)[n % 3], []), arrival, pol)
        assert hold is not None and arrival <= hold.release_at
        deadline = reply_deadline(arrival, pol)

        def work(start: datetime, deadline: datetime = deadline) -> timedelta:
            return sum((b - a for a, b in pol.working.intervals(start, deadline)), timedelta())
        if work(arrival) >= margin:
            checked += 1
            assert work(hold.release_at) >= margin, (arrival, hold)
        arrival += timedelta(minutes=15)
        n += 1
    assert checked == 501          # the rest arrive Friday evening to Sunday

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from responder import config as config_mod
from responder.core.cooling import CoolingPolicy, hold_for, is_due, is_hostile, reply_deadline
from responder.core.model import HostilityVerdict

T0 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
POLICY = CoolingPolicy(hold_threshold=0.5, hold_hours=4, reply_deadline_hours=24,
                       ready_before_deadline_hours=2)


def verdict(score, hostile):
    return HostilityVerdict(score=score, labels=["insult"] if hostile else [])


def test_civil_mail_is_not_held():
    assert hold_for(verdict(0.2, False), T0, POLICY) is None
    assert hold_for(None, T0, POLICY) is None


def test_the_policy_not_the_scorer_decides_what_holds():
    v = verdict(0.6, True)
    assert is_hostile(v, 0.5) and not is_hostile(v, 0.7)
    assert hold_for(v, T0, replace(POLICY, hold_threshold=0.7)) is None
    assert hold_for(v, T0, POLICY) is not None
    assert not is_hostile(None, 0.0)


def test_policy_from_config_takes_the_compatible_threshold_key():
    cfg = config_mod.Config.model_validate({"scoring": {"hold_threshold": 0.8},
                                            "cooling": {"hold_hours": 3}})
    policy = CoolingPolicy.from_config(cfg)
    assert policy.hold_threshold == 0.8 and policy.hold_hours == 3
    assert policy.reply_deadline_hours == config_mod.Config().cooling.reply_deadline_hours


def test_stored_deadline_is_used_when_given():
    stored = T0 + timedelta(hours=10)
    hold = hold_for(verdict(0.9, True), T0, POLICY, deadline_at=stored)
    assert hold.release_at == T0 + timedelta(hours=4)
    tight = hold_for(verdict(0.9, True), T0, POLICY, deadline_at=T0 + timedelta(hours=5))
    assert tight.release_at == T0 + timedelta(hours=3) and "shortened" in tight.reason


def test_hostile_mail_is_held_from_arrival():
    hold = hold_for(verdict(0.9, True), T0, POLICY)
    assert hold.release_at == T0 + timedelta(hours=4)
    assert "0.90" in hold.reason and "insult" in hold.reason


def test_hold_never_breaks_the_reply_deadline():
    hold = hold_for(verdict(0.9, True), T0, replace(POLICY, hold_hours=23))
    assert hold.release_at == T0 + timedelta(hours=22)
    assert hold.release_at < reply_deadline(T0, POLICY)
    assert "shortened" in hold.reason


def test_zero_hold_means_no_hold_and_due_check():
    assert hold_for(verdict(0.9, True), T0, replace(POLICY, hold_hours=0)) is None
    assert is_due(T0, T0) and not is_due(T0 + timedelta(seconds=1), T0)
    assert not is_due(None, T0)

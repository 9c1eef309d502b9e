from datetime import datetime, timedelta, timezone

from responder.core.cooling import hold_for, is_due, reply_deadline
from responder.core.model import HostilityVerdict

T0 = datetime(2026, 11, 23, 9, 0, tzinfo=timezone.utc)
POLICY = dict(hold_hours=4, reply_deadline_hours=24, ready_before_deadline_hours=2)


def verdict(score, hostile):
    return HostilityVerdict(score=score, hostile=hostile, labels=["insult"] if hostile else [])


def test_civil_mail_is_not_held():
    assert hold_for(verdict(0.2, False), T0, **POLICY) is None
    assert hold_for(None, T0, **POLICY) is None


def test_hostile_mail_is_held_from_arrival():
    hold = hold_for(verdict(0.9, True), T0, **POLICY)
    assert hold.release_at == T0 + timedelta(hours=4)
    assert "0.90" in hold.reason and "insult" in hold.reason


def test_hold_never_breaks_the_reply_deadline():
    hold = hold_for(verdict(0.9, True), T0, hold_hours=23, reply_deadline_hours=24,
                    ready_before_deadline_hours=2)
    assert hold.release_at == T0 + timedelta(hours=22)
    assert hold.release_at < reply_deadline(T0, 24)
    assert "shortened" in hold.reason


def test_zero_hold_means_no_hold_and_due_check():
    assert hold_for(verdict(0.9, True), T0, hold_hours=0, reply_deadline_hours=24,
                    ready_before_deadline_hours=2) is None
    assert is_due(T0, T0) and not is_due(T0 + timedelta(seconds=1), T0)
    assert not is_due(None, T0)

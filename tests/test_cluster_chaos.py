"""The cluster under chaos, short: real PostgreSQL, real Dovecot, an aiosmtpd sink and
three real ``responder worker`` processes; one SIGKILLed and restarted twice, one
SIGSTOPped for longer than its lease. The long run is benchmarks/chaos_cluster.py
(the same code, more mailboxes, longer leases); README: "Many inboxes: workers".

Ground truth comes from the servers (Dovecot's log of sessions, the sink's messages,
the database), never from the workers' own account. The test waits for processes
with polling deadlines; holds are short (``hold_hours`` set to seconds) instead of
waited for.
"""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

pytestmark = pytest.mark.imap

LEASE, HEARTBEAT = 4.0, 1.0


def test_cluster_survives_kills_and_a_stop_past_the_lease(capsys):
    from chaos_cluster import run_chaos

    r = run_chaos(mailboxes=12, workers=3, seconds=32, kill_every=10, lease=LEASE,
                  heartbeat=HEARTBEAT, sweep=2, rate=3, hostile_share=0.25,
                  hold_seconds=5, stop_at=3, settle_timeout=90,
                  env={"RESPONDER_LANGDETECT": "low"}, say=print)
    with capsys.disabled():
        print(f"\nchaos (short): {r.appended} mails, lost {len(r.lost)}, double sends "
              f"{len(r.double_sends)}, uncertain {r.uncertain}, orphan max {r.orphan_max}, "
              f"hold lateness p50 {r.hold_late_p50} max {r.hold_late_max}, double watches "
              f"{len(r.overlaps_running)} (+{len(r.overlaps_with_stopped)} with the stopped "
              f"worker), fenced writes refused {r.fenced_writes_refused}")
    assert r.kills >= 2 and r.stops == 1
    assert r.appended > 60 and r.append_errors == 0
    # nothing lost: every APPENDed message is stored and decided
    assert r.lost == [], r.lost
    assert r.stored == r.decided == r.appended
    # no reply twice (the sink's In-Reply-To); every approved reply went out, or waits,
    # named, for a person: "uncertain" (a SIGKILL between the claim and recording the
    # server's answer; it may or may not have reached the sink, and is never resent
    # automatically)
    assert r.double_sends == []
    assert r.appended - r.uncertain <= r.replies_sent <= r.appended
    assert r.unsent_approved == 0
    # holds: all released, never early
    assert r.held > 0 and r.released == r.held
    assert r.hold_late_min is not None and r.hold_late_min >= 0
    # one watcher per mailbox among running workers; the SIGSTOPped worker's sessions
    # stay open at Dovecot (a frozen process cannot close them) until it wakes up and
    # sees its leases lost on the next heartbeat
    assert r.overlaps_running == []
    for o in r.overlaps_with_stopped:
        assert o["seconds"] < 2.5 * LEASE + 10 * HEARTBEAT, o
    # a killed worker's mailboxes are watched again within lease + heartbeat + login
    assert r.orphan_max is not None and r.orphan_max < LEASE + 2 * HEARTBEAT + 10

"""No flood of owner notices after an upgrade or a long outage: drafts whose reply
deadline passed more than ``cooling.notice_lookback_hours`` ago are escalated, marked
missed and counted like the others, but share ONE summary notice, sent once.

Real SQLite with the real migrations, the real pipeline, a real aiosmtpd sink for the
owner's mail; an injected clock (no sleeping).
"""
from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy

import pytest
from click.testing import CliRunner
from conftest import Clock
from servers import SmtpSink

from responder import config as config_mod
from responder.app import deadlines
from responder.app.queue import queue
from responder.app.service import Service
from responder.cli.main import main
from responder.core.model import Stage
from responder.store import notices as outbox
from responder.store import open_repository

OWNER = "owner@example-shop.test"


def customer_mail(n: int) -> bytes:
    """A civil question, its own sender and order number (no two join a conversation)."""
    return (f"From: Customer {n} <customer{n}@customer.test>\r\n"
            f"To: Example Shop Support <support@example-shop.test>\r\n"
            f"Subject: Where is order #{40100 + n}?\r\n"
            f"Message-ID: <order-{40100 + n}@customer.test>\r\n"
            "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
            f"Hello,\r\n\r\nI ordered a pattern book (order #{40100 + n}) and it has not "
            f"arrived yet. Could you tell me where it is?\r\n\r\nThank you,\r\nCustomer {n}\r\n"
            ).encode()


@pytest.fixture
def sink():
    with SmtpSink() as s:
        yield s


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request, tmp_path):
    """The same checks on every supported backend (a private PostgreSQL, tests/pg.py)."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'b.db'}"
    server = request.getfixturevalue("postgres")
    return server.create_database(f"t_{abs(hash(request.node.nodeid)) % 10**12}")


def make_shop(tmp_path, sink, services, clock, *, owner=OWNER, extra="", db_url=None):
    db_url = db_url or f"sqlite:///{tmp_path / 'b.db'}"
    path = tmp_path / "config.toml"
    path.write_text(f'[responder]\ndatabase_url = "{db_url}"\n'
                    'log_level = "WARNING"\ntimezone = "Europe/Berlin"\n'
                    f'[shop]\nowner_address = "{owner}"\n'
                    f'[smtp]\nhost = "127.0.0.1"\nport = {sink.port}\nsecurity = "none"\n'
                    + extra)
    cfg = config_mod.load(path)
    repo = open_repository(cfg.database_url)
    service = Service(cfg, repo, services=dataclasses.replace(services, cfg=cfg), clock=clock)
    return path, cfg, repo, service


def add(repo, service, clock, n: int, deadline_in: timedelta) -> int:
    """A drafted message whose reply deadline is ``deadline_in`` from now."""
    deadline = clock() + deadline_in
    pk, new = repo.store_raw(customer_mail(n), source="cli",
                             received_at=deadline - timedelta(hours=24), deadline_at=deadline)
    assert new
    service.process([pk])
    assert repo.get(pk).stage == Stage.DRAFTED.value
    return pk


def owner_mail(sink) -> list:
    return [message_from_bytes(m.data, policy=policy.default) for m in sink.messages
            if OWNER in m.rcpt_tos]


def test_first_run_after_an_outage_sends_one_summary_not_a_flood(tmp_path, sink, services,
                                                                  clock, db_url):
    path, cfg, repo, service = make_shop(tmp_path, sink, services, clock, db_url=db_url)
    assert cfg.cooling.notice_lookback_hours == 6                    # the default
    old = [add(repo, service, clock, n, -timedelta(days=2, hours=n)) for n in range(5)]
    edge = add(repo, service, clock, 5, -timedelta(hours=6))          # exactly at the line
    recent = add(repo, service, clock, 6, -timedelta(hours=2))        # missed recently
    ahead = add(repo, service, clock, 7, timedelta(hours=1))          # still ahead
    later = add(repo, service, clock, 8, timedelta(hours=20))         # not near yet

    result = service.watch_deadlines()
    assert sorted(result.escalated) == sorted(old + [edge, recent, ahead])
    assert sorted(result.summarised) == sorted(old)
    assert sorted(result.missed) == sorted(old + [edge, recent])      # still marked missed
    assert result.notices["sent"] == 4                                # 3 own + 1 summary
    mails = owner_mail(sink)
    subjects = sorted(m["Subject"] for m in mails)
    summaries = [m for m in mails if "older messages missed" in m["Subject"]]
    assert len(mails) == 4 and len(summaries) == 1, subjects
    (summary,) = summaries
    assert summary["Subject"] == "5 older messages missed their reply deadline"
    assert summary["Auto-Submitted"] == "auto-generated"
    body = summary.get_content()
    for pk in old:
        assert f"- #{pk} from customer" in body
    for pk in (edge, recent, ahead, later):
        assert f"#{pk} " not in body
    assert "reply deadline more than 6 hours ago" in body and "only once" in body
    assert "responder list" in body
    own = {m["Subject"].split()[3] for m in mails if m is not summary}
    assert own == {f"#{edge}", f"#{recent}", f"#{ahead}"}

    for pk in old:                                   # marked, with its reason, and missed
        row = repo.get(pk)
        assert row.escalated_at == clock() and row.deadline_missed_at == clock()
        (event,) = [e for e in row.events if e.action == "escalated"]
        assert "look-back" in event.reason and "one summary notice" in event.reason
    assert outbox.deadline_counts(repo) == (8, 7)
    assert {i.row.id for i in queue(repo, cfg, clock())[:8]} == set(old + [edge, recent, ahead])
    (notice,) = [n for n in outbox.notices(repo) if n.kind == deadlines.BACKLOG_NOTICE]
    assert notice.state == "sent" and notice.ref == str(min(old)) and notice.message_pk is None

    again = service.watch_deadlines()                # sent once: a second run adds nothing
    assert again.escalated == [] and again.summarised == [] and again.missed == []
    assert len(owner_mail(sink)) == 4

    # mail found late (a first sync of an old folder): a new summary for it alone
    clock.advance(hours=1)
    found = add(repo, service, clock, 9, -timedelta(days=3))
    third = service.watch_deadlines()
    assert third.summarised == [found] and third.notices["sent"] == 1
    assert owner_mail(sink)[-1]["Subject"] == "1 older message missed its reply deadline"
    assert len(owner_mail(sink)) == 5


def test_look_back_is_configurable_and_the_list_is_bounded(tmp_path, sink, services,
                                                           monkeypatch):
    clock = Clock(datetime.now(UTC))          # `responder deadlines` reads the real time
    path, cfg, repo, service = make_shop(tmp_path, sink, services, clock,
                                         extra="[cooling]\nnotice_lookback_hours = 0\n")
    monkeypatch.setattr(deadlines, "BACKLOG_LISTED", 2)
    missed = [add(repo, service, clock, n, -timedelta(minutes=10 + n)) for n in range(4)]
    ahead = add(repo, service, clock, 4, timedelta(minutes=30))
    out = CliRunner().invoke(main, ["--config", str(path), "deadlines"])
    assert out.exit_code == 0, out.output
    assert "escalated: 5" in out.output and "4 missed before the look-back" in out.output
    mails = owner_mail(sink)
    assert len(mails) == 2                          # the one still ahead, and one summary
    (summary,) = [m for m in mails if m["Subject"].startswith("4 older")]
    body = summary.get_content()
    assert "4 older messages missed their reply deadline, and nobody" in body   # look-back 0
    # oldest deadline first, two named, the rest counted
    assert f"#{missed[3]} from" in body and f"#{missed[2]} from" in body
    assert f"#{missed[0]} from" not in body and "... and 2 more" in body
    assert f"#{ahead}" in [m for m in mails if m is not summary][0]["Subject"]


def test_without_an_owner_the_older_ones_are_still_marked(tmp_path, sink, services, clock):
    path, cfg, repo, service = make_shop(tmp_path, sink, services, clock, owner="")
    old = add(repo, service, clock, 1, -timedelta(days=1))
    result = service.watch_deadlines()
    assert result.summarised == [old] and result.missed == [old]
    assert sink.messages == [] and outbox.notices(repo) == []
    assert "no [shop] owner_address" in repo.get(old).events[-2].reason


def test_marks_and_summary_are_one_transaction(tmp_path, sink, services, clock, db_url):
    path, cfg, repo, service = make_shop(tmp_path, sink, services, clock, db_url=db_url)
    old = [add(repo, service, clock, n, -timedelta(days=1, hours=n)) for n in range(3)]

    def broken(pks):
        raise RuntimeError("summary could not be written")

    with pytest.raises(RuntimeError):
        outbox.escalate_batch(repo, {pk: "test" for pk in old}, clock(), broken)
    assert all(repo.get(pk).escalated_at is None for pk in old)      # nothing half-done
    assert outbox.notices(repo) == []
    assert sorted(service.watch_deadlines().summarised) == sorted(old)
    assert len(owner_mail(sink)) == 1

"""Reputation threats raise a message's place in the reps' queue (DESIGN.md section 2,
practice 7) and carry a badge; they never hold, delay or decide anything.

Real SQLite with the real migrations, the real offline models and pipeline, the real
deadline watch, the CLI through click and the web page through Flask's test client;
an injected clock.
"""
from __future__ import annotations

import dataclasses
import re
from datetime import timedelta

import pytest
from click.testing import CliRunner
from conftest import sample
from servers import SmtpSink
from sqlalchemy import update

from responder import config as config_mod
from responder.app import accounts
from responder.app.actions import reject
from responder.app.queue import priority_key, queue, raises_priority, reputation_threats
from responder.app.service import Service
from responder.cli.main import main
from responder.core.model import Stage
from responder.store import open_repository
from responder.store.tables import MessageRow
from responder.web import WebContext, create_app

PASSWORD = "correct horse battery"

THREAT = (b"From: Anna Berg <anna.berg@customer.test>\r\n"
          b"To: Example Shop Support <support@example-shop.test>\r\n"
          b"Subject: Parcel still missing, order #20511\r\n"
          b"Date: Mon, 23 Nov 2026 08:40:00 +0000\r\n"
          b"Message-ID: <anna-20511@customer.test>\r\n"
          b"MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
          b"Hello,\r\n\r\nmy parcel (order #20511) has not arrived after three weeks.\r\n"
          b"If it is not refunded by Friday I will leave a one-star review on Trustpilot.\r\n"
          b"\r\nThank you,\r\nAnna\r\n")


@pytest.fixture
def sink():
    with SmtpSink() as s:
        yield s


@pytest.fixture
def shop(tmp_path, sink, services, clock):
    path = tmp_path / "config.toml"
    path.write_text(f'[responder]\ndatabase_url = "sqlite:///{tmp_path / "q.db"}"\n'
                    'log_level = "WARNING"\n'
                    f'[smtp]\nhost = "127.0.0.1"\nport = {sink.port}\nsecurity = "none"\n')
    cfg = config_mod.load(path)
    repo = open_repository(cfg.database_url)
    service = Service(cfg, repo, services=dataclasses.replace(services, cfg=cfg), clock=clock)
    now = clock()
    pks = {}
    # near: its deadline is within the watch's line (escalated); calm: due before the
    # threat; threat: due last of all, a civil message with a bad-review threat
    for key, raw, hours in (("near", sample("01-refund-en.eml"), 2),
                            ("calm", sample("05-download-fr.eml"), 10),
                            ("threat", THREAT, 20)):
        pk, _ = repo.store_raw(raw, source="smtp", received_at=now,
                               deadline_at=now + timedelta(hours=hours))
        pks[key] = pk
    service.process(list(pks.values()))
    return path, cfg, repo, service, pks


def test_a_threat_is_listed_after_escalated_before_the_rest_and_never_held(shop, clock):
    path, cfg, repo, service, pks = shop
    row = repo.get(pks["threat"])
    # never held for it: a civil message with a threat is drafted at once
    assert row.stage == Stage.DRAFTED.value and row.release_at is None
    assert row.hold_band is None and "held" not in [e.action for e in row.events]
    assert [k for k, _ in reputation_threats(row)] == ["bad_review"]

    # without the threat it would come last (its deadline is the latest)
    assert [i.row.id for i in queue(repo, cfg, clock())] == [pks["threat"], pks["near"],
                                                             pks["calm"]]
    assert service.watch_deadlines().escalated == [pks["near"]]
    items = queue(repo, cfg, clock())
    assert [i.row.id for i in items] == [pks["near"], pks["threat"], pks["calm"]]
    badge = next(b for b in items[1].badges if b.kind == "reputation")
    assert badge.text == "reputation threat: bad review"
    assert "one-star review on Trustpilot" in badge.detail
    assert "reputation" not in [b.kind for b in items[2].badges]
    # the deadline watch does not escalate it early either: only its deadline does
    assert repo.get(pks["threat"]).escalated_at is None

    listed = CliRunner().invoke(main, ["--config", str(path), "list"])
    assert listed.exit_code == 0, listed.output
    ids = [int(line.split()[0]) for line in listed.output.splitlines()[1:]]
    assert ids == [pks["near"], pks["threat"], pks["calm"]]
    threat_line = listed.output.splitlines()[2]
    assert "[REPUTATION THREAT: bad review]" in threat_line
    assert "REPUTATION" not in listed.output.splitlines()[3]


def test_the_web_queue_and_message_view_show_the_badge(shop, clock):
    path, cfg, repo, service, pks = shop
    accounts.add_user(repo, "ralf", "rep", PASSWORD, now=clock())
    app = create_app(WebContext(cfg, repo, service, clock=clock, secret_key="k" * 40),
                     testing=True)
    client = app.test_client()
    page = client.get("/login").text
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    client.post("/login", data={"csrf_token": csrf, "name": "ralf", "password": PASSWORD})
    page = client.get("/").text
    ids = [int(x) for x in re.findall(r'class="item stage-\w+" data-id="(\d+)"', page)]
    assert ids == [pks["threat"], pks["near"], pks["calm"]]
    item = page.split(f'data-id="{pks["threat"]}"')[1].split("</li>")[0]
    assert 'class="badge badge-reputation"' in item
    assert ">reputation threat: bad review<" in item
    assert "one-star review on Trustpilot" in item                       # hover title
    other = page.split(f'data-id="{pks["calm"]}"')[1].split("</li>")[0]
    assert "badge-reputation" not in other
    view = client.get(f"/m/{pks['threat']}").text
    assert "badge-reputation" in view.split('id="badges"')[1].split("</div>")[0]
    fact = view.split('id="reputation">')[1].split("</dd>")[0]
    assert "bad review" in fact and "never held or delayed" in fact
    assert 'id="reputation"' not in client.get(f"/m/{pks['calm']}").text


def test_only_waiting_messages_are_raised_and_the_stored_verdict_wins(shop, clock):
    path, cfg, repo, service, pks = shop
    threat = repo.get(pks["threat"])
    assert raises_priority(threat)
    reject(repo, pks["threat"], actor="rep:alice", now=clock(), reason="answered by phone")
    done = repo.get(pks["threat"])
    assert reputation_threats(done) and not raises_priority(done)   # final: not raised
    everything = sorted(repo.list(None), key=priority_key)
    assert everything[-1].id == pks["threat"]

    # a message decided before threats were looked for (NULL): the scorer's label counts
    with repo.session() as s:
        s.execute(update(MessageRow).where(MessageRow.id == pks["calm"])
                  .values(reputation_threats=None, hostility_labels=["reputation_threat"]))
    calm = repo.get(pks["calm"])
    assert reputation_threats(calm) == [("reputation_threat", "")] and raises_priority(calm)
    badge = next(b for b in queue(repo, cfg, clock())[0].badges if b.kind == "reputation")
    assert badge.text == "reputation threat" and badge.detail == ""
    # looked for and none found: the finder's verdict wins over the scorer's word list
    with repo.session() as s:
        s.execute(update(MessageRow).where(MessageRow.id == pks["calm"])
                  .values(reputation_threats=[]))
    assert not raises_priority(repo.get(pks["calm"]))

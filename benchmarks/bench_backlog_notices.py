"""The first deadline-watch run after an upgrade or a long outage, and the cost of the
scheduler's send check. Not a test.

    .venv/bin/python benchmarks/bench_backlog_notices.py [--drafts 200] [--lookback 6]

A fresh SQLite database gets ``--drafts`` drafted messages whose reply deadlines
passed three days ago (as after an upgrade that adds the watch), decided by the real
pipeline; one watch run then escalates them. Printed: how many owner e-mails reached
a real aiosmtpd server (``--lookback 8760`` shows the old behaviour: one each), and
the run's time. Then every draft is approved, fails once with a 451 (all back off one
minute), and ``Service.send_due`` (the scheduler's ``send-due`` job) is timed 20 times
half-way through the backoff: the query cost of one check, with no SMTP attempt.
Injected clock: nothing waits for time to pass.
"""
from __future__ import annotations

import argparse
import dataclasses
import logging
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from conftest import Clock  # noqa: E402
from servers import SmtpSink  # noqa: E402
from test_deadline_backlog import customer_mail  # noqa: E402

from responder import config as config_mod  # noqa: E402
from responder.app.actions import approve  # noqa: E402
from responder.app.service import Service  # noqa: E402
from responder.core.pipeline import Services  # noqa: E402
from responder.store import open_repository  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--drafts", type=int, default=200)
    ap.add_argument("--lookback", type=float, default=6.0,
                    help="[cooling] notice_lookback_hours (8760: one notice each)")
    args = ap.parse_args()
    logging.disable(logging.WARNING)
    tmp = Path(tempfile.mkdtemp(prefix="bench-backlog-"))
    with SmtpSink() as sink:
        path = tmp / "config.toml"
        path.write_text(f'[responder]\ndatabase_url = "sqlite:///{tmp / "b.db"}"\n'
                        f'[cooling]\nnotice_lookback_hours = {args.lookback}\n'
                        '[shop]\nowner_address = "owner@example-shop.test"\n'
                        f'[smtp]\nhost = "127.0.0.1"\nport = {sink.port}\nsecurity = "none"\n')
        cfg = config_mod.load(path)
        clock = Clock()
        repo = open_repository(cfg.database_url)
        service = Service(cfg, repo, clock=clock,
                          services=dataclasses.replace(Services.from_config(cfg), cfg=cfg))
        pks = []
        for n in range(args.drafts):
            due = clock() - timedelta(days=3, minutes=n)
            pk, _ = repo.store_raw(customer_mail(n), source="cli", deadline_at=due,
                                   received_at=due - timedelta(hours=24))
            pks.append(pk)
        service.process(pks)
        start = time.perf_counter()
        result = service.watch_deadlines()
        took = time.perf_counter() - start
        print(f"{args.drafts} old drafts, look-back {args.lookback:g} h: escalated "
              f"{len(result.escalated)}, missed {len(result.missed)}, owner e-mails "
              f"{len(sink.messages)}, watch run {took:.2f} s")
        for pk in pks:
            approve(repo, pk, actor="rep:bench", now=clock(),
                    message_id_domain=cfg.shop.message_id_domain)
        sink.fail_next(args.drafts, 451)
        service.send_approved()
        clock.advance(seconds=30)
        start = time.perf_counter()
        for _ in range(20):
            if service.send_due():
                raise SystemExit("send_due sent during the backoff")
        each = (time.perf_counter() - start) / 20
        print(f"send-due check, {args.drafts} replies backing off: {each * 1000:.1f} ms, "
              f"SMTP attempts during the backoff: {len(sink.rejections) - args.drafts}")


if __name__ == "__main__":
    main()

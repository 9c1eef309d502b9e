"""APScheduler glue only: when each job of the Service runs."""
from __future__ import annotations

import logging
import signal
import threading
from typing import TYPE_CHECKING

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler

from responder.app.watchers import start_watchers
from responder.core.clock import utcnow

if TYPE_CHECKING:
    from aiosmtpd.controller import Controller

    from responder.app.service import Service

log = logging.getLogger(__name__)


def build_scheduler(service: Service) -> BackgroundScheduler:
    cfg = service.cfg
    scheduler = BackgroundScheduler(executors={"default": ThreadPoolExecutor(4)},
                                    job_defaults={"coalesce": True, "max_instances": 1},
                                    timezone="UTC")
    for box in cfg.inbox:
        scheduler.add_job(service.poll_inbox, "interval", args=[box],
                          seconds=box.poll_seconds, id=f"poll:{box.name}",
                          next_run_time=utcnow())
    scheduler.add_job(service.process_pending, "interval", seconds=60, id="process-pending",
                      next_run_time=utcnow())
    scheduler.add_job(service.release_due, "interval",
                      seconds=cfg.scheduler.release_check_seconds, id="release-held",
                      next_run_time=utcnow())
    # the full send run (settles interrupted sends, looks in Sent for uncertain ones)
    scheduler.add_job(service.send_approved, "interval",
                      seconds=cfg.scheduler.send_retry_seconds, id="send-approved")
    # between full runs: a reply is sent as soon as it is due (approved, or its backoff
    # of 1, 2, 4 ... min over), not up to send_retry_seconds later; one small query a
    # check, SMTP only when something is due (mail/sending.py next_send_due)
    if cfg.scheduler.send_check_seconds:
        scheduler.add_job(service.send_due, "interval",
                          seconds=cfg.scheduler.send_check_seconds, id="send-due",
                          next_run_time=utcnow())
    # the deadline watch (app/deadlines.py): escalations, missed deadlines, owner notices
    scheduler.add_job(service.watch_deadlines, "interval",
                      seconds=cfg.scheduler.release_check_seconds, id="watch-deadlines",
                      next_run_time=utcnow())
    if cfg.digest.enabled:
        hour, minute = (int(x) for x in cfg.digest.time.split(":"))
        scheduler.add_job(service.send_digest, "cron", hour=hour, minute=minute,
                          timezone=cfg.digest.timezone or cfg.local_timezone, id="owner-digest")
    return scheduler




def run_forever(service: Service, ingress: Controller | None = None) -> None:
    """Run the jobs until SIGINT or SIGTERM."""
    scheduler = build_scheduler(service)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    watchers = start_watchers(service, scheduler)   # IDLE push; polls only where IDLE is missing
    scheduler.start()
    log.info("responder is running: %d inbox(es), ingress %s", len(service.cfg.inbox),
             "on" if ingress else "off")
    try:
        stop.wait()
    finally:
        log.info("stopping")
        for watcher in watchers:
            watcher.stop()
        scheduler.shutdown(wait=True)
        if ingress is not None:
            ingress.stop()

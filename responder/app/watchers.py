"""Inbox watchers wired to the service: one IDLE watcher per inbox, each syncing
through the service, with the scheduler's poll job as the fallback."""
from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from responder.core.clock import utcnow
from responder.core.cooling import CoolingPolicy
from responder.mail.drafts_folder import push_drafts
from responder.mail.intake.idle import IdleWatcher, InboxStatus, StatusBoard, status_path
from responder.mail.intake.imap import SyncResult, sync_inbox

if TYPE_CHECKING:
    from apscheduler.schedulers.base import BaseScheduler
    from imapclient import IMAPClient

    from responder.app.service import Service
    from responder.config import InboxSection

log = logging.getLogger(__name__)


def service_sync(service: Service, box: InboxSection) -> Callable[[IMAPClient], SyncResult]:
    """The watcher's sync: store new mail by UID, then decide it through the pipeline.

    A failure while deciding does not drop the connection: the mail is stored and
    ``process_pending`` decides it later.
    """
    def sync(client: IMAPClient) -> SyncResult:
        result = sync_inbox(box, service.repo, service.clock(),
                            policy=CoolingPolicy.from_config(service.cfg),
                            client=client)
        if result.new_pks:
            try:
                service.process(result.new_pks)
            except Exception:  # noqa: BLE001 - stored; process_pending retries
                log.exception("inbox %s: deciding %d new message(s) failed; they are stored "
                              "and will be retried", box.name, len(result.new_pks))
        scan = getattr(service, "scan_sent", None)   # replies sent from a mail program
        if scan is not None:
            scan(box)
        return result
    return sync


def start_watchers(service: Service, scheduler: BaseScheduler | None = None, *,
                   board: StatusBoard | None = None,
                   **watcher_kwargs: Any) -> list[IdleWatcher]:
    """One IDLE watcher thread per inbox with ``idle = true``; its ``poll:<inbox>`` job
    is paused and resumed only if the server turns out to lack IDLE. Also schedules
    the Drafts-folder catch-up for inboxes with ``drafts_to_folder = true`` (the
    service's ``DraftsMailbox`` updates Drafts at once; this job retries its failures).
    Call before ``scheduler.start()``."""
    cfg = service.cfg
    board = board or StatusBoard(status_path(cfg))
    watchers: list[IdleWatcher] = []
    for box in cfg.inbox:
        job_id = f"poll:{box.name}"
        if not box.idle:
            board.put(InboxStatus(inbox=box.name, state="polling",
                                  since=utcnow().isoformat(timespec="seconds"),
                                  detail=f"idle = false: polling every {box.poll_seconds} s"))
            continue
        if scheduler is not None and scheduler.get_job(job_id) is not None:
            scheduler.pause_job(job_id)

        def on_no_idle(box: InboxSection, job_id: str = job_id) -> None:
            if scheduler is not None and scheduler.get_job(job_id) is not None:
                scheduler.resume_job(job_id)
        watchers.append(IdleWatcher(box, service_sync(service, box), board=board,
                                    on_no_idle=on_no_idle, **watcher_kwargs).start())
    if scheduler is not None and any(b.drafts_to_folder for b in cfg.inbox):
        scheduler.add_job(lambda: push_drafts(service.repo, cfg, service.clock()), "interval",
                          seconds=cfg.scheduler.release_check_seconds, id="drafts-to-folder",
                          next_run_time=utcnow())
    return watchers

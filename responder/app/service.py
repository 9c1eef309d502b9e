"""The live service's jobs: each a plain method, so tests call them directly with an
injected clock, and the scheduler (scheduler.py) only decides when they run."""
from __future__ import annotations

import logging
import threading
from datetime import datetime, timedelta
from typing import Callable

from responder.core import pipeline

from responder.mail import sending
from responder.mail.connections import AuthError, ConnectError
from responder.mail.intake.imap import sync_inbox
from responder.core.model import Stage

log = logging.getLogger(__name__)


class Service:
    def __init__(self, cfg, repo, services: pipeline.Services | None = None,
                 clock: Callable[[], datetime] = pipeline.utcnow):
        self.cfg = cfg
        self.repo = repo
        self.clock = clock
        self.services = services or pipeline.Services.from_config(
            cfg, replied_recently=self.replied_recently)
        self.services.replied_recently = self.replied_recently
        self._pipeline_lock = threading.Lock()   # one batch through the models at a time

    def replied_recently(self, addr: str) -> bool:
        hours = self.cfg.screening.throttle_hours
        if hours <= 0 or not addr:
            return False
        return self.repo.replied_recently(addr, self.clock() - timedelta(hours=hours))

    # ---- jobs -----------------------------------------------------------------------
    def poll_inbox(self, box) -> list[int]:
        """Fetch new mail from one inbox and decide it. Returns the new message ids."""
        now = self.clock()
        try:
            result = sync_inbox(box, self.repo, now,
                                reply_deadline_hours=self.cfg.cooling.reply_deadline_hours)
        except AuthError as exc:
            log.error("%s", exc)
            self.repo.note_folder_error(box.name, box.folder, str(exc), now)
            return []
        except (ConnectError, OSError) as exc:
            log.warning("inbox %s: %s (will retry)", box.name, exc)
            self.repo.note_folder_error(box.name, box.folder, str(exc), now)
            return []
        if result.new_pks:
            self.process(result.new_pks)
        return result.new_pks

    def process(self, pks) -> None:
        with self._pipeline_lock:
            pipeline.process_stored(self.repo, self.services, pks, self.clock())

    def process_pending(self) -> int:
        """Decide anything stored but not decided (after a crash or from ingress)."""
        pks = self.repo.pks_in_stage(Stage.RECEIVED) + self.repo.pks_in_stage(Stage.SCORED)
        if pks:
            self.process(pks)
        return len(pks)

    def release_due(self) -> list[int]:
        return pipeline.release_due(self.repo, self.clock())

    def send_approved(self, only: int | None = None, resend: bool = False) -> dict:
        return sending.send_approved(self.repo, self.cfg, self.clock(), only=only,
                                     resend=resend)

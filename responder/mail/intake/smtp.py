"""SMTP ingress with aiosmtpd: a thin handler that accepts mail for the shop's
addresses, stores the exact bytes, and hands the stored id on. Nothing else runs
inside the SMTP transaction, so a slow model never makes a sender time out.
"""
from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from responder.core.clock import Clock, utcnow
from responder.core.cooling import CoolingPolicy, reply_deadline
from responder.mail.intake.imap import _message_id

if TYPE_CHECKING:
    from responder.config import Config
    from responder.store.repository import Repository

log = logging.getLogger(__name__)


class IngressHandler:
    def __init__(self, repo: Repository, accept: set[str], policy: CoolingPolicy,
                 on_stored: Callable[[int], None] | None = None,
                 clock: Clock | None = None) -> None:
        self.repo = repo
        self.accept = {a.lower() for a in accept}
        self.policy = policy
        self.on_stored = on_stored
        self.clock = clock or utcnow

    async def handle_RCPT(self, server: SMTP, session: Session, envelope: Envelope,
                          address: str, rcpt_options: list[str]) -> str:
        if address.lower() not in self.accept:
            return "550 5.1.1 No such mailbox here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        raw = envelope.original_content or envelope.content
        if raw is None:        # aiosmtpd fills both in before calling this
            log.error("ingress: a DATA command without content")
            return "451 4.3.0 Temporary failure storing the message, try again later"
        if isinstance(raw, str):
            raw = raw.encode("utf-8", "surrogateescape")
        now = self.clock()
        try:
            pk, is_new = self.repo.store_raw(
                raw, source="smtp", received_at=now,
                deadline_at=reply_deadline(now, self.policy),
                message_id=_message_id(raw), inbox=None, folder=None,
                actor=f"smtp:{session.peer[0] if session.peer else '?'}")
        except Exception:  # noqa: BLE001 - tell the sender to retry; nothing is lost
            log.exception("ingress: could not store a message")
            return "451 4.3.0 Temporary failure storing the message, try again later"
        if is_new and self.on_stored is not None:
            try:
                self.on_stored(pk)
            except Exception:  # noqa: BLE001 - stored already; the scheduler picks it up
                log.exception("ingress: message #%s stored but not queued", pk)
        return f"250 2.0.0 Stored as #{pk}"


def start_ingress(repo: Repository, cfg: Config, on_stored: Callable[[int], None] | None = None,
                  clock: Clock | None = None) -> Controller:
    """Start the ingress server in a thread. Call ``.stop()`` on the result."""
    handler = IngressHandler(repo, set(cfg.shop.addresses), CoolingPolicy.from_config(cfg),
                             on_stored=on_stored, clock=clock)
    controller = Controller(handler, hostname=cfg.ingress.host, port=cfg.ingress.port,
                            data_size_limit=cfg.ingress.max_message_bytes)
    controller.start()
    log.info("SMTP ingress listening on %s:%s for %s", cfg.ingress.host, cfg.ingress.port,
             ", ".join(sorted(handler.accept)))
    return controller

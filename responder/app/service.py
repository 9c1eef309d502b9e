"""The live service's jobs: each a plain method, so tests call them directly with an
injected clock, and the scheduler (scheduler.py) only decides when they run."""
from __future__ import annotations

import dataclasses
import logging
import threading
from collections.abc import Sequence
from dataclasses import asdict
from datetime import datetime, timedelta
from typing import Any

from imapclient.exceptions import IMAPClientError

from responder.app import conversations, deadlines
from responder.config import Config, InboxSection
from responder.core import pipeline
from responder.core.clock import Clock, utcnow
from responder.core.model import Decision, Stage
from responder.mail import sending
from responder.mail.connections import AuthError, ConnectError
from responder.mail.drafts_folder import DraftsMailbox, scan_sent
from responder.mail.intake.imap import sync_inbox
from responder.store.repository import Repository, StageConflict

log = logging.getLogger(__name__)


class Service:
    def __init__(self, cfg: Config, repo: Repository,
                 services: pipeline.Services | None = None, clock: Clock = utcnow) -> None:
        self.cfg = cfg
        self.repo = repo
        self.clock = clock
        # the models are shared with the caller; the throttle question is this store's
        # (a copy, so that a caller's Services is never rebound to this repository)
        self.services = dataclasses.replace(
            services or pipeline.Services.from_config(cfg),
            replied_recently=self.replied_recently)
        self._pipeline_lock = threading.Lock()   # one batch through the models at a time
        # the Drafts folder follows every draft made, changed or settled (drafts_to_folder)
        self.drafts = DraftsMailbox(repo, cfg, clock)

    def replied_recently(self, addr: str) -> bool:
        hours = self.cfg.screening.throttle_hours
        if hours <= 0 or not addr:
            return False
        return self.repo.replied_recently(addr, self.clock() - timedelta(hours=hours))

    # ---- jobs -----------------------------------------------------------------------
    def poll_inbox(self, box: InboxSection) -> list[int]:
        """Fetch new mail from one inbox and decide it. Returns the new message ids."""
        now = self.clock()
        try:
            result = sync_inbox(box, self.repo, now,
                                policy=self.services.policy)
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
        self.scan_sent(box)
        return result.new_pks

    def scan_sent(self, box: InboxSection, client: Any = None) -> list[int]:
        """Replies a rep sent from their own mail program (new in the inbox's Sent
        folder) settle the messages they answer. Failures are logged (next sync retries)."""
        try:
            return scan_sent(self.repo, self.cfg, box, self.clock(), client=client)
        except (AuthError, ConnectError, OSError, IMAPClientError) as exc:
            log.warning("inbox %s: Sent folder not scanned now: %s", box.name, exc)
            return []

    def process(self, pks: Sequence[int]) -> None:
        with self._pipeline_lock:
            superseded = process_stored(self.repo, self.services, pks, self.clock())
        if self.drafts.enabled:
            self.drafts.changed([pk for pk in pks
                                 if self.repo.get(pk).stage == Stage.DRAFTED.value]
                                + superseded)

    def process_pending(self) -> int:
        """Decide anything stored but not decided (after a crash or from ingress)."""
        pks = self.repo.pks_in_stage(Stage.RECEIVED) + self.repo.pks_in_stage(Stage.SCORED)
        if pks:
            self.process(pks)
        return len(pks)

    def release_due(self) -> list[int]:
        released = release_due(self.repo, self.clock())
        self.drafts.changed(released)
        return released

    def send_approved(self, only: int | None = None, resend: bool = False,
                      actor: str = "system") -> dict[str, int]:
        """Send approved replies; settle interrupted sends (never resending them).
        ``resend`` is a person's explicit decision for message ``only``, under ``actor``."""
        return sending.send_approved(self.repo, self.cfg, self.clock(), only=only,
                                     resend=resend, actor=actor, clock=self.clock)

    def send_due(self) -> dict[str, int]:
        """Send the approved replies that are due now (just approved, or their backoff
        over); nothing, and no connection, when none is (the scheduler's send-due job)."""
        return sending.send_due(self.repo, self.cfg, self.clock(), clock=self.clock)

    # the deadline watch and the owner's digest (app/deadlines.py)
    def watch_deadlines(self) -> deadlines.WatchResult:
        """Escalate unapproved drafts near their deadline (marked, first in every queue,
        one notice to the owner, sent exactly once); record missed deadlines."""
        return deadlines.watch_deadlines(self.repo, self.cfg, self.clock,
                                         renderer=self.services.renderer)

    def send_digest(self) -> bool:
        """Queue and send today's owner digest (once per local day)."""
        return deadlines.send_digest(self.repo, self.cfg, self.clock,
                                     renderer=self.services.renderer)


# ---- applying decisions to the store ----------------------------------------------------

def process_stored(repo: Repository, svc: pipeline.Services, pks: Sequence[int],
                   now: datetime) -> list[int]:
    """Decide every stored message in ``pks`` (stage received) and record the outcome,
    each in its conversation (app/conversations.py). Returns the messages whose drafts
    were superseded (the customer wrote again)."""
    rows = [repo.get(pk) for pk in pks]
    # SCORED is transient: a crash between scoring and holding/drafting leaves a
    # message there, and deciding it again is safe (the decision is repeatable).
    rows = [row for row in rows if row.stage in (Stage.RECEIVED.value, Stage.SCORED.value)]
    if not rows:
        return []
    decisions = pipeline.decide([row.raw for row in rows], svc, now,
                                received_at=[row.received_at for row in rows],
                                deadline_at=[row.deadline_at for row in rows])
    superseded: list[int] = []
    # in order of arrival: a follow-up finds its conversation's earlier message decided
    for row, decision in sorted(zip(rows, decisions), key=lambda p: (p[0].received_at,
                                                                     p[0].id)):
        joined = conversations.join(repo, svc, row, decision, now)
        apply_decision(repo, row.id, joined.decision, now, extra=joined.fields)
        if joined.note:
            repo.record(row.id, actor="system", action="conversation", reason=joined.note,
                        now=now)
        superseded += joined.superseded
    return superseded


def apply_decision(repo: Repository, pk: int, d: Decision, now: datetime,
                   extra: dict[str, Any] | None = None) -> Stage:
    """Record one decision: quarantined, skipped, held or drafted, with the reason.
    ``extra``: more columns to set with it (the conversation's, app/conversations.py)."""
    expect = [Stage.RECEIVED, Stage.SCORED]
    common: dict[str, Any] = {}     # column name -> value, for Repository.transition
    if d.parsed is not None:
        common = dict(from_addr=d.parsed.from_addr, customer_addr=d.parsed.customer_addr,
                      subject=d.parsed.subject, language=d.parsed.language)
    common.update(extra or {})
    if d.error is not None:     # d.quarantined, spelled so that mypy narrows d.error
        repo.transition(pk, Stage.QUARANTINED, actor="system", action="quarantined",
                        reason=d.error, now=now, expect=expect, error=d.error, **common)
        return Stage.QUARANTINED
    if d.skip is not None:
        repo.transition(pk, Stage.SKIPPED, actor="system", action="screened",
                        reason=f"{d.skip.rule}: {d.skip.reason}", now=now, expect=expect,
                        skip_rule=d.skip.rule, skip_reason=d.skip.reason, **common)
        return Stage.SKIPPED
    h, i = d.hostility, d.intent
    verdicts: dict[str, Any] = dict(hostility=h.score if h else None,
                    hostility_labels=h.labels if h else None,
                    hostility_evidence=h.evidence if h else None,
                    intent=i.intent if i else None,
                    intent_confidence=i.confidence if i else None,
                    model_version=d.model_version,
                    reputation_threats=[asdict(t) for t in d.threats])
    repo.transition(pk, Stage.SCORED, actor="system", action="scored",
                    reason=(f"hostility {h.score:.2f}" if h else "no score")
                    + (f", intent {i.intent} ({i.confidence:.0%})" if i else ""),
                    now=now, expect=expect, **common, **verdicts)
    if d.hold is not None and d.hold.release_at > now:
        repo.transition(pk, Stage.HELD, actor="system", action="held", reason=d.hold.reason,
                        now=now, expect=[Stage.SCORED], draft=d.draft,
                        release_at=d.hold.release_at, hold_band=d.hold.band or None,
                        hold_rule=d.hold.rule or None)
        return Stage.HELD
    if d.draft is None:   # not quarantined, skipped nor held: the pipeline made a draft
        raise ValueError(f"message #{pk}: the decision has no draft to store")
    repo.transition(pk, Stage.DRAFTED, actor="system", action="drafted",
                    reason=f"template {d.draft.template}"
                    + (f"; {d.hold.reason}, already due" if d.hold else ""),
                    now=now, expect=[Stage.SCORED], draft=d.draft,
                    release_at=d.hold.release_at if d.hold else None,
                    hold_band=(d.hold.band or None) if d.hold else None,
                    hold_rule=(d.hold.rule or None) if d.hold else None)
    return Stage.DRAFTED


def release_due(repo: Repository, now: datetime) -> list[int]:
    """Held messages whose cooling-off has ended become drafts ready for a rep."""
    released = []
    for pk in repo.due_releases(now):
        try:
            repo.transition(pk, Stage.DRAFTED, actor="scheduler", action="released",
                            reason="cooling-off period over", now=now, expect=[Stage.HELD])
            released.append(pk)
        except StageConflict:
            log.info("message #%s was moved by someone else before release", pk)
    return released

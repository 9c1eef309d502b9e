"""Send approved replies at most once; copy to Sent; flag the original \\Answered.

States (``Stage``) and who moves a reply between them::

    approved --claim (one conditional UPDATE, committed before SMTP)--> sending
    sending  --server answered 250----------------------------------> sent
    sending  --definite refusal 4xx / no connection-----------------> approved (retried)
    sending  --definite refusal 5xx---------------------------------> drafted (rep)
    sending  --interrupted, reply found in the Sent folder-----------> sent
    sending  --interrupted, not found (or cannot look)--------------> uncertain
    uncertain --found in the Sent folder on a later run-------------> sent
    uncertain --``responder send --resend ID`` (a person, named)----> sending
    uncertain --``responder send --mark-sent ID`` (a person)---------> sent

No automatic path sends a reply that is in ``sending`` or ``uncertain``: the send
job, ``responder send``, ``approve`` and a restart only claim ``approved`` replies,
and the claim is a compare-and-set, so the scheduler and a CLI ``send`` running at
the same moment cannot both send one. A run that finds a reply in ``sending`` treats
it as interrupted only when provably nobody is still working on it: the owner
recorded with the claim ("host:pid:token") is a process on this host that no longer
exists, or the claim is older than ``sending_grace`` (ten SMTP timeouts plus a minute:
a live sender's every socket step is bounded by ``smtp.timeout_seconds``). A lost
connection after the server's 354 (the message may be in the server's hands) is
handled like an interruption, never like a temporary failure.

An uncertain reply is looked for by its Message-ID in its inbox's Sent folder on
every run (a rep may have sent it by hand, a provider such as Gmail files sent mail
itself, possibly late), and marked sent when found.
"""
from __future__ import annotations

import logging
import os
import secrets
import signal
import smtplib
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage
from typing import Any

from imapclient.exceptions import IMAPClientError
from sqlalchemy import select

from responder.core import conversation, parsing
from responder.core.drafting import reply_email
from responder.core.model import Stage
from responder.mail.connections import (
    AuthError,
    ConnectError,
    close_imap,
    close_smtp,
    connect_imap,
    connect_smtp,
    find_special_folder,
)
from responder.providers import sent_fallbacks, server_saves_sent
from responder.store.tables import DraftRow, MessageRow

log = logging.getLogger(__name__)

# The free-text marker older versions kept in drafts.send_error on an approved reply
# while sending. Migration 0002 moves such replies to stage "sending"; a reply that
# still carries it is treated as an interrupted send (never sent again automatically).
IN_PROGRESS = "sending: outcome not yet known"

# TEST-ONLY crash points (see _failpoint). Read from the environment, never from config.
FAILPOINT_ENV = "RESPONDER_TEST_KILL_AT"
FAILPOINTS = ("after-marker", "after-250")

Clock = Callable[[], datetime]

# after a temporary SMTP failure a reply waits BACKOFF_FIRST, then twice as long after
# each further one, at most BACKOFF_MAX, before the automatic path tries it again
BACKOFF_FIRST = timedelta(minutes=1)
BACKOFF_MAX = timedelta(hours=1)
TEMPORARY = "temporary send failure"


def retry_delay(attempts: int, first: timedelta = BACKOFF_FIRST,
                cap: timedelta = BACKOFF_MAX) -> timedelta:
    """The wait after the ``attempts``-th failed attempt: first, 2x, 4x ... capped."""
    return min(first * (2 ** max(attempts - 1, 0)), cap) if attempts > 0 else timedelta(0)


def next_attempt_at(draft: Any) -> datetime | None:
    """When the automatic path may try an approved reply again after a temporary
    failure (None: at once). The failure time is the draft's last update (set by the
    failure; an approved draft is not edited)."""
    if not draft.send_error or not draft.send_error.startswith(TEMPORARY):
        return None
    attempts = draft.send_attempts or 0
    if attempts <= 0 or draft.updated_at is None:
        return None
    when: datetime = draft.updated_at + retry_delay(attempts)
    return when


def next_send_due(repo: Any, now: datetime) -> datetime | None:
    """When the automatic path next has an approved reply to send: the earliest end
    of a backoff, or ``now`` when a reply is due already (approved, not backing off);
    None when no reply is approved. One small query, no message bodies: the
    scheduler's ``send-due`` job asks this every ``scheduler.send_check_seconds`` and
    opens an SMTP connection only when something is due."""
    with repo.session() as s:
        rows = list(s.execute(
            select(DraftRow.send_error, DraftRow.send_attempts, DraftRow.updated_at)
            .join(MessageRow, MessageRow.id == DraftRow.message_pk)
            .where(MessageRow.stage == Stage.APPROVED.value)))
    earliest: datetime | None = None
    for row in rows:
        when = next_attempt_at(row)
        when = now if when is None or when < now else when
        earliest = when if earliest is None else min(earliest, when)
    return earliest


def send_due(repo: Any, cfg: Any, now: datetime, *,
             clock: Clock | None = None) -> dict[str, int]:
    """Send the approved replies that are due (their backoff over), nothing else: the
    full run (``send_approved``, every ``scheduler.send_retry_seconds``) also settles
    interrupted sends and looks in the Sent folder for uncertain ones. Returns counts
    by outcome, like ``send_approved``; empty when nothing was due (no connection)."""
    due = next_send_due(repo, now)
    if due is None or due > now:
        return {}
    tick: Clock = clock or (lambda: now)
    outcome = {"sent": 0, "failed": 0, "unknown": 0}
    for pk in repo.pks_in_stage(Stage.APPROVED):
        result = _step(repo, cfg, pk, tick, backoff=True)
        if result is not None:
            outcome[result] += 1
    return outcome


class SendRefused(Exception):
    """A rep's send request that cannot be carried out now; the message says why."""


def new_reply_message_id(domain: str) -> str:
    """A unique, short Message-ID (short enough never to be folded on its header line)."""
    return f"<{secrets.token_hex(10)}.{int(time.time())}@{domain}>"


def build_reply(draft: Any, loop_header_value: str) -> EmailMessage:
    """The reply message a rep approved. Human mail: no Auto-Submitted header."""
    return reply_email(draft, loop_header_value=loop_header_value, date=draft.approved_at,
                       message_id=draft.reply_message_id)


def sending_grace(smtp_timeout_seconds: float) -> timedelta:
    """How long a claim in stage ``sending`` may be owned by a live sender.

    Connect, TLS, login, MAIL, RCPT, DATA, the message, and the final answer are each
    bounded by the SMTP timeout; ten of them plus a minute covers a slow but live send.
    """
    return timedelta(seconds=10 * smtp_timeout_seconds + 60)


# ---- the automatic path ------------------------------------------------------------------

def send_approved(repo: Any, cfg: Any, now: datetime, *, only: int | None = None,
                  resend: bool = False, actor: str = "system",
                  clock: Clock | None = None) -> dict[str, int]:
    """One send run: settle interrupted sends, look again for uncertain ones, send
    every approved reply (or only message ``only``). Returns counts by outcome:
    ``sent``, ``failed``, ``unknown`` (replies waiting for a person).

    ``resend`` (with ``only``) is a person's explicit decision, recorded under ``actor``.
    ``clock`` gives the time for each message (default: ``now`` throughout).
    """
    tick: Clock = clock or (lambda: now)
    outcome = {"sent": 0, "failed": 0, "unknown": 0}
    if resend:
        if only is None:
            raise ValueError("resend needs the message id")
        outcome[resend_one(repo, cfg, only, actor=actor, clock=tick)] += 1
        return outcome
    if only is not None:
        pks = [only]
    else:
        pks = (repo.pks_in_stage(Stage.SENDING) + repo.pks_in_stage(Stage.UNCERTAIN)
               + repo.pks_in_stage(Stage.APPROVED))
    for pk in pks:
        result = _step(repo, cfg, pk, tick, backoff=only is None)
        if result is not None:
            outcome[result] += 1
    return outcome


def _step(repo: Any, cfg: Any, pk: int, tick: Clock, backoff: bool = True) -> str | None:
    row = repo.get(pk)
    if row.draft is None:
        return None
    now = tick()
    if row.stage == Stage.SENDING.value:
        if not is_interrupted(row, cfg, now):
            return None                       # a live sender is on it
        return _settle(repo, cfg, row, now, Stage.SENDING, _interrupted_cause(row))
    if row.stage == Stage.UNCERTAIN.value:
        return _look_again(repo, cfg, row, now)
    if row.stage == Stage.APPROVED.value:
        if row.draft.send_error == IN_PROGRESS:
            return _settle(repo, cfg, row, now, Stage.APPROVED,
                           "an older responder was interrupted while sending")
        due = next_attempt_at(row.draft) if backoff else None
        if due is not None and now < due:
            return None                       # backing off after a temporary failure
        waiting = followup_waiting(repo, cfg, row)
        if waiting is not None:
            log.info("message #%s: not sent now: %s", pk, waiting)
            return None                       # deciding it supersedes this reply
        return _send_one(repo, cfg, row, tick, expect=Stage.APPROVED, actor="system",
                         action="sending", why="sending")
    return None


def followup_waiting(repo: Any, cfg: Any, row: Any) -> str | None:
    """Is a message of this reply's conversation stored but not yet decided (the
    customer wrote again)? Then the approved reply is not sent now: deciding that
    message supersedes it (app/conversations.py) and the claim below, a
    compare-and-set on stage ``approved``, then fails. Returns why, or None."""
    pending = repo.pks_in_stage(Stage.RECEIVED) + repo.pks_in_stage(Stage.SCORED)
    if not pending:
        return None
    cid = getattr(row, "conversation_id", None) or row.id
    members = repo.conversation(cid) if getattr(row, "conversation_id", None) else [row]
    known = [conversation.known(cid, message_id=m.message_id, sender=m.customer_addr,
                                subject=m.subject, order_number=m.order_number,
                                received_at=m.received_at,
                                reply_id=m.draft.reply_message_id if m.draft else None)
             for m in members]
    span = timedelta(days=cfg.conversations.window_days)
    for pk in pending:
        other = repo.get(pk)
        try:
            parsed = parsing.parse(other.raw)
        except parsing.ParseError:
            continue                          # it will be quarantined, not answered
        if conversation.match(conversation.keys_of(parsed, other.received_at), known, span):
            return (f"the customer wrote again (#{pk}, not yet decided): its conversation "
                    "gets one new reply")
    return None


def is_interrupted(row: Any, cfg: Any, now: datetime) -> bool:
    """Is the reply in stage ``sending`` provably no longer being sent by anyone?"""
    draft = row.draft
    if _owner_gone(draft.send_owner):
        return True
    started = draft.send_started_at or row.updated_at
    return bool(now - started > sending_grace(cfg.smtp.timeout_seconds))


def _owner_token() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"


def _owner_gone(owner: str | None) -> bool:
    """True only when ``owner`` names a process on this host that no longer exists.

    Anything else (another host, an unreadable owner, a live or reused pid, our own
    process) is not proof; the caller then waits for ``sending_grace``.
    """
    if not owner:
        return False
    parts = owner.rsplit(":", 2)
    if len(parts) != 3 or parts[0] != socket.gethostname() or not parts[1].isdigit():
        return False
    pid = int(parts[1])
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:       # exists, belongs to someone else
        return False
    return False


def _interrupted_cause(row: Any) -> str:
    d = row.draft
    started = d.send_started_at or row.updated_at
    who = ("an older version of responder" if d.send_owner == "legacy"
           else d.send_owner or "?")
    return (f"the send started {started:%Y-%m-%d %H:%M:%S} UTC by {who} "
            "was interrupted before the server's answer was recorded")


# ---- one send ----------------------------------------------------------------------------

@dataclass
class _Progress:
    handed_over: bool = False     # the server said 354: from here on it may have the message


def _transmit(client: smtplib.SMTP, msg: EmailMessage, from_addr: str, to_addr: str,
              progress: _Progress) -> None:
    read_reply = client.getreply

    def getreply() -> tuple[int, bytes]:
        code, text = read_reply()
        if code == 354:
            progress.handed_over = True
        return code, text

    client.getreply = getreply  # type: ignore[method-assign]
    client.send_message(msg, from_addr=from_addr, to_addrs=[to_addr])


def _send_one(repo: Any, cfg: Any, row: Any, tick: Clock, *, expect: Stage, actor: str,
              action: str, why: str) -> str | None:
    draft = row.draft
    msg = build_reply(draft, cfg.screening.loop_header_value)
    owner = _owner_token()
    attempt = (draft.send_attempts or 0) + 1
    now = tick()
    claimed = repo.compare_and_set(
        row.id, expect, Stage.SENDING, actor=actor, action=action,
        reason=f"{why}: reply {draft.reply_message_id} to {cfg.smtp.host}:{cfg.smtp.port} "
               f"(attempt {attempt}, {owner})",
        now=now, draft_fields={"send_owner": owner, "send_started_at": now,
                                   "send_attempts": attempt, "send_error": None})
    if not claimed:
        log.info("message #%s: another sender took it first", row.id)
        return None
    _failpoint("after-marker")
    progress = _Progress()
    try:
        client = connect_smtp(cfg.smtp)
        try:
            _transmit(client, msg, draft.from_addr, draft.to_addr, progress)
            _failpoint("after-250")
        finally:
            close_smtp(client)
    except (ConnectError, AuthError, smtplib.SMTPException, OSError) as exc:
        now = tick()
        if progress.handed_over and not isinstance(exc, smtplib.SMTPResponseException):
            # no answer to the message itself: the server may have it
            fresh = repo.get(row.id)
            cause = (f"the connection to {cfg.smtp.host}:{cfg.smtp.port} failed after the "
                     f"message was handed over ({exc})")
            return _settle(repo, cfg, fresh, now, Stage.SENDING, cause, owner=owner)
        return _failed(repo, row, owner, exc, now)
    now = tick()
    _mark_sent(repo, row, owner, now, f"accepted by {cfg.smtp.host}:{cfg.smtp.port}")
    _after_send(repo, cfg, row, msg, now)
    return "sent"


def is_permanent(exc: BaseException) -> bool:
    """A definite failure that retrying will not mend: the recipient refused, a login
    refused, or any 5xx answer. Everything else (4xx, no connection) is temporary."""
    return isinstance(exc, (smtplib.SMTPRecipientsRefused, AuthError)) or (
        isinstance(exc, smtplib.SMTPResponseException) and 500 <= exc.smtp_code < 600)


def _failed(repo: Any, row: Any, owner: str, exc: Exception, now: datetime) -> str:
    """A definite failure: the server did not take the message."""
    permanent = is_permanent(exc)
    text = f"{'permanent' if permanent else 'temporary'} send failure: {exc}"
    log.warning("message #%s: %s", row.id, text)
    wait = retry_delay((row.draft.send_attempts or 0) + 1)
    to, reason = ((Stage.DRAFTED, f"back to the queue: {text}") if permanent
                  else (Stage.APPROVED, f"{text} (tried again after "
                                        f"{(now + wait):%Y-%m-%d %H:%M:%S} UTC)"))
    fields = {"send_error": text, "send_owner": None, "send_started_at": None}
    for frm in (Stage.SENDING, Stage.UNCERTAIN):   # uncertain: another run gave up early
        if repo.compare_and_set(row.id, frm, to, actor="system", action="send-failed",
                                reason=reason, now=now, send_owner=owner,
                                draft_fields=fields):
            break
    else:
        repo.record(row.id, actor="system", action="send-failed", reason=text, now=now)
    return "failed"


def _mark_sent(repo: Any, row: Any, owner: str | None, now: datetime, why: str,
               expect: tuple[Stage, ...] = (Stage.SENDING, Stage.UNCERTAIN),
               actor: str = "system") -> bool:
    fields = {"send_error": None, "sent_at": now}
    for frm in expect:
        if repo.compare_and_set(row.id, frm, Stage.SENT, actor=actor, action="sent",
                                reason=f"{row.draft.reply_message_id} {why}", now=now,
                                send_owner=owner, draft_fields=fields):
            return True
    log.warning("message #%s changed stage while sending", row.id)
    return False


# ---- interrupted and uncertain sends ---------------------------------------------------

@dataclass
class SentCheck:
    found: bool
    detail: str               # what was looked at, for the rep
    hint: str                 # what a person should check


def look_in_sent(cfg: Any, row: Any) -> SentCheck:
    """Look for the reply's Message-ID in the Sent folder of the message's inbox."""
    mid = row.draft.reply_message_id
    elsewhere = (f"look for Message-ID {mid} in the log or queue of the SMTP server "
                 f"{cfg.smtp.host}, or ask the customer")
    box = _inbox_for(cfg, row)
    if box is None:
        where = f"inbox {row.inbox!r} is not configured" if row.inbox else "no inbox"
        return SentCheck(False, f"no Sent folder to look in ({where})", elsewhere)
    try:
        client = connect_imap(box)
    except (ConnectError, AuthError) as exc:
        return SentCheck(False, f"could not look in the Sent folder of {box.name}: {exc} "
                                "(looked for again on every run)", elsewhere)
    try:
        sent = box.sent_folder or find_special_folder(client, b"\\Sent", sent_fallbacks(box))
        if not sent:
            return SentCheck(False, f"inbox {box.name} has no Sent folder", elsewhere)
        client.select_folder(sent, readonly=True)
        found = bool(client.search(["HEADER", "Message-ID", mid]))
    except (IMAPClientError, OSError) as exc:
        return SentCheck(False, f"could not look in the Sent folder of {box.name}: {exc} "
                                "(looked for again on every run)", elsewhere)
    finally:
        close_imap(client)
    where = f"{box.name}/{sent}"
    if found:
        return SentCheck(True, f"found in {where}", "")
    if server_saves_sent(box):
        return SentCheck(False, f"not in {where} (looked for again on every run)",
                         "the provider files sent mail in Sent itself, so it most likely "
                         "did not go out; allow a few minutes in case it is filed late")
    return SentCheck(False, f"not in {where} (looked for again on every run)",
                     "responder copies a reply to Sent only after the server accepted it, "
                     f"so its absence there proves nothing: {elsewhere}")


def uncertain_text(pk: int, row: Any, cause: str, check: SentCheck) -> str:
    d = row.draft
    return (f"UNCERTAIN: {cause}; reply {d.reply_message_id} to {d.to_addr} may or may not "
            f"have gone out. Sent folder: {check.detail}. Check: {check.hint}. Then run "
            f"'responder send --resend {pk}' if it did not go out, or "
            f"'responder send --mark-sent {pk}' if it did.")


def _settle(repo: Any, cfg: Any, row: Any, now: datetime, expect: Stage, cause: str,
            owner: str | None = None) -> str | None:
    """An interrupted send: sent if the Sent folder has it, else uncertain. Never sends."""
    owner = owner if owner is not None else (
        row.draft.send_owner if expect == Stage.SENDING else None)
    check = look_in_sent(cfg, row)
    if check.found:
        done = _mark_sent(repo, row, owner, now, f"{check.detail} after an interrupted send",
                          expect=(expect,))
        return "sent" if done else None
    text = uncertain_text(row.id, row, cause, check)
    log.warning("message #%s: %s", row.id, text)
    if repo.compare_and_set(row.id, expect, Stage.UNCERTAIN, actor="system",
                            action="send-uncertain",
                            reason=f"{cause}; not sent again until a person decides",
                            now=now, send_owner=owner, draft_fields={"send_error": text}):
        return "unknown"
    return None


def _look_again(repo: Any, cfg: Any, row: Any, now: datetime) -> str:
    check = look_in_sent(cfg, row)
    if check.found and _mark_sent(repo, row, None, now, f"{check.detail} (was uncertain)",
                                  expect=(Stage.UNCERTAIN,)):
        return "sent"
    return "unknown"


# ---- a person's decisions ------------------------------------------------------------------

def resend_one(repo: Any, cfg: Any, pk: int, *, actor: str, clock: Clock) -> str:
    """A person checked an uncertain (or approved) reply and asks to send it.

    The Sent folder is looked at once more first: a reply found there is marked sent,
    not sent again. Raises SendRefused when the reply cannot be sent now.
    """
    try:
        row = repo.get(pk)
    except KeyError:
        raise SendRefused(f"no message #{pk}") from None
    if row.draft is None or not row.draft.reply_message_id:
        raise SendRefused(f"message #{pk} has no approved reply")
    now = clock()
    if row.stage == Stage.SENDING.value:
        if not is_interrupted(row, cfg, now):
            raise SendRefused(
                f"message #{pk} is being sent right now by {row.draft.send_owner} (since "
                f"{(row.draft.send_started_at or row.updated_at):%H:%M:%S} UTC); wait for "
                "the outcome")
        if _settle(repo, cfg, row, now, Stage.SENDING, _interrupted_cause(row)) == "sent":
            return "sent"
        row = repo.get(pk)
    elif row.stage == Stage.APPROVED.value and row.draft.send_error == IN_PROGRESS:
        if _settle(repo, cfg, row, now, Stage.APPROVED,
                   "an older responder was interrupted while sending") == "sent":
            return "sent"
        row = repo.get(pk)
    if row.stage == Stage.UNCERTAIN.value:
        check = look_in_sent(cfg, row)
        if check.found:
            _mark_sent(repo, row, None, now, f"{check.detail}: not sent again",
                       expect=(Stage.UNCERTAIN,))
            return "sent"
        result = _send_one(repo, cfg, row, clock, expect=Stage.UNCERTAIN, actor=actor,
                           action="resend", why=f"{actor} checked and resends")
    elif row.stage == Stage.APPROVED.value:
        waiting = followup_waiting(repo, cfg, row)
        if waiting is not None:
            raise SendRefused(f"message #{pk} is not sent now: {waiting}")
        result = _send_one(repo, cfg, row, clock, expect=Stage.APPROVED, actor=actor,
                           action="sending", why=f"sent now by {actor}")
    else:
        raise SendRefused(f"message #{pk} is {row.stage}: only an uncertain or approved "
                          "reply can be resent")
    if result is None:
        raise SendRefused(f"message #{pk} was taken by another sender just now")
    return result


def mark_sent(repo: Any, pk: int, *, actor: str, now: datetime, note: str = "") -> None:
    """A person confirmed an uncertain reply did go out (seen in a log, by the customer)."""
    try:
        row = repo.get(pk)
    except KeyError:
        raise SendRefused(f"no message #{pk}") from None
    if row.stage != Stage.UNCERTAIN.value:
        raise SendRefused(f"message #{pk} is {row.stage}: only an uncertain send can be "
                          "marked sent")
    if not _mark_sent(repo, row, None, now,
                      f"confirmed sent by {actor}" + (f": {note}" if note else ""),
                      expect=(Stage.UNCERTAIN,), actor=actor):
        raise SendRefused(f"message #{pk} changed stage just now; look again")


# ---- test-only crash points --------------------------------------------------------------

def _failpoint(name: str) -> None:
    """TEST-ONLY: SIGKILL this process at the named point of a send.

    tests/test_send_crash.py sets $RESPONDER_TEST_KILL_AT to "after-marker" (claim
    committed, SMTP not started) or "after-250" (server accepted, not yet recorded) in
    the environment of a ``responder send`` subprocess. There is no config key for it;
    unset, this does nothing.
    """
    if os.environ.get(FAILPOINT_ENV) == name:
        log.warning("%s=%s: killing this process (test-only failpoint)", FAILPOINT_ENV, name)
        os.kill(os.getpid(), signal.SIGKILL)


# ---- shared with the owner-notice outbox (mail/notices.py) -----------------------------------
# The same claim owner, proof of a dead owner and test-only crash points for every
# exactly-once sender.
owner_token = _owner_token
owner_gone = _owner_gone
failpoint = _failpoint


# ---- after the send ------------------------------------------------------------------------

def _inbox_for(cfg: Any, row: Any) -> Any:
    for box in cfg.inbox:
        if box.name == row.inbox:
            return box
    return None


def _after_send(repo: Any, cfg: Any, row: Any, msg: EmailMessage, now: datetime) -> None:
    """Copy to Sent and flag the original \\Answered; failures are recorded, not fatal."""
    box = _inbox_for(cfg, row)
    if box is None:
        return
    try:
        client = connect_imap(box)
    except (ConnectError, AuthError) as exc:
        repo.record(row.id, actor="system", action="imap-after-send-failed",
                    reason=str(exc), now=now)
        return
    try:
        sent = box.sent_folder or find_special_folder(client, b"\\Sent", ("Sent", "Sent Items"))
        copied = f"copied to {sent}" if sent else "no Sent folder found"
        if sent and server_saves_sent(box):
            # e.g. Gmail files mail sent through it in Sent itself: no second copy
            copied = f"no copy appended to {sent} (the provider files it; sent_copy)"
        elif sent:
            client.append(sent, msg.as_bytes(), flags=[b"\\Seen"], msg_time=now)
        info = client.select_folder(row.folder or box.folder)
        uids = []
        if row.uid is not None and info.get(b"UIDVALIDITY") == row.uidvalidity:
            uids = [row.uid]
        elif row.message_id:
            uids = client.search(["HEADER", "Message-ID", row.message_id])
        if uids:
            client.add_flags(uids, [b"\\Answered"])
        repo.record(row.id, actor="system", action="imap-after-send",
                    reason=copied
                    + (", original flagged \\Answered" if uids else ", original not found"),
                    now=now)
    except Exception as exc:  # noqa: BLE001 - the reply is out; this is bookkeeping
        log.warning("message #%s: after-send IMAP step failed: %s", row.id, exc)
        repo.record(row.id, actor="system", action="imap-after-send-failed",
                    reason=str(exc), now=now)
    finally:
        close_imap(client)

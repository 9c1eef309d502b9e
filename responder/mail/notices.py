"""Send the owner-notice outbox (deadline notices, the daily digest) exactly once.

The discipline of ``mail/sending.py``, with one more marker. Each notice::

    pending --claim (conditional UPDATE, committed before SMTP)--> sending
    sending --MAIL and RCPT accepted: data_at recorded, then DATA--> (server may have it)
    sending --server answered 250----------------------------------> sent
    sending --definite refusal 4xx / no connection-----------------> pending (retried,
                                                                     backing off)
    sending --definite refusal 5xx---------------------------------> failed
    sending --interrupted before data_at---------------------------> pending (provably
                                                                     never handed over)
    sending --interrupted after data_at----------------------------> uncertain (a person
                                                                     decides: responder
                                                                     notices --resend /
                                                                     --mark-sent)

A run treats a notice in ``sending`` as interrupted only when provably nobody is
still on it (its owner was a process on this host that no longer exists, or the
claim is older than ``sending_grace``), exactly as replies are judged. Because
``data_at`` is committed before the DATA command is issued, a crash between the
claim and the DATA command is safe to repeat: the server never had the message.
The Message-ID is chosen when the notice is queued and never changes.
"""
from __future__ import annotations

import logging
import smtplib
from datetime import datetime
from email.generator import BytesGenerator
from email.message import EmailMessage
from email.utils import format_datetime
from io import BytesIO

from responder.config import Config
from responder.core.clock import Clock
from responder.mail.connections import AuthError, ConnectError, close_smtp, connect_smtp
from responder.mail.sending import (
    TEMPORARY,
    failpoint,
    is_permanent,
    owner_gone,
    owner_token,
    retry_delay,
    sending_grace,
)
from responder.store import notices as outbox
from responder.store.repository import Repository
from responder.store.tables import NoticeRow

log = logging.getLogger(__name__)


def build_notice(row: NoticeRow, loop_header_value: str, date: datetime) -> EmailMessage:
    """The e-mail of one notice. Sent without a human: ``Auto-Submitted:
    auto-generated`` (RFC 3834 section 5), our loop header, no auto-replies wanted."""
    msg = EmailMessage()
    msg["From"] = row.from_addr
    msg["To"] = row.to_addr
    msg["Subject"] = row.subject
    msg["Date"] = format_datetime(date)
    msg["Message-ID"] = row.message_id
    msg["Auto-Submitted"] = "auto-generated"
    msg["X-Auto-Response-Suppress"] = "All"
    msg["X-Loop"] = loop_header_value
    msg.set_content(row.body)
    return msg


def _wire(msg: EmailMessage) -> bytes:
    out = BytesIO()
    BytesGenerator(out, policy=msg.policy.clone(linesep="\r\n")).flatten(msg)
    return out.getvalue()


def is_interrupted(row: NoticeRow, cfg: Config, now: datetime) -> bool:
    if owner_gone(row.owner):
        return True
    started = row.started_at or row.updated_at
    return now - started > sending_grace(cfg.smtp.timeout_seconds)


def next_attempt_at(row: NoticeRow) -> datetime | None:
    if not row.error or not row.error.startswith(TEMPORARY) or not row.attempts:
        return None
    when: datetime = row.updated_at + retry_delay(row.attempts)
    return when


def send_notices(repo: Repository, cfg: Config, clock: Clock,
                 only: int | None = None) -> dict[str, int]:
    """One outbox run: settle interrupted notices, then send every pending one (or only
    notice ``only``). Returns counts: sent, failed, unknown (waiting for a person)."""
    outcome = {"sent": 0, "failed": 0, "unknown": 0}
    for nid in outbox.ids_in(repo, [outbox.SENDING]):
        if only is not None and nid != only:
            continue
        row = outbox.get(repo, nid)
        now = clock()
        if not is_interrupted(row, cfg, now):
            continue                              # a live sender is on it
        if row.data_at is None:
            outbox.move(repo, nid, outbox.SENDING, outbox.PENDING, now, held_by=row.owner,
                        owner=None, error="interrupted before the DATA command: the server "
                                          "never had it; sent again")
            log.info("notice #%s: interrupted before DATA; queued again", nid)
        elif outbox.move(repo, nid, outbox.SENDING, outbox.UNCERTAIN, now, held_by=row.owner,
                         error=uncertain_text(row)):
            log.warning("notice #%s: %s", nid, uncertain_text(row))
            outcome["unknown"] += 1
    for nid in outbox.ids_in(repo, [outbox.PENDING]):
        if only is not None and nid != only:
            continue
        row = outbox.get(repo, nid)
        due = next_attempt_at(row)
        if only is None and due is not None and clock() < due:
            continue                              # backing off after a temporary failure
        result = send_one(repo, cfg, row, clock)
        if result is not None:
            outcome[result] += 1
    return outcome


def uncertain_text(row: NoticeRow) -> str:
    return (f"UNCERTAIN: the send started {row.started_at or row.updated_at:%Y-%m-%d %H:%M:%S} "
            f"UTC was interrupted after the message was handed to the server; notice "
            f"{row.message_id} to {row.to_addr} may or may not have gone out. Ask the owner, "
            f"then run 'responder notices --resend {row.id}' or 'responder notices "
            f"--mark-sent {row.id}'.")


def send_one(repo: Repository, cfg: Config, row: NoticeRow, clock: Clock,
             expect: str = outbox.PENDING) -> str | None:
    """Claim and send one notice. None when another sender took it first."""
    owner = owner_token()
    if not outbox.claim(repo, row.id, owner, clock(), expect=expect):
        log.info("notice #%s: another sender took it first", row.id)
        return None
    failpoint("after-marker")
    handed_over = False
    try:
        client = connect_smtp(cfg.smtp)
        try:
            client.ehlo_or_helo_if_needed()
            code, text = client.mail(row.from_addr)
            if code != 250:
                raise smtplib.SMTPSenderRefused(code, text, row.from_addr)
            code, text = client.rcpt(row.to_addr)
            if code not in (250, 251):
                raise smtplib.SMTPRecipientsRefused({row.to_addr: (code, text)})
            if not outbox.mark_data(repo, row.id, owner, clock()):
                client.rset()
                log.warning("notice #%s changed while sending; not sent", row.id)
                return None
            handed_over = True
            code, text = client.data(_wire(build_notice(row, cfg.screening.loop_header_value,
                                                        clock())))
            if code != 250:     # smtplib's data() returns a refusal rather than raising it
                raise smtplib.SMTPDataError(code, text)
            failpoint("after-250")
        finally:
            close_smtp(client)
    except (ConnectError, AuthError, smtplib.SMTPException, OSError) as exc:
        now = clock()
        if handed_over and not isinstance(exc, smtplib.SMTPResponseException):
            fresh = outbox.get(repo, row.id)
            outbox.move(repo, row.id, outbox.SENDING, outbox.UNCERTAIN, now, held_by=owner,
                        error=uncertain_text(fresh))
            return "unknown"
        permanent = is_permanent(exc)
        why = f"{'permanent send failure' if permanent else TEMPORARY}: {exc}"
        log.warning("notice #%s: %s", row.id, why)
        outbox.move(repo, row.id, outbox.SENDING, outbox.FAILED if permanent else outbox.PENDING,
                    now, held_by=owner, error=why)
        return "failed"
    now = clock()
    outbox.move(repo, row.id, outbox.SENDING, outbox.SENT, now, held_by=owner, sent_at=now,
                error=None)
    return "sent"


def resend(repo: Repository, cfg: Config, notice_id: int, clock: Clock) -> str:
    """A person checked an uncertain (or failed) notice and asks to send it again."""
    row = outbox.get(repo, notice_id)
    if row.state not in (outbox.UNCERTAIN, outbox.FAILED):
        raise ValueError(f"notice #{notice_id} is {row.state}: only an uncertain or failed "
                         "notice can be resent")
    result = send_one(repo, cfg, row, clock, expect=row.state)
    if result is None:
        raise ValueError(f"notice #{notice_id} was taken by another sender just now")
    return result


def mark_sent(repo: Repository, notice_id: int, now: datetime) -> None:
    """A person confirmed an uncertain notice did arrive."""
    if not outbox.move(repo, notice_id, outbox.UNCERTAIN, outbox.SENT, now, sent_at=now,
                       error=None):
        raise ValueError(f"notice #{notice_id} is not uncertain")

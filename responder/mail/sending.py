"""Send approved replies exactly once; copy to Sent; flag the original \\Answered.

Before the SMTP transaction a marker is committed ("sending"); after the server
accepts, the message is marked sent. If responder dies in between, the outcome is
unknown: the retry looks for the reply's Message-ID in the Sent folder and, if it
cannot prove the reply was not sent, does NOT send again but asks a rep to check
(``responder send --resend ID``). Nothing is sent twice by a machine.
"""
from __future__ import annotations

import logging
import secrets
import smtplib
import time
from email.message import EmailMessage

from responder.mail.connections import (AuthError, ConnectError, close_imap, close_smtp,
                                         connect_imap, connect_smtp, find_special_folder)
from responder.core.drafting import reply_email
from responder.core.model import Stage
from responder.mail.providers import server_saves_sent
from responder.store.repository import StageConflict

log = logging.getLogger(__name__)

IN_PROGRESS = "sending: outcome not yet known"


def new_reply_message_id(domain: str) -> str:
    """A unique, short Message-ID (short enough never to be folded on its header line)."""
    return f"<{secrets.token_hex(10)}.{int(time.time())}@{domain}>"


def build_reply(draft, loop_header_value: str) -> EmailMessage:
    """The reply message a rep approved. Human mail: no Auto-Submitted header."""
    return reply_email(draft, loop_header_value=loop_header_value, date=draft.approved_at,
                       message_id=draft.reply_message_id)


def send_approved(repo, cfg, now, *, only: int | None = None, resend: bool = False) -> dict:
    """Send every approved reply (or only message ``only``). Returns counts by outcome."""
    outcome = {"sent": 0, "failed": 0, "unknown": 0}
    pks = [only] if only is not None else repo.pks_in_stage(Stage.APPROVED)
    for pk in pks:
        row = repo.get(pk)
        if row.stage != Stage.APPROVED.value or row.draft is None:
            continue
        result = _send_one(repo, cfg, row, now, resend=resend)
        outcome[result] += 1
    return outcome


def _send_one(repo, cfg, row, now, resend: bool) -> str:
    draft = row.draft
    msg = build_reply(draft, cfg.screening.loop_header_value)
    if draft.send_error == IN_PROGRESS and not resend:
        if _in_sent_folder(cfg, row, draft.reply_message_id):
            _mark_sent(repo, row, now, "found in the Sent folder after an interrupted send")
            return "sent"
        repo.update_draft(row.id, now=now,
                          send_error="an earlier send was interrupted and may have gone out; "
                                     "check the Sent folder, then run "
                                     f"'responder send --resend {row.id}' if it did not")
        repo.record(row.id, actor="system", action="send-uncertain",
                    reason="interrupted send: not retried automatically", now=now)
        return "unknown"
    repo.update_draft(row.id, now=now, send_error=IN_PROGRESS,
                      send_attempts=(draft.send_attempts or 0) + 1)
    try:
        client = connect_smtp(cfg.smtp)
        try:
            client.send_message(msg, from_addr=draft.from_addr, to_addrs=[draft.to_addr])
        finally:
            close_smtp(client)
    except (ConnectError, AuthError, smtplib.SMTPException, OSError) as exc:
        permanent = isinstance(exc, (smtplib.SMTPRecipientsRefused, AuthError)) or (
            isinstance(exc, smtplib.SMTPResponseException) and 500 <= exc.smtp_code < 600)
        text = f"{'permanent' if permanent else 'temporary'} send failure: {exc}"
        log.warning("message #%s: %s", row.id, text)
        repo.update_draft(row.id, now=now, send_error=text)
        repo.record(row.id, actor="system", action="send-failed", reason=text, now=now)
        if permanent:
            repo.transition(row.id, Stage.DRAFTED, actor="system", action="send-failed",
                            reason=f"back to the queue: {text}", now=now,
                            expect=[Stage.APPROVED])
        return "failed"
    _mark_sent(repo, row, now, f"accepted by {cfg.smtp.host}:{cfg.smtp.port}")
    _after_send(repo, cfg, row, msg, now)
    return "sent"


def _mark_sent(repo, row, now, why: str) -> None:
    repo.update_draft(row.id, now=now, send_error=None, sent_at=now)
    try:
        repo.transition(row.id, Stage.SENT, actor="system", action="sent",
                        reason=f"{row.draft.reply_message_id} {why}", now=now,
                        expect=[Stage.APPROVED])
    except StageConflict:
        log.warning("message #%s changed stage while sending", row.id)


def _inbox_for(cfg, row):
    for box in cfg.inbox:
        if box.name == row.inbox:
            return box
    return None


def _in_sent_folder(cfg, row, reply_message_id: str) -> bool:
    box = _inbox_for(cfg, row)
    if box is None:
        return False
    try:
        client = connect_imap(box)
    except (ConnectError, AuthError) as exc:
        log.warning("cannot check the Sent folder: %s", exc)
        return False
    try:
        sent = box.sent_folder or find_special_folder(client, b"\\Sent", ("Sent", "Sent Items"))
        if not sent:
            return False
        client.select_folder(sent, readonly=True)
        return bool(client.search(["HEADER", "Message-ID", reply_message_id]))
    finally:
        close_imap(client)


def _after_send(repo, cfg, row, msg: EmailMessage, now) -> None:
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

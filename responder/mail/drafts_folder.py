"""The mailbox's own Drafts folder (RFC 6154 \\Drafts): drafts for reps who answer
from their own mail program."""
from __future__ import annotations

import logging
import re
from datetime import datetime
from email.message import EmailMessage
from typing import TYPE_CHECKING

from imapclient import IMAPClient
from imapclient.exceptions import IMAPClientError

from responder import providers
from responder.core.drafting import ReplyDraft, reply_email
from responder.core.model import Stage
from responder.mail.connections import (
    AuthError,
    ConnectError,
    close_imap,
    connect_imap,
    find_special_folder,
)

if TYPE_CHECKING:
    from responder.config import Config, InboxSection
    from responder.store.repository import Repository

log = logging.getLogger(__name__)

DRAFT_APPENDED = "draft-to-folder"


def find_drafts_folder(client: IMAPClient, box: InboxSection) -> str | None:
    return box.drafts_folder or find_special_folder(client, b"\\Drafts",
                                                    providers.drafts_fallbacks(box))


def append_draft(box: InboxSection, message: bytes | EmailMessage, *,
                 client: IMAPClient | None = None,
                 now: datetime | None = None) -> tuple[str, int | None]:
    """Put ``message`` in the inbox's \\Drafts folder (RFC 6154) with the \\Draft flag.

    For reps who answer from their own mail program. Returns (folder, UID or None
    when the server does not report APPENDUID). Raises LookupError without a
    Drafts folder.
    """
    raw = message.as_bytes() if isinstance(message, EmailMessage) else message
    own = client is None
    client = client or connect_imap(box)
    try:
        folder = find_drafts_folder(client, box)
        if not folder:
            raise LookupError(f"inbox {box.name!r}: no Drafts folder (no \\Drafts special-use "
                              "flag and no folder with a usual name): set drafts_folder")
        resp = client.append(folder, raw, flags=[b"\\Draft"], msg_time=now)
        uid = None
        m = re.search(rb"APPENDUID \d+ (\d+)", resp or b"")
        if m:
            uid = int(m.group(1))
        return folder, uid
    finally:
        if own:
            close_imap(client)


def draft_message(draft: ReplyDraft, loop_header_value: str, now: datetime) -> EmailMessage:
    """A draft as the rep's mail program shows it: threaded, ready to edit and send."""
    return reply_email(draft, loop_header_value=loop_header_value, date=now)


def push_drafts(repo: Repository, cfg: Config, now: datetime) -> int:
    """Copy every new draft of an inbox with ``drafts_to_folder = true`` to its Drafts.

    Each draft goes once (an audit event marks it). Returns how many were appended.
    """
    boxes = {b.name: b for b in cfg.inbox if b.drafts_to_folder}
    if not boxes:
        return 0
    done = 0
    clients: dict[str, IMAPClient] = {}
    try:
        for pk in repo.pks_in_stage(Stage.DRAFTED):
            row = repo.get(pk)
            box = boxes.get(row.inbox or "")
            if box is None or row.draft is None:
                continue
            if any(e.action == DRAFT_APPENDED for e in repo.events(pk)):
                continue
            try:
                client = clients.get(box.name) or clients.setdefault(box.name, connect_imap(box))
                msg = draft_message(row.draft, cfg.screening.loop_header_value, now)
                folder, uid = append_draft(box, msg, client=client, now=now)
            except (ConnectError, AuthError, LookupError, OSError, IMAPClientError) as exc:
                log.warning("inbox %s: draft #%s not put in Drafts: %s", box.name, pk, exc)
                clients.pop(box.name, None)
                continue
            repo.record(pk, actor=f"imap:{box.name}", action=DRAFT_APPENDED,
                        reason=f"draft put in {folder}" + (f" (uid {uid})" if uid else ""),
                        now=now)
            done += 1
    finally:
        for client in clients.values():
            close_imap(client)
    return done

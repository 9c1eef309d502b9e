"""The mailbox's own Drafts folder (RFC 6154 \\Drafts): drafts for reps who answer
from their own mail program."""
from __future__ import annotations

import logging
import re
from collections.abc import Callable
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.parser import BytesHeaderParser
from email.utils import parseaddr
from typing import TYPE_CHECKING, Any

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
DRAFT_REMOVED = "draft-from-folder"
SENT_ELSEWHERE = "sent-elsewhere"
# our own header on every draft put in Drafts: finds it again to replace or remove it
DRAFT_HEADER = "X-Responder-Draft"
# audit actions after which the copy in Drafts (if any) is no longer the current draft
_DRAFT_CHANGES = frozenset({"drafted", "released", "released-early", "edited", "redrafted",
                            "send-failed"})
# stages whose message must have no copy in Drafts (responder or a rep has dealt with it)
_NOT_IN_DRAFTS = (Stage.APPROVED, Stage.SENDING, Stage.UNCERTAIN, Stage.REJECTED,
                  Stage.SUPERSEDED)
# stages a reply seen in Sent can settle ("sending" is left to the uncertain-send logic)
_OPEN = (Stage.HELD, Stage.DRAFTED, Stage.APPROVED)
_IMAP_ERRORS = (ConnectError, AuthError, LookupError, OSError, IMAPClientError)


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


def draft_message(draft: ReplyDraft, loop_header_value: str, now: datetime,
                  tag: str | None = None) -> EmailMessage:
    """A draft as the rep's mail program shows it: threaded, ready to edit and send.
    ``tag`` (``draft_tag``) goes in the ``X-Responder-Draft`` header."""
    msg = reply_email(draft, loop_header_value=loop_header_value, date=now)
    if tag:
        msg[DRAFT_HEADER] = tag
    return msg


def draft_tag(row: Any) -> str:
    """The identity of message ``row``'s draft in Drafts (the same for every version)."""
    return f"{row.id}.{row.content_hash[:16]}"


def _boxes(cfg: Config) -> dict[str, InboxSection]:
    return {b.name: b for b in cfg.inbox if b.drafts_to_folder}


def _delete_uids(client: IMAPClient, box: InboxSection, folder: str, uids: list[int]) -> str:
    """Delete exactly ``uids`` (selected ``folder``): UID EXPUNGE with UIDPLUS, else only
    flag them \\Deleted (a plain EXPUNGE could remove a rep's own deleted mail)."""
    if not uids:
        return ""
    client.delete_messages(uids)
    if client.has_capability("UIDPLUS"):
        client.expunge(uids)
        return f"removed uid {','.join(map(str, uids))}"
    log.warning("inbox %s: the server lacks UIDPLUS, so the old draft(s) uid %s in %s are "
                "only flagged \\Deleted (the mail program expunges them)", box.name,
                uids, folder)
    return f"flagged \\Deleted uid {','.join(map(str, uids))} (no UIDPLUS)"


def folder_state_of(repo: Repository, pk: int) -> str | None:
    """Does Drafts hold the current draft of ``pk``? "current", "stale" (an older
    version, or one that should be gone), or None (nothing put there)."""
    last_put = last_gone = last_change = -1
    for i, e in enumerate(repo.events(pk)):
        if e.action == DRAFT_APPENDED:
            last_put = i
        elif e.action == DRAFT_REMOVED:
            last_gone = i
        elif e.action in _DRAFT_CHANGES:
            last_change = i
    if last_put < 0 or last_gone > last_put:
        return None
    return "current" if last_put > last_change else "stale"


def sync_draft(repo: Repository, cfg: Config, pk: int, now: datetime, *,
               client: IMAPClient | None = None) -> str:
    """Make the inbox's Drafts folder agree with message ``pk``: its current draft there
    (stage drafted), or nothing. Appends the new version before deleting the old.

    Returns "appended", "removed", "unchanged" or "off" (inbox without
    ``drafts_to_folder``). Raises the IMAP errors; the catch-up job retries.
    """
    row = repo.get(pk)
    box = _boxes(cfg).get(row.inbox or "")
    if box is None:
        return "off"
    want = row.stage == Stage.DRAFTED.value and row.draft is not None
    state = folder_state_of(repo, pk)
    if (want and state == "current") or (not want and state is None):
        return "unchanged"
    tag = draft_tag(row)
    own = client is None
    client = client or connect_imap(box)
    try:
        folder = find_drafts_folder(client, box)
        if not folder:
            raise LookupError(f"inbox {box.name!r}: no Drafts folder: set drafts_folder")
        client.select_folder(folder)
        old = list(client.search(["HEADER", DRAFT_HEADER, tag]))
        if want:
            assert row.draft is not None
            msg = draft_message(row.draft, cfg.screening.loop_header_value, now, tag)
            _, uid = append_draft(box, msg, client=client, now=now)
            client.select_folder(folder)
            gone = _delete_uids(client, box, folder, [u for u in old if u != uid])
            repo.record(pk, actor=f"imap:{box.name}", action=DRAFT_APPENDED,
                        reason=f"draft put in {folder}" + (f" (uid {uid})" if uid else "")
                        + f" [{DRAFT_HEADER}: {tag}]" + (f"; older version {gone}" if gone
                                                          else ""), now=now)
            return "appended"
        gone = _delete_uids(client, box, folder, old)
        repo.record(pk, actor=f"imap:{box.name}", action=DRAFT_REMOVED,
                    reason=f"draft no longer current ({row.stage}): "
                           + (f"{gone} in {folder}" if gone else f"not in {folder} any more"),
                    now=now)
        return "removed"
    finally:
        if own:
            close_imap(client)


class DraftsMailbox:
    """The one hook the service and the actions call when a draft is made, changed or
    settled: the Drafts folder follows at once. A failure is logged, never raised:
    the periodic ``push_drafts`` catches up."""

    def __init__(self, repo: Repository, cfg: Config, clock: Callable[[], datetime]) -> None:
        self.repo, self.cfg, self.clock = repo, cfg, clock

    @property
    def enabled(self) -> bool:
        return bool(_boxes(self.cfg))

    def changed(self, pks: int | list[int]) -> None:
        if not self.enabled:
            return
        for pk in [pks] if isinstance(pks, int) else pks:
            try:
                sync_draft(self.repo, self.cfg, pk, self.clock())
            except _IMAP_ERRORS as exc:
                log.warning("message #%s: Drafts folder not updated now (%s); the "
                            "drafts-to-folder job tries again", pk, exc)


def push_drafts(repo: Repository, cfg: Config, now: datetime) -> int:
    """Catch-up for ``DraftsMailbox``: every draft of an inbox with ``drafts_to_folder =
    true`` whose copy in Drafts is missing or old is put there; a copy of a message no
    longer drafted is removed. Returns how many drafts were appended."""
    boxes = _boxes(cfg)
    if not boxes:
        return 0
    done = 0
    clients: dict[str, IMAPClient] = {}
    pks = [(pk, True) for pk in repo.pks_in_stage(Stage.DRAFTED)]
    for stage in _NOT_IN_DRAFTS:
        pks += [(pk, False) for pk in repo.pks_in_stage(stage)]
    try:
        for pk, drafted in pks:
            row = repo.get(pk)
            box = boxes.get(row.inbox or "")
            if box is None or (drafted and row.draft is None):
                continue
            state = folder_state_of(repo, pk)
            if (drafted and state == "current") or (not drafted and state is None):
                continue
            try:
                client = clients.get(box.name) or clients.setdefault(box.name, connect_imap(box))
                if sync_draft(repo, cfg, pk, now, client=client) == "appended":
                    done += 1
            except _IMAP_ERRORS as exc:
                log.warning("inbox %s: draft #%s not put in Drafts: %s", box.name, pk, exc)
                dead = clients.pop(box.name, None)
                if dead is not None:
                    close_imap(dead)
                continue
    finally:
        for client in clients.values():
            close_imap(client)
    return done


# ---- replies a rep sent from their own mail program ---------------------------------------

def _msgids(value: str | None) -> list[str]:
    return re.findall(r"<[^<>\s]+>", value or "")


def scan_sent(repo: Repository, cfg: Config, box: InboxSection, now: datetime, *,
              client: IMAPClient | None = None,
              first_look: timedelta = timedelta(days=14)) -> list[int]:
    """Look at the mail new in ``box``'s Sent folder since the last scan (by UID; the
    first scan looks back ``first_look``). A reply whose In-Reply-To/References name a
    customer message responder still holds unsent (held, drafted, approved) marks that
    message sent by the rep (action ``sent-elsewhere``, compare-and-set: a responder
    send that claimed it first wins) and removes its draft from Drafts. Our own replies
    (Message-ID in ``shop.message_id_domain``) are ignored. Returns the pks marked."""
    own = client is None
    client = client or connect_imap(box)
    marked: list[int] = []
    try:
        sent = box.sent_folder or find_special_folder(client, b"\\Sent",
                                                      providers.sent_fallbacks(box))
        if not sent:
            return []
        info = client.select_folder(sent, readonly=True)
        validity = int(info.get(b"UIDVALIDITY", 0))
        nxt = int(info.get(b"UIDNEXT", 0))
        st = repo.folder_state(box.name, sent)
        if st is not None and st.uidvalidity == validity:
            if nxt and nxt <= st.last_uid + 1:
                return []                     # nothing new: no SEARCH, no FETCH
            uids = list(client.search(["UID", f"{st.last_uid + 1}:*"]))
            uids = [u for u in uids if u > st.last_uid]
        else:
            uids = list(client.search(["SINCE", (now - first_look).date()]))
        last = max(uids, default=st.last_uid if st is not None and
                   st.uidvalidity == validity else 0)
        refs: dict[str, tuple[str, str]] = {}   # customer Message-ID -> (rep, reply id)
        ours = "@" + cfg.shop.message_id_domain.lower() + ">"
        if uids:
            fetched = client.fetch(uids, [b"BODY.PEEK[HEADER.FIELDS (FROM MESSAGE-ID "
                                          b"IN-REPLY-TO REFERENCES)]"])
            for data in fetched.values():
                raw = next((v for k, v in data.items() if k.startswith(b"BODY")), b"")
                h = BytesHeaderParser().parsebytes(raw or b"")
                mid = (h.get("Message-ID") or "").strip()
                if mid.lower().endswith(ours):
                    continue                  # responder's own reply
                rep = parseaddr(str(h.get("From") or ""))[1] or str(h.get("From") or "?")
                for ref in _msgids(str(h.get("In-Reply-To") or "")) + \
                        _msgids(str(h.get("References") or "")):
                    refs.setdefault(ref, (rep, mid))
        if refs:
            open_values = {st.value for st in _OPEN}
            for found in repo.with_message_ids(refs, _OPEN + (Stage.SUPERSEDED,),
                                               inbox=box.name):
                if not found.message_id or found.message_id not in refs:
                    continue
                rep, mid = refs[found.message_id]
                row, about = found, ""
                if found.stage == Stage.SUPERSEDED.value:
                    # a reply to an earlier message of a conversation answers it: the
                    # conversation's current draft is not sent either
                    lead = found.draft.superseded_by if found.draft is not None else None
                    if lead is None:
                        continue
                    row = repo.get(lead)
                    about = f" to #{found.id}, an earlier message of this conversation"
                    if row.stage not in open_values or row.id in marked:
                        continue
                fields = {"sent_at": now, "send_error": None} if row.draft is not None else None
                if repo.compare_and_set(row.id, Stage(row.stage), Stage.SENT,
                                        actor=f"rep-mail:{rep}", action=SENT_ELSEWHERE,
                                        reason=f"{rep} replied{about} from their own mail "
                                               f"program ({mid or 'no Message-ID'}, in "
                                               f"{sent}); responder will not send its draft",
                                        now=now, draft_fields=fields):
                    marked.append(row.id)
                else:
                    log.info("message #%s moved while its reply was seen in Sent", row.id)
        repo.save_folder_state(box.name, sent, uidvalidity=validity, last_uid=last, now=now)
    finally:
        if own:
            close_imap(client)
    for pk in marked:
        try:
            sync_draft(repo, cfg, pk, now)
        except _IMAP_ERRORS as exc:
            log.warning("message #%s: draft not removed from Drafts now (%s); the "
                        "drafts-to-folder job tries again", pk, exc)
    return marked

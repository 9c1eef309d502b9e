"""IMAP inbox sync: track UIDVALIDITY and the last UID per folder; never touch \\Seen.

Mail is fetched with BODY.PEEK[] on a read-only SELECT (EXAMINE), so another
client's reading and our reading never affect each other. Every message is
stored (raw bytes) and its UID recorded one by one, so an interrupted fetch
resumes where it stopped and repeats nothing. When UIDVALIDITY changes, the
folder is read again and the store's dedupe (content hash, Message-ID) keeps
already-stored mail from being processed twice.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime

from imapclient import IMAPClient

from ..connections import connect_imap
from ..cooling import reply_deadline

log = logging.getLogger(__name__)

FETCH_CHUNK = 200


@dataclass
class SyncResult:
    inbox: str
    folder: str
    uidvalidity: int
    new_pks: list[int]
    seen_uids: int
    resync: bool = False
    first_sync: bool = False


def sync_inbox(box, repo, now: datetime, *, reply_deadline_hours: float = 24.0,
               client: IMAPClient | None = None) -> SyncResult:
    """One sync of ``box``'s folder into ``repo``. Returns what was stored."""
    own_client = client is None
    client = client or connect_imap(box)
    try:
        return _sync(client, box, repo, now, reply_deadline_hours)
    finally:
        if own_client:
            try:
                client.logout()
            except Exception:  # noqa: BLE001 - the connection may already be gone
                pass


def _sync(client: IMAPClient, box, repo, now: datetime, deadline_hours: float) -> SyncResult:
    info = client.select_folder(box.folder, readonly=True)
    uidvalidity = int(info[b"UIDVALIDITY"])
    uidnext = int(info.get(b"UIDNEXT") or 0)
    state = repo.folder_state(box.name, box.folder)
    first = state is None
    resync = state is not None and state.uidvalidity != uidvalidity

    if first and box.start_from == "now":
        last = (uidnext - 1) if uidnext else max(client.search(["ALL"]) or [0])
        repo.save_folder_state(box.name, box.folder, uidvalidity=uidvalidity, last_uid=last,
                               now=now)
        log.info("inbox %s/%s: first connection; taking mail from now on (after UID %s)",
                 box.name, box.folder, last)
        return SyncResult(box.name, box.folder, uidvalidity, [], 0, first_sync=True)

    if first or resync:
        if resync:
            log.warning("inbox %s/%s: UIDVALIDITY changed %s -> %s; reading the folder again "
                        "(stored mail is recognised and not processed twice)",
                        box.name, box.folder, state.uidvalidity, uidvalidity)
        criteria = ["ALL"]
        if box.start_from not in ("now", "all"):
            criteria = ["SINCE", date.fromisoformat(box.start_from)]
        elif resync and state.last_sync_at is not None:
            criteria = ["SINCE", state.last_sync_at.date()]
        uids = sorted(client.search(criteria))
        last_uid = 0
    else:
        last_uid = state.last_uid
        if uidnext and uidnext - 1 <= last_uid:
            repo.save_folder_state(box.name, box.folder, uidvalidity=uidvalidity,
                                   last_uid=last_uid, now=now)
            return SyncResult(box.name, box.folder, uidvalidity, [], 0)
        # "n:*" always includes the highest UID, even when it is below n: filter.
        uids = sorted(u for u in client.search(["UID", f"{last_uid + 1}:*"]) if u > last_uid)

    new_pks: list[int] = []
    for start in range(0, len(uids), FETCH_CHUNK):
        chunk = uids[start:start + FETCH_CHUNK]
        fetched = client.fetch(chunk, ["BODY.PEEK[]", "INTERNALDATE"])
        for uid in chunk:
            data = fetched.get(uid)
            if data is None:           # expunged between SEARCH and FETCH
                continue
            raw = data[b"BODY[]"]
            arrived = data.get(b"INTERNALDATE")
            received_at = now if arrived is None else _aware(arrived, now)
            received_at = min(received_at, now)
            pk, is_new = repo.store_raw(
                raw, source="imap", received_at=received_at,
                deadline_at=reply_deadline(received_at, deadline_hours),
                message_id=_message_id(raw), inbox=box.name, folder=box.folder,
                uidvalidity=uidvalidity, uid=uid, actor=f"imap:{box.name}")
            if is_new:
                new_pks.append(pk)
            repo.save_folder_state(box.name, box.folder, uidvalidity=uidvalidity,
                                   last_uid=max(uid, last_uid), now=now)
            last_uid = max(uid, last_uid)
    repo.save_folder_state(box.name, box.folder, uidvalidity=uidvalidity, last_uid=last_uid,
                           now=now)
    log.info("inbox %s/%s: %d new of %d fetched (last UID %s)", box.name, box.folder,
             len(new_pks), len(uids), last_uid)
    return SyncResult(box.name, box.folder, uidvalidity, new_pks, len(uids),
                      resync=resync, first_sync=first)


def _aware(value: datetime, now: datetime) -> datetime:
    if value.tzinfo is None:
        return value.replace(tzinfo=now.tzinfo)
    return value.astimezone(now.tzinfo)


def _message_id(raw: bytes) -> str | None:
    """The Message-ID header, read cheaply from the header block for deduplication."""
    from email.parser import BytesHeaderParser
    from email import policy
    try:
        value = BytesHeaderParser(policy=policy.compat32).parsebytes(raw).get("Message-ID")
    except Exception:  # noqa: BLE001 - a broken header block is the parser's job later
        return None
    return str(value).strip() if value else None

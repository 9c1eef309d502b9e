"""IMAP inbox sync: track UIDVALIDITY and the last UID per folder; never touch \\Seen.

Mail is fetched with BODY.PEEK[] on a read-only SELECT (EXAMINE), so another
client's reading and our reading never affect each other. Every message is
stored (raw bytes) and its UID recorded one by one, so an interrupted fetch
resumes where it stopped and repeats nothing. When UIDVALIDITY changes, the
folder is read again from the day before the last sync (Message-IDs already
stored are not even downloaded) and the store's dedupe (content hash,
Message-ID) keeps already-stored mail from being processed twice.

A sync that finds no new mail costs one EXAMINE (plus login and logout on a new
connection) whatever the mailbox size: UIDNEXT - 1 == the last UID stored means
nothing new. With CONDSTORE (RFC 7162, enabled by ``connect_imap``) SELECT also
reports HIGHESTMODSEQ; it is stored in the folder state and, for a server that
does not send UIDNEXT, an unchanged HIGHESTMODSEQ means nothing new.

The IDLE watcher (intake/idle.py) calls ``sync_inbox`` with its own connection;
the poll job and the CLI open one per sync. A lock per folder keeps two syncs of
the same folder in one process from running at once.
"""
from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING

from imapclient import IMAPClient
from sqlalchemy.exc import SQLAlchemyError

from responder.config import Config
from responder.core.cooling import CoolingPolicy, reply_deadline
from responder.mail.connections import (
    close_imap,
    connect_imap,
)

if TYPE_CHECKING:
    from responder.config import InboxSection
    from responder.store.repository import Repository
    from responder.store.tables import FolderStateRow

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


_locks: dict[tuple[str, str], threading.Lock] = {}
_locks_guard = threading.Lock()


def _folder_lock(inbox: str, folder: str) -> threading.Lock:
    """One sync of a folder at a time in this process (IDLE watcher, poll job, CLI)."""
    with _locks_guard:
        return _locks.setdefault((inbox, folder), threading.Lock())


def sync_inbox(box: InboxSection, repo: Repository, now: datetime, *,
               policy: CoolingPolicy | None = None,
               client: IMAPClient | None = None) -> SyncResult:
    """One sync of ``box``'s folder into ``repo``. Returns what was stored.

    With ``client`` (an open, logged-in connection, e.g. the IDLE watcher's) no new
    connection is made and the client stays open. A sync that finds no new mail
    costs one EXAMINE on that connection, whatever the size of the mailbox.
    """
    with _folder_lock(box.name, box.folder):
        own_client = client is None
        client = client or connect_imap(box)
        try:
            return _sync(client, box, repo, now,
                         policy or CoolingPolicy.from_config(Config()))
        finally:
            if own_client:
                close_imap(client)


def _sync(client: IMAPClient, box: InboxSection, repo: Repository, now: datetime,
          policy: CoolingPolicy) -> SyncResult:
    info = client.select_folder(box.folder, readonly=True)
    uidvalidity = int(info[b"UIDVALIDITY"])
    uidnext = int(info.get(b"UIDNEXT") or 0)
    modseq = info.get(b"HIGHESTMODSEQ")        # only with CONDSTORE enabled (RFC 7162)
    modseq = int(modseq) if modseq is not None else None
    state = repo.folder_state(box.name, box.folder)
    first = state is None
    resync = state is not None and state.uidvalidity != uidvalidity

    def save(last: int) -> None:
        repo.save_folder_state(box.name, box.folder, uidvalidity=uidvalidity, last_uid=last,
                               now=now, highest_modseq=modseq)

    if first and box.start_from == "now":
        last = (uidnext - 1) if uidnext else max(client.search(["ALL"]) or [0])
        save(last)
        log.info("inbox %s/%s: first connection; taking mail from now on (after UID %s)",
                 box.name, box.folder, last)
        return SyncResult(box.name, box.folder, uidvalidity, [], 0, first_sync=True)

    floor_uid = 0              # after a full read, every UID below UIDNEXT was considered
    if state is None or resync:                # first sync, or the folder was renumbered
        if state is not None and resync:
            log.warning("inbox %s/%s: UIDVALIDITY changed %s -> %s; reading the folder again "
                        "(stored mail is recognised and not processed twice)",
                        box.name, box.folder, state.uidvalidity, uidvalidity)
        criteria: list[str | date] = ["ALL"]
        if box.start_from not in ("now", "all"):
            criteria = ["SINCE", date.fromisoformat(box.start_from)]
        if state is not None and resync:
            since = _resync_since(repo, box, state)
            if since is not None:
                criteria = ["SINCE", since]
        uids = sorted(client.search(criteria))
        if resync:
            uids = _drop_known(client, repo, uids, box)
        last_uid = 0
        floor_uid = uidnext - 1 if uidnext else 0
    else:
        last_uid = state.last_uid
        if uidnext and uidnext - 1 <= last_uid:
            save(last_uid)                     # nothing new: one EXAMINE, done
            return SyncResult(box.name, box.folder, uidvalidity, [], 0)
        if not uidnext and modseq is not None and state.highest_modseq == modseq:
            save(last_uid)                     # no UIDNEXT, but nothing changed at all
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
                deadline_at=reply_deadline(received_at, policy),
                message_id=_message_id(raw), inbox=box.name, folder=box.folder,
                uidvalidity=uidvalidity, uid=uid, actor=f"imap:{box.name}")
            if is_new:
                new_pks.append(pk)
            last_uid = max(uid, last_uid)
            save(last_uid)
    last_uid = max(last_uid, floor_uid)
    save(last_uid)
    log.info("inbox %s/%s: %d new of %d fetched (last UID %s)", box.name, box.folder,
             len(new_pks), len(uids), last_uid)
    return SyncResult(box.name, box.folder, uidvalidity, new_pks, len(uids),
                      resync=resync, first_sync=first)


def _resync_since(repo: Repository, box: InboxSection, state: FolderStateRow) -> date | None:
    """After a UIDVALIDITY change: from which day the folder must be read again.

    Mail not yet stored arrived after the last successful sync. ``last_sync_at``
    alone is not trusted (an error note moves it too), so the arrival time of the
    newest message stored from this folder bounds it as well; one day of margin
    covers the server's time zone (SEARCH SINCE works on the server's dates).
    """
    candidates = [state.last_sync_at] if state.last_sync_at is not None else []
    newest = _newest_stored(repo, box)
    if newest is not None:
        candidates.append(newest)
    if not candidates:
        return None
    return (min(candidates) - timedelta(days=1)).date()


def _newest_stored(repo: Repository, box: InboxSection) -> datetime | None:
    from sqlalchemy import func, select

    from responder.store.tables import MessageRow
    try:
        with repo.session() as s:
            newest: datetime | None = s.scalar(
                select(func.max(MessageRow.received_at))
                .where(MessageRow.inbox == box.name, MessageRow.folder == box.folder))
            return newest
    except SQLAlchemyError as exc:   # the caller falls back to last_sync_at
        log.warning("inbox %s: cannot read the newest stored arrival time: %s", box.name, exc)
        return None


def _drop_known(client: IMAPClient, repo: Repository, uids: list[int],
                box: InboxSection | None = None) -> list[int]:
    """After a UIDVALIDITY change: the UIDs still to download and store.

    Only headers are fetched first. Mail whose Message-ID is stored is not
    downloaded again. Unknown mail that comes *before* the newest already-stored
    message in the folder's (renumbered, arrival-ordered) sequence was there when
    we synced that message: it was considered then (mail from before the first
    connection with start_from = "now", or before start_from's date) and is not
    taken now. Everything after it is new. Servers renumber in mailbox order, so
    this loses nothing that arrived since the last sync; when no stored message
    is found in the folder, every unknown message is taken (never lose mail).
    """
    known: set[int] = set()
    unknown: list[int] = []
    for start in range(0, len(uids), FETCH_CHUNK * 5):
        chunk = uids[start:start + FETCH_CHUNK * 5]
        heads = client.fetch(chunk, ["BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)]"])
        for uid in chunk:
            data = heads.get(uid)
            if data is None:
                continue
            block = next((v for k, v in data.items() if k.startswith(b"BODY[HEADER")), b"")
            mid = _message_id(block or b"")
            if mid and repo.is_known(b"", mid):
                known.add(uid)
            else:
                unknown.append(uid)
    newest_known = max(known, default=0)
    keep = [uid for uid in unknown if uid > newest_known]
    if len(keep) < len(unknown):
        log.info("inbox %s: %d message(s) older than mail already stored are not taken "
                 "again", getattr(box, "name", "?"), len(unknown) - len(keep))
    return keep


def _aware(value: datetime, now: datetime) -> datetime:
    if value.tzinfo is None:
        return value.replace(tzinfo=now.tzinfo)
    return value.astimezone(now.tzinfo)


def _message_id(raw: bytes) -> str | None:
    """The Message-ID header, read cheaply from the header block for deduplication."""
    from email import policy
    from email.parser import BytesHeaderParser
    try:
        value = BytesHeaderParser(policy=policy.compat32).parsebytes(raw).get("Message-ID")
    except Exception:  # noqa: BLE001 - a broken header block is the parser's job later
        return None
    return str(value).strip() if value else None

"""The project's own labelled customer mail (data/corpus/<lang>.jsonl).

Each line: id, lang, split (train/dev), subject, body, from_name,
hostility (hostile/complaint/neutral), intent (one of model.INTENTS).
Used to train the offline models and by ``responder eval``.
"""
from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path
from typing import Any

from responder import resources

DEFAULT_CORPUS_DIR = resources.corpus_dir()

#: one corpus line as read from JSON (keys as in the module docstring)
Record = dict[str, Any]


def load(corpus_dir: str | Path | None = None, split: str | None = None,
         languages: Iterable[str] | None = None) -> list[Record]:
    """All records, optionally only one split and some languages, in file order."""
    folder = Path(corpus_dir) if corpus_dir else DEFAULT_CORPUS_DIR
    if not folder.is_dir():
        raise FileNotFoundError(f"corpus folder not found: {folder}")
    wanted = set(languages) if languages else None
    records: list[Record] = []
    for path in sorted(folder.glob("*.jsonl")):
        with path.open(encoding="utf-8") as fh:
            for lineno, line in enumerate(fh, 1):
                if not line.strip():
                    continue
                try:
                    rec = json.loads(line)
                except json.JSONDecodeError as exc:
                    raise ValueError(f"{path}:{lineno}: not JSON: {exc}") from exc
                if split and rec.get("split") != split:
                    continue
                if wanted and rec.get("lang") not in wanted:
                    continue
                records.append(rec)
    return records


def to_raw(record: Record, to_addr: str = "support@example-shop.test") -> bytes:
    """A corpus record as the bytes of a real e-mail, to run through the real parser."""
    msg = EmailMessage()
    name = record.get("from_name") or "Customer"
    local = "".join(ch for ch in name.lower() if ch.isascii() and ch.isalnum()) or "customer"
    msg["From"] = f"{name} <{local}@customer.test>"
    msg["To"] = to_addr
    msg["Subject"] = record.get("subject", "")
    msg["Message-ID"] = f"<{record['id']}@corpus.test>"
    msg["Date"] = format_datetime(datetime(2026, 11, 2, 9, 30, tzinfo=UTC))
    msg.set_content(record["body"])
    return msg.as_bytes()

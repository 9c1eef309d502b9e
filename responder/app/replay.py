"""``responder replay``: the whole decision pipeline on mail files. Sends nothing,
touches no inbox, writes no database.

Inputs: .eml files, folders of them (recursively), mbox files and Maildirs.
"""
from __future__ import annotations

import json
import mailbox
import re
import shlex
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from responder.core.model import Decision

if TYPE_CHECKING:
    from responder.core.pipeline import Services

BATCH = 32


@dataclass
class Source:
    label: str        # what the "file" key shows: a path, or path:index inside an mbox
    raw: bytes | None
    error: str | None = None


def missing_paths(paths: Sequence[str]) -> list[str]:
    """The given paths that do not exist, in the order given. ``responder replay`` stops
    on any before loading a model: a mistyped path is a mistake to fix, not a result."""
    return [given for given in paths if not Path(given).exists()]


def missing_message(paths: Sequence[str], missing: Sequence[str]) -> str:
    """One line naming every missing path (and, in a mix, that the others were not run)."""
    named = ", ".join(shlex.quote(given) for given in missing)
    line = f"no such file or folder: {named}"
    found = len(paths) - len(missing)
    if found:
        line += f" (nothing was replayed; the other {found} path(s) exist)"
    return line


def iter_sources(paths: Sequence[str]) -> Iterator[Source]:
    for given in paths:
        path = Path(given)
        if not path.exists():
            yield Source(str(path), None, "no such file or folder")
        elif path.is_dir() and _is_maildir(path):
            yield from _maildir(path)
        elif path.is_dir():
            for child in sorted(p for p in path.rglob("*") if p.is_file()):
                if any(part.startswith(".") for part in child.relative_to(path).parts):
                    continue
                if child.parent.name in ("cur", "new") and _is_maildir(child.parent.parent):
                    continue  # read through _maildir below
                yield from _file(child)
            for sub in sorted(p for p in path.rglob("*") if p.is_dir() and _is_maildir(p)):
                yield from _maildir(sub)
        else:
            yield from _file(path)


def _is_maildir(path: Path) -> bool:
    return (path / "cur").is_dir() and (path / "new").is_dir()


def _maildir(path: Path) -> Iterator[Source]:
    for sub in ("new", "cur"):
        for f in sorted((path / sub).iterdir()):
            if f.is_file():
                yield from _file(f)


def _bare_cr_lines(path: Path) -> bool:
    """Do the file's lines end in a bare CR (classic Mac OS), judged on its start?"""
    with path.open("rb") as fh:
        start = fh.read(65536)
    return b"\r" in start and b"\n" not in start


def _file(path: Path) -> Iterator[Source]:
    try:
        with path.open("rb") as fh:
            head = fh.read(5)
    except OSError as exc:
        yield Source(str(path), None, f"cannot read: {exc.strerror}")
        return
    if head == b"From " and _bare_cr_lines(path):
        # old Mac mail: lines end in a bare CR, which mailbox.mbox does not split on (it
        # would give one empty message); split at the "From " lines as it would
        chunks = re.split(rb"\r(?=From )", path.read_bytes())
        for index, chunk in enumerate(chunks):
            yield Source(f"{path}:{index}", chunk)
        return
    if head == b"From ":
        box = mailbox.mbox(str(path), create=False)
        try:
            for index, key in enumerate(box.iterkeys()):
                try:
                    yield Source(f"{path}:{index}", box.get_bytes(key))
                except (OSError, KeyError, mailbox.Error) as exc:
                    yield Source(f"{path}:{index}", None, f"cannot read mbox entry: {exc}")
        finally:
            box.close()
        return
    yield Source(str(path), path.read_bytes())


def record(label: str, d: Decision) -> dict[str, Any]:
    """The --json object for one message. Keys are a public interface: add, never rename."""
    p, h, i, dr = d.parsed, d.hostility, d.intent, d.draft
    return {
        "file": label,
        "message_id": p.message_id if p else None,
        "language": p.language if p else None,
        "skipped": d.skip is not None,
        "skip_rule": d.skip.rule if d.skip else None,
        "skip_reason": d.skip.reason if d.skip else None,
        "hostility": round(h.score, 4) if h else None,
        "hostility_labels": h.labels if h else None,
        "hostility_evidence": h.evidence if h else None,
        "held": d.hold is not None,
        "release_at": d.hold.release_at.isoformat() if d.hold else None,
        "deadline_at": d.deadline_at.isoformat() if d.deadline_at else None,
        "intent": i.intent if i else None,
        "intent_confidence": round(i.confidence, 4) if i else None,
        "template": dr.template if dr else None,
        "draft_language": dr.language if dr else None,
        "fallback_language": dr.fallback_language if dr else None,
        "draft_to": dr.to_addr if dr else None,
        "draft_subject": dr.subject if dr else None,
        "in_reply_to": dr.in_reply_to if dr else None,
        "draft": dr.body if dr else None,
        "draft_notes": dr.notes if dr else None,
        "quarantined": d.quarantined,
        "error": d.error,
    }


def run(paths: Sequence[str], svc: Services, now: datetime, out: TextIO, *, as_json: bool,
        progress: bool, err: TextIO) -> Counter[str]:
    """Replay ``paths``; JSON lines (or a readable line per message) to ``out``."""
    from tqdm import tqdm

    from responder.core.pipeline import decide

    sources = list(iter_sources(paths))
    counts: Counter[str] = Counter()
    bar = tqdm(total=len(sources), unit="msg", file=err, disable=not progress,
               desc="replay")
    for start in range(0, len(sources), BATCH):
        batch = sources[start:start + BATCH]
        readable = [(s, s.raw) for s in batch if s.raw is not None]
        decisions = dict(zip((id(s) for s, _raw in readable),
                             decide([raw for _s, raw in readable], svc, now)))
        for src in batch:
            d = decisions.get(id(src)) or Decision(error=src.error)
            rec = record(src.label, d)
            _count(counts, rec)
            if as_json:
                out.write(json.dumps(rec, ensure_ascii=False) + "\n")
            else:
                out.write(_line(rec) + "\n")
            bar.update(1)
    bar.close()
    return counts


def _count(counts: Counter[str], rec: dict[str, Any]) -> None:
    counts["messages"] += 1
    if rec["quarantined"]:
        counts["quarantined"] += 1
    elif rec["skipped"]:
        counts["skipped"] += 1
    elif rec["held"]:
        counts["held"] += 1
        counts["drafted"] += 1
    else:
        counts["drafted"] += 1
    if rec.get("fallback_language"):
        counts["fallback_language"] += 1


def _line(rec: dict[str, Any]) -> str:
    if rec["quarantined"]:
        return f"QUARANTINED {rec['file']}: {rec['error']}"
    if rec["skipped"]:
        return f"skipped     {rec['file']}: {rec['skip_rule']}: {rec['skip_reason']}"
    state = f"HELD until {rec['release_at'][:16]}" if rec["held"] else "drafted"
    return (f"{state:<11} {rec['file']}: lang={rec['language']} "
            f"hostility={rec['hostility']:.2f} intent={rec['intent']} "
            f"template={rec['template']} to={rec['draft_to']}")


def summary(counts: Counter[str]) -> str:
    n = counts["messages"]
    parts = [f"{n} message(s)", f"{counts['drafted']} drafted",
             f"{counts['held']} held for cooling off", f"{counts['skipped']} skipped",
             f"{counts['quarantined']} quarantined"]
    if counts["fallback_language"]:
        parts.append(f"{counts['fallback_language']} drafted in the fallback language")
    return "replay: " + ", ".join(parts)

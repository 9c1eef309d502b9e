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
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
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


def record(label: str, d: Decision, conversation_id: str | None = None,
           superseded_by: str | None = None) -> dict[str, Any]:
    """The --json object for one message. Keys are a public interface: add, never rename.

    ``conversation_id``: the ``file`` of the conversation's first message;
    ``superseded_by``: the ``file`` of the message whose draft answers this one too
    (None: this message's own draft is the conversation's current one)."""
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
        "hold_band": d.hold.band if d.hold else None,      # core.cooling: which band ...
        "hold_rule": d.hold.rule if d.hold else None,      # ... and rule set the hold
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
        "conversation_id": conversation_id,
        "superseded_by": superseded_by,
        "model_version": d.model_version,
        # reputation threats in the customer's own words (core/threats.py)
        "reputation_threats": [{"kind": t.kind, "cue": t.cue, "evidence": t.evidence}
                               for t in d.threats] if p and d.skip is None else None,
    }


def run(paths: Sequence[str], svc: Services, now: datetime, out: TextIO, *, as_json: bool,
        progress: bool, err: TextIO,
        on_record: Callable[[dict[str, Any], Decision], None] | None = None) -> Counter[str]:
    """Replay ``paths``; JSON lines (or a readable line per message) to ``out``.
    ``on_record`` is called with each message's record and decision, in output order."""
    from tqdm import tqdm

    from responder.core.pipeline import decide

    sources = list(iter_sources(paths))
    counts: Counter[str] = Counter()
    bar = tqdm(total=len(sources), unit="msg", file=err, disable=not progress,
               desc="replay")
    decided: list[Decision] = []
    for start in range(0, len(sources), BATCH):
        batch = sources[start:start + BATCH]
        readable = [(s, s.raw) for s in batch if s.raw is not None]
        decisions = dict(zip((id(s) for s, _raw in readable),
                             decide([raw for _s, raw in readable], svc, now)))
        for src in batch:
            decided.append(decisions.get(id(src)) or Decision(error=src.error))
            bar.update(1)
    bar.close()
    # a whole thread gets one current draft: its conversations are known only once
    # every message is decided, so the lines are written after that
    conv, superseded = conversations(sources, decided, svc)
    for index, (src, d) in enumerate(zip(sources, decided)):
        first, by = conv.get(index), superseded.get(index)
        rec = record(src.label, d, sources[first].label if first is not None else None,
                     sources[by].label if by is not None else None)
        _count(counts, rec)
        if on_record is not None:      # e.g. app/report.py collecting for --report
            on_record(rec, d)
        if as_json:
            out.write(json.dumps(rec, ensure_ascii=False) + "\n")
        else:
            out.write(_line(rec) + "\n")
    return counts


def conversations(sources: Sequence[Source], decided: list[Decision], svc: Services,
                  ) -> tuple[dict[int, int], dict[int, int]]:
    """Group the replayed messages into conversations (``core.conversation``, as the
    live service does) and give each conversation ONE draft: the newest message's,
    for all of its messages (judged as a whole; as if none had been answered).
    ``decided`` is changed in place. Returns, by index: the conversation's first
    message, and, for the older messages, the message whose draft answers them."""
    from responder.core import conversation

    answerable = [i for i, d in enumerate(decided)
                  if d.parsed is not None and d.error is None and d.skip is None]
    hours = timedelta(hours=svc.policy.reply_deadline_hours)
    received = {i: _arrival(decided[i], hours) for i in answerable}
    span = timedelta(days=svc.cfg.conversations.window_days)
    keys = []
    for i in answerable:
        parsed = decided[i].parsed
        assert parsed is not None
        keys.append(conversation.keys_of(parsed, received[i]))
    firsts = conversation.group(keys, span)
    conv = {i: answerable[f] for i, f in zip(answerable, firsts)}
    members: dict[int, list[int]] = {}
    for i in answerable:
        members.setdefault(conv[i], []).append(i)
    superseded: dict[int, int] = {}
    policy = svc.policy
    cfg = svc.cfg
    for group_ in members.values():
        if len(group_) < 2:
            continue
        group_.sort(key=lambda i: (received[i], i))
        newest = group_[-1]
        turns = [conversation.Turn(sources[i].label, received[i],
                                   decided[i].deadline_at or received[i], decided[i].hostility,
                                   _intent(decided[i])) for i in group_]
        verdict = conversation.judge(turns, policy, received[newest])
        asked = [conversation.Asked(sources[i].label, p, decided[i].intent, received[i])
                 for i in group_ if (p := decided[i].parsed) is not None]
        worst = verdict.worst.hostility if verdict.worst else decided[newest].hostility
        draft = conversation.conversation_draft(
            asked, hostility=worst, shop=cfg.shop, renderer=svc.renderer,
            default_language=cfg.drafting.default_language,
            quote_original=cfg.drafting.quote_original, html=cfg.drafting.html,
            hold_threshold=policy.hold_threshold)
        draft.notes.extend(n for n in verdict.notes if n not in draft.notes)
        d = decided[newest]
        d.draft, d.hold, d.deadline_at = draft, verdict.hold, verdict.deadline_at
        for i in group_[:-1]:
            superseded[i] = newest
    return conv, superseded


def _arrival(d: Decision, deadline_hours: timedelta) -> datetime:
    """When a replayed message arrived (the pipeline took its Date header, else the
    replay's time, and put its reply deadline ``deadline_hours`` after that)."""
    from datetime import UTC
    if d.parsed is not None and d.parsed.date is not None:
        arrived: datetime = d.parsed.date.astimezone(UTC)
        return arrived
    if d.deadline_at is not None:
        return d.deadline_at - deadline_hours
    return datetime.min.replace(tzinfo=UTC)


def _intent(d: Decision) -> str | None:
    return d.intent.intent if d.intent else None


def _count(counts: Counter[str], rec: dict[str, Any]) -> None:
    counts["messages"] += 1
    if rec.get("superseded_by"):
        counts["superseded"] += 1
    elif rec.get("conversation_id") is not None and not rec["skipped"]:
        counts["conversations"] += 1
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
    if rec.get("superseded_by"):
        state = "superseded"
    return (f"{state:<11} {rec['file']}: lang={rec['language']} "
            f"hostility={rec['hostility']:.2f} intent={rec['intent']} "
            f"template={rec['template']} to={rec['draft_to']}"
            + (f" (one reply for its conversation: {rec['superseded_by']})"
               if rec.get("superseded_by") else ""))


def summary(counts: Counter[str]) -> str:
    n = counts["messages"]
    parts = [f"{n} message(s)", f"{counts['drafted']} drafted",
             f"{counts['held']} held for cooling off", f"{counts['skipped']} skipped",
             f"{counts['quarantined']} quarantined"]
    if counts["fallback_language"]:
        parts.append(f"{counts['fallback_language']} drafted in the fallback language")
    if counts["superseded"]:
        parts.append(f"{counts['conversations']} conversation(s) to answer, "
                     f"{counts['superseded']} draft(s) superseded by a later message's")
    return "replay: " + ", ".join(parts)

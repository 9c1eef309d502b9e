"""Conversations: which messages belong together, how a conversation is judged, and
the one reply drafted for it. Pure functions of their arguments: no store, no I/O.

**Grouping** (:func:`match`, :func:`group`). A message joins a conversation

1. by its headers: its ``In-Reply-To`` or one of its ``References`` names a message
   of the conversation, or one of responder's own replies in it (RFC 5322 3.6.4); or
2. failing that, by its sender: the same customer address, and the same order
   number or the same normalised subject (``Re:``/``AW:``... removed, case and
   accents folded), within ``window`` of the conversation's latest message
   (config ``conversations.window_days``).

**Judging** (:func:`judge`). The unanswered part of a conversation (its *turns*) is
scored as a whole: its most hostile message and the trend (the newest message
against the one before it: ``angrier``, ``calmer`` or ``steady``). The hold is the
cooling policy's own (:func:`responder.core.cooling.hold_for`) for the worst verdict,
counted from the arrival of the latest hostile turn, never past the deadline of the
oldest unanswered turn (less the review margin), and an existing hold is never
shortened by a follow-up.

**Drafting** (:func:`conversation_draft`). One reply for all turns: threaded to the
newest message; the newest specific intent leads (a bare "any news??" classified
``other`` does not push the real question aside) and the body of every other
distinct intent asked is added after the lead's own answer, from the same templates
(their ``body`` block), in the reply's language.
"""
from __future__ import annotations

import re
from collections.abc import Hashable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any, cast

from jinja2 import TemplateError

from responder.config import ShopSection
from responder.core import cooling, drafting
from responder.core.model import Draft, Hold, HostilityVerdict, IntentVerdict, ParsedMessage
from responder.core.text import fold

TREND_STEP = 0.1
"""How much the newest score must differ from the one before to count as a trend."""

NO_LEAD = frozenset({"other"})
"""Intents that lead the reply only when nothing more specific was asked."""


# ---- grouping ------------------------------------------------------------------------------

@dataclass(frozen=True)
class Keys:
    """What grouping reads of one message."""

    message_id: str | None
    in_reply_to: str | None
    references: tuple[str, ...]
    sender: str                    # the customer's address, lower-case ("" if none)
    subject: str                   # normalised (see normalise_subject)
    order_number: str | None
    received_at: datetime


def normalise_subject(subject: str | None) -> str:
    """The subject without reply/forward prefixes, folded, spaces collapsed ("" if none)."""
    return " ".join(fold(drafting.without_reply_prefixes(subject)).split())


def keys_of(parsed: ParsedMessage, received_at: datetime) -> Keys:
    return Keys(message_id=parsed.message_id, in_reply_to=parsed.in_reply_to,
                references=tuple(parsed.references),
                sender=(parsed.customer_addr or "").lower(),
                subject=normalise_subject(parsed.subject),
                order_number=drafting.find_order_number(parsed.subject, parsed.own_words),
                received_at=received_at)


@dataclass(frozen=True)
class Known:
    """A message already in a conversation, as grouping sees it."""

    conversation: Hashable
    keys: Keys
    reply_ids: tuple[str, ...] = ()   # Message-IDs of responder's own replies to it


def known(conversation: Hashable, *, message_id: str | None, sender: str | None,
          subject: str | None, order_number: str | None, received_at: datetime,
          reply_id: str | None = None) -> Known:
    """A stored message as grouping sees it (its own Message-ID, its reply's, and its
    sender keys: a new message's headers are matched against those)."""
    return Known(conversation, Keys(message_id=message_id, in_reply_to=None, references=(),
                                    sender=(sender or "").lower(),
                                    subject=normalise_subject(subject),
                                    order_number=order_number, received_at=received_at),
                 (reply_id,) if reply_id else ())


@dataclass(frozen=True)
class Match:
    conversation: Hashable
    rule: str                      # "in-reply-to", "references", "order-number", "subject"
    reason: str                    # readable, for the audit trail


def match(new: Keys, known: Sequence[Known], window: timedelta) -> Match | None:
    """The conversation ``new`` belongs to among ``known``, or None (a new one).

    Header links win over the sender fallback; among several fallback candidates the
    conversation with the latest message wins. ``window`` <= 0 turns the fallback off.
    """
    by_id: dict[str, Known] = {}
    for k in known:
        for mid in (k.keys.message_id, *k.reply_ids):
            if mid:
                by_id.setdefault(mid, k)
    if new.in_reply_to and new.in_reply_to in by_id:
        k = by_id[new.in_reply_to]
        return Match(k.conversation, "in-reply-to", f"In-Reply-To {new.in_reply_to}")
    for ref in reversed(new.references):          # the nearest ancestor first
        if ref in by_id:
            return Match(by_id[ref].conversation, "references", f"References {ref}")
    if window <= timedelta(0) or not new.sender:
        return None
    latest: dict[Hashable, datetime] = {}
    for k in known:
        at = latest.get(k.conversation)
        latest[k.conversation] = k.keys.received_at if at is None else max(at,
                                                                            k.keys.received_at)
    best: tuple[datetime, Match] | None = None
    for k in known:
        if k.keys.sender != new.sender:
            continue
        if abs(new.received_at - latest[k.conversation]) > window:
            continue
        found: Match | None = None
        if new.order_number and new.order_number == k.keys.order_number:
            found = Match(k.conversation, "order-number",
                          f"same sender {new.sender}, order #{new.order_number}")
        elif new.subject and new.subject == k.keys.subject:
            found = Match(k.conversation, "subject",
                          f"same sender {new.sender}, subject \"{new.subject}\"")
        if found is None:
            continue
        at = latest[k.conversation]
        better = (best is None or at > best[0]
                  or (at == best[0] and found.rule == "order-number"
                      and best[1].rule == "subject"))
        if better:
            best = (at, found)
    return best[1] if best else None


def group(messages: Sequence[Keys], window: timedelta) -> list[int]:
    """For each message, the index (into ``messages``) of its conversation's first
    message, taking the messages in order of arrival (as a mailbox replayed)."""
    order = sorted(range(len(messages)), key=lambda i: (messages[i].received_at, i))
    result = list(range(len(messages)))
    by_id: dict[str, Known] = {}                 # the candidates a message can match,
    by_sender: dict[str, list[Known]] = {}       # as the store's query gives them live
    for i in order:
        new = messages[i]
        linked = [by_id[m] for m in (new.in_reply_to, *new.references) if m and m in by_id]
        found = match(new, linked + by_sender.get(new.sender, []), window)
        result[i] = cast(int, found.conversation) if found else i
        k = Known(result[i], new)
        if new.message_id:
            by_id.setdefault(new.message_id, k)
        if new.sender:
            by_sender.setdefault(new.sender, []).append(k)
    return result


# ---- judging --------------------------------------------------------------------------------

@dataclass(frozen=True)
class Turn:
    """One unanswered message of a conversation."""

    ref: Hashable                       # the store's id, or the replay's file label
    received_at: datetime
    deadline_at: datetime
    hostility: HostilityVerdict | None
    intent: str | None = None
    intent_confidence: float | None = None


@dataclass
class Verdict:
    """The conversation judged as a whole."""

    turns: list[Turn]                   # oldest first
    worst: Turn | None                  # the most hostile turn (None: nothing scored)
    trend: str | None                   # "angrier", "calmer", "steady"; None for one turn
    deadline_at: datetime               # the oldest unanswered turn's deadline
    hold: Hold | None
    notes: list[str] = field(default_factory=list)

    @property
    def score(self) -> float | None:
        return self.worst.hostility.score if self.worst and self.worst.hostility else None


def trend(turns: Sequence[Turn]) -> str | None:
    """The newest turn's score against the one before it."""
    scored = [t for t in turns if t.hostility is not None]
    if len(scored) < 2:
        return None
    before, now = scored[-2].hostility, scored[-1].hostility
    assert before is not None and now is not None
    if now.score - before.score >= TREND_STEP:
        return "angrier"
    if before.score - now.score >= TREND_STEP:
        return "calmer"
    return "steady"


def judge(turns: Sequence[Turn], policy: cooling.CoolingPolicy, now: datetime, *,
          held_until: datetime | None = None, hold_kwargs: dict[str, Any] | None = None,
          ) -> Verdict:
    """Score the unanswered ``turns`` as a whole and set or extend their hold.

    ``held_until``: the conversation's current hold (kept when longer: a follow-up
    never shortens a hold). ``hold_kwargs`` are passed on to ``cooling.hold_for``.
    """
    if not turns:
        raise ValueError("a conversation has at least one turn")
    ordered = sorted(turns, key=lambda t: t.received_at)
    scored = [t for t in ordered if t.hostility is not None]
    worst = max(scored, key=lambda t: (t.hostility.score if t.hostility else 0.0,
                                       t.received_at), default=None)
    deadline = min(t.deadline_at for t in ordered)
    direction = trend(ordered)
    hostile = [t for t in ordered if cooling.is_hostile(t.hostility, policy.hold_threshold)]
    hold: Hold | None = None
    if worst is not None and hostile:
        start = hostile[-1].received_at      # the latest hostile message restarts the clock
        hold = cooling.hold_for(worst.hostility, start, policy, deadline_at=deadline,
                                **(hold_kwargs or {}))
    if held_until is not None and held_until > now and (hold is None
                                                        or held_until > hold.release_at):
        latest, _rule = cooling.latest_release(ordered[-1].received_at, deadline, policy)
        keep = min(held_until, max(latest, now))
        if keep > now:
            why = f"the earlier hold until {held_until:%Y-%m-%d %H:%M} UTC stands"
            hold = (replace(hold, release_at=keep, reason=f"{hold.reason}; {why}")
                    if hold is not None else Hold(release_at=keep, reason=why))
    notes: list[str] = []
    if len(ordered) > 1:
        summary = (f"conversation of {len(ordered)} unanswered messages"
                   + (f", most hostile {worst.hostility.score:.2f} (#{worst.ref})"
                      if worst is not None and worst.hostility is not None else ""))
        if direction is not None:
            a, b = scored[-2].hostility, scored[-1].hostility
            assert a is not None and b is not None
            summary += {"angrier": ", getting angrier", "calmer": ", getting calmer",
                        "steady": ", tone steady"}[direction]
            summary += f" ({a.score:.2f} -> {b.score:.2f})"
        if hold is not None:
            hold = replace(hold, reason=f"{summary}: {hold.reason}")
        notes.append(summary[0].upper() + summary[1:] + ".")
    return Verdict(turns=list(ordered), worst=worst, trend=direction, deadline_at=deadline,
                   hold=hold, notes=notes)


# ---- the one reply --------------------------------------------------------------------------

@dataclass(frozen=True)
class Asked:
    """One unanswered message for the reply: its parsed form and what it asks."""

    ref: Hashable
    parsed: ParsedMessage
    intent: IntentVerdict | None
    received_at: datetime


def _intent_name(intent: IntentVerdict | None) -> str:
    return intent.intent if intent is not None else "other"


def lead_of(asked: Sequence[Asked]) -> int:
    """Index of the turn whose intent leads: the newest one asking something specific
    (the newest turn when none does)."""
    order = sorted(range(len(asked)), key=lambda i: asked[i].received_at)
    for i in reversed(order):
        if _intent_name(asked[i].intent) not in NO_LEAD:
            return i
    return order[-1]


class _BodyOnly(drafting.TemplateRenderer):
    """The same templates, rendering only a reply's ``body`` block: the answer to one
    question, without greeting, apology and closing (those come once, from the lead)."""

    def __init__(self, base: drafting.TemplateRenderer) -> None:   # no super(): shares
        self.env = base.env                                         # base's loaders
        self._loader = base._loader

    def render(self, language: str, intent: str, context: dict[str, Any]) -> str:
        template = self.env.get_template(self.name(language, intent))
        if "body" not in template.blocks:
            raise TemplateError(f"{self.name(language, intent)} has no body block")
        ctx = template.new_context(dict(context))
        for _ in template.root_render_func(ctx):    # runs the top-level macros and sets
            pass
        return drafting.tidy("".join(template.blocks["body"](ctx)))


_SENTENCE_END = re.compile(r"(?<=[.!?。])\s+|\n")


def _first_sentence(text: str) -> str:
    return _SENTENCE_END.split(text.strip(), maxsplit=1)[0]


def _without_opening(section: str, lead: str) -> str:
    """``section`` without its first sentence when the lead's answer opens with the
    same one (every answer thanks the customer for their message: once is enough)."""
    first = _first_sentence(section)
    if lead and first and first == _first_sentence(lead):
        rest = section.strip()[len(first):].strip()
        return rest or section
    return section


def conversation_draft(asked: Sequence[Asked], *, hostility: HostilityVerdict | None,
                       shop: ShopSection, renderer: drafting.TemplateRenderer,
                       default_language: str = "en", quote_original: bool = True,
                       html: bool = False, hold_threshold: float = 1.0,
                       extra_ids: Sequence[str] = ()) -> Draft:
    """One reply for every unanswered message in ``asked`` (any order).

    Threaded to the newest message (``References`` also name the others and
    ``extra_ids``, e.g. responder's earlier replies); the lead intent's full template,
    then the answer of every other distinct intent; ``hostility`` is the
    conversation's worst verdict (an upset conversation is acknowledged once).
    """
    if not asked:
        raise ValueError("nothing to answer")
    by_time = sorted(asked, key=lambda a: a.received_at)
    newest = by_time[-1]
    lead = asked[lead_of(asked)]
    # the newest message's headers and quote; the lead's intent; order numbers from
    # any message (newest first) when the newest does not say it
    words = "\n".join(a.parsed.own_words for a in reversed(by_time))
    base = replace(newest.parsed, own_words=words)
    common: dict[str, Any] = dict(shop=shop, default_language=default_language,
                                  hold_threshold=hold_threshold)
    full = drafting.build_draft(base, intent=lead.intent, hostility=hostility,
                                renderer=renderer, quote_original=quote_original, html=False,
                                **common)
    if len(asked) == 1:
        return replace(full, html_body=drafting.text_to_html(full.body) if html else None)
    plain = drafting.build_draft(base, intent=lead.intent, hostility=hostility,
                                 renderer=renderer, quote_original=False, html=False, **common)
    lead_name = _intent_name(lead.intent)
    notes = list(full.notes)
    sections: list[str] = []
    answered = [lead_name]
    unclear: list[str] = []
    body_only = _BodyOnly(renderer)
    for a in by_time:
        name = _intent_name(a.intent)
        if name in answered:
            continue
        if name in NO_LEAD:
            unclear.append(f"#{a.ref}")
            continue
        answered.append(name)
        same_language = replace(a.parsed, language=full.language)
        try:
            part = drafting.build_draft(same_language, intent=a.intent, hostility=None,
                                        renderer=body_only, quote_original=False,
                                        html=False, **common)
        except TemplateError as exc:
            notes.append(f"The answer about {name} (#{a.ref}) could not be added "
                         f"({exc}): answer it by hand.")
            continue
        sections.append(part.body.strip())
        notes.extend(n for n in part.notes if n not in notes)
    body = plain.body
    if sections:
        own = ""
        try:
            own = drafting.build_draft(base, intent=lead.intent, hostility=hostility,
                                       renderer=body_only, quote_original=False, html=False,
                                       **common).body.strip()
        except TemplateError:
            own = ""
        extra = "\n\n".join(_without_opening(part, own) for part in sections)
        if own and own in body:
            body = body.replace(own, own + "\n\n" + extra, 1)
        else:
            body = body.rstrip("\n") + "\n\n" + extra + "\n"
    quote = full.body[len(plain.body.rstrip("\n")):] if full.body.startswith(
        plain.body.rstrip("\n")) else ""
    body = body.rstrip("\n") + quote if quote.strip() else body
    refs = [r for r in full.references if r != newest.parsed.message_id]
    for mid in [a.parsed.message_id for a in by_time[:-1]] + list(extra_ids):
        if mid and mid not in refs:
            refs.append(mid)
    if newest.parsed.message_id:
        refs.append(newest.parsed.message_id)
    names = ", ".join(f"#{a.ref}" for a in by_time)
    also = [n for n in answered if n != lead_name]
    notes.insert(0, f"One reply for the whole conversation ({len(asked)} unanswered "
                    f"messages: {names}): it leads with {lead_name}"
                 + (" (the newest question)" if lead is newest else
                    f" (#{lead.ref}; the newest message asks nothing more specific)")
                 + (f" and also answers {', '.join(also)}." if also else "."))
    if unclear:
        notes.append(f"What {', '.join(unclear)} asks was not recognised: check the reply "
                     "answers it.")
    template = full.template + "".join(f"+{n}" for n in also)
    return replace(full, body=drafting.tidy(body), references=refs, notes=notes,
                   html_body=drafting.text_to_html(drafting.tidy(body)) if html else None,
                   template=template[:255])

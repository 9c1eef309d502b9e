"""What a rep can do to a message: edit, approve, reject. Shared by CLI and web page.

Every action is a compare-and-set on the message's stage with an audit event
naming the rep. Approving chooses the reply's Message-ID once, so a retry after a
crash can tell whether the reply already went out.
"""
from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from responder.config import Config, ScoringSection
from responder.core.cooling import is_hostile
from responder.core.model import HostilityVerdict, Stage
from responder.core.parsing.quotes import strip_quotes
from responder.mail import sending
from responder.mail.drafts_folder import DraftsMailbox
from responder.mail.sending import new_reply_message_id
from responder.store.labels import HOSTILE, NOT_HOSTILE

if TYPE_CHECKING:  # imported where used, as before: only the names are needed here
    from responder.core.model import ParsedMessage
    from responder.core.pipeline import Services
    from responder.core.scoring.base import Scorer
    from responder.store.repository import Repository
    from responder.store.tables import MessageRow

# a reply is judged by the same line as a customer's message (scoring.hold_threshold)
TONE_THRESHOLD: float = ScoringSection.model_fields["hold_threshold"].default


class ApprovalError(Exception):
    """The action is not possible now; the message says why."""


class ToneWarning(ApprovalError):
    """The reply itself reads as hostile or sarcastic; approve with override to send anyway."""


def _reply_part(body: str) -> str:
    """The rep's words: the draft without the quoted original below it (and without
    the "X wrote:" line above that quote)."""
    return strip_quotes(body, stop_at_quote=True)


def check_tone(scorer: Scorer, body: str, language: str | None) -> HostilityVerdict:
    """The hostility verdict on the rep's own reply text."""
    return scorer.score([_reply_part(body)], [language])[0]


def _changed(drafts: DraftsMailbox | None, pk: int) -> None:
    """Tell the Drafts folder (``Service.drafts``) that message ``pk``'s draft changed."""
    if drafts is not None:
        drafts.changed(pk)


def edit(repo: Repository, pk: int, body: str, *, actor: str, now: datetime,
         drafts: DraftsMailbox | None = None) -> None:
    row = repo.get(pk)
    if row.stage not in (Stage.DRAFTED.value, Stage.HELD.value):
        raise ApprovalError(f"message #{pk} is {row.stage}: only drafts can be edited")
    if not body.strip():
        raise ApprovalError("the edited reply is empty")
    if row.draft is not None and body == row.draft.body:
        return
    repo.update_draft(pk, now=now, body=body, edited=True)
    repo.record(pk, actor=actor, action="edited", reason=f"reply edited ({len(body)} chars)",
                now=now)
    _changed(drafts, pk)


def approve(repo: Repository, pk: int, *, actor: str, now: datetime, message_id_domain: str,
            scorer: Scorer | None = None, hold_threshold: float | None = None,
            override_tone: bool = False, drafts: DraftsMailbox | None = None) -> str:
    """Approve the draft of message ``pk``; returns the reply's Message-ID."""
    row = repo.get(pk)
    if row.stage == Stage.HELD.value:
        raise ApprovalError(f"message #{pk} is cooling off until "
                            f"{row.release_at:%Y-%m-%d %H:%M} UTC; approve it after that")
    if row.stage == Stage.SUPERSEDED.value and row.draft is not None:
        raise ApprovalError(f"message #{pk}'s draft was superseded: the customer wrote again; "
                            f"approve the conversation's reply, #{row.draft.superseded_by}")
    if row.stage != Stage.DRAFTED.value or row.draft is None:
        raise ApprovalError(f"message #{pk} is {row.stage}: only drafted replies can be approved")
    # The tone guard judges what a person wrote: a draft nobody edited is the shop's
    # own template text, which the word-level scorer can misread (it once took "You
    # can see where your parcel is right now" for contempt) and which no rep can be
    # asked to override.
    if scorer is not None and row.draft.edited:
        verdict = check_tone(scorer, row.draft.body, row.draft.language)
        if is_hostile(verdict, hold_threshold if hold_threshold is not None else TONE_THRESHOLD):
            if not override_tone:
                raise ToneWarning(
                    f"the reply to #{pk} reads as hostile (score {verdict.score:.2f}"
                    + (f": {'; '.join(verdict.evidence)}" if verdict.evidence else "")
                    + "). Edit it, or approve with --override-tone to send it anyway.")
            repo.record(pk, actor=actor, action="tone-override",
                        reason=f"sent despite tone score {verdict.score:.2f}", now=now)
    reply_id = row.draft.reply_message_id or new_reply_message_id(message_id_domain)
    repo.update_draft(pk, now=now, reply_message_id=reply_id, approved_by=actor,
                      approved_at=now)
    repo.transition(pk, Stage.APPROVED, actor=actor, action="approved",
                    reason=f"reply {reply_id} approved", now=now, expect=[Stage.DRAFTED])
    _changed(drafts, pk)      # responder sends it now: no copy left in Drafts
    return reply_id


def reject(repo: Repository, pk: int, *, actor: str, now: datetime, reason: str,
           drafts: DraftsMailbox | None = None) -> None:
    row = repo.get(pk)
    allowed = (Stage.DRAFTED, Stage.HELD, Stage.APPROVED, Stage.QUARANTINED, Stage.SKIPPED)
    if row.stage not in {s.value for s in allowed}:
        raise ApprovalError(f"message #{pk} is {row.stage}: it cannot be rejected")
    repo.transition(pk, Stage.REJECTED, actor=actor, action="rejected",
                    reason=reason or "rejected by a rep", now=now, expect=list(allowed))
    _changed(drafts, pk)


def send_approved(repo: Repository, cfg: Config, *, clock: sending.Clock) -> dict[str, int]:
    """One send run (``responder send``; the scheduler runs Service.send_approved, the
    same code): settles interrupted sends, never sends one again, sends approved
    replies. No models are needed, so none are loaded."""
    return sending.send_approved(repo, cfg, clock(), clock=clock)


def resend(repo: Repository, cfg: Config, pk: int, *, actor: str, clock: sending.Clock) -> str:
    """A person checked an uncertain send and asks to send it (``send --resend``).

    Looks in the Sent folder once more first (found: marked sent, not sent again).
    Returns the outcome ("sent", "failed", "unknown"); the audit trail names ``actor``.
    """
    try:
        return sending.resend_one(repo, cfg, pk, actor=actor, clock=clock)
    except sending.SendRefused as exc:
        raise ApprovalError(str(exc)) from None


def mark_sent(repo: Repository, pk: int, *, actor: str, now: datetime, note: str = "") -> None:
    """A person confirmed that an uncertain send did go out (``send --mark-sent``)."""
    try:
        sending.mark_sent(repo, pk, actor=actor, now=now, note=note)
    except sending.SendRefused as exc:
        raise ApprovalError(str(exc)) from None


def release_early(repo: Repository, pk: int, *, actor: str, now: datetime, reason: str,
                  drafts: DraftsMailbox | None = None, not_hostile: bool = False) -> None:
    """End the cooling-off of held message ``pk`` now: its draft is ready for a rep.

    A person decides this, so ``reason`` is required and kept with ``actor``. With
    ``not_hostile`` the rep also says the hold was the model's mistake: a label for
    ``responder train`` is kept (store/labels.py)."""
    from responder.store.repository import StageConflict
    if not reason.strip():
        raise ApprovalError("say why the hold is released early (kept in the audit trail)")
    row = repo.get(pk)
    if row.stage != Stage.HELD.value:
        raise ApprovalError(f"message #{pk} is {row.stage}: only held messages can be released")
    until = f" (was held until {row.release_at:%Y-%m-%d %H:%M} UTC)" if row.release_at else ""
    parsed = _parse(row) if not_hostile else None     # a label that cannot be kept: say so first
    try:
        repo.transition(pk, Stage.DRAFTED, actor=actor, action="released-early",
                        reason=f"cooling-off ended early{until}: {reason.strip()}"
                        + (" (not hostile: the hold was a mistake)" if not_hostile else ""),
                        now=now, expect=[Stage.HELD])
    except StageConflict as exc:
        raise ApprovalError(str(exc)) from None
    if not_hostile:
        _label(repo, row, "hostility", NOT_HOSTILE, action="released-not-hostile",
               actor=actor, now=now, parsed=parsed)
    _changed(drafts, pk)


def answer_anyway(repo: Repository, services: Services, pk: int, *, actor: str,
                  now: datetime, drafts: DraftsMailbox | None = None) -> str:
    """Decide message ``pk`` again without the per-sender throttle: a person chose to
    answer a customer who wrote again soon after our reply (the throttle, a loop guard,
    skipped it). Every other screening rule still applies. Only mail the throttle
    skipped qualifies. Returns the stage it reached (drafted or held, in its
    conversation)."""
    from dataclasses import replace

    from responder.app.service import process_stored
    from responder.store.repository import StageConflict

    row = repo.get(pk)
    if row.stage != Stage.SKIPPED.value or row.skip_rule != "throttle":
        what = (f"skipped by the rule {row.skip_rule!r}" if row.stage == Stage.SKIPPED.value
                else row.stage)
        raise ApprovalError(f"message #{pk} is {what}: only mail the per-sender throttle "
                            "skipped can be answered anyway")
    try:
        repo.transition(pk, Stage.RECEIVED, actor=actor, action="answer-anyway",
                        reason=f"a person chose to answer it (it was skipped: "
                        f"{row.skip_reason}); decided again without the throttle",
                        now=now, expect=[Stage.SKIPPED], skip_rule=None, skip_reason=None)
    except StageConflict as exc:
        raise ApprovalError(str(exc)) from None
    unthrottled = replace(services, replied_recently=lambda addr: False)
    process_stored(repo, unthrottled, [pk], now)
    stage = repo.get(pk).stage
    _changed(drafts, pk)
    return stage


def redraft(repo: Repository, services: Services, pk: int, *, actor: str, now: datetime,
            intent: str | None = None, language: str | None = None,
            drafts: DraftsMailbox | None = None) -> str:
    """Make the draft of ``pk`` again from the template of another ``intent`` and/or in
    another ``language`` (a rep's correction of the classifier or the language
    detector). The stored verdicts stay as they were; the audit trail says what the rep
    chose. Returns the new draft's template name."""
    from dataclasses import replace

    from responder.core import drafting, parsing
    from responder.core.languages import LANGUAGES
    from responder.core.model import INTENTS, HostilityVerdict, IntentVerdict
    from responder.store.repository import StageConflict

    if not intent and not language:
        raise ApprovalError("choose another intent or another language")
    if intent and intent not in INTENTS:
        raise ApprovalError(f"unknown intent {intent!r}; one of: {', '.join(INTENTS)}")
    if language and language not in LANGUAGES:
        raise ApprovalError(f"no reply language {language!r}; one of: {', '.join(LANGUAGES)}")
    row = repo.get(pk)
    if row.stage not in (Stage.DRAFTED.value, Stage.HELD.value):
        raise ApprovalError(f"message #{pk} is {row.stage}: only drafts can be re-drafted")
    try:
        parsed = parsing.parse(row.raw)
    except parsing.ParseError as exc:
        raise ApprovalError(f"message #{pk} cannot be parsed again: {exc}") from None
    if language:
        parsed = replace(parsed, language=language)
    chosen = intent or row.intent or "other"
    hostility = (HostilityVerdict(row.hostility, list(row.hostility_labels or []),
                                  list(row.hostility_evidence or []))
                 if row.hostility is not None else None)
    cfg = services.cfg
    draft = drafting.build_draft(
        parsed, intent=IntentVerdict(chosen, 1.0), hostility=hostility, shop=cfg.shop,
        renderer=services.renderer, default_language=cfg.drafting.default_language,
        quote_original=cfg.drafting.quote_original, html=cfg.drafting.html,
        hold_threshold=services.policy.hold_threshold)
    old = row.draft.template if row.draft is not None else "none"
    draft.notes.append(f"Re-drafted by {actor.removeprefix('rep:')}: intent {chosen}, "
                       f"language {draft.language}.")
    stage = Stage(row.stage)
    try:
        repo.transition(pk, stage, actor=actor, action="redrafted",
                        reason=f"re-drafted as {draft.template} (was {old})", now=now,
                        expect=[stage], draft=draft)
    except StageConflict as exc:
        raise ApprovalError(str(exc)) from None
    repo.update_draft(pk, now=now, edited=False)
    if intent and intent != row.intent:
        _label(repo, row, "intent", intent, action="redrafted", actor=actor, now=now,
               parsed=parsed)
    if language and language != row.language:
        _label(repo, row, "language", language, action="redrafted", actor=actor, now=now,
               parsed=parsed)
    _changed(drafts, pk)
    return draft.template


# ---- learning from the reps: labels for `responder train` -------------------------------

def mark_abusive(repo: Repository, pk: int, *, abusive: bool, actor: str,
                 now: datetime) -> None:
    """A rep's word on whether message ``pk`` is abusive, kept as a label for
    ``responder train`` (with an audit event). Changes nothing else: a message marked
    abusive is not held by this, and one marked not abusive is not released."""
    row = repo.get(pk)
    if row.hostility is None:
        raise ApprovalError(f"message #{pk} is {row.stage} and was never scored: there is "
                            "no model judgement to correct")
    value = HOSTILE if abusive else NOT_HOSTILE
    _label(repo, row, "hostility", value, action="marked-abusive" if abusive
           else "marked-not-abusive", actor=actor, now=now)
    repo.record(pk, actor=actor, action="labelled",
                reason=f"marked {'abusive' if abusive else 'not abusive'} "
                       f"(hostility score was {row.hostility:.2f})", now=now)


def _parse(row: MessageRow) -> ParsedMessage:
    from responder.core import parsing
    try:
        return parsing.parse(row.raw)
    except parsing.ParseError as exc:
        raise ApprovalError(f"message #{row.id} cannot be parsed: {exc}") from None


def _label(repo: Repository, row: MessageRow, kind: str, value: str, *, action: str,
           actor: str, now: datetime, parsed: ParsedMessage | None = None) -> None:
    """Keep one label with the customer's own words as the models saw them and what
    the model said then (stored verdicts; ``row`` as read before the action)."""
    from responder.store.labels import NewLabel, add_label

    if parsed is None:
        parsed = _parse(row)
    if kind == "hostility":
        model_value = None if row.hostility is None else (
            HOSTILE if row.stage == Stage.HELD.value or row.release_at is not None
            else NOT_HOSTILE)
        score = row.hostility
    elif kind == "intent":
        model_value, score = row.intent, row.intent_confidence
    else:
        model_value, score = row.language, None
    add_label(repo, NewLabel(
        message_pk=row.id, kind=kind, value=value, model_value=model_value,
        model_score=score, model_version=row.model_version, action=action, actor=actor,
        at=now, language=row.language, subject=row.subject,
        text=parsed.own_words or parsed.text))

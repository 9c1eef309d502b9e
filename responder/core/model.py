"""Plain data passed between the stages of the flow.

Nothing here does I/O. The stages (parsing, screening, scoring, intent,
cooling, drafting) each take and return these objects, so the whole decision
for one message can be run in memory (``responder replay``) or against the
store (the live service) with the same code.
"""
from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime
from email.message import EmailMessage

from responder.core.addresses import person_address


class Stage(str, enum.Enum):  # noqa: UP042 - StrEnum would change str() of a stage
    """Where a stored message is in the flow. Stored as its value."""

    RECEIVED = "received"        # raw bytes stored, nothing decided yet
    SKIPPED = "skipped"          # automatic mail or loop risk: never answered
    SCORED = "scored"            # hostility and intent known (transient)
    HELD = "held"                # hostile: draft waits until release_at
    DRAFTED = "drafted"          # draft ready for a rep
    APPROVED = "approved"        # rep approved; waiting to be sent
    SENDING = "sending"          # handed to SMTP; outcome not yet recorded
    UNCERTAIN = "uncertain"      # a send was interrupted: a person must check, then resend
    SENT = "sent"                # reply accepted by the SMTP server
    REJECTED = "rejected"        # rep decided not to answer
    SUPERSEDED = "superseded"    # the customer wrote again: a newer draft answers it too
    QUARANTINED = "quarantined"  # could not be processed; kept with the reason


INTENTS = (
    "refund_request",
    "where_is_my_order",
    "damaged_or_wrong_item",
    "cancel_order",
    "login_or_password_trouble",
    "download_trouble",
    "product_question",
    "billing_or_charge_dispute",
    "thanks_or_praise",
    "other",
)

# the one registry, re-exported (the redundant alias marks it as such for mypy and ruff)
from responder.core.languages import LANGUAGES as LANGUAGES  # noqa: E402

HOSTILITY_LABELS = ("insult", "profanity", "threat", "contempt", "reputation_threat")


@dataclass
class ParsedMessage:
    """What parsing makes of the raw bytes of one message."""

    email: EmailMessage            # the parsed MIME tree (headers for screening)
    message_id: str | None         # with angle brackets, as in the header
    subject: str
    from_addr: str                 # bare address, lower-case ("" if none)
    from_name: str
    reply_to: str | None           # bare address of Reply-To, if any
    reply_to_name: str
    to_addrs: list[str]            # To + Cc, bare lower-case addresses
    date: datetime | None
    in_reply_to: str | None
    references: list[str]
    text: str                      # the whole readable body (HTML converted)
    own_words: str                 # the customer's own words: quotes, signature removed
    language: str | None           # ISO 639-1 code, None if unknown
    defects: list[str] = field(default_factory=list)

    @property
    def customer_addr(self) -> str:
        """Who a reply goes to: the person in Reply-To (contact forms), else From.

        A system address in Reply-To (noreply@...) is passed over for a person in From.
        """
        return person_address(self.reply_to, self.from_addr)

    @property
    def customer_name(self) -> str:
        addr = self.customer_addr
        if self.reply_to and addr == self.reply_to.lower():
            return self.reply_to_name or ""
        return self.from_name or ""


@dataclass
class SkipVerdict:
    rule: str      # the screening rule's name, e.g. "auto-submitted"
    reason: str    # readable reason shown to reps


@dataclass
class HostilityVerdict:
    score: float                   # 0..1; whether it holds is the cooling policy's call
    labels: list[str] = field(default_factory=list)     # subset of HOSTILITY_LABELS
    evidence: list[str] = field(default_factory=list)   # sentences that drove the score


#: reputation threats a customer's own words can make (core/threats.py finds them)
THREAT_KINDS = ("bad_review", "chargeback", "lawyer", "authority", "social_media")


@dataclass
class ReputationThreat:
    """A threat to the shop's reputation in the customer's own words: it informs the
    owner (responder customers), it never decides anything by itself."""

    kind: str                      # one of THREAT_KINDS
    cue: str                       # the cue entry that matched (core/threats.py CUES)
    evidence: str                  # the customer's sentence that holds it


@dataclass
class IntentVerdict:
    intent: str                    # one of INTENTS
    confidence: float              # 0..1
    low_confidence: bool = False   # True when the classifier's best was below min_confidence


@dataclass
class Hold:
    release_at: datetime           # when the draft becomes ready
    reason: str
    # which hostility band chose the length ("0.70-0.90: 4 h", "hold_hours: 4 h") and
    # which rule set release_at (core.cooling.RULES: band, min_hold, deadline, ...)
    band: str = ""
    rule: str = ""


@dataclass
class Draft:
    to_addr: str
    to_name: str
    from_addr: str
    subject: str
    body: str
    in_reply_to: str | None
    references: list[str]
    template: str                  # e.g. "en/refund_request" or "en/refund_request.hostile"
    language: str
    fallback_language: bool        # True: no templates in the customer's language
    html_body: str | None = None
    notes: list[str] = field(default_factory=list)   # things the rep must know


@dataclass
class Decision:
    """Everything the pipeline decided about one message."""

    parsed: ParsedMessage | None = None
    skip: SkipVerdict | None = None
    hostility: HostilityVerdict | None = None
    intent: IntentVerdict | None = None
    threats: list[ReputationThreat] = field(default_factory=list)   # core/threats.py
    hold: Hold | None = None
    draft: Draft | None = None
    deadline_at: datetime | None = None
    error: str | None = None       # set when the message was quarantined
    model_version: str | None = None   # the model versions that judged it (scored ones)

    @property
    def quarantined(self) -> bool:
        return self.error is not None

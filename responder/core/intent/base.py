"""The intent classifier interface and the verdict rule every backend shares."""
from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

from responder.config import IntentSection
from responder.core.model import INTENTS, IntentVerdict

# the one default lives in the config model; classifiers built without a config use it
DEFAULT_MIN_CONFIDENCE: float = IntentSection.model_fields["min_confidence"].default


@runtime_checkable
class IntentClassifier(Protocol):
    """Turns messages (subject + "\\n" + the customer's own words) into one intent each."""

    name: str

    def classify(self, texts: Sequence[str],
                 languages: Sequence[str | None] | None = None) -> list[IntentVerdict]: ...


def verdict(intent: str, confidence: float, min_confidence: float) -> IntentVerdict:
    """The verdict for a best guess: below min_confidence it is "other", flagged low."""
    confidence = float(min(1.0, max(0.0, confidence)))
    if intent not in INTENTS:
        intent = "other"
    if confidence < min_confidence:
        return IntentVerdict(intent="other", confidence=confidence, low_confidence=True)
    return IntentVerdict(intent=intent, confidence=confidence, low_confidence=False)

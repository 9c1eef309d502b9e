"""The intent classifier interface and the factory the rest of responder uses."""
from __future__ import annotations

from typing import Protocol, Sequence, runtime_checkable

from responder.core.model import INTENTS, IntentVerdict

DEFAULT_MIN_CONFIDENCE = 0.4


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


def make_classifier(cfg) -> IntentClassifier:
    """The classifier the [intent] section asks for.

    cfg needs: backend ("builtin" | "transformers"), model (HF id or local folder;
    "" for builtin = the bundled head), min_confidence, batch_size.
    """
    backend = (getattr(cfg, "backend", "builtin") or "builtin").lower()
    model = (getattr(cfg, "model", "") or "").strip()
    min_conf = float(getattr(cfg, "min_confidence", DEFAULT_MIN_CONFIDENCE))
    batch_size = int(getattr(cfg, "batch_size", 16) or 16)
    if backend == "builtin":
        from responder.core.intent.builtin import BuiltinClassifier
        return BuiltinClassifier.load(model or None, min_confidence=min_conf,
                                      batch_size=batch_size)
    if backend == "transformers":
        if not model:
            raise ValueError("[intent] backend = \"transformers\" needs a model "
                             "(a Hugging Face id or a local folder)")
        from responder.core.intent.hf import TransformersClassifier
        return TransformersClassifier(model, min_confidence=min_conf, batch_size=batch_size,
                                      device=getattr(cfg, "device", "cpu") or "cpu")
    raise ValueError(f"unknown [intent] backend: {backend!r} (builtin or transformers)")

"""What the customer wants: one primary intent per message, which picks the reply template.

    make_classifier(cfg.intent).classify(texts, languages) -> [IntentVerdict]

Backends: "builtin" (offline default: character n-grams, words and a keyword layer
with a linear head trained by scripts/train_intent.py, needs only numpy) and
"transformers" (any text-classification model whose labels are the intents).
"""
from responder.core.intent.base import IntentClassifier
from responder.core.intent.factory import make_classifier

__all__ = ["IntentClassifier", "make_classifier"]

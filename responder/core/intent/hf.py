"""Intent classification with a Hugging Face text-classification model.

The model's id2label names are the intents ("refund_request", ...; case, spaces and
hyphens are forgiven); a label that is not one of model.INTENTS counts as "other".
Nothing is downloaded at run time: a local folder is loaded as it is, a hub id
only from the local cache (fetch it first, e.g. ``responder model pull``).
"""
from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt

from responder.core.intent.base import DEFAULT_MIN_CONFIDENCE, verdict
from responder.core.model import INTENTS, IntentVerdict
from responder.core.scoring.encoder import quiet_loading
from responder.core.scoring.errors import ModelUnavailable

log = logging.getLogger(__name__)

MAX_LENGTH = 256   # tokens; intent is clear from the first lines of a message


def label_to_intent(label: str) -> str:
    name = re.sub(r"[\s\-]+", "_", str(label).strip().lower())
    return name if name in INTENTS else "other"


class TransformersClassifier:
    name = "transformers"

    def __init__(self, model: str, min_confidence: float = DEFAULT_MIN_CONFIDENCE,
                 batch_size: int = 16, device: str = "cpu", max_length: int = MAX_LENGTH):
        import torch
        from transformers import AutoModelForSequenceClassification, AutoTokenizer

        self._torch = torch
        self.model_name = model
        self.min_confidence = float(min_confidence)
        self.batch_size = max(1, int(batch_size))
        self.device = device
        try:
            # a folder: exactly what is there; a hub id: only what is already cached
            with quiet_loading():
                self.tokenizer = AutoTokenizer.from_pretrained(model, local_files_only=True)
                self.model = AutoModelForSequenceClassification.from_pretrained(
                    model, local_files_only=True)
        except (OSError, ValueError) as exc:
            if Path(model).is_dir():
                hint = "the folder must hold a model saved with save_pretrained"
            else:
                hint = (f"a hub id is only read from the local cache: fetch it first with "
                        f"`responder model pull {model}`, or set intent.model to a local folder")
            raise ModelUnavailable(f"Could not load the intent model {model!r} ({hint}): "
                                   f"{str(exc)[:300]}") from exc
        self.model.to(device)
        self.model.eval()
        config = self.model.config
        labels = config.id2label or {i: f"LABEL_{i}" for i in range(config.num_labels)}
        n = int(config.num_labels)
        # columns of the model's output -> index in INTENTS (several may map to "other")
        self._column_intent = np.array([INTENTS.index(label_to_intent(labels.get(i, "")))
                                        for i in range(n)])
        unknown = sorted({str(labels.get(i)) for i in range(n)
                          if label_to_intent(labels.get(i, "")) == "other"
                          and str(labels.get(i, "")).lower() != "other"})
        if unknown:
            log.warning("intent model %s: labels %s are not intents; they count as 'other'",
                        model, ", ".join(unknown))
        self._multi_label = getattr(config, "problem_type", None) == "multi_label_classification"
        limit = getattr(self.tokenizer, "model_max_length", None) or max_length
        positions = getattr(config, "max_position_embeddings", None) or max_length
        self.max_length = int(min(max_length, limit, positions))

    def proba(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        """Probabilities per intent (rows: texts, columns: model.INTENTS)."""
        torch = self._torch
        out = np.zeros((len(texts), len(INTENTS)), dtype=np.float32)
        for start in range(0, len(texts), self.batch_size):
            chunk = [t or "" for t in texts[start:start + self.batch_size]]
            enc = self.tokenizer(chunk, padding=True, truncation=True,
                                 max_length=self.max_length, return_tensors="pt")
            enc = {k: v.to(self.device) for k, v in enc.items()}
            with torch.inference_mode():
                logits = self.model(**enc).logits.float()
            probs = torch.sigmoid(logits) if self._multi_label else torch.softmax(logits, dim=-1)
            probs = probs.cpu().numpy()
            for col, intent_idx in enumerate(self._column_intent):
                # labels that share an intent ("other") add up
                out[start:start + len(chunk), intent_idx] += probs[:, col]
        return np.clip(out, 0.0, 1.0)

    def classify(self, texts: Sequence[str],
                 languages: Sequence[str | None] | None = None) -> list[IntentVerdict]:
        texts = list(texts)
        if not texts:
            return []
        probs = self.proba(texts)
        result: list[IntentVerdict] = []
        for row in probs:
            best = int(np.argmax(row))
            result.append(verdict(INTENTS[best], float(row[best]), self.min_confidence))
        return result

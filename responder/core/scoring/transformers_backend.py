"""Hostility scoring with any Hugging Face sequence-classification model.

``scoring.model`` is a hub id (``unitary/toxic-bert``, ...) or a local folder
saved with ``save_pretrained``. The model is loaded with AutoTokenizer and
AutoModelForSequenceClassification; a folder, or a hub id when
``HF_HUB_OFFLINE``/``TRANSFORMERS_OFFLINE`` is set, is loaded without any
network access, and a hub id is always looked for in the local cache first.

Each message is split into sentences (long ones into chunks) and all
sentences of a batch of messages go through the model together, sorted by
length, ``batch_size`` sentences per forward pass. A sentence's hostility is
the probability of the model's hostile labels (``scoring.hostile_labels``):
the largest of them for a multi-label model (sigmoid), their sum for a
single-label one (softmax). The message score is its most hostile sentence.
"""
from __future__ import annotations

import logging
import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from responder.core.model import HostilityVerdict
from responder.core.scoring.builtin import (
    EVIDENCE_MAX,
    EVIDENCE_SCORE,
    LABEL_SCORE,
    labels_from_hits,
    resolve_languages,
)
from responder.core.scoring.encoder import quiet_loading
from responder.core.scoring.errors import ModelUnavailable
from responder.core.scoring.lexicon import load_lexicon
from responder.core.scoring.text import split_sentences, tokens
from responder.core.text import fold

if TYPE_CHECKING:
    from transformers import PreTrainedTokenizerBase

#: a transformers sequence-classification model: whatever class the checkpoint names
#: (``from_pretrained`` is typed as returning Any upstream)
Model = Any

log = logging.getLogger(__name__)

DEFAULT_HOSTILE_LABELS = ("toxic", "toxicity", "insult", "obscene", "threat", "identity_hate",
                          "severe_toxic", "severe_toxicity", "identity_attack",
                          "sexual_explicit", "LABEL_1")

# model output label -> HOSTILITY_LABELS entry (generic "toxic" labels map to none;
# a held message that nothing names is reported as contempt)
MODEL_LABEL_MAP = {
    "insult": "insult", "insults": "insult", "identity_hate": "insult",
    "identity_attack": "insult", "hate": "insult",
    "obscene": "profanity", "profanity": "profanity", "sexual_explicit": "profanity",
    "vulgar": "profanity",
    "threat": "threat", "threats": "threat",
}

_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*(/[\w.-]+)?$")


def _offline() -> bool:
    return any(os.environ.get(v, "").strip().lower() in ("1", "true", "yes", "on")
               for v in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"))


def _unavailable(model: str, why: str) -> ModelUnavailable:
    return ModelUnavailable(
        f"The hostility model {model!r} cannot be loaded: {why}. "
        f"To fix it: download it once with `responder model pull {model}` on a machine "
        "that can reach huggingface.co, or set scoring.model to a local folder that holds "
        "the model (config.json, tokenizer files and weights, as save_pretrained writes "
        "them), or set scoring.backend = \"builtin\" to use the offline default.")


def load_classifier(model: str, device: str = "cpu"
                    ) -> tuple[PreTrainedTokenizerBase, Model]:
    """(tokenizer, model) for a hub id or a local folder; ModelUnavailable if neither works."""
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    model = (model or "").strip()
    if not model:
        raise _unavailable(model, "scoring.model is empty")
    path = Path(model).expanduser()

    def _load(source: str, local_only: bool
              ) -> tuple[PreTrainedTokenizerBase, Model]:
        with quiet_loading():
            tok = AutoTokenizer.from_pretrained(source, local_files_only=local_only)
            mdl = AutoModelForSequenceClassification.from_pretrained(
                source, local_files_only=local_only)
        return tok, mdl

    if path.is_dir():
        try:
            tok, mdl = _load(str(path), True)
        except (OSError, ValueError, KeyError) as exc:
            raise _unavailable(model, f"the folder {path} does not hold a usable model "
                                      f"({exc.__class__.__name__}: {str(exc)[:300]})") from exc
    elif path.is_absolute() or model.startswith((".", "~")) or not _HUB_ID.match(model):
        raise _unavailable(model, f"no such folder: {path}")
    else:
        try:
            tok, mdl = _load(model, True)                # the local cache, no network
        except (OSError, ValueError, KeyError) as cache_exc:
            if _offline():
                raise _unavailable(model, "it is not in the local Hugging Face cache and "
                                          "HF_HUB_OFFLINE is set") from cache_exc
            try:
                tok, mdl = _load(model, False)
            except Exception as exc:                       # network errors vary by version
                raise _unavailable(model, "it is not on this machine and the Hugging Face "
                                          f"hub could not provide it ({exc.__class__.__name__}: "
                                          f"{str(exc)[:300]})") from exc
    mdl.eval()
    mdl.to(device)
    return tok, mdl


class TransformersScorer:
    name = "transformers"

    def __init__(self, model: str, batch_size: int = 16,
                 hostile_labels: Sequence[str] | None = None, device: str = "cpu",
                 max_tokens: int = 256) -> None:
        import torch

        self._torch = torch
        self.model_id = model
        self.batch_size = max(1, int(batch_size))
        self.device = device
        self.tokenizer, self.model = load_classifier(model, device)
        cfg = self.model.config
        self.num_labels = int(cfg.num_labels)
        id2label = {int(k): str(v) for k, v in (cfg.id2label or {}).items()}
        self.labels = [id2label.get(i, f"LABEL_{i}") for i in range(self.num_labels)]
        self.multi_label = (cfg.problem_type == "multi_label_classification"
                            or self.num_labels == 1)
        wanted = {w.lower() for w in (hostile_labels or DEFAULT_HOSTILE_LABELS)}
        self.hostile_idx = [i for i, lab in enumerate(self.labels) if lab.lower() in wanted]
        if not self.hostile_idx:
            raise ModelUnavailable(
                f"The model {model!r} has the labels {self.labels}, none of which is in "
                f"scoring.hostile_labels {sorted(wanted)}. Add the model's hostile label "
                "names to scoring.hostile_labels.")
        limit = getattr(self.tokenizer, "model_max_length", max_tokens) or max_tokens
        self.max_tokens = int(min(max_tokens, limit if limit < 100_000 else max_tokens))

    def label_probabilities(self, sentences: Sequence[str]) -> npt.NDArray[np.float32]:
        """Probabilities per sentence and model label (sigmoid or softmax)."""
        torch = self._torch
        out = np.zeros((len(sentences), self.num_labels), np.float32)
        if not sentences:
            return out
        order = sorted(range(len(sentences)), key=lambda i: len(sentences[i]))
        with torch.inference_mode():
            for start in range(0, len(order), self.batch_size):
                ids = order[start:start + self.batch_size]
                enc = self.tokenizer([sentences[i] for i in ids], padding=True, truncation=True,
                                     max_length=self.max_tokens, return_tensors="pt")
                enc = {k: v.to(self.device) for k, v in enc.items()}
                logits = self.model(**enc).logits.float()
                probs = torch.sigmoid(logits) if self.multi_label else torch.softmax(logits, -1)
                out[ids] = probs.cpu().numpy()
        return out

    def _hostility(self, probs: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
        sel = probs[:, self.hostile_idx]
        per_sentence: npt.NDArray[np.float32] = (
            sel.max(axis=1) if self.multi_label else np.clip(sel.sum(axis=1), 0.0, 1.0))
        return per_sentence

    def score(self, texts: Sequence[str], languages: Sequence[str | None] | None = None
              ) -> list[HostilityVerdict]:
        texts = list(texts)
        langs = resolve_languages(texts, languages)
        per_text = [split_sentences(t or "") for t in texts]
        flat = [s for sents in per_text for s in sents]
        probs = self.label_probabilities(flat)
        hostility = self._hostility(probs) if len(flat) else np.zeros(0, np.float32)
        verdicts: list[HostilityVerdict] = []
        k = 0
        floor = EVIDENCE_SCORE
        for sents, lang in zip(per_text, langs):
            n = len(sents)
            if n == 0:
                verdicts.append(HostilityVerdict(score=0.0))
                continue
            h, p = hostility[k:k + n], probs[k:k + n]
            k += n
            score = float(h.max())
            hostile = score >= LABEL_SCORE
            order = np.argsort(-h, kind="stable")
            evidence = [sents[i] for i in order[:EVIDENCE_MAX] if h[i] >= floor]
            if hostile and not evidence:
                evidence = [sents[int(order[0])]]
            extra: set[str] = set()
            for i in range(n):
                if h[i] < floor:
                    continue
                for j, lab in enumerate(self.labels):
                    mapped = MODEL_LABEL_MAP.get(lab.lower())
                    if mapped and p[i, j] >= LABEL_SCORE:
                        extra.add(mapped)
            lexicon = load_lexicon(lang)
            hits = [lexicon.find(tokens(fold(s))) for s in sents]
            labels = labels_from_hits(hits, hostile, h, floor, extra=sorted(extra))
            verdicts.append(HostilityVerdict(score=score, labels=labels, evidence=evidence))
        return verdicts

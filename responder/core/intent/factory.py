"""Build the intent classifier the ``[intent]`` section asks for."""
from __future__ import annotations

from pathlib import Path

from responder.config import IntentSection
from responder.core.intent.base import IntentClassifier


def make_classifier(cfg: IntentSection, models_dir: Path | None = None) -> IntentClassifier:
    """The classifier the [intent] section asks for.

    Reads backend ("builtin" | "transformers"), model (HF id or local folder; ""
    for builtin = the bundled head), min_confidence and batch_size; every default
    lives in the config model. ``models_dir``: the shop's models folder; with the
    builtin backend and no model, its current intent version (``responder train``) is
    used instead of the shipped head.
    """
    backend = cfg.backend.lower()
    model = cfg.model.strip()
    min_conf = float(cfg.min_confidence)
    batch_size = int(cfg.batch_size)
    if backend == "builtin":
        from responder.core.intent.builtin import BuiltinClassifier
        from responder.core.learning import current_dir
        shop = None if model else current_dir(models_dir, "intent")
        return BuiltinClassifier.load(model or shop, min_confidence=min_conf,
                                      batch_size=batch_size)
    if backend == "transformers":
        if not model:
            raise ValueError("[intent] backend = \"transformers\" needs a model "
                             "(a Hugging Face id or a local folder)")
        from responder.core.intent.hf import TransformersClassifier
        return TransformersClassifier(model, min_confidence=min_conf, batch_size=batch_size,
                                      device=getattr(cfg, "device", "cpu") or "cpu")
    raise ValueError(f"unknown [intent] backend: {backend!r} (builtin or transformers)")

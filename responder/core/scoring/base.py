"""The Scorer interface, the factory the pipeline calls, and model download.

A scorer turns the customer's own words (quotes and signature already removed
by the parser; lines starting with '>' are ignored anyway) into one
:class:`~responder.core.model.HostilityVerdict` per message: a score in 0..1,
``hostile`` when the score reaches ``scoring.hold_threshold``, the labels that
apply and up to three sentences that drove the score. Anger is not hostility:
a civil complaint that threatens a chargeback or a review gets the
``reputation_threat`` label but is not held for it.

Backends:

* ``builtin`` (default): offline, see :mod:`.builtin`. Needs no network.
* ``transformers``: any sequence-classification model, see
  :mod:`.transformers_backend`.
"""
from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Protocol, Sequence, runtime_checkable

from responder.core.model import HostilityVerdict
from responder.core.scoring.errors import ModelUnavailable

log = logging.getLogger(__name__)

__all__ = ["Scorer", "make_scorer", "ModelUnavailable", "pull_model"]


@runtime_checkable
class Scorer(Protocol):
    name: str

    def score(self, texts: Sequence[str], languages: Sequence[str | None] | None = None
              ) -> list[HostilityVerdict]: ...


def _get(cfg, key: str, default):
    if cfg is None:
        return default
    if isinstance(cfg, dict):
        return cfg.get(key, default)
    return getattr(cfg, key, default)


def make_scorer(cfg) -> Scorer:
    """The scorer that ``cfg`` (the [scoring] section) asks for.

    Raises ModelUnavailable, with what to do, when the model cannot be loaded.
    """
    backend = (_get(cfg, "backend", "builtin") or "builtin").strip().lower()
    model = (_get(cfg, "model", "") or "").strip()
    threshold = float(_get(cfg, "hold_threshold", 0.5))
    batch_size = int(_get(cfg, "batch_size", 16))
    device = _get(cfg, "device", "cpu") or "cpu"
    if backend == "builtin":
        from responder.core.scoring.builtin import HEAD_NPZ, BuiltinScorer
        head_dir = None
        if model:
            folder = Path(model).expanduser()
            if (folder / HEAD_NPZ).is_file():
                head_dir = folder                  # a head trained on the shop's own mail
            else:
                log.warning("scoring.model=%r is ignored by the builtin backend (it is not a "
                            "folder with %s)", model, HEAD_NPZ)
        return BuiltinScorer(hold_threshold=threshold, batch_size=batch_size, device=device,
                             head_dir=head_dir)
    if backend == "transformers":
        from responder.core.scoring.transformers_backend import DEFAULT_HOSTILE_LABELS, TransformersScorer
        labels = list(_get(cfg, "hostile_labels", None) or DEFAULT_HOSTILE_LABELS)
        return TransformersScorer(model, hold_threshold=threshold, batch_size=batch_size,
                                  hostile_labels=labels, device=device)
    raise ValueError(f"unknown scoring backend {backend!r} (expected builtin or transformers)")


_SKIP_FILES = ["*.onnx", "onnx/*", "*.h5", "tf_model*", "flax_model*", "*.msgpack", "*.ot",
               "rust_model*", "*.tflite", "openvino/*", "coreml/*", "*.gguf"]


def pull_model(model_id: str, cache_dir: str | None = None) -> Path:
    """Download a hub model into the Hugging Face cache (with a progress bar).

    Returns the local folder. A local folder is returned as it is.
    """
    model_id = (model_id or "").strip()
    if not model_id:
        raise ModelUnavailable("No model given: name a Hugging Face model id, e.g. "
                               "`responder model pull unitary/multilingual-toxic-xlm-roberta`.")
    local = Path(model_id).expanduser()
    if local.is_dir():
        return local.resolve()
    try:
        from huggingface_hub import snapshot_download
    except ImportError as exc:                                   # pragma: no cover
        raise ModelUnavailable("huggingface_hub is not installed: pip install huggingface_hub"
                               ) from exc
    if any(os.environ.get(v, "").strip().lower() in ("1", "true", "yes", "on")
           for v in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")):
        raise ModelUnavailable(
            f"Cannot download {model_id!r}: HF_HUB_OFFLINE is set. Unset it on a machine that "
            "can reach huggingface.co, or copy the model folder here and set scoring.model "
            "to that folder.")
    try:
        path = snapshot_download(repo_id=model_id, cache_dir=cache_dir,
                                 ignore_patterns=_SKIP_FILES)
    except Exception as exc:                # HTTP, DNS, auth and "not found" errors all land here
        raise ModelUnavailable(
            f"Could not download {model_id!r} from the Hugging Face hub "
            f"({exc.__class__.__name__}: {str(exc)[:300]}). Check the model id and the "
            "network (a proxy may need HTTPS_PROXY), or download the model on another "
            "machine, copy its folder here and set scoring.model to that folder.") from exc
    return Path(path)

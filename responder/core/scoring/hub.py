"""Fetch a Hugging Face model ahead of time (``responder model pull``).

The only place that reaches the network for models; the scorers themselves load
from the local cache or a folder.
"""
from __future__ import annotations

import os
from pathlib import Path

from responder.core.scoring.errors import ModelUnavailable

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

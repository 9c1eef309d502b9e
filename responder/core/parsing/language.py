"""Language detection with lingua: ISO 639-1 code or None.

The detector is built once per process, lazily (or by ``warm_up()`` at service
start). High-accuracy mode: loading its models takes ~3-8 s for the 15
languages, low-accuracy mode ~0.3 s, but low accuracy gets short customer
sentences wrong ("Where is my order?" -> Danish, "Où est ma commande ?" ->
Swedish; 37/42 vs 41/42 on short samples), so high accuracy is the default;
``RESPONDER_LANGDETECT=low`` switches. Detecting one message then takes well
under a millisecond.
"""
from __future__ import annotations

import logging
import os
import re
import threading
from typing import Any

from responder.core.languages import DETECT_ONLY, LANGUAGES

log = logging.getLogger(__name__)


#: What the detector may answer: the reply languages and a few detected only
#: (core/languages.py says why Slovak is not among them).
_DETECTOR_LANGUAGES = LANGUAGES + DETECT_ONLY

_detector: Any = None
_detector_lock = threading.Lock()
detector_build_seconds: float | None = None


def _get_detector() -> Any:
    """The lingua detector, built once per process (high accuracy: ~8 s to load)."""
    global _detector, detector_build_seconds
    if _detector is not None:
        return _detector
    with _detector_lock:
        if _detector is None:
            import time

            from lingua import IsoCode639_1, Language, LanguageDetectorBuilder
            start = time.perf_counter()
            langs = [Language.from_iso_code_639_1(getattr(IsoCode639_1, code.upper()))
                     for code in _DETECTOR_LANGUAGES]
            builder = LanguageDetectorBuilder.from_languages(*langs)
            if os.environ.get("RESPONDER_LANGDETECT", "").lower() == "low":
                builder = builder.with_low_accuracy_mode()
            _detector = builder.with_preloaded_language_models().build()
            detector_build_seconds = time.perf_counter() - start
            log.info("language detector built in %.2fs", detector_build_seconds)
    return _detector


def warm_up() -> float:
    """Build the language detector now (seconds taken), e.g. at service start."""
    _get_detector()
    return detector_build_seconds or 0.0


_NOISE = re.compile(r"https?://\S+|www\.\S+|\S+@\S+|[#№]?\d[\d\s.,:/-]*|[_*=~<>|\[\]{}()\\]+")


def detect_language(text: str) -> str | None:
    """ISO 639-1 code of the text, or None when it is too short or unclear."""
    if not text:
        return None
    sample = _NOISE.sub(" ", text[:3000])
    letters = sum(ch.isalpha() for ch in sample)
    if letters < 4:
        return None
    try:
        values = _get_detector().compute_language_confidence_values(sample)
    except Exception:  # noqa: BLE001 - detection is a nicety, never a failure
        log.debug("language detection failed", exc_info=True)
        return None
    if not values:
        return None
    scored: list[tuple[str, float]] = [(v.language.iso_code_639_1.name.lower(), v.value)
                                       for v in values]
    top_code, top = scored[0]
    second_code, second = scored[1] if len(scored) > 1 else ("", 0.0)
    words = len(re.findall(r"\w{2,}", sample))
    if words < 3:
        # one or two words ("Hello", "Danke"): lingua guesses; accept only a clear winner
        return top_code if top >= 0.5 else None
    if top >= 0.2 and top >= 1.5 * second:
        return top_code
    # close call between a language we answer in and one we do not (es/pt, fr/it in
    # short sentences): take ours
    if top >= 0.2 and top_code in LANGUAGES and second_code not in LANGUAGES:
        return top_code
    return None

"""Build the scorer the ``[scoring]`` section asks for."""
from __future__ import annotations

import logging
from pathlib import Path

from responder.config import ScoringSection
from responder.core.scoring.base import ModelUnavailable, Scorer

log = logging.getLogger(__name__)


def make_scorer(cfg: ScoringSection | None = None, models_dir: Path | None = None,
                ) -> Scorer:
    """The scorer that ``cfg`` (the [scoring] section) asks for. Every default lives in
    the config model; this reads the section as it is.

    ``models_dir`` is the shop's models folder (``[learning] models_dir``): with the
    builtin backend and no ``scoring.model``, the version ``responder train`` made
    current there is used instead of the shipped head.

    Raises ModelUnavailable, with what to do, when the model cannot be loaded.
    """
    cfg = cfg if cfg is not None else ScoringSection()
    backend = cfg.backend.strip().lower()
    model = cfg.model.strip()
    batch_size = int(cfg.batch_size)
    device = cfg.device or "cpu"
    if backend == "builtin":
        # The default is the multilingual numpy scorer (no torch). A folder in
        # scoring.model holding a head of the earlier MiniLM format (and no
        # multilingual head) still gets the MiniLM scorer, which needs torch.
        from responder.core.scoring.builtin import HEAD_NPZ
        from responder.core.scoring.mlhead import ML_HEAD_NPZ, MultilingualScorer
        if model:
            folder = Path(model).expanduser()
            if (folder / ML_HEAD_NPZ).is_file():
                return MultilingualScorer(batch_size=batch_size, head_dir=folder)
            if (folder / HEAD_NPZ).is_file():    # a MiniLM head trained on the shop's own mail
                from responder.core.scoring.builtin import BuiltinScorer
                return BuiltinScorer(batch_size=batch_size, device=device, head_dir=folder)
            log.warning("scoring.model=%r is ignored by the builtin backend (it is not a "
                        "folder with %s or %s)", model, ML_HEAD_NPZ, HEAD_NPZ)
        from responder.core.learning import VersionError, current_dir
        try:
            shop = current_dir(models_dir, "hostility")
        except VersionError as exc:
            raise ModelUnavailable(str(exc)) from None
        if shop is None:
            return MultilingualScorer(batch_size=batch_size)
        try:
            return MultilingualScorer(batch_size=batch_size, head_dir=shop)
        except ModelUnavailable as exc:
            raise ModelUnavailable(
                f"{exc}\nThat head is the shop's own version {shop.name} ({shop}). Make a "
                "new one with `responder train`, or use the shipped head: "
                "responder model use hostility shipped") from None
    if backend == "transformers":
        from responder.core.scoring.transformers_backend import (
            DEFAULT_HOSTILE_LABELS,
            TransformersScorer,
        )
        labels = list(cfg.hostile_labels or DEFAULT_HOSTILE_LABELS)
        return TransformersScorer(model, batch_size=batch_size,
                                  hostile_labels=labels, device=device)
    raise ValueError(f"unknown scoring backend {backend!r} (expected builtin or transformers)")

"""Hostility scoring: tells abuse from anger, in the customer's language.

``make_scorer(cfg.scoring)`` returns a :class:`Scorer`; see :mod:`.base`.
"""
from responder.core.scoring.base import ModelUnavailable, Scorer
from responder.core.scoring.factory import make_scorer
from responder.core.scoring.hub import pull_model

__all__ = ["Scorer", "make_scorer", "ModelUnavailable", "pull_model"]

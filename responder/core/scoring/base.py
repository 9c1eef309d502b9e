"""The Scorer interface.

A scorer turns the customer's own words (quotes and signature already removed
by the parser; lines starting with '>' are ignored anyway) into one
:class:`~responder.core.model.HostilityVerdict` per message: a score in 0..1,
the labels that apply and up to three sentences that drove the score. Whether a
score holds the message is not the scorer's business: the cooling policy decides
(:func:`responder.core.cooling.is_hostile`). Anger is not hostility:
a civil complaint that threatens a chargeback or a review gets the
``reputation_threat`` label but is not held for it.

Backends (built by :func:`responder.core.scoring.factory.make_scorer`):

* ``builtin`` (default): offline, see :mod:`.builtin`. Needs no network.
* ``transformers``: any sequence-classification model, see
  :mod:`.transformers_backend`.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

from responder.core.model import HostilityVerdict
from responder.core.scoring.errors import ModelUnavailable

__all__ = ["Scorer", "ModelUnavailable"]


@runtime_checkable
class Scorer(Protocol):
    name: str

    def score(self, texts: Sequence[str], languages: Sequence[str | None] | None = None
              ) -> list[HostilityVerdict]: ...

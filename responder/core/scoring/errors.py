"""Errors of the scoring package."""
from __future__ import annotations


class ModelUnavailable(RuntimeError):
    """The configured model cannot be loaded; the message says what to do."""

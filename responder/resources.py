"""Where the files responder reads at run time live.

In a checkout (or an editable install) they are the project's own top-level
folders: ``templates/``, ``config.toml``, ``data/corpus``. An installed wheel
carries copies of them inside the package, under ``responder/_data/``. This is
the one place that knows both; everything else asks here.
"""
from __future__ import annotations

from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
PACKAGED = PACKAGE_DIR / "_data"        # filled in by the wheel build (pyproject.toml)
CHECKOUT = PACKAGE_DIR.parent           # the project root, when run from a checkout


def _find(name: str) -> Path:
    packaged = PACKAGED / name
    if packaged.exists():
        return packaged
    return CHECKOUT / name


def templates_dir() -> Path:
    """The bundled reply templates (``templates/``: ``replies/``, later ``web/``)."""
    return _find("templates")


def default_config_file() -> Path:
    """The shipped ``config.toml``: every key, commented, with its default."""
    return _find("config.toml")


def corpus_dir() -> Path:
    """The labelled corpus used by ``responder eval`` and the training scripts."""
    return _find("data") / "corpus"


def demo_mail_dir() -> Path:
    """Sample messages for ``responder demo`` (inside the package, always shipped)."""
    return PACKAGE_DIR / "app" / "demo_mail"

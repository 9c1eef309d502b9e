"""Where the files responder reads at run time live.

In a checkout (or an editable install) they are the project's own top-level
folders: ``templates/``, ``config.toml``, ``data/corpus``. A built wheel carries
copies of them inside the package, under ``responder/_data/`` (the wheel build
hook ``hatch_build.py`` copies exactly the paths in ``SHIPPED``). This is the one
place that knows both layouts; everything else asks here.

Files that live inside the package itself (model weights, word lists, demo mail,
Alembic migrations) are found next to the module that reads them and ship with
the package as they are.

This module must stay importable on its own (standard library only): the build
hook loads it by file path, without importing the ``responder`` package.
"""
from __future__ import annotations

from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
PACKAGED = PACKAGE_DIR / "_data"        # present only in an installed wheel
CHECKOUT = PACKAGE_DIR.parent           # the project root, when run from a checkout

# Run-time files kept at the top of the checkout, relative to its root. A wheel
# carries each one at the same relative path under ``responder/_data/``.
SHIPPED: tuple[str, ...] = ("templates", "config.toml", "data/corpus")


def data_root() -> Path:
    """The folder the ``SHIPPED`` paths are relative to.

    ``responder/_data`` in an installed wheel, the checkout's root otherwise.
    Decided as a whole, never per file, so an installed copy never mixes in
    files from whatever folder happens to sit above ``site-packages``.
    """
    return PACKAGED if PACKAGED.is_dir() else CHECKOUT


def is_installed_copy() -> bool:
    """True when running from a built wheel (files under ``responder/_data``)."""
    return PACKAGED.is_dir()


def templates_dir() -> Path:
    """The bundled reply templates (``templates/``: ``replies/``, later ``web/``)."""
    return data_root() / "templates"


def default_config_file() -> Path:
    """The shipped ``config.toml``: every key, commented, with its default."""
    return data_root() / "config.toml"


def corpus_dir() -> Path:
    """The labelled corpus used by ``responder eval`` and the training scripts."""
    return data_root() / "data" / "corpus"


def demo_mail_dir() -> Path:
    """Sample messages for ``responder demo`` (inside the package, always shipped)."""
    return PACKAGE_DIR / "app" / "demo_mail"

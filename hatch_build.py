"""Wheel build hook: put the run-time files kept at the top of the checkout
(``templates/``, ``config.toml``, ``data/corpus``) inside the package, under
``responder/_data/``, where ``responder/resources.py`` looks for them.

Only for a real wheel. An editable install (``pip install -e .``) gets nothing
copied, so it keeps reading the checkout's own files and edits show at once.
The list of paths is ``responder.resources.SHIPPED``, read from that file
without importing the package.
"""
from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

from hatchling.builders.config import BuilderConfig
from hatchling.builders.hooks.plugin.interface import BuildHookInterface


def _shipped_paths(root: Path) -> tuple[str, ...]:
    source = root / "responder" / "resources.py"
    spec = importlib.util.spec_from_file_location("_responder_resources", source)
    if spec is None or spec.loader is None:
        raise RuntimeError(f"cannot load {source}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    shipped: tuple[str, ...] = module.SHIPPED
    return shipped


class RuntimeFilesHook(BuildHookInterface[BuilderConfig]):
    PLUGIN_NAME = "custom"

    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        if self.target_name != "wheel" or version == "editable":
            return
        root = Path(self.root)
        for relative in _shipped_paths(root):
            source = root / relative
            if not source.exists():
                raise FileNotFoundError(
                    f"{source} is read at run time and must ship in the wheel, but is missing")
            build_data["force_include"][str(source)] = f"responder/_data/{relative}"

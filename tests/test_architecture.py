"""The shape of the package: folders by role, imports only downward, no circles,
and one registry of reply languages whose data is complete."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

from responder.core.languages import LANGUAGES, REPLY_LANGUAGES
from responder.core.model import INTENTS

ROOT = Path(__file__).resolve().parents[1]
PKG = ROOT / "responder"

# Each layer may import itself and the layers listed for it, nothing else.
LAYERS = {
    "responder.cli": {"responder.cli", "responder.web", "responder.app", "responder.mail",
                      "responder.store", "responder.core", "responder.config",
                      "responder.providers", "responder.resources", "responder.cluster"},
    # the cluster mode (workers on PostgreSQL): at the app level; only the CLI starts it
    "responder.cluster": {"responder.cluster", "responder.app", "responder.mail",
                          "responder.store", "responder.core", "responder.config",
                          "responder.resources"},
    # the web page: a front end beside the CLI; only the CLI starts it
    "responder.web": {"responder.web", "responder.app", "responder.store", "responder.core",
                      "responder.config", "responder.resources"},
    "responder.app": {"responder.app", "responder.mail", "responder.store", "responder.core",
                      "responder.config", "responder.resources"},
    "responder.mail": {"responder.mail", "responder.core", "responder.config",
                       "responder.providers", "responder.resources", "responder.store"},
    "responder.store": {"responder.store", "responder.core", "responder.config"},
    "responder.core": {"responder.core", "responder.config", "responder.providers",
                       "responder.resources"},
    "responder.config": {"responder.config", "responder.providers", "responder.resources"},
    "responder.providers": {"responder.providers"},
    "responder.resources": {"responder.resources"},
}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _imports(path: Path) -> set[str]:
    """Every responder module ``path`` imports, at module level or inside functions."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            assert node.level == 0, f"{path}: relative import; use absolute imports"
            if node.module and node.module.startswith("responder"):
                for alias in node.names:
                    candidate = f"{node.module}.{alias.name}"
                    found.add(candidate if _is_module(candidate) else node.module)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("responder"))
    return found


def _is_module(name: str) -> bool:
    rel = Path(*name.split("."))
    return (ROOT / rel).with_suffix(".py").is_file() or (ROOT / rel / "__init__.py").is_file()


def _graph() -> dict[str, set[str]]:
    files = [p for p in PKG.rglob("*.py") if "migrations" not in p.parts]
    return {_module_name(p): _imports(p) for p in files}


def _layer(module: str) -> str:
    for layer in sorted(LAYERS, key=len, reverse=True):
        if module == layer or module.startswith(layer + "."):
            return layer
    return "responder"


def test_every_module_lives_in_a_layer():
    strays = [m for m in _graph() if _layer(m) == "responder"
              and m not in ("responder", "responder.__main__")]
    assert not strays, f"modules outside the role folders: {strays}"


def test_imports_only_go_downward():
    bad = []
    for module, imported in _graph().items():
        layer = _layer(module)
        if layer == "responder":
            continue
        for target in imported:
            if _layer(target) not in LAYERS[layer]:
                bad.append(f"{module} -> {target}")
    assert not bad, "imports against the layers:\n" + "\n".join(sorted(bad))


def test_the_decision_core_does_no_mail_io_storage_or_front_end():
    for module, imported in _graph().items():
        if _layer(module) == "responder.core":
            assert not {t for t in imported
                        if t.startswith(("responder.mail", "responder.store", "responder.app",
                                         "responder.cli"))}, module


def test_no_import_circles():
    graph = _graph()
    # package __init__ files re-export their children; an edge to the package is
    # an edge to what it re-exports, so they are treated like any other module
    state: dict[str, int] = {}
    stack: list[str] = []
    cycles: list[list[str]] = []

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt == node or nxt not in graph:
                continue
            if _is_parent_package(node, nxt) or _is_parent_package(nxt, node):
                continue
            if state.get(nxt) == 1:
                cycles.append(stack[stack.index(nxt):] + [nxt])
            elif nxt not in state:
                visit(nxt)
        stack.pop()
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node)
    assert not cycles, "import circles:\n" + "\n".join(" -> ".join(c) for c in cycles)


def _is_parent_package(parent: str, child: str) -> bool:
    return child.startswith(parent + ".")


# ---- the language registry -------------------------------------------------------------

def test_registry_lists_each_language_once():
    assert len(set(LANGUAGES)) == len(LANGUAGES) == len(REPLY_LANGUAGES)
    assert LANGUAGES[0] == "en"
    for lang in REPLY_LANGUAGES:
        assert len(lang.code) == 2 and lang.name and lang.function_words.split()


@pytest.mark.parametrize("code", LANGUAGES)
def test_every_registered_language_has_all_its_data(code):
    replies = ROOT / "templates" / "replies" / code
    missing = [f"templates/replies/{code}/{intent}.txt.j2" for intent in INTENTS
               if not (replies / f"{intent}.txt.j2").is_file()]
    for name in ("_layout.txt.j2", "_quote_header.txt.j2"):
        if not (replies / name).is_file():
            missing.append(f"templates/replies/{code}/{name}")
    if not (PKG / "core" / "scoring" / "lexicons" / f"{code}.txt").is_file():
        missing.append(f"responder/core/scoring/lexicons/{code}.txt")
    if not (ROOT / "data" / "corpus" / f"{code}.jsonl").is_file():
        missing.append(f"data/corpus/{code}.jsonl")
    from responder.core.intent.keywords import CUES
    if code not in CUES:
        missing.append(f"intent cue words for {code!r} (responder/core/intent/keywords.py)")
    assert not missing, f"language {code!r} is registered but lacks: {missing}"

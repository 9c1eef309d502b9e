"""The linters the project is held to, run as part of the test suite (and so by
the README's test command): ruff and mypy, configured in pyproject.toml."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def _run(tool: str, *args: str) -> subprocess.CompletedProcess[str]:
    exe = BIN / tool
    assert exe.exists(), f"{tool} is not installed in {BIN}: pip install -e '.[test]'"
    return subprocess.run([str(exe), *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=600)


def test_ruff_finds_nothing():
    result = _run("ruff", "check", "--no-cache", ".")
    assert result.returncode == 0, result.stdout + result.stderr


def test_mypy_passes_strict_on_core_and_app_default_elsewhere():
    result = _run("mypy", "--no-incremental")
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr
    assert "Success" in result.stdout

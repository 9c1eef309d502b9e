#!/usr/bin/env bash
# Set up everything responder needs on a fresh Debian/Ubuntu machine: system
# packages (Dovecot for the IMAP tests), a virtual environment in .venv, the CPU
# build of PyTorch, and responder itself with its test extras. Safe to re-run.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-system-deps.sh

PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
# The CPU build of torch, pinned: an unpinned torch would pull a multi-GB CUDA build.
if ! .venv/bin/python -c "import torch" >/dev/null 2>&1; then
  .venv/bin/pip install --quiet --disable-pip-version-check "torch==2.13.0"
fi
.venv/bin/pip install --quiet --disable-pip-version-check -e ".[test]"

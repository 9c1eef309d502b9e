#!/usr/bin/env bash
# Set up everything responder needs on a fresh Debian/Ubuntu machine: the missing
# system packages (Dovecot and PostgreSQL for the tests; see the README), a
# virtual environment in .venv, the CPU build of PyTorch, and responder itself,
# editable, with its test extras. Safe to re-run: a second run checks and skips.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-system-deps.sh

PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
# The CPU build of torch, pinned: an unpinned torch would pull a multi-GB CUDA
# build. On this project's machines pip finds exactly this CPU wheel on disk;
# elsewhere add --index-url https://download.pytorch.org/whl/cpu (see README).
if ! .venv/bin/python -I -c "import importlib.metadata as m; m.version('torch')" >/dev/null 2>&1; then
  .venv/bin/pip install --quiet --disable-pip-version-check "torch==2.13.0"
fi

# responder itself (editable) with its test extras; redone only when the build
# files changed or the editable install does not point at this checkout.
STAMP=.venv/.responder-setup
want=$(cat pyproject.toml hatch_build.py | sha256sum | cut -d' ' -f1)
have=$(cat "$STAMP" 2>/dev/null || true)
here=$(.venv/bin/python -I - <<'EOF' 2>/dev/null || true
import importlib.util, pathlib
spec = importlib.util.find_spec("responder")
print(pathlib.Path(spec.origin).resolve().parent.parent if spec and spec.origin else "")
EOF
)
if [ "$want" != "$have" ] || [ "$here" != "$(pwd -P)" ]; then
  .venv/bin/pip install --quiet --disable-pip-version-check -e ".[test]"
  echo "$want" > "$STAMP"
fi

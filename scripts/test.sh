#!/usr/bin/env bash
# The whole test suite, from a fresh machine: set up, then run pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/python -m pytest "$@"

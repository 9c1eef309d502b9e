#!/usr/bin/env bash
# The newcomer's first command: set everything up, then run the demo.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/responder demo "$@"

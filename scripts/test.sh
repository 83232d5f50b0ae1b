#!/usr/bin/env bash
# The test command: set up everything on a fresh machine, then run pytest, whose summary
# line is the last thing printed. Extra arguments go to pytest (e.g. -k catalog -x).
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}
bash scripts/setup.sh test
export PATH="$PWD/$VENV/bin:$PATH"
exec "$VENV/bin/python" -m pytest "$@"

#!/usr/bin/env bash
# The demo command: set up everything on a fresh machine, then start the local campus.
# Extra arguments go to `campushub demo` (e.g. --fresh, --port 8080).
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}
bash scripts/setup.sh demo
export PATH="$PWD/$VENV/bin:$PATH"
exec "$VENV/bin/campushub" demo "$@"

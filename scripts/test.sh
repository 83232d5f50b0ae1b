#!/usr/bin/env bash
# The test command: set up everything on a fresh machine, then run pytest twice:
#
# 1. every test, on the newest JupyterHub and friends (.venv);
# 2. the tests that touch the hub (marked `hub_versions` by tests/conftest.py: they start a hub,
#    drive a browser, or import JupyterHub, OAuthenticator, KubeSpawner, the idle culler,
#    kubernetes_asyncio or campushub's adapters) again on the versions of zero-to-jupyterhub's
#    hub image that images/hub builds on (.venv-chart, from images/hub/chart-requirements.txt).
#    The pure core (catalog, schedule, demand, feeds, simulation) and the static checks of
#    images, manifests and docs do not depend on those versions and run once.
#
# The second run's summary line is the last thing printed; the exit status fails if either run
# failed. Extra arguments go to both runs (e.g. -k catalog -x).
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}
CHART_VENV=${CHART_VENV:-.venv-chart}
export VENV CHART_VENV
bash scripts/setup.sh test

status=0
PATH="$PWD/$VENV/bin:$PATH" "$VENV/bin/python" -m pytest "$@" || status=$?

chart="$(sed -n 's/^# chart: //p' images/hub/chart-requirements.txt)"
echo
echo "campushub tests: again on zero-to-jupyterhub $chart's hub versions ($CHART_VENV)"
second=0
PATH="$PWD/$CHART_VENV/bin:$PATH" CAMPUSHUB_EXPECT_VERSIONS=images/hub/chart-requirements.txt \
  "$CHART_VENV/bin/python" -m pytest -m hub_versions "$@" || second=$?
# 5: nothing selected (e.g. -k naming only pure tests), which is not a failure.
if [ "$second" != 0 ] && [ "$second" != 5 ]; then status=$second; fi
exit "$status"

#!/usr/bin/env bash
# The test command: set up everything on a fresh machine, then run pytest twice:
#
# 1. every test, on the newest JupyterHub and friends (.venv);
# 2. at the same time, the tests that touch the hub (marked `hub_versions` by
#    tests/conftest.py: they start a hub, drive a browser, or import JupyterHub, OAuthenticator,
#    KubeSpawner, the idle culler, kubernetes_asyncio or campushub's adapters) again on the
#    versions of zero-to-jupyterhub's hub image that images/hub builds on (.venv-chart, from
#    images/hub/chart-requirements.txt).
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

# The two runs go side by side, each on two pytest-xdist workers that take whole test modules
# (a module starts its hub, proxy and identity provider once): most of a run is waiting on
# hubs, browsers and sign-ins, and one after the other they took 28 minutes on two cores. The
# first prints as it goes; the second's output is kept in a file and printed after it, so that
# its summary line is still the last line. PARALLEL= (empty) runs the modules one by one.
PARALLEL=${PARALLEL--n 2 --dist loadfile}
chart="$(sed -n 's/^# chart: //p' images/hub/chart-requirements.txt)"
chart_log="$(mktemp "${TMPDIR:-/tmp}/campushub-chart-tests.XXXXXX")"
PATH="$PWD/$CHART_VENV/bin:$PATH" CAMPUSHUB_EXPECT_VERSIONS=images/hub/chart-requirements.txt \
  "$CHART_VENV/bin/python" -m pytest $PARALLEL -m hub_versions "$@" >"$chart_log" 2>&1 &
chart_run=$!
# Stopped early (Ctrl-C, a failure of this script): the second run stops too.
trap 'kill "$chart_run" 2>/dev/null || true; rm -f "$chart_log"' EXIT
second=0

status=0
PATH="$PWD/$VENV/bin:$PATH" "$VENV/bin/python" -m pytest $PARALLEL "$@" || status=$?

wait "$chart_run" || second=$?
echo
echo "campushub tests: again on zero-to-jupyterhub $chart's hub versions ($CHART_VENV), run alongside"
cat "$chart_log"
# 5: nothing selected (e.g. -k naming only pure tests), which is not a failure.
if [ "$second" != 0 ] && [ "$second" != 5 ]; then status=$second; fi
exit "$status"

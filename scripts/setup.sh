#!/usr/bin/env bash
# Set up everything campushub needs on a fresh machine, idempotently.
#
#   scripts/setup.sh demo   the local campus: virtualenv, campushub[demo], configurable-http-proxy,
#                           and (as root) Debian's R with IRkernel, so the R course runs R
#   scripts/setup.sh test   the same plus test and docs tools, and (as root) Debian's chromium;
#                           and a second virtualenv ($CHART_VENV, default .venv-chart) holding
#                           the versions of zero-to-jupyterhub's hub image that images/hub names
#                           (images/hub/chart-requirements.txt), for the second test run
#
# Python packages go into the virtualenv ($VENV, default .venv) and configurable-http-proxy
# into $VENV/node, linked as $VENV/bin/configurable-http-proxy: nothing global but apt packages.
set -euo pipefail
cd "$(dirname "$0")/.."
what=${1:-demo}
VENV=${VENV:-.venv}
PYTHON=${PYTHON:-python3}
CHP_VERSION=${CHP_VERSION:-^5.0.1}
CHART_VENV=${CHART_VENV:-.venv-chart}
CHART_REQUIREMENTS=images/hub/chart-requirements.txt

say() { printf 'campushub setup: %s\n' "$*"; }

if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
  say "campushub needs Python 3.11 or newer as $PYTHON (set PYTHON=python3.11 to choose one)"
  exit 1
fi

# -- system packages (only as root, only what is missing) --------------------------------------
apt_missing=()
command -v git >/dev/null || apt_missing+=(git)
command -v npm >/dev/null || apt_missing+=(nodejs npm)
"$PYTHON" -c 'import venv, ensurepip' 2>/dev/null || apt_missing+=(python3-venv)
if [ "$what" = test ] && [ ! -x /usr/bin/chromium ]; then apt_missing+=(chromium); fi
# The tests run the hub, the links service and the scaler on a real PostgreSQL server too.
if [ "$what" = test ] && ! compgen -G '/usr/lib/postgresql/*/bin/pg_ctl' >/dev/null; then
  apt_missing+=(postgresql)
fi
# The R course runs R on the local campus (its R kernel); without them it runs Python, and says so.
r_missing=()
command -v R >/dev/null || r_missing+=(r-base-core)
[ -e /usr/share/jupyter/kernels/ir/kernel.json ] || r_missing+=(r-cran-irkernel)
if [ ${#r_missing[@]} -gt 0 ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  apt_missing+=("${r_missing[@]}")
elif [ ${#r_missing[@]} -gt 0 ]; then
  say "no R here (${r_missing[*]} missing, install them as root): the R course will run Python"
fi
if [ ${#apt_missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    say "installing Debian packages: ${apt_missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${apt_missing[@]}" >/dev/null
  else
    say "missing system packages (install them, or run as root): ${apt_missing[*]}"
    for pkg in "${apt_missing[@]}"; do
      [ "$pkg" = chromium ] || [ "$pkg" = postgresql ] || exit 1
    done
    say "tests of what is missing (chromium: the browser; postgresql) will be skipped"
  fi
fi

# -- Python ---------------------------------------------------------------------------------------
if [ ! -x "$VENV/bin/python" ]; then
  say "creating the virtualenv $VENV"
  "$PYTHON" -m venv "$VENV"
fi
"$VENV/bin/python" -m pip install -q --disable-pip-version-check --upgrade pip
extras=demo
[ "$what" = test ] && extras=test
say "installing campushub[$extras] into $VENV"
"$VENV/bin/python" -m pip install -q --disable-pip-version-check -e ".[$extras]"

# -- configurable-http-proxy (npm) ----------------------------------------------------------------
chp="$VENV/node/node_modules/.bin/configurable-http-proxy"
if [ ! -x "$chp" ]; then
  say "installing configurable-http-proxy@$CHP_VERSION from npm"
  mkdir -p "$VENV/node"
  npm install --prefix "$VENV/node" --no-fund --no-audit --loglevel=error \
    "configurable-http-proxy@$CHP_VERSION" >/dev/null
fi
ln -sf "$(cd "$VENV/node/node_modules/.bin" && pwd)/configurable-http-proxy" \
  "$VENV/bin/configurable-http-proxy"

# -- the chart's versions (tests only) ---------------------------------------------------------
# The hub image builds on zero-to-jupyterhub's k8s-hub image, whose JupyterHub, OAuthenticator,
# KubeSpawner and the rest are older than the newest; the same tests run on both.
if [ "$what" = test ]; then
  if [ ! -x "$CHART_VENV/bin/python" ]; then
    say "creating the virtualenv $CHART_VENV (zero-to-jupyterhub's hub versions)"
    "$PYTHON" -m venv "$CHART_VENV"
  fi
  "$CHART_VENV/bin/python" -m pip install -q --disable-pip-version-check --upgrade pip
  say "installing campushub[test] into $CHART_VENV with $CHART_REQUIREMENTS"
  "$CHART_VENV/bin/python" -m pip install -q --disable-pip-version-check \
    --constraint "$CHART_REQUIREMENTS" -e ".[test]"
  ln -sf "$(cd "$VENV/node/node_modules/.bin" && pwd)/configurable-http-proxy" \
    "$CHART_VENV/bin/configurable-http-proxy"
  say "$CHART_VENV: JupyterHub $("$CHART_VENV/bin/python" -c 'import jupyterhub; print(jupyterhub.__version__)')"
fi
say "ready ($("$VENV/bin/configurable-http-proxy" --version 2>/dev/null | tail -n 1) proxy)"

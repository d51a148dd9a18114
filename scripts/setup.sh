#!/usr/bin/env bash
# Install everything the demo and the tests need, from nothing. Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."

# Debian packages: Chromium for the dashboard tests, Java for the Firestore emulator.
need_apt=()
command -v chromium >/dev/null 2>&1 || need_apt+=(chromium)
command -v java >/dev/null 2>&1 || need_apt+=(default-jre-headless)
command -v ip >/dev/null 2>&1 || need_apt+=(iproute2)  # the LAN tests make a network namespace
if [ ${#need_apt[@]} -gt 0 ] && [ "${TFWATCHER_SKIP_APT:-0}" != 1 ]; then
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

# Python: one virtual environment for the package, its tests and the functions' tests.
[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/pip install -q --disable-pip-version-check -e '.[dev]' 2>&1 | grep -v "is ignored" || true
if [ -f functions/requirements.txt ]; then
  .venv/bin/pip install -q --disable-pip-version-check -r functions/requirements.txt 2>&1 | grep -v "is ignored" || true
fi
.venv/bin/python -c "import tfwatcher, tensorflow, google.cloud.firestore" >/dev/null

# Node: the dashboard and the JavaScript tests, from their lockfiles. tests/functions/suite
# (issue 19) holds the pinned firebase-tools for tests/functions/emulator_suite.sh.
for dir in hosting tests/rules tests/e2e tests/fallback tests/functions/suite; do
  if [ -f "$dir/package.json" ]; then
    (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error)
  fi
done
if [ -f hosting/package.json ]; then
  (cd hosting && npm run build --silent)
fi

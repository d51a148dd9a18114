#!/usr/bin/env bash
# Build the dashboard and a wheel that carries it (tfwatcher/dashboard/), into dist/.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "${TFWATCHER_REUSE_BUILD:-0}" != 1 ] || [ ! -f hosting/dist/index.html ]; then
  (cd hosting && npm ci --no-audit --no-fund --loglevel=error && npm run build --silent)
fi
rm -rf tfwatcher/dashboard && cp -r hosting/dist tfwatcher/dashboard
cp firestore.rules tfwatcher/dashboard/firestore.rules  # local mode enforces the same rules
trap 'rm -rf tfwatcher/dashboard build' EXIT
"${PYTHON:-python3}" -m pip wheel -q --no-deps --no-build-isolation -w "${WHEEL_DIR:-dist}" .

#!/usr/bin/env bash
# Set up (scripts/setup.sh) and run every test: Python (package, functions, local mode)
# against the real Firestore emulator, the security rules, the dashboard's unit tests and
# the end-to-end tests in Chromium. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
mkdir -p test-artifacts
status=0

echo "== Python tests (pytest, Firestore emulator)"
.venv/bin/python -m pytest -q -p no:cacheprovider "$@" || status=1

# Each JavaScript suite's `npm test` starts the emulator it needs (python -m tfwatcher.local.emulator).
# Rules and browsers need Google's emulator; without it these suites are skipped, loudly.
export TFWATCHER_EMULATOR_KIND=official
official=1
if ! .venv/bin/python -m tfwatcher.local.emulator --which | grep -q '^official'; then
  official=0
  echo "!! SKIPPED: tests/rules and tests/e2e need Google's Firestore emulator (rules, WebChannel),"
  echo "!! which this machine lacks. Install it: gcloud components install cloud-firestore-emulator"
fi
for dir in tests/rules tests/e2e; do
  if [ -f "$dir/package.json" ] && [ $official = 1 ]; then
    echo "== $dir (node --test)"
    (cd "$dir" && PATH="$PWD/../../.venv/bin:$PATH" npm test) || status=1
  fi
done

if [ -f hosting/package.json ]; then
  echo "== Dashboard unit tests (vitest)"
  (cd hosting && npm test --silent) || status=1
fi

exit $status

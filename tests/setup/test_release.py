"""scripts/release.sh: the sdist and wheel carry the dashboard, rules, indexes, a firebase.json
template and the functions; `twine check` passes; and the wheel, installed into a clean venv
(the wheel's dependencies plus TensorFlow, and scikit-learn for the tutorial's offline data),
runs the tutorial against the emulator, serves that run's dashboard, deploys and diagnoses.

The clean venv's packages come from build/wheelhouse, filled from the package index on the
first run (about 300 MB, kept between runs; build/ is ignored by git)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import urllib.request
import zipfile
from importlib import metadata
from pathlib import Path

import pytest

from tests.helpers import read_session

ROOT = Path(__file__).resolve().parents[2]
WHEELHOUSE = Path(os.environ.get("TFWATCHER_WHEELHOUSE", ROOT / "build" / "wheelhouse"))
ID_LINE = "Use this ID to monitor training for this session:"
CARRIED = ["tfwatcher/dashboard/index.html", "tfwatcher/dashboard/firestore.rules",
           "tfwatcher/firebase/firestore.rules", "tfwatcher/firebase/firestore.indexes.json",
           "tfwatcher/firebase/firebase.json", "tfwatcher/firebase/functions/main.py",
           "tfwatcher/firebase/functions/requirements.txt",
           "tfwatcher/firebase/functions/tfw_functions/__init__.py",
           "tfwatcher/firebase/functions/tfw_functions/contract.json"]


@pytest.fixture(scope="module")
def release(tmp_path_factory):
    """(wheel, sdist, script output): scripts/release.sh into a temporary folder."""
    out = tmp_path_factory.mktemp("release")
    env = {**os.environ, "RELEASE_DIR": str(out), "PYTHON": sys.executable,
           "TFWATCHER_REUSE_BUILD": "1"}
    r = subprocess.run(["bash", "scripts/release.sh"], cwd=ROOT, env=env, capture_output=True,
                       text=True, timeout=900)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    from tfwatcher.version import __version__

    wheel = out / f"tf_watcher-{__version__}-py3-none-any.whl"
    sdist = out / f"tf_watcher-{__version__}.tar.gz"
    assert wheel.is_file() and sdist.is_file(), sorted(out.iterdir())
    return wheel, sdist, r.stdout + r.stderr


def test_release_carries_everything_and_passes_twine_check(release):
    wheel, sdist, output = release
    assert output.count("PASSED") == 2, output  # twine check, wheel and sdist
    names = set(zipfile.ZipFile(wheel).namelist())
    assert set(CARRIED) <= names
    assert not [n for n in names if "__pycache__" in n or "/venv/" in n or n.endswith(".pyc")]
    in_sdist = {n.split("/", 1)[1] for n in tarfile.open(sdist).getnames() if "/" in n}
    assert set(CARRIED) <= in_sdist
    # The copies are today's files, byte for byte.
    with zipfile.ZipFile(wheel) as z:
        for name, source in [("tfwatcher/firebase/firestore.rules", "firestore.rules"),
                             ("tfwatcher/firebase/firebase.json", "firebase.json"),
                             ("tfwatcher/firebase/functions/main.py", "functions/main.py"),
                             ("tfwatcher/firebase/functions/tfw_functions/contract.json",
                              "tfwatcher/base/contract.json"),
                             ("tfwatcher/dashboard/index.html", "hosting/dist/index.html")]:
            assert z.read(name) == (ROOT / source).read_bytes(), name
        meta = z.read(f"tf_watcher-{wheel.name.split('-')[1]}.dist-info/METADATA").decode()
        assert "Requires-Dist: google-cloud-firestore" in meta
        assert not re.search(r"^Requires-Dist: tensorflow[^;]*$", meta, flags=re.M)  # optional
    assert (wheel.parent / "SHA256SUMS").read_text().count("tf_watcher-") == 2


def _pip(venv: Path, *args: str, timeout: float = 900) -> subprocess.CompletedProcess:
    return subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "--disable-pip-version-check",
                           "-q", *args], capture_output=True, text=True, timeout=timeout)


def _clean_env(tmp_path: Path, **extra: str) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env.update({"TFWATCHER_QR": "0", "TF_CPP_MIN_LOG_LEVEL": "2",
                "TFWATCHER_HOME": str(tmp_path / "tfw-home")}, **extra)
    return env


@pytest.mark.slow
def test_clean_venv_runs_the_tutorial_and_serves_its_dashboard(release, emulator, db, tmp_path):
    wheel, _, _ = release
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    tf = f"tensorflow-cpu=={metadata.version('tensorflow-cpu')}"
    sk = f"scikit-learn=={metadata.version('scikit-learn')}"  # the tutorial's offline data
    want = [str(wheel), tf, sk]
    r = _pip(venv, "install", "--no-index", "--find-links", str(WHEELHOUSE), *want)
    if r.returncode != 0:  # first run: fill the wheelhouse from the index
        WHEELHOUSE.mkdir(parents=True, exist_ok=True)
        d = _pip(venv, "download", "-d", str(WHEELHOUSE), *want)
        assert d.returncode == 0, f"could not download {want}:\n{d.stderr[-3000:]}"
        r = _pip(venv, "install", "--no-index", "--find-links", str(WHEELHOUSE), *want)
    assert r.returncode == 0, r.stderr[-3000:]
    py = str(venv / "bin" / "python")
    env = _clean_env(tmp_path)

    # The package is the installed one, and nothing of the project's dev environment is there.
    where = subprocess.run([py, "-c", "import tfwatcher; print(tfwatcher.__file__)"], cwd=tmp_path,
                           env=env, capture_output=True, text=True, check=True).stdout.strip()
    assert where.startswith(str(venv)), where
    for absent in ("pytest", "firebase_functions", "firebase_admin", "torch"):
        probe = subprocess.run([py, "-c", f"import {absent}"], env=env, capture_output=True)
        assert probe.returncode != 0, f"{absent} should not be in the clean venv"

    # The tutorial, as a user runs it, against the emulator.
    work = tmp_path / "work"
    work.mkdir()
    shutil.copy(ROOT / "examples" / "tutorial.py", work / "tutorial.py")
    run = subprocess.run([py, "tutorial.py", "--data", "digits", "--epochs", "3"], cwd=work,
                         env=env, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-4000:]
    [sid] = [l.rsplit(" ", 1)[-1] for l in run.stdout.splitlines() if l.startswith(ID_LINE)]
    assert "all data sent" in run.stdout
    got = read_session(db, sid)
    assert got["session"]["status"] == "finished" and len(got["epochs"]) == 3

    # Its dashboard, served from the installed package (`tfwatcher local`'s server).
    server = subprocess.Popen([py, "-m", "tfwatcher.local.server", "--port", "0",
                               "--emulator-port", str(emulator.port)], cwd=work, env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        first = server.stdout.readline()
        m = re.search(r"Serving (\S+) on (http://\S+?)/?$", first.strip())
        assert m, first
        assert m.group(1).startswith(str(venv)), first  # the wheel's dashboard
        base = m.group(2).rstrip("/")
        with urllib.request.urlopen(f"{base}/s/{sid}", timeout=10) as resp:
            assert resp.status == 200
            html = resp.read().decode()
        assert html == (ROOT / "hosting" / "dist" / "index.html").read_text()
        assert "<html" in html.lower()
        assets = re.findall(r'(?:src|href)="(/assets/[^"]+\.js)"', html)
        assert assets
        with urllib.request.urlopen(base + assets[0], timeout=10) as resp:
            assert resp.status == 200
        with urllib.request.urlopen(f"{base}/__/firebase/init.json", timeout=10) as resp:
            assert resp.status == 200
            init = json.load(resp)
        assert init["projectId"] == emulator.project
    finally:
        server.terminate()
        server.wait(timeout=10)

    # `tfwatcher deploy` and `tfwatcher doctor` from the installed package.
    site = tmp_path / "site"
    dep = subprocess.run([str(venv / "bin" / "tfwatcher"), "deploy", "--project", "tfw-release-test",
                          "--out", str(site), "--functions", "--region", "europe-west1"],
                         cwd=work, env={**env, "PATH": str(tmp_path / "nobin")},
                         capture_output=True, text=True, timeout=120)
    assert dep.returncode == 0, dep.stdout + dep.stderr
    assert "installed package" in dep.stdout
    assert (site / "public" / "index.html").read_text() == html
    assert "TFWATCHER_FUNCTIONS_REGION=europe-west1" in (site / "functions" / ".env").read_text()
    assert json.loads((site / "firebase.json").read_text())["hosting"]["public"] == "public"
    doc = subprocess.run([str(venv / "bin" / "tfwatcher"), "doctor"], cwd=work, env=env,
                         capture_output=True, text=True, timeout=120)
    if emulator.kind == "official":
        assert doc.returncode == 0, doc.stdout + doc.stderr

"""Local mode's pieces that need no browser: the dashboard server and the CLI's errors."""

import json
import os
import subprocess
import sys
import urllib.error
import urllib.request

import pytest

from tfwatcher.serve import DashboardServer


@pytest.fixture
def served(tmp_path):
    (tmp_path / "index.html").write_text("<!doctype html><title>app</title>")
    (tmp_path / "assets").mkdir()
    (tmp_path / "assets" / "app-1234.js").write_text("console.log(1)")
    server = DashboardServer(tmp_path, port=0, emulator_port=8123).start()
    yield f"http://127.0.0.1:{server.port}"
    server.stop()


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def test_init_json_points_the_browser_at_the_emulator_on_the_same_host(served):
    with urllib.request.urlopen(f"{served}/__/firebase/init.json") as r:
        config = json.load(r)
    assert config["projectId"] == "demo-tfwatcher"
    assert config["firestoreEmulator"] == {"host": "127.0.0.1", "port": 8123}
    req = urllib.request.Request(f"{served}/__/firebase/init.json", headers={"Host": "192.0.2.7:5000"})
    with urllib.request.urlopen(req) as r:
        assert json.load(r)["firestoreEmulator"]["host"] == "192.0.2.7"


def test_routes_follow_firebase_json(served):
    opener = urllib.request.build_opener(NoRedirect)
    with pytest.raises(urllib.error.HTTPError) as info:
        opener.open(f"{served}/logs/abc2345")
    assert info.value.code == 301 and info.value.headers["Location"] == "/s/abc2345"
    with urllib.request.urlopen(f"{served}/s/abc2345") as r:
        assert b"<title>app</title>" in r.read() and r.headers["Cache-Control"] == "no-cache"
    with urllib.request.urlopen(f"{served}/assets/app-1234.js") as r:
        assert "immutable" in r.headers["Cache-Control"]


def test_missing_build_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="npm run build"):
        DashboardServer(tmp_path / "nothing", port=0)


def test_local_without_emulator_says_how_to_install_and_exits_3(tmp_path):
    env = {**os.environ, "TFWATCHER_EMULATOR": str(tmp_path / "missing"), "TFWATCHER_HOME": str(tmp_path)}
    result = subprocess.run([sys.executable, "-m", "tfwatcher.cli", "local", "--host", "127.0.0.1",
                             "--port", "0", "--emulator-port", "0"], env=env,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 3
    assert "does not exist" in result.stdout and "gcloud components install" in result.stdout


def test_wheel_carries_the_dashboard_and_the_rules(tmp_path):
    """`pip install tf-watcher` from scripts/build-wheel.sh: `tfwatcher local` needs no checkout."""
    import zipfile
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    if not (root / "hosting" / "dist" / "index.html").is_file():
        pytest.skip("hosting/dist is not built (scripts/setup.sh builds it)")
    env = {**os.environ, "TFWATCHER_REUSE_BUILD": "1", "WHEEL_DIR": str(tmp_path),
           "PYTHON": sys.executable}
    subprocess.run(["bash", "scripts/build-wheel.sh"], cwd=root, env=env, check=True,
                   capture_output=True, timeout=300)
    (wheel,) = tmp_path.glob("tf_watcher-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "tfwatcher/dashboard/index.html" in names
    assert "tfwatcher/dashboard/firestore.rules" in names
    assert any(n.startswith("tfwatcher/dashboard/assets/") for n in names)
    assert not (root / "tfwatcher" / "dashboard").exists()  # the copy is cleaned up

"""`tfwatcher doctor`: its findings against Google's emulator with and without the rules, with
no credentials at all, and with nothing listening; run as a user runs it (a subprocess)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tfwatcher.local.emulator import Emulator, EmulatorNotFound, free_port

ROOT = Path(__file__).resolve().parents[2]
SCRUB = ("FIRESTORE_EMULATOR_HOST", "GOOGLE_APPLICATION_CREDENTIALS", "TFWATCHER_PROJECT",
         "GOOGLE_CLOUD_PROJECT", "GCLOUD_PROJECT", "CLOUDSDK_CONFIG", "PYTHONPATH",
         "COLAB_RELEASE_TAG", "KAGGLE_KERNEL_RUN_TYPE", "KAGGLE_URL_BASE")


def doctor(tmp_path: Path, *args: str, **env: str) -> tuple[int, str, float]:
    """Run `tfwatcher doctor` with a clean HOME and only the given configuration."""
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    environ = {k: v for k, v in os.environ.items() if k not in SCRUB}
    environ.update({"HOME": str(home), "TFWATCHER_HOME": str(home / ".tfwatcher"),
                    "CLOUDSDK_CONFIG": str(home / "gcloud"),
                    # Nothing leaves this machine: Google's metadata server and
                    # firestore.googleapis.com are refused at once (no such servers here).
                    "GCE_METADATA_HOST": "127.0.0.1:9", "GCE_METADATA_IP": "127.0.0.1:9",
                    "https_proxy": "http://127.0.0.1:9", "HTTPS_PROXY": "http://127.0.0.1:9",
                    "no_proxy": "127.0.0.1,localhost", "NO_PROXY": "127.0.0.1,localhost"})
    environ.update(env)
    start = time.monotonic()
    r = subprocess.run([sys.executable, "-m", "tfwatcher.cli", "doctor", *args], cwd=tmp_path,
                       env=environ, capture_output=True, text=True, timeout=120)
    out = r.stdout + r.stderr
    assert "Traceback" not in out, out
    return r.returncode, out, time.monotonic() - start


def line(out: str, name: str) -> str:
    return next(l for l in out.splitlines() if f"  {name}:" in l)


def fix_after(out: str, name: str) -> str:
    lines = out.splitlines()
    i = lines.index(line(out, name))
    return lines[i + 1] if i + 1 < len(lines) and "fix:" in lines[i + 1] else ""


def official(emulator):
    if emulator.kind != "official":
        pytest.skip("the fallback emulator enforces no rules and has no REST API")


def test_emulator_with_the_rules_passes_every_check(tmp_path, emulator, db):
    official(emulator)
    code, out, _ = doctor(tmp_path, FIRESTORE_EMULATOR_HOST=emulator.address)
    assert code == 0, out
    for name in ("credentials", "project", "Firestore reachable", "write and delete",
                 "rules deny listing sessions"):
        assert line(out, name).startswith("OK"), out
    assert "403 PERMISSION_DENIED" in line(out, "rules deny listing sessions")
    assert "All checks passed." in out
    assert list(db.collection("tfwatcher-doctor").stream()) == []  # the test write is gone


def test_no_write_skips_the_write(tmp_path, emulator, db):
    official(emulator)
    code, out, _ = doctor(tmp_path, "--no-write", FIRESTORE_EMULATOR_HOST=emulator.address)
    assert code == 0, out
    assert line(out, "write and delete").startswith("SKIP")


def test_emulator_without_rules_fails_the_rules_check_with_the_fix(tmp_path, emulator):
    official(emulator)
    try:
        open_emulator = Emulator(rules=None).start()
    except EmulatorNotFound as err:  # pragma: no cover - depends on the machine
        pytest.skip(str(err))
    try:
        code, out, _ = doctor(tmp_path, FIRESTORE_EMULATOR_HOST=open_emulator.address)
    finally:
        open_emulator.stop()
    assert code == 1, out
    for name in ("credentials", "project", "Firestore reachable", "write and delete"):
        assert line(out, name).startswith("OK"), out
    rules = line(out, "rules deny listing sessions")
    assert rules.startswith("FAIL") and "could list every session" in rules
    assert "deploy the rules" in fix_after(out, "rules deny listing sessions")
    assert "1 check(s) failed." in out


def test_no_credentials_fails_and_says_how_to_sign_in(tmp_path):
    code, out, took = doctor(tmp_path, TFWATCHER_PROJECT="tfw-doctor-test")
    assert code == 1, out
    assert line(out, "credentials").startswith("FAIL"), out
    assert "gcloud auth application-default login" in fix_after(out, "credentials")
    assert line(out, "project").startswith("OK") and "tfw-doctor-test" in line(out, "project")
    assert line(out, "Firestore reachable").startswith("SKIP")
    assert line(out, "rules deny listing sessions").startswith("FAIL")  # nothing reachable
    assert took < 60


def test_no_credentials_in_colab_names_colabs_sign_in(tmp_path):
    code, out, _ = doctor(tmp_path, TFWATCHER_PROJECT="tfw-doctor-test", COLAB_RELEASE_TAG="x")
    assert code == 1
    assert "auth.authenticate_user()" in fix_after(out, "credentials")


def test_missing_key_file_is_named(tmp_path):
    key = tmp_path / "nowhere" / "key.json"
    code, out, _ = doctor(tmp_path, TFWATCHER_PROJECT="tfw-doctor-test",
                          GOOGLE_APPLICATION_CREDENTIALS=str(key))
    assert code == 1
    assert line(out, "credentials").startswith("FAIL") and str(key) in line(out, "credentials")


def test_no_project_at_all(tmp_path):
    code, out, _ = doctor(tmp_path)
    assert code == 1
    assert line(out, "project").startswith("FAIL")
    assert "--project" in fix_after(out, "project")


def test_no_network_fails_within_seconds(tmp_path):
    port = free_port()  # nothing listens there
    code, out, took = doctor(tmp_path, FIRESTORE_EMULATOR_HOST=f"127.0.0.1:{port}")
    assert code == 1, out
    assert line(out, "Firestore reachable").startswith("FAIL")
    assert f"127.0.0.1:{port}" in fix_after(out, "Firestore reachable")
    assert line(out, "write and delete").startswith("SKIP")
    assert line(out, "rules deny listing sessions").startswith("FAIL")
    assert took < 20, took


def test_the_first_run_message_points_to_doctor():
    """What the writer prints once when access fails for good ends with the pointer."""
    from google.api_core import exceptions as gexc

    from tfwatcher.base import access

    for err in (gexc.PermissionDenied("no"), gexc.NotFound("no database"),
                gexc.Unauthenticated("bad token")):
        assert access.explain(err, project="p").endswith(
            "Run `tfwatcher doctor` to check the setup.")


def test_a_project_without_firestore_names_the_fix():
    """No emulator can play a project without a database: its answers are replayed here
    (Firestore's NOT_FOUND to the read, and 404 to the anonymous listing)."""
    import http.server
    import threading

    from google.api_core import exceptions as gexc

    from tfwatcher.setup import doctor
    from tfwatcher.base.project import Target

    class NoDatabase(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            body = json.dumps({"error": {"code": 404, "status": "NOT_FOUND", "message":
                                         "The database (default) does not exist"}}).encode()
            self.send_response(404)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), NoDatabase)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        target = Target("tfw-no-db", f"127.0.0.1:{server.server_address[1]}", "http://x")
        rules = doctor.check_rules(target)
    finally:
        server.shutdown()
        server.server_close()
    assert rules.status == "FAIL" and "has no Firestore database" in rules.detail
    assert "create the database" in rules.fix

    class Client:
        def collection(self, name):
            return self

        def document(self, name):
            return self

        def get(self, **kwargs):
            raise gexc.NotFound("The database (default) does not exist for project tfw-no-db")

    target = Target("tfw-no-db", None, "https://tfw-no-db.web.app")
    reach = doctor.check_reachable(Client(), target)
    assert reach.status == "FAIL" and "NotFound" in reach.detail
    assert "create the database" in reach.fix

"""A Colab/Kaggle/local user's first minute WITHOUT credentials, in real subprocesses (#11).

Each case runs `tests/scripts/first_minute.py` in a clean environment: HOME and TFWATCHER_HOME
in tmp_path, no FIRESTORE_EMULATOR_HOST, no GOOGLE_APPLICATION_CREDENTIALS unless the case
sets it, CLOUDSDK_CONFIG an empty folder (no gcloud ADC) and NO_GCE_CHECK unset: google-auth
looks for credentials exactly as on a user's machine, and finds none. Then access is "fixed"
(the test's emulator, which takes any project ID) and `tfwatcher sync` uploads what was saved.

Not here, because they cannot be produced for real without a network route to Google:
* a wrong project, a project without a Firestore database, and credentials without permission
  (NOT_FOUND / PERMISSION_DENIED / UNAUTHENTICATED from the real service): tests/record/test_outage.py
  covers them by injecting the error at commit
  (test_permanent_error_warns_once_spools_and_sync_uploads);
* no network at all to Firestore (nothing listening): tests/record/test_faults.py
  (test_no_way_back_training_finishes_spools_and_sync_uploads).
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from google.api_core import exceptions as gexc
from google.cloud import firestore
from google.cloud.firestore_v1.batch import WriteBatch

import tfwatcher
from tfwatcher import cli
from tfwatcher.base.packed import unpack_chunk
from tfwatcher.local.emulator import free_port
from tfwatcher.record import spool
from tests.helpers import read_session

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "tests" / "scripts" / "first_minute.py"
NOTHING_SENT = re.compile(r"tfwatcher: nothing is being sent to Firestore: (?!\{)")  # not the
# source line the warnings module prints under the message
FIT_STEPS = list(range(1, 21))                       # 5 epochs x 4 batches of 250
FIT_EPOCHS = [f"{e:06d}" for e in range(1, 6)]
TIMINGS: dict[str, dict] = {}
# Our part of a fit's start (callback built -> its first batch, minus the same fit without
# the callback). Credentials are looked for on the writer thread, so this holds even when
# that lookup takes seconds (test_slow_credential_lookup...).
MAX_START_DELAY_S = 0.5


def clean_env(tmp_path: Path, **extra: str) -> dict:
    (tmp_path / "home").mkdir(exist_ok=True)
    (tmp_path / "gcloud").mkdir(exist_ok=True)  # an empty gcloud config: no ADC
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "LANG": "C.UTF-8",
        "PYTHONPATH": str(ROOT),
        "HOME": str(tmp_path / "home"),
        "TFWATCHER_HOME": str(tmp_path / "tfw"),
        "CLOUDSDK_CONFIG": str(tmp_path / "gcloud"),
        "TFWATCHER_QR": "0",
        "TFWATCHER_EXIT_TIMEOUT": "2",
        "TF_CPP_MIN_LOG_LEVEL": "3",
        "TFWATCHER_SYSTEM_METRICS": "0",  # system samples are tested in test_config_system.py
    }
    env.update(extra)
    return env


def first_minute(tmp_path: Path, mode: str = "fit", kwargs: dict | None = None, **env: str):
    """Run the script; return (result dict, stdout + stderr, the CompletedProcess)."""
    args = [sys.executable, str(SCRIPT), mode] + ([json.dumps(kwargs)] if kwargs else [])
    t0 = time.monotonic()
    proc = subprocess.run(args, env=clean_env(tmp_path, **env), cwd=tmp_path,
                          capture_output=True, text=True, timeout=240)
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output[-4000:]
    assert "Traceback" not in output, output[-4000:]
    line = next(l for l in proc.stdout.splitlines() if l.startswith("RESULT "))
    result = json.loads(line[len("RESULT "):])
    result["process_s"] = time.monotonic() - t0
    result["exit_s"] = time.time() - result.pop("end")  # the end of the script -> exited
    return result, output, proc


def owner_key(stdout: str) -> str:
    return re.search(r"#k=([A-Za-z0-9_-]+)", stdout).group(1)


def no_claim_of_sent(output: str) -> None:
    for line in output.splitlines():
        rest = line.replace("NOT fully sent", "").replace("nothing is being sent", "")
        assert not re.search(r"\bsent\b", rest, re.I), f"claims data was sent: {line!r}"


def spool_files(tmp_path: Path) -> list[Path]:
    return sorted((tmp_path / "tfw" / "spool").glob("*.jsonl"))


def spooled(path: Path) -> dict:
    """What a spool file holds: batch points, epoch IDs, the owner key and the session fields."""
    chunks, epochs, owner, session = {}, set(), None, {}
    for line in path.read_text().splitlines():
        row = spool.loads(line)
        parts = row["path"].split("/")
        if len(parts) == 2:
            session.update(row["doc"])
        elif parts[2] == "batches":
            chunks[row["path"]] = unpack_chunk(row["doc"])  # the last copy of a chunk is the whole chunk
        elif parts[2] == "epochs":
            epochs.add(parts[3])
        elif parts[2:] == ["private", "owner"]:
            owner = row["doc"]["key"]
    steps = sorted(s for doc in chunks.values() for s in doc["step"])
    return {"steps": steps, "epochs": sorted(epochs), "owner": owner, "session": session}


def sync_and_read(tmp_path: Path, sid: str) -> tuple[dict, firestore.Client]:
    """Access fixed: `tfwatcher sync` into the test's emulator, under a project of its own."""
    project = f"tfw-access-{uuid.uuid4().hex[:8]}"
    spool = tmp_path / "tfw" / "spool"
    assert cli.main(["sync", "--dir", str(spool), "--project", project]) == 0
    assert not list(spool.glob("*.jsonl")), "sync deletes what it uploaded"
    client = firestore.Client(project=project)
    return read_session(client, sid), client


def assert_stored_exactly_once(got: dict, client, sid: str, key: str, steps, epochs) -> None:
    assert [p["step"] for p in got["points"]["train"]] == steps, "every point, once"
    assert sorted(got["epochs"]) == epochs
    assert got["session"]["status"] == "finished"
    # The session's own document (created on first use) made it too, not only later updates.
    assert got["session"]["schema"] == 3 and got["session"]["created"] is not None
    assert client.document(f"sessions/{sid}/private/owner").get().to_dict() == {"key": key}


def record(name: str, result: dict) -> None:
    TIMINGS[name] = {k: round(v, 3) for k, v in result.items() if k.endswith("_s")}
    print(f"\n{name}: {json.dumps(TIMINGS[name])}")


def assert_not_slowed(result: dict) -> None:
    assert result["construct_s"] < 0.2, result
    delay = result["first_batch_s"] - result["baseline_first_batch_s"]
    assert delay < MAX_START_DELAY_S, f"the fit's first batch waited {delay:.2f} s for us: {result}"


# ----- 1-3: project named, no credentials, in three environments --------------------------------

ENVIRONMENTS = {
    "local": ({}, ["GOOGLE_APPLICATION_CREDENTIALS", "gcloud auth application-default login"]),
    "colab": ({"COLAB_RELEASE_TAG": "1"}, ["auth.authenticate_user()"]),
    "kaggle": ({"KAGGLE_KERNEL_RUN_TYPE": "Interactive"}, ["Kaggle", "secret"]),
}


@pytest.mark.parametrize("where", list(ENVIRONMENTS))
def test_project_named_without_credentials_spools_all_and_sync_uploads_it(db, tmp_path, where):
    extra, fixes = ENVIRONMENTS[where]
    result, output, proc = first_minute(tmp_path, TFWATCHER_PROJECT="my-project", **extra)
    assert "fit done" in proc.stdout
    messages = NOTHING_SENT.findall(output)
    assert len(messages) == 1, output[-4000:]
    message = output[output.index(messages[0]):].split("\n")[0]
    for fix in fixes:
        assert fix in message, message
    assert "tfwatcher sync" in message
    assert result["flush"] is False and result["enabled"] is False
    no_claim_of_sent(output)
    exit_lines = [l for l in output.splitlines() if "was NOT fully sent" in l]
    assert len(exit_lines) == 1 and "20 batch points" in exit_lines[0], output[-3000:]
    [path] = spool_files(tmp_path)
    assert str(path) in exit_lines[0] and "tfwatcher sync" in exit_lines[0]
    assert path.stat().st_mode & 0o777 == 0o600
    assert path.parent.stat().st_mode & 0o777 == 0o700
    key = owner_key(proc.stdout)
    saved = spooled(path)
    assert saved["steps"] == FIT_STEPS and saved["epochs"] == FIT_EPOCHS
    assert saved["owner"] == key and saved["session"]["status"] == "finished"
    record(f"no credentials ({where})", result)
    assert_not_slowed(result)

    got, client = sync_and_read(tmp_path, result["sid"])
    assert_stored_exactly_once(got, client, result["sid"], key, FIT_STEPS, FIT_EPOCHS)
    assert cli.main(["sync", "--dir", str(path.parent)]) == 0  # nothing left: a no-op


def test_session_used_directly_without_credentials(db, tmp_path):
    """A custom loop: finish(wait=) and flush() say False, everything is spooled and synced."""
    result, output, proc = first_minute(tmp_path, "session", TFWATCHER_PROJECT="my-project")
    assert result["finish"] is False and result["flush"] is False
    assert len(NOTHING_SENT.findall(output)) == 1
    no_claim_of_sent(output)
    [path] = spool_files(tmp_path)
    assert spooled(path)["steps"] == FIT_STEPS
    got, client = sync_and_read(tmp_path, result["sid"])
    assert_stored_exactly_once(got, client, result["sid"], owner_key(proc.stdout), FIT_STEPS,
                               ["000001", "000002"])


# ----- 4: GOOGLE_APPLICATION_CREDENTIALS names a missing file -----------------------------------

def test_missing_key_file_with_a_project_is_named_by_its_path(db, tmp_path):
    result, output, proc = first_minute(tmp_path, TFWATCHER_PROJECT="my-project",
                                        GOOGLE_APPLICATION_CREDENTIALS="/nonexistent/key.json")
    [message] = NOTHING_SENT.findall(output)
    text = output[output.index(message):].split("\n")[0]
    assert "/nonexistent/key.json" in text and "does not exist" in text, text
    assert "no Google credentials were found" not in text
    assert result["flush"] is False
    no_claim_of_sent(output)
    [path] = spool_files(tmp_path)
    got, client = sync_and_read(tmp_path, result["sid"])
    assert_stored_exactly_once(got, client, result["sid"], owner_key(proc.stdout), FIT_STEPS,
                               FIT_EPOCHS)


@pytest.mark.parametrize("key_file, firewalled", [
    ("/nonexistent/key.json", False), (None, False), (None, True),
], ids=["missing-key", "nothing", "nothing-metadata-firewalled"])
def test_no_project_records_nothing_and_says_how_to_configure(tmp_path, silent_port, key_file,
                                                              firewalled):
    """With no project named, the constructor looks for ADC (their project would do). It
    must not ask the GCE metadata server off Google Cloud: where that address is firewalled,
    google-auth waits 3 tries x its timeout (12 s measured with the default 3 s)."""
    extra = {"GOOGLE_APPLICATION_CREDENTIALS": key_file} if key_file else {}
    if firewalled:
        metadata = f"127.0.0.1:{silent_port}"
        extra.update(GCE_METADATA_IP=metadata, GCE_METADATA_HOST=metadata)
    result, output, proc = first_minute(tmp_path, **extra)
    assert "fit done" in proc.stdout
    if key_file:
        assert f"GOOGLE_APPLICATION_CREDENTIALS names {key_file}, which does not exist" in output
        assert "no Firebase project configured" not in output
    else:
        assert "no Firebase project configured" in output
    assert output.count("training goes on") == 1
    assert result["enabled"] is False and result["flush"] is False
    assert "Use this ID" not in output and "NOT fully sent" not in output
    assert not NOTHING_SENT.search(output)
    assert not (tmp_path / "tfw" / "spool").exists(), "nothing is recorded"
    record(f"no project ({'missing key file' if key_file else 'nothing'}"
           f"{', metadata firewalled' if firewalled else ''})", result)
    assert result["construct_s"] < 0.5, result


# ----- 5: bad credentials= fail when the callback is built ---------------------------------------

def _bad_credentials(tmp_path):
    (tmp_path / "garbage.json").write_text("{not json")
    (tmp_path / "notakey.json").write_text(json.dumps({"type": "authorized_user"}))
    key = {"type": "service_account", "project_id": "p", "private_key_id": "1",
           "private_key": "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
           "client_email": "a@p.iam.gserviceaccount.com", "client_id": "1",
           "token_uri": "https://oauth2.googleapis.com/token"}
    return {
        "missing.json": ("missing.json", "does not exist"),
        "a folder": (str(tmp_path), "is a folder"),
        "empty path": ("", "empty path"),
        "invalid JSON file": (str(tmp_path / "garbage.json"), "is not a service-account key"),
        "not a service-account key file": (str(tmp_path / "notakey.json"),
                                           "is not a service-account key"),
        "empty dict": ({}, "not a service-account key"),
        "dict missing fields": ({"type": "service_account"}, "missing fields"),
        "dict with a broken key": (key, "not a service-account key"),
        "a number": (42, "credentials must be"),
    }


@pytest.mark.parametrize("case", ["missing.json", "a folder", "empty path", "invalid JSON file",
                                  "not a service-account key file", "empty dict",
                                  "dict missing fields", "dict with a broken key", "a number"])
def test_bad_credentials_raise_when_the_callback_is_built(tmp_path, monkeypatch, case):
    monkeypatch.chdir(tmp_path)
    value, words = _bad_credentials(tmp_path)[case]
    with pytest.raises(ValueError, match=re.escape(words)):
        tfwatcher.callbacks.Watcher(credentials=value, project="my-project")
    with pytest.raises(ValueError, match=re.escape(words)):
        tfwatcher.Session(credentials=value, quiet=True)


# ----- 8: the credential lookup never delays training, even when it is slow ---------------------

@pytest.fixture
def silent_port():
    """A port that accepts connections and never answers (a firewalled metadata server)."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    yield sock.getsockname()[1]
    sock.close()


def test_slow_credential_lookup_delays_nothing_and_exit_saves_everything(db, tmp_path, silent_port):
    """google-auth asks the GCE metadata server whether it is on Google Cloud; where that
    address is firewalled (many laptops and corporate networks), each try waits for its
    timeout: here 3 tries x 20 s. Training must not wait for it; and the process exits
    (TFWATCHER_EXIT_TIMEOUT) while the writer's first send is still stuck there, so what that
    send held (the session's own document, the owner key) must be saved with the rest."""
    metadata = f"127.0.0.1:{silent_port}"
    result, output, proc = first_minute(tmp_path, TFWATCHER_PROJECT="my-project",
                                        GCE_METADATA_IP=metadata, GCE_METADATA_HOST=metadata,
                                        GCE_METADATA_TIMEOUT="20")
    record("credential lookup stuck 60 s", result)
    assert_not_slowed(result)
    # TFWATCHER_EXIT_TIMEOUT is 2 s; TensorFlow's own teardown takes a few more under load.
    assert result["exit_s"] < 20, "the exit must not wait for the 60 s lookup"
    assert result["flush"] is False
    no_claim_of_sent(output)
    exit_lines = [l for l in output.splitlines() if "was NOT fully sent" in l]
    assert len(exit_lines) == 1 and "20 batch points" in exit_lines[0], output[-3000:]
    [path] = spool_files(tmp_path)
    key = owner_key(proc.stdout)
    saved = spooled(path)
    assert saved["owner"] == key, "the first send's writes (owner key) were lost at exit"
    assert saved["session"].get("schema") == 3, "the session's own document was lost at exit"
    assert saved["steps"] == FIT_STEPS and saved["epochs"] == FIT_EPOCHS
    got, client = sync_and_read(tmp_path, result["sid"])
    assert_stored_exactly_once(got, client, result["sid"], key, FIT_STEPS, FIT_EPOCHS)


# ----- `tfwatcher sync`: one clear message, a non-zero exit, no file lost ------------------------

def write_spool(folder: Path, sid: str, epochs: int = 2, extra: str = "") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    rows = [{"path": f"sessions/{sid}", "merge": True, "doc": {"schema": 1, "status": "finished"}}]
    rows += [{"path": f"sessions/{sid}/epochs/{e:06d}", "merge": False,
              "doc": {"schema": 1, "kind": "train", "epoch": e}} for e in range(1, epochs + 1)]
    path = folder / f"sessions-{sid}-1.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows) + extra)
    os.chmod(path, 0o600)
    return path


def run_sync(tmp_path: Path, args: list[str], **env: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "tfwatcher.cli", "sync", *args],
                          env=clean_env(tmp_path, **env), cwd=tmp_path, capture_output=True,
                          text=True, timeout=120)


SYNC_NO_ACCESS = {
    # name: (args, env, exit status, words of the message)
    "project, no credentials": (["--project", "my-project"], {}, 1,
                                ["no Google credentials were found",
                                 "gcloud auth application-default login"]),
    "project, missing key file": (["--project", "my-project"],
                                  {"GOOGLE_APPLICATION_CREDENTIALS": "/nonexistent/key.json"}, 1,
                                  ["/nonexistent/key.json", "does not exist"]),
    "Colab, no credentials": (["--project", "my-project"], {"COLAB_RELEASE_TAG": "1"}, 1,
                              ["auth.authenticate_user()"]),
    "no project": ([], {}, 2, ["no Firebase project configured", "--project"]),
    "no project, missing key file": ([], {"GOOGLE_APPLICATION_CREDENTIALS": "/nonexistent/key.json"},
                                     2, ["/nonexistent/key.json", "does not exist"]),
}


@pytest.mark.parametrize("case", list(SYNC_NO_ACCESS))
def test_sync_without_access_says_why_once_and_keeps_the_file(tmp_path, case):
    args, env, status, words = SYNC_NO_ACCESS[case]
    path = write_spool(tmp_path / "spool", "s" * 18)
    before = path.read_bytes()
    t0 = time.monotonic()
    proc = run_sync(tmp_path, ["--dir", str(path.parent), "--timeout", "5", *args], **env)
    elapsed = time.monotonic() - t0
    assert proc.returncode == status, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr, proc.stderr
    lines = [l for l in proc.stderr.splitlines() if l.startswith("tfwatcher sync:")]
    assert len(lines) == 1 and lines == proc.stderr.strip().splitlines(), proc.stderr
    for word in words:
        assert word in lines[0], lines[0]
    assert str(path.parent) in lines[0], "says where the files stay"
    assert "uploaded " not in proc.stdout
    assert path.read_bytes() == before, "a file not uploaded is kept as it was"
    assert elapsed < 30, elapsed


def test_sync_skips_a_corrupt_or_unreadable_file_and_uploads_the_rest(db, tmp_path, capsys):
    """A bad line inside a file keeps the whole file (nothing from it sent); a cut last line
    is left out and the rest uploaded."""
    folder = tmp_path / "spool"
    good = write_spool(folder, "g" * 18)
    cut = write_spool(folder, "c" * 18, extra='{"path": "sessions/cccccccccccccccccc/epochs/0000')
    shape = write_spool(folder, "h" * 18, extra='{"path": "sessions", "merge": false, "doc": {}}\n')
    binary = folder / "sessions-bbbbbbbbbbbbbbbbbb-1.jsonl"
    binary.write_bytes(b"\xff\xfe\x00garbage\n")
    kept = {p: p.read_bytes() for p in (shape, binary)}
    capsys.readouterr()
    assert cli.main(["sync", "--dir", str(folder), "--timeout", "10"]) == 1
    out = capsys.readouterr()
    assert "Traceback" not in out.err
    assert "uploaded 3 documents from " + good.name in out.out
    assert not good.exists() and db.document(f"sessions/{'g' * 18}").get().exists
    # A cut last line (a run killed while saving) is all a kill can leave: the rest goes up.
    assert "uploaded 3 documents from " + cut.name in out.out and not cut.exists()
    assert "ended in a cut line" in [l for l in out.err.splitlines() if cut.name in l][0]
    assert db.document(f"sessions/{'c' * 18}").get().exists
    for path, data in kept.items():
        assert path.exists() and path.read_bytes() == data, f"{path.name} must be kept as it was"
        [line] = [l for l in out.err.splitlines() if str(path) in l]
        assert "was not uploaded" in line and "It is kept" in line
    assert "line 4 is not a spooled document" in [l for l in out.err.splitlines()
                                                   if str(shape) in l][0]
    assert "cannot read it" in [l for l in out.err.splitlines() if str(binary) in l][0]
    # Nothing from a bad file was sent, not even its good lines.
    for sid in ("h" * 18,):
        assert not db.document(f"sessions/{sid}").get().exists


@pytest.mark.parametrize("where", ["closed port", "silent port"])
def test_sync_with_firestore_unreachable_gives_up_within_its_timeout(tmp_path, monkeypatch,
                                                                     capsys, silent_port, where):
    port = free_port() if where == "closed port" else silent_port
    monkeypatch.setenv("FIRESTORE_EMULATOR_HOST", f"127.0.0.1:{port}")
    path = write_spool(tmp_path / "spool", "u" * 18)
    before = path.read_bytes()
    capsys.readouterr()
    t0 = time.monotonic()
    status = cli.main(["sync", "--dir", str(path.parent), "--timeout", "2"])
    elapsed = time.monotonic() - t0
    out = capsys.readouterr()
    print(f"\nsync against a {where}: gave up after {elapsed:.1f} s (--timeout 2)")
    assert status == 1
    assert "could not reach Firestore" in out.err and "Traceback" not in out.err, out.err
    assert len(out.err.strip().splitlines()) == 1, out.err
    assert path.read_bytes() == before
    assert elapsed < 5, elapsed


def test_sync_permanent_error_explains_and_keeps_the_file(db, tmp_path, mocker, capsys):
    path = write_spool(tmp_path / "spool", "p" * 18)
    mocker.patch.object(WriteBatch, "commit", side_effect=gexc.PermissionDenied("denied"))
    capsys.readouterr()
    assert cli.main(["sync", "--dir", str(path.parent), "--project", "their-project"]) == 1
    err = capsys.readouterr().err
    assert "Cloud Datastore User" in err and "'their-project'" in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1, err
    assert path.exists()


def test_sync_never_deletes_a_file_half_uploaded(db, tmp_path, mocker, capsys):
    """A file of two commits whose second cannot get through: kept whole (re-sending the
    first half later is harmless, the IDs are deterministic)."""
    path = write_spool(tmp_path / "spool", "q" * 18, epochs=600)
    real = WriteBatch.commit
    calls = {"n": 0}

    def commit(self, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 1:
            return real(self, *args, **kwargs)
        raise gexc.PermissionDenied("access revoked meanwhile")

    mocker.patch.object(WriteBatch, "commit", commit)
    assert cli.main(["sync", "--dir", str(path.parent)]) == 1
    assert path.exists() and calls["n"] == 2
    assert "1 file(s) were not uploaded" in capsys.readouterr().err
    mocker.stopall()
    assert cli.main(["sync", "--dir", str(path.parent)]) == 0 and not path.exists()
    got = read_session(db, "q" * 18)
    assert len(got["epochs"]) == 600 and got["session"]["status"] == "finished"

"""`tfwatcher workspace new|show|list` (issue 19, item 1) against the real Firestore emulator:
what `new` writes (the workspace document and its server-only owner key), what it keeps on this
machine, what it prints (both links, the QR code of the owner link, how a run joins), `show`
without the network, and every way it can fail: one message, exit status 2, in bounded time."""

from __future__ import annotations

import os
import re
import stat
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

import pytest

from tfwatcher.base import contract, ids
from tfwatcher.base import workspaces as store
from tfwatcher.base.display import qr_text
from tfwatcher.cli import main
from tfwatcher.local.emulator import free_port
from tfwatcher.setup import workspace

ROOT = Path(__file__).resolve().parents[2]
DASHBOARD = "http://127.0.0.1:5000"  # what a target on the emulator links to
SCRUB = ("FIRESTORE_EMULATOR_HOST", "GOOGLE_APPLICATION_CREDENTIALS", "TFWATCHER_PROJECT",
         "GOOGLE_CLOUD_PROJECT", "GCLOUD_PROJECT", "CLOUDSDK_CONFIG", "PYTHONPATH",
         "TFWATCHER_DASHBOARD_URL", "TFWATCHER_WORKSPACE", "COLAB_RELEASE_TAG",
         "KAGGLE_KERNEL_RUN_TYPE", "KAGGLE_URL_BASE")


@pytest.fixture
def home(tmp_path, monkeypatch):
    folder = tmp_path / "home" / ".tfwatcher"
    monkeypatch.setenv("TFWATCHER_HOME", str(folder))
    monkeypatch.delenv("TFWATCHER_DASHBOARD_URL", raising=False)
    monkeypatch.delenv("TFWATCHER_WORKSPACE", raising=False)
    return folder


def made_from(out: str) -> tuple[str, str]:
    """(workspace ID, owner key) from `new`'s output, via the owner link."""
    m = re.search(r"/w/(w[0-9a-z]+)#k=([A-Za-z0-9_-]+)", out)
    assert m, out
    return m.group(1), m.group(2)


def cli(tmp_path: Path, *args: str, timeout: float = 120, **env) -> tuple[subprocess.CompletedProcess, float]:
    """`tfwatcher ARGS` as a user runs it, with a clean HOME and only the given configuration."""
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    environ = {k: v for k, v in os.environ.items() if k not in SCRUB}
    environ.update({"HOME": str(home), "TFWATCHER_HOME": str(home / ".tfwatcher"),
                    "CLOUDSDK_CONFIG": str(home / "gcloud"), "PYTHONPATH": str(ROOT),
                    # nothing leaves this machine: no metadata server, no googleapis.com
                    "GCE_METADATA_HOST": "127.0.0.1:9", "GCE_METADATA_IP": "127.0.0.1:9",
                    "https_proxy": "http://127.0.0.1:9", "HTTPS_PROXY": "http://127.0.0.1:9",
                    "no_proxy": "127.0.0.1,localhost", "NO_PROXY": "127.0.0.1,localhost"})
    environ.update(env)
    start = time.monotonic()
    r = subprocess.run([sys.executable, "-m", "tfwatcher.cli", *args], cwd=tmp_path, env=environ,
                       capture_output=True, text=True, timeout=timeout)
    return r, time.monotonic() - start


def one_message(r: subprocess.CompletedProcess) -> str:
    assert "Traceback" not in r.stdout + r.stderr, r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1, r.stderr
    return lines[0]


# ----- new -------------------------------------------------------------------------------------


def test_new_writes_the_workspace_and_its_owner_key_and_keeps_them(home, db, capsys):
    assert main(["workspace", "new", "--name", "mnist sweeps"]) == 0
    out = capsys.readouterr().out
    wid, key = made_from(out)
    assert ids.is_workspace_id(wid) and len(key) == 32
    root = db.collection(contract.COLLECTIONS["workspaces"]).document(wid)
    doc = root.get()
    assert doc.exists
    data = doc.to_dict()
    assert data["schema"] == contract.SCHEMA and data["name"] == "mnist sweeps"
    assert isinstance(data["created"], datetime)  # the server's time
    owner = root.collection(contract.COLLECTIONS["private"]).document(contract.DOCUMENTS["owner"]).get()
    assert owner.to_dict() == {"key": key}
    # kept on this machine, as the default, privately
    entry = store.get(wid)
    assert entry["key"] == key and entry["project"] == db.project
    assert entry["dashboard_url"] == DASHBOARD and entry["name"] == "mnist sweeps"
    assert store.default() == wid
    assert stat.S_IMODE(store.path().stat().st_mode) == 0o600


def test_new_prints_both_links_and_how_a_run_joins(home, db, capsys):
    assert main(["workspace", "new"]) == 0
    out = capsys.readouterr().out
    wid, key = made_from(out)
    shown = ids.display_workspace_id(wid)
    share, owner = f"{DASHBOARD}/w/{wid}", f"{DASHBOARD}/w/{wid}#k={key}"
    lines = out.splitlines()
    assert f"Workspace {shown}" in lines[0]
    assert any(l.strip() == f"{workspace.SHARE_LABEL} {share}" for l in lines), out
    owner_line = next(l for l in lines if owner in l)
    assert "keep it private" in owner_line
    assert f"export TFWATCHER_WORKSPACE={shown}" in out
    assert 'from google.colab import userdata' in out
    assert 'os.environ["TFWATCHER_WORKSPACE"] = userdata.get("TFWATCHER_WORKSPACE")' in out
    assert "from kaggle_secrets import UserSecretsClient" in out
    assert f'workspace="{shown}"' in out
    assert ids.parse_workspace(shown) == wid  # what it tells users to set is accepted
    assert "▀" not in out and "█" not in out  # TFWATCHER_QR=0 in the tests: no QR code


def test_the_qr_code_is_the_owner_link(home, db, capsys, monkeypatch):
    monkeypatch.setenv("TFWATCHER_QR", "1")
    assert main(["workspace", "new"]) == 0
    out = capsys.readouterr().out
    wid, key = made_from(out)
    assert qr_text(f"{DASHBOARD}/w/{wid}#k={key}") in out
    assert main(["workspace", "new", "--no-qr"]) == 0
    assert "▀" not in capsys.readouterr().out


def test_each_new_workspace_is_another_and_becomes_the_default(home, db, capsys):
    made = []
    for _ in range(2):
        assert main(["workspace", "new"]) == 0
        made.append(made_from(capsys.readouterr().out))
    (a, ka), (b, kb) = made
    assert a != b and ka != kb
    assert store.default() == b and set(store.all()) == {a, b}
    for wid in (a, b):
        assert db.collection(contract.COLLECTIONS["workspaces"]).document(wid).get().exists


def test_new_with_an_explicit_project(home, db, capsys):
    """--project names the project; on the emulator that is where the documents go."""
    other = "demo-tfw-other"
    assert main(["workspace", "new", "--project", other]) == 0
    wid, key = made_from(capsys.readouterr().out)
    from google.cloud import firestore

    client = firestore.Client(project=other)
    try:
        assert client.collection(contract.COLLECTIONS["workspaces"]).document(wid).get().exists
    finally:
        client.close()
    assert not db.collection(contract.COLLECTIONS["workspaces"]).document(wid).get().exists
    assert store.get(wid)["project"] == other


# ----- show and list ---------------------------------------------------------------------------


def test_show_prints_the_same_without_the_network(home, db, capsys, monkeypatch):
    assert main(["workspace", "new", "--name", "n"]) == 0
    made = capsys.readouterr().out
    wid, key = made_from(made)
    # nothing listens there: show must not need Firestore
    monkeypatch.setenv("FIRESTORE_EMULATOR_HOST", f"127.0.0.1:{free_port()}")
    for argv in (["workspace", "show"], ["workspace", "show", wid],
                 ["workspace", "show", ids.display_workspace_id(wid).upper()],
                 ["workspace", "show", f"https://x.web.app/w/{wid}"]):
        assert main(argv) == 0, argv
        out = capsys.readouterr().out
        assert out in made, argv  # the same lines as `new` printed (less its last line)
        assert f"{DASHBOARD}/w/{wid}#k={key}" in out


def test_show_of_a_workspace_not_made_here_or_of_nothing(home, db, capsys):
    assert main(["workspace", "show"]) == 2
    err = capsys.readouterr().err
    assert "tfwatcher workspace new" in err and "Traceback" not in err
    other = ids.new_workspace_id()
    assert main(["workspace", "show", other]) == 2
    err = capsys.readouterr().err
    assert ids.display_workspace_id(other) in err and "was not made on this machine" in err
    assert main(["workspace", "show", ids.new_session_id()]) == 2
    assert "is a session ID" in capsys.readouterr().err


def test_list_marks_the_default(home, db, capsys):
    assert main(["workspace", "list"]) == 0
    assert "No workspace" in capsys.readouterr().out
    for name in ("first", "second"):
        assert main(["workspace", "new", "--name", name]) == 0
    capsys.readouterr()
    assert main(["workspace", "list"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("  w-") and "first" in lines[0]
    assert lines[1].startswith("* w-") and "second" in lines[1]


# ----- failures: one message, exit 2, bounded time ----------------------------------------------


def test_no_project_configured_is_one_message(tmp_path):
    r, took = cli(tmp_path, "workspace", "new")
    assert r.returncode == 2, r.stderr
    text = one_message(r)
    assert text.startswith("tfwatcher workspace new: ") and "no Firebase project configured" in text
    assert "--project" in text and "tfwatcher local" in text
    assert not (tmp_path / "home" / ".tfwatcher" / "workspaces.json").exists()
    assert took < 30


def test_a_missing_key_file_is_named(tmp_path):
    key = tmp_path / "nowhere" / "key.json"
    r, _ = cli(tmp_path, "workspace", "new", GOOGLE_APPLICATION_CREDENTIALS=str(key))
    assert r.returncode == 2
    assert str(key) in one_message(r)


def test_an_unreachable_emulator_fails_within_the_timeout(tmp_path):
    port = free_port()  # nothing listens there
    r, took = cli(tmp_path, "workspace", "new", "--timeout", "3",
                  FIRESTORE_EMULATOR_HOST=f"127.0.0.1:{port}")
    assert r.returncode == 2, r.stderr
    text = one_message(r)
    assert "the workspace was not made: could not reach Firestore" in text, text
    assert "within 3 s" in text and f"127.0.0.1:{port}" in text
    assert not (tmp_path / "home" / ".tfwatcher" / "workspaces.json").exists()
    assert took < 25, took


def test_no_credentials_for_a_real_project_is_one_message(tmp_path):
    r, took = cli(tmp_path, "workspace", "new", "--project", "tfw-no-such-project", "--timeout", "5")
    assert r.returncode == 2, r.stderr
    text = one_message(r)
    assert "the workspace was not made" in text and "gcloud auth application-default login" in text
    assert took < 60


def test_refusals_read_as_one_sentence():
    """Permission denied and a project without Firestore come from the real service (the
    emulator admits the admin client everywhere); their sentences are checked on the
    exception types the client raises."""
    from google.api_core import exceptions as gexc

    text = workspace.describe(gexc.PermissionDenied("Missing or insufficient permissions."), "p")
    assert "may not write to Firestore in project 'p'" in text and "Cloud Datastore User" in text
    text = workspace.describe(gexc.NotFound("The database (default) does not exist"), "p")
    assert "has no Firestore database" in text and "--project" in text
    text = workspace.describe(gexc.ServiceUnavailable("connection refused"), "p", 3)
    assert "could not reach Firestore (project 'p') within 3 s" in text


def test_a_workspace_made_but_not_kept_still_shows_its_key(home, db, capsys):
    """The local list cannot be written (a file where its folder should be): the workspace
    exists, so its links are printed (the only copy of the key), with one message and exit 2."""
    home.parent.mkdir(parents=True)
    home.write_text("not a folder")
    assert main(["workspace", "new"]) == 2
    out = capsys.readouterr()
    wid, key = made_from(out.out)
    assert "not kept on this machine" in out.err and "Copy the owner link" in out.err
    assert "Traceback" not in out.err
    assert db.collection(contract.COLLECTIONS["workspaces"]).document(wid).get().exists


def test_bad_options_are_one_message(home, capsys):
    assert main(["workspace", "new", "--timeout", "0"]) == 2
    assert "--timeout must be a positive number" in capsys.readouterr().err
    assert main(["workspace", "new", "--name", "x" * 201]) == 2
    assert "--name" in capsys.readouterr().err

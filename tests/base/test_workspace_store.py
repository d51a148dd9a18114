"""The local list of workspaces (`~/.tfwatcher/workspaces.json`, tfwatcher.base.workspaces):
private modes, whole writes only (a failed or killed write leaves the previous file), no lost
update when commands run at once, and a corrupt file named in one message and never
overwritten (it may hold the only copy of an owner key)."""

from __future__ import annotations

import json
import os
import secrets
import signal
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from tfwatcher.base import ids
from tfwatcher.base import workspaces as store
from tfwatcher.cli import main

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def home(tmp_path, monkeypatch):
    folder = tmp_path / "home" / ".tfwatcher"
    monkeypatch.setenv("TFWATCHER_HOME", str(folder))
    return folder


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def new(n=1):
    return [(ids.new_workspace_id(), secrets.token_urlsafe(24)) for _ in range(n)]


def test_save_makes_a_private_folder_and_file(home):
    (wid, key), = new()
    assert not home.exists()
    entry = store.save(wid, key, "proj", "https://proj.web.app", name="mnist")
    assert store.path() == home / "workspaces.json"
    assert mode(home) == 0o700 and mode(store.path()) == 0o600
    data = json.loads(store.path().read_text())
    assert data["default"] == wid
    assert data["workspaces"][wid] == entry
    assert entry["key"] == key and entry["project"] == "proj" and entry["name"] == "mnist"
    assert entry["dashboard_url"] == "https://proj.web.app"
    assert entry["created"].endswith("+00:00")
    assert store.get(wid) == entry and store.default() == wid
    assert store.all() == {wid: entry}


def test_the_file_is_0600_whatever_the_umask_or_the_mode_it_had(home):
    (a, ka), (b, kb) = new(2)
    home.mkdir(parents=True)
    old = os.umask(0)
    try:
        store.save(a, ka, "p", "http://x")
        assert mode(store.path()) == 0o600
        store.path().chmod(0o644)  # someone loosened it
        store.save(b, kb, "p", "http://x")
        assert mode(store.path()) == 0o600
    finally:
        os.umask(old)


def test_the_newest_is_the_default_unless_asked_otherwise(home):
    (a, ka), (b, kb), (c, kc) = new(3)
    store.save(a, ka, "p", "http://x")
    store.save(b, kb, "p", "http://x")
    assert store.default() == b
    store.save(c, kc, "p", "http://x", make_default=False)
    assert store.default() == b
    assert list(store.all()) == [a, b, c]
    assert store.get(c)["key"] == kc and store.get(ids.new_workspace_id()) is None


def test_nothing_saved_reads_as_empty(home):
    assert store.default() is None and store.all() == {} and store.get(ids.new_workspace_id()) is None
    assert not home.exists()  # reading makes nothing


def test_only_canonical_ids_and_real_keys_are_saved(home):
    wid = ids.new_workspace_id()
    for bad in (ids.display_workspace_id(wid), ids.new_session_id(), wid.upper(), ""):
        with pytest.raises(ValueError):
            store.save(bad, "k" * 32, "p", "http://x")
    with pytest.raises(ValueError):
        store.save(wid, "", "p", "http://x")
    assert not store.path().exists()


def test_a_failed_write_leaves_the_previous_file_and_no_temporary_file(home, monkeypatch):
    (a, ka), (b, kb) = new(2)
    store.save(a, ka, "p", "http://x")
    before = store.path().read_bytes()

    def refuse(src, dst):
        raise OSError(28, "No space left on device")
    with monkeypatch.context() as patch:
        patch.setattr(os, "replace", refuse)
        with pytest.raises(store.StoreError) as caught:
            store.save(b, kb, "p", "http://x")
    assert str(store.path()) in str(caught.value) and "No space left" in str(caught.value)
    assert store.path().read_bytes() == before
    assert sorted(p.name for p in home.iterdir()) == ["workspaces.json", "workspaces.json.lock"]


WRITER = """
import secrets, sys
from tfwatcher.base import ids, workspaces as store
print("ready", flush=True)
while True:
    store.save(ids.new_workspace_id(), secrets.token_urlsafe(24), "p", "http://x", name="x" * 2000)
"""


def test_a_process_killed_while_saving_never_leaves_half_a_file(home):
    """A writer saving as fast as it can is read continuously and then killed: every read,
    and the file it leaves, is a whole list."""
    env = {**os.environ, "TFWATCHER_HOME": str(home), "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, "-c", WRITER], env=env, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "ready"
        reads, deadline = 0, time.monotonic() + 2.0
        seen = 0
        while time.monotonic() < deadline:
            if store.path().exists():
                n = len(store.all())  # raises StoreError on half a file
                assert n >= seen
                seen, reads = n, reads + 1
        assert seen > 5 and reads > 20, (seen, reads)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    assert len(store.all()) >= seen  # whole (a kill may leave a temporary file beside it)
    assert store.default() in store.all()


def test_commands_at_once_lose_no_workspace(home):
    made = new(40)
    errors = []

    def save(chunk):
        try:
            for wid, key in chunk:
                store.save(wid, key, "p", "http://x")
        except Exception as err:  # pragma: no cover - reported below
            errors.append(err)
    threads = [threading.Thread(target=save, args=(made[i::8],)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    saved = store.all()
    assert set(saved) == {wid for wid, _ in made}
    assert all(saved[wid]["key"] == key for wid, key in made)


CORRUPT = {
    "not JSON": b'{"default": "w',
    "a list": b"[]",
    "workspaces not a map": b'{"workspaces": []}',
    "an entry without key": json.dumps({"workspaces": {"w" + "a" * 18: {"project": "p"}}}).encode(),
    "a bad ID": json.dumps({"workspaces": {"x7kq2m": {"key": "k"}}}).encode(),
    "a bad default": json.dumps({"default": 3, "workspaces": {}}).encode(),
    "not UTF-8": b"\xff\xfe\x00garbage",
}


@pytest.mark.parametrize("what", sorted(CORRUPT))
def test_a_corrupt_file_is_named_and_never_overwritten(home, what):
    home.mkdir(parents=True)
    store.path().write_bytes(CORRUPT[what])
    (wid, key), = new()
    for call in (store.default, store.all, lambda: store.get(wid),
                 lambda: store.save(wid, key, "p", "http://x")):
        with pytest.raises(store.StoreError) as caught:
            call()
        text = str(caught.value)
        assert str(store.path()) in text and "owner keys" in text, text
    assert store.path().read_bytes() == CORRUPT[what]


def test_a_folder_in_place_of_the_file_is_named(home):
    store.path().mkdir(parents=True)
    with pytest.raises(store.StoreError, match="it is a folder"):
        store.default()


def test_the_cli_says_so_in_one_message_without_a_traceback(home, capsys):
    home.mkdir(parents=True)
    store.path().write_text("{oops")
    for argv in (["workspace", "show"], ["workspace", "list"], ["runs", "--once"]):
        code = main(argv)
        out = capsys.readouterr()
        assert code == 2, (argv, out)
        assert str(store.path()) in out.err and "Traceback" not in out.err + out.out, (argv, out.err)
        assert out.out == "", (argv, out.out)
    assert store.path().read_text() == "{oops"

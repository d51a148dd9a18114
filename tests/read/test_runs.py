"""A workspace's runs from the terminal and Python (issue 19, item 7): `tfwatcher runs`
(`tfwatcher watch --workspace`) and `tfwatcher.load(workspace=...)`, on run index documents
seeded in the emulator in the shape of docs/schema.md ("Workspaces")."""

from __future__ import annotations

import io
import math
import os
import re
import subprocess
import sys
import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pandas as pd
import pytest
from rich.console import Console

import tfwatcher
from tfwatcher.base import contract, ids
from tfwatcher.base import workspaces as store
from tfwatcher.cli import main
from tfwatcher.local.emulator import free_port
from tfwatcher.read import runs, runs_view
from tests.helpers import wait_until

ROOT = Path(__file__).resolve().parents[2]
NEW, RUNNING, FINISHED, CRASHED, STOPPED, STALLED = contract.STATUSES
HB = contract.HEARTBEAT_FIELD


def index_doc(sid: str, name="run", status=FINISHED, started_ago=60.0, updated_ago=5.0,
              every=10.0, **fields) -> dict:
    """A run index document as the writer writes it (every field present; None if unknown)."""
    now = datetime.now(timezone.utc)
    started = now - timedelta(seconds=started_ago)
    doc = {"schema": contract.SCHEMA, "sid": sid, "name": name, "status": status,
           "active": status in (NEW, RUNNING), "run": 0, "created": started, "started": started,
           "updated": now - timedelta(seconds=updated_ago), HB: every, "epoch": 3, "epochs": 10,
           "step": 120, "steps": 40, "loss": 0.25, "val_loss": 0.3, "spark": [1.0, 0.5, 0.25]}
    doc.update(fields)
    return doc


def runs_ref(db, wid):
    return (db.collection(contract.COLLECTIONS["workspaces"]).document(wid)
            .collection(contract.COLLECTIONS["runs"]))


def seed(db, wid, docs: list[dict]) -> list[str]:
    col = runs_ref(db, wid)
    for i in range(0, len(docs), 400):
        batch = db.batch()
        for d in docs[i:i + 400]:
            batch.set(col.document(d["sid"]), d)
        batch.commit()
    return [d["sid"] for d in docs]


def console(width=140):
    return Console(file=io.StringIO(), width=width, highlight=False, color_system=None)


def once(wid=None, width=140, **kw) -> tuple[int, str]:
    c = console(width)
    code = runs.runs_command(wid, once=True, console=c, **kw)
    return code, c.file.getvalue()


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("TFWATCHER_HOME", str(tmp_path / "tfw"))
    monkeypatch.delenv("TFWATCHER_WORKSPACE", raising=False)
    return tmp_path / "tfw"


# ----- what a row shows (pure) -----------------------------------------------------------------


def rows_of(docs, now=None):
    return runs_view.view_model("w" + "a" * 18, {d["sid"]: d for d in docs},
                                now=now or time.time())["rows"]


def test_a_silent_running_run_is_stalled_by_its_own_heartbeat_period():
    sid = ids.new_session_id
    cases = [  # (status, heartbeat_every, silent seconds) -> shown
        ((RUNNING, 10, 60), RUNNING),      # within the contract's floor (120 s)
        ((RUNNING, 10, 200), STALLED),     # past max(120, 3 x 10)
        ((RUNNING, 180, 400), RUNNING),    # slow heartbeat: 3 x 180 = 540 s
        ((RUNNING, 180, 600), STALLED),
        ((NEW, 10, 200), STALLED),         # starting and silent
        ((RUNNING, None, 200), STALLED),   # no period declared: the contract's default
        ((FINISHED, 10, 10_000), FINISHED),  # an ended run is never stalled
        ((CRASHED, 10, 10_000), CRASHED),
        ((STALLED, 10, 10), STALLED),      # marked by the sweep
    ]
    for (status, every, silent), shown in cases:
        doc = index_doc(sid(), status=status, every=every, updated_ago=silent)
        (r,) = rows_of([doc])
        assert r["shown"] == shown, (status, every, silent, r["shown"])
        if status in (NEW, RUNNING):
            assert (silent > contract.stall_after(every)) == (shown == STALLED)


def test_active_runs_come_first_then_the_newest():
    docs = [index_doc(ids.new_session_id(), name=n, status=s, started_ago=a)
            for n, s, a in [("old-done", FINISHED, 500), ("new-done", FINISHED, 10),
                            ("old-running", RUNNING, 900), ("new-running", RUNNING, 100),
                            ("crashed", CRASHED, 50)]]
    assert [r["name"] for r in rows_of(docs)] == ["new-running", "old-running", "new-done",
                                                  "crashed", "old-done"]


def test_untrusted_fields_cannot_reach_the_terminal_or_break_the_list():
    evil = "\x1b]52;c;cGF3bmVk\x07\x1b[2Jfake\u202eexe.txt"
    docs = [index_doc(ids.new_session_id(), name=evil, status=RUNNING),
            index_doc(ids.new_session_id(), name=None, status="hacked\x1b[31m", loss="NaN",
                      epoch="3", epochs=True, spark="x", started="yesterday"),
            index_doc(ids.new_session_id(), name="hidden")]
    model = runs_view.view_model("w" + "a" * 18, {ids.new_session_id(): docs[0], docs[1]["sid"]: docs[1],
                                                  "../evil\x1b": docs[2]})
    assert len(model["rows"]) == 2  # a document whose ID is not a session ID is not shown
    c = console()
    c.print(runs_view.render(model, 140, live=False))
    text = c.file.getvalue()
    assert "\x1b" not in text and "\x07" not in text and "\u202e" not in text
    assert "␛]52;c;cGF3bm" in text  # the name, visible (and cut in the middle to the column)
    evil_row = next(r for r in model["rows"] if r["name"].startswith("␛"))
    assert "␛]52;c;cGF3bmVk␇␛[2Jfake⟨U+202E⟩exe.txt" in runs_view.line(evil_row, "12:00:00")
    bad = next(r for r in model["rows"] if r["name"] == "")
    assert bad["status"] == "unknown" and bad["loss"] is None and bad["epoch"] is None
    assert bad["epochs"] is None and bad["spark"] == [] and bad["started"] is not None  # created
    for r in model["rows"]:
        assert runs_view.line(r, "12:00:00").count("\x1b") == 0


def test_a_name_is_never_read_as_rich_markup():
    doc = index_doc(ids.new_session_id(), name="[red]x[/red][link=e]y", status=RUNNING)
    c = console()
    c.print(runs_view.render(runs_view.view_model("w" + "a" * 18, {doc["sid"]: doc}), 140))
    assert "[red]x[/red][link=e]y" in c.file.getvalue()


def test_progress_values_and_age_read_as_on_the_page():
    doc = index_doc(ids.new_session_id(), status=RUNNING, epoch=3, epochs=10, step=120, steps=40,
                    loss=math.nan, val_loss=math.inf, started_ago=125)
    (r,) = rows_of([doc])
    assert runs_view.progress(r) == "epoch 3/10 · step 120/40"
    assert runs_view.age(r).startswith("started 2m 0") and runs_view.age(r).endswith(" ago")
    line = runs_view.line(r, "12:00:00")
    assert "loss=nan" in line and "val_loss=inf" in line
    (s,) = rows_of([index_doc(ids.new_session_id(), status=RUNNING, updated_ago=300)])
    assert runs_view.age(s) == "silent 5m 00s"
    (n,) = rows_of([index_doc(ids.new_session_id(), epoch=None, epochs=None, step=None, steps=None)])
    assert runs_view.progress(n) == ""


# ----- tfwatcher runs --once ------------------------------------------------------------------


def test_once_lists_the_workspaces_runs(db, home):
    wid = ids.new_workspace_id()
    seed(db, wid, [index_doc(ids.new_session_id(), name="resnet lr=1e-3", status=RUNNING,
                             epoch=4, epochs=20, loss=0.5, val_loss=0.61, started_ago=30),
                   index_doc(ids.new_session_id(), name="baseline", status=FINISHED,
                             started_ago=3600, updated_ago=3000),
                   index_doc(ids.new_session_id(), name="silent one", status=RUNNING,
                             started_ago=900, updated_ago=400)])
    seed(db, ids.new_workspace_id(), [index_doc(ids.new_session_id(), name="another workspace")])
    code, out = once(ids.display_workspace_id(wid))
    assert code == 0, out
    lines = out.splitlines()
    assert ids.display_workspace_id(wid) in lines[0] and "3 runs" in lines[0]
    body = [l for l in lines if re.search(r"resnet|baseline|silent one", l)]
    assert [re.split(r"\s{2,}", l.strip())[0] for l in body] == ["resnet lr=1e-3", "silent one", "baseline"]
    assert re.search(r"resnet lr=1e-3\s+running\s+epoch 4/20 · step 120/40\s+0\.5\s+0\.61", out), out
    assert re.search(r"silent one\s+stalled", out) and "silent 6m 40s" in out
    assert re.search(r"baseline\s+finished", out)
    assert "another workspace" not in out
    assert "3 document reads" in out  # one query: one read per run


def test_once_shows_the_newest_page_only(db, home):
    wid = ids.new_workspace_id()
    docs = [index_doc(ids.new_session_id(), name=f"run {i:03d}", started_ago=1000 - i)
            for i in range(runs.PAGE_SIZE + 10)]
    seed(db, wid, docs)
    code, out = once(wid)
    assert code == 0
    shown = re.findall(r"run (\d{3})", out)
    assert sorted(map(int, shown)) == list(range(10, runs.PAGE_SIZE + 10))  # the 50 newest
    assert f"{runs.PAGE_SIZE} document reads" in out and f"the {runs.PAGE_SIZE} newest" in out


def test_an_empty_workspace_says_how_runs_join(db, home):
    wid = ids.new_workspace_id()
    code, out = once(wid)
    assert code == 0
    assert "No runs yet" in out and f"TFWATCHER_WORKSPACE={ids.display_workspace_id(wid)}" in out


def test_a_workspace_made_in_another_project_says_so_when_empty(db, home):
    wid = ids.new_workspace_id()
    store.save(wid, "k" * 32, "my-real-project", "https://my-real-project.web.app")
    code, out = once(wid)
    assert code == 0 and "made in project 'my-real-project'" in out and "--project my-real-project" in out


def test_which_workspace_the_list_shows(db, home, monkeypatch, capsys):
    a, b, c = (ids.new_workspace_id() for _ in range(3))
    for wid, name in ((a, "in a"), (b, "in b"), (c, "in c")):
        seed(db, wid, [index_doc(ids.new_session_id(), name=name)])
    # nothing anywhere: say how to get one
    code, _ = once()
    assert code == 2
    assert "tfwatcher workspace new" in capsys.readouterr().err
    # the machine's default workspace
    store.save(a, "k" * 32, db.project, "http://127.0.0.1:5000")
    assert "in a" in once()[1]
    # TFWATCHER_WORKSPACE wins over the default, as an ID or a link
    monkeypatch.setenv("TFWATCHER_WORKSPACE", ids.display_workspace_id(b))
    assert "in b" in once()[1]
    monkeypatch.setenv("TFWATCHER_WORKSPACE", f"https://x.web.app/w/{b}")
    assert "in b" in once()[1]
    # --workspace wins over both
    assert "in c" in once(f"https://x.web.app/w/{c}#k=secret")[1]
    # a bad TFWATCHER_WORKSPACE is named
    monkeypatch.setenv("TFWATCHER_WORKSPACE", ids.new_session_id())
    code, _ = once()
    assert code == 2
    err = capsys.readouterr().err
    assert err.startswith("tfwatcher runs: TFWATCHER_WORKSPACE: ") and "is a session ID" in err


def test_watch_workspace_is_the_same_list(db, home, capsys):
    wid = ids.new_workspace_id()
    seed(db, wid, [index_doc(ids.new_session_id(), name="via watch")])
    assert main(["watch", "--workspace", wid, "--once"]) == 0
    assert "via watch" in capsys.readouterr().out
    assert main(["runs", "--workspace", wid, "--once"]) == 0
    assert "via watch" in capsys.readouterr().out
    assert main(["watch", ids.new_session_id(), "--workspace", wid]) == 2
    assert "not both" in capsys.readouterr().err
    assert main(["watch"]) == 2
    assert "--workspace" in capsys.readouterr().err


# ----- tfwatcher runs, live ------------------------------------------------------------------------


def test_the_list_follows_new_runs_and_changes_live(db, home):
    """Without a terminal it prints a line per run whose status or epoch changed: a run that
    starts appears, and its end shows, without a restart; its cost is one read per change."""
    wid = ids.new_workspace_id()
    seed(db, wid, [index_doc(ids.new_session_id(), name=f"earlier {i}") for i in range(3)])
    c = console()
    stop = threading.Event()
    result = {}
    t = threading.Thread(target=lambda: result.setdefault(
        "code", runs.runs_command(wid, console=c, stop=stop, max_seconds=120)))
    t.start()
    try:
        wait_until(lambda: "earlier 2" in c.file.getvalue(), 20, message="the first frame")
        sid = ids.new_session_id()
        t0 = time.monotonic()
        seed(db, wid, [index_doc(sid, name="fresh run", status=RUNNING, epoch=1, started_ago=0)])
        wait_until(lambda: re.search(r"fresh run \(.*\)\s+running\s+epoch 1/10", c.file.getvalue()),
                   10, message="the new run")
        assert time.monotonic() - t0 < 3, "a new run appears within 3 s"
        runs_ref(db, wid).document(sid).update({"status": FINISHED, "active": False, "epoch": 10})
        wait_until(lambda: re.search(r"fresh run \(.*\)\s+finished\s+epoch 10/10", c.file.getvalue()),
                   10, message="its end")
    finally:
        stop.set()
        t.join(10)
    assert result["code"] == 0
    out = c.file.getvalue()
    assert out.count("earlier 1") == 1  # an unchanged run is not printed again
    reads = int(re.search(r"(\d+) document reads", out).group(1))
    assert reads == 1 + 3  # the probe, then the first answer (3 runs), when the first frame showed


def test_the_live_list_ends_its_listener_and_client(db, home, monkeypatch):
    closed, unsubscribed = [], []
    from tfwatcher.read import firestore as reader

    real_close = reader.close
    monkeypatch.setattr(runs, "close", lambda client: (closed.append(client), real_close(client)))
    real_stop = runs.RunsListener.stop
    monkeypatch.setattr(runs.RunsListener, "stop",
                        lambda self: (unsubscribed.append(self._watch is not None), real_stop(self)))
    assert runs.runs_command(ids.new_workspace_id(), console=console(), max_seconds=0.2) == 0
    assert len(closed) == 1 and unsubscribed == [True]


# ----- failures ------------------------------------------------------------------------------------


def run_cli(tmp_path, *args, timeout=120, **env):
    environ = {k: v for k, v in os.environ.items()
               if k not in ("FIRESTORE_EMULATOR_HOST", "TFWATCHER_PROJECT", "GCLOUD_PROJECT",
                            "GOOGLE_CLOUD_PROJECT", "GOOGLE_APPLICATION_CREDENTIALS",
                            "TFWATCHER_WORKSPACE")}
    environ.update({"HOME": str(tmp_path), "TFWATCHER_HOME": str(tmp_path / ".tfwatcher"),
                    "CLOUDSDK_CONFIG": str(tmp_path / "gcloud"), "PYTHONPATH": str(ROOT),
                    "GCE_METADATA_HOST": "127.0.0.1:9", "GCE_METADATA_IP": "127.0.0.1:9"})
    environ.update(env)
    t0 = time.monotonic()
    r = subprocess.run([sys.executable, "-m", "tfwatcher.cli", *args], capture_output=True,
                       text=True, timeout=timeout, cwd=tmp_path, env=environ)
    assert "Traceback" not in r.stdout + r.stderr, r.stderr
    return r, time.monotonic() - t0


def test_unreachable_firestore_fails_within_the_timeout(tmp_path):
    dead = f"127.0.0.1:{free_port()}"
    wid = ids.new_workspace_id()
    for args in (["runs", "--workspace", wid, "--timeout", "3"],
                 ["runs", "--workspace", wid, "--once", "--timeout", "3"]):
        r, took = run_cli(tmp_path, *args, FIRESTORE_EMULATOR_HOST=dead)
        assert r.returncode == 1, (args, r.stderr)
        assert "could not reach Firestore" in r.stderr and "within 3 s" in r.stderr, r.stderr
        assert len(r.stderr.strip().splitlines()) == 1, r.stderr
        assert took < 25, (args, took)


def test_no_project_is_one_message(tmp_path):
    r, _ = run_cli(tmp_path, "runs", "--workspace", ids.new_workspace_id())
    assert r.returncode == 2
    assert "no Firebase project configured" in r.stderr and len(r.stderr.strip().splitlines()) == 1


# ----- tfwatcher.load(workspace=...) -------------------------------------------------------------


def test_load_returns_every_run_as_one_row(db, home):
    wid = ids.new_workspace_id()
    n = 2 * runs.PAGE_ALL + 37  # three pages
    docs = [index_doc(ids.new_session_id(), name=f"r{i}", started_ago=10_000 - i,
                      status=RUNNING if i % 7 == 0 else FINISHED, loss=None if i == 5 else i / 10)
            for i in range(n)]
    docs[1]["updated"] = None
    seed(db, wid, docs)
    frame = tfwatcher.load(workspace=f"https://x.web.app/w/{wid}")
    assert isinstance(frame, pd.DataFrame)
    assert list(frame.columns) == list(runs.RUN_COLUMNS)
    assert len(frame) == n and frame["sid"].is_unique
    assert set(frame["sid"]) == {d["sid"] for d in docs}
    assert list(frame["name"]) == [f"r{i}" for i in reversed(range(n))]  # newest started first
    assert frame.attrs["workspace"] == wid and frame.attrs["reads"] == n  # 3 pages, nothing more
    assert re.fullmatch(r"datetime64\[\w+, UTC\]", str(frame["started"].dtype))
    assert frame["updated"].isna().sum() == 1
    assert str(frame["epoch"].dtype) == "Int64" and str(frame["loss"].dtype) == "float64"
    by = frame.set_index("name")
    assert math.isnan(by.loc["r5", "loss"]) and by.loc["r6", "loss"] == pytest.approx(0.6)
    assert by.loc["r7", "status"] == RUNNING and bool(by.loc["r7", "active"])
    assert bool(by.loc["r7", "stalled"]) is False and by.loc["r7", "spark"] == [1.0, 0.5, 0.25]
    assert by.loc["r7", HB] == 10.0


def test_load_pages_exactly_and_marks_the_stalled(db, home):
    wid = ids.new_workspace_id()
    seed(db, wid, [index_doc(ids.new_session_id(), status=RUNNING, updated_ago=1000 if i == 0 else 1)
                   for i in range(runs.PAGE_ALL)])
    frame = tfwatcher.load(workspace=wid)
    assert len(frame) == runs.PAGE_ALL and frame.attrs["reads"] == runs.PAGE_ALL + 1  # the empty page
    assert frame["stalled"].sum() == 1 and str(frame["stalled"].dtype) == "bool"


def test_load_of_an_empty_workspace_is_an_empty_table(db, home):
    frame = tfwatcher.load(workspace=ids.new_workspace_id())
    assert len(frame) == 0 and list(frame.columns) == list(runs.RUN_COLUMNS)
    assert frame.attrs["reads"] == 1


def test_load_says_what_is_wrong_with_its_arguments(db, home):
    with pytest.raises(ValueError, match="not both"):
        tfwatcher.load(ids.new_session_id(), workspace=ids.new_workspace_id())
    with pytest.raises(ValueError, match="workspace="):
        tfwatcher.load()
    with pytest.raises(ValueError, match="is a session ID"):
        tfwatcher.load(workspace=ids.new_session_id())
    with pytest.raises(ValueError, match="owner key"):
        tfwatcher.load(workspace="Zx8" * 11)

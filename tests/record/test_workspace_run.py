"""A run in a workspace (#19, the writer's side): its row in `workspaces/{wid}/runs/{sid}`
follows it at the heartbeat's pace at most, the session's link never reveals the workspace,
and the workspace's owner key or an enrolled device stops any of its runs."""

import hashlib
import secrets
import time

import pytest

import tfwatcher
from tfwatcher.base.contract import doc_path, session_path, stop_id
from tfwatcher.base.ids import display_workspace_id, new_session_id, new_workspace_id
from tfwatcher.record.run_index import SPARK_POINTS, Spark, run_index_path
from tests.helpers import wait_until


def row(db, wid, sid):
    return db.document(run_index_path(wid, sid)).get().to_dict()


def test_a_run_keeps_its_row_and_its_link_does_not_reveal_the_workspace(db, monkeypatch):
    wid = new_workspace_id()
    monkeypatch.setenv("TFWATCHER_WORKSPACE", f"https://demo.web.app/w/{display_workspace_id(wid)}")
    s = tfwatcher.Session(quiet=True, run_name="cifar <b>bold</b>", system_metrics=False)
    assert s.workspace == wid
    sends = []
    s.writer.on_send = lambda writes: sends.extend(w[0] for w in writes)
    s.start(mode="fit", epochs=2, steps=1000)
    first = wait_until(lambda: row(db, wid, s.id), 10, message="the row at the start")
    assert first["status"] == "running" and first["active"] is True and first["sid"] == s.id
    assert first["name"] == "cifar <b>bold</b>" and first["run"] == 1
    for i in range(1, 2001):  # ~3 s of batches: the row is not rewritten per batch
        s.log_batch({"loss": 1.0 / i, "accuracy": 0.5}, epoch=1 + i // 1001, batch=i)
        if i % 100 == 0:
            time.sleep(0.15)
    s.log_epoch({"loss": 0.01, "val_loss": 0.02}, epoch=1)
    assert s.finish(wait=20)
    done = row(db, wid, s.id)
    assert done["status"] == "finished" and done["active"] is False
    assert done["val_loss"] == 0.02 and done["step"] == 2000 and done["epochs"] == 2
    assert 2 <= len(done["spark"]) <= SPARK_POINTS and done["spark"][0] > done["spark"][-1]
    assert sends.count("index") <= 4, sends.count("index")  # start, a heartbeat or two, the end
    owner = db.document(doc_path(s.id, "private", "owner")).get().to_dict()
    assert owner["workspace"] == wid
    assert wid not in repr(db.document(session_path(s.id)).get().to_dict())


def test_without_a_workspace_nothing_changes(db, monkeypatch):
    monkeypatch.delenv("TFWATCHER_WORKSPACE", raising=False)
    s = tfwatcher.Session(quiet=True, system_metrics=False)
    sends = []
    s.writer.on_send = lambda writes: sends.extend(w[0] for w in writes)
    s.start(mode="custom")
    s.log_batch({"loss": 1.0})
    assert s.finish(wait=10)
    assert "index" not in sends and s.workspace is None
    assert "workspace" not in db.document(doc_path(s.id, "private", "owner")).get().to_dict()


@pytest.mark.parametrize("value, says", [
    ("w-123", "workspace ID is w- then 18"),
    (secrets.token_urlsafe(24), "owner key"),
    (new_session_id(), "is a session ID"),
    ("https://demo.web.app/s/abcdefghjkmnpqrstu", "session's link"),
])
def test_a_misconfigured_workspace_is_a_clear_error_at_construction(monkeypatch, value, says):
    with pytest.raises(ValueError, match=says):
        tfwatcher.Session(quiet=True, project="demo-x", workspace=value)
    monkeypatch.setenv("TFWATCHER_WORKSPACE", value)
    with pytest.raises(ValueError, match="TFWATCHER_WORKSPACE"):
        tfwatcher.Session(quiet=True, project="demo-x")
    monkeypatch.delenv("TFWATCHER_WORKSPACE")
    from tfwatcher.callbacks import Watcher  # when the callback is built, not mid-training

    with pytest.raises(ValueError, match=says):
        Watcher(quiet=True, project="demo-x", workspace=value)


def stop_with(db, s, key):
    db.document(doc_path(s.id, "control", stop_id(s.run))).set({"key": key, "run": s.run, "at": time.time()})


def test_the_workspace_key_and_enrolled_devices_stop_runs_and_nothing_else_does(db):
    wid = new_workspace_id()
    wkey = secrets.token_urlsafe(24)
    db.document(f"workspaces/{wid}/private/owner").set({"key": wkey})
    s = tfwatcher.Session(quiet=True, system_metrics=False, workspace=wid)
    s.start(mode="custom")
    s.log_batch({"loss": 1.0})
    assert s.flush(10)  # the run's start (its owner key, its row) is in Firestore
    stop_with(db, s, secrets.token_urlsafe(24))      # a stranger's key: nothing
    time.sleep(1.0)
    assert not s.stop_requested
    stop_with(db, s, wkey)                           # the workspace's owner key
    wait_until(lambda: s.stop_requested, 5, message="the workspace owner's Stop")
    s.finish("stopped", wait=10)
    # A device enrolled (for this session) stops the next run too, after the key rotated.
    device = secrets.token_urlsafe(32)
    db.document(doc_path(s.id, "devices", hashlib.sha256(device.encode()).hexdigest())).set({"at": time.time()})
    s.stop_requested = False
    s.start(mode="custom")
    s.log_batch({"loss": 1.0})
    assert s.flush(10)  # the run's start (its owner key, its row) is in Firestore
    stop_with(db, s, device)
    wait_until(lambda: s.stop_requested, 5, message="the enrolled device's Stop")
    s.finish("stopped", wait=10)


def test_the_spark_is_the_whole_run_in_constant_size():
    sp = Spark()
    for i in range(100_000):
        sp.add(100_000 - i)
    sp.add(float("nan"))
    v = sp.values()
    assert len(v) <= SPARK_POINTS and v[0] > v[-1] and len(sp.buckets) < 2 * SPARK_POINTS
    assert Spark().values() == []


def test_a_workspace_run_that_cannot_send_spools_its_row_and_sync_uploads_it(db, mocker, tmp_path, monkeypatch):
    """The row holds datetimes (`created`, `started`): once the spool could not save them
    ("datetime is not JSON serializable") and the run's backlog was lost at exit, and `sync`
    refused a spool file holding a workspace path."""
    from google.api_core import exceptions as gexc
    from google.cloud.firestore_v1.batch import WriteBatch

    from tfwatcher import cli

    monkeypatch.setattr("tfwatcher.record.spool.SPOOL_DIR", tmp_path)
    wid = new_workspace_id()
    s = tfwatcher.Session(quiet=True, interval=0.1, workspace=wid, system_metrics=False)
    mocker.patch.object(WriteBatch, "commit", side_effect=gexc.PermissionDenied("no"))
    with pytest.warns(RuntimeWarning, match="nothing is being sent"):
        s.start(mode="custom")
        for i in range(1, 51):
            s.log_batch({"loss": 1.0 / i})
        s.finish()
        assert not s.flush(5)
    mocker.stopall()
    wait_until(lambda: not s.writer.alive, message="the writer thread to end")
    assert len(list(tmp_path.glob("*.jsonl"))) == 1
    assert cli.main(["sync", "--dir", str(tmp_path)]) == 0
    assert not list(tmp_path.glob("*.jsonl"))
    synced = row(db, wid, s.id)
    assert synced["status"] == "finished" and synced["sid"] == s.id and synced["created"] is not None
    from tests.helpers import read_session
    assert [p["step"] for p in read_session(db, s.id)["points"]["train"]] == list(range(1, 51))

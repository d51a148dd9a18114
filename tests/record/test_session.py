"""The logging API against the real Firestore emulator: what is stored reads back exactly."""

import math
import time

import pytest

import tfwatcher
from tfwatcher.record import session as session_module
from tfwatcher.record import writer as writer_module
from tests.helpers import epoch_metrics, read_session


def make(**kwargs):
    return tfwatcher.Session(quiet=True, interval=0.2, **kwargs)


def test_session_is_created_on_first_use_with_owner_key_and_links(db):
    s = make(run_name="first")
    assert session_module.is_session_id(s.id)
    assert s.share_url.endswith(f"/s/{s.id}") and "#k=" not in s.share_url
    assert s.owner_url == f"{s.share_url}#k={s.owner_key}"
    assert not db.document(f"sessions/{s.id}").get().exists, "nothing is written before first use"
    s.start(mode="fit", epochs=1)
    assert s.flush(15)
    stored = db.document(f"sessions/{s.id}").get().to_dict()
    assert stored["schema"] == 3 and stored["status"] == "running" and stored["name"] == "first"
    assert stored["run"] == 1 and stored["created"] is not None
    assert db.document(f"sessions/{s.id}/private/owner").get().to_dict() == {"key": s.owner_key}
    s.finish()


def test_building_sessions_and_callbacks_touches_no_network_and_unused_leave_nothing(db, monkeypatch):
    """IDs are made locally (89 bits: no collision check), so construction needs no round
    trip, starts no thread, and a callback never used writes nothing.

    Firestore here is a plain listening socket that counts connections (gRPC opens its own
    sockets in C, so patching Python's socket module would see nothing)."""
    import socket
    import threading

    import keras

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    monkeypatch.setenv("FIRESTORE_EMULATOR_HOST", f"127.0.0.1:{listener.getsockname()[1]}")
    threads = set(threading.enumerate())
    t0 = time.perf_counter()
    unused = [tfwatcher.callbacks.Watcher(quiet=True) for _ in range(3)]
    unused.append(tfwatcher.callbacks.EpochEnd(schedule=1))
    built = time.perf_counter() - t0
    assert set(threading.enumerate()) - threads == set(), "building a callback started a thread"
    assert built < 1.0, f"building 4 callbacks took {built:.3f} s"
    ids = {cb.session.id for cb in unused}
    assert all(session_module.is_session_id(i) and len(i) == 18 for i in ids) and len(ids) == 4
    assert all(not cb.session.writer.used for cb in unused)
    for cb in unused:
        assert cb.session.flush(1), "an unused session has nothing to send"
    session_module._flush_at_exit()  # what the interpreter's exit does: nothing to do here
    listener.settimeout(1.0)
    try:
        conn, _ = listener.accept()
        conn.close()
        raise AssertionError("building (or exiting with) unused callbacks connected to Firestore")
    except socket.timeout:
        pass
    finally:
        listener.close()
    monkeypatch.undo()

    # The same against the real emulator: nothing stored for callbacks never used.
    unused = [tfwatcher.callbacks.Watcher(quiet=True) for _ in range(2)]
    session_module._flush_at_exit()
    stored = {d.id for d in db.collection("sessions").stream()}
    assert not {cb.session.id for cb in unused} & stored, "an unused callback left a session"
    assert keras  # the callbacks above are Keras callbacks


def test_long_run_name_is_shortened_with_one_warning_wrong_type_raises():
    with pytest.warns(UserWarning, match="keeping the first 200") as warned:
        s = make(run_name="x" * 500)
    assert s.run_name == "x" * 200 and len(warned) == 1
    with pytest.raises(ValueError, match="run_name must be a string"):
        make(run_name=["a"])


def test_points_epochs_and_status_read_back_exactly(db):
    s = make()
    s.start(mode="custom", epochs=2, steps=3)
    sent = []
    for epoch in (1, 2):
        for batch in (1, 2, 3):
            metrics = {"loss": 1.0 / (epoch * 10 + batch), "acc": batch / 10}
            sent.append(metrics)
            s.log_batch(metrics, epoch=epoch, batch=batch, seconds=0.001 * batch)
        s.log_epoch({"loss": 0.5 / epoch, "val_loss": 0.6 / epoch}, epoch=epoch, seconds=1.5)
    s.finish()
    assert s.flush(15)
    got = read_session(db, s.id)
    points = got["points"]["train"]
    assert [p["step"] for p in points] == [1, 2, 3, 4, 5, 6]
    assert [(p["epoch"], p["batch"]) for p in points] == [(1, 1), (1, 2), (1, 3), (2, 1), (2, 2), (2, 3)]
    assert [p["metrics"] for p in points] == sent
    assert [p["seconds"] for p in points] == [0.001, 0.002, 0.003] * 2
    assert sorted(got["epochs"]) == ["000001", "000002"]
    assert epoch_metrics(got["epochs"]["000002"]) == {"loss": 0.25, "val_loss": 0.3}
    assert got["epochs"]["000002"]["step"] == 6
    doc = got["session"]
    assert doc["status"] == "finished" and doc["ended"] is not None
    assert doc["plan"] == {"epochs": 2, "steps": 3}
    assert doc["progress"] == {"epoch": 2, "batch": 3, "step": 6}
    assert doc["metrics"] == ["loss", "acc", "val_loss"]
    assert {m["name"]: m["value"] for m in doc["latest"]} == {"loss": 0.25, "acc": 0.3, "val_loss": 0.3}


def test_hostile_metric_names_and_values_are_stored(db):
    names = ["a.b", "val/acc top 5", "ünï©ødé ✓", "x" * 1500, "__name__", "`tick`"]
    s = make()
    s.start()
    values = {name: float(i) for i, name in enumerate(names)}
    values.update({"nan": math.nan, "inf": math.inf, "ninf": -math.inf})
    s.log_batch(values)
    s.log_epoch(values, epoch=1)
    s.finish()
    assert s.flush(15)
    got = read_session(db, s.id)
    stored = got["points"]["train"][0]["metrics"]
    assert set(stored) == set(values)
    for name in names:
        assert stored[name] == values[name]
    assert math.isnan(stored["nan"]) and stored["inf"] == math.inf and stored["ninf"] == -math.inf
    epoch = epoch_metrics(got["epochs"]["000001"])
    assert set(epoch) == set(values) and epoch["x" * 1500] == 3.0


def test_nan_loss_is_flagged_on_the_session(db):
    s = make()
    s.start()
    s.log_batch({"loss": 1.0})
    assert s.flush(10)
    assert db.document(f"sessions/{s.id}").get().get("nan") is False
    s.log_batch({"loss": math.nan})
    assert s.flush(10)
    assert db.document(f"sessions/{s.id}").get().get("nan") is True


def test_chunks_roll_over_and_missing_metrics_are_null(db, monkeypatch):
    monkeypatch.setattr(writer_module, "CHUNK_MAX_POINTS", 50)
    s = make()
    s.start()
    for i in range(1, 131):
        s.log_batch({"loss": float(i)} if i % 2 else {"loss": float(i), "extra": -float(i)})
    assert s.flush(15)
    got = read_session(db, s.id)
    assert [c["n"] for c in got["chunks"]] == [50, 50, 30]
    assert [c["index"] for c in got["chunks"]] == [0, 1, 2]
    points = got["points"]["train"]
    assert [p["step"] for p in points] == list(range(1, 131))
    assert points[0]["metrics"] == {"loss": 1.0}
    assert points[1]["metrics"] == {"loss": 2.0, "extra": -2.0}


def test_batch_writes_are_coalesced_to_one_per_send(db):
    """Batches at ~2,000/s for 3 s: about one chunk write per second, not one per point."""
    s = tfwatcher.Session(quiet=True, interval=1.0)
    s.start()
    sends = []  # per commit: the chunk documents it wrote
    s.writer.on_send = lambda group: sends.append([w[1] for w in group if w[0] in ("open", "closed")])
    t0 = time.monotonic()
    i = 0
    while time.monotonic() - t0 < 3.0:
        i += 1
        s.log_batch({"loss": float(i)})
        if i % 100 == 0:
            time.sleep(0.05)
    s.finish()
    assert s.flush(20)
    elapsed = time.monotonic() - t0
    chunk_sends = [paths for paths in sends if paths]
    # Each send writes a chunk once, whatever the number of points since the last one ...
    assert all(len(paths) == len(set(paths)) for paths in chunk_sends), sends
    # ... and sends come once a round (interval=1.0), plus the final one: thousands of points,
    # a handful of chunk writes. (A chunk that fills up closes in the round it fills: one more.)
    chunk_docs = {p for paths in chunk_sends for p in paths}
    chunk_writes = sum(len(paths) for paths in chunk_sends)
    assert len(chunk_sends) <= elapsed / 1.0 + 2, sends
    assert chunk_writes <= len(chunk_sends) + len(chunk_docs), sends
    assert chunk_writes * 200 < i, (chunk_writes, i)
    got = read_session(db, s.id)
    assert [p["step"] for p in got["points"]["train"]] == list(range(1, i + 1))


def test_bad_arguments_raise_value_error():
    for kwargs in ({"run_name": 5}, {"credentials": 5}, {"credentials": {"type": "nope"}}, {"interval": 0}, {"interval": True}, {"heartbeat": -1},
                   {"quiet": "yes"}, {"project": ""}, {"dashboard_url": "ftp://x"}):
        with pytest.raises(ValueError):
            tfwatcher.Session(**kwargs)
    s = make()
    with pytest.raises(ValueError):
        s.start(mode="train")
    with pytest.raises(ValueError):
        s.start(epochs=-1)
    with pytest.raises(ValueError):
        s.log_batch({"loss": 1.0}, kind="valid")
    with pytest.raises(ValueError):
        s.finish(status="done")


def test_no_project_prints_how_to_configure_and_records_nothing(monkeypatch, capsys, tmp_path):
    for var in ("FIRESTORE_EMULATOR_HOST", "TFWATCHER_PROJECT", "GCLOUD_PROJECT",
                "GOOGLE_CLOUD_PROJECT", "GOOGLE_APPLICATION_CREDENTIALS"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("NO_GCE_CHECK", "True")
    monkeypatch.setenv("CLOUDSDK_CONFIG", str(tmp_path))  # no gcloud ADC on this machine either
    monkeypatch.setattr("tfwatcher.base.project.LOCAL_STATE", tmp_path / "none.json")
    s = tfwatcher.Session()
    assert not s.enabled
    assert "no Firebase project configured" in capsys.readouterr().err
    s.start()
    s.log_batch({"loss": 1.0})
    s.log_epoch({"loss": 1.0})
    s.finish()


def test_a_run_marked_stalled_during_an_outage_is_running_again_once_heard_from(db):
    """The stall sweep marks a silent run `stalled`; the next heartbeat says `running` again
    (the rules let the owner stop, and viewers subscribe, only while it runs)."""
    from tests.helpers import wait_until

    s = tfwatcher.Session(quiet=True, interval=0.1, heartbeat=0.2)
    s.start()
    s.log_batch({"loss": 1.0})
    assert s.flush(10)
    db.document(f"sessions/{s.id}").update({"status": "stalled"})  # what sweepstalled writes
    wait_until(lambda: db.document(f"sessions/{s.id}").get().get("status") == "running", 10,
               message="the heartbeat to mark the run running again")
    s.finish()
    assert s.flush(10)
    assert db.document(f"sessions/{s.id}").get().get("status") == "finished"

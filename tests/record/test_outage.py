"""Failures between the writer and Firestore: nothing lost, nothing duplicated, training
never waits and never sees an exception."""

import gc
import os
import threading
import time

import keras
import pytest
from google.api_core import exceptions as gexc
from google.cloud.firestore_v1.batch import WriteBatch

import tfwatcher
from tfwatcher import cli, demo
from tests.helpers import read_session, wait_until

OUTAGE_SECONDS = float(os.environ.get("TFWATCHER_OUTAGE_SECONDS", "60"))


def test_transient_errors_are_retried_without_loss_or_duplicates(db, mocker):
    real_commit = WriteBatch.commit
    failures = [gexc.ServiceUnavailable("down"), gexc.DeadlineExceeded("slow"),
                gexc.ResourceExhausted("quota")]

    def flaky(self, *args, **kwargs):
        if failures:
            raise failures.pop(0)
        return real_commit(self, *args, **kwargs)

    s = tfwatcher.Session(quiet=True, interval=0.1)
    mocker.patch.object(WriteBatch, "commit", flaky)
    s.start()
    with pytest.warns(RuntimeWarning, match="cannot reach Firestore"):
        for i in range(1, 501):
            s.log_batch({"loss": float(i)})
            if i % 100 == 0:
                s.log_epoch({"loss": float(i)}, epoch=i // 100)
        s.finish()
        assert s.flush(60)
    assert not failures
    got = read_session(db, s.id)
    assert [p["step"] for p in got["points"]["train"]] == list(range(1, 501))
    assert [p["metrics"]["loss"] for p in got["points"]["train"]] == [float(i) for i in range(1, 501)]
    assert sorted(got["epochs"]) == [f"{e:06d}" for e in range(1, 6)]
    assert got["session"]["status"] == "finished"
    assert s.writer.stats["errors"] == 3


@pytest.mark.parametrize("error, fix", [
    (gexc.PermissionDenied("no"), "Cloud Datastore User"),
    (gexc.NotFound("no database"), "has no Firestore database"),
    (gexc.Unauthenticated("expired"), "Sign in again"),
], ids=["PERMISSION_DENIED", "NOT_FOUND", "UNAUTHENTICATED"])
def test_permanent_error_warns_once_spools_and_sync_uploads(db, mocker, tmp_path, monkeypatch, error, fix):
    monkeypatch.setattr("tfwatcher.record.spool.SPOOL_DIR", tmp_path)
    s = tfwatcher.Session(quiet=True, interval=0.1)
    patch = mocker.patch.object(WriteBatch, "commit", side_effect=error)
    with pytest.warns(RuntimeWarning, match="nothing is being sent") as warned:
        s.start()  # found when the session is first used: the writer's first send
        for i in range(1, 101):
            s.log_batch({"loss": float(i)})
        s.log_epoch({"loss": 1.0}, epoch=1)
        s.finish()
        assert not s.flush(10)
        for i in range(101, 111):  # after the writer is off: still no exception
            s.log_batch({"loss": float(i)})
        assert not s.flush(1), "flush never claims data was sent when it was not"
    messages = [str(w.message) for w in warned if "nothing is being sent" in str(w.message)]
    assert len(messages) == 1 and fix in messages[0] and "tfwatcher sync" in messages[0]
    assert not s.enabled and patch.call_count == 1
    spooled = list(tmp_path.glob("*.jsonl"))
    assert len(spooled) == 1 and spooled[0].stat().st_mode & 0o777 == 0o600
    mocker.stopall()
    # The writer thread spools its last round, then ends; a user's `tfwatcher sync` comes
    # after the run (a sync during it leaves the file being written for the next sync).
    wait_until(lambda: not s.writer.alive, message="the writer thread to end")
    assert cli.main(["sync", "--dir", str(tmp_path)]) == 0
    got = read_session(db, s.id)
    assert [p["step"] for p in got["points"]["train"]] == list(range(1, 111))
    assert sorted(got["epochs"]) == ["000001"]
    assert got["session"]["status"] == "finished"
    # The live fields went to the spool too: the synced session shows where the run ended.
    assert got["session"]["progress"]["step"] == 110
    assert {"name": "loss", "value": 110.0} in got["session"]["latest"]
    assert db.document(f"sessions/{s.id}/private/owner").get().to_dict() == {"key": s.owner_key}
    assert not list(tmp_path.glob("*.jsonl"))


class TimedWatcher(tfwatcher.callbacks.Watcher):
    """Measures the longest time spent inside any of our hooks."""

    longest = 0.0
    slowest = ""  # which hook, for the failure message
    gc_seconds = 0.0  # the interpreter's cyclic GC, counted by gc_callback
    gc_started: float | None = None

    @staticmethod
    def gc_callback(phase, _info):
        if phase == "start":
            TimedWatcher.gc_started = time.perf_counter()
        elif TimedWatcher.gc_started is not None:
            TimedWatcher.gc_seconds += time.perf_counter() - TimedWatcher.gc_started
            TimedWatcher.gc_started = None

    def _time(name):
        def hook(self, *args, **kwargs):
            # A full collection of the test process's heap (TensorFlow and ~270 tests before
            # this one) can stop any thread for a few hundred ms; it is not the network or a
            # lock of ours, so it is taken out of the hook's time.
            g0, t0 = TimedWatcher.gc_seconds, time.perf_counter()
            getattr(tfwatcher.callbacks.Watcher, name)(self, *args, **kwargs)
            took = time.perf_counter() - t0 - (TimedWatcher.gc_seconds - g0)
            if took > TimedWatcher.longest:
                TimedWatcher.longest, TimedWatcher.slowest = took, name
        return hook

    for _name in ("on_train_begin", "on_train_end", "on_epoch_begin", "on_epoch_end",
                  "on_train_batch_begin", "on_train_batch_end", "on_test_batch_end"):
        locals()[_name] = _time(_name)
    del _name


@pytest.mark.slow
def test_emulator_frozen_mid_fit_training_never_waits_and_nothing_is_lost(db, emulator):
    """The emulator stops answering (SIGSTOP) for OUTAGE_SECONDS in the middle of a fit."""
    (x, y), _ = demo.load_data("digits")
    phases = {"thawed_at": None, "batches": 0}

    class Pace(keras.callbacks.Callback):
        """Keeps the fit going until a little after the outage, at ~100 batches a second."""

        def on_train_batch_end(self, batch, logs=None):
            phases["batches"] += 1
            time.sleep(0.01)
            if phases["thawed_at"] and time.monotonic() > phases["thawed_at"] + 3:
                self.model.stop_training = True

    def outage():
        time.sleep(2)
        emulator.freeze()
        time.sleep(OUTAGE_SECONDS)
        emulator.thaw()
        phases["thawed_at"] = time.monotonic()

    TimedWatcher.longest, TimedWatcher.gc_seconds = 0.0, 0.0
    watcher = TimedWatcher(quiet=True, test_batches=None)
    thread = threading.Thread(target=outage)
    thread.start()
    gc.callbacks.append(TimedWatcher.gc_callback)
    try:
        with pytest.warns(RuntimeWarning, match="cannot reach Firestore"):
            history = demo.get_model().fit(x, y, batch_size=250, epochs=100000, verbose=0,
                                           callbacks=[watcher, Pace()])
            thread.join()
            assert watcher.session.flush(120)
    finally:
        gc.callbacks.remove(TimedWatcher.gc_callback)
    epochs = len(history.history["loss"])
    got = read_session(db, watcher.ref_id)
    steps = [p["step"] for p in got["points"]["train"]]
    assert steps == list(range(1, phases["batches"] + 1))  # the last epoch may be cut short
    assert sorted(got["epochs"]) == [f"{e:06d}" for e in range(1, epochs + 1)]
    assert got["session"]["status"] == "finished"
    assert TimedWatcher.longest < 0.05, f"{TimedWatcher.slowest} took {TimedWatcher.longest * 1000:.1f} ms"
    print(f"outage {OUTAGE_SECONDS:.0f} s, {len(steps)} points, longest hook "
          f"{TimedWatcher.longest * 1000:.2f} ms ({TimedWatcher.slowest}), GC "
          f"{TimedWatcher.gc_seconds * 1000:.0f} ms in all, writer errors {watcher.session.writer.stats['errors']}")

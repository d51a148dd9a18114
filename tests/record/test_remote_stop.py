"""Stop from the phone: the owner's stop command ends a real fit within 2 s."""

import threading
import time

import keras

import tfwatcher
from tfwatcher import demo
from tests.helpers import read_session, wait_until


def run_fit_until_stopped(db, key_of, watcher=None, write=None):
    """Fit until a stop request lands; returns the seconds from the request to fit's return.
    `write(db, sid, run, key)` writes the request (default: this run's `control/stop-{run}`)."""
    (x, y), _ = demo.load_data("digits")
    watcher = watcher or tfwatcher.callbacks.Watcher(quiet=True, test_batches=None)
    sid = watcher.ref_id
    run = watcher.session.run + 1  # the run this fit is about to start
    write = write or (lambda db, sid, run, key: db.document(f"sessions/{sid}/control/stop-{run}").set(
        {"key": key, "run": run, "at": time.time()}))
    marks = {}

    class Pace(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            time.sleep(0.005)
            if "written" in marks and time.monotonic() - marks["written"] > 10:
                self.model.stop_training = True  # safety net: the test fails below

    def press_stop():
        wait_until(lambda: (db.document(f"sessions/{sid}").get().to_dict() or {}).get("run") == run, 30)
        write(db, sid, run, key_of(watcher.session))
        marks["written"] = time.monotonic()

    thread = threading.Thread(target=press_stop)
    thread.start()
    demo.get_model().fit(x, y, batch_size=250, epochs=100000, verbose=0, callbacks=[watcher, Pace()])
    stopped_after = time.monotonic() - marks["written"]
    thread.join()
    assert watcher.session.flush(20)
    return sid, stopped_after


def test_a_stop_request_acts_on_its_own_run_only(db):
    """One callback, two fits: the owner stops fit 1; that request (even rewritten with the
    key, as a replay would) is worth nothing for fit 2, which only its own request stops."""
    watcher = tfwatcher.callbacks.Watcher(quiet=True, test_batches=None)
    sid, stopped_after = run_fit_until_stopped(db, lambda s: s.owner_key, watcher)
    assert stopped_after < 2.0
    assert read_session(db, sid)["session"]["status"] == "stopped"

    key_of_run_1 = watcher.session.owner_key

    def replay_run_1(db, sid, run, key):
        assert run == 2 and key != key_of_run_1, "each run has its own owner key"
        for doc in ("control/stop-1", "control/stop"):
            db.document(f"sessions/{sid}/{doc}").set({"key": key, "run": 1, "at": time.time()})
        # run 1's key (a link seen during fit 1) on run 2's own request
        db.document(f"sessions/{sid}/control/stop-2").set({"key": key_of_run_1, "run": 2,
                                                           "at": time.time()})

    _, stopped_after = run_fit_until_stopped(db, lambda s: s.owner_key, watcher, write=replay_run_1)
    assert stopped_after >= 10, "a request for run 1 stopped run 2"
    assert read_session(db, sid)["session"]["status"] == "finished"
    _, stopped_after = run_fit_until_stopped(db, lambda s: s.owner_key, watcher)
    assert stopped_after < 2.0, f"run 3 stopped {stopped_after:.2f} s after its own request"
    assert read_session(db, sid)["session"]["run"] == 3


def test_owner_stop_command_stops_fit_within_two_seconds(db):
    sid, stopped_after = run_fit_until_stopped(db, lambda s: s.owner_key)
    assert stopped_after < 2.0, f"fit stopped {stopped_after:.2f} s after the command"
    assert read_session(db, sid)["session"]["status"] == "stopped"


def test_stop_command_with_wrong_key_is_ignored(db):
    sid, stopped_after = run_fit_until_stopped(db, lambda s: "not-the-key")
    assert stopped_after >= 10  # only the safety net stopped it
    assert read_session(db, sid)["session"]["status"] == "finished"

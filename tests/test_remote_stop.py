"""Stop from the phone: the owner's stop command ends a real fit within 2 s."""

import threading
import time

import keras

import tfwatcher
from tfwatcher import demo
from tests.helpers import read_session, wait_until


def run_fit_until_stopped(db, key_of):
    (x, y), _ = demo.load_data("digits")
    watcher = tfwatcher.callbacks.Watcher(quiet=True, test_batches=None)
    sid = watcher.ref_id
    marks = {}

    class Pace(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            time.sleep(0.005)
            if "written" in marks and time.monotonic() - marks["written"] > 10:
                self.model.stop_training = True  # safety net: the test fails below

    def press_stop():
        wait_until(lambda: db.document(f"sessions/{sid}").get().get("status") == "running", 30)
        db.document(f"sessions/{sid}/control/stop").set({"key": key_of(watcher.session), "at": time.time()})
        marks["written"] = time.monotonic()

    thread = threading.Thread(target=press_stop)
    thread.start()
    demo.get_model().fit(x, y, batch_size=250, epochs=100000, verbose=0, callbacks=[watcher, Pace()])
    stopped_after = time.monotonic() - marks["written"]
    thread.join()
    assert watcher.session.flush(20)
    return sid, stopped_after


def test_owner_stop_command_stops_fit_within_two_seconds(db):
    sid, stopped_after = run_fit_until_stopped(db, lambda s: s.owner_key)
    assert stopped_after < 2.0, f"fit stopped {stopped_after:.2f} s after the command"
    assert read_session(db, sid)["session"]["status"] == "stopped"


def test_stop_command_with_wrong_key_is_ignored(db):
    sid, stopped_after = run_fit_until_stopped(db, lambda s: "not-the-key")
    assert stopped_after >= 10  # only the safety net stopped it
    assert read_session(db, sid)["session"]["status"] == "finished"

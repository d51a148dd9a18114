"""A real Keras `fit` that runs until the owner presses Stop on the dashboard (e2e tests).

    python fit_until_stopped.py DASHBOARD_URL [SAFETY_SECONDS]

Prints one JSON line when the session exists: {"event": "created", "id", "owner_key",
"share_url", "owner_url"}; then, when `fit` returns, {"event": "returned", "time": time.time(),
"monotonic": time.monotonic(), "epochs": ...}; then {"event": "flushed", "status": ...} once the
final status is in Firestore, and exits. `epochs=100000` with ~10 ms per batch: only a stop
command ends it in a test's lifetime. A safety net stops it after SAFETY_SECONDS (default 120)
so a failed test never leaves it running; the test sees that as `"safety": true`.
Uses FIRESTORE_EMULATOR_HOST / TFWATCHER_PROJECT from the environment (python -m tfwatcher.emulator).
"""

import json
import sys
import time

import keras

import tfwatcher
from tfwatcher import demo


def say(**event):
    print(json.dumps(event), flush=True)


def main():
    url = sys.argv[1]
    safety = float(sys.argv[2]) if len(sys.argv) > 2 else 120.0
    (x, y), _ = demo.load_data("digits")
    watcher = tfwatcher.callbacks.Watcher(quiet=True, test_batches=None, dashboard_url=url,
                                          run_name="e2e stop")
    s = watcher.session
    say(event="created", id=s.id, owner_key=s.owner_key, share_url=s.share_url, owner_url=s.owner_url)
    started = time.monotonic()
    safety_hit = []

    class Pace(keras.callbacks.Callback):
        """~10 ms per batch, so the run is slow enough to watch; the safety net."""

        def on_train_batch_end(self, batch, logs=None):
            time.sleep(0.01)
            if time.monotonic() - started > safety:
                safety_hit.append(True)
                self.model.stop_training = True

    history = demo.get_model().fit(x, y, batch_size=250, epochs=100000, verbose=0,
                                   callbacks=[watcher, Pace()])
    say(event="returned", time=time.time(), monotonic=time.monotonic(),
        epochs=len(history.epoch), safety=bool(safety_hit))
    s.flush(20)
    say(event="flushed", status=s.status)


if __name__ == "__main__":
    main()

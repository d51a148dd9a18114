"""A real Keras `fit` that runs until the owner presses Stop on the dashboard (e2e tests).

    python fit_until_stopped.py DASHBOARD_URL [SAFETY_SECONDS] [--fits N]

Prints one JSON line when the session exists: {"event": "created", "id", "owner_key",
"share_url", "owner_url"}; then, for each fit, {"event": "fit_started", "fit": k} when it begins
and {"event": "returned", "fit": k, "time": time.time(), "monotonic": time.monotonic(),
"epochs": ..., "safety": ...} when it returns; then {"event": "flushed", "status": ...} once the
final status is in Firestore, and exits. `epochs=100000` with ~10 ms per batch: only a stop
command ends a fit in a test's lifetime. A safety net stops each fit SAFETY_SECONDS (default
120) after it began, so a failed test never leaves it running; the test sees that as
`"safety": true`. With `--fits N` (default 1) the same model and the same callback (one session)
fit N times in a row, like re-running a notebook cell: each fit is a new run of the session.
Uses FIRESTORE_EMULATOR_HOST / TFWATCHER_PROJECT from the environment (python -m tfwatcher.local.emulator).
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
    args = sys.argv[1:]
    fits = 1
    if "--fits" in args:
        i = args.index("--fits")
        fits = int(args[i + 1])
        del args[i:i + 2]
    url = args[0]
    safety = float(args[1]) if len(args) > 1 else 120.0
    (x, y), _ = demo.load_data("digits")
    watcher = tfwatcher.callbacks.Watcher(quiet=True, test_batches=None, dashboard_url=url,
                                          run_name="e2e stop")
    s = watcher.session
    say(event="created", id=s.id, owner_key=s.owner_key, share_url=s.share_url, owner_url=s.owner_url)
    fit = {"k": 0, "started": time.monotonic()}
    safety_hit = []

    class Pace(keras.callbacks.Callback):
        """~10 ms per batch, so the run is slow enough to watch; the safety net."""

        def on_train_begin(self, logs=None):
            fit["started"] = time.monotonic()
            # Each run has its own owner key (and link): a link from an earlier run stops nothing.
            say(event="fit_started", fit=fit["k"], owner_key=s.owner_key, owner_url=s.owner_url)

        def on_train_batch_end(self, batch, logs=None):
            time.sleep(0.01)
            if time.monotonic() - fit["started"] > safety:
                safety_hit.append(fit["k"])
                self.model.stop_training = True

    model = demo.get_model()
    pace = Pace()
    for k in range(1, fits + 1):
        fit["k"] = k
        history = model.fit(x, y, batch_size=250, epochs=100000, verbose=0,
                            callbacks=[watcher, pace])
        say(event="returned", fit=k, time=time.time(), monotonic=time.monotonic(),
            epochs=len(history.epoch), safety=k in safety_hit, status=s.status, run=s.run)
    s.flush(20)
    say(event="flushed", status=s.status)


if __name__ == "__main__":
    main()
